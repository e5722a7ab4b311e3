import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { contextFiles } from './context.ts';

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
