import { spawnSync } from 'node:child_process';
import { findExecutable } from '../sdk/process.ts';
import { probeSandbox } from '../sdk/sandbox.ts';

/** How each program a test may need is installed (what .ci/run does). */
const INSTALL: Record<string, string> = {
  rg: 'apt-get install ripgrep',
  bwrap: 'apt-get install bubblewrap',
  tmux: 'apt-get install tmux',
  python3: 'apt-get install python3',
  nbformat: 'python3 -m pip install nbformat',
};

const said = new Set<string>();

/**
 * Whether a system program a test needs is here (on PATH and executable; `probe`, if given, must pass
 * too). On a user's machine an absent one makes the test skip, with one line saying what and why; under
 * `CI=true` (.ci/run installs every such program) it is a failure, so CI keeps running those tests.
 *
 * @example
 * describe.skipIf(!hasProgram('tmux', 'the terminal UI tests'))('the UI in tmux', () => { … });
 */
export function hasProgram(name: string, forWhat: string, probe?: () => boolean): boolean {
  const found = findExecutable(name) !== undefined && (!probe || probe());
  if (found) return true;
  const line = `${forWhat} need ${name}, which is not on PATH${probe ? ' (or does not work)' : ''}: install it with \`${INSTALL[name] ?? name}\` (.ci/run does)`;
  if (process.env.CI === 'true') throw new Error(`CI must run ${line}`);
  if (!said.has(line)) {
    said.add(line);
    console.warn(`skip: ${line}`);
  }
  return false;
}

/** Python 3 with the nbformat package (the reference validator of the notebook tests). */
export function hasNbformat(forWhat: string): boolean {
  if (!hasProgram('python3', forWhat)) return false;
  const ok = spawnSync('python3', ['-c', 'import nbformat'], { stdio: 'ignore' }).status === 0;
  return ok || hasProgram('nbformat', forWhat, () => false);
}

/**
 * bubblewrap that can sandbox here (as the bash plugin probes it): without it, commands that are not
 * read-only need full access, so the gate's verdicts differ.
 */
export async function hasSandbox(forWhat: string): Promise<boolean> {
  const probe = await probeSandbox(process.env);
  return hasProgram('bwrap', forWhat, () => probe.bwrap !== undefined);
}
