import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import * as z from 'zod';
import { claudeUserDirectory } from '../kernel/config.ts';
import { ErrorCodes, IcodeError } from '../kernel/errors.ts';
import { loadJsonFile, parseJsonDocument } from '../kernel/json.ts';
import { isInside } from '../kernel/paths.ts';
import { ProjectApprovals } from './approvals.ts';
import { HooksSchema, McpServerEntrySchema } from './run-config.ts';

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
  /**
   * What runs commands, as the user accepted it at install: each hook whole (event, matcher, command,
   * timeout…) and each MCP server's whole entry, `${CLAUDE_PLUGIN_ROOT}` as written. At load, a hook or
   * server that differs from these does not run.
   */
  accepted: PluginRuns;
  /**
   * A SHA-256 of each file of the installed copy, by path inside it: the scripts its hooks and servers
   * run are among them. At load, a plugin whose files changed since runs no hook or server.
   */
  files?: Record<string, string>;
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

/**
 * Text from a plugin (a hook command, a server entry, a version) made safe to print on a terminal:
 * control characters (escape sequences, carriage returns, backspaces, bidirectional overrides) are shown
 * as `\xNN` / `\u{NNNN}`, so what a plugin wrote cannot rewrite what the user sees.
 */
export function printable(text: string): string {
  return text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
    /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g,
    (c) => {
      const code = c.charCodeAt(0);
      return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
    },
  );
}

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
  return loadPluginJson(file, ClaudePluginManifestSchema);
}

/**
 * Reads one of a plugin's JSON files and checks it; every mistake throws ICODE_ERR_FILE_INVALID at its
 * file, line and key. A file nested too deeply to read is refused naming it (not a stack overflow), and
 * only a regular file is read (a FIFO would block).
 */
export function loadPluginJson<S extends z.ZodType>(file: string, schema: S, text?: string): z.output<S> {
  try {
    if (text === undefined && !statSync(file).isFile())
      throw new IcodeError(ErrorCodes.FILE_INVALID, `${file} is not a file`, 'make it a JSON file');
    return loadJsonFile(text ?? readFileSync(file, 'utf8'), file, schema);
  } catch (error) {
    if (error instanceof RangeError)
      throw new IcodeError(
        ErrorCodes.FILE_INVALID,
        `${file} is nested too deeply to read`,
        'a plugin file is a few levels deep; correct or replace it',
      );
    throw error;
  }
}

