import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import * as z from 'zod';
import { ErrorCodes, IcodeError, isInside } from '../../kernel/index.ts';
import {
  type ClaudeMarketplace,
  type ClaudePluginRecord,
  changedFiles,
  claudePluginFolder,
  claudePluginId,
  claudePluginParts,
  claudePluginsFile,
  commandsRun,
  isClaudePlugin,
  loadPluginJson,
  type PluginHook,
  pluginFiles,
  printable,
  readClaudeManifest,
  readClaudePlugins,
  readMarketplaces,
  unacceptedRuns,
  writeClaudePlugins,
  writeMarketplaces,
} from '../../sdk/claude-plugins.ts';
import { hostGit } from '../../sdk/process.ts';
import { editSettings } from '../../sdk/settings.ts';
import { STAGE_PREFIX } from './stage.ts';
import { discardStage, swapPlugin } from './swap.ts';
import type { Consent } from './verify.ts';

/** A git URL as npm and Claude Code take them: `git+https://…`, `git+file://…`, `git@host:…`, `….git`. */
export const isGitSpec = (spec: string) =>
  /^git\+|^git:\/\/|^ssh:\/\/|^git@|\.git$/.test(spec) && !existsSync(resolve(spec));

const git = (args: string[], cwd: string) => {
  const [file, argv] = hostGit(args);
  try {
    execFileSync(file, argv, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
    });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new IcodeError(
      ErrorCodes.INSTALL_REFUSED,
      `git ${args[0]} failed: ${stderr.split('\n').slice(-4).join('\n') || (error as Error).message}`,
      'check the URL and that you can clone it with git; nothing was changed',
    );
  }
};

/** Clones a git URL (`git+` dropped; `#ref` checked out) into `into`, without its history. */
export function cloneInto(spec: string, into: string): void {
  const [url, ref] = spec.replace(/^git\+/, '').split('#') as [string, string | undefined];
  git(
    ['clone', '--quiet', '--depth', '1', ...(ref ? ['--branch', ref] : []), '--', url, into],
    process.cwd(),
  );
}

/** A fresh staging folder next to the installed plugins (same file system: the swap is a rename). */
export const stagingFolder = (userDir: string) => {
  mkdirSync(userDir, { recursive: true });
  return mkdtempSync(join(userDir, STAGE_PREFIX));
};

/**
 * Copies a plugin folder into the staging folder as real files and folders, without `.git`: the installed
 * copy is a copy, whatever links the source holds. The source is taken at its real path (a spec that is a
 * symbolic link to a folder copies the folder). A symbolic link inside the plugin is copied as what it
 * points to; one that points outside the plugin (or nowhere), a loop, or a special file is refused, naming
 * it, so that nothing of the installed plugin can later reach another file (a command `leak.md` linked to
 * a secret, a `hooks` folder linked to one created after the install).
 */
function copyPlugin(from: string, root: string, shownAs = from): string {
  const refuse = (what: string) =>
    new IcodeError(
      ErrorCodes.INSTALL_REFUSED,
      `${printable(shownAs)}: ${printable(what)}`,
      'nothing was installed; a plugin installs only files and folders inside it: replace the link with the file, or remove it',
    );
  let real: string;
  try {
    real = realpathSync(from);
  } catch {
    throw refuse('it does not exist');
  }
  if (!statSync(real).isDirectory()) throw refuse('it is not a folder');
  const folder = join(root, 'plugin');
  const copy = (src: string, dest: string, rel: string, ancestors: string[]) => {
    mkdirSync(dest);
    for (const entry of readdirSync(src, { withFileTypes: true })) {
      if (entry.name === '.git') continue;
      const at = rel ? `${rel}/${entry.name}` : entry.name;
      let target = join(src, entry.name);
      if (entry.isSymbolicLink()) {
        const link = readlinkSync(target);
        try {
          target = realpathSync(target);
        } catch {
          throw refuse(`${at} is a symbolic link to ${link}, which does not exist`);
        }
        if (!isInside(target, real))
          throw refuse(`${at} is a symbolic link to ${target}, outside the plugin`);
      }
      const kind = statSync(target);
      if (kind.isDirectory()) {
        if (ancestors.includes(target))
          throw refuse(`${at} is a symbolic link to a folder that holds it (a loop)`);
        copy(target, join(dest, entry.name), at, [...ancestors, target]);
      } else if (kind.isFile()) {
        copyFileSync(target, join(dest, entry.name));
        chmodSync(join(dest, entry.name), kind.mode & 0o777);
      } else throw refuse(`${at} is not a file or a folder (a FIFO, socket or device)`);
    }
  };
  copy(real, folder, '', [real]);
  return folder;
}

