import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import semver from 'semver';
import {
  ErrorCodes,
  IcodeError,
  type InstalledPlugin,
  installedFile,
  KERNEL_VERSION,
  type Kernel,
  readInstalled,
  readPluginFolder,
} from '../kernel/index.ts';
import { editSettings } from '../sdk/settings.ts';
import { scaffoldPlugin } from './scaffold.ts';

type Scope = 'user' | 'project' | 'local';

interface PluginsCli {
  /** A kernel with config resolved (not booted): user dir, project root, settings files. */
  kernel(): Promise<Kernel>;
  /** This icode's package folder: installed plugins resolve `icode/sdk` (and zod) to it. */
  packageRoot: string;
  exit(code: number): void;
}

/**
 * Plugins import `icode/sdk` and zod as peer dependencies: the running icode provides them. They are linked
 * into the plugins folder after every npm run (npm would prune links it does not know).
 */
function linkHost(prefix: string, packageRoot: string): void {
  const modules = join(prefix, 'node_modules');
  mkdirSync(modules, { recursive: true });
  const zod = dirname(createRequire(join(packageRoot, 'package.json')).resolve('zod/package.json'));
  for (const [name, target] of [
    ['icode', packageRoot],
    ['zod', zod],
  ] as const) {
    rmSync(join(modules, name), { recursive: true, force: true });
    symlinkSync(target, join(modules, name), 'dir');
  }
}

const npm = (args: string[], cwd: string) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function settingsFile(kernel: Kernel, scope: Scope): string {
  const layer = kernel.config.layers.find((l) => l.name === scope);
  return (
    layer?.file ??
    join(kernel.config.projectRoot, '.icode', scope === 'local' ? 'settings.local.json' : 'settings.json')
  );
}

/** Sets `plugins.<name>.enabled` in a settings file (comments and formatting kept). */
function setEnabled(file: string, name: string, enabled: boolean | undefined): void {
  editSettings(file, ['plugins', name, 'enabled'], enabled);
}

function record(userDir: string, update: (list: InstalledPlugin[]) => InstalledPlugin[]): void {
  const file = installedFile(userDir);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(update(readInstalled(userDir)), null, 2));
}

/**
 * Installs a plugin package with npm into `~/.icode/plugins` (never the project's node_modules; npm's own
 * registry config applies), then checks it before it is switched on: a valid manifest, an engines.icode
 * range that includes this icode, and the capabilities the user accepts. A refusal uninstalls it again and
 * says which check failed.
 */
async function install(
  kernel: Kernel,
  spec: string,
  opts: { scope?: Scope; yes?: boolean; accepted?: string[]; packageRoot: string },
): Promise<string> {
  const userDir = kernel.config.userDir;
  const prefix = join(userDir, 'plugins');
  mkdirSync(prefix, { recursive: true });
  if (!existsSync(join(prefix, 'package.json')))
    writeFileSync(join(prefix, 'package.json'), '{ "private": true }\n');
  // A folder is packed first, so the installed copy is a copy, not a link into the author's tree.
  const local = existsSync(resolve(spec)) && statSync(resolve(spec)).isDirectory();
  let target = spec;
  if (local) {
    const out = mkdtempSync(join(tmpdir(), 'icode-pack-'));
    const packed = JSON.parse(
      npm(['pack', resolve(spec), '--json', '--pack-destination', out], prefix),
    ) as Array<{ filename: string }>;
    target = join(out, packed[0]!.filename);
  }
  const before = new Set(
    Object.keys(
      (JSON.parse(readFileSync(join(prefix, 'package.json'), 'utf8')) as { dependencies?: object })
        .dependencies ?? {},
    ),
  );
  // Peers (icode, zod) come from the running icode, not the registry.
  npm(
    ['install', target, '--no-audit', '--no-fund', '--ignore-scripts', '--legacy-peer-deps', '--save'],
    prefix,
  );
  linkHost(prefix, opts.packageRoot);
  const deps =
    (
      JSON.parse(readFileSync(join(prefix, 'package.json'), 'utf8')) as {
        dependencies?: Record<string, string>;
      }
    ).dependencies ?? {};
  const name =
    Object.keys(deps).find((d) => !before.has(d)) ??
    Object.keys(deps).find((d) => spec === d || spec.startsWith(`${d}@`));
  if (!name)
    throw new IcodeError(
      ErrorCodes.INSTALL_REFUSED,
      `npm installed ${spec}, but icode cannot tell which package it is`,
      'install by package name',
    );
  const dir = join(prefix, 'node_modules', name);
  const refuse = (message: string, fix: string) => {
    npm(['uninstall', name, '--no-audit', '--no-fund', '--legacy-peer-deps'], prefix);
    linkHost(prefix, opts.packageRoot);
    return new IcodeError(ErrorCodes.INSTALL_REFUSED, `${name}: ${message}`, fix);
  };
  let manifest: ReturnType<typeof readPluginFolder>['manifest'];
  try {
    manifest = readPluginFolder(dir).manifest;
  } catch (error) {
    throw refuse(
      `not a valid icode plugin: ${(error as Error).message}`,
      'ask its author to fix plugin.json',
    );
  }
  if (!semver.satisfies(KERNEL_VERSION, manifest.engines.icode, { includePrerelease: true }))
    throw refuse(
      `needs icode ${manifest.engines.icode}, this is ${KERNEL_VERSION}`,
      `install a version of ${name} whose engines.icode includes ${KERNEL_VERSION} (npm view ${name} versions)`,
    );
  const asked = manifest.capabilities.filter((c) => !(opts.accepted ?? []).includes(c));
  if (asked.length && !opts.yes)
    throw refuse(
      `asks for ${asked.join(', ')} (beyond the permission gate, which its tools still go through)`,
      `review the plugin, then install again with --yes to accept`,
    );
  const lock = JSON.parse(readFileSync(join(prefix, 'package-lock.json'), 'utf8')) as {
    packages?: Record<string, { integrity?: string }>;
  };
  const integrity = lock.packages?.[`node_modules/${name}`]?.integrity;
  record(userDir, (list) => [
    ...list.filter((p) => p.name !== name),
    {
      name,
      version: manifest.version,
      spec,
      ...(integrity ? { integrity } : {}),
      capabilities: manifest.capabilities,
      installedAt: new Date().toISOString(),
    },
  ]);
  // An update keeps the plugin switched on or off where it was; an install switches it on in its scope.
  if (opts.scope) setEnabled(settingsFile(kernel, opts.scope), name, true);
  return `Installed ${name}@${manifest.version} into ${prefix}${opts.scope ? `; enabled in ${settingsFile(kernel, opts.scope)}` : ''}${manifest.capabilities.length ? ` (accepted: ${manifest.capabilities.join(', ')})` : ''}`;
}