/** Where a key of a JSON file is written, for errors that are not the schema's (a path outside the plugin). */
function locateKey(file: string, path: string[]) {
  try {
    return parseJsonDocument(readFileSync(file, 'utf8'), file, ErrorCodes.FILE_INVALID).locate(path);
  } catch {
    return { file };
  }
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
  const manifestFile = claudeManifestFile(root);
  /** A path the manifest gives, which must stay inside the plugin; a mistake is shown at its key's line. */
  const inside = (rel: string, key: string) => {
    const path = resolve(root, rel);
    // At its real path, where it exists: a path through a symbolic link out of the plugin is outside it.
    const real = (p: string) => (existsSync(p) ? realpathSync(p) : p);
    if (!isInside(path, root) || !isInside(real(path), real(root)))
      throw new IcodeError(
        ErrorCodes.FILE_INVALID,
        `"${key}" points outside the plugin (${rel})`,
        'use paths relative to the plugin folder, starting with ./',
        locateKey(manifestFile, [key]),
      );
    return path;
  };
  const paths = (key: 'commands' | 'agents' | 'skills') => {
    const listed = manifest[key];
    const extra = listed === undefined ? [] : typeof listed === 'string' ? [listed] : listed;
    const all = [join(root, key), ...extra.map((p) => inside(p, key))];
    return [...new Set(all)].filter((p) => existsSync(p));
  };
  /**
   * hooks.json or .mcp.json: the manifest's inline object (checked where plugin.json writes it), the file
   * it names, or the default file; each checked with the schema the hooks or mcp plugin runs it with.
   */
  const json = (key: 'hooks' | 'mcpServers', fallback: string, schema: z.ZodType) => {
    const given = manifest[key];
    const shape = z.looseObject({ [key]: schema });
    if (given && typeof given === 'object')
      return { value: loadPluginJson(manifestFile, shape) as Record<string, unknown>, file: manifestFile };
    const file = given ? inside(given, key) : join(root, fallback);
    if (!existsSync(file) || !statSync(file).isFile()) {
      if (given)
        throw new IcodeError(
          ErrorCodes.FILE_INVALID,
          `"${key}" names ${given}, which is not a file in the plugin`,
          'correct the path, or add the file',
          locateKey(manifestFile, [key]),
        );
      return undefined;
    }
    return { value: loadPluginJson(file, shape) as Record<string, unknown>, file };
  };
  const hooks = json('hooks', join('hooks', 'hooks.json'), HooksSchema);
  const mcp = json('mcpServers', '.mcp.json', z.record(z.string(), McpServerEntrySchema));
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

/** One hook as configured: its event, its matcher, and the hook object whole. */
export interface PluginHook {
  event: string;
  matcher?: string;
  hook: Record<string, unknown>;
}
/** What of a plugin runs commands: every hook and every MCP server entry, whole. */
export interface PluginRuns {
  hooks: PluginHook[];
  mcpServers: Record<string, Record<string, unknown>>;
}

/** What of a plugin runs commands, each hook and server entry whole (what install asks about). */
export function commandsRun(parts: ClaudePluginParts): PluginRuns {
  const entries = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  const hooks = Object.entries(parts.hooks?.events ?? {}).flatMap(([event, matchers]) =>
    entries(matchers).flatMap((m) => {
      const { matcher, hooks } = (m ?? {}) as { matcher?: unknown; hooks?: unknown };
      return entries(hooks).map((hook) => ({
        event,
        ...(typeof matcher === 'string' ? { matcher } : {}),
        hook: (hook ?? {}) as Record<string, unknown>,
      }));
    }),
  );
  return { hooks, mcpServers: parts.mcpServers?.servers ?? {} };
}

/** JSON with object keys sorted: two entries that mean the same compare equal however they were written. */
export function canonicalJson(value: unknown): string {
  const sorted = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sorted)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sorted((v as Record<string, unknown>)[k])]),
          )
        : v;
  return JSON.stringify(sorted(value));
}

/**
 * What of `runs` the user has not accepted (`accepted`, as recorded at install): hooks not among the
 * accepted ones, and servers whose entry is new or differs in any key.
 */
export function unacceptedRuns(
  runs: PluginRuns,
  accepted: Partial<PluginRuns> | undefined,
): { hooks: PluginHook[]; mcpServers: string[] } {
  const hooks = new Set((Array.isArray(accepted?.hooks) ? accepted.hooks : []).map(canonicalJson));
  const servers =
    accepted?.mcpServers && !Array.isArray(accepted.mcpServers) ? accepted.mcpServers : undefined;
  return {
    hooks: runs.hooks.filter((h) => !hooks.has(canonicalJson(h))),
    mcpServers: Object.keys(runs.mcpServers).filter(
      (name) =>
        !servers ||
        !Object.hasOwn(servers, name) ||
        canonicalJson(servers[name]) !== canonicalJson(runs.mcpServers[name]),
    ),
  };
}

/** Files a running program writes beside its code (Python's bytecode cache): not part of what was accepted. */
const CACHE = /(^|\/)__pycache__(\/|$)|\.pyc$/;

/**
 * A SHA-256 of each file under `root`, by its path inside it (`/`-separated, `.git` left out). A symbolic
 * link or a special file is recorded as such, never followed: an installed copy holds neither.
 */
export function pluginFiles(root: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (dir: string, rel: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.name === '.git' || CACHE.test(path)) continue;
      if (entry.isDirectory()) walk(join(dir, entry.name), path);
      else if (entry.isFile())
        files[path] = createHash('sha256')
          .update(readFileSync(join(dir, entry.name)))
          .digest('hex');
      else files[path] = entry.isSymbolicLink() ? 'symbolic link' : 'special file';
    }
  };
  walk(root, '');
  return files;
}

/** The files that differ between two `pluginFiles` (changed, added or removed), sorted. */
export function changedFiles(before: Record<string, string>, after: Record<string, string>): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((f) => before[f] !== after[f])
    .sort();
}