const marketplaceFile = (root: string) => join(root, '.claude-plugin', 'marketplace.json');
export const isMarketplace = (root: string) => existsSync(marketplaceFile(root));

const Source = z.union([
  z.string(),
  z.looseObject({ source: z.literal('github'), repo: z.string(), ref: z.string().optional() }),
  z.looseObject({ source: z.enum(['url', 'git']), url: z.string(), ref: z.string().optional() }),
]);
/** `.claude-plugin/marketplace.json`: a named catalog of plugins, each with where to get it. */
const MarketplaceSchema = z.looseObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'a marketplace name is kebab-case'),
  metadata: z.looseObject({ pluginRoot: z.string().optional() }).optional(),
  plugins: z.array(z.looseObject({ name: z.string(), source: Source })),
});

const readMarketplace = (root: string) => loadPluginJson(marketplaceFile(root), MarketplaceSchema);

export interface ClaudeInstallOptions {
  userDir: string;
  /** The settings file of the scope it is switched on in. */
  settingsFile: string;
  /** Switched on by the project's own settings (shared or local): its hooks and MCP servers then wait for the project's approval. */
  projectScope: boolean;
  yes?: boolean;
  consent: Consent;
  /** A clone of the git URL `spec` made already (to see what kind of plugin it is): copied, not cloned again. */
  cloned?: string;
}

/**
 * Installs a Claude Code plugin from a folder, a git URL or `name@marketplace`, as one transaction: it is
 * copied (or cloned) into a staging folder and checked there (`.claude-plugin/plugin.json`, hooks.json,
 * .mcp.json, each error at its line); what it runs (hook commands, MCP servers) is accepted by the user
 * (or `--yes`); then it is swapped into `~/.icode/plugins/claude/<name>` with its record and switched on
 * (`enabledPlugins`) in the scope's settings. A refusal or failure leaves what was there before.
 */
