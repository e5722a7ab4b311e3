import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { cosmiconfig } from 'cosmiconfig';
import * as z from 'zod';
import { ClaudeSettingsSchema, fromClaudeSettings } from './claude-settings.ts';
import { ErrorCodes, formatLocation, IcodeError, type SourceLocation } from './errors.ts';
import { type JsonDocument, type Problem, parseJsonDocument, validateDocument } from './json.ts';
import { isInside, resolveReal } from './paths.ts';
import { parseRule } from './permissions.ts';
import type { Decision, RuleSource } from './types.ts';

/** Environment variables, as `process.env` holds them. */
export type Env = Record<string, string | undefined>;

export const PERMISSION_MODES = [
  'read-only',
  'workspace-write',
  'danger-full-access',
  'plan',
  'prompt',
] as const;

const RuleSchema = z.string().superRefine((rule, ctx) => {
  const problem = parseRule(rule).error;
  if (problem) ctx.addIssue({ code: 'custom', message: `invalid permission rule "${rule}": ${problem}` });
});

const Toggles = z.record(z.string(), z.boolean());

/** The settings file format (`~/.icode/settings.json`, `.icode/settings.json`, ...). All keys optional. */
export const SettingsSchema = z.strictObject({
  $schema: z.string().optional(),
  model: z.string().min(1).optional(),
  permissions: z
    .strictObject({
      defaultMode: z.enum(PERMISSION_MODES).optional(),
      allow: z.array(RuleSchema).optional(),
      ask: z.array(RuleSchema).optional(),
      deny: z.array(RuleSchema).optional(),
      additionalDirectories: z.array(z.string()).optional(),
      /** Paths under each workspace root that writes need approval for (default: .git, .icode, .claude, …). */
      protectedPaths: z.array(z.string()).optional(),
    })
    .optional(),
  plugins: z
    .record(
      z.string(),
      z.strictObject({
        enabled: z.boolean().optional(),
        config: z.record(z.string(), z.unknown()).optional(),
        tools: Toggles.optional(),
        commands: Toggles.optional(),
        hooks: Toggles.optional(),
      }),
    )
    .optional(),
  env: z.record(z.string(), z.string()).optional(),
  /** User hooks by event, in Claude Code's format; the hooks plugin validates them. */
  hooks: z.record(z.string(), z.array(z.unknown())).optional(),
  /** How long a tool call may run, in ms, by tool name; `"*"` for every tool; 0 for no limit. */
  toolTimeouts: z.record(z.string(), z.number().int().nonnegative()).optional(),
  /** MCP servers by name, in Claude Code's format; the mcp plugin validates each entry. */
  mcpServers: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
  /** Installed Claude Code plugins switched on or off, by `name@marketplace` (or `name`), as Claude Code writes it. */
  enabledPlugins: z.record(z.string(), z.boolean()).optional(),
});
export type Settings = z.output<typeof SettingsSchema>;

/**
 * Layers from lowest to highest. Claude Code's settings files (`claude-*`) sit just below icode's own of
 * the same scope: where both set a key, icode's file wins.
 */
export const LAYERS = [
  'defaults',
  'manifest',
  'claude-user',
  'user',
  'claude-project',
  'project',
  'claude-local',
  'local',
  'env',
  'cli',
] as const;
export type LayerName = (typeof LAYERS)[number];

export const DEFAULT_SETTINGS: Settings = {
  model: 'claude-sonnet-5-5',
  permissions: { defaultMode: 'prompt', allow: [], ask: [], deny: [], additionalDirectories: [] },
  plugins: {},
  env: {},
};

export interface ConfigLayer {
  name: LayerName;
  /** The file (or variable) the layer came from; absent for built-in defaults. */
  file?: string;
  settings: Settings;
  doc?: JsonDocument;
}

export interface LayerReport {
  name: LayerName;
  file?: string;
  found: boolean;
}

/** The effective configuration, with the layer every value came from. */
export interface ResolvedConfig {
  settings: Settings & {
    /** Every key set but `protectedPaths`, whose absence means the defaults (see Confinement). */
    permissions: Required<Omit<NonNullable<Settings['permissions']>, 'protectedPaths'>> &
      Pick<NonNullable<Settings['permissions']>, 'protectedPaths'>;
    plugins: NonNullable<Settings['plugins']>;
  };
  /** Dotted key path → layer that set it (the last one wins). */
  origins: Record<string, LayerName>;
  /** Permission rules from every layer, concatenated, each with its origin. */
  rules: RuleSource[];
  layers: LayerReport[];
  warnings: Problem[];
  projectRoot: string;
  userDir: string;
  /** Where in a file a key of the effective config was written, for errors about it. */
  locate(path: readonly string[]): SourceLocation;
}

