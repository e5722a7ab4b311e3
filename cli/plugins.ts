import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { parse } from 'jsonc-parser';
import { ErrorCodes, IcodeError, type InstalledPlugin, type Kernel, readInstalled } from '../kernel/index.ts';
import {
  claudePluginId,
  isClaudePlugin,
  printable,
  readClaudePlugins,
  readMarketplaces,
} from '../sdk/claude-plugins.ts';
import { editSettings } from '../sdk/settings.ts';
import {
  addMarketplace,
  installClaudePlugin,
  isGitSpec,
  isMarketplace,
  probeGit,
  removeMarketplace,
  uninstallClaudePlugin,
} from './install/claude.ts';
import { withPluginsLock } from './install/lock.ts';
import {
  editProjectLock,
  type LockedPlugin,
  lockApprovals,
  lockFingerprint,
  lockSpec,
  projectLockFile,
  readProjectLock,
} from './install/project-lock.ts';
import { linkHost, STAGE_PREFIX, type Staged, stagePackage } from './install/stage.ts';
import { discardStage, recoverInterrupted, swapPlugin } from './install/swap.ts';
import { syncProject } from './install/sync.ts';
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
const warn = (line: string) => process.stderr.write(`icode: ${shown(line)}\n`);

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

/**
 * Text for the terminal: what plugins, manifests and marketplaces wrote (names, versions, commands) may
 * hold escape codes that would rewrite what the user sees; all but line breaks and tabs are shown escaped.
 */
const shown = (text: string) =>
  text
    .split('\n')
    .map((line) => line.split('\t').map(printable).join('\t'))
    .join('\n');

/** Asks on stderr, reads one line from stdin: yes or y accepts; anything else, or no input, declines. */
async function askOnStdin(question: string): Promise<boolean> {
  process.stderr.write(shown(question));
  const lines = createInterface({ input: process.stdin, terminal: false });
  const answer = await new Promise<string | undefined>((done) => {
    lines.once('line', done);
    lines.once('close', () => done(undefined));
  });
  lines.close();
  if (answer === undefined) process.stderr.write('\n');
  return /^\s*y(es)?\s*$/i.test(answer ?? '');
}

/**
 * The edit of the project's plugins lock that the user's own `install|uninstall --scope project` makes (one
 * step of its swap). A lock they had approved (or none) is approved as edited, since the change is theirs;
 * one they had not stays unapproved. Call `approve` once the swap has committed.
 */
function projectLockEdit(kernel: Kernel, name: string, entry: LockedPlugin | undefined) {
  const { userDir, projectRoot } = kernel.config;
  const approvals = lockApprovals(userDir);
  const before = readProjectLock(projectRoot);
  const trusted = !before || approvals.approved(projectRoot, lockFingerprint(before.text));
  let text: string | undefined;
  return {
    file: projectLockFile(projectRoot),
    edit: () => {
      text = editProjectLock(projectRoot, name, entry);
    },
    approve: () => {
      if (trusted && text !== undefined) approvals.approve(projectRoot, lockFingerprint(text));
    },
  };
}

