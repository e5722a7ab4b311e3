import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { HarnessPlugin } from './manifest.ts';

/** A plugin installed with `icode plugins install`, as recorded under `~/.icode/plugins/installed.json`. */
export interface InstalledPlugin {
  name: string;
  version: string;
  /** What the user asked for: an npm spec, a folder, a git URL. */
  spec: string;
  /** The package's integrity (sha512) as npm reported it. */
  integrity?: string;
  /** What the user accepted at install: the manifest's `capabilities`. */
  capabilities: string[];
  installedAt: string;
}

export const installedFile = (userDir: string) => join(userDir, 'plugins', 'installed.json');

export function readInstalled(userDir: string): InstalledPlugin[] {
  try {
    return JSON.parse(readFileSync(installedFile(userDir), 'utf8')) as InstalledPlugin[];
  } catch {
    return [];
  }
}

/**
 * Replaces the record in one step: written whole under `installed.json.next`, then renamed over it, so a
 * reader sees the old list or the new one, never half of either. One fixed temporary name is enough because
 * every writer holds the plugins lock (`icode plugins install|update|uninstall`).
 */
export function writeInstalled(userDir: string, list: InstalledPlugin[]): void {
  const file = installedFile(userDir);
  const next = `${file}.next`;
  mkdirSync(dirname(file), { recursive: true });
  try {
    writeFileSync(next, `${JSON.stringify(list, null, 2)}\n`);
    renameSync(next, file);
  } catch (error) {
    try {
      rmSync(next, { force: true });
    } catch {}
    throw error;
  }
}

/**
 * The harness's plugins plus the installed ones a settings layer switches on or off
 * (`plugins.<name>.enabled`, written by `icode plugins install|enable|disable --scope …`). They resolve from
 * `~/.icode/plugins/node_modules`, with every check a listed plugin gets.
 */
export function withInstalled(
  listed: HarnessPlugin[],
  userDir: string,
  enabled: (name: string) => boolean | undefined,
): HarnessPlugin[] {
  const names = new Set(listed.map((p) => p.name));
  const extra = readInstalled(userDir)
    // Switched off is listed too (as disabled, with the file that says so); never switched on is not.
    .filter((p) => !names.has(p.name) && enabled(p.name) !== undefined)
    .map((p) => ({ name: p.name, version: '*' }) as HarnessPlugin);
  return [...listed, ...extra];
}