export interface LoadConfigOptions {
  cwd: string;
  /** Home directory; `~/.icode` lives here unless ICODE_CONFIG_DIR is set. */
  home?: string;
  env?: Env;
  /** The harness manifest's `config`, a layer just above the defaults. */
  manifest?: { file: string; settings: Settings; doc?: JsonDocument };
  /** Settings from command-line flags, the top layer. */
  cli?: Settings;
}

const RULE_KINDS = ['allow', 'ask', 'deny'] as const satisfies readonly Decision[];

function readLayer(name: LayerName, file: string, text: string, problems: Problem[], warnings: Problem[]) {
  const doc = parseJsonDocument(text, file, ErrorCodes.CONFIG_INVALID);
  if (name.startsWith('claude-')) {
    // Claude Code's own file: only the keys both tools share, with its names mapped onto icode's.
    const claude = validateDocument(doc, ClaudeSettingsSchema);
    problems.push(...claude.errors);
    if (!claude.value) return undefined;
    const settings = fromClaudeSettings(claude.value, (key) => doc.locate(key), warnings);
    const v = validateDocument(doc, SettingsSchema, settings);
    problems.push(...v.errors);
    return v.value ? { name, file, settings: v.value, doc } : undefined;
  }
  const v = validateDocument(doc, SettingsSchema);
  warnings.push(...v.warnings);
  problems.push(...v.errors);
  return v.value ? { name, file, settings: v.value, doc } : undefined;
}

/** Claude Code's user folder: `$CLAUDE_CONFIG_DIR` or `~/.claude`. */
export function claudeUserDirectory(env: Env = process.env, home = homedir()): string {
  return env.CLAUDE_CONFIG_DIR || join(home, '.claude');
}

/** The user's icode directory: `$ICODE_CONFIG_DIR` or `~/.icode`. */
export function userDirectory(env: Env = process.env, home = homedir()): string {
  return env.ICODE_CONFIG_DIR || join(home, '.icode');
}

function envLayer(env: Env, problems: Problem[], warnings: Problem[]): ConfigLayer | undefined {
  let base: ConfigLayer | undefined;
  if (env.ICODE_SETTINGS) base = readLayer('env', 'ICODE_SETTINGS', env.ICODE_SETTINGS, problems, warnings);
  const settings: Settings = structuredClone(base?.settings ?? {});
  if (env.ICODE_MODEL) settings.model = env.ICODE_MODEL;
  if (env.ICODE_PERMISSION_MODE) {
    const mode = z.enum(PERMISSION_MODES).safeParse(env.ICODE_PERMISSION_MODE);
    if (!mode.success) {
      problems.push({
        message: `ICODE_PERMISSION_MODE must be one of ${PERMISSION_MODES.join(', ')}`,
        location: { file: 'ICODE_PERMISSION_MODE' },
      });
    } else settings.permissions = { ...settings.permissions, defaultMode: mode.data };
  }
  if (!base && !env.ICODE_MODEL && !env.ICODE_PERMISSION_MODE) return undefined;
  // Rules can only come from ICODE_SETTINGS, so name it where it is the source.
  return { name: 'env', file: base ? 'ICODE_SETTINGS' : 'environment (ICODE_*)', settings, doc: base?.doc };
}

/**
 * Loads every settings layer and merges them: defaults < manifest < user < project < local < env < cli.
 * Objects deep-merge, permission rule lists concatenate, any other value is replaced by a later layer.
 * Every problem in every file is collected; if there is any, an {@link IcodeError} lists them all.
 */