/** Refuses a staged package that is not the one the project's lock names (its name, integrity, version). */
function checkPinned(staged: Staged, pinned: LockedPlugin & { name: string }): void {
  const refuse = (what: string) =>
    new IcodeError(
      ErrorCodes.INSTALL_REFUSED,
      `${staged.name}: ${what}`,
      `if the lock is right, the package changed since it was locked: ask whoever locked it; otherwise install it again with icode plugins install SPEC --scope project`,
    );
  if (staged.name !== pinned.name)
    throw refuse(`the project's lock names it ${pinned.name}, but its spec installs this package`);
  if (pinned.integrity && staged.integrity !== pinned.integrity)
    throw refuse(
      `its integrity is ${staged.integrity ?? 'unknown'}, the project's lock says ${pinned.integrity}`,
    );
  const { version } = JSON.parse(readFileSync(join(staged.folder, 'package.json'), 'utf8')) as {
    version?: string;
  };
  if (version !== pinned.version)
    throw refuse(`npm installed version ${version}, the project's lock says ${pinned.version}`);
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
  opts: {
    scope?: Scope;
    yes?: boolean;
    packageRoot: string;
    updating?: InstalledPlugin;
    /** `icode plugins sync`: the project's lock entry this must match (its capabilities count as accepted). */
    pinned?: LockedPlugin & { name: string };
  },
): Promise<string> {
  const userDir = kernel.config.userDir;
  const prefix = join(userDir, 'plugins');
  // What the project's lock will say was asked for; a path outside the project is refused before npm runs.
  const recorded =
    opts.scope === 'project' && !opts.pinned && !opts.updating
      ? lockSpec(spec, process.cwd(), kernel.config.projectRoot)
      : undefined;
  return locked(userDir, async () => {
    const staged = stagePackage(spec, userDir, opts.packageRoot);
    try {
      const { name } = staged;
      if (opts.pinned) checkPinned(staged, opts.pinned);
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
        ...(opts.pinned ? { accepted: opts.pinned.capabilities } : {}),
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
      const lock =
        recorded !== undefined
          ? projectLockEdit(kernel, name, {
              version: manifest.version,
              spec: recorded,
              ...(staged.integrity ? { integrity: staged.integrity } : {}),
              capabilities: manifest.capabilities,
            })
          : undefined;
      swapPlugin({
        userDir,
        root: staged.root,
        name,
        incoming: staged.folder,
        installed: previous ? list.map((p) => (p.name === name ? record : p)) : [...list, record],
        edits: [
          ...(file ? [{ file, edit: () => setEnabled(file, name, true) }] : []),
          ...(lock ? [lock] : []),
        ],
      });
      lock?.approve();
      const accepted = manifest.capabilities.length ? ` (accepted: ${manifest.capabilities.join(', ')})` : '';
      if (opts.updating)
        return opts.updating.version === manifest.version
          ? `${name} is up to date: ${manifest.version} is the newest version ${spec} allows`
          : `Updated ${name} from ${opts.updating.version} to ${manifest.version}${accepted}`;
      return `Installed ${name}@${manifest.version}${previous ? ` (was ${previous.version})` : ''} into ${prefix}${file ? `; enabled in ${file}` : ''}${lock ? `; locked in ${lock.file}` : ''}${accepted}`;
    } finally {
      discardStage(staged.root);
    }
  });
}

/**
 * `icode plugins install SPEC`: a Claude Code plugin (a folder or git repository with
 * `.claude-plugin/plugin.json`, or `name@marketplace`) installs as one; anything else is an icode plugin
 * package, installed with npm.
 */
async function installAny(
  kernel: Kernel,
  spec: string,
  opts: { scope: Scope; yes?: boolean; packageRoot: string },
): Promise<string> {
  const { userDir } = kernel.config;
  const claude = (cloned?: string) =>
    installClaudePlugin(spec, {
      userDir,
      settingsFile: settingsFile(kernel, opts.scope),
      projectScope: opts.scope === 'project' || opts.scope === 'local',
      consent: askOnStdin,
      ...(opts.yes ? { yes: true } : {}),
      ...(cloned ? { cloned } : {}),
    });
  const market = /^[a-z0-9][a-z0-9._-]*@([a-z0-9][a-z0-9._-]*)$/.exec(spec)?.[1];
  if (market && readMarketplaces(userDir).some((m) => m.name === market))
    return locked(userDir, () => claude());
  const local = resolve(spec.replace(/^file:/, ''));
  if (existsSync(local)) {
    if (isClaudePlugin(local)) return locked(userDir, () => claude());
    if (isMarketplace(local) && !existsSync(join(local, 'plugin.json')))
      throw new Error(
        `${spec} is a Claude Code marketplace, not a plugin: icode plugins marketplace add ${spec}, then icode plugins install NAME@MARKETPLACE`,
      );
  } else if (isGitSpec(spec)) {
    // One clone tells which kind it is; a Claude Code plugin is installed from it under the same lock.
    const done = await locked(userDir, async () => {
      const probed = probeGit(spec, userDir);
      if (!probed) return undefined;
      try {
        return await claude(probed.folder);
      } finally {
        probed.discard();
      }
    });
    if (done !== undefined) return done;
  }
  return install(kernel, spec, opts);
}

