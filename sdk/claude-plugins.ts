import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as z from 'zod';
import { ErrorCodes, IcodeError } from '../kernel/errors.ts';
import { loadJsonFile } from '../kernel/json.ts';
import { isInside } from '../kernel/paths.ts';
import { ProjectApprovals } from './approvals.ts';

/**
 * A Claude Code plugin installed with `icode plugins install`, as recorded in
 * `~/.icode/plugins/claude-plugins.json`. Its folder is `~/.icode/plugins/claude/<name>`.
 */
export interface ClaudePluginRecord {
  name: string;
  version?: string;
  /** What the user asked for: a folder, a git URL, or `name@marketplace`. */
  spec: string;
  /** The marketplace it came from, if any: its id in settings is then `name@marketplace`. */
  marketplace?: string;
  /** What runs commands, as the user accepted it at install: hook commands and MCP server names. */
  accepted: { hooks: string[]; mcpServers: string[] };
  installedAt: string;
}

/** A marketplace added with `icode plugins marketplace add`: its name and the folder holding its catalog. */
export interface ClaudeMarketplace {
  name: string;
  /** What the user gave: a folder or a git URL. */
  source: string;
  /** The folder with `.claude-plugin/marketplace.json` (a clone under `~/.icode/plugins/marketplaces` for git). */
  root: string;
}

export const claudePluginsFile = (userDir: string) => join(userDir, 'plugins', 'claude-plugins.json');
export const claudePluginFolder = (userDir: string, name: string) => join(userDir, 'plugins', 'claude', name);
export const marketplacesFile = (userDir: string) => join(userDir, 'plugins', 'claude-marketplaces.json');

/** The id settings switch a plugin on by (`enabledPlugins`), as Claude Code writes it. */
export const claudePluginId = (p: { name: string; marketplace?: string }) =>
  p.marketplace ? `${p.name}@${p.marketplace}` : p.name;

const readList = <T>(file: string): T[] => {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T[];
  } catch {
    return [];
  }
};

