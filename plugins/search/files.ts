import { realpathSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { isInside } from '../../sdk/index.ts';

/**
 * The files under `base` that match a glob, skipping node_modules, .git and whatever the .gitignore files
 * (in `base`, below it, and above it up to the workspace root) exclude. Symlinks are not followed, and a
 * file whose real path is not under `base` is dropped, so neither a link nor a pattern (`../x`) can lead
 * the search out of what the gate judged.
 */
export async function listFiles(base: string, pattern: string, roots: string[]): Promise<string[]> {
  // Loaded on first search, not at activation: most of this plugin's code, and startup pays for it.
  const [{ default: fg }, { default: ignore }] = await Promise.all([import('fast-glob'), import('ignore')]);
  // node_modules is skipped unless the search starts inside one; .git always.
  const skipped = base.split(sep).includes('node_modules')
    ? ['**/.git/**']
    : ['**/node_modules/**', '**/.git/**'];
  const options = { cwd: base, dot: true, followSymbolicLinks: false, absolute: true, suppressErrors: true };
  const [found, below] = await Promise.all([
    fg(pattern, { ...options, onlyFiles: true, ignore: skipped }),
    fg('**/.gitignore', { ...options, ignore: skipped }),
  ]);
  const root = roots.find((r) => isInside(base, r));
  const above: string[] = [];
  for (let dir = dirname(base); root && isInside(dir, root) && dir !== base; dir = dirname(dir)) {
    above.push(join(dir, '.gitignore'));
    if (dir === root) break;
  }
  // Only what really lies under `base`: a pattern's literal parts (`../x`, `link/*`) can name files
  // elsewhere, and a file may be a symlink out. Each is judged by its real path, as the gate judges paths.
  let realBase: string;
  try {
    realBase = realpathSync.native(base);
  } catch {
    return [];
  }
  const inside = found.filter((file) => {
    try {
      return isInside(realpathSync.native(file), realBase);
    } catch {
      return false;
    }
  });
  const rules = (
    await Promise.all(
      [...above, ...below].map(async (file) => {
        const text = await readFile(file, 'utf8').catch(() => undefined);
        return text === undefined ? undefined : { dir: dirname(file), ig: ignore().add(text) };
      }),
    )
  ).filter((r) => r !== undefined);
  if (!rules.length) return inside;
  return inside.filter(
    (file) => !rules.some(({ dir, ig }) => isInside(file, dir) && ig.ignores(relative(dir, file))),
  );
}

/**
 * Sorts paths most recently modified first (ties by name). Synchronous stats in slices, yielding between
 * them: for 50,000 files that is ~0.13 s, where 50,000 promised stats through the thread pool take ~0.7 s.
 */
export async function newestFirst(files: string[]): Promise<string[]> {
  const withTimes: Array<{ file: string; mtime: number }> = [];
  for (let i = 0; i < files.length; i += 2000) {
    if (i) await new Promise((resolve) => setImmediate(resolve));
    for (const file of files.slice(i, i + 2000)) {
      let mtime = 0;
      try {
        mtime = statSync(file).mtimeMs;
      } catch {}
      withTimes.push({ file, mtime });
    }
  }
  withTimes.sort((a, b) => b.mtime - a.mtime || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return withTimes.map((f) => f.file);
}

/**
 * Applies offset and head_limit to a list of results, saying what was left out; `show` formats only the
 * entries shown (formatting 50,000 paths to print 100 is most of a large search's time).
 */
export function page<T>(
  items: T[],
  offset: number,
  limit: number,
  show: (item: T) => string = String,
): string[] {
  const shown = items.slice(offset, offset + limit).map(show);
  const rest = items.length - offset - shown.length;
  if (rest > 0)
    shown.push(`[${rest} more; read on with offset ${offset + shown.length}, or narrow the search]`);
  return shown;
}
