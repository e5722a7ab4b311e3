import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

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
  // Not path.resolve: it removes `link/..` before the link is followed, and the kernel follows it first
  // (`cat link/../x` reads beside the link's target, not beside the link).
  const start = isAbsolute(expanded) ? '/' : cwd;
  return walkPath(isAbsolute(start) ? start : resolve(start), expanded.split('/'), 0);
}

/**
 * Walks components from `base` as the kernel does: `.` stays, `..` goes to the parent of the real folder
 * reached so far, a symlink is replaced by its target (relative to its folder) before going on. From the
 * first component that does not exist, the rest is appended as written (`..` then undoes a name lexically,
 * as `mkdir -p` would create it).
 */
function walkPath(base: string, parts: string[], depth: number): string {
  if (depth > 40) throw Object.assign(new Error(`too many levels of symbolic links`), { code: 'ELOOP' });
  let current = realOrSelf(base);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      current = dirname(current);
      continue;
    }
    const next = join(current, part);
    let link: string | undefined;
    try {
      link = lstatSync(next).isSymbolicLink() ? readlinkSync(next) : undefined;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // readlink's EINVAL: a symlink when lstat looked, not one now (swapped meanwhile). Said plainly.
      if (code === 'EINVAL')
        throw new Error(
          `${next} changed while it was being resolved (a symlink or folder was swapped); call the tool again`,
        );
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
      return resolve(next, ...parts.slice(i + 1).filter(Boolean));
    }
    if (link === undefined) current = next;
    else current = walkPath(isAbsolute(link) ? '/' : current, link.split('/'), depth + 1);
  }
  return current;
}

function realOrSelf(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return path;
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