export async function installClaudePlugin(spec: string, o: ClaudeInstallOptions): Promise<string> {
  const root = stagingFolder(o.userDir);
  try {
    const { folder, marketplace, origin, listedAs } = o.cloned
      ? {
          folder: copyPlugin(o.cloned, root, spec),
          marketplace: undefined,
          origin: spec,
          listedAs: undefined,
        }
      : fetchPlugin(spec, root, o.userDir);
    // Checked in the staged copy; a mistake is shown in the folder (or repository) it came from.
    const { manifest, parts } = shownAt(folder, origin, () => {
      const manifest = readClaudeManifest(folder);
      return { manifest, parts: claudePluginParts(folder, manifest, '${CLAUDE_PLUGIN_ROOT}') };
    });
    const { name } = manifest;
    // A catalog entry is installed under its manifest's name: one that says another could replace it.
    if (listedAs !== undefined && listedAs !== name)
      throw new IcodeError(
        ErrorCodes.INSTALL_REFUSED,
        `marketplace ${marketplace} lists "${listedAs}", but its plugin.json names it "${name}"`,
        'nothing was installed; ask the marketplace owner to make the names agree',
      );
    const list = readClaudePlugins(o.userDir);
    const previous = list.find((p) => p.name === name);
    const recordedSpec = o.cloned ? spec : (localSpec(spec) ?? spec);
    const from = { spec: recordedSpec, ...(marketplace ? { marketplace } : {}) };
    // An update comes from where the plugin came from; another source with the same name is another plugin.
    if (previous && sourceOf(previous) !== sourceOf(from))
      throw new IcodeError(
        ErrorCodes.INSTALL_REFUSED,
        `${name} is installed already from ${printable(describeSource(previous))}; ${printable(describeSource(from))} is another source`,
        `nothing was changed; to replace it, uninstall it first (icode plugins uninstall ${name}), then install this one`,
      );
    const runs = commandsRun(parts);
    const files = pluginFiles(folder);
    const servers = Object.keys(runs.mcpServers);
    // Consent covers each hook and server entry whole, and the files they run: an update that changes
    // any of them asks again.
    const not = unacceptedRuns(runs, previous?.accepted);
    const changed =
      previous && (runs.hooks.length || servers.length) ? changedFiles(previous.files ?? {}, files) : [];
    const unaccepted = [
      ...not.hooks.map(describeHook),
      ...not.mcpServers.map((m) => `MCP server: ${m} ${JSON.stringify(runs.mcpServers[m])}`),
      ...(changed.length
        ? [
            `files changed since you accepted it: ${changed.slice(0, 10).join(', ')}${changed.length > 10 ? `, and ${changed.length - 10} more` : ''}`,
          ]
        : []),
    ];
    if (unaccepted.length && !o.yes) {
      const what = printable(
        `runs commands on this machine outside the permission gate (${unaccepted.join('; ')})`,
      );
      if (!(await o.consent(`${name} (Claude Code plugin): ${what}. Accept? [y/N] `)))
        throw new IcodeError(
          ErrorCodes.INSTALL_REFUSED,
          `${name}: ${what}`,
          `review the plugin, then run icode plugins install ${spec} --yes to accept`,
        );
    }
    const record: ClaudePluginRecord = {
      name,
      ...(manifest.version ? { version: manifest.version } : {}),
      ...from,
      accepted: runs,
      files,
      installedAt: new Date().toISOString(),
    };
    const id = claudePluginId(record);
    swapPlugin({
      userDir: o.userDir,
      root,
      name,
      incoming: folder,
      target: claudePluginFolder(o.userDir, name),
      edits: [
        {
          file: claudePluginsFile(o.userDir),
          edit: () => writeClaudePlugins(o.userDir, [...list.filter((p) => p.name !== name), record]),
        },
        { file: o.settingsFile, edit: () => editSettings(o.settingsFile, ['enabledPlugins', id], true) },
      ],
    });
    const counts = [
      [parts.commands.length && 'commands', parts.agents.length && 'agents', parts.skills.length && 'skills']
        .filter(Boolean)
        .join(', '),
      runs.hooks.length ? `${runs.hooks.length} hooks` : '',
      servers.length ? `MCP servers ${servers.join(', ')}` : '',
    ].filter(Boolean);
    const approve =
      o.projectScope && (runs.hooks.length || servers.length)
        ? `\nIts hooks and MCP servers run in this project once approved: icode hooks approve, icode mcp approve.`
        : '';
    return `Installed Claude Code plugin ${name}${manifest.version ? `@${manifest.version}` : ''}${previous ? ` (was ${previous.version ?? 'installed'})` : ''}${counts.length ? ` (${counts.join('; ')})` : ''}; enabled as ${id} in ${o.settingsFile}${approve}`;
  } finally {
    discardStage(root);
  }
}

/** A folder spec as recorded: its real path (symbolic links resolved); undefined when it is not a folder. */
function localSpec(spec: string): string | undefined {
  try {
    return realpathSync(resolve(spec.replace(/^file:/, '')));
  } catch {
    return undefined;
  }
}

/** Where a plugin comes from, to tell an update from another plugin of the same name: a git URL's ref aside. */
const sourceOf = (r: { spec: string; marketplace?: string }) =>
  r.marketplace ? `marketplace ${r.marketplace}` : isGitSpec(r.spec) ? r.spec.replace(/#.*$/, '') : r.spec;
const describeSource = (r: { spec: string; marketplace?: string }) =>
  r.marketplace ? `marketplace ${r.marketplace} (${r.spec})` : r.spec;

/** A hook as the consent question shows it: its command, then its event, matcher and other keys. */
function describeHook(h: PluginHook): string {
  const { command, ...rest } = h.hook;
  return `hook: ${String(command)} (${h.event}${h.matcher ? `, matcher ${JSON.stringify(h.matcher)}` : ''}${Object.keys(rest).length ? `, ${JSON.stringify(rest)}` : ''})`;
}

/** Runs `check`, showing the staged `folder` in its errors as `origin`, where the user can find the file. */
function shownAt<T>(folder: string, origin: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof IcodeError)) throw error;
    const shown = (text: string) => text.replaceAll(folder, origin);
    throw new IcodeError(
      error.code,
      shown(error.message),
      error.fix === undefined ? undefined : shown(error.fix),
      error.location ? { ...error.location, file: shown(error.location.file) } : undefined,
    );
  }
}

