import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SessionEvent } from '../../sdk/index.ts';
import { bootTestKernel } from '../../sdk/testing.ts';
import { loadScenarios, type MockServer, startMockServer } from '../../test/mock-api.ts';
import { builtinPlugins } from '../index.ts';
import { SessionStore } from './store.ts';

let mock: MockServer;
beforeAll(async () => {
  mock = await startMockServer({
    scenarios: loadScenarios(join(import.meta.dirname, '..', '..', 'scenarios')),
  });
});
afterAll(() => mock.close());

async function session(files: Record<string, string> = {}) {
  const h = await bootTestKernel({
    include: ['anthropic', 'session', 'workspace-guard', 'file-tools', 'search'],
    builtins: builtinPlugins,
    files,
    env: { ANTHROPIC_BASE_URL: mock.url, ANTHROPIC_API_KEY: 'sk-test' },
    settings: { plugins: { anthropic: { config: { maxRetries: 0 } } } },
  });
  return { h, service: await h.kernel.services.get('session') };
}

const apiCalls = () => mock.requests.filter((r) => r.path === '/v1/messages');

describe('the agent loop against the mock API', () => {
  test('the request carries the system prompt with context files and environment facts, the tools and the prompt', async () => {
    const { service } = await session({
      'AGENTS.md': 'Use tabs.',
      'CLAUDE.md': 'Run npm test.',
      'README.md': '# x',
    });
    mock.reset();
    const result = await service.run({
      prompt: 'PARITY_SCENARIO:streaming_text',
      appendSystemPrompt: 'Be terse.',
    });
    expect(result).toMatchObject({
      result: 'Hello from the mock.',
      is_error: false,
      num_turns: 1,
      stop_reason: 'end_turn',
    });
    const body = apiCalls()[0]!.body as {
      system: Array<{ text: string }>;
      tools: Array<{ name: string }>;
      messages: unknown[];
    };
    const system = body.system[0]!.text;
    expect(system).toContain('You are icode');
    expect(system).toContain('Contents of AGENTS.md (instructions from the project):\n\nUse tabs.');
    expect(system).toContain('Contents of CLAUDE.md');
    expect(system).toMatch(/Working directory: .*project\nPlatform: \w+\nDate: \d{4}-\d{2}-\d{2}/);
    expect(system.endsWith('Be terse.')).toBe(true);
    expect(body.tools.map((t) => t.name)).toEqual([
      'read_file',
      'write_file',
      'edit_file',
      'glob_search',
      'grep_search',
    ]);
    expect(body.messages).toEqual([{ role: 'user', content: 'PARITY_SCENARIO:streaming_text' }]);
  });

  test('every tool_use is answered in order in one user message, and the loop goes on to the final text', async () => {
    const { service } = await session({ 'a.txt': 'alpha\n', 'src/x.ts': '' });
    mock.reset();
    const events: SessionEvent[] = [];
    const result = await service.run({
      prompt: 'PARITY_SCENARIO:multi_tool_turn_roundtrip',
      onEvent: (e) => events.push(e),
    });
    expect(result.num_turns).toBe(2);
    expect(result.tool_results.map((r) => [r.tool_name, r.is_error])).toEqual([
      ['read_file', false],
      ['glob_search', false],
    ]);
    const second = apiCalls()[1]!.body as {
      messages: Array<{ role: string; content: Array<{ type: string; tool_use_id: string }> }>;
    };
    expect(second.messages[2]!.content.map((b) => [b.type, b.tool_use_id])).toEqual([
      ['tool_result', 'toolu_mock_multi_tool_turn_roundtrip_0_0'],
      ['tool_result', 'toolu_mock_multi_tool_turn_roundtrip_0_1'],
    ]);
    expect(result.result).toBe('Both tools answered:\n     1\talpha\nsrc/x.ts');
    expect(events.map((e) => e.type)).toEqual([
      'session_start',
      'tool_use',
      'tool_use',
      'tool_result',
      'tool_result',
      'text_delta',
      'result',
    ]);
  });

  test('tool input that is not JSON comes back to the model as an is_error result', async () => {
    const { service } = await session();
    const result = await service.run({ prompt: 'PARITY_SCENARIO:malformed_tool_json' });
    expect(result.tool_results[0]).toMatchObject({ is_error: true });
    expect(result.tool_results[0]!.output).toContain('the tool input is not valid JSON');
    expect(result.result).toContain('The tool said: Error:');
    expect(result.is_error).toBe(false);
  });

  test('max turns stops the loop with an error that says so', async () => {
    const { service } = await session({ 'README.md': '# x' });
    const result = await service.run({ prompt: 'PARITY_SCENARIO:read_file_roundtrip', maxTurns: 1 });
    expect(result).toMatchObject({ is_error: true, stop_reason: 'max_turns', num_turns: 1 });
    expect(result.error).toContain('--max-turns 1');
  });

  test('a model failure ends the session with the error, not an exception', async () => {
    const { service } = await session();
    const result = await service.run({ prompt: 'PARITY_SCENARIO:always_overloaded' });
    expect(result).toMatchObject({ is_error: true, stop_reason: 'error' });
    expect(result.error).toContain('529 overloaded_error');
  });

  test('an abort mid-stream ends the session as interrupted', async () => {
    const { service } = await session();
    const controller = new AbortController();
    const result = await service.run({
      prompt: 'PARITY_SCENARIO:slow_stream',
      signal: controller.signal,
      onEvent: (e) => e.type === 'text_delta' && controller.abort(new Error('Ctrl-C')),
    });
    expect(result).toMatchObject({ is_error: true, stop_reason: 'interrupted' });
  });
});