/** Why an enabled plugin's hooks or MCP servers do not run, when they differ from what the user accepted. */
export interface HeldBack {
  /** Its hooks (all of them: they act together) are held back. */
  hooks: boolean;
  /** The servers held back, by their name in the plugin. */
  mcpServers: string[];
  /** What differs, and what to do: install it again to review. */
  reason: string;
}

/**
 * Compares an installed plugin with what the user accepted at install: its files (the scripts its hooks
 * and servers run), its hooks and its server entries. Everything is held back when its files changed;
 * otherwise whatever is not exactly as accepted.
 */
export function heldBack(record: ClaudePluginRecord, parts: ClaudePluginParts): HeldBack | undefined {
  const runs = commandsRun(parts);
  if (!runs.hooks.length && !Object.keys(runs.mcpServers).length) return undefined;
  const again = `review it, then install it again: icode plugins install ${record.spec}`;
  const changed = record.files ? changedFiles(record.files, pluginFiles(parts.root)) : undefined;
  if (!changed || changed.length) {
    const what = changed
      ? `its files changed since it was installed (${changed.slice(0, 5).join(', ')}${changed.length > 5 ? ', …' : ''})`
      : 'it was installed without a record of its files';
    return {
      hooks: runs.hooks.length > 0,
      mcpServers: Object.keys(runs.mcpServers),
      reason: `${what}, so its hooks and MCP servers do not run; ${again}`,
    };
  }
  const not = unacceptedRuns(runs, withPluginRoot(record.accepted, parts.root));
  if (!not.hooks.length && !not.mcpServers.length) return undefined;
  const what = [
    ...not.hooks.map((h) => `hook ${h.event}: ${String(h.hook.command)}`),
    ...not.mcpServers.map((m) => `MCP server ${m}`),
  ];
  return {
    hooks: not.hooks.length > 0,
    mcpServers: not.mcpServers,
    reason: `${printable(what.join('; '))} differ from what was accepted at install and do not run${not.hooks.length ? ' (nor its other hooks)' : ''}; ${again}`,
  };
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
  /**
   * What of its hooks and MCP servers must not run, and why: they differ from what the user accepted at
   * install, or its files changed since. Computed (its files hashed) on first call.
   */
  heldBack(): HeldBack | undefined;
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
      let held: { value: HeldBack | undefined } | undefined;
      plugins.push({
        record,
        parts,
        heldBack: () => {
          held ??= { value: heldBack(record, parts) };
          return held.value;
        },
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
      // What a plugin wrote is shown escaped: a version or a broken file's key could hold escape codes.
      ...(record.version ? { version: printable(record.version) } : {}),
      spec: printable(record.spec),
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
        mcpServers: Object.keys(run.mcpServers).length,
      };
    } catch (error) {
      summary.problem = printable(error instanceof IcodeError ? error.describe() : (error as Error).message);
    }
    return summary;
  });
}

/**
 * Claude Code's names for icode's tools, where they differ (WebFetch, WebSearch, NotebookEdit, TodoWrite,
 * Skill, Agent, mcp__… are the same in both). One table, read both ways: hook matchers and `tool_name`,
 * an agent's or a command's tool list. {@link claudeToolName} and {@link icodeToolName} read it.
 */
export const CLAUDE_TOOL_NAMES: Readonly<Record<string, string>> = {
  bash: 'Bash',
  bash_output: 'BashOutput',
  read_file: 'Read',
  write_file: 'Write',
  edit_file: 'Edit',
  glob_search: 'Glob',
  grep_search: 'Grep',
};
/** Claude Code's former names that files written for it still use. */
const FORMER_CLAUDE_NAMES: Readonly<Record<string, string>> = { Task: 'Agent' };
const ICODE_TOOL_NAMES: Readonly<Record<string, string>> = {
  ...Object.fromEntries(Object.entries(CLAUDE_TOOL_NAMES).map(([icode, claude]) => [claude, icode])),
  ...FORMER_CLAUDE_NAMES,
};

/**
 * A tool's name as Claude Code names it (`read_file` → `Read`); a name both share comes back as it is.
 *
 * @example
 * ```ts
 * claudeToolName('grep_search'); // 'Grep'
 * ```
 */
export const claudeToolName = (tool: string): string => CLAUDE_TOOL_NAMES[tool] ?? tool;