/** Written whole beside the file and renamed over it: a reader sees the old list or the new one. */
const writeList = (file: string, list: unknown[]) => {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.next`, `${JSON.stringify(list, null, 2)}\n`);
  renameSync(`${file}.next`, file);
};

export const readClaudePlugins = (userDir: string) =>
  readList<ClaudePluginRecord>(claudePluginsFile(userDir));
export const writeClaudePlugins = (userDir: string, list: ClaudePluginRecord[]) =>
  writeList(claudePluginsFile(userDir), list);
export const readMarketplaces = (userDir: string) => readList<ClaudeMarketplace>(marketplacesFile(userDir));
export const writeMarketplaces = (userDir: string, list: ClaudeMarketplace[]) =>
  writeList(marketplacesFile(userDir), list);

const Paths = z.union([z.string(), z.array(z.string())]);
/**
 * `.claude-plugin/plugin.json` as Claude Code documents it: only `name` is required; the component keys
 * add paths to the default folders (`commands/`, `agents/`, `skills/`), or give hooks and MCP servers
 * inline. Keys icode does not use (homepage, license, outputStyles, …) are accepted and ignored.
 */
export const ClaudePluginManifestSchema = z.looseObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]*$/, 'a plugin name is kebab-case: lower-case letters, digits, - . _'),
  version: z.string().optional(),
  description: z.string().optional(),
  author: z.union([z.string(), z.looseObject({ name: z.string().optional() })]).optional(),
  commands: Paths.optional(),
  agents: Paths.optional(),
  skills: Paths.optional(),
  hooks: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
  mcpServers: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
});
export type ClaudePluginManifest = z.output<typeof ClaudePluginManifestSchema>;

export const claudeManifestFile = (root: string) => join(root, '.claude-plugin', 'plugin.json');

/** Whether a folder is a Claude Code plugin: it has `.claude-plugin/plugin.json` and no icode `plugin.json`. */
export const isClaudePlugin = (root: string) =>
  existsSync(claudeManifestFile(root)) && !existsSync(join(root, 'plugin.json'));

/** Reads and checks a plugin's manifest; a mistake throws ICODE_ERR_FILE_INVALID at its file, line and key. */
export function readClaudeManifest(root: string): ClaudePluginManifest {
  const file = claudeManifestFile(root);
  if (!existsSync(file))
    throw new IcodeError(
      ErrorCodes.FILE_INVALID,
      `${root} is not a Claude Code plugin: it has no .claude-plugin/plugin.json`,
      'give the folder that holds .claude-plugin/plugin.json',
    );
  return loadJsonFile(readFileSync(file, 'utf8'), file, ClaudePluginManifestSchema);
}

/** What a Claude Code plugin contributes, its paths resolved and `${CLAUDE_PLUGIN_ROOT}` filled in. */
export interface ClaudePluginParts {
  name: string;
  root: string;
  /** Folders of `*.md` commands, and single command files. */
  commands: string[];
  /** Folders of `*.md` agents, and single agent files. */
  agents: string[];
  /** Folders of `<skill>/SKILL.md`. */
  skills: string[];
  /** The `hooks` object of hooks.json (or inline), by event; with where it was written. */
  hooks?: { events: Record<string, unknown>; file: string };
  /** MCP server entries by name (as in `.mcp.json`), with where they were written. */
  mcpServers?: { servers: Record<string, Record<string, unknown>>; file: string };
}

/**
 * Replaces `${CLAUDE_PLUGIN_ROOT}` in every string of a value with the plugin's folder, as Claude Code
 * does in hook commands and MCP server entries. Other `${VAR}`s are left for their own expansion.
 */
export function withPluginRoot<T>(value: T, root: string): T {
  if (typeof value === 'string') return value.replaceAll('${CLAUDE_PLUGIN_ROOT}', root) as T;
  if (Array.isArray(value)) return value.map((v) => withPluginRoot(v, root)) as T;
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withPluginRoot(v, root)])) as T;
  return value;
}

const HooksFile = z.looseObject({ hooks: z.record(z.string(), z.unknown()) });
const McpFile = z.looseObject({ mcpServers: z.record(z.string(), z.record(z.string(), z.unknown())) });

/**
 * The parts of the plugin in `root`: the default folders that exist, plus the paths its manifest adds
 * (which must stay inside the plugin). Throws at the file, line and key of a broken manifest,
 * hooks.json or .mcp.json.
 */
export function claudePluginParts(
  root: string,
  manifest = readClaudeManifest(root),
  /** What `${CLAUDE_PLUGIN_ROOT}` becomes (the folder the plugin runs from); itself to show it as written. */
  pluginRoot = root,
): ClaudePluginParts {
  const inside = (rel: string, key: string) => {
    const path = resolve(root, rel);
    if (!isInside(path, root))
      throw new IcodeError(
        ErrorCodes.FILE_INVALID,
        `${claudeManifestFile(root)}: "${key}" points outside the plugin (${rel})`,
        'use paths relative to the plugin folder, starting with ./',
      );
    return path;
  };
  const paths = (key: 'commands' | 'agents' | 'skills') => {
    const listed = manifest[key];
    const extra = listed === undefined ? [] : typeof listed === 'string' ? [listed] : listed;
    const all = [join(root, key), ...extra.map((p) => inside(p, key))];
    return [...new Set(all)].filter((p) => existsSync(p));
  };
  /** hooks.json or .mcp.json: the manifest's inline object, the file it names, or the default file. */
  const json = (key: 'hooks' | 'mcpServers', fallback: string, schema: typeof HooksFile | typeof McpFile) => {
    const given = manifest[key];
    if (given && typeof given === 'object') {
      const file = claudeManifestFile(root);
      return {
        value: loadJsonFile(JSON.stringify({ [key]: given }), file, schema) as Record<string, unknown>,
        file,
      };
    }
    const file = given ? inside(given, key) : join(root, fallback);
    if (!existsSync(file) || !statSync(file).isFile()) {
      if (given)
        throw new IcodeError(
          ErrorCodes.FILE_INVALID,
          `${claudeManifestFile(root)}: "${key}" names ${given}, which is not a file in the plugin`,
          'correct the path, or add the file',
        );
      return undefined;
    }
    return { value: loadJsonFile(readFileSync(file, 'utf8'), file, schema) as Record<string, unknown>, file };
  };
  const hooks = json('hooks', join('hooks', 'hooks.json'), HooksFile);
  const mcp = json('mcpServers', '.mcp.json', McpFile);
  return {
    name: manifest.name,
    root,
    commands: paths('commands'),
    agents: paths('agents'),
    skills: paths('skills'),
    ...(hooks
      ? {
          hooks: {
            events: withPluginRoot(hooks.value.hooks as Record<string, unknown>, pluginRoot),
            file: hooks.file,
          },
        }
      : {}),
    ...(mcp
      ? {
          mcpServers: {
            servers: withPluginRoot(
              mcp.value.mcpServers as Record<string, Record<string, unknown>>,
              pluginRoot,
            ),
            file: mcp.file,
          },
        }
      : {}),
  };
}

/** What of a plugin runs commands: each hook's command, each MCP server's name (what install asks about). */
export function commandsRun(parts: ClaudePluginParts): { hooks: string[]; mcpServers: string[] } {
  const entries = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  const hooks = Object.values(parts.hooks?.events ?? {})
    .flatMap(entries)
    .flatMap((m) => entries((m as { hooks?: unknown } | null)?.hooks))
    .map((h) => (h as { command?: unknown } | null)?.command)
    .filter((c): c is string => typeof c === 'string');
  return { hooks, mcpServers: Object.keys(parts.mcpServers?.servers ?? {}) };
}

/** An installed Claude Code plugin that settings switch on, with its parts, as each icode plugin reads it. */
export interface EnabledClaudePlugin {
  record: ClaudePluginRecord;
  parts: ClaudePluginParts;
  /**
   * Switched on by a file the repository can ship (`.icode/settings.json` or `.icode/settings.local.json`):
   * its hooks and MCP servers run only once the user approved the project's (`icode hooks approve`,
   * `icode mcp approve`), as the project's own do.
   */
  fromProject: boolean;
  /** For messages and lists: `plugin NAME`. */
  source: string;
}

/**
 * The installed Claude Code plugins switched on by `enabledPlugins` (by `name@marketplace` or `name`) in
 * the settings, with the layer that switched each on. One that cannot be read is a problem, not a plugin;
 * the others still load. The commands, agents, skills, hooks and mcp plugins each read their part.
 *
 * @example
 * ```ts
 * const { plugins, problems } = enabledClaudePlugins(ctx);
 * for (const p of plugins) for (const dir of p.parts.skills) addSkills(dir, p.source);
 * ```
 */
export function enabledClaudePlugins(ctx: {
  userDir: string;
  settings: { enabledPlugins?: Record<string, boolean> | undefined };
  origins: Readonly<Record<string, string>>;
}): { plugins: EnabledClaudePlugin[]; problems: string[] } {
  const on = ctx.settings.enabledPlugins ?? {};
  const plugins: EnabledClaudePlugin[] = [];
  const problems: string[] = [];
  for (const record of readClaudePlugins(ctx.userDir)) {
    const id = claudePluginId(record);
    const key = id in on ? id : record.name in on ? record.name : undefined;
    if (key === undefined || on[key] !== true) continue;
    try {
      const parts = claudePluginParts(claudePluginFolder(ctx.userDir, record.name));
      plugins.push({
        record,
        parts,
        fromProject: ProjectApprovals.fromRepository(ctx.origins[`enabledPlugins.${key}`]),
        source: `plugin ${record.name}`,
      });
    } catch (error) {
      problems.push(
        `Claude Code plugin ${record.name}: ${error instanceof IcodeError ? error.describe() : (error as Error).message}`,
      );
    }
  }
  return { plugins, problems };
}

/** One installed Claude Code plugin as `icode plugins list` shows it: on or off and why, and its parts. */
export interface ClaudePluginSummary {
  name: string;
  /** The id `enabledPlugins` switches it by. */
  id: string;
  version?: string;
  spec: string;
  enabled: boolean;
  /** The settings layer that switched it on or off, if any (else it is off: installed, never enabled). */
  by?: string;
  /** How many of each part it has; hooks and MCP servers are what runs commands. */
  parts?: { commands: number; agents: number; skills: number; hooks: number; mcpServers: number };
  /** Why its parts cannot be read (a broken manifest, hooks.json or .mcp.json). */
  problem?: string;
}

/** Every installed Claude Code plugin, switched on or not, as a list shows them. */
export function claudePluginSummaries(ctx: {
  userDir: string;
  settings: { enabledPlugins?: Record<string, boolean> | undefined };
  origins: Readonly<Record<string, string>>;
}): ClaudePluginSummary[] {
  const on = ctx.settings.enabledPlugins ?? {};
  return readClaudePlugins(ctx.userDir).map((record) => {
    const id = claudePluginId(record);
    const key = id in on ? id : record.name in on ? record.name : undefined;
    const summary: ClaudePluginSummary = {
      name: record.name,
      id,
      ...(record.version ? { version: record.version } : {}),
      spec: record.spec,
      enabled: key !== undefined && on[key] === true,
      ...(key !== undefined ? { by: ctx.origins[`enabledPlugins.${key}`] ?? 'settings' } : {}),
    };
    try {
      const parts = claudePluginParts(claudePluginFolder(ctx.userDir, record.name));
      const run = commandsRun(parts);
      summary.parts = {
        commands: parts.commands.length,
        agents: parts.agents.length,
        skills: parts.skills.length,
        hooks: run.hooks.length,
        mcpServers: run.mcpServers.length,
      };
    } catch (error) {
      summary.problem = error instanceof IcodeError ? error.describe() : (error as Error).message;
    }
    return summary;
  });
}

/**
 * Claude Code's names for icode's tools, for the files written for it: hook matchers and `tool_name`,
 * an agent's `tools:` list.
 */
export const CLAUDE_TOOL_NAMES: Readonly<Record<string, string>> = {
  bash: 'Bash',
  read_file: 'Read',
  write_file: 'Write',
  edit_file: 'Edit',
  glob_search: 'Glob',
  grep_search: 'Grep',
};