describe('context files', () => {
  test('are collected from the project root down to the working directory', async () => {
    const { contextFiles } = await import('../../sdk/index.ts');
    const root = mkdtempSync(join(tmpdir(), 'icode-ctx-'));
    mkdirSync(join(root, 'pkg', 'deep'), { recursive: true });
    writeFileSync(join(root, 'AGENTS.md'), 'root');
    writeFileSync(join(root, 'pkg', 'ICODE.md'), 'pkg');
    writeFileSync(join(root, 'pkg', 'deep', 'CLAUDE.md'), 'deep');
    expect(contextFiles(root, join(root, 'pkg', 'deep')).map((f) => [f.path, f.text])).toEqual([
      ['AGENTS.md', 'root'],
      ['pkg/ICODE.md', 'pkg'],
      ['pkg/deep/CLAUDE.md', 'deep'],
    ]);
  });
});

describe('sessions on disk', () => {
  const sessionDir = (h: { home: string; project: string }) =>
    join(h.home, '.icode', 'projects', realpathSync(h.project).replace(/[^A-Za-z0-9]/g, '-'));

  test('each message is appended to the session file as it completes, with secrets redacted', async () => {
    const { h, service } = await session({ 'README.md': '# x' });
    const result = await service.run({
      prompt:
        'PARITY_SCENARIO:read_file_roundtrip key sk-ant-api03-abcdefghijklmnop and Bearer abcdefghijklmnop',
    });
    const file = join(sessionDir(h), `${result.session_id}.jsonl`);
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type)).toEqual([
      'session',
      'message',
      'message',
      'tool_start',
      'message',
      'message',
      'result',
    ]);
    expect(lines.filter((l) => l.type === 'message').map((l) => l.message.role)).toEqual([
      'user',
      'assistant',
      'user',
      'assistant',
    ]);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('key [REDACTED] and Bearer [REDACTED]');
    expect(text).not.toContain('sk-test');
    expect(service.list().map((s) => s.id)).toEqual([result.session_id]);
  });

  test('resume sends the earlier messages first and appends to the same file', async () => {
    const { h, service } = await session();
    const first = await service.run({ prompt: 'PARITY_SCENARIO:streaming_text' });
    mock.reset();
    const second = await service.run({
      prompt: 'again PARITY_SCENARIO:streaming_text',
      resume: first.session_id,
    });
    expect(second.session_id).toBe(first.session_id);
    const sent = apiCalls()[0]!.body as { messages: Array<{ role: string }> };
    expect(sent.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    const lines = readFileSync(join(sessionDir(h), `${first.session_id}.jsonl`), 'utf8')
      .trim()
      .split('\n');
    expect(lines.filter((l) => l.includes('"type":"message"'))).toHaveLength(4);
  });

  test('a session cut off after a tool_use resumes with an interrupted result for it, so the API accepts it', async () => {
    const { h, service } = await session();
    const id = '00000000-0000-4000-8000-000000000001';
    mkdirSync(sessionDir(h), { recursive: true });
    writeFileSync(
      join(sessionDir(h), `${id}.jsonl`),
      [
        { type: 'session', id, cwd: h.project, model: 'm', created_at: '2026-11-01T00:00:00Z' },
        { type: 'message', message: { role: 'user', content: 'read it' } },
        {
          type: 'message',
          message: {
            role: 'assistant',
            content: [{ type: 'tool_use', id: 'toolu_1', name: 'read_file', input: {} }],
          },
        },
      ]
        .map((l) => JSON.stringify(l))
        .join('\n') + '\n{"type":"message","message":{"role":"us',
    );
    mock.reset();
    const result = await service.run({ prompt: 'PARITY_SCENARIO:streaming_text', resume: id });
    expect(result.is_error).toBe(false);
    const sent = apiCalls()[0]!.body as { messages: Array<{ role: string; content: unknown }> };
    expect(sent.messages[2]).toEqual({
      role: 'user',
      content: [
        {
          type: 'tool_result',
          tool_use_id: 'toolu_1',
          content: 'Interrupted: the session ended before this tool ran.',
          is_error: true,
        },
      ],
    });
  });

  test('a session open in another live process cannot be written; a stale lock is taken over', async () => {
    const { h, service } = await session();
    const first = await service.run({ prompt: 'PARITY_SCENARIO:streaming_text' });
    const lock = join(sessionDir(h), `${first.session_id}.jsonl.lock`);
    const holder = spawn('sleep', ['10']);
    try {
      writeFileSync(lock, String(holder.pid));
      const blocked = await service.run({
        prompt: 'PARITY_SCENARIO:streaming_text',
        resume: first.session_id,
      });
      expect(blocked).toMatchObject({ is_error: true });
      expect(blocked.error).toBe(
        `session ${first.session_id} is open in another icode process (pid ${holder.pid})`,
      );
    } finally {
      holder.kill();
    }
    writeFileSync(lock, '999999');
    const taken = await service.run({ prompt: 'PARITY_SCENARIO:streaming_text', resume: first.session_id });
    expect(taken.is_error).toBe(false);
    expect(existsSync(lock)).toBe(false);
  });
});

