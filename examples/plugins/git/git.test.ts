import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { builtinPlugins } from '../../../plugins/index.ts';
import { bootTestKernel } from '../../../sdk/testing.ts';

// The plugin imports @icode/sdk and zod as peer dependencies, with no node_modules of its own: the kernel
// provides both, as icode does for an installed plugin.

async function repo() {
  const h = await bootTestKernel({
    plugins: [import.meta.dirname],
    include: ['workspace-guard'],
    builtins: builtinPlugins,
    files: { 'a.txt': 'one\n' },
  });
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=Ada', '-c', 'user.email=ada@example.com', ...args], {
      cwd: h.project,
    });
  git('init', '-q', '-b', 'main');
  git('add', 'a.txt');
  git('commit', '-q', '-m', 'first');
  writeFileSync(join(h.project, 'a.txt'), 'one\ntwo\n');
  return { h, git };
}

describe('the example git plugin (built only on icode/sdk)', () => {
  test('GitStatus, GitDiff, GitLog, GitShow and GitBlame answer from a real repository', async () => {
    const { h } = await repo();
    expect(h.report.plugins.find((p) => p.name === 'icode-plugin-git')?.state).toBe('active');
    expect((await h.callTool('GitStatus', {})).content).toContain(' M a.txt');
    expect((await h.callTool('GitDiff', {})).content).toContain('+two');
    expect((await h.callTool('GitLog', {})).content).toMatch(/^[0-9a-f]{7,} \d{4}-\d\d-\d\d Ada first$/);
    expect((await h.callTool('GitShow', { rev: 'HEAD' })).content).toContain('+one');
    expect((await h.callTool('GitBlame', { path: 'a.txt', start_line: 1, end_line: 1 })).content).toContain(
      'Ada',
    );
  });

  test('a revision cannot smuggle an option, a path outside asks, and repo config cannot run a program', async () => {
    const { h, git } = await repo();
    const r = await h.callTool('GitShow', { rev: '--output=/tmp/x' });
    expect(r.isError).toBe(true);
    expect(r.content).toContain('not starting with -');
    expect((await h.callTool('GitLog', { path: '/etc' })).content).toContain('outside the workspace');
    // A repository whose config names an fsmonitor program: status must not run it.
    git('config', 'core.fsmonitor', 'touch pwned; false');
    await h.callTool('GitStatus', {});
    expect(() => execFileSync('test', ['-e', join(h.project, 'pwned')])).toThrow();
  });
});
