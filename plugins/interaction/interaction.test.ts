import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { bootTestKernel } from '../../sdk/testing.ts';
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

test('AskUserQuestion fails clearly when no one can answer; Sleep waits and SendUserMessage returns at once', async () => {
  const h = await bootTestKernel({ include: ['interaction'], builtins: builtinPlugins });
  const q = await h.callTool('AskUserQuestion', { question: 'Which?', options: ['a', 'b'] });
  expect(q.isError).toBe(true);
  expect(q.content).toContain('no one can answer questions in this run');
  const start = Date.now();
  expect((await h.callTool('Sleep', { seconds: 0.2 })).content).toBe('Slept 0.2s.');
  expect(Date.now() - start).toBeGreaterThanOrEqual(190);
  expect((await h.callTool('Sleep', { seconds: 301 })).isError).toBe(true);
  expect((await h.callTool('SendUserMessage', { message: 'halfway' })).content).toBe('Shown to the user.');
  (await h.kernel.services.get('questions')).setAsker(async (question) => `picked ${question.options[1]}`);
  expect((await h.callTool('AskUserQuestion', { question: 'Which?', options: ['a', 'b'] })).content).toBe(
    'The user answered: picked b',
  );
  await h.shutdown();
});
