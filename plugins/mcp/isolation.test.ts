import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { bootTestKernel } from '../../sdk/testing.ts';
import { builtinPlugins } from '../index.ts';
import { renderStatus } from './render.ts';

const root = join(import.meta.dirname, '..', '..');
const FIXTURE = join(root, 'test/fixtures/mcp/fixture-server.mjs');
const STALLING = join(import.meta.dirname, 'fixtures/stalling-server.mjs');
const bin = join(root, 'dist', 'icode.cjs');
const stdio = (script: string, extra: Record<string, unknown> = {}) => ({
  command: process.execPath,
  args: [script],
  ...extra,
});

/** Servers from the environment layer (trusted, like user settings), each in its own temporary HOME. */
const boot = (mcpServers: Record<string, unknown>, env: Record<string, string> = {}) =>
  bootTestKernel({
    include: ['mcp'],
    builtins: builtinPlugins,
    mode: 'workspace-write',
    env: { ICODE_SETTINGS: JSON.stringify({ mcpServers }), ...env },
  });
type Booted = Awaited<ReturnType<typeof boot>>;
const servers = async (h: Booted) =>
  Object.fromEntries((await h.kernel.services.get('mcp')).list().map((s) => [s.name, s]));
const mcpHealth = (h: Booted) => h.kernel.host.statuses().find((p) => p.name === 'mcp');
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};
const pidsIn = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map(Number);

/** A .mcp.json whose third entry line lacks its comma: line 4, column 5 is where the parser stops. */
const MISSING_COMMA = `{
  "mcpServers": {
    "a": { "command": "node" }
    "b": { "command": "node" }
  }
}
`;

describe('one bad MCP server does not take down the others', () => {
  test('a server that never answers tools/list is stopped within its own 1 s budget and named degraded; the healthy server keeps its tools', async () => {
    const pidFile = join(mkdtempSync(join(tmpdir(), 'icode-mcp-stall-')), 'pids');
    const started = Date.now();
    const h = await boot({
      stalling: stdio(STALLING, { env: { PID_FILE: pidFile }, startupTimeoutMs: 1000 }),
      good: stdio(FIXTURE),
    });
    // The plugin default is 10 s and the SDK's own 60 s: well under both, so the server's 1 s applied.
    expect(Date.now() - started).toBeLessThan(8000);
    const byName = await servers(h);
    expect(byName.good).toMatchObject({ state: 'connected', tools: expect.arrayContaining(['shout']) });
    expect(byName.stalling).toMatchObject({ state: 'failed', tools: [] });
    expect(byName.stalling?.error).toMatch(
      /^timed out: did not answer tools\/list within 1 s; its process was stopped\. If it is only slow to start, raise "startupTimeoutMs"/,
    );
    // Stopped before it was reported: the process that hung is gone, not left running beside icode.
    expect(alive(pidsIn(pidFile)[0]!)).toBe(false);
    expect(mcpHealth(h)).toMatchObject({
      state: 'degraded',
      reason: expect.stringContaining('stalling: timed out: did not answer tools/list within 1 s'),
    });
    expect(mcpHealth(h)?.reason).not.toContain('good:');
    expect(h.kernel.tools.names().filter((n) => n.startsWith('mcp__stalling__'))).toEqual([]);
    expect((await h.callTool('mcp__good__shout', { text: 'still here' })).content).toEqual([
      { type: 'text', text: 'STILL HERE' },
    ]);
    await h.shutdown();
    // Retries start it again with backoff; shutting down stops every one of them.
    for (const pid of pidsIn(pidFile)) expect(alive(pid)).toBe(false);
  });

  test('a server that crashes mid-session fails its call as an error naming it; the other server is untouched', async () => {
    const h = await boot({ crashy: stdio(FIXTURE), steady: stdio(FIXTURE) });
    const r = await h.callTool('mcp__crashy__crash', {});
    expect(r.isError).toBe(true);
    expect(String(r.content)).toContain(
      'MCP server "crashy" crashed: its process exited (during tools/call "crash")',
    );
    expect((await h.callTool('mcp__steady__shout', { text: 'fine' })).content).toEqual([
      { type: 'text', text: 'FINE' },
    ]);
    const byName = await servers(h);
    expect(byName.steady?.state).toBe('connected');
    expect(byName.crashy).toMatchObject({
      state: 'failed',
      error: 'crashed: its process exited',
      stderr: expect.stringContaining('fixture: crashing on purpose'),
    });
    expect(mcpHealth(h)).toMatchObject({
      state: 'degraded',
      reason: expect.stringContaining('crashy: crashed: its process exited'),
    });
    await h.shutdown();
  });

  test("a call that outlives the server's `timeout` (or $MCP_TOOL_TIMEOUT) fails naming the server and the limit; the server stays up", async () => {
    const h = await boot(
      { own: stdio(FIXTURE, { timeout: 300 }), inherits: stdio(FIXTURE) },
      { MCP_TOOL_TIMEOUT: '400' },
    );
    const own = await h.callTool('mcp__own__hang', {});
    expect(own.isError).toBe(true);
    expect(String(own.content)).toContain(
      'MCP server "own" timed out: no answer to tools/call "hang" within 300 ms',
    );
    const inherited = await h.callTool('mcp__inherits__hang', {});
    expect(String(inherited.content)).toContain(
      'MCP server "inherits" timed out: no answer to tools/call "hang" within 400 ms',
    );
    // Slow is not dead: the server answers its next call.
    expect((await h.callTool('mcp__own__shout', { text: 'up' })).content).toEqual([
      { type: 'text', text: 'UP' },
    ]);
    expect(mcpHealth(h)?.state).toBe('active');
    await h.shutdown();
  });

  test('a $MCP_TIMEOUT that is not a number of ms is reported, not silently ignored', async () => {
    const h = await boot({}, { MCP_TIMEOUT: '30s' });
    expect(mcpHealth(h)).toMatchObject({
      state: 'degraded',
      reason: expect.stringContaining('$MCP_TIMEOUT is "30s": expected a whole number of milliseconds'),
    });
    await h.shutdown();
  });
});

