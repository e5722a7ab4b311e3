import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { asJudged, isInside, type PermissionSubjects, resolveReal } from '../../sdk/index.ts';

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

/** Reads a whole text file for an edit, refusing binary and oversized files. */
export async function readText(file: string, shown: string, info: Stats): Promise<string> {
  if (info.size > MAX_FILE_BYTES)
    throw new Error(`${shown} is ${info.size} bytes; file tools handle up to ${MAX_FILE_BYTES}`);
  const handle = await open(file, 'r');
  try {
    const buffer = await handle.readFile();
    if (buffer.subarray(0, 8192).includes(0)) throw new Error(`${shown} looks like a binary file`);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * Replaces a file's content atomically: the text goes to a temporary file beside it, which is then
 * renamed over the target, so a crash or a full disk leaves the old file or the new one, never half of
 * each. The file's permissions are kept. A file with more than one hard link is refused: another name of
 * it may lie outside the workspace.
 */
export async function writeAtomic(file: string, shown: string, text: string, info?: Stats): Promise<void> {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_FILE_BYTES)
    throw new Error(`the new content of ${shown} is ${bytes} bytes; the limit is ${MAX_FILE_BYTES}`);
  if (info?.isDirectory()) throw new Error(`${shown} is a directory`);
  if (info && info.nlink > 1)
    throw new Error(
      `${shown} has ${info.nlink} hard links; icode does not write through hard links, since another name may be outside the workspace`,
    );
  await mkdir(dirname(file), { recursive: true });
  const temp = join(dirname(file), `.${basename(file)}.icode-${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', info ? info.mode & 0o7777 : 0o666);
  try {
    await handle.writeFile(text);
    await handle.sync();
    await handle.close();
    await rename(temp, file);
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw error;
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
