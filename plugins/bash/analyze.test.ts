import { mkdirSync, mkdtempSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { analyzeBash, type BashVerdict } from './analyze.ts';
import { sedScriptIsReadOnly } from './commands.ts';

const PROTECTED = ['.git', '.icode', '.claude', '.mcp.json', '.vscode', '.idea'];

/** A real workspace: files, a .git folder, and a symlink that leads out of it (to /etc). */
function corpusWorkspace() {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'icode-bash-')));
  const ws = join(root, 'project');
  const home = join(root, 'home');
  for (const dir of ['src', '.git/hooks', '.icode', home]) mkdirSync(join(ws, dir), { recursive: true });
  mkdirSync(home, { recursive: true });
  for (const f of ['README.md', 'src/a.ts', 'src/b.ts', 'log.txt', 'package.json', 'run.sh'])
    writeFileSync(join(ws, f), 'x\n');
  symlinkSync('/etc', join(ws, 'link-out'));
  return { ws, home, options: { cwd: ws, roots: [ws], protectedPaths: PROTECTED, home } };
}

function category(v: BashVerdict): string {
  if (v.decision !== 'allow') return v.decision;
  // Sandboxed commands have no network: one that needs it asks (the plugin adds that need).
  if (v.network.length) return 'ask';
  return v.readOnly ? 'read' : 'write';
}

describe('the bash validator against the adversarial corpus', () => {
  const corpus = readFileSync(join(import.meta.dirname, '../../test/corpus/bash.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { command: string; expect: string });

  test(`judges all ${corpus.length} commands as expected`, async () => {
    const { options } = corpusWorkspace();
    const wrong: string[] = [];
    for (const { command, expect: want } of corpus) {
      const v = await analyzeBash(command, options);
      if (category(v) !== want)
        wrong.push(
          `${JSON.stringify(command)}: expected ${want}, got ${category(v)} (${v.reasons.join('; ')})`,
        );
    }
    expect(wrong).toEqual([]);
    expect(corpus.length).toBeGreaterThanOrEqual(150);
  });
});

describe('rules see simple commands', () => {
  test('lists, pipelines and wrappers come apart into the commands they run', async () => {
    const { options } = corpusWorkspace();
    const v = await analyzeBash('echo x && timeout 5 rm -rf build | cat', options);
    expect(v.commands).toEqual(['echo x', 'timeout 5 rm -rf build', 'rm -rf build', 'cat']);
  });

  test('quotes, backslashes and ANSI-C strings are undone before judging', async () => {
    const { options } = corpusWorkspace();
    for (const cmd of ["r''m -rf src", 'r\\m -rf src', "$'\\x72\\x6d' -rf src", '"rm" -rf src'])
      expect((await analyzeBash(cmd, options)).commands[0], cmd).toBe('rm -rf src');
  });
});

test('sed scripts: only p, d, s and friends without w or e are read-only', () => {
  for (const s of ['1,5p', 's/a/b/g', '/^#/d', 's|x|y|', 'y/abc/xyz/', '$!N;P;D'])
    expect(sedScriptIsReadOnly(s), s).toBe(true);
  for (const s of ['w out', 's/a/b/w out', 's/a/b/e', '1e id', 'r /etc/passwd', 'W x'])
    expect(sedScriptIsReadOnly(s), s).toBe(false);
});