describe('a broken .mcp.json is an error at its line, never "No MCP servers configured"', () => {
  test('a syntax error names the file, line and column and how to fix it; servers from settings still start', async () => {
    const h = await bootTestKernel({
      include: ['mcp'],
      builtins: builtinPlugins,
      files: { '.mcp.json': MISSING_COMMA },
      env: { ICODE_SETTINGS: JSON.stringify({ mcpServers: { good: stdio(FIXTURE) } }) },
    });
    const file = join(h.project, '.mcp.json');
    const service = await h.kernel.services.get('mcp');
    expect(service.problems()).toEqual([
      {
        at: `${file}:4:5`,
        message: 'malformed JSON: a comma is missing between two entries',
        fix: expect.stringContaining('fix the JSON syntax at that line'),
      },
    ]);
    expect(mcpHealth(h)).toMatchObject({
      state: 'degraded',
      reason: `MCP servers: ${file}:4:5: malformed JSON: a comma is missing between two entries`,
      fix: expect.stringContaining('fix the JSON syntax at that line'),
    });
    expect(service.list().map((s) => [s.name, s.state])).toEqual([['good', 'connected']]);
    const shown = (await h.kernel.commands.run('mcp', '', { cwd: h.project })).output;
    expect(shown).toContain(
      `MCP configuration error: ${file}:4:5: malformed JSON: a comma is missing between two entries`,
    );
    expect(shown).not.toContain('No MCP servers configured');
    await h.shutdown();
  });

  test.each([
    ['a folder', (file: string) => mkdirSync(file), 'is not a file'],
    [
      'nested too deeply',
      (file: string) => writeFileSync(file, `${'['.repeat(100_000)}${']'.repeat(100_000)}`),
      'nested too deeply',
    ],
  ])(
    'a .mcp.json that is %s is a problem naming it; servers from settings still start',
    async (_, make, says) => {
      const h = await bootTestKernel({
        include: ['mcp'],
        builtins: builtinPlugins,
        env: { ICODE_SETTINGS: JSON.stringify({ mcpServers: { good: stdio(FIXTURE) } }) },
      });
      await h.shutdown();
      make(join(h.project, '.mcp.json'));
      const again = await bootTestKernel({
        include: ['mcp'],
        builtins: builtinPlugins,
        reuse: { home: h.home, project: h.project },
        env: { ICODE_SETTINGS: JSON.stringify({ mcpServers: { good: stdio(FIXTURE) } }) },
      });
      const service = await again.kernel.services.get('mcp');
      expect(service.problems()).toEqual([
        expect.objectContaining({ message: expect.stringContaining(says) }),
      ]);
      expect(service.list().map((s) => [s.name, s.state])).toEqual([['good', 'connected']]);
      await again.shutdown();
    },
  );

  test('a misspelled "mcpServers" or an entry that is not an object is named at its key; the rest of the file loads', async () => {
    const misspelled = await bootTestKernel({
      include: ['mcp'],
      builtins: builtinPlugins,
      files: { '.mcp.json': '{\n  "mcpServer": { "a": { "command": "node" } }\n}\n' },
    });
    const file = join(misspelled.project, '.mcp.json');
    const problems = (await misspelled.kernel.services.get('mcp')).problems();
    expect(problems.map((p) => `${p.at}: ${p.message}`)).toEqual([
      `${file}:2:3 (key "mcpServer"): unknown key "mcpServer"; did you mean "mcpServers"?`,
    ]);
    expect(renderStatus([], problems)).not.toContain('No MCP servers configured');
    await misspelled.shutdown();

    const notObject = await bootTestKernel({
      include: ['mcp'],
      builtins: builtinPlugins,
      files: {
        '.mcp.json': `{\n  "mcpServers": {\n    "text": "npx some-server",\n    "ok": ${JSON.stringify(stdio(FIXTURE))}\n  }\n}\n`,
      },
    });
    const service = await notObject.kernel.services.get('mcp');
    expect(service.problems()).toEqual([
      {
        at: `${join(notObject.project, '.mcp.json')}:3:5 (key "mcpServers.text")`,
        message: 'server "text" is "npx some-server", not an object',
        fix: expect.stringContaining('{ "command": "…", "args": [] }'),
      },
    ]);
    expect(service.list().map((s) => [s.name, s.state])).toEqual([['ok', 'unapproved']]);
    await notObject.shutdown();
  });
});

