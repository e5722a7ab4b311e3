import { ErrorCodes, IcodeError, type InstalledPlugin } from '../../kernel/index.ts';
import {
  type LockedPlugin,
  lockApprovals,
  lockFingerprint,
  projectLockFile,
  readProjectLock,
  syncSpec,
} from './project-lock.ts';

export interface SyncProject {
  userDir: string;
  projectRoot: string;
  installed(): InstalledPlugin[];
  /** Installs `spec` through the transactional install, pinned to `entry`, and switches it on in the project. */
  install(spec: string, name: string, entry: LockedPlugin): Promise<string>;
  /** Switches an installed plugin on in the project's settings; returns the file. */
  enable(name: string): string;
}

/** What `icode plugins sync` did: a line per plugin installed or already there, and per plugin that was not. */
export interface SyncReport {
  done: string[];
  failed: Array<{ name: string; why: string }>;
}

/**
 * Installs exactly what the project's plugins lock names, once the user has approved that lock as it is
 * now (as a project's MCP servers wait for `icode mcp approve`): each locked version, whose integrity must
 * match the lock, skipping one installed at that version and integrity already. One plugin's refusal does
 * not stop the others.
 */
export async function syncProject(p: SyncProject): Promise<SyncReport> {
  const file = projectLockFile(p.projectRoot);
  const found = readProjectLock(p.projectRoot);
  if (!found) return { done: [`This project locks no plugins (no ${file}).`], failed: [] };
  const names = Object.keys(found.lock.plugins).sort();
  if (!lockApprovals(p.userDir).approved(p.projectRoot, lockFingerprint(found.text)))
    throw new IcodeError(
      ErrorCodes.INSTALL_REFUSED,
      `this project's plugins (${names.join(', ') || 'none'}) are not approved: ${file} was never approved here, or changed since; nothing was installed`,
      `review ${file} (what each plugin is and the capabilities it asks for), then run icode plugins approve and icode plugins sync`,
    );
  const report: SyncReport = { done: [], failed: [] };
  for (const name of names) {
    const entry = found.lock.plugins[name]!;
    const have = p.installed().find((i) => i.name === name);
    try {
      if (have && have.version === entry.version && have.integrity === entry.integrity) {
        report.done.push(`${name}@${entry.version} is installed already; enabled in ${p.enable(name)}`);
        continue;
      }
      report.done.push(await p.install(syncSpec(name, entry, p.projectRoot), name, entry));
    } catch (error) {
      const why = error instanceof IcodeError ? error.describe() : (error as Error).message;
      report.failed.push({ name, why: `${name}@${entry.version} was not installed: ${why}` });
    }
  }
  return report;
}
