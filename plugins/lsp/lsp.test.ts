import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bootTestKernel, type TestKernel } from '../../sdk/testing.ts';
import { builtinPlugins } from '../index.ts';
import type { LspServerStatus } from './index.ts';

const root = join(import.meta.dirname, '..', '..');
// The devDependency typescript-language-server, found as a user's would be: on PATH.
const PATH = `${join(root, 'node_modules', '.bin')}${delimiter}${process.env.PATH}`;
const text = (r: { content: unknown }) =>
  typeof r.content === 'string'
    ? r.content
    : (r.content as Array<{ text: string }>).map((b) => b.text).join('\n');

const FILES = {
  'tsconfig.json': JSON.stringify({
    compilerOptions: {
      strict: true,
      target: 'ES2022',
      module: 'ESNext',
      moduleResolution: 'Bundler',
      noEmit: true,
    },
    include: ['src'],
  }),
  'src/math.ts':
    'export function add(a: number, b: number): number {\n  return a + b;\n}\n\nexport const TAU = 6.28;\n',
  'src/main.ts':
    "import { add } from './math';\n\nconst total = add(1, 2);\nconst wrong: string = add(3, 4);\nconsole.log(total, wrong);\n",
};

describe('LSP with a real typescript-language-server', () => {
  let h: TestKernel;
  beforeAll(async () => {
    h = await bootTestKernel({
      include: ['workspace-guard', 'file-tools', 'lsp'],
      builtins: builtinPlugins,
      files: FILES,
      mode: 'workspace-write',
      env: { PATH },
    });
  });
  afterAll(() => h.shutdown());
  const lsp = (input: Record<string, unknown>) => h.callTool('LSP', input);

  test('diagnostics report the type error with its place and code', async () => {
    expect(h.report.plugins.find((p) => p.name === 'lsp')?.state).toBe('active');
    const r = await lsp({ action: 'diagnostics', path: 'src/main.ts' });
    expect(r.isError).toBe(false);
    expect(text(r)).toMatch(
      /^src\/main\.ts:4:7 error typescript 2322: Type 'number' is not assignable to type 'string'\./,
    );
    expect(text(await lsp({ action: 'diagnostics', path: 'src/math.ts' }))).toBe(
      'No diagnostics in src/math.ts.',
    );
  }, 60_000);

  test('hover shows the type; definition and references point to the right places', async () => {
    expect(text(await lsp({ action: 'hover', path: 'src/main.ts', line: 3, character: 7 }))).toContain(
      'const total: number',
    );
    expect(text(await lsp({ action: 'definition', path: 'src/main.ts', line: 3, character: 15 }))).toBe(
      'src/math.ts:1:17: export function add(a: number, b: number): number {',
    );
    const refs = text(await lsp({ action: 'references', path: 'src/math.ts', line: 1, character: 17 }));
    expect(refs.split('\n').map((l) => l.split(': ')[0])).toEqual([
      'src/math.ts:1:17',
      'src/main.ts:1:10',
      'src/main.ts:3:15',
      'src/main.ts:4:23',
    ]);
  }, 60_000);

  test('symbols of a file, workspace symbols, completion', async () => {
    const outline = text(await lsp({ action: 'symbols', path: 'src/math.ts' }));
    expect(outline).toContain('Function add (line 1)');
    expect(outline).toContain('TAU (line 5)');
    expect(text(await lsp({ action: 'workspace_symbols', path: 'src/main.ts', query: 'TAU' }))).toMatch(
      /^\w+ TAU .*src\/math\.ts:5:14$/m,
    );
    expect(text(await lsp({ action: 'completion', path: 'src/main.ts', line: 5, character: 9 }))).toMatch(
      /^log \(Method\)/m,
    );
  }, 60_000);

  test('an edit that introduces a type error returns that diagnostic with its result; a fix reports none', async () => {
    const broken = await h.callTool('edit_file', {
      path: 'src/math.ts',
      old_string: 'return a + b;',
      new_string: "return a + b + '';",
    });
    expect(broken.isError).toBe(false);
    expect(text(broken)).toContain("+  return a + b + '';");
    expect(text(broken)).toMatch(
      /typescript reports new error in src\/math\.ts after this change:\nsrc\/math\.ts:2:3 error typescript 2322: Type 'string' is not assignable to type 'number'\./,
    );
    const fixed = await h.callTool('edit_file', { path: 'src/math.ts', old_string: " + ''", new_string: '' });
    expect(text(fixed)).not.toContain('typescript reports');
    // A new file with an error: write_file too.
    const written = await h.callTool('write_file', {
      path: 'src/extra.ts',
      content: 'export const n: number = "x";\n',
    });
    expect(text(written)).toMatch(
      /typescript reports error in src\/extra\.ts after this change:\nsrc\/extra\.ts:1:14 error/,
    );
    expect(readFileSync(join(h.project, 'src', 'extra.ts'), 'utf8')).toContain('"x"');
  }, 60_000);

  test('the path is judged like any read: outside the workspace is refused', async () => {
    const r = await lsp({ action: 'hover', path: '/etc/hostname', line: 1, character: 1 });
    expect(r.isError).toBe(true);
    expect(text(r)).toContain('Permission denied');
  });

  test('the /lsp command and the lsp service show the running server', async () => {
    const list = (await h.kernel.services.get('lsp')).list();
    const ts = list.find((s) => s.name === 'typescript') as LspServerStatus;
    expect(ts).toMatchObject({ state: 'running', restarts: 0 });
    expect(ts.pid).toBeGreaterThan(0);
    const { output } = await h.kernel.commands.run('lsp', '', { cwd: h.project });
    expect(output).toMatch(/^typescript \(\.ts .*\): running pid \d+/m);
  });
});

