import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { bootTestKernel } from '../../sdk/testing.ts';
import { builtinPlugins } from '../index.ts';

const root = join(import.meta.dirname, '..', '..');
const EVERYTHING = join(root, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const FIXTURE = join(root, 'test/fixtures/mcp/fixture-server.mjs');
const stdio = (script: string, extra: Record<string, unknown> = {}) => ({
  command: process.execPath,
  args: [script],
  ...extra,
});

/** Boots a kernel whose MCP servers come from the environment layer (trusted, like user settings). */
const boot = (
  mcpServers: Record<string, unknown>,
  config: Record<string, unknown> = {},
  files: Record<string, string> = {},
) =>
  bootTestKernel({
    include: ['mcp', 'tool-search'],
    builtins: builtinPlugins,
    mode: 'workspace-write',
    files,
    env: {
      ICODE_SETTINGS: JSON.stringify({ mcpServers, plugins: { mcp: { config } } }),
      TOKEN_FOR_TEST: 'abc',
    },
  });
const status = async (h: Awaited<ReturnType<typeof boot>>) => (await h.kernel.services.get('mcp')).list();
const mcpHealth = (h: Awaited<ReturnType<typeof boot>>) =>
  h.kernel.host.statuses().find((p) => p.name === 'mcp');
const until = async (check: () => Promise<boolean> | boolean, ms = 8000) => {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50)))
    if (await check()) return;
  throw new Error('timed out waiting');
};

describe('MCP over stdio, against @modelcontextprotocol/server-everything', () => {
  test('its tools become mcp__<server>__<tool> with the server schema, and results flow back', async () => {
    const h = await boot({ everything: stdio(EVERYTHING) });
    const defs = await h.kernel.tools.definitions();
    const echo = defs.find((d) => d.name === 'mcp__everything__echo');
    expect(echo?.input_schema).toMatchObject({ type: 'object', properties: { message: { type: 'string' } } });
    expect((await h.callTool('mcp__everything__echo', { message: 'hi' })).content).toEqual([
      { type: 'text', text: 'Echo: hi' },
    ]);
    const image = await h.callTool('mcp__everything__get-tiny-image', {});
    expect(image.content).toContainEqual(
      expect.objectContaining({
        type: 'image',
        source: expect.objectContaining({ media_type: 'image/png' }),
      }),
    );
    expect((await status(h))[0]).toMatchObject({
      name: 'everything',
      transport: 'stdio',
      state: 'connected',
    });
    await h.shutdown();
  });

  test('resources and prompts: ListMcpResources, ReadMcpResource, prompts as /mcp__ commands', async () => {
    const h = await boot({ everything: stdio(EVERYTHING) });
    const list = String((await h.callTool('ListMcpResources', {})).content);
    expect(list).toContain('everything\tdemo://resource/static/document/architecture.md');
    const read = await h.callTool('ReadMcpResource', {
      server: 'everything',
      uri: 'demo://resource/static/document/architecture.md',
    });
    expect(JSON.stringify(read.content)).toContain(
      '[resource demo://resource/static/document/architecture.md]',
    );
    const prompt = await h.kernel.commands.run('mcp__everything__args-prompt', 'Paris France', {
      cwd: h.project,
    });
    expect(prompt.output).toContain('Paris');
    await h.shutdown();
  });
});

describe.each([
  ['Streamable HTTP', 'streamableHttp', 'http', '/mcp'],
  ['legacy SSE', 'sse', 'sse', '/sse'],
])('MCP over %s', (_label, mode, type, path) => {
  let server: ChildProcess | undefined;
  afterAll(() => server?.kill());

  test('a remote server with headers from ${VAR} works like a local one', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    server = spawn(process.execPath, [EVERYTHING, mode], {
      env: { ...process.env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve) => {
      const ready = (d: Buffer) => /listening|running/i.test(String(d)) && resolve();
      server!.stderr!.on('data', ready);
      server!.stdout!.on('data', ready);
    });
    const h = await boot({
      remote: {
        type,
        url: `http://127.0.0.1:${port}${path}`,
        headers: { Authorization: 'Bearer ${TOKEN_FOR_TEST}' },
      },
    });
    expect((await status(h))[0]).toMatchObject({ transport: type, state: 'connected' });
    expect((await h.callTool('mcp__remote__get-sum', { a: 2, b: 3 })).content).toEqual([
      { type: 'text', text: 'The sum of 2 and 3 is 5.' },
    ]);
    await h.shutdown();
  });
});