export async function loadConfig(options: LoadConfigOptions): Promise<ResolvedConfig> {
  const env = options.env ?? process.env;
  const home = options.home ?? homedir();
  const userDir = userDirectory(env, home);
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const layers: ConfigLayer[] = [{ name: 'defaults', settings: DEFAULT_SETTINGS }];
  const reports: LayerReport[] = [{ name: 'defaults', found: true }];
  if (options.manifest) {
    layers.push({ name: 'manifest', ...options.manifest });
    reports.push({ name: 'manifest', file: options.manifest.file, found: true });
  }

  const load = (name: LayerName, file: string) => {
    const found = existsSync(file);
    // Claude Code's files are listed where they exist: most projects have none.
    if (found || !name.startsWith('claude-')) reports.push({ name, file, found });
    if (!found) return;
    try {
      const layer = readLayer(name, file, readFileSync(file, 'utf8'), problems, warnings);
      if (layer) layers.push(layer);
    } catch (error) {
      if (!(error instanceof IcodeError)) throw error;
      problems.push({ message: error.message, location: error.location ?? { file } });
    }
  };

  const claudeUser = join(claudeUserDirectory(env, home), 'settings.json');
  load('claude-user', claudeUser);
  load('user', join(userDir, 'settings.json'));
  // The user's own settings files are not project files, though the search from a folder in home finds them.
  const found = await findProjectSettings(options.cwd, home);
  const projectFile = found === join(userDir, 'settings.json') || found === claudeUser ? undefined : found;
  const projectRoot = projectFile ? dirname(dirname(projectFile)) : options.cwd;
  const claudeProject = join(projectRoot, '.claude', 'settings.json');
  if (claudeProject !== claudeUser) load('claude-project', claudeProject);
  load('project', join(projectRoot, '.icode', 'settings.json'));
  load('claude-local', join(projectRoot, '.claude', 'settings.local.json'));
  load('local', join(projectRoot, '.icode', 'settings.local.json'));
  for (const layer of layers)
    if (PROJECT_LAYERS.has(layer.name)) narrowProjectLayer(layer, projectRoot, home, warnings);
  for (const layer of layers) unusableProtectedPaths(layer, warnings);

  const fromEnv = envLayer(env, problems, warnings);
  if (fromEnv) layers.push(fromEnv);
  reports.push({ name: 'env', file: 'environment (ICODE_*)', found: Boolean(fromEnv) });
  if (options.cli) layers.push({ name: 'cli', file: 'command-line flags', settings: options.cli });
  reports.push({ name: 'cli', file: 'command-line flags', found: Boolean(options.cli) });

  if (problems.length) {
    const first = problems[0]!;
    const rest = problems.slice(1).map((p) => `\n  also ${formatProblem(p)}`);
    const fix = 'correct the value at that line (see docs/architecture.md#config for the format)';
    throw new IcodeError(ErrorCodes.CONFIG_INVALID, `${first.message}${rest.join('')}`, fix, first.location);
  }
  return mergeLayers(layers, reports, warnings, projectRoot, userDir);
}

/** The layers a repository can ship: icode's and Claude Code's project files, shared and local alike. */
export const PROJECT_LAYERS: ReadonlySet<LayerName> = new Set([
  'claude-project',
  'project',
  'claude-local',
  'local',
]);

/**
 * What a project's own files (which a cloned repository brings) may not do: widen the boundary. Full
 * access (`defaultMode: "danger-full-access"`, sandbox and asks off) and workspace folders outside the
 * project come only from the user's settings or the command line; from a project file they are dropped
 * with a warning at their line that says where to put them instead.
 */
function narrowProjectLayer(
  layer: ConfigLayer,
  projectRoot: string,
  home: string,
  warnings: Problem[],
): void {
  const permissions = layer.settings.permissions;
  if (!permissions || !layer.file) return;
  const where = (key: string[]): SourceLocation => {
    const at = layer.doc?.locate(key);
    return at ? { ...at, key: key.join('.') } : { file: layer.file!, key: key.join('.') };
  };
  if (permissions.defaultMode === 'danger-full-access') {
    warnings.push({
      message:
        'defaultMode "danger-full-access" in a project\'s own settings is not taken: a repository must not turn the sandbox and every ask off; put it in ~/.icode/settings.json or pass --permission-mode danger-full-access',
      location: where(['permissions', 'defaultMode']),
    });
    delete permissions.defaultMode;
  }
  if (permissions.additionalDirectories) {
    const kept = permissions.additionalDirectories.filter((d) =>
      isInside(resolveReal(d, projectRoot, home), resolveReal(projectRoot, '/')),
    );
    if (kept.length !== permissions.additionalDirectories.length)
      warnings.push({
        message: `additionalDirectories outside the project in a project's own settings are not taken (${permissions.additionalDirectories.filter((d) => !kept.includes(d)).join(', ')}): put them in ~/.icode/settings.json or pass --add-dir`,
        location: where(['permissions', 'additionalDirectories']),
      });
    permissions.additionalDirectories = kept;
  }
}