/**
 * Removes an installed plugin's folder and its record together (or neither), with `--scope project` its
 * entry in the project's lock too, then its settings switches. A plugin only the lock names is removed
 * from the lock.
 */
async function uninstall(kernel: Kernel, name: string, scope: Scope): Promise<string> {
  const userDir = kernel.config.userDir;
  return locked(userDir, async () => {
    const claude = uninstallClaudePlugin(name, {
      userDir,
      settingsFiles: (['user', 'project', 'local'] as const).map((s) => settingsFile(kernel, s)),
    });
    if (claude) return claude;
    const list = readInstalled(userDir);
    const folder = join(userDir, 'plugins', 'node_modules', name);
    const isInstalled = NPM_NAME.test(name) && (list.some((p) => p.name === name) || existsSync(folder));
    const lock =
      scope === 'project' && readProjectLock(kernel.config.projectRoot)?.lock.plugins[name]
        ? projectLockEdit(kernel, name, undefined)
        : undefined;
    if (!isInstalled && !lock) throw new Error(`${name} is not installed (see icode plugins list)`);
    if (!isInstalled && lock) {
      lock.edit();
      lock.approve();
      return `${name} is not installed; removed it from ${lock.file}.`;
    }
    const root = mkdtempSync(join(userDir, STAGE_PREFIX));
    try {
      swapPlugin({
        userDir,
        root,
        name,
        installed: list.filter((p) => p.name !== name),
        ...(lock ? { edits: [lock] } : {}),
      });
    } finally {
      discardStage(root);
    }
    lock?.approve();
    // Switches left for a plugin that is not installed do nothing (only installed ones are listed).
    for (const scope of ['user', 'project', 'local'] as const) {
      const file = settingsFile(kernel, scope);
      try {
        if (existsSync(file) && readFileSync(file, 'utf8').includes(`"${name}"`)) {
          setEnabled(file, name, undefined);
          // An entry left empty would only warn on every run that no such plugin is there.
          const left = (
            parse(readFileSync(file, 'utf8')) as { plugins?: Record<string, unknown> } | undefined
          )?.plugins?.[name];
          if (left && typeof left === 'object' && !Object.keys(left).length)
            editSettings(file, ['plugins', name], undefined);
        }
      } catch (error) {
        warn(`could not remove plugins.${name}.enabled from ${file}: ${(error as Error).message}`);
      }
    }
    return `Uninstalled ${name}${lock ? `; removed it from ${lock.file}` : ''}.`;
  });
}