test('long results are cut with a note; embedded resources and links become text', async () => {
  const { toBlocks } = await import('./content.ts');
  const blocks = toBlocks(
    [
      { type: 'text', text: 'x'.repeat(50) },
      { type: 'resource', resource: { uri: 'file:///a.txt', text: 'inside' } },
      { type: 'resource_link', uri: 'file:///b.txt', name: 'b' },
    ],
    40,
  );
  expect(blocks).toEqual([{ type: 'text', text: `${'x'.repeat(40)}\n[output cut at 40 characters]` }]);
  expect(
    toBlocks(
      [
        { type: 'resource', resource: { uri: 'file:///a.txt', text: 'inside' } },
        { type: 'resource_link', uri: 'file:///b.txt', name: 'b' },
      ],
      1000,
    ),
  ).toEqual([
    { type: 'text', text: '[resource file:///a.txt]\ninside' },
    { type: 'text', text: '[resource link file:///b.txt (b)]' },
  ]);
});

describe('MCP lifecycle and degraded mode', () => {
  test('a server that crashes mid-call: the call errors, its tools are withdrawn with the reason and stderr, then it comes back', async () => {
    const h = await boot({ fixture: stdio(FIXTURE) });
    expect(h.kernel.tools.names()).toContain('mcp__fixture__shout');
    const r = await h.callTool('mcp__fixture__crash', {});
    expect(r.isError).toBe(true);
    expect(String(r.content)).toContain('MCP server "fixture" crashed: its process exited');
    const down = (await status(h))[0]!;
    expect(down.state).toBe('failed');
    expect(down.stderr).toContain('fixture: crashing on purpose');
    expect(h.kernel.tools.names()).not.toContain('mcp__fixture__shout');
    expect(mcpHealth(h)?.state).toBe('degraded');
    await until(async () => (await status(h))[0]!.state === 'connected');
    expect((await h.callTool('mcp__fixture__shout', { text: 'back' })).content).toEqual([
      { type: 'text', text: 'BACK' },
    ]);
    expect(mcpHealth(h)?.state).toBe('active');
    await h.shutdown();
  });

  test('a call that hangs times out with an error; isError results are is_error results', async () => {
    const h = await boot({ fixture: stdio(FIXTURE) }, { callTimeoutMs: 300 });
    expect((await status(h))[0]?.state).toBe('connected');
    const r = await h.callTool('mcp__fixture__hang', {});
    expect(r.isError).toBe(true);
    expect(String(r.content)).toMatch(/timed out/i);
    // Ctrl-C: the session's abort signal cancels the call at once.
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('interrupted by the user')), 50);
    const started = Date.now();
    const aborted = await h.kernel.callTool(
      { id: 'a', name: 'mcp__fixture__hang', input: {} },
      { signal: controller.signal },
    );
    expect(aborted.isError).toBe(true);
    expect(Date.now() - started).toBeLessThan(250);
    const failed = await h.callTool('mcp__fixture__fail', {});
    expect(failed).toMatchObject({ isError: true, content: 'Error: the fixture failed on purpose' });
    await h.shutdown();
  });

  test('a server that never answers or cannot start is degraded with the reason; the others work', async () => {
    const h = await boot(
      {
        silent: stdio(FIXTURE, { env: { FIXTURE_SILENT: '1' } }),
        missing: { command: '/nonexistent/mcp-server' },
        typo: { command: 'node', args: 'not-an-array' },
        // Its own budget beats the plugin's 1 s: a real SDK server can take longer than that to start.
        good: stdio(FIXTURE, { startupTimeoutMs: 20_000 }),
      },
      { connectTimeoutMs: 1000 },
    );
    const byName = Object.fromEntries((await status(h)).map((s) => [s.name, s]));
    expect(byName.good?.state).toBe('connected');
    expect(byName.silent).toMatchObject({
      state: 'failed',
      error: expect.stringContaining('timed out: did not answer initialize within 1 s'),
    });
    expect(byName.missing).toMatchObject({
      state: 'failed',
      error: expect.stringMatching(/^could not start: .*ENOENT/),
    });
    const health = mcpHealth(h);
    expect(health?.state).toBe('degraded');
    expect(health?.reason).toMatch(
      /typo: ICODE_SETTINGS:1:\d+ \(key "mcpServers\.typo\.args"\): Invalid input: expected array, received string/,
    );
    expect((await h.callTool('mcp__good__shout', { text: 'ok' })).isError).toBe(false);
    await h.shutdown();
  });

  test('tools/list_changed refreshes the tool list', async () => {
    const h = await boot({ fixture: stdio(FIXTURE) });
    expect(h.kernel.tools.names()).not.toContain('mcp__fixture__extra');
    await h.callTool('mcp__fixture__add_tool', {});
    await until(() => h.kernel.tools.names().includes('mcp__fixture__extra'));
    expect((await h.callTool('mcp__fixture__extra', {})).content).toEqual([
      { type: 'text', text: 'extra works' },
    ]);
    await h.shutdown();
  });

  test('an unset ${VAR} is an error that names it', async () => {
    const h = await boot({ fixture: stdio(FIXTURE, { env: { KEY: '${MISSING_KEY_FOR_TEST}' } }) });
    expect((await status(h))[0]?.error).toContain('${MISSING_KEY_FOR_TEST} is not set');
    await h.shutdown();
  });
});

