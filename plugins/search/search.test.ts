import { mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { bootTestKernel } from '../../sdk/testing.ts';
import { hasProgram } from '../../test/programs.ts';
import { builtinPlugins } from '../index.ts';
import { ripgrepArgs } from './grep-search.ts';

const boot = (files: Record<string, string>, settings = {}) =>
  bootTestKernel({ include: ['workspace-guard', 'search'], builtins: builtinPlugins, files, settings });

describe('glob_search', () => {
  test('finds files newest first, skipping node_modules', async () => {
    const h = await boot({ 'src/a.ts': '', 'src/b.ts': '', 'node_modules/x/c.ts': '', 'README.md': '' });
    utimesSync(join(h.project, 'src/a.ts'), new Date(2020, 1, 1), new Date(2020, 1, 1));
    const r = await h.callTool('glob_search', { pattern: '**/*.ts' });
    expect(r.content).toBe('src/b.ts\nsrc/a.ts');
  });

  test('refuses patterns that climb out of the folder', async () => {
    const h = await boot({});
    const r = await h.callTool('glob_search', { pattern: '../**/*' });
    expect(r.isError).toBe(true);
    expect(r.content).toContain('stay inside the folder');
  });

  test('does not follow a symlink out of the workspace', async () => {
    const h = await boot({ 'src/a.ts': '' });
    writeFileSync(join(h.project, '..', 'x.ts'), '');
    symlinkSync(join(h.project, '..'), join(h.project, 'src', 'up'));
    const r = await h.callTool('glob_search', { pattern: '**/*.ts' });
    expect(r.content).toBe('src/a.ts');
  });
});

describe('glob_search and .gitignore', () => {
  test('leaves out what .gitignore files ignore, at the root and below', async () => {
    const h = await boot({
      '.gitignore': 'dist/\n*.log\n',
      'src/.gitignore': 'gen.ts\n',
      'src/a.ts': '',
      'src/gen.ts': '',
      'dist/b.ts': '',
      'x.log': '',
    });
    const r = await h.callTool('glob_search', { pattern: '**/*' });
    expect(String(r.content).split('\n').sort()).toEqual([
      '.gitignore',
      '.icode/settings.json',
      'src/.gitignore',
      'src/a.ts',
    ]);
  });
});

// Every case runs twice: with the real ripgrep on PATH, and with the JavaScript fallback (rgPath that
// does not exist), so both paths give the same answers. Without ripgrep only the fallback runs.
const rows = [
  ['ripgrep', {}, hasProgram('rg', 'the grep_search tests with ripgrep')],
  ['the JavaScript fallback', { plugins: { search: { config: { rgPath: '/nonexistent/rg' } } } }, true],
] as const;
for (const [label, settings, present] of rows)
  describe.skipIf(!present)(`grep_search with ${label}`, () => {
    const files = {
      '.gitignore': 'ignored/\n',
      'src/a.ts': 'const alpha = 1;\nconst beta = 2;\nconst gamma = 3;\n',
      'src/b.py': 'alpha = 1\n',
      'ignored/c.ts': 'alpha\n',
      'node_modules/m/d.ts': 'alpha\n',
    };

    test('files_with_matches lists matching files, newest first, honouring .gitignore', async () => {
      const h = await boot(files, settings);
      utimesSync(join(h.project, 'src/a.ts'), new Date(2020, 1, 1), new Date(2020, 1, 1));
      const r = await h.callTool('grep_search', { pattern: 'alpha' });
      expect(r.content).toBe('Found 2 files\nsrc/b.py\nsrc/a.ts');
      const state = h.report.plugins.find((p) => p.name === 'search')?.state;
      expect(state).toBe(label === 'ripgrep' ? 'active' : 'degraded');
    });

    test('a Read deny rule keeps the file out of every output mode', async () => {
      const h = await boot(
        { '.env': 'TOKEN=alpha-secret\n', 'src/a.ts': 'alpha\n', 'conf/secret.txt': 'alpha\n' },
        { ...settings, permissions: { deny: ['Read(./.env)', 'Read(./conf/**)'] } },
      );
      for (const output_mode of ['content', 'files_with_matches', 'count'] as const) {
        const r = String((await h.callTool('grep_search', { pattern: 'alpha', output_mode })).content);
        expect(r, output_mode).toContain('src/a.ts');
        expect(r, output_mode).not.toContain('.env');
        expect(r, output_mode).not.toContain('secret');
      }
    });

    test('content mode shows numbered lines with context; glob, -i and count work', async () => {
      const h = await boot(files, settings);
      const r = await h.callTool('grep_search', {
        pattern: 'BETA',
        '-i': true,
        output_mode: 'content',
        '-C': 1,
        glob: '*.ts',
      });
      expect(r.content).toBe(
        'src/a.ts-1-const alpha = 1;\nsrc/a.ts:2:const beta = 2;\nsrc/a.ts-3-const gamma = 3;',
      );
      const count = await h.callTool('grep_search', { pattern: 'const', output_mode: 'count' });
      expect(count.content).toBe('src/a.ts:3');
      const none = await h.callTool('grep_search', { pattern: 'zeta' });
      expect(none.content).toBe('No matches for zeta');
    });

    test('pages with head_limit and offset', async () => {
      const h = await boot({ 'a.txt': 'x1\nx2\nx3\nx4\n' }, settings);
      const r = await h.callTool('grep_search', {
        pattern: '^x\\d',
        output_mode: 'content',
        head_limit: 2,
        offset: 1,
      });
      expect(r.content).toBe('a.txt:2:x2\na.txt:3:x3\n[1 more; read on with offset 3, or narrow the search]');
    });

    test('a pattern that looks like a flag is searched for, not obeyed', async () => {
      const h = await boot({ 'a.txt': '--pre=sh\n' }, settings);
      const r = await h.callTool('grep_search', { pattern: '--pre=sh', output_mode: 'content' });
      expect(r.content).toBe('a.txt:1:--pre=sh');
    });

    test('asks before searching outside the workspace', async () => {
      const h = await boot(files, settings);
      const r = await h.callTool('grep_search', { pattern: 'root', path: '/etc' });
      expect(r.content).toContain('outside the workspace');
    });
  });

test('ripgrep gets no config file, the pattern through --regexp and paths after --', () => {
  const args = ripgrepArgs({ pattern: '-x', glob: '--pre=evil' }, '-rf');
  expect(args.slice(0, 1)).toEqual(['--no-config']);
  expect(args.slice(-4)).toEqual(['--regexp', '-x', '--', '-rf']);
  expect(args).toContain('--pre=evil'); // only ever as the value of --glob:
  expect(args[args.indexOf('--pre=evil') - 1]).toBe('--glob');
});

test('a symlink to a file outside is not followed by grep', async () => {
  const h = await boot({ 'a.txt': 'x\n' });
  writeFileSync(join(h.project, '..', 'secret.txt'), 'alpha\n');
  symlinkSync(join(h.project, '..', 'secret.txt'), join(h.project, 'link.txt'));
  expect((await h.callTool('grep_search', { pattern: 'alpha' })).content).toBe('No matches for alpha');
});

test('without ripgrep, a pattern that backtracks catastrophically is cut off per file and said, never holding the run', async () => {
  const h = await boot(
    { 'slow.txt': `${'a'.repeat(40)}b\n`, 'fine.txt': 'aaa\n' },
    { plugins: { search: { config: { rgPath: '/nonexistent/rg' } } } },
  );
  const r = await h.callTool('grep_search', { pattern: '(a+)+$', output_mode: 'content' });
  expect(r.isError).toBe(false);
  expect(r.content).toContain('fine.txt:1:aaa');
  expect(r.content).toContain('backtracks too much');
  expect(r.content).toContain('slow.txt');
  await h.shutdown();
});

test('without ripgrep, neither a glob with ../ nor a symlink leads a search outside the folder the gate judged', async () => {
  const h = await boot(
    { 'src/a.txt': 'secret-inside\n' },
    { plugins: { search: { config: { rgPath: '/nonexistent/rg' } } } },
  );
  const outside = join(h.project, '..', 'outside');
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, 'id_rsa'), 'secret-outside\n');
  symlinkSync(outside, join(h.project, 'out'));
  for (const glob of ['../outside/*', '../../**/id_rsa', 'out/*', 'out/id_rsa']) {
    const r = await h.callTool('grep_search', { pattern: 'secret', glob, output_mode: 'content' });
    expect(String(r.content)).not.toContain('secret-outside');
  }
  const g = await h.callTool('glob_search', { pattern: 'out/*' });
  expect(String(g.content)).not.toContain('id_rsa');
  await h.shutdown();
});
