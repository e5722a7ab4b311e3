import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/**
 * Resolves a path the way the operating system will: relative to `cwd`, `~` expanded, and every symlink
 * followed. A path that does not exist yet is resolved through its nearest existing ancestor, so a new
 * file under a symlinked folder is judged where it will really be written.
 *
 * @example
 * ```ts
 * // In a tool: report the real path to the permission gate.
 * subjects: ({ path }, ctx) => ({ kind: 'path', values: [resolveReal(path, ctx.cwd)] }),
 * ```
 */
export function resolveReal(path: string, cwd: string, home = homedir()): string {
  const expanded = path === '~' ? home : path.startsWith('~/') ? join(home, path.slice(2)) : path;
  const absolute = resolve(cwd, expanded);
  const missing: string[] = [];
  let current = absolute;
  for (;;) {
    try {
      return join(realpathSync.native(current), ...missing.reverse());
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
      const parent = dirname(current);
      if (parent === current) return absolute;
      missing.push(basename(current));
      current = parent;
    }
  }
}

/**
 * True when `path` is `root` or inside it. Both must already be resolved with {@link resolveReal}; a
 * prefix test on strings would take `/repo-evil` for part of `/repo`.
 *
 * @example
 * ```ts
 * const inWorkspace = ctx.roots.some((root) => isInside(resolveReal(path, ctx.cwd), root));
 * ```
 */
export function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * A tool's target resolved again at execution, held to what the permission gate judged: if `path` now
 * resolves elsewhere (a symlink on the way was swapped while a person was deciding, or by a command
 * running alongside), this throws rather than letting the tool touch what nobody approved.
 */
export function asJudged(
  file: string,
  shown: string,
  judged: { kind: string; values: readonly string[] } | undefined,
): string {
  if (judged?.kind === 'path' && !judged.values.includes(file))
    throw new Error(
      `${shown} now resolves to ${file}, not to ${judged.values.join(', ')} as when it was approved (a symlink on the way changed); nothing was touched — call the tool again`,
    );
  return file;
}