describe("a project's own servers", () => {
  test('a bad entry in .mcp.json is reported at its line and key, and skips only itself', async () => {
    const mcpJson = `{
  "mcpServers": {
    "fixture": ${JSON.stringify(stdio(FIXTURE))},
    "broken": { "command": 12 },
    "remote": { "type": "http", "url": "" }
  }
}
`;
    const h = await bootTestKernel({
      include: ['mcp'],
      builtins: builtinPlugins,
      files: { '.mcp.json': mcpJson },
    });
    const file = join(h.project, '.mcp.json');
    const reason = mcpHealth(h)?.reason ?? '';
    expect(reason).toContain(
      `broken: ${file}:4:17 (key "mcpServers.broken.command"): Invalid input: expected string, received number`,
    );
    expect(reason).toContain(`remote: ${file}:5:33 (key "mcpServers.remote.url"): Too small`);
    expect((await status(h)).map((s) => [s.name, s.state])).toEqual([
      ['fixture', 'unapproved'],
      ['broken', 'invalid'],
      ['remote', 'invalid'],
    ]);
    await h.shutdown();
  });

  test('.mcp.json servers do not start until the user approves them, and editing the file asks again', async () => {
    const mcpJson = JSON.stringify({ mcpServers: { fixture: stdio(FIXTURE) } });
    const h = await bootTestKernel({
      include: ['mcp'],
      builtins: builtinPlugins,
      files: { '.mcp.json': mcpJson },
    });
    expect((await status(h))[0]).toMatchObject({ state: 'unapproved', source: join(h.project, '.mcp.json') });
    expect(mcpHealth(h)?.fix).toContain('icode mcp approve');
    expect((await h.kernel.services.get('mcp')).approveProject()).toEqual(['fixture']);
    await h.shutdown();
    // The approval lives in the user's icode directory: the next run in this project starts the server.
    const next = await bootTestKernel({ include: ['mcp'], builtins: builtinPlugins, reuse: h });
    expect((await status(next))[0]?.state).toBe('connected');
    await next.shutdown();
    writeFileSync(
      join(h.project, '.mcp.json'),
      JSON.stringify({ mcpServers: { fixture: stdio(FIXTURE, { args: [FIXTURE, '--changed'] }) } }),
    );
    const edited = await bootTestKernel({ include: ['mcp'], builtins: builtinPlugins, reuse: h });
    expect((await status(edited))[0]?.state).toBe('unapproved');
    await edited.shutdown();
  });
});