/** `icode plugins install | uninstall | enable | disable | update | init`. */
export function pluginCommands(plugins: Command, cli: PluginsCli): void {
  const scoped = (c: Command) =>
    c.option('--scope <scope>', 'user (every project), project (shared) or local', 'user');
  const run = async (fn: () => Promise<string>): Promise<void> => {
    try {
      process.stdout.write(`${await fn()}\n`);
    } catch (error) {
      process.stderr.write(
        `icode: ${error instanceof IcodeError ? error.describe() : (error as Error).message}\n`,
      );
      cli.exit(2);
    }
  };
  scoped(plugins.command('install').argument('<spec>', 'npm spec (name, name@^1.2), a folder, or a git URL'))
    .description('install a plugin into ~/.icode/plugins and switch it on')
    .option('--yes', 'accept the capabilities the plugin asks for')
    .action((spec: string, opts: { scope: Scope; yes?: boolean }) =>
      run(async () => install(await cli.kernel(), spec, { ...opts, packageRoot: cli.packageRoot })),
    );
  plugins
    .command('uninstall')
    .argument('<name>')
    .description('remove an installed plugin')
    .action((name: string) =>
      run(async () => {
        const k = await cli.kernel();
        if (!readInstalled(k.config.userDir).some((p) => p.name === name))
          throw new Error(`${name} is not installed (see icode plugins list)`);
        npm(
          ['uninstall', name, '--no-audit', '--no-fund', '--legacy-peer-deps'],
          join(k.config.userDir, 'plugins'),
        );
        linkHost(join(k.config.userDir, 'plugins'), cli.packageRoot);
        record(k.config.userDir, (list) => list.filter((p) => p.name !== name));
        for (const scope of ['user', 'project', 'local'] as const) {
          const file = settingsFile(k, scope);
          if (existsSync(file) && readFileSync(file, 'utf8').includes(`"${name}"`))
            setEnabled(file, name, undefined);
        }
        rmSync(join(k.config.userDir, 'plugins', 'node_modules', name), { recursive: true, force: true });
        return `Uninstalled ${name}.`;
      }),
    );
  plugins
    .command('init')
    .argument('<name>', 'the package (and folder) name')
    .description('scaffold a publishable plugin package: manifest, one tool, one test, README')
    .action((name: string) =>
      run(async () => {
        const files = scaffoldPlugin(name);
        return `Created ${files.length} files in ${resolve(name)}:\n${files.map((f) => `  ${f}`).join('\n')}\nNext: cd ${name} && npm install && npm test`;
      }),
    );
  plugins
    .command('update')
    .argument('<name>')
    .description('update an installed plugin to the newest version its spec allows, checking it again')
    .option('--yes', 'accept the capabilities the new version asks for')
    .action((name: string, opts: { yes?: boolean }) =>
      run(async () => {
        const k = await cli.kernel();
        const current = readInstalled(k.config.userDir).find((p) => p.name === name);
        if (!current) throw new Error(`${name} is not installed (see icode plugins list)`);
        // Same checks as a first install; a refusal leaves it uninstalled with the reason (reinstall the old spec).
        // A new version that asks for more than was accepted needs --yes again.
        return install(k, current.spec, {
          accepted: current.capabilities,
          packageRoot: cli.packageRoot,
          ...(opts.yes ? { yes: true } : {}),
        });
      }),
    );
  for (const [verb, on] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    scoped(plugins.command(verb).argument('<name>'))
      .description(`${verb} a plugin in a scope (plugins.<name>.enabled)`)
      .action((name: string, opts: { scope: Scope }) =>
        run(async () => {
          const k = await cli.kernel();
          const file = settingsFile(k, opts.scope);
          setEnabled(file, name, on);
          return `${on ? 'Enabled' : 'Disabled'} ${name} in ${file}.`;
        }),
      );
  }
}
