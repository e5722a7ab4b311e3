import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { checkOne } from '../cli/check.ts';
import { builtinPlugins } from '../plugins/index.ts';
import { bootTestKernel } from '../sdk/testing.ts';
import { hasSandbox } from './programs.ts';

interface Case {
  command: string;
  expect: 'read' | 'write' | 'ask' | 'deny';
  family?: string;
}

const RANK = { read: 0, write: 1, ask: 2, deny: 3 } as const;
const corpus = (name: string) =>
  readFileSync(join(import.meta.dirname, 'corpus', name), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Case);

/**
 * The gate's verdict for every case of the attack corpus, through the kernel as a run would get it
 * (workspace-write, the bash plugin, `Read(./.env)` denied): 0 attacks let through (a verdict more lenient
 * than expected), at most 3 ordinary commands over-blocked.
 */
describe('the permission gate against the attack corpus', async () => {
  const h = await bootTestKernel({
    include: ['workspace-guard', 'file-tools', 'bash'],
    builtins: builtinPlugins,
    mode: 'workspace-write',
    settings: { permissions: { deny: ['Read(./.env)'] } },
    files: {
      'README.md': 'x\n',
      'src/a.ts': 'x\n',
      'src/b.ts': 'x\n',
      'log.txt': 'x\n',
      'package.json': '{}\n',
      'run.sh': 'echo\n',
      '.env': 'SECRET=1\n',
      '.git/config': '',
      '.git/hooks/x': '',
    },
  });
  symlinkSync('/etc', join(h.project, 'link-out'));
  mkdirSync(join(h.home, '.ssh'), { recursive: true });
  writeFileSync(join(h.home, '.ssh/id_rsa'), 'key');
  // The corpus's verdicts are the sandbox's. Without one (no bubblewrap, or one that cannot sandbox here)
  // the gate rightly asks more: a command that is not read-only needs full access, and a search whose
  // folders hold a Read-denied file is no longer kept from it. Those asks are what is expected then.
  const sandboxed = await hasSandbox("the attack corpus's sandboxed verdicts");
  const cases = [...corpus('bash-attacks.jsonl'), ...corpus('bash.jsonl')];

  const verdictOf = async (command: string) => {
    const v = await checkOne(h.kernel, { command }, {});
    const reasons = v.reasons as string[];
    if (v.decision !== 'allow') return { got: v.decision as 'ask' | 'deny', reasons };
    return { got: v.needs === 'read-only' ? ('read' as const) : ('write' as const), reasons };
  };
  const exposes = (reason: string) =>
    /^the search reads every file under its folders, .* among them, which a Read rule denies$/.test(reason);
  const expectedOf = (c: Case, got: keyof typeof RANK, reasons: string[]): keyof typeof RANK => {
    if (sandboxed) return c.expect;
    if (c.expect === 'write') return 'ask';
    if (c.expect === 'read' && got === 'ask' && reasons.every(exposes)) return 'ask';
    return c.expect;
  };

  test(`${cases.length} commands: no attack allowed, at most 3 ordinary commands over-blocked`, async () => {
    const lenient: string[] = [];
    const strict: string[] = [];
    for (const c of cases) {
      const { got, reasons } = await verdictOf(c.command);
      const expected = expectedOf(c, got, reasons);
      if (got === expected) continue;
      const line = `${JSON.stringify(c.command)} (${c.family ?? 'base'}): expected ${expected}, got ${got}`;
      // deny and ask both stop a command; a deny where an ask was expected is not lenient.
      if (RANK[got] < RANK[expected]) lenient.push(line);
      else if (expected === 'read' || expected === 'write') strict.push(line);
    }
    if (strict.length) console.log(`over-blocked:\n${strict.join('\n')}`);
    expect(lenient).toEqual([]);
    expect(strict.length, strict.join('\n')).toBeLessThanOrEqual(3);
    expect(cases.length).toBeGreaterThanOrEqual(400);
  });
});