/**
 * The plugin folder a spec names, copied or cloned into the staging folder; its marketplace if any; and
 * where it came from, for messages.
 */
function fetchPlugin(
  spec: string,
  root: string,
  userDir: string,
): { folder: string; marketplace?: string; origin: string; listedAs?: string } {
  const at = /^([a-z0-9][a-z0-9._-]*)@([a-z0-9][a-z0-9._-]*)$/.exec(spec);
  const market = at ? readMarketplaces(userDir).find((m) => m.name === at[2]) : undefined;
  if (at && market)
    return { ...fromMarketplace(market, at[1]!, root), marketplace: market.name, listedAs: at[1]! };
  if (isGitSpec(spec)) {
    const clone = join(root, 'clone');
    cloneInto(spec, clone);
    return { folder: copyPlugin(clone, root, spec), origin: spec };
  }
  const local = resolve(spec.replace(/^file:/, ''));
  if (!existsSync(local) || !statSync(local).isDirectory())
    throw new IcodeError(
      ErrorCodes.INSTALL_REFUSED,
      `${spec} is not a folder, a git URL, or a plugin of a known marketplace`,
      `give a plugin folder or git URL, or add its marketplace first: icode plugins marketplace add PATH|GIT`,
    );
  return { folder: copyPlugin(local, root), origin: local };
}

/**
 * Clones a git URL to see whether it holds a Claude Code plugin. Returns the clone and a way to remove it,
 * or undefined (removed already) when it is not one, so npm installs it as an icode plugin.
 */
export function probeGit(spec: string, userDir: string): { folder: string; discard(): void } | undefined {
  const root = stagingFolder(userDir);
  const discard = () => rmSync(root, { recursive: true, force: true });
  try {
    const folder = join(root, 'clone');
    cloneInto(spec, folder);
    if (isClaudePlugin(folder)) return { folder, discard };
  } catch (error) {
    discard();
    throw error;
  }
  discard();
  return undefined;
}

/** A marketplace's plugin by name, fetched into the staging folder: a folder of the marketplace, or a repository. */
function fromMarketplace(
  market: ClaudeMarketplace,
  name: string,
  root: string,
): { folder: string; origin: string } {
  const catalog = readMarketplace(market.root);
  const entry = catalog.plugins.find((p) => p.name === name);
  if (!entry)
    throw new IcodeError(
      ErrorCodes.INSTALL_REFUSED,
      `marketplace ${market.name} has no plugin "${name}"`,
      `it lists: ${catalog.plugins.map((p) => p.name).join(', ') || 'nothing'}`,
    );
  const { source } = entry;
  if (typeof source === 'string') {
    const base = resolve(market.root, catalog.metadata?.pluginRoot ?? '.');
    const given = resolve(source.startsWith('./') || source.startsWith('../') ? market.root : base, source);
    // Checked at its real path: a source that is a symbolic link out of the marketplace is outside it.
    let folder: string;
    try {
      folder = realpathSync(given);
    } catch {
      throw new IcodeError(
        ErrorCodes.INSTALL_REFUSED,
        `${marketplaceFile(market.root)}: plugin "${name}" has source ${printable(source)}, which does not exist (${given})`,
        'update the marketplace (icode plugins marketplace add again), or ask its owner to fix the source',
      );
    }
    if (!isInside(folder, realpathSync(market.root)))
      throw new IcodeError(
        ErrorCodes.INSTALL_REFUSED,
        `${marketplaceFile(market.root)}: plugin "${name}" has source ${printable(source)}, outside the marketplace${folder !== given ? ` (it leads to ${folder})` : ''}`,
        'ask its owner to fix the source',
      );
    return { folder: copyPlugin(folder, root, given), origin: given };
  }
  const url = source.source === 'github' ? `https://github.com/${source.repo}.git` : source.url;
  const clone = join(root, 'clone');
  cloneInto(source.ref ? `${url}#${source.ref}` : url, clone);
  return { folder: copyPlugin(clone, root, url), origin: url };
}

/**
 * `icode plugins marketplace add PATH|GIT`: records a catalog of Claude Code plugins by the name its
 * marketplace.json gives. A folder is read where it is; a git URL is cloned under
 * `~/.icode/plugins/marketplaces/<name>`.
 */
