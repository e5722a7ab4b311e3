import { constants, existsSync, readlinkSync, type Stats } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, realpath, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

// The gate judges a path, but a path is only a name: a folder on it can be swapped for a symlink out of
// the workspace between the check and the use. So file tools open first and then prove what they hold.
// On Linux an open fd names the file it really is (/proc/self/fd/N), and a path through
// /proc/self/fd/N/ resolves inside that open folder wherever its name has moved since: together they
// close the window. Elsewhere dev/inode checks narrow it.
const PROC_FD = '/proc/self/fd';
const viaProc = process.platform === 'linux' && existsSync(PROC_FD);
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const FOLDER = constants.O_RDONLY | (constants.O_DIRECTORY ?? 0) | NOFOLLOW;
// O_NONBLOCK: a FIFO swapped in after the check must not hang the open; regular files ignore it.
const READ = constants.O_RDONLY | NOFOLLOW | (constants.O_NONBLOCK ?? 0);
const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW;

type Use = 'read' | 'write';

const nothing = (use: Use) => `nothing was ${use === 'read' ? 'read' : 'written'} — call the tool again`;

/** The error for a target that is no longer what the permission gate judged. */
export function swapped(shown: string, use: Use, judged: string, actual?: string): Error {
  const now = actual ? `: it is now ${actual}, not ${judged}` : '';
  return new Error(
    `${shown} changed between the check and the ${use} (a symlink or folder was swapped${now}); ${nothing(use)}`,
  );
}

/**
 * Throws unless `handle` is the file at `judged`. Without /proc the name is checked again instead: it
 * must still resolve to itself and to the dev/inode held, and to `expected` (its stat at the check)
 * when given. That narrows the window to the moments between the checks; it cannot close it.
 */
async function holdTo(handle: FileHandle, judged: string, shown: string, use: Use, expected?: Stats) {
  if (viaProc) {
    const actual = readlinkSync(`${PROC_FD}/${handle.fd}`);
    if (actual !== judged) throw swapped(shown, use, judged, actual);
    return;
  }
  const [info, now, real] = await Promise.all([
    handle.stat(),
    stat(judged).catch(() => undefined),
    realpath(judged).catch(() => undefined),
  ]);
  const same = (other?: Stats) => other !== undefined && other.dev === info.dev && other.ino === info.ino;
  if (real !== judged || !same(now) || (expected && !same(expected))) throw swapped(shown, use, judged);
}

// Errors of an open or mkdir on the way to a judged path, said as what they mean there. O_NOFOLLOW
// refuses a symlink as the last name (ELOOP, or ENOTDIR with O_DIRECTORY); the judged path had none, so
// one means a swap. The swap may be undone by the time we look, so only a plain file in the way (or on
// the way) is left as the caller's own ENOTDIR.
async function refusal(error: unknown, path: string, judged: string, shown: string, use: Use) {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT')
    return new Error(
      `${shown} or a folder on its way was moved or removed between the check and the ${use}; ${nothing(use)}`,
    );
  if (code === 'ELOOP') return swapped(shown, use, judged);
  if (code !== 'ENOTDIR') return error;
  const fileInTheWay = await lstat(path).then(
    (info) => info.isFile(),
    (failure: NodeJS.ErrnoException) => failure.code !== 'ENOENT',
  );
  return fileInTheWay ? error : swapped(shown, use, judged);
}

/**
 * Opens the judged regular file `file` for reading and proves it is the one judged; `expected` is its
 * stat from the check, the proof where /proc is missing. Read from the returned handle only.
 */
export async function openHeldFile(file: string, shown: string, expected: Stats): Promise<FileHandle> {
  const handle = await open(file, READ).catch(async (error) => {
    throw await refusal(error, file, file, shown, 'read');
  });
  try {
    await holdTo(handle, file, shown, 'read', expected);
    if (!(await handle.stat()).isFile())
      throw new Error(`${shown} is not a regular file; file tools refuse it`);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** A folder held open after it was proven to be the judged one. */
export interface HeldFolder {
  /** A path to `name` in this folder that resolves through the open folder, not through its name. */
  at(name: string): string;
  /** Creates `name` in the folder for writing (never through a symlink) and proves where it is. */
  create(name: string, mode: number, shown: string): Promise<FileHandle>;
  /** Without /proc: throws if the folder's path no longer leads to the folder held (checked after use). */
  recheck(shown: string): Promise<void>;
  close(): Promise<void>;
}

function held(handle: FileHandle, path: string): HeldFolder {
  const at = (name: string) => (viaProc ? `${PROC_FD}/${handle.fd}/${name}` : join(path, name));
  return {
    at,
    async create(name, mode, shown) {
      // ENOENT here: the held folder itself was removed since it was proven.
      const file = await open(at(name), CREATE, mode).catch(async (error) => {
        throw await refusal(error, at(name), join(path, name), shown, 'write');
      });
      try {
        await holdTo(file, join(path, name), shown, 'write');
        return file;
      } catch (error) {
        await file.close();
        await unlink(at(name)).catch(() => {});
        throw error;
      }
    },
    async recheck(shown) {
      if (viaProc) return;
      const [now, then] = await Promise.all([stat(path).catch(() => undefined), handle.stat()]);
      if (now?.dev !== then.dev || now.ino !== then.ino)
        throw new Error(
          `the folder of ${shown} changed during the write (a symlink or folder was swapped); the file may have been written elsewhere — check ${path} and call the tool again`,
        );
    },
    close: () => handle.close(),
  };
}

/**
 * Opens the judged folder `dir` (creating what is missing of it, like `mkdir -p`) and proves it is the
 * one judged. Each missing folder is made in its proven parent; on Linux through the open parent, so a
 * swap cannot send the `mkdir` out of the workspace either.
 */
export async function openHeldFolder(dir: string, shown: string): Promise<HeldFolder> {
  let handle: FileHandle;
  try {
    handle = await open(dir, FOLDER);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(dir) === dir)
      throw await refusal(error, dir, dir, shown, 'write');
    const parent = await openHeldFolder(dirname(dir), shown);
    const path = parent.at(basename(dir));
    try {
      await mkdir(path).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw await refusal(error, path, dir, shown, 'write');
      });
      handle = await open(path, FOLDER).catch(async (error) => {
        throw await refusal(error, path, dir, shown, 'write');
      });
    } finally {
      await parent.close();
    }
  }
  await holdTo(handle, dir, shown, 'write').catch(async (error) => {
    await handle.close();
    throw error;
  });
  return held(handle, dir);
}