describe('icode mcp list', () => {
  beforeAll(async () => {
    // A bare `vitest` run builds here so these tests never run a missing CLI.
    if (!existsSync(bin)) await icode(root, {}, [join(root, 'scripts', 'build.mjs')]);
  }, 120_000);

  /** Runs node with `args` in `cwd`, in its own HOME; resolves with the exit code and output. */
  function icode(cwd: string, env: Record<string, string>, args: string[]) {
    return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        args,
        { cwd, env: { PATH: process.env.PATH ?? '', ...env } },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });
  }
  const world = (files: Record<string, string> = {}) => {
    const dir = mkdtempSync(join(tmpdir(), 'icode-mcp-cli-'));
    const home = join(dir, 'home');
    const project = join(dir, 'project');
    mkdirSync(join(project, '.icode'), { recursive: true });
    mkdirSync(join(home, '.icode'), { recursive: true });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(project, name), text);
    return { dir, project, env: { HOME: home, ICODE_CONFIG_DIR: join(home, '.icode') } };
  };

  test('names the hung server with its state and reason, beside the healthy one', async () => {
    const w = world();
    const pidFile = join(w.dir, 'pids');
    const mcpServers = {
      stalling: stdio(STALLING, { env: { PID_FILE: pidFile }, startupTimeoutMs: 1000 }),
      good: stdio(FIXTURE),
    };
    const r = await icode(w.project, { ...w.env, ICODE_SETTINGS: JSON.stringify({ mcpServers }) }, [
      bin,
      'mcp',
      'list',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^stalling \(stdio, [^)]+\): failed\n {2}error: timed out: did not answer tools\/list within 1 s; its process was stopped/m,
    );
    expect(r.stdout).toMatch(/^good \(stdio, [^)]+\): connected, \d+ tools$/m);
    expect(r.stdout).not.toContain('Connection closed');
    for (const pid of pidsIn(pidFile)) expect(alive(pid)).toBe(false);
  });

  test('a broken .mcp.json is an error naming its file and line, with exit status 1', async () => {
    const w = world({ '.mcp.json': MISSING_COMMA });
    const file = join(w.project, '.mcp.json');
    const r = await icode(w.project, w.env, [bin, 'mcp', 'list']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `MCP configuration error: ${file}:4:5: malformed JSON: a comma is missing between two entries\n  fix: fix the JSON syntax at that line`,
    );
    expect(r.stdout).not.toContain('No MCP servers configured');
    const json = await icode(w.project, w.env, [bin, 'mcp', 'list', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual([]);
    expect(json.stderr).toContain(
      `icode: ${file}:4:5: malformed JSON: a comma is missing between two entries`,
    );
  });
});
