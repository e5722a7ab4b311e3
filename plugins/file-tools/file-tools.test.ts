import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
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
    expect(page.content).toBe('     2\ttwo\n[lines 2-2 of 3 (14 bytes); 1 more line: read on with offset 3]');
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

const bootWrite = (files: Record<string, string>) =>
  bootTestKernel({
    include: ['workspace-guard', 'file-tools'],
    builtins: builtinPlugins,
    files,
    mode: 'workspace-write',
  });

describe('write_file', () => {
  test('creates parent folders, replaces atomically and keeps the mode', async () => {
    const h = await bootWrite({ 'run.sh': 'old\n' });
    chmodSync(join(h.project, 'run.sh'), 0o755);
    expect((await h.callTool('write_file', { path: 'a/b/c.txt', content: 'x\ny\n' })).content).toBe(
      'Created a/b/c.txt (2 lines)',
    );
    expect(readFileSync(join(h.project, 'a/b/c.txt'), 'utf8')).toBe('x\ny\n');
    expect((await h.callTool('Write', { path: 'run.sh', content: 'new\n' })).content).toContain('Updated');
    expect(statSync(join(h.project, 'run.sh')).mode & 0o777).toBe(0o755);
    expect(readdirSync(h.project).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  test('refuses paths outside the workspace, through symlinks and /ws-evil siblings alike', async () => {
    const h = await bootWrite({});
    const evil = `${h.project}-evil`;
    mkdirSync(evil);
    symlinkSync(evil, join(h.project, 'link'));
    for (const path of [`${evil}/x`, 'link/x', '../x', '~/x']) {
      const r = await h.callTool('write_file', { path, content: 'x' });
      expect(r.isError, path).toBe(true);
      expect(r.content).toContain('outside the workspace');
    }
    expect(readdirSync(evil)).toEqual([]);
  });

  test('refuses NUL bytes, FIFOs, /proc, and files with other hard links', async () => {
    const h = await bootWrite({ 'in.txt': 'inside' });
    expect((await h.callTool('write_file', { path: 'a\0b', content: '' })).content).toContain('NUL');
    execFileSync('mkfifo', [join(h.project, 'pipe')]);
    expect((await h.callTool('write_file', { path: 'pipe', content: 'x' })).content).toContain(
      'not a regular file',
    );
    expect((await h.callTool('read_file', { path: 'pipe' })).content).toContain('not a regular file');
    const outside = join(h.project, '..', 'secret.txt');
    writeFileSync(outside, 'secret');
    linkSync(outside, join(h.project, 'hard.txt'));
    const r = await h.callTool('write_file', { path: 'hard.txt', content: 'pwned' });
    expect(r.content).toContain('hard links');
    expect(readFileSync(outside, 'utf8')).toBe('secret');
  });

  test('asks before writing icode config, .git, .mcp.json or editor settings', async () => {
    const h = await bootWrite({ '.mcp.json': '{}' });
    for (const path of ['.icode/settings.json', '.git/config', '.mcp.json', '.vscode/settings.json']) {
      const r = await h.callTool('write_file', { path, content: '{}' });
      expect(r.content, path).toContain('is protected');
    }
  });

  test('is refused in read-only mode', async () => {
    const h = await bootTestKernel({
      include: ['workspace-guard', 'file-tools'],
      builtins: builtinPlugins,
      mode: 'read-only',
    });
    const r = await h.callTool('write_file', { path: 'x.txt', content: 'x' });
    expect(r.content).toContain('requires workspace-write');
  });
});

describe('edit_file', () => {
  test('replaces a unique string and returns a unified diff', async () => {
    const h = await bootWrite({ 'a.ts': 'const a = 1;\nconst b = 2;\n' });
    const r = await h.callTool('edit_file', { path: 'a.ts', old_string: 'b = 2', new_string: 'b = 3' });
    expect(r.isError).toBe(false);
    expect(r.content).toContain('-const b = 2;\n+const b = 3;');
    expect(readFileSync(join(h.project, 'a.ts'), 'utf8')).toBe('const a = 1;\nconst b = 3;\n');
  });

  test('needs a unique match unless replace_all, and says what to do when it fails', async () => {
    const h = await bootWrite({ 'a.txt': 'x x x\n' });
    const many = await h.callTool('edit_file', { path: 'a.txt', old_string: 'x', new_string: 'y' });
    expect(many.content).toContain('occurs 3 times');
    const none = await h.callTool('edit_file', { path: 'a.txt', old_string: 'z', new_string: 'y' });
    expect(none.content).toContain('was not found');
    await h.callTool('edit_file', { path: 'a.txt', old_string: 'x', new_string: '$&', replace_all: true });
    expect(readFileSync(join(h.project, 'a.txt'), 'utf8')).toBe('$& $& $&\n');
  });

  test('keeps CRLF line endings and creates a file from an empty old_string', async () => {
    const h = await bootWrite({ 'w.txt': 'one\r\ntwo\r\n' });
    await h.callTool('edit_file', { path: 'w.txt', old_string: 'one\ntwo', new_string: 'one\n1.5\ntwo' });
    expect(readFileSync(join(h.project, 'w.txt'), 'utf8')).toBe('one\r\n1.5\r\ntwo\r\n');
    await h.callTool('edit_file', { path: 'new/n.txt', old_string: '', new_string: 'hi\n' });
    expect(readFileSync(join(h.project, 'new/n.txt'), 'utf8')).toBe('hi\n');
  });
});

describe('read_file images', () => {
  test('returns an image block for a PNG', async () => {
    const h = await boot({});
    writeFileSync(join(h.project, 'p.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1]));
    const r = await h.callTool('read_file', { path: 'p.png' });
    expect(r.content).toEqual([
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORwAB' } },
    ]);
  });
});

test('a target that changes between approval and execution is refused: a symlink swapped while the user decided', async () => {
  const h = await bootTestKernel({
    include: ['workspace-guard', 'file-tools'],
    builtins: builtinPlugins,
    files: { 'docs/readme.md': 'in the workspace\n' },
  });
  const outside = mkdtempSync(join(tmpdir(), 'icode-outside-'));
  writeFileSync(join(outside, 'readme.md'), 'secret\n');
  // The "user" approves, but only after a command running alongside made docs/ a link out.
  h.kernel.hooks.permissionPrompt.tapPromise('test-ui', async () => {
    rmSync(join(h.project, 'docs'), { recursive: true });
    symlinkSync(outside, join(h.project, 'docs'));
    return { decision: 'allow', reason: 'approved in the test' };
  });
  const wrote = await h.callTool('write_file', { path: 'docs/new.md', content: 'x' });
  expect(wrote.isError).toBe(true);
  expect(wrote.content).toContain(`now resolves to ${join(realpathSync(outside), 'new.md')}`);
  expect(wrote.content).toContain('nothing was touched');
  expect(existsSync(join(outside, 'new.md'))).toBe(false);
  await h.shutdown();
});