describe('LSP degraded mode', () => {
  const fake = join(root, 'test', 'fixtures', 'lsp', 'fake-server.mjs');
  const server = (mode: string, ext: string, marker = '') => ({
    command: process.execPath,
    args: [fake, mode, marker],
    extensions: [ext],
  });

  test("read-only mode does not start a language server: starting one runs the project's code", async () => {
    const settings = { plugins: { lsp: { config: { servers: { fake: server('ok', 'fk') } } } } };
    const h = await bootTestKernel({
      include: ['workspace-guard', 'lsp'],
      builtins: builtinPlugins,
      files: { 'b.fk': 'y' },
      env: { PATH },
      settings,
      mode: 'read-only',
    });
    try {
      const refused = await h.callTool('LSP', { action: 'diagnostics', path: 'b.fk' });
      expect(text(refused)).toContain('Permission denied');
      expect(text(refused)).toContain('read-only');
    } finally {
      await h.shutdown();
    }
  });

  test('a missing server degrades its language with how to install it; the others work', async () => {
    const h = await bootTestKernel({
      include: ['workspace-guard', 'lsp'],
      builtins: builtinPlugins,
      files: { 'a.ghost': 'x', 'b.fk': 'y' },
      env: { PATH },
      settings: {
        plugins: {
          lsp: {
            config: {
              servers: {
                ghost: {
                  command: 'icode-no-such-language-server',
                  extensions: ['ghost'],
                  install: 'npm i -g ghost-ls',
                },
                fake: server('crash-once', 'fk', join(h0(), 'never')),
              },
            },
          },
        },
      },
    });
    try {
      const status = h.report.plugins.find((p) => p.name === 'lsp')!;
      expect(status.state).toBe('degraded');
      expect(status.reason).toContain(
        'ghost: icode-no-such-language-server not found (install: npm i -g ghost-ls)',
      );
      const r = await h.callTool('LSP', { action: 'hover', path: 'a.ghost', line: 1, character: 1 });
      expect(r.isError).toBe(true);
      expect(text(r)).toContain(
        'the ghost language server (icode-no-such-language-server) is not installed; install it with: npm i -g ghost-ls',
      );
      const unknown = await h.callTool('LSP', {
        action: 'hover',
        path: '.icode/settings.json',
        line: 1,
        character: 1,
      });
      expect(text(unknown)).toContain('no language server is configured for .json files');
      expect(text(await h.callTool('LSP', { action: 'diagnostics', path: 'b.fk' }))).toBe(
        'No diagnostics in b.fk.',
      );
      expect((await h.kernel.services.get('lsp')).list().find((s) => s.name === 'ghost')?.state).toBe(
        'not-installed',
      );
    } finally {
      await h.shutdown();
    }
  }, 30_000);

  test(
    'a server that crashes: the request in flight gets an error, the server restarts with backoff',
    () =>
      withFake('crash-once', {}, async (h, marker) => {
        const first = await hoverFake(h);
        expect(first.isError).toBe(true);
        expect(text(first)).toMatch(
          /fake stopped while answering textDocument\/hover: exited \(code 1\); stderr: fake-server: crashing on hover/,
        );
        expect(existsSync(marker)).toBe(true);
        expect(await fakeStatus(h)).toMatchObject({ state: 'crashed', restarts: 1 });
        const second = await hoverFake(h);
        expect(text(second)).toBe('fake hover (crash-once)');
        expect(await fakeStatus(h)).toMatchObject({ state: 'running', restarts: 1 });
      }),
    30_000,
  );

  test(
    'a server that hangs: the request times out, the server is restarted',
    () =>
      withFake('hang-once', { requestTimeoutMs: 500 }, async (h) => {
        const first = await hoverFake(h);
        expect(text(first)).toContain(
          'fake did not answer textDocument/hover within 500 ms; it was stopped and restarts',
        );
        const second = await hoverFake(h);
        expect(text(second)).toBe('fake hover (hang-once)');
        expect(await fakeStatus(h)).toMatchObject({ state: 'running', restarts: 1 });
      }),
    30_000,
  );

  test(
    'a server that cannot start at all is reported with its stderr, then stopped after repeated crashes',
    () =>
      withFake('exit', {}, async (h) => {
        const first = await h.callTool('LSP', { action: 'diagnostics', path: 'b.fk' });
        expect(first.isError).toBe(true);
        expect(text(first)).toContain('fake exited (code 3); stderr: fake-server: cannot start here');
        for (let i = 0; i < 4; i++) await h.callTool('LSP', { action: 'diagnostics', path: 'b.fk' });
        expect(await fakeStatus(h)).toMatchObject({ state: 'failed', restarts: 5 });
        const last = await h.callTool('LSP', { action: 'diagnostics', path: 'b.fk' });
        expect(text(last)).toContain('fake is stopped after 5 crashes');
      }),
    30_000,
  );
});