test('the MCP tool calls a server tool under its own name, so rules for that name still apply', async () => {
  const h = await bootTestKernel({
    include: ['mcp'],
    builtins: builtinPlugins,
    mode: 'workspace-write',
    env: {
      ICODE_SETTINGS: JSON.stringify({
        mcpServers: { fixture: stdio(FIXTURE) },
        permissions: { deny: ['mcp__fixture__crash'] },
      }),
    },
  });
  const ok = await h.callTool('MCP', { server: 'fixture', tool: 'shout', arguments: { text: 'hey' } });
  expect(ok.content).toEqual([{ type: 'text', text: 'HEY' }]);
  const denied = await h.callTool('MCP', { server: 'fixture', tool: 'crash' });
  expect(denied.isError).toBe(true);
  expect(String(denied.content)).toContain('deny rule "mcp__fixture__crash"');
  expect((await h.kernel.services.get('mcp')).list()[0]?.state).toBe('connected');
  await h.shutdown();
});

test('over the token budget, MCP tools are deferred: names only, until ToolSearch loads their schemas', async () => {
  const h = await boot({ everything: stdio(EVERYTHING) }, { toolSearchBudgetTokens: 50 });
  let defs = await h.kernel.tools.definitions();
  expect(defs.some((d) => d.name.startsWith('mcp__'))).toBe(false);
  const search = defs.find((d) => d.name === 'ToolSearch');
  expect(search?.description).toContain('mcp__everything__echo');
  const found = await h.callTool('ToolSearch', { query: 'sum numbers' });
  expect(found.content).toContain('mcp__everything__get-sum');
  const picked = await h.callTool('ToolSearch', { query: 'select:mcp__everything__echo' });
  expect(picked.content).toContain('"message"');
  defs = await h.kernel.tools.definitions();
  expect(defs.map((d) => d.name)).toEqual(
    expect.arrayContaining(['mcp__everything__echo', 'mcp__everything__get-sum']),
  );
  expect(defs.some((d) => d.name === 'mcp__everything__get-env')).toBe(false);
  await h.shutdown();
});

test('under the budget, every MCP tool is offered and ToolSearch is not', async () => {
  const h = await boot({ fixture: stdio(FIXTURE) });
  const names = (await h.kernel.tools.definitions()).map((d) => d.name);
  expect(names).toContain('mcp__fixture__shout');
  expect(names).not.toContain('ToolSearch');
  await h.shutdown();
});

describe('icode mcp serve', () => {
  test("icode's tools over MCP on stdio, behind the permission gate", async () => {
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
    const h = await bootTestKernel({ files: { 'notes.md': '# notes\n' } });
    const client = new Client({ name: 'test', version: '1' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [join(root, 'dist', 'icode.cjs'), 'mcp', 'serve'],
        cwd: h.project,
        env: { PATH: process.env.PATH ?? '', HOME: h.home, ICODE_CONFIG_DIR: join(h.home, '.icode') },
        stderr: 'ignore',
      }),
    );
    const tools = (await client.listTools()).tools.map((t) => t.name);
    expect(tools).toEqual(expect.arrayContaining(['read_file', 'write_file', 'bash']));
    const read = await client.callTool({ name: 'read_file', arguments: { path: 'notes.md' } });
    expect(read).toMatchObject({ isError: false, content: [{ type: 'text', text: '     1\t# notes' }] });
    // The default mode is prompt, and no one can be asked: a write is refused with what would allow it.
    const write = await client.callTool({ name: 'write_file', arguments: { path: 'x.txt', content: 'x' } });
    expect(write.isError).toBe(true);
    expect(JSON.stringify(write.content)).toContain('--permission-mode workspace-write');
    await client.close();
    await h.shutdown();
  });

  test("by default only icode's own non-interactive tools, no MCP client started; --with-mcp-servers adds the user's servers' tools", async () => {
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
    const h = await bootTestKernel({});
    const { mkdirSync, writeFileSync: writeFile } = await import('node:fs');
    mkdirSync(join(h.home, '.icode'), { recursive: true });
    writeFile(
      join(h.home, '.icode', 'settings.json'),
      JSON.stringify({ mcpServers: { fixture: stdio(FIXTURE) } }),
    );
    const serve = async (...extra: string[]) => {
      const client = new Client({ name: 'test', version: '1' });
      await client.connect(
        new StdioClientTransport({
          command: process.execPath,
          args: [join(root, 'dist', 'icode.cjs'), 'mcp', 'serve', ...extra],
          cwd: h.project,
          env: { PATH: process.env.PATH ?? '', HOME: h.home, ICODE_CONFIG_DIR: join(h.home, '.icode') },
          stderr: 'ignore',
        }),
      );
      const names = (await client.listTools()).tools.map((t) => t.name);
      const asked = await client.callTool({ name: 'AskUserQuestion', arguments: {} });
      await client.close();
      return { names, asked };
    };
    const own = await serve();
    expect(own.names).toEqual(expect.arrayContaining(['read_file', 'bash', 'TodoWrite']));
    for (const name of ['AskUserQuestion', 'EnterPlanMode', 'ExitPlanMode', 'mcp__fixture__shout'])
      expect(own.names).not.toContain(name);
    expect(own.asked).toMatchObject({ isError: true });
    const proxied = await serve('--with-mcp-servers');
    expect(proxied.names).toContain('mcp__fixture__shout');
    await h.shutdown();
  });
});