/** `icode plugins install | uninstall | enable | disable | update | init | approve | sync`. */
export function pluginCommands(plugins: Command, cli: PluginsCli): void {
  const scoped = (c: Command) =>
    c.option('--scope <scope>', 'user (every project), project (shared) or local', 'user');
  const run = async (fn: () => Promise<string>): Promise<void> => {
    try {
      process.stdout.write(`${shown(await fn())}\n`);
    } catch (error) {
      process.stderr.write(
        `icode: ${shown(error instanceof IcodeError ? error.describe() : (error as Error).message)}\n`,
      );
      cli.exit(2);
    }
  };
  scoped(
    plugins
      .command('install')
      .argument(
        '<spec>',
        'npm spec (name, name@^1.2), a folder, a git URL, or a Claude Code plugin name@marketplace',
      ),
  )
    .description('install a plugin into ~/.icode/plugins and switch it on')
    .option('--yes', 'accept the capabilities the plugin asks for')
    .action((spec: string, opts: { scope: Scope; yes?: boolean }) =>
      run(async () => installAny(await cli.kernel(), spec, { ...opts, packageRoot: cli.packageRoot })),
    );
  scoped(plugins.command('uninstall').argument('<name>'))
    .description("remove an installed plugin (with --scope project, from the project's plugins lock too)")
    .action((name: string, opts: { scope: Scope }) =>
      run(async () => uninstall(await cli.kernel(), name, opts.scope)),
    );
  const marketplace = plugins.command('marketplace').description('catalogs of Claude Code plugins');
  marketplace
    .command('add')
    .argument('<source>', 'a folder or git URL holding .claude-plugin/marketplace.json')
    .description('add a marketplace; then icode plugins install NAME@MARKETPLACE')
    .action((source: string) =>
      run(async () => {
        const { userDir } = (await cli.kernel()).config;
        return locked(userDir, async () => addMarketplace(source, userDir));
      }),
    );
  marketplace
    .command('remove')
    .argument('<name>')
    .description('forget a marketplace; plugins installed from it stay')
    .action((name: string) =>
      run(async () => {
        const { userDir } = (await cli.kernel()).config;
        return locked(userDir, async () => removeMarketplace(name, userDir));
      }),
    );
  marketplace
    .command('list')
    .description('the marketplaces added')
    .action(() =>
      run(async () => {
        const list = readMarketplaces((await cli.kernel()).config.userDir);
        return list.length
          ? list.map((m) => `${m.name}\t${m.source}`).join('\n')
          : 'No marketplaces (icode plugins marketplace add PATH|GIT).';
      }),
    );
  plugins
    .command('approve')
    .description("trust this project's plugins lock (.icode/plugins.lock.json) as it is now")
    .action(() =>
      run(async () => {
        const { userDir, projectRoot } = (await cli.kernel()).config;
        const found = readProjectLock(projectRoot);
        if (!found) return `This project locks no plugins (no ${projectLockFile(projectRoot)}).`;
        lockApprovals(userDir).approve(projectRoot, lockFingerprint(found.text));
        const listed = Object.entries(found.lock.plugins)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(
            ([name, p]) =>
              `  ${name}@${p.version} from ${p.spec}${p.capabilities.length ? ` (${p.capabilities.join(', ')})` : ''}`,
          );
        return `Approved for ${projectRoot}:\n${listed.join('\n')}\nInstall them with icode plugins sync. Editing the lock asks again.`;
      }),
    );
  plugins
    .command('sync')
    .description(
      "install exactly the plugins this project's lock names, once approved (icode plugins approve)",
    )
    .option('--yes', 'accept capabilities a plugin asks for beyond those its lock lists')
    .action((opts: { yes?: boolean }) =>
      run(async () => {
        const k = await cli.kernel();
        const { done, failed } = await syncProject({
          userDir: k.config.userDir,
          projectRoot: k.config.projectRoot,
          installed: () => readInstalled(k.config.userDir),
          install: (spec, name, entry) =>
            install(k, spec, {
              scope: 'project',
              pinned: { ...entry, name },
              packageRoot: cli.packageRoot,
              ...(opts.yes ? { yes: true } : {}),
            }),
          enable: (name) => {
            const file = settingsFile(k, 'project');
            setEnabled(file, name, true);
            return file;
          },
        });
        for (const { why } of failed) warn(why);
        if (!failed.length) return done.join('\n');
        cli.exit(1);
        const total = done.length + failed.length;
        return [
          ...done,
          `${failed.length} of ${total} locked plugins not installed: ${failed.map((f) => f.name).join(', ')}`,
        ].join('\n');
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
          // A Claude Code plugin is switched in enabledPlugins, by its id, as Claude Code does.
          const claude = readClaudePlugins(k.config.userDir).find(
            (p) => p.name === name || claudePluginId(p) === name,
          );
          if (claude) editSettings(file, ['enabledPlugins', claudePluginId(claude)], on);
          else setEnabled(file, name, on);
          return `${on ? 'Enabled' : 'Disabled'} ${claude ? claudePluginId(claude) : name} in ${file}.`;
        }),
      );
  }
}
