import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { ErrorCodes, IcodeError, type InstalledPlugin, type Kernel, readInstalled } from '../kernel/index.ts';
import { editSettings } from '../sdk/settings.ts';
import { withPluginsLock } from './install/lock.ts';
import { linkHost, STAGE_PREFIX, stagePackage } from './install/stage.ts';
import { discardStage, recoverInterrupted, swapPlugin } from './install/swap.ts';
import { verifyStaged } from './install/verify.ts';
import { scaffoldPlugin } from './scaffold.ts';

type Scope = 'user' | 'project' | 'local';

interface PluginsCli {
  /** A kernel with config resolved (not booted): user dir, project root, settings files. */
  kernel(): Promise<Kernel>;
  /** This icode's package folder: installed plugins resolve `icode/sdk` (and zod) to it. */
  packageRoot: string;
  exit(code: number): void;
}

const NPM_NAME = /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;
const warn = (line: string) => process.stderr.write(`icode: ${line}\n`);

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

/** Asks on stderr, reads one line from stdin: yes or y accepts; anything else, or no input, declines. */
async function askOnStdin(question: string): Promise<boolean> {
  process.stderr.write(question);
  const lines = createInterface({ input: process.stdin, terminal: false });
  const answer = await new Promise<string | undefined>((done) => {
    lines.once('line', done);
    lines.once('close', () => done(undefined));
  });
  lines.close();
  if (answer === undefined) process.stderr.write('\n');
  return /^\s*y(es)?\s*$/i.test(answer ?? '');
}

/** Runs a change to the installed plugins holding the lock, after undoing any a crashed process left half done. */
const locked = <T>(userDir: string, fn: () => Promise<T>) =>
  withPluginsLock(
    userDir,
    async () => {
      for (const line of recoverInterrupted(userDir)) warn(line);
      return fn();
    },
    { onWait: (holder) => warn(`waiting for another icode plugins command to finish (${holder})`) },
  );

/**
 * Installs (or updates) a plugin package as one transaction: npm installs it into a staging folder next to
 * `~/.icode/plugins` (never the project's node_modules; npm's own registry config applies); it is checked
 * there (manifest, engines.icode, SDK peers, its files, the capabilities the user accepts, a dry load); only
 * then is it swapped in with its record (and switched on). A refusal or a failure leaves what was
 * installed before as it was, and says why.
 */
async function install(
  kernel: Kernel,
  spec: string,
  opts: { scope?: Scope; yes?: boolean; packageRoot: string; updating?: InstalledPlugin },
): Promise<string> {
  const userDir = kernel.config.userDir;
  const prefix = join(userDir, 'plugins');
  return locked(userDir, async () => {
    const staged = stagePackage(spec, userDir, opts.packageRoot);
    try {
      const { name } = staged;
      if (opts.updating && opts.updating.name !== name)
        throw new IcodeError(
          ErrorCodes.INSTALL_REFUSED,
          `${opts.updating.name}: its spec ${spec} now installs package ${name}`,
          `uninstall ${opts.updating.name} and install ${name} if that is intended`,
        );
      const list = readInstalled(userDir);
      const previous = list.find((p) => p.name === name);
      const manifest = await verifyStaged(staged, {
        ...(previous ? { previous } : {}),
        ...(opts.yes ? { yes: true } : {}),
        consent: askOnStdin,
        packageRoot: opts.packageRoot,
        again: opts.updating ? `icode plugins update ${name}` : `icode plugins install ${spec}`,
      });
      linkHost(prefix, opts.packageRoot);
      const record: InstalledPlugin = {
        name,
        version: manifest.version,
        spec: staged.spec,
        ...(staged.integrity ? { integrity: staged.integrity } : {}),
        capabilities: manifest.capabilities,
        installedAt: new Date().toISOString(),
      };
      // An update keeps the plugin switched on or off where it was; an install switches it on in its scope.
      const file = opts.scope ? settingsFile(kernel, opts.scope) : undefined;
      swapPlugin({
        userDir,
        root: staged.root,
        name,
        incoming: staged.folder,
        installed: previous ? list.map((p) => (p.name === name ? record : p)) : [...list, record],
        ...(file ? { settings: { file, edit: () => setEnabled(file, name, true) } } : {}),
      });
      const accepted = manifest.capabilities.length ? ` (accepted: ${manifest.capabilities.join(', ')})` : '';
      if (opts.updating)
        return `Updated ${name} from ${opts.updating.version} to ${manifest.version}${accepted}`;
      return `Installed ${name}@${manifest.version}${previous ? ` (was ${previous.version})` : ''} into ${prefix}${file ? `; enabled in ${file}` : ''}${accepted}`;
    } finally {
      discardStage(staged.root);
    }
  });
}

/** Removes an installed plugin's folder and its record together (or neither), then its settings switches. */
async function uninstall(kernel: Kernel, name: string): Promise<string> {
  const userDir = kernel.config.userDir;
  return locked(userDir, async () => {
    const list = readInstalled(userDir);
    const folder = join(userDir, 'plugins', 'node_modules', name);
    if (!NPM_NAME.test(name) || (!list.some((p) => p.name === name) && !existsSync(folder)))
      throw new Error(`${name} is not installed (see icode plugins list)`);
    const root = mkdtempSync(join(userDir, STAGE_PREFIX));
    try {
      swapPlugin({ userDir, root, name, installed: list.filter((p) => p.name !== name) });
    } finally {
      discardStage(root);
    }
    // Switches left for a plugin that is not installed do nothing (only installed ones are listed).
    for (const scope of ['user', 'project', 'local'] as const) {
      const file = settingsFile(kernel, scope);
      try {
        if (existsSync(file) && readFileSync(file, 'utf8').includes(`"${name}"`))
          setEnabled(file, name, undefined);
      } catch (error) {
        warn(`could not remove plugins.${name}.enabled from ${file}: ${(error as Error).message}`);
      }
    }
    return `Uninstalled ${name}.`;
  });
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
    .action((name: string) => run(async () => uninstall(await cli.kernel(), name)));
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
        // Same checks as a first install; a new version that asks for more than was accepted needs consent again.
        return install(k, current.spec, {
          updating: current,
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
