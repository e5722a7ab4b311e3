import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { ClaudeResult, ClaudeStreamMessage } from './claude-stream-schema.ts';
import { loggingPlugin, makeWorld, type World, write, writePlugin } from './helpers.ts';
import { hasProgram, hasSandbox } from './programs.ts';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'dist', 'icode.cjs');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };

beforeAll(async () => {
  // `npm test` builds first; a bare `vitest` run builds here so these tests never run a stale CLI.
  if (!existsSync(bin)) await run(process.execPath, [join(root, 'scripts', 'build.mjs')], root);
}, 120_000);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env: { PATH: process.env.PATH, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

const icode = (w: World, ...args: string[]) => run(process.execPath, [bin, ...args], w.project, w.env);

describe('icode CLI', () => {
  test('--version prints the package version without loading anything else', async () => {
    const r = await icode(makeWorld(), '--version');
    expect(r).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });

  test('--help lists the commands', async () => {
    const r = await icode(makeWorld(), '--help');
    expect(r.code).toBe(0);
    for (const c of ['doctor', 'plugins', 'config', '--manifest']) expect(r.stdout).toContain(c);
  });

  test('doctor --json lists every plugin of the default harness with its state, with no credentials or network', async () => {
    // Without ripgrep, a working bubblewrap or python3 the plugins that use them are degraded, and say why.
    const rg = hasProgram('rg', "doctor's checks of an active search plugin");
    const sandbox = await hasSandbox("doctor's checks of active bash and REPL plugins");
    const python = hasProgram('python3', "doctor's checks of an active REPL plugin");
    const r = await icode(makeWorld(), 'doctor', '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    const reason = (name: string) =>
      String(report.plugins.find((p: { name: string }) => p.name === name)?.reason);
    expect(report.ok).toBe(true);
    expect(report.manifest.name).toBe('default');
    expect(report.plugins.map((p: { name: string; state: string }) => [p.name, p.state])).toEqual([
      ['anthropic', 'degraded'],
      ['session', 'active'],
      ['mock-anthropic', 'active'],
      ['tui', 'active'],
      ['stdin-approval', 'active'],
      ['workspace-guard', 'active'],
      ['file-tools', 'active'],
      ['search', rg ? 'active' : 'degraded'],
      ['lsp', 'active'],
      ['bash', sandbox ? 'active' : 'degraded'],
      ['mcp', 'active'],
      ['tool-search', 'active'],
      ['hooks', 'active'],
      ['todo', 'active'],
      ['tasks', 'active'],
      ['team-cron', 'active'],
      ['commands', 'active'],
      ['web', 'degraded'],
      ['structured-output', 'active'],
      ['plan', 'active'],
      ['skills', 'active'],
      ['agents', 'active'],
      ['notebook', 'active'],
      ['repl', sandbox && python ? 'active' : 'degraded'],
      ['interaction', 'active'],
      ['powershell', 'degraded'],
    ]);
    expect(report.plugins[0].reason).toContain('no Anthropic credentials');
    if (!rg) expect(reason('search')).toContain('ripgrep (rg) was not found on PATH');
    if (!sandbox) expect(reason('bash')).toContain('no OS sandbox');
    if (!sandbox) expect(reason('repl')).toContain('no OS sandbox');
    if (!python) expect(reason('repl')).toContain('python3 was not found');
    // Language servers are listed without being started (typescript-language-server is on npm test's PATH).
    expect(report.languageServers.find((s: { name: string }) => s.name === 'typescript')).toMatchObject({
      state: 'idle',
      restarts: 0,
    });
    expect(report.plugins[2]).toMatchObject({ activation: 'lazy', activated: false });
    expect(report.tools).toEqual([
      'read_file',
      'write_file',
      'edit_file',
      'glob_search',
      'grep_search',
      'LSP',
      'bash',
      'bash_output',
      'ToolSearch',
      'TodoWrite',
      'TaskCreate',
      'TaskGet',
      'TaskList',
      'TaskStop',
      'TaskUpdate',
      'TaskOutput',
      'CronCreate',
      'CronList',
      'CronDelete',
      'TeamCreate',
      'TeamList',
      'TeamDelete',
      'WebFetch',
      'StructuredOutput',
      'EnterPlanMode',
      'ExitPlanMode',
      'Skill',
      'Agent',
      'NotebookEdit',
      'REPL',
      'Sleep',
      'SendUserMessage',
      'AskUserQuestion',
      'Config',
    ]);
    expect(report.config.layers.map((l: { name: string }) => l.name)).toEqual([
      'defaults',
      'user',
      'project',
      'local',
      'env',
      'cli',
    ]);
  });

  test('--manifest boots only that composition', async () => {
    const r = await icode(
      makeWorld(),
      '--manifest',
      join(root, 'manifests', 'minimal.json'),
      'doctor',
      '--json',
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).plugins.map((p: { name: string }) => p.name)).toEqual([
      'anthropic',
      'session',
      'workspace-guard',
      'file-tools',
      'search',
      'bash',
    ]);
  });

  test('doctor shows a failed plugin with its code and fix, and exits 1', async () => {
    const w = makeWorld();
    const old = writePlugin(w, { name: 'old', engines: '^9.0.0' });
    const manifest = write(join(w.root, 'h.json'), {
      name: 'mine',
      plugins: ['file-tools', { name: 'old', path: old }],
    });
    const r = await icode(w, '--manifest', manifest, 'doctor');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('XX old 1.0.0');
    expect(r.stdout).toContain('ICODE_ERR_ENGINE_MISMATCH');
    expect(r.stdout).toContain('fix: use a version of old');
    expect(r.stdout).toContain('ok file-tools 0.1.0');
  });

  test('doctor reports a malformed settings file by file and line instead of crashing', async () => {
    const w = makeWorld();
    const file = write(join(w.project, '.icode', 'settings.json'), '{\n  "model": "x",,\n}\n');
    const r = await icode(w, 'doctor', '--json');
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.ok).toBe(false);
    expect(report.config.error).toContain(`${file}:2:16: malformed JSON`);
  });

  test('config show prints each key with the layer it came from', async () => {
    const w = makeWorld();
    write(join(w.project, '.icode', 'settings.json'), {
      model: 'project-model',
      permissions: { deny: ['Bash(rm:*)'] },
    });
    const text = await icode(w, '--permission-mode', 'read-only', 'config', 'show');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('model = "project-model"  (project)');
    expect(text.stdout).toContain('permissions.defaultMode = "read-only"  (cli)');
    expect(text.stdout).toContain('deny  Bash(rm:*)  (project: ');
    const json = JSON.parse((await icode(w, 'config', 'show', '--json')).stdout);
    expect(json.origins.model).toBe('project');
    expect(json.rules[0]).toMatchObject({ rule: 'Bash(rm:*)', effect: 'deny', layer: 'project' });
  });

  test('a malformed settings file stops other commands with exit 2 and names file, line and key', async () => {
    const w = makeWorld();
    const file = write(join(w.userDir, 'settings.json'), '{\n  "permissions": { "defaultMode": 7 }\n}\n');
    const r = await icode(w, 'config', 'show');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`ICODE_ERR_CONFIG_INVALID: ${file}:2:20 (key "permissions.defaultMode")`);
  });

  test('plugins list reads manifests without running plugin code', async () => {
    const w = makeWorld();
    const log = join(w.root, 'ran.log');
    const p = writePlugin(w, { name: 'noisy', code: loggingPlugin(log) });
    const manifest = write(join(w.root, 'h.json'), { name: 'mine', plugins: [{ name: 'noisy', path: p }] });
    const r = await icode(w, '--manifest', manifest, 'plugins', 'list', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).plugins[0]).toMatchObject({
      name: 'noisy',
      state: 'active',
      activated: false,
    });
    expect(existsSync(log)).toBe(false);
  });

  test('a third-party plugin that imports icode/sdk by package name boots and its tool runs', async () => {
    const w = makeWorld();
    const path = join(root, 'test', 'fixtures', 'sdk-consumer');
    const manifest = write(join(w.root, 'h.json'), {
      name: 'mine',
      plugins: [{ name: 'sdk-consumer', path }],
    });
    const r = await icode(w, '--manifest', manifest, 'doctor', '--json');
    const report = JSON.parse(r.stdout);
    expect(report.plugins[0]).toMatchObject({ name: 'sdk-consumer', state: 'active' });
    expect(report.tools).toEqual(['shout']);
    expect(r.stderr).toBe('');
  });

  test('bad usage exits 2', async () => {
    const w = makeWorld();
    expect((await icode(w, 'frobnicate')).code).toBe(2);
    const mode = await icode(w, '--permission-mode', 'yolo', 'doctor');
    expect(mode.code).toBe(2);
    expect(mode.stderr).toContain('Allowed choices are read-only, workspace-write');
  });
});

