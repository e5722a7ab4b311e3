import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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
 * The harness's plugins plus the installed ones that some settings layer switches on
 * (`plugins.<name>.enabled: true`, written by `icode plugins install|enable --scope …`). They resolve from
 * `~/.icode/plugins/node_modules`, with every check a listed plugin gets.
 */
export function withInstalled(
  listed: HarnessPlugin[],
  userDir: string,
  enabled: (name: string) => boolean | undefined,
): HarnessPlugin[] {
  const names = new Set(listed.map((p) => p.name));
  const extra = readInstalled(userDir)
    .filter((p) => !names.has(p.name) && enabled(p.name) === true)
    .map((p) => ({ name: p.name, version: '*' }) as HarnessPlugin);
  return [...listed, ...extra];
}