/** protectedPaths are names or workspace-relative paths: a glob or an absolute path protects nothing, so say so. */
function unusableProtectedPaths(layer: ConfigLayer, warnings: Problem[]): void {
  const bad = (layer.settings.permissions?.protectedPaths ?? []).filter(
    (p) => p.startsWith('/') || /[*?[\]{}]/.test(p),
  );
  if (!bad.length || !layer.file) return;
  const at = layer.doc?.locate(['permissions', 'protectedPaths']);
  warnings.push({
    message: `protectedPaths takes names (.env, matched at any depth) or paths relative to the workspace (deploy/prod), not globs or absolute paths: ${bad.join(', ')} protects nothing`,
    location: { ...(at ?? { file: layer.file }), key: 'permissions.protectedPaths' },
  });
}

export function formatProblem(p: Problem): string {
  return `${formatLocation(p.location)}: ${p.message}`;
}

async function findProjectSettings(cwd: string, home: string): Promise<string | undefined> {
  const explorer = cosmiconfig('icode', {
    // A folder with Claude Code's project settings is a project root too.
    searchPlaces: ['.icode/settings.json', '.claude/settings.json'],
    // Only find the file; readLayer parses it so errors carry lines and keys.
    loaders: { '.json': () => ({}) },
    stopDir: home,
    searchStrategy: 'global',
    cache: false,
  });
  const found = await explorer.search(cwd);
  return found?.filepath;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function mergeLayers(
  layers: ConfigLayer[],
  reports: LayerReport[],
  warnings: Problem[],
  projectRoot: string,
  userDir: string,
): ResolvedConfig {
  const merged: Record<string, unknown> = {};
  const origins: Record<string, LayerName> = {};
  const rules: RuleSource[] = [];
  const byName = new Map(layers.map((l) => [l.name, l]));

  const assign = (
    target: Record<string, unknown>,
    source: Record<string, unknown>,
    path: string[],
    layer: LayerName,
  ) => {
    for (const [key, value] of Object.entries(source)) {
      if (key === '$schema') continue;
      const at = [...path, key];
      if (isPlainObject(value)) {
        if (!isPlainObject(target[key])) target[key] = {};
        assign(target[key] as Record<string, unknown>, value, at, layer);
        if (Object.keys(value).length === 0) origins[at.join('.')] ??= layer;
      } else {
        // Only objects need a copy of their own (a cloned boolean is the boolean, at a clone's cost).
        target[key] = value !== null && typeof value === 'object' ? structuredClone(value) : value;
        origins[at.join('.')] = layer;
      }
    }
  };

  for (const layer of layers) {
    const { permissions, ...rest } = layer.settings;
    assign(merged, rest, [], layer.name);
    if (!permissions) continue;
    const { allow, ask, deny, ...other } = permissions;
    assign(merged, { permissions: other }, [], layer.name);
    for (const effect of RULE_KINDS) {
      for (const rule of { allow, ask, deny }[effect] ?? []) {
        rules.push({ rule, effect, layer: layer.name, ...(layer.file ? { file: layer.file } : {}) });
      }
    }
  }
  const perms = merged.permissions as Record<string, unknown>;
  for (const effect of RULE_KINDS)
    perms[effect] = rules.filter((r) => r.effect === effect).map((r) => r.rule);

  return {
    settings: merged as ResolvedConfig['settings'],
    origins,
    rules,
    layers: reports,
    warnings,
    projectRoot,
    userDir,
    locate(path) {
      // An object (`plugins.x`) has no origin of its own: the last layer that wrote a key inside it wrote it.
      const inside = `${path.join('.')}.`;
      const under = Object.entries(origins)
        .filter(([key]) => key.startsWith(inside))
        .map(([, layer]) => layer)
        .sort((a, b) => LAYERS.indexOf(a) - LAYERS.indexOf(b))
        .pop();
      for (let n = path.length; n > 0; n--) {
        const layer = byName.get((origins[path.slice(0, n).join('.')] ?? under) as LayerName);
        if (layer?.doc) return layer.doc.locate(path);
        if (layer?.file) return { file: layer.file, key: path.join('.') };
      }
      return { file: 'settings', key: path.join('.') };
    },
  };
}