describe('icode -p (headless) on the embedded mock API', () => {
  const headless = (w: World, ...args: string[]) => icode(w, '--mock', ...args);
  /** read_file_roundtrip with JSON output, in a project that has a README. */
  const readmeRound = (w: World, ...args: string[]) => {
    write(join(w.project, 'README.md'), '# sample\n');
    return headless(w, '-p', 'PARITY_SCENARIO:read_file_roundtrip', '--output-format', 'json', ...args);
  };

  test("what config did not take is said on stderr by every run: a project's danger-full-access", async () => {
    const w = makeWorld();
    write(join(w.project, '.icode', 'settings.json'), { permissions: { defaultMode: 'danger-full-access' } });
    const r = await headless(w, '-p', 'PARITY_SCENARIO:streaming_text');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('icode: warning: ');
    expect(r.stderr).toContain('defaultMode "danger-full-access" in a project\'s own settings is not taken');
  });

  test('text: prints the final reply and exits 0', async () => {
    const r = await headless(makeWorld(), '-p', 'PARITY_SCENARIO:streaming_text');
    expect(r).toMatchObject({ code: 0, stdout: 'Hello from the mock.\n' });
    // stderr holds only a line for each plugin that cannot fully work here (web without a search key…).
    for (const line of r.stderr.split('\n').filter(Boolean))
      expect(line).toMatch(/^icode: plugin \S+ is degraded: /);
  });

  test("the README's first command works as written: the demo plays a whole session with real tools", async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const command = /npm ci && npx icode (.*)\n/.exec(readme)![1]!;
    const r = await icode(makeWorld(), ...command.split(' '));
    expect(r.code).toBe(0);
    for (const step of [
      '● read_file',
      '● grep_search',
      '● edit_file',
      '● bash',
      'ok: add(2, 3) is 5',
      'Fixed:',
    ])
      expect(r.stdout).toContain(step);
    expect(r.stdout).not.toContain('✗');
  });

  test('json: one result object with the tool uses and results', async () => {
    const w = makeWorld();
    const r = await readmeRound(w);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({
      type: 'result',
      result: 'The README says:\n     1\t# sample',
      is_error: false,
      num_turns: 2,
      tool_uses: [
        { id: 'toolu_mock_read_file_roundtrip_0_1', name: 'read_file', input: { path: 'README.md' } },
      ],
      tool_results: [
        { tool_use_id: 'toolu_mock_read_file_roundtrip_0_1', tool_name: 'read_file', is_error: false },
      ],
    });
    expect(result.session_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.usage.input_tokens).toBeGreaterThan(0);
    expect(result.total_cost_usd).toBeGreaterThan(0);
  });

  test("stream-json: Claude Code's messages, one per line as things happen (deltas with --include-partial-messages); the prompt can come from stdin", async () => {
    const w = makeWorld();
    const run = (...extra: string[]) =>
      new Promise<Run>((resolve) => {
        const child = execFile(
          process.execPath,
          [bin, '--mock', '-p', '--output-format', 'stream-json', '--verbose', ...extra],
          { cwd: w.project, env: { PATH: process.env.PATH, ...w.env } },
          (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
        );
        child.stdin!.end('PARITY_SCENARIO:streaming_text\n');
      });
    const lines = (r: Run) =>
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; [key: string]: unknown });
    const plain = await run();
    expect(plain.code).toBe(0);
    const events = lines(plain);
    expect(events.map((e) => e.type)).toEqual(['system', 'assistant', 'result']);
    for (const e of events) expect(ClaudeStreamMessage.parse(e)).toBeTruthy();
    expect(events[1]!.message).toEqual({
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: 'Hello from the mock.' }],
    });
    expect(events[2]).toMatchObject({ subtype: 'success', result: 'Hello from the mock.', num_turns: 1 });
    const partial = lines(await run('--include-partial-messages'));
    expect(partial.map((e) => e.type)).toEqual([
      'system',
      'stream_event',
      'stream_event',
      'assistant',
      'result',
    ]);
    expect(partial[1]!.event).toEqual({
      type: 'content_block_delta',
      delta: { type: 'text_delta', text: 'Hello from ' },
    });
  });

  test("stream-json of a tool round: the tool call in an assistant message, its result in a user message, as Claude Code's", async () => {
    const w = makeWorld();
    const r = await readmeRound(w, '--output-format', 'stream-json');
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => ClaudeStreamMessage.parse(JSON.parse(l)) as { type: string; [key: string]: unknown });
    expect(events.map((e) => e.type)).toEqual([
      'system',
      'assistant',
      'assistant',
      'user',
      'assistant',
      'result',
    ]);
    const use = (events[2]!.message as { content: Array<{ type: string; id: string; name: string }> })
      .content[0]!;
    expect(use).toMatchObject({ type: 'tool_use', name: 'read_file' });
    expect(events[3]!.message).toMatchObject({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: use.id, content: expect.stringContaining('# sample') }],
    });
    expect(events[0]).toMatchObject({ subtype: 'init', tools: expect.arrayContaining(['read_file']) });
  });

  test('--disallowedTools denies the tool; the model gets the denial as an is_error result', async () => {
    const w = makeWorld();
    const r = await readmeRound(w, '--disallowedTools', 'Read');
    const result = JSON.parse(r.stdout);
    expect(result.tool_results[0].is_error).toBe(true);
    expect(result.tool_results[0].output).toContain(
      'Permission denied: deny rule "Read" in command-line flags. To allow: drop "Read" from --disallowedTools',
    );
    expect(result.result).toContain('Permission denied');
  });

  test('--max-turns stops the session; is_error and exit 1', async () => {
    const w = makeWorld();
    const r = await readmeRound(w, '--max-turns', '1');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ is_error: true, stop_reason: 'max_turns' });
  });

  test('a model error is in the JSON and the exit code', async () => {
    const w = makeWorld();
    write(join(w.project, '.icode', 'settings.json'), {
      plugins: { anthropic: { config: { maxRetries: 0 } } },
    });
    const r = await headless(w, '-p', 'PARITY_SCENARIO:always_overloaded', '--output-format', 'json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toContain(
      'Anthropic API error 529 overloaded_error: Overloaded (request req_mock_',
    );
    // Claude Code's result shape: an error during execution.
    expect(ClaudeResult.parse(JSON.parse(r.stdout))).toMatchObject({
      subtype: 'error_during_execution',
      is_error: true,
    });
  });

  test('--continue carries on the latest session of the project; sessions list shows it', async () => {
    const w = makeWorld();
    const first = JSON.parse(
      (await headless(w, '-p', 'PARITY_SCENARIO:streaming_text', '--output-format', 'json')).stdout,
    );
    const next = await headless(
      w,
      '-p',
      'more PARITY_SCENARIO:streaming_text',
      '--output-format',
      'json',
      '--continue',
    );
    expect(JSON.parse(next.stdout).session_id).toBe(first.session_id);
    // The json result is Claude Code's: subtype, durations, cost and usage beside icode's own fields.
    expect(ClaudeResult.parse(first)).toMatchObject({ subtype: 'success', result: 'Hello from the mock.' });
    const list = JSON.parse((await icode(w, 'sessions', 'list', '--json')).stdout);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      id: first.session_id,
      messages: 4,
      firstPrompt: 'PARITY_SCENARIO:streaming_text',
    });
    const none = await headless(makeWorld(), '-p', 'x', '--continue');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no session to continue in this project');
  });

  test('SIGINT mid-stream interrupts the session: the JSON result says so and the session file keeps it', async () => {
    const w = makeWorld();
    const child = spawn(
      process.execPath,
      [
        bin,
        '--mock',
        '-p',
        'PARITY_SCENARIO:slow_stream',
        '--output-format',
        'stream-json',
        '--include-partial-messages',
      ],
      {
        cwd: w.project,
        env: { PATH: process.env.PATH, ...w.env },
      },
    );
    let out = '';
    let sent = false; // a second Ctrl-C would end the process at once, as it should
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      if (!sent && out.includes('"text_delta"')) sent = child.kill('SIGINT');
    });
    const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c)));
    const result = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(code).toBe(130); // 128 + SIGINT, as shells report it
    expect(result).toMatchObject({ type: 'result', is_error: true, stop_reason: 'interrupted' });
    const sessions = JSON.parse((await icode(w, 'sessions', 'list', '--json')).stdout);
    expect(sessions[0].id).toBe(result.session_id);
  });

  test('-p without a prompt is a usage error', async () => {
    const r = await new Promise<Run>((resolve) => {
      const child = execFile(
        process.execPath,
        [bin, '-p'],
        { cwd: makeWorld().project },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
      child.stdin!.end();
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('icode -p needs a prompt');
  });
});

describe('icode scenarios run', () => {
  test('every shipped scenario passes against the real CLI', async () => {
    const r = await icode(makeWorld(), 'scenarios', 'run');
    expect(r.stdout).toMatch(/^\d+ passed, 0 failed$/m);
    expect(r.code).toBe(0);
  }, 120_000);

  test('a failing expectation prints expected against actual and exits 1', async () => {
    const w = makeWorld();
    const dir = join(w.root, 'my-scenarios');
    write(join(dir, 'greeting.json'), {
      name: 'greeting',
      steps: [{ content: [{ type: 'text', text: 'Hi there.' }] }],
      run: { prompt: 'Greet me.' },
      expect: { result: 'Good morning', numTurns: 1 },
    });
    const r = await icode(w, 'scenarios', 'run', dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAIL greeting');
    expect(r.stdout).toContain('  result contains\n    expected: Good morning\n    actual:   Hi there.');
    expect(r.stdout).toContain('0 passed, 1 failed');
  });
});

test('--json-schema: structured_output in the JSON result; a run that never gives one fails; a bad schema is refused', async () => {
  const w = makeWorld();
  write(join(w.project, 'answer.schema.json'), {
    type: 'object',
    properties: { files: { type: 'integer' }, names: { type: 'array', items: { type: 'string' } } },
    required: ['files', 'names'],
    additionalProperties: false,
  });
  const structured = (prompt: string) =>
    icode(w, '-p', '--mock', '--json-schema', 'answer.schema.json', '--output-format', 'json', prompt);
  const ok = await structured('Count. PARITY_SCENARIO:structured_output_retry');
  expect(JSON.parse(ok.stdout)).toMatchObject({
    is_error: false,
    structured_output: { files: 3, names: ['a', 'b', 'c'] },
  });
  const never = await structured('Hi. PARITY_SCENARIO:streaming_text');
  expect(never.code).toBe(1);
  expect(JSON.parse(never.stdout)).toMatchObject({
    is_error: true,
    error: 'the model ended without a structured output that matches --json-schema',
    num_turns: 3,
  });
  write(join(w.project, 'bad.schema.json'), { type: 'object', properties: { a: { type: 'nonsense' } } });
  const bad = await icode(w, '-p', '--mock', '--json-schema', 'bad.schema.json', 'x');
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('--json-schema bad.schema.json is not a valid JSON Schema');
});

test('a scenario whose program is missing is skipped and says so, not failed', async () => {
  const w = makeWorld();
  const dir = join(w.root, 'needs');
  write(join(dir, 'needs.json'), {
    name: 'needs',
    steps: [{ content: [{ type: 'text', text: 'Hi.' }] }],
    run: { requires: ['icode-no-such-program'] },
    expect: { result: 'Hi.' },
  });
  const r = await icode(w, 'scenarios', 'run', dir);
  expect(r.stdout).toBe('SKIP needs (needs icode-no-such-program on PATH)\n0 passed, 0 failed, 1 skipped\n');
  expect(r.code).toBe(0);
});

describe('icode mock-server', () => {
  test('prints its base URL first, serves the API, and stops cleanly on SIGTERM', async () => {
    const w = makeWorld();
    const child = spawn(process.execPath, [bin, 'mock-server'], {
      cwd: w.project,
      env: { PATH: process.env.PATH, ...w.env },
    });
    const first = await new Promise<string>((resolve) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d;
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
    });
    expect(first).toMatch(/^MOCK_ANTHROPIC_BASE_URL=http:\/\/127\.0\.0\.1:\d+$/);
    const url = first.split('=')[1]!;
    const res = await fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'k' },
      body: JSON.stringify({
        model: 'm',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'PARITY_SCENARIO:streaming_text' }],
      }),
    });
    expect(((await res.json()) as { content: unknown }).content).toEqual([
      { type: 'text', text: 'Hello from the mock.' },
    ]);
    child.kill('SIGTERM');
    expect(await new Promise((resolve) => child.on('exit', (c) => resolve(c)))).toBe(0);
    await expect(fetch(`${url}/v1/models`)).rejects.toThrow();
  });
});

