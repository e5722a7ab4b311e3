import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { type InstalledPlugin, readInstalled, writeInstalled } from '../../kernel/index.ts';
import { STAGE_PREFIX } from './stage.ts';

/**
 * What a swap is about to change, written into its staging folder before the first change: enough for this
 * process, or the next one that finds it after a crash, to put everything back.
 */
interface Journal {
  userDir: string;
  name: string;
  /** The plugin's folder: `~/.icode/plugins/node_modules/<name>`. */
  target: string;
  /** Where the version in `target` waits until the swap commits. */
  aside: string;
  /** Whether `target` held a version when the swap began. */
  hadPrevious: boolean;
  /** `installed.json` before. */
  installedBefore: InstalledPlugin[];
  /** The files the swap edits (settings, the project's plugins lock), each with its text before (null: none). */
  edits?: Array<{ file: string; before: string | null }>;
  /** What a journal written before `edits` holds instead: one settings file. */
  settings?: { file: string; before: string | null };
}

export interface Swap {
  userDir: string;
  /** The staging folder (from stagePackage, or an empty one for an uninstall). */
  root: string;
  name: string;
  /** The staged plugin folder to move in; none for an uninstall. */
  incoming?: string;
  /** The folder it replaces (default: `~/.icode/plugins/node_modules/<name>`; a Claude Code plugin's is elsewhere). */
  target?: string;
  /** `installed.json` after; none: left as it is (a Claude Code plugin's record is one of the `edits`). */
  installed?: InstalledPlugin[];
  /** Files to edit as the last steps, in order (switching the plugin on, the project's plugins lock). */
  edits?: Array<{ file: string; edit(): void }>;
}

const present = (path: string) => {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
};
const journalFile = (root: string) => join(root, 'journal.json');

/**
 * Replaces (or removes) a plugin's folder and its record together: the folder there now is renamed aside,
 * the staged one renamed in, `installed.json` replaced, the files edited (settings, the project's lock);
 * then the journal is deleted (the commit) and the old folder with the staging folder. Any failure before the commit puts all of it
 * back and rethrows, saying so. The caller holds the plugins lock.
 */
export function swapPlugin(s: Swap): void {
  const target = s.target ?? join(s.userDir, 'plugins', 'node_modules', s.name);
  const j: Journal = {
    userDir: s.userDir,
    name: s.name,
    target,
    aside: join(s.root, 'previous'),
    hadPrevious: present(target),
    installedBefore: readInstalled(s.userDir),
    ...(s.edits?.length
      ? {
          edits: s.edits.map(({ file }) => ({
            file,
            before: existsSync(file) ? readFileSync(file, 'utf8') : null,
          })),
        }
      : {}),
  };
  writeFileSync(journalFile(s.root), JSON.stringify(j, null, 2));
  try {
    if (j.hadPrevious) renameSync(target, j.aside);
    if (s.incoming) {
      mkdirSync(dirname(target), { recursive: true });
      renameSync(s.incoming, target);
    }
    if (s.installed) writeInstalled(s.userDir, s.installed);
    for (const e of s.edits ?? []) e.edit();
  } catch (error) {
    const undone = rollBack(j, s.root);
    throw new Error(
      `${s.name}: could not ${s.incoming ? 'switch to the new version' : 'remove it'}: ${(error as Error).message}; ${undone ?? 'the previous state is back'}`,
    );
  }
  rmSync(journalFile(s.root)); // the commit
  try {
    rmSync(s.root, { recursive: true, force: true });
  } catch {
    // Only the old version and npm's files are left there; the next plugins command removes them.
  }
}

/**
 * Puts back what a journal says a swap changed. Returns undefined when all is back, or what is left to do
 * (the journal stays, and the next plugins command tries again).
 */
function rollBack(j: Journal, root: string): string | undefined {
  try {
    if (present(j.aside)) {
      rmSync(j.target, { recursive: true, force: true });
      renameSync(j.aside, j.target);
    } else if (!j.hadPrevious) rmSync(j.target, { recursive: true, force: true });
    // Only what changed is written back: a step that failed may have failed for good (a full disk).
    if (JSON.stringify(readInstalled(j.userDir)) !== JSON.stringify(j.installedBefore))
      writeInstalled(j.userDir, j.installedBefore);
    for (const { file, before } of [...(j.edits ?? []), ...(j.settings ? [j.settings] : [])]) {
      if (before === null) {
        if (present(file)) rmSync(file, { force: true });
      } else if (!present(file) || readFileSync(file, 'utf8') !== before) writeFileSync(file, before);
    }
  } catch (error) {
    return `and putting the previous state back failed too (${(error as Error).message}): the next icode plugins install, update or uninstall finishes that from ${root}`;
  }
  rmSync(journalFile(root), { force: true });
  return undefined;
}

/**
 * Staging folders left by a process that died (found while holding the lock, so none is in use): a swap
 * it began is rolled back, the rest removed. Returns a line per rolled-back swap.
 */
export function recoverInterrupted(userDir: string): string[] {
  const said: string[] = [];
  const entries = existsSync(userDir) ? readdirSync(userDir) : [];
  for (const entry of entries.filter((e) => e.startsWith(STAGE_PREFIX))) {
    const root = join(userDir, entry);
    let j: Journal | undefined;
    try {
      j = JSON.parse(readFileSync(journalFile(root), 'utf8')) as Journal;
    } catch {
      // No journal, or a half-written one: the swap never began, nothing outside this folder changed.
    }
    if (j) {
      const left = rollBack(j, root);
      if (left) {
        said.push(`an interrupted change to ${j.name} could not be undone: ${left}`);
        continue;
      }
      said.push(`rolled back an interrupted change to ${j.name}`);
    }
    rmSync(root, { recursive: true, force: true });
  }
  return said;
}

/** Removes a staging folder unless a swap in it could not be rolled back (then its journal is needed). */
export function discardStage(root: string): void {
  if (!existsSync(journalFile(root))) rmSync(root, { recursive: true, force: true });
}
