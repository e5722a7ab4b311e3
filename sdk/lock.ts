import { execFileSync } from 'node:child_process';
import { linkSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { LockHolder } from './session.ts';

export type { LockHolder };

/** What a lock file says about its holder, judged from this process. */
export type LockVerdict =
  | { state: 'live'; holder: LockHolder }
  /** Held from another host: its process cannot be checked from here. */
  | { state: 'remote'; holder: LockHolder }
  | { state: 'stale'; holder: LockHolder; reason: string };

const BOOT_ID = '/proc/sys/kernel/random/boot_id';

/**
 * A process's start time. On Linux field 22 of /proc/PID/stat (clock ticks since boot) with the boot's id, so
 * a PID reused after a reboot does not match either; elsewhere what `ps -o lstart=` prints.
 */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (the command name) is in parentheses and may hold spaces or ")": count from the last ")".
    const ticks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    if (!ticks) return undefined;
    let boot = '';
    try {
      boot = readFileSync(BOOT_ID, 'utf8').trim();
    } catch {}
    return boot ? `${boot}:${ticks}` : ticks;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && process.platform === 'linux') return undefined;
  }
  if (process.platform === 'win32') return undefined;
  try {
    const out = execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 2000,
    });
    return out.trim().replace(/\s+/g, ' ') || undefined;
  } catch {
    return undefined;
  }
}

let self: LockHolder | undefined;
/** This process as a lock holder. */
export function thisProcess(): LockHolder {
  if (!self) {
    const start = processStart(process.pid);
    let pidns: string | undefined;
    try {
      pidns = readlinkSync('/proc/self/ns/pid');
    } catch {}
    self = { pid: process.pid, ...(start ? { start } : {}), host: hostname(), ...(pidns ? { pidns } : {}) };
  }
  return self;
}

/** True while a process with this pid exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reads a lock file: the JSON icode writes, or the bare PID earlier versions wrote. */
export function readLock(file: string): { raw: string; holder: LockHolder | undefined } | undefined {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  if (/^\s*\d+\s*$/.test(raw)) return { raw, holder: { pid: Number(raw) } };
  try {
    const parsed = JSON.parse(raw) as LockHolder;
    if (Number.isInteger(parsed.pid) && parsed.pid > 0) return { raw, holder: parsed };
  } catch {}
  return { raw, holder: undefined };
}

/** Whether the holder still holds the session: a lock from this host whose process is gone is stale. */
export function judge(holder: LockHolder | undefined): LockVerdict {
  if (!holder) return { state: 'stale', holder: { pid: 0 }, reason: 'the lock file is empty or unreadable' };
  const me = thisProcess();
  if (holder.host && holder.host !== me.host) return { state: 'remote', holder };
  if (holder.pidns && me.pidns && holder.pidns !== me.pidns) return { state: 'remote', holder };
  if (holder.pid === me.pid && (!holder.start || holder.start === me.start))
    return { state: 'stale', holder, reason: 'it is this process, left from an earlier run' };
  if (!processAlive(holder.pid))
    return { state: 'stale', holder, reason: `pid ${holder.pid} is not running` };
  const now = holder.start ? processStart(holder.pid) : undefined;
  if (holder.start && now && now !== holder.start)
    return {
      state: 'stale',
      holder,
      reason: `pid ${holder.pid} is now another process (the holder started at ${holder.start}, this one at ${now})`,
    };
  return { state: 'live', holder };
}

/** "pid 123 on host vm, since …" */
export function describeHolder(holder: LockHolder): string {
  return `pid ${holder.pid}${holder.host ? ` on host ${holder.host}` : ''}${holder.at ? `, since ${holder.at}` : ''}`;
}

/**
 * Takes `file` for this process, or throws naming the holder. The lock is written whole under a temporary
 * name and linked into place, so nobody reads a half-written one; a stale lock is moved aside before it is
 * replaced, and only the process whose move took that very lock goes on.
 */
export function acquireLock(file: string, sessionId: string): () => void {
  const content = `${JSON.stringify({ ...thisProcess(), at: new Date().toISOString() })}\n`;
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, content);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
  // Puts the lock in place; false when one is there already.
  const place = () => {
    try {
      linkSync(tmp, file);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      // A file system without hard links: an exclusive create is the next best thing.
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
    }
    try {
      writeFileSync(file, content, { flag: 'wx' });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      rmSync(file, { force: true });
      throw error;
    }
  };
  try {
    for (let attempt = 0; !place(); attempt++) {
      const found = readLock(file);
      if (!found) continue; // released meanwhile
      const verdict = judge(found.holder);
      if (verdict.state === 'live')
        throw new Error(`session ${sessionId} is open in another icode process (pid ${verdict.holder.pid})`);
      if (verdict.state === 'remote') {
        const where =
          verdict.holder.host && verdict.holder.host !== thisProcess().host
            ? `on host ${verdict.holder.host}`
            : 'in another PID namespace (a container or sandbox sharing this home)';
        throw new Error(
          `session ${sessionId} is open in icode ${where} (pid ${verdict.holder.pid}); if that process is gone, run: icode sessions unlock ${sessionId}`,
        );
      }
      if (attempt >= 5) throw new Error(`session ${sessionId}: could not take over its stale lock ${file}`);
      const aside = `${file}.stale-${process.pid}`;
      try {
        renameSync(file, aside);
      } catch {
        continue; // another process moved it first
      }
      if (readFileSync(aside, 'utf8') !== found.raw) {
        // What was moved is a lock taken after the stale one was read: put it back.
        try {
          linkSync(aside, file);
        } catch {}
      }
      rmSync(aside, { force: true });
    }
  } finally {
    rmSync(tmp, { force: true });
  }
  const release = () => {
    held.delete(release);
    // Only our own lock: after `icode sessions unlock` another process may hold it.
    try {
      if (readLock(file)?.raw === content) rmSync(file, { force: true });
    } catch {}
  };
  held.add(release);
  if (held.size === 1 && !exitHook) {
    exitHook = true;
    // However the process ends (a signal's grace ran out, a closed stdout), its locks go with it.
    process.on('exit', () => {
      for (const r of [...held]) r();
    });
  }
  return release;
}

const held = new Set<() => void>();
let exitHook = false;