describe('code cache', () => {
  test('the first run writes a V8 code cache; later runs use it; a corrupt cache is replaced, not fatal', async () => {
    const w = makeWorld();
    const first = await icode(w, 'doctor', '--json');
    const cacheDir = join(w.userDir, 'cache');
    const [file] = readdirSync(cacheDir);
    expect(readdirSync(cacheDir)).toHaveLength(1); // doctor never loads the Anthropic SDK
    expect(file).toMatch(/^cli-[0-9a-f]{16}-v\d+\.\d+\.\d+-\w+\.v8$/);
    const second = await icode(w, 'doctor', '--json');
    expect(second.stdout).toBe(first.stdout);
    writeFileSync(join(cacheDir, file!), 'not a code cache');
    const third = await icode(w, 'doctor', '--json');
    expect(third).toMatchObject({ code: 0, stdout: first.stdout });
    expect(statSync(join(cacheDir, file!)).size).toBeGreaterThan(100_000);
  });

  test('ICODE_NO_CODE_CACHE=1 neither reads nor writes it', async () => {
    const w = makeWorld();
    const r = await run(process.execPath, [bin, 'doctor'], w.project, { ...w.env, ICODE_NO_CODE_CACHE: '1' });
    expect(r.code).toBe(0);
    expect(existsSync(join(w.userDir, 'cache'))).toBe(false);
  });
});

