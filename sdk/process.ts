import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/**
 * Finds an executable the way a shell would: an absolute path is checked as is; a bare name is looked up
 * in `PATH`. Returns the full path, or undefined. No process is spawned, so plugins can probe at activation.
 *
 * @example
 * ```ts
 * const rg = findExecutable('rg', ctx.env);
 * if (!rg) ctx.health.degraded('ripgrep (rg) is not on PATH', 'install ripgrep');
 * ```
 */
export function findExecutable(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = isAbsolute(name)
    ? [name]
    : (env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, name));
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/**
 * git as icode itself runs it on the host, outside any sandbox, in a workspace an agent has written to: the
 * binary found only in PATH's absolute folders (a relative entry such as `node_modules/.bin` would let a
 * planted `git` run), with options that keep a repository's own config from running programs
 * (core.fsmonitor) and bare repositories found by accident from being used. Pass `args` after these.
 *
 * @example
 * ```ts
 * const [file, args] = hostGit(['status', '--short']);
 * execFile(file, args, { cwd });
 * ```
 */
export function hostGit(args: readonly string[], env: NodeJS.ProcessEnv = process.env): [string, string[]] {
  const absolute = (env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => isAbsolute(dir))
    .join(delimiter);
  const file = findExecutable('git', { ...env, PATH: absolute }) ?? '/usr/bin/git';
  return [
    file,
    // --no-optional-locks: a status icode takes for itself must not hold index.lock against the user's git.
    [
      '--no-optional-locks',
      '-c',
      'core.fsmonitor=false',
      '-c',
      'safe.bareRepository=explicit',
      '-c',
      'submodule.recurse=false',
      ...args,
    ],
  ];
}

/**
 * Keeps the head and the tail of a long text and says how much was cut in between; `savedTo` names a
 * file that holds the whole text. Short texts come back unchanged.
 *
 * @example
 * ```ts
 * return capOutput(stdout, 30_000, { savedTo: '/tmp/icode-out-1.txt' });
 * ```
 */
export function capOutput(text: string, maxChars: number, options: { savedTo?: string } = {}): string {
  if (text.length <= maxChars) return text;
  const head = text.slice(0, Math.floor(maxChars * 0.6));
  const tail = text.slice(text.length - Math.floor(maxChars * 0.4));
  const cutLines = text.slice(head.length, text.length - tail.length).split('\n').length - 1;
  const where = options.savedTo ? `; the whole output is in ${options.savedTo}` : '';
  return `${head}\n[… ${text.length - head.length - tail.length} characters (${cutLines} lines) cut${where} …]\n${tail}`;
}
