import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { checkOne } from '../cli/check.ts';
import { builtinPlugins } from '../plugins/index.ts';
import { bootTestKernel } from '../sdk/testing.ts';
import { makeWorld, runCli, write } from './helpers.ts';
import { hasSandbox } from './programs.ts';

const corpus = (name: string) =>
  readFileSync(join(import.meta.dirname, 'corpus', name), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, string>);

describe('icode check path: the adversarial path corpus', () => {
  test('every path gets the expected decision in workspace-write mode', async () => {
    const h = await bootTestKernel({
      include: ['workspace-guard', 'file-tools', 'bash'],
      builtins: builtinPlugins,
      mode: 'workspace-write',
      files: { 'README.md': '# x\n', 'src/a.ts': 'x\n', '.git/config': '', '.icode/settings.json': '{}' },
    });
    const ws = h.project;
    symlinkSync(join(ws, 'src'), join(ws, 'link-in'));
    symlinkSync('/etc', join(ws, 'link-out'));
    mkdirSync(`${ws}-evil`);
    execFileSync('mkfifo', [join(ws, 'fifo')]);
    const paths = corpus('paths.jsonl');
    const wrong: string[] = [];
    for (const { op, path, expect: want } of paths) {
      const v = await checkOne(h.kernel, { op: op as 'read', path: path!.replace('{ws}', ws) }, {});
      if (v.decision !== want)
        wrong.push(
          `${op} ${JSON.stringify(path)}: expected ${want}, got ${v.decision} (${String(v.reasons)})`,
        );
    }
    expect(wrong).toEqual([]);
    expect(paths.length).toBeGreaterThanOrEqual(50);
    await h.shutdown();
  });
});

test('--add-dir widens the workspace for this run, relative to where icode starts (repeatable)', async () => {
  const world = makeWorld();
  mkdirSync(join(world.root, 'other'));
  mkdirSync(join(world.root, 'third'));
  const judge = async (...extra: string[]) => {
    const r = await runCli(
      [...extra, 'check', 'path', '--mode', 'workspace-write', '--op', 'write', '--', '../other/x.txt'],
      { world },
    );
    return JSON.parse(r.stdout) as { decision: string; plugin?: string };
  };
  const outside = (await judge()) as unknown as { decision: string; reasons: string[] };
  expect(outside.decision).toBe('ask');
  expect(outside.reasons.join('\n')).toContain('is outside the workspace');
  expect((await judge('--add-dir', '../third', '--add-dir', '../other')).decision).toBe('allow');
});

describe('icode check bash', () => {
  test('explains a verdict as JSON with the reasons and the plugin that decided', async () => {
    const r = await runCli(['check', 'bash', '--mode', 'workspace-write', '--', 'git', 'push', '--force']);
    expect(r.code).toBe(0);
    const verdict = JSON.parse(r.stdout);
    expect(verdict).toMatchObject({ decision: 'ask' });
    expect(verdict.reasons).toContain('git push --force/--delete rewrites or deletes the remote history');
  });

  test('a command writing under a path permissions.protectedPaths adds asks, as the file tools do', async () => {
    const world = makeWorld();
    write(join(world.project, 'deploy', 'prod.yml'), 'x\n');
    write(join(world.project, '.icode', 'settings.json'), { permissions: { protectedPaths: ['deploy'] } });
    const judge = async (command: string) =>
      JSON.parse(
        (await runCli(['check', 'bash', '--mode', 'workspace-write', '--', command], { world })).stdout,
      ) as { decision: string; reasons: string[] };
    expect(await judge('echo hi > deploy/prod.yml')).toMatchObject({
      decision: 'ask',
      reasons: [
        expect.stringMatching(/^output to deploy\/prod\.yml writes under \S+\/deploy, which is protected$/),
      ],
    });
    // Without a sandbox every write needs full access, so it asks too, but not for protectedPaths.
    const other = await judge('echo hi > notes.txt');
    if (await hasSandbox('the sandboxed verdicts of icode check bash')) expect(other.decision).toBe('allow');
    else
      expect(other).toMatchObject({
        decision: 'ask',
        reasons: ['bash needs danger-full-access', 'the session is in workspace-write mode'],
      });
  });

  test('--jsonl judges a whole corpus in one process, one verdict per line, in order', async () => {
    const lines = corpus('bash.jsonl');
    // The workspace the corpus is written for: a few files and a symlink that leads out (to /etc).
    const world = makeWorld();
    for (const f of ['README.md', 'src/a.ts', 'src/b.ts', '.git/hooks/x'])
      write(join(world.project, f), 'x\n');
    symlinkSync('/etc', join(world.project, 'link-out'));
    const r = await runCli(['check', 'bash', '--jsonl', '--mode', 'read-only'], {
      world,
      stdin: `${lines.map((l) => JSON.stringify({ command: l.command })).join('\n')}\nnot json\n`,
    });
    const verdicts = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { decision: string });
    expect(verdicts).toHaveLength(lines.length + 1);
    // In read-only mode only what the validator calls read-only is allowed.
    lines.forEach((l, i) => {
      expect(verdicts[i]!.decision === 'allow', l.command).toBe(l.expect === 'read');
    });
    expect(verdicts.at(-1)).toMatchObject({ decision: 'error' });
  });
});
