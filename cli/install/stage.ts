import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { ErrorCodes, IcodeError } from '../../kernel/index.ts';

/** Staging folders sit next to `~/.icode/plugins` (same file system, so the swap is a rename). */
export const STAGE_PREFIX = 'plugins.staging-';

/** A package npm installed into a private staging folder, not yet visible to icode. */
export interface Staged {
  /** The staging folder: npm's prefix, the packed tarball, later the journal and the version it replaces. */
  root: string;
  name: string;
  /** The installed package: `<root>/npm/node_modules/<name>`. */
  folder: string;
  /** What to record and update from: the spec as given, a folder or tarball as its absolute path. */
  spec: string;
  integrity?: string;
}

const npm = (args: string[], cwd: string) => {
  try {
    return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    const said = stderr.split('\n').filter((l) => /npm (error|ERR!)/.test(l) && !/A complete log/.test(l));
    throw new IcodeError(
      ErrorCodes.INSTALL_REFUSED,
      `npm ${args[0]} failed: ${(said.length ? said : stderr.split('\n')).slice(-6).join('\n') || (error as Error).message}`,
      'check the spec (npm view <name> versions) and npm registry settings; nothing was changed',
    );
  }
};

/**
 * Plugins import `icode/sdk` and zod as peer dependencies: the running icode provides them, linked into a
 * plugins prefix's node_modules. Each link is made under a temporary name and renamed into place, so a
 * plugin that loads meanwhile finds the old link or the new one.
 */
export function linkHost(prefix: string, packageRoot: string): void {
  const modules = join(prefix, 'node_modules');
  mkdirSync(modules, { recursive: true });
  for (const [name, target] of Object.entries(hostPackages(packageRoot))) {
    const tmp = join(modules, `.${name}.link-${process.pid}`);
    rmSync(tmp, { force: true });
    symlinkSync(target, tmp, 'dir');
    renameSync(tmp, join(modules, name));
  }
}

/** The packages the host provides to plugins, by name: their folders. */
export function hostPackages(packageRoot: string): Record<string, string> {
  const zod = dirname(createRequire(join(packageRoot, 'package.json')).resolve('zod/package.json'));
  return { icode: packageRoot, zod };
}

/** The file or folder a spec names on this disk (`./x.tgz`, `file:../plugin`), absolute; else undefined. */
function localPath(spec: string): string | undefined {
  const path = resolve(spec.startsWith('file:') ? spec.slice('file:'.length) : spec);
  return existsSync(path) ? path : undefined;
}

/**
 * A plugin folder as npm can pack it. A plugin without package.json (command tools need no code, so none
 * of a package's files) is copied beside the staging install with one made from its plugin.json (name,
 * version, description), which says nothing the manifest does not.
 */
function asPackage(folder: string, root: string): string {
  if (existsSync(join(folder, 'package.json')) || !existsSync(join(folder, 'plugin.json'))) return folder;
  const copy = join(root, 'source');
  cpSync(folder, copy, { recursive: true, filter: (from) => !/[\\/](node_modules|\.git)$/.test(from) });
  let manifest: { name?: unknown; version?: unknown; description?: unknown };
  try {
    manifest = JSON.parse(readFileSync(join(folder, 'plugin.json'), 'utf8')) as typeof manifest;
  } catch {
    return folder; // npm says what is wrong with the folder; the manifest check says what is wrong with plugin.json
  }
  writeFileSync(
    join(copy, 'package.json'),
    `${JSON.stringify({ name: manifest.name, version: manifest.version, description: manifest.description, keywords: ['icode-plugin'] }, null, 2)}\n`,
  );
  return copy;
}

/**
 * Installs `spec` (an npm spec, a folder, a git URL) with npm into a fresh staging folder under `userDir`.
 * npm's nested layout keeps the package's own dependencies inside its folder, so that one folder is the
 * whole plugin and can be swapped in by a rename. Lifecycle scripts do not run. A failure removes the
 * staging folder and changes nothing else.
 */
export function stagePackage(spec: string, userDir: string, packageRoot: string): Staged {
  const root = mkdtempSync(join(userDir, STAGE_PREFIX));
  try {
    const prefix = join(root, 'npm');
    mkdirSync(prefix);
    writeFileSync(join(prefix, 'package.json'), '{ "private": true }\n');
    // Registry settings kept beside the installed plugins apply to the staging install too.
    const npmrc = join(userDir, 'plugins', '.npmrc');
    if (existsSync(npmrc)) copyFileSync(npmrc, join(prefix, '.npmrc'));
    // A path (a tarball too) is made absolute: npm runs in the staging folder, not where it was given.
    const local = localPath(spec);
    // A folder is packed first, so the installed copy is a copy, not a link into the author's tree.
    const folder = local && statSync(local).isDirectory() ? local : undefined;
    let target = local ?? spec;
    if (folder) {
      const out = join(root, 'pack');
      mkdirSync(out);
      const packed = JSON.parse(
        npm(['pack', asPackage(folder, root), '--json', '--pack-destination', out], prefix),
      ) as Array<{
        filename: string;
      }>;
      target = join(out, packed[0]!.filename);
    }
    // Peers (icode, zod) come from the running icode, not the registry.
    npm(
      [
        'install',
        target,
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        '--legacy-peer-deps',
        '--install-strategy=nested',
        '--save',
      ],
      prefix,
    );
    const deps = Object.keys(
      (JSON.parse(readFileSync(join(prefix, 'package.json'), 'utf8')) as { dependencies?: object })
        .dependencies ?? {},
    );
    const name = deps[0];
    if (deps.length !== 1 || !name)
      throw new IcodeError(
        ErrorCodes.INSTALL_REFUSED,
        `npm installed ${spec}, but icode cannot tell which package it is`,
        'install by package name',
      );
    linkHost(prefix, packageRoot);
    const lock = JSON.parse(readFileSync(join(prefix, 'package-lock.json'), 'utf8')) as {
      packages?: Record<string, { integrity?: string }>;
    };
    const integrity = lock.packages?.[`node_modules/${name}`]?.integrity;
    return {
      root,
      name,
      folder: join(prefix, 'node_modules', name),
      spec: local ?? spec,
      ...(integrity ? { integrity } : {}),
    };
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
}
