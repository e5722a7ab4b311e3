import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { asJudged, isInside, resolveReal } from '../kernel/paths.ts';
import type { PermissionSubjects } from '../kernel/types.ts';
import { openHeldFile, openHeldFolder, swapped } from './held-open.ts';

/** The most a file tool reads or writes in one call. */
export const MAX_FILE_BYTES = 10 * 1024 * 1024;

// Kernel views and devices: reading them can hang (a FIFO), never end (/dev/zero) or leak process state.
const SYSTEM_TREES = ['/proc', '/sys', '/dev'];

/**
 * The real path a file tool will touch: NUL bytes refused, `~` and relative paths resolved, symlinks
 * followed (for a new file, through its nearest existing parent). The permission gate judges this path.
 */
export function targetPath(path: string, cwd: string): string {
  if (path.includes('\0')) throw new Error('the path contains a NUL byte');
  return resolveReal(path, cwd);
}

/** {@link targetPath} at execution, held to what the permission gate judged ({@link asJudged}). */
export function approvedTarget(path: string, cwd: string, judged: PermissionSubjects | undefined): string {
  return asJudged(targetPath(path, cwd), path, judged);
}

/**
 * Stats the resolved target and refuses what is not a regular file or folder: devices, FIFOs, sockets,
 * and anything under /proc, /sys or /dev. Returns undefined when the file does not exist yet.
 */
export async function statTarget(file: string, shown: string): Promise<Stats | undefined> {
  if (SYSTEM_TREES.some((tree) => isInside(file, tree)))
    throw new Error(`${shown} is a system file (${file}); file tools do not touch /proc, /sys or /dev`);
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (info && !info.isFile() && !info.isDirectory())
    throw new Error(`${shown} is not a regular file (a device, FIFO or socket); file tools refuse it`);
  return info;
}

/**
 * Reads up to `max` bytes of the judged `file` (`info`: its stat from the check) through a handle proven
 * to be that file, so a folder swapped for a symlink after the check is refused, not followed. `size` is
 * the whole file's, from the same handle.
 */
export async function readJudged(
  file: string,
  shown: string,
  info: Stats,
  max: number,
): Promise<{ bytes: Buffer; size: number }> {
  const handle = await openHeldFile(file, shown, info);
  try {
    const { size } = await handle.stat();
    const bytes = Buffer.alloc(Math.min(size, max));
    let filled = 0;
    while (filled < bytes.length) {
      const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return { bytes: bytes.subarray(0, filled), size };
  } finally {
    await handle.close();
  }
}

/**
 * Reads the judged `file` a chunk at a time through a handle proven to be that file ({@link readJudged}),
 * so a file of any size is read in bounded memory. It stops at the size the file had when opened (a log
 * that keeps growing still ends); leaving the loop early closes the file.
 *
 * @example
 * ```ts
 * let newlines = 0;
 * for await (const chunk of readJudgedChunks(file, path, info)) newlines += chunk.filter((b) => b === 10).length;
 * ```
 */
export async function* readJudgedChunks(
  file: string,
  shown: string,
  info: Stats,
  chunkBytes = 1024 * 1024,
): AsyncGenerator<Buffer> {
  const handle = await openHeldFile(file, shown, info);
  try {
    const { size } = await handle.stat();
    for (let at = 0; at < size; ) {
      // A fresh buffer each time: the caller may keep what it was given.
      const chunk = Buffer.allocUnsafe(Math.min(chunkBytes, size - at));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, at);
      if (bytesRead === 0) return;
      at += bytesRead;
      yield chunk.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/** Reads a whole text file for an edit ({@link readJudged}), refusing binary and oversized files. */
export async function readText(file: string, shown: string, info: Stats): Promise<string> {
  if (info.size > MAX_FILE_BYTES) throw tooBig(shown, info.size);
  const { bytes, size } = await readJudged(file, shown, info, MAX_FILE_BYTES);
  if (size > MAX_FILE_BYTES) throw tooBig(shown, size);
  if (bytes.subarray(0, 8192).includes(0)) throw new Error(`${shown} looks like a binary file`);
  return bytes.toString('utf8');
}

const tooBig = (shown: string, size: number) =>
  new Error(`${shown} is ${size} bytes; file tools handle up to ${MAX_FILE_BYTES}`);

/**
 * Replaces the judged `file`'s content atomically: the text goes to a temporary file beside it, which is
 * then renamed over the target, so a crash or a full disk leaves the old file or the new one, never half
 * of each. The file's permissions are kept. Everything happens inside its folder held open and proven to
 * be the judged one ({@link openHeldFolder}), so a swap on the way is refused, not followed. A file with
 * more than one hard link is refused: another name of it may lie outside the workspace.
 */
export async function writeAtomic(file: string, shown: string, text: string): Promise<void> {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_FILE_BYTES)
    throw new Error(`the new content of ${shown} is ${bytes} bytes; the limit is ${MAX_FILE_BYTES}`);
  const folder = await openHeldFolder(dirname(file), shown);
  try {
    const name = basename(file);
    // Looked at through the held folder: what stands at the name now is what the rename replaces.
    const info = await lstat(folder.at(name)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (info?.isSymbolicLink()) throw swapped(shown, 'write', file);
    if (info?.isDirectory()) throw new Error(`${shown} is a directory`);
    if (info && !info.isFile())
      throw new Error(`${shown} is not a regular file (a device, FIFO or socket); file tools refuse it`);
    if (info && info.nlink > 1)
      throw new Error(
        `${shown} has ${info.nlink} hard links; icode does not write through hard links, since another name may be outside the workspace`,
      );
    const temp = `.${name}.icode-${randomBytes(4).toString('hex')}.tmp`;
    const handle = await folder.create(temp, info ? info.mode & 0o7777 : 0o666, shown);
    try {
      await handle.writeFile(text);
      await handle.sync();
      await handle.close();
      await rename(folder.at(temp), folder.at(name));
    } catch (error) {
      await handle.close().catch(() => {});
      await unlink(folder.at(temp)).catch(() => {});
      throw error;
    }
    await folder.recheck(shown);
  } finally {
    await folder.close();
  }
}

/**
 * The path a file tool reports to the permission gate: {@link targetPath}, after refusing system files
 * and what is not a regular file or folder, so a refusal shows in `icode check path` too.
 */
export async function checkedTarget(path: string, cwd: string): Promise<string> {
  const file = targetPath(path, cwd);
  await statTarget(file, path);
  return file;
}
