import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { contextFiles } from '../../sdk/index.ts';

test('a context file is read only when it is a file in the project: a link out of it is left out', () => {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'icode-context-')));
  const project = join(root, 'project');
  mkdirSync(join(project, 'sub'), { recursive: true });
  writeFileSync(join(root, 'id_rsa'), 'PRIVATE KEY');
  writeFileSync(join(project, 'AGENTS.md'), 'be brief');
  writeFileSync(join(project, 'notes.md'), 'inside');
  // A command in the workspace can make these: one to a secret outside, one to a file inside.
  symlinkSync(join(root, 'id_rsa'), join(project, 'CLAUDE.md'));
  symlinkSync(join(project, 'notes.md'), join(project, 'sub', 'AGENTS.md'));
  const files = contextFiles(project, join(project, 'sub'));
  expect(files.map((f) => f.path)).toEqual(['AGENTS.md', join('sub', 'AGENTS.md')]);
  expect(files.map((f) => f.text).join('\n')).not.toContain('PRIVATE KEY');
});

test('the git facts come from the git on PATH with options that keep a repository from running programs', async () => {
  const { execFileSync } = await import('node:child_process');
  const { environmentFacts } = await import('./context.ts');
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'icode-facts-')));
  execFileSync('git', ['init', '-q', '-b', 'trunk', dir]);
  execFileSync('git', [
    '-C',
    dir,
    '-c',
    'user.name=t',
    '-c',
    'user.email=t@t',
    'commit',
    '-q',
    '--allow-empty',
    '-m',
    'x',
  ]);
  // A repository config whose fsmonitor would run a program: icode's own status must not run it.
  execFileSync('git', ['-C', dir, 'config', 'core.fsmonitor', `touch ${join(dir, 'ran')}`]);
  writeFileSync(join(dir, 'new.txt'), 'x');
  const facts = await environmentFacts(dir);
  expect(facts).toContain('Git branch: trunk');
  expect(facts).toContain('?? new.txt');
  const { existsSync } = await import('node:fs');
  expect(existsSync(join(dir, 'ran'))).toBe(false);
});