test("the user's own AGENTS.md (in their icode directory) is in every project's system prompt, before the project's", async () => {
  const { h, service } = await session({ 'AGENTS.md': 'Project rule.' });
  mkdirSync(h.kernel.config.userDir, { recursive: true });
  writeFileSync(join(h.kernel.config.userDir, 'AGENTS.md'), 'Always answer in British English.\n');
  mock.reset();
  await service.run({ prompt: 'PARITY_SCENARIO:streaming_text' });
  const system = (apiCalls()[0]!.body as { system: Array<{ text: string }> }).system[0]!.text;
  expect(system).toContain(
    "(the user's own instructions, for every project):\n\nAlways answer in British English.",
  );
  expect(system.indexOf('British English')).toBeLessThan(system.indexOf('Project rule.'));
  await h.shutdown();
});

describe('session lifecycle for hooks', () => {
  test('a kept-open session (the UI) starts once over many runs and ends when told; a headless run starts and ends', async () => {
    const log = 'cat >> "$ICODE_PROJECT_DIR/events.jsonl"; echo >> "$ICODE_PROJECT_DIR/events.jsonl"';
    const on = (command: string) => [{ matcher: '', hooks: [{ type: 'command', command }] }];
    const h = await bootTestKernel({
      include: ['anthropic', 'session', 'hooks'],
      builtins: builtinPlugins,
      env: {
        ANTHROPIC_BASE_URL: mock.url,
        ANTHROPIC_API_KEY: 'sk-test',
        ICODE_SETTINGS: JSON.stringify({ hooks: { SessionStart: on(log), SessionEnd: on(log) } }),
      },
    });
    const service = await h.kernel.services.get('session');
    const events = () =>
      existsSync(join(h.project, 'events.jsonl'))
        ? readFileSync(join(h.project, 'events.jsonl'), 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as { hook_event_name: string; source?: string; reason?: string })
            .map((e) => `${e.hook_event_name}:${e.source ?? e.reason}`)
        : [];
    const first = await service.run({ prompt: 'PARITY_SCENARIO:streaming_text', keepOpen: true });
    await service.run({ prompt: 'PARITY_SCENARIO:streaming_text', keepOpen: true, resume: first.session_id });
    expect(events()).toEqual(['SessionStart:startup']);
    await service.end(first.session_id, 'clear');
    await service.end(first.session_id, 'clear');
    expect(events()).toEqual(['SessionStart:startup', 'SessionEnd:clear']);

    await service.run({ prompt: 'PARITY_SCENARIO:streaming_text', resume: first.session_id });
    expect(events().slice(2)).toEqual(['SessionStart:resume', 'SessionEnd:other']);

    // Still open when icode shuts down: it ends then.
    await service.run({ prompt: 'PARITY_SCENARIO:streaming_text', keepOpen: true });
    await h.shutdown();
    expect(events().slice(4)).toEqual(['SessionStart:startup', 'SessionEnd:other']);
  });
});

test("latest() (--continue) is the session written last, found from file times and each candidate's first bytes, parsing none", () => {
  const home = mkdtempSync(join(tmpdir(), 'icode-latest-'));
  const store = new SessionStore(home, '/some/project', (s) => s);
  expect(store.latest()).toBeUndefined();
  for (const id of ['aaa', 'bbb', 'ccc']) store.open(id, { cwd: '/some/project', model: 'm' }).close();
  const file = (id: string) => store.file(id);
  utimesSync(file('aaa'), new Date(3_000_000), new Date(3_000_000));
  utimesSync(file('bbb'), new Date(1_000_000), new Date(1_000_000));
  utimesSync(file('ccc'), new Date(2_000_000), new Date(2_000_000));
  expect(store.latest()).toBe('aaa');
  // A file that does not begin as a session is passed over (its first bytes are read, nothing parsed).
  writeFileSync(file('aaa'), 'not json at all\n');
  utimesSync(file('aaa'), new Date(3_000_000), new Date(3_000_000));
  expect(store.latest()).toBe('ccc');
  utimesSync(file('bbb'), new Date(4_000_000), new Date(4_000_000));
  expect(store.latest()).toBe('bbb');
});