export function addMarketplace(source: string, userDir: string): string {
  let root: string;
  let staged: string | undefined;
  if (isGitSpec(source)) {
    staged = stagingFolder(userDir);
    root = join(staged, 'clone');
    cloneInto(source, root);
  } else root = resolve(source);
  try {
    if (!isMarketplace(root))
      throw new IcodeError(
        ErrorCodes.INSTALL_REFUSED,
        `${source} is not a marketplace: it has no .claude-plugin/marketplace.json`,
        'give the folder or repository that holds .claude-plugin/marketplace.json',
      );
    const catalog = readMarketplace(root);
    // A name taken by a marketplace from elsewhere is not replaced: its plugins are installed as name@it.
    const taken = readMarketplaces(userDir).find((m) => m.name === catalog.name);
    if (taken && taken.source !== source && resolve(taken.source) !== resolve(source))
      throw new IcodeError(
        ErrorCodes.INSTALL_REFUSED,
        `a marketplace named ${catalog.name} is added already, from ${taken.source}`,
        `nothing was changed; to replace it, remove it first: icode plugins marketplace remove ${catalog.name}`,
      );
    if (staged) {
      // Adding the same one again refreshes its clone: the new one is renamed in, then the old removed.
      const into = join(userDir, 'plugins', 'marketplaces', catalog.name);
      mkdirSync(join(userDir, 'plugins', 'marketplaces'), { recursive: true });
      const aside = join(staged, 'previous');
      if (existsSync(into)) renameSync(into, aside);
      try {
        renameSync(root, into);
      } catch (error) {
        if (existsSync(aside)) renameSync(aside, into);
        throw error;
      }
      root = into;
    }
    const others = readMarketplaces(userDir).filter((m) => m.name !== catalog.name);
    writeMarketplaces(userDir, [...others, { name: catalog.name, source, root }]);
    return `Added marketplace ${catalog.name} (${catalog.plugins.length} plugins: ${catalog.plugins.map((p) => p.name).join(', ')}). Install one with icode plugins install NAME@${catalog.name}`;
  } finally {
    if (staged) rmSync(staged, { recursive: true, force: true });
  }
}

/**
 * `icode plugins marketplace remove NAME`: forgets a marketplace (and removes its clone); plugins installed
 * from it stay installed. The caller holds the plugins lock.
 */
export function removeMarketplace(name: string, userDir: string): string {
  const list = readMarketplaces(userDir);
  const market = list.find((m) => m.name === name);
  if (!market)
    throw new IcodeError(
      ErrorCodes.INSTALL_REFUSED,
      `no marketplace named ${name}`,
      `added: ${list.map((m) => m.name).join(', ') || 'none'}`,
    );
  writeMarketplaces(
    userDir,
    list.filter((m) => m !== market),
  );
  const clone = join(userDir, 'plugins', 'marketplaces', name);
  if (market.root === clone) rmSync(clone, { recursive: true, force: true });
  return `Removed marketplace ${name}; plugins installed from it stay installed (icode plugins uninstall NAME).`;
}

/** Removes a Claude Code plugin's folder and record together, then its `enabledPlugins` switches. */
export function uninstallClaudePlugin(
  name: string,
  o: { userDir: string; settingsFiles: string[] },
): string | undefined {
  const list = readClaudePlugins(o.userDir);
  const record = list.find((p) => p.name === name || claudePluginId(p) === name);
  if (!record) return undefined;
  const root = stagingFolder(o.userDir);
  try {
    swapPlugin({
      userDir: o.userDir,
      root,
      name: record.name,
      target: claudePluginFolder(o.userDir, record.name),
      edits: [
        {
          file: claudePluginsFile(o.userDir),
          edit: () =>
            writeClaudePlugins(
              o.userDir,
              list.filter((p) => p !== record),
            ),
        },
      ],
    });
  } finally {
    discardStage(root);
  }
  for (const file of o.settingsFiles)
    if (existsSync(file) && readFileSync(file, 'utf8').includes(`"${claudePluginId(record)}"`))
      editSettings(file, ['enabledPlugins', claudePluginId(record)], undefined);
  return `Uninstalled Claude Code plugin ${record.name}.`;
}
