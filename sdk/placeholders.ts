import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive } from './lock.ts';

/**
 * Empty folders held at protected paths that do not exist (`.icode`, `.vscode`, `.git` in a folder that is
 * not a repository) while a sandboxed command runs, so the sandbox can mount them read-only: a path that
 * does not exist cannot be a mount point, and a command could create it.
 *
 * Several commands (of this process or another icode on the same project) may hold one placeholder; it is
 * removed when the last lets go, and only while it is still empty (if anyone put something in it, it has
 * become real). Holders are files named by PID in a registry folder under the state folder, changed under
 * a lock (an exclusive mkdir), so one icode never removes a placeholder another's sandbox mounts — removing
 * a mount point in another mount namespace detaches the mount there. A holder whose process died (a crash,
 * kill -9) counts as gone, so the next command or session tidies what it left.
 */
export class PlaceholderSet {
  private readonly counts = new Map<string, number>();

  /**
   * Whether a protected path that exists is a placeholder (this process's, or another icode's by its
   * registry): the caller must hold it too, or its owner may remove it while the sandbox starts.
   */
  isPlaceholder(path: string): boolean {
    return this.counts.has(path) || readExisting(registryOf(path), path);
  }

  hold(paths: readonly string[]): { release(): void } {
    const taken: string[] = [];
    try {
      for (const path of paths) {
        const n = this.counts.get(path) ?? 0;
        if (n === 0) withLock(registryOf(path), (reg) => acquire(reg, path));
        this.counts.set(path, n + 1);
        taken.push(path);
      }
    } catch (error) {
      this.let(taken);
      throw new Error(
        `the sandbox could not hold a protected path: ${(error as Error).message}; nothing was run`,
      );
    }
    return { release: () => this.let(taken) };
  }

  private let(paths: readonly string[]): void {
    for (const path of paths) {
      const n = (this.counts.get(path) ?? 1) - 1;
      if (n > 0) {
        this.counts.set(path, n);
        continue;
      }
      this.counts.delete(path);
      try {
        withLock(registryOf(path), (reg) => letGo(reg, path));
      } catch {
        // Left for the next holder to tidy: an empty read-only-looking folder is harmless.
      }
    }
  }
}

/**
 * One registry for the whole machine, not per user or config folder: two icode processes with different
 * ICODE_CONFIG_DIRs (two users, sudo and not) share a project's placeholders too. The folder is
 * world-writable and sticky, like /tmp: anyone may register, only an entry's owner may remove it.
 */
function registryOf(path: string): string {
  registryBase ??= makeRegistryBase();
  return join(registryBase, createHash('sha256').update(path).digest('hex').slice(0, 24));
}

let registryBase: string | undefined;

function makeRegistryBase(): string {
  const base = join(process.platform === 'linux' ? '/tmp' : tmpdir(), 'icode-placeholders');
  if (!existsSync(base)) {
    mkdirSync(base, { recursive: true, mode: 0o1777 });
    try {
      chmodSync(base, 0o1777);
    } catch {}
  }
  return base;
}

const alive = (pid: number) => pid === process.pid || processAlive(pid);

function holders(reg: string): number[] {
  let names: string[];
  try {
    names = readdirSync(reg);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => {
      if (alive(pid)) return true;
      try {
        rmSync(join(reg, String(pid)), { force: true });
      } catch {
        // Another user's entry in the sticky folder: it stays, and counts as gone.
      }
      return false;
    });
}

function acquire(reg: string, path: string): void {
  let created = false;
  try {
    mkdirSync(path);
    created = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  // A folder someone else created is theirs, unless the registry says it is a placeholder (ours or a
  // dead holder's, left by a crash).
  if (!created && !readExisting(reg, path)) return;
  mkdirSync(reg, { recursive: true, mode: 0o1777 });
  try {
    chmodSync(reg, 0o1777);
  } catch {}
  if (!existsSync(join(reg, 'path'))) writeFileSync(join(reg, 'path'), path, { mode: 0o644 });
  writeFileSync(join(reg, String(process.pid)), '');
}

function readExisting(reg: string, path: string): boolean {
  if (!existsSync(reg)) return false;
  try {
    return readFileSync(join(reg, 'path'), 'utf8') === path;
  } catch {
    return false;
  }
}

function letGo(reg: string, path: string): void {
  rmSync(join(reg, String(process.pid)), { force: true });
  if (holders(reg).length) return;
  try {
    rmdirSync(path);
  } catch {
    // Not empty (it became real) or already gone.
  }
  rmSync(reg, { recursive: true, force: true });
}

/** Runs `fn` holding an exclusive lock (a folder made with mkdir); a lock older than 10 s is broken. */
function withLock(reg: string, fn: (reg: string) => void): void {
  const lock = `${reg}.lock`;
  mkdirSync(join(reg, '..'), { recursive: true });
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      try {
        if (Date.now() - statSync(lock).mtimeMs > 10_000) rmdirSync(lock);
      } catch {}
      if (Date.now() > deadline) throw new Error(`the placeholder lock ${lock} is held by another icode`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
  try {
    fn(reg);
  } finally {
    rmdirSync(lock);
  }
}
