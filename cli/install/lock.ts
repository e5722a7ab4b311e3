import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, IcodeError } from '../../kernel/index.ts';
// The SDK's lock file (a holder with its start time, written whole, a stale one moved aside before it is
// replaced), the one the session store uses too.
import { acquireLock, describeHolder, judge, readLock } from '../../sdk/lock.ts';

/** How long a second `icode plugins install|update|uninstall` waits for the first before giving up. */
const WAIT_MS = 5 * 60_000;

const pluginsLockFile = (userDir: string) => join(userDir, 'plugins', 'install.lock');

/**
 * Runs `fn` holding `~/.icode/plugins/install.lock`, so two installs never interleave their changes to the
 * plugins folder and `installed.json`. A live holder is waited for (`onWait` says who, once); a lock whose
 * process is gone is taken over.
 */
export async function withPluginsLock<T>(
  userDir: string,
  fn: () => Promise<T>,
  o: { onWait?: (holder: string) => void } = {},
): Promise<T> {
  const file = pluginsLockFile(userDir);
  mkdirSync(join(userDir, 'plugins'), { recursive: true });
  const deadline = Date.now() + WAIT_MS;
  let release: (() => void) | undefined;
  for (let told = false, retries = 0; !release; ) {
    try {
      release = acquireLock(file, 'plugins');
    } catch (error) {
      const found = readLock(file);
      const verdict = found && judge(found.holder);
      // Released meanwhile, or stale (acquireLock takes a stale lock over itself and gives up only when
      // others keep racing for it): try again, a few times; an error that is not about the lock is thrown.
      if (!verdict || verdict.state === 'stale') {
        if (++retries > 5) throw error;
        continue;
      }
      if (Date.now() > deadline)
        throw new IcodeError(
          ErrorCodes.INSTALL_REFUSED,
          `another icode plugins command holds ${file} (${describeHolder(verdict.holder)})`,
          `wait for it to finish; if that process is gone, delete ${file}`,
        );
      if (!told) o.onWait?.(describeHolder(verdict.holder));
      told = true;
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    release();
  }
}
