import { symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { bootTestKernel } from '../../sdk/testing.ts';
import { builtinPlugins } from '../index.ts';

const boot = (files: Record<string, string>) =>
  bootTestKernel({ include: ['workspace-guard', 'file-tools'], builtins: builtinPlugins, files });

describe('read_file', () => {
  test('shows numbered lines and pages with offset and limit', async () => {
    const h = await boot({ 'a.txt': 'one\ntwo\nthree\n' });
    expect((await h.callTool('read_file', { path: 'a.txt' })).content).toBe(
      '     1\tone\n     2\ttwo\n     3\tthree',
    );
    const page = await h.callTool('read_file', { path: 'a.txt', offset: 2, limit: 1 });
    expect(page.content).toBe('     2\ttwo\n[lines 2-2 of 3; read on with offset 3]');
    await h.shutdown();
  });

  test('refuses binary files, folders and offsets past the end with an error the model can act on', async () => {
    const h = await boot({ 'a.txt': 'x\n', 'sub/b.txt': '' });
    writeFileSync(join(h.project, 'bin.dat'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]));
    const bin = await h.callTool('read_file', { path: 'bin.dat' });
    expect(bin).toMatchObject({ isError: true });
    expect(bin.content).toContain('binary');
    expect((await h.callTool('read_file', { path: 'sub' })).content).toContain('is a directory');
    expect((await h.callTool('read_file', { path: 'a.txt', offset: 5 })).content).toContain('has 1 lines');
    expect((await h.callTool('read_file', { path: 'sub/b.txt' })).content).toBe('(sub/b.txt is empty)');
  });
});

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