describe('signals', () => {
  test('SIGTERM deactivates plugins in reverse order, then exits 143', async () => {
    const w = makeWorld();
    const log = join(w.root, 'order.log');
    const first = writePlugin(w, { name: 'first', code: loggingPlugin(log) });
    const second = writePlugin(w, { name: 'second', dependencies: { first: '*' }, code: loggingPlugin(log) });
    const child = spawn(
      process.execPath,
      [join(root, 'test', 'fixtures', 'signal-child.mjs'), JSON.stringify([first, second])],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (d: Buffer) => d.includes('ready') && resolve()),
    );
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(143);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([
      'activate first',
      'activate second',
      'deactivate second',
      'deactivate first',
    ]);
  });
});

describe.skipIf(!hasProgram('tmux', 'the terminal tests of the CLI'))('on a terminal (tmux)', () => {
  const tmux = (...args: string[]) => run('tmux', args, root);
  const screen = async (session: string) => (await tmux('capture-pane', '-pt', session)).stdout;
  const waitFor = async (session: string, text: string) => {
    for (let i = 0; i < 100; i++) {
      if ((await screen(session)).includes(text)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`"${text}" never appeared; the screen:\n${await screen(session)}`);
  };

  test.each([
    ['y', 'Done: (no output)', true],
    ['n', 'Not done: Permission denied', false],
  ])('a permission ask is a y/N prompt; answering %s decides', async (answer, shown, created) => {
    const w = makeWorld();
    const session = `icode-test-${process.pid}-${answer}`;
    const scenario = created ? 'bash_permission_prompt_approved' : 'bash_permission_prompt_denied';
    const command = `HOME=${w.home} ICODE_CONFIG_DIR=${w.userDir} ${process.execPath} ${bin} -p --mock 'Create made.txt. PARITY_SCENARIO:${scenario}'; echo EXIT=$?; sleep 30`;
    await tmux('new-session', '-d', '-s', session, '-x', '200', '-y', '20', '-c', w.project, command);
    try {
      await waitFor(session, 'bash (touch made.txt) needs approval');
      expect(await screen(session)).toContain('Allow once? [y/N]');
      await tmux('send-keys', '-t', session, answer, 'Enter');
      await waitFor(session, 'EXIT=0');
      expect(await screen(session)).toContain(shown);
      expect(existsSync(join(w.project, 'made.txt'))).toBe(created);
    } finally {
      await tmux('kill-session', '-t', session);
    }
  });
});

describe('a headless run ends its background tasks knowingly', () => {
  // The model starts a sub-agent and answers at once; the sub-agent streams slowly.
  const slow = [{ delayMs: 50, content: [{ type: 'text', deltas: ['one ', 'two ', 'three ', 'done'] }] }];
  // A sub-agent whose model takes many seconds to answer: still running when the parent ends.
  const stuck = [{ delayMs: 3000, content: [{ type: 'text', deltas: ['a', 'b', 'c', 'd'] }] }];
  const scenarios = (w: World, child: unknown[] = slow) => {
    const dir = join(w.root, 'task-scenarios');
    write(join(dir, 'parent.json'), {
      name: 'parent',
      steps: [
        {
          content: [
            {
              type: 'tool_use',
              name: 'TaskCreate',
              input: { prompt: 'Take your time. PARITY_SCENARIO:child', description: 'slow child' },
            },
          ],
        },
        { content: [{ type: 'text', text: 'Started it.' }] },
      ],
    });
    write(join(dir, 'child.json'), { name: 'child', steps: child });
    return dir;
  };
  const taskStatus = async (w: World) =>
    (JSON.parse((await icode(w, 'tasks', 'list', '--json')).stdout) as Array<{ status: string }>).map(
      (t) => t.status,
    );

  test('-p waits for them, saying so; with --no-wait-tasks it stops them, saying which', async () => {
    const w = makeWorld();
    const waited = await icode(w, '-p', '--mock', '--mock-scenarios', scenarios(w), 'PARITY_SCENARIO:parent');
    expect(waited.code).toBe(0);
    expect(waited.stdout).toContain('Started it.');
    expect(waited.stderr).toMatch(
      /icode: waiting for 1 background tasks before exiting: task_\w+ \(slow child\)/,
    );
    expect(waited.stderr).toMatch(/icode: background tasks ended: task_\w+ completed/);
    expect(await taskStatus(w)).toEqual(['completed']);

    const v = makeWorld();
    const stopped = await icode(
      v,
      '-p',
      '--mock',
      '--mock-scenarios',
      scenarios(v, stuck),
      '--no-wait-tasks',
      'PARITY_SCENARIO:parent',
    );
    expect(stopped.code).toBe(0);
    expect(stopped.stderr).toMatch(
      /icode: stopped 1 background tasks still running: task_\w+ \(slow child\)/,
    );
    // Stopped, or, when its stop has not ended it within 5 s, interrupted by the shutdown: never left
    // running unsaid, never completed.
    expect(await taskStatus(v)).toEqual([expect.stringMatching(/^(stopped|interrupted)$/)]);
  });
});