describe('OAuth for remote servers', () => {
  let auth: ChildProcess | undefined;
  afterAll(() => auth?.kill());

  test('needs auth → McpAuth runs discovery, registration and PKCE in the browser → tokens kept owner-only and refreshed', async () => {
    auth = spawn(process.execPath, [join(root, 'test/fixtures/mcp/oauth-server.mjs')], {
      env: { ...process.env, TOKEN_TTL_MS: '1500' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const url = await new Promise<string>((resolve) =>
      auth!.stdout!.on('data', (d) => {
        const m = /OAUTH_MCP_URL=(\S+)/.exec(String(d));
        if (m) resolve(m[1]!);
      }),
    );
    // The "browser": follows the authorization URL; the test server grants at once and redirects back.
    const dir = mkdtempSync(join(tmpdir(), 'icode-browser-'));
    const browser = join(dir, 'browser.sh');
    writeFileSync(
      browser,
      `#!/bin/sh\nexec "${process.execPath}" -e 'fetch(process.argv[1]).catch(() => {})' "$1"\n`,
      { mode: 0o755 },
    );
    const h = await bootTestKernel({
      include: ['mcp'],
      builtins: builtinPlugins,
      mode: 'workspace-write',
      env: {
        BROWSER: browser,
        ICODE_SETTINGS: JSON.stringify({ mcpServers: { secure: { type: 'http', url } } }),
      },
    });
    expect((await status(h))[0]).toMatchObject({
      state: 'failed',
      error: expect.stringContaining('icode mcp auth secure'),
    });
    expect(h.kernel.tools.names()).not.toContain('mcp__secure__whoami');

    const r = await h.callTool('McpAuth', { server: 'secure' });
    expect(r).toMatchObject({ isError: false, content: 'Authorized and connected to "secure" (1 tools).' });
    expect(
      String(
        (await h.callTool('mcp__secure__whoami', {})).content[0] &&
          JSON.stringify((await h.callTool('mcp__secure__whoami', {})).content),
      ),
    ).toContain('client ');
    const files = readdirSync(join(h.home, '.icode', 'mcp-auth'));
    const file = join(h.home, '.icode', 'mcp-auth', files[0]!);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const first = JSON.parse(readFileSync(file, 'utf8')).tokens.access_token;

    await new Promise((resolve) => setTimeout(resolve, 1700)); // the access token expires
    const again = await h.callTool('mcp__secure__whoami', {});
    expect(again.content).not.toContain('Error');
    expect(again.isError).toBe(false);
    expect(JSON.parse(readFileSync(file, 'utf8')).tokens.access_token).not.toBe(first);
    await h.shutdown();
  });
});