/** A hover on the fake server's file. */
const hoverFake = (h: TestKernel) =>
  h.callTool('LSP', { action: 'hover', path: 'b.fk', line: 1, character: 1 });

/** Boots the lsp plugin with one fake server (mode, marker) and runs `fn`, shutting down after. */
async function withFake(
  mode: string,
  config: Record<string, unknown>,
  fn: (h: TestKernel, marker: string) => Promise<void>,
): Promise<void> {
  const marker = join(h0(), `${mode}-${process.pid}-${Date.now()}`);
  const fake = join(root, 'test', 'fixtures', 'lsp', 'fake-server.mjs');
  const h = await bootTestKernel({
    include: ['workspace-guard', 'lsp'],
    builtins: builtinPlugins,
    files: { 'b.fk': 'y' },
    settings: {
      plugins: {
        lsp: {
          config: {
            ...config,
            servers: { fake: { command: process.execPath, args: [fake, mode, marker], extensions: ['fk'] } },
          },
        },
      },
    },
  });
  try {
    await fn(h, marker);
  } finally {
    await h.shutdown();
  }
}

const fakeStatus = async (h: TestKernel) =>
  (await h.kernel.services.get('lsp')).list().find((s) => s.name === 'fake');

/** A fresh folder for marker files. */
function h0(): string {
  return mkdtempSync(join(tmpdir(), 'icode-lsp-'));
}

describe('LSP configuration', () => {
  test('an invalid server entry names its settings key and how to fix it; a server without a command is reported', async () => {
    const bad = await bootTestKernel({
      include: ['workspace-guard', 'lsp'],
      builtins: builtinPlugins,
      settings: {
        plugins: { lsp: { config: { servers: { mine: { command: 'x', extensions: ['.foo'] } } } } },
      },
    });
    const failed = bad.report.plugins.find((p) => p.name === 'lsp')!;
    expect(failed.state).toBe('failed');
    expect(JSON.stringify(failed)).toContain('servers.mine.extensions');
    expect(JSON.stringify(failed)).toContain('an extension without the dot');
    await bad.shutdown();

    const partial = await bootTestKernel({
      include: ['workspace-guard', 'lsp'],
      builtins: builtinPlugins,
      settings: {
        plugins: {
          lsp: { config: { servers: { mine: { extensions: ['foo'] }, gopls: { enabled: false } } } },
        },
      },
    });
    const status = partial.report.plugins.find((p) => p.name === 'lsp')!;
    expect(status.state).toBe('degraded');
    expect(status.reason).toContain('plugins.lsp.config.servers.mine needs "command" and "extensions"');
    expect((await partial.kernel.services.get('lsp')).list().map((s) => s.name)).not.toContain('gopls');
    await partial.shutdown();
  });
});
