import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ErrorCodes, IcodeError } from '../../kernel/index.ts';
import { ProjectApprovals } from '../../sdk/approvals.ts';

/** One plugin a project carries: what `icode plugins sync` installs, exactly. */
export interface LockedPlugin {
  version: string;
  /** What was asked for: an npm spec, a git URL, or a path relative to the project (`./vendor/x.tgz`). */
  spec: string;
  /** The package's integrity as npm reported it (none for a git URL). */
  integrity?: string;
  /** The capabilities the plugin asks for, accepted by whoever approves the lock. */
  capabilities: string[];
}

export interface ProjectLock {
  plugins: Record<string, LockedPlugin>;
}

export const projectLockFile = (projectRoot: string) => join(projectRoot, '.icode', 'plugins.lock.json');

/** The lock's text and what it says, or undefined when the project has none. */
export function readProjectLock(projectRoot: string): { text: string; lock: ProjectLock } | undefined {
  const file = projectLockFile(projectRoot);
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8');
  let lock: ProjectLock;
  try {
    lock = JSON.parse(text) as ProjectLock;
  } catch (error) {
    throw new IcodeError(
      ErrorCodes.INSTALL_REFUSED,
      `${file} is not valid JSON: ${(error as Error).message}`,
      'fix it, or write it again with icode plugins install SPEC --scope project',
    );
  }
  const plugins = lock?.plugins;
  const valid =
    plugins &&
    typeof plugins === 'object' &&
    Object.values(plugins).every(
      (p) => typeof p?.version === 'string' && typeof p.spec === 'string' && Array.isArray(p.capabilities),
    );
  if (!valid)
    throw new IcodeError(
      ErrorCodes.INSTALL_REFUSED,
      `${file} is not a plugins lock ({ "plugins": { NAME: { version, spec, integrity, capabilities } } })`,
      'fix it, or write it again with icode plugins install SPEC --scope project',
    );
  return { text, lock };
}

/** The lock's text: keys sorted at every level, so the same lock is always the same bytes. */
export function renderProjectLock(lock: ProjectLock): string {
  const sorted = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, sorted((v as Record<string, unknown>)[k])]),
        )
      : v;
  return `${JSON.stringify(sorted(lock), null, 2)}\n`;
}

/**
 * Adds (`entry`) or removes (undefined) one plugin and writes the lock whole under a temporary name, then
 * renames it over the old one: a reader (or a crash) sees the old lock or the new one. Returns the new text.
 */
export function editProjectLock(projectRoot: string, name: string, entry: LockedPlugin | undefined): string {
  const file = projectLockFile(projectRoot);
  const plugins = { ...(readProjectLock(projectRoot)?.lock.plugins ?? {}) };
  if (entry) plugins[name] = entry;
  else delete plugins[name];
  const text = renderProjectLock({ plugins });
  const next = `${file}.${process.pid}.next`;
  mkdirSync(dirname(file), { recursive: true });
  try {
    writeFileSync(next, text);
    renameSync(next, file);
  } catch (error) {
    rmSync(next, { force: true });
    throw error;
  }
  return text;
}

/** `icode plugins approve` records this; `icode plugins sync` installs nothing without it. */
export const lockApprovals = (userDir: string) => new ProjectApprovals(userDir, 'plugins');
/** Keyed on the lock's exact text: any edit, even one byte, asks again. */
export const lockFingerprint = (text: string) => ProjectApprovals.fingerprint(text);

const isInside = (file: string, dir: string) => {
  const rel = relative(dir, file);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
};

/** A spec naming something on this disk (a folder, a tarball), as the path it names; else undefined. */
function localPath(spec: string, cwd: string): string | undefined {
  if (spec.startsWith('file:')) return resolve(cwd, spec.slice('file:'.length));
  if (/^(\.{1,2}([/\\]|$)|\/|~)/.test(spec) || existsSync(resolve(cwd, spec))) return resolve(cwd, spec);
  return undefined;
}

/**
 * What the lock records for a spec given on the command line: a path inside the project relative to it
 * (`./vendor/x.tgz`, so the lock works in every checkout), anything else as given. A path outside the
 * project would not exist for the next person to sync, so it is refused.
 */
export function lockSpec(spec: string, cwd: string, projectRoot: string): string {
  const path = localPath(spec, cwd);
  if (!path) return spec;
  if (!isInside(path, projectRoot))
    throw new IcodeError(
      ErrorCodes.INSTALL_REFUSED,
      `${spec} is outside the project (${projectRoot}): a project's plugins lock can only name a folder or tarball inside it`,
      'copy it into the project (for example vendor/), publish it, or install it with --scope user',
    );
  return `./${relative(projectRoot, path).split(sep).join('/')}`;
}

const REGISTRY_SPEC = /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*(@[^/:\s]*)?$/i;

/**
 * What `icode plugins sync` asks npm for: a registry spec pinned to the locked version, a project path made
 * absolute (and checked to be in the project), a git URL as recorded (the version check then catches a
 * moved branch).
 */
export function syncSpec(name: string, entry: LockedPlugin, projectRoot: string): string {
  if (entry.spec.startsWith('./')) {
    const path = resolve(projectRoot, entry.spec);
    if (!isInside(path, projectRoot) || !existsSync(path))
      throw new IcodeError(
        ErrorCodes.INSTALL_REFUSED,
        `${name}: the lock names ${entry.spec}, which is ${existsSync(path) ? 'outside the project' : 'not in the project'}`,
        'check the file is committed, or install the plugin again with --scope project',
      );
    return path;
  }
  return REGISTRY_SPEC.test(entry.spec) ? `${name}@${entry.version}` : entry.spec;
}