/**
 * The icode tool a name in a file written for Claude Code means (`Read` → `read_file`, `Task` → `Agent`);
 * any other name comes back as it is.
 *
 * @example
 * ```ts
 * icodeToolName('Bash'); // 'bash'
 * ```
 */
export const icodeToolName = (name: string): string => ICODE_TOOL_NAMES[name] ?? name;

/** Every name a hook matcher may use for an icode tool: its own, Claude Code's, and Claude Code's former ones. */
export const toolNamesFor = (tool: string): string[] => [
  ...new Set([
    tool,
    claudeToolName(tool),
    ...Object.keys(ICODE_TOOL_NAMES).filter((n) => ICODE_TOOL_NAMES[n] === tool),
  ]),
];

/** icode's file tools, whose `path` Claude Code calls `file_path` (and gives absolute). */
const FILE_TOOLS = new Set(['read_file', 'write_file', 'edit_file']);

/**
 * A tool call's input with Claude Code's field names, as hooks written for it read `tool_input`:
 * `file_path` (absolute) for Read, Write and Edit; the other tools share icode's names.
 *
 * @example
 * ```ts
 * claudeToolInput('read_file', { path: 'a.txt' }, '/repo'); // { file_path: '/repo/a.txt' }
 * ```
 */
export function claudeToolInput(tool: string, input: unknown, cwd: string): Record<string, unknown> {
  const fields = { ...(input as Record<string, unknown>) };
  if (!FILE_TOOLS.has(tool) || typeof fields.path !== 'string') return fields;
  const { path, ...rest } = fields;
  return { file_path: resolve(cwd, path as string), ...rest };
}

/**
 * A tool input a hook gave back (`updatedInput`) in icode's field names: `file_path` becomes `path`.
 * Input already in icode's names is kept as it is.
 */
export function icodeToolInput(tool: string, input: Record<string, unknown>): Record<string, unknown> {
  if (!FILE_TOOLS.has(tool) || typeof input.file_path !== 'string') return input;
  const { file_path, ...rest } = input;
  return { ...rest, path: file_path };
}

/**
 * A tool's result as Claude Code's `tool_response` object: `stdout`/`stderr`/`interrupted` for Bash,
 * `file.filePath`/`file.content` for Read, `filePath` (and the content or strings) for Write and Edit;
 * for every other tool, the result's text as `output`.
 */
export function claudeToolResponse(
  tool: string,
  input: unknown,
  text: string,
  cwd: string,
): Record<string, unknown> {
  const claudeInput = claudeToolInput(tool, input, cwd);
  const filePath = claudeInput.file_path;
  switch (tool) {
    case 'bash':
      return { stdout: text, stderr: '', interrupted: false, isImage: false };
    case 'read_file':
      return { type: 'text', file: { filePath, content: text } };
    case 'write_file':
      return { type: 'update', filePath, content: claudeInput.content, success: true };
    case 'edit_file':
      return {
        filePath,
        oldString: claudeInput.old_string,
        newString: claudeInput.new_string,
        replaceAll: claudeInput.replace_all === true,
        success: true,
      };
    default:
      return { output: text };
  }
}

/**
 * Claude Code's own folders of a kind (`commands`, `agents`), lowest first: the user's
 * (`~/.claude/<kind>`, or under `$CLAUDE_CONFIG_DIR`) and the project's (`.claude/<kind>`). Each sits just
 * below icode's folder of the same scope: where both have one of a name, icode's wins.
 *
 * @example
 * ```ts
 * const { user, project } = claudeFolders(ctx, 'commands'); // ~/.claude/commands, .claude/commands
 * ```
 */
export function claudeFolders(
  ctx: { env: Readonly<Record<string, string | undefined>>; projectRoot: string },
  kind: 'commands' | 'agents',
): { user: { path: string; scope: string }; project?: { path: string; scope: string } } {
  const user = join(claudeUserDirectory(ctx.env, ctx.env.HOME ?? homedir()), kind);
  const project = join(ctx.projectRoot, '.claude', kind);
  return {
    user: { path: user, scope: 'user, Claude Code' },
    // The user's own folder is not the project's, though a session started in home finds it there.
    ...(project === user ? {} : { project: { path: project, scope: 'project, Claude Code' } }),
  };
}
