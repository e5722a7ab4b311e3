import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { bootTestKernel } from '../../sdk/testing.ts';
import { makeWorld, runCli, write } from '../../test/helpers.ts';
import { builtinPlugins } from '../index.ts';

test('Config reads and changes only whitelisted settings, into the local settings file (asked first)', async () => {
  const h = await bootTestKernel({
    include: ['workspace-guard', 'interaction'],
    builtins: builtinPlugins,
    mode: 'danger-full-access',
    settings: { model: 'sonnet' },
  });
  expect((await h.callTool('Config', { setting: 'model' })).content).toBe('model = "sonnet"');
  const set = await h.callTool('Config', { setting: 'plugins.session.config.maxTurns', value: 12 });
  expect(set.content).toContain('Set plugins.session.config.maxTurns = 12');
  expect(JSON.parse(readFileSync(join(h.project, '.icode', 'settings.local.json'), 'utf8'))).toEqual({
    plugins: { session: { config: { maxTurns: 12 } } },
  });
  const bad = await h.callTool('Config', { setting: 'plugins.session.config.maxTurns', value: 'many' });
  expect(bad.isError).toBe(true);
  const forbidden = await h.callTool('Config', {
    setting: 'permissions.defaultMode',
    value: 'danger-full-access',
  });
  expect(forbidden.content).toContain('"permissions.defaultMode" cannot be read or changed here');
  await h.shutdown();

  // In workspace-write a settings file is still a protected path: the change is asked, and headless denied.
  const ww = await bootTestKernel({
    include: ['workspace-guard', 'interaction'],
    builtins: builtinPlugins,
    mode: 'workspace-write',
  });
  const asked = await ww.callTool('Config', { setting: 'model', value: 'opus' });
  expect(asked.isError).toBe(true);
  expect(asked.content).toContain('Permission denied');
  await ww.shutdown();
});

test('AskUserQuestion fails clearly when no one can answer; Sleep waits; SendUserMessage shows the whole message at once', async () => {
  const h = await bootTestKernel({ include: ['interaction'], builtins: builtinPlugins });
  const q = await h.callTool('AskUserQuestion', { question: 'Which?', options: ['a', 'b'] });
  expect(q.isError).toBe(true);
  expect(q.content).toContain('no one can answer questions in this run');
  const start = Date.now();
  expect((await h.callTool('Sleep', { seconds: 0.2 })).content).toBe('Slept 0.2s.');
  expect(Date.now() - start).toBeGreaterThanOrEqual(190);
  expect((await h.callTool('Sleep', { seconds: 301 })).isError).toBe(true);
  // The message reaches whoever watches the session, whole; with no one watching, the tool says so.
  const shown: string[] = [];
  const long = `halfway: ${'the long part of the message '.repeat(10)}end`;
  const sent = await h.kernel.callTool(
    { id: 'm1', name: 'SendUserMessage', input: { message: long } },
    { notify: (text) => shown.push(text) },
  );
  expect(sent.content).toBe('Shown to the user.');
  expect(shown).toEqual([long]);
  expect((await h.callTool('SendUserMessage', { message: 'halfway' })).content).toContain('Nobody watches');
  (await h.kernel.services.get('questions')).setAsker(async (question) => `picked ${question.options[1]}`);
  expect((await h.callTool('AskUserQuestion', { question: 'Which?', options: ['a', 'b'] })).content).toBe(
    'The user answered: picked b',
  );
  await h.shutdown();
});

test('headless with stream-json, a SendUserMessage message is a notice event with the whole text, as it happens', async () => {
  const w = makeWorld();
  const long = `Heads-up: ${'the migration touches many files, '.repeat(6)}and I will run the tests next.`;
  write(join(w.root, 'scenarios', 'notice.json'), {
    name: 'notice',
    steps: [
      { content: [{ type: 'tool_use', name: 'SendUserMessage', input: { message: long } }] },
      { content: [{ type: 'text', text: 'Done.' }] },
    ],
  });
  const r = await runCli(
    [
      '-p',
      'PARITY_SCENARIO:notice',
      '--output-format',
      'stream-json',
      '--mock',
      '--mock-scenarios',
      join(w.root, 'scenarios'),
    ],
    { world: w },
  );
  expect(r.code).toBe(0);
  const events = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; event?: string; text?: string });
  // icode's own line type (a Claude Code parser skips it), whole.
  const at = events.findIndex((e) => e.type === 'icode' && e.event === 'notice');
  expect(events[at]).toMatchObject({ type: 'icode', event: 'notice', text: long });
  // Before the tool's result (a user message): the person sees it while the model works.
  expect(events.findIndex((e) => e.type === 'user')).toBeGreaterThan(at);
});
