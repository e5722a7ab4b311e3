import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import semver from 'semver';
import * as z from 'zod';
import { SettingsSchema } from './config.ts';
import { ErrorCodes, IcodeError, type SourceLocation } from './errors.ts';
import { EMITTABLE, HOOK_NAMES } from './hooks.ts';
import {
  type JsonDocument,
  type Problem,
  parseJsonDocument,
  throwIfInvalid,
  validateDocument,
} from './json.ts';

const NAME = /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const PluginName = z
  .string()
  .regex(NAME, 'must be a lowercase npm-style name such as "file-tools" or "@acme/lint"');
/**
 * semver's answers, remembered per process: every built-in plugin asks the same questions (is `0.1.0` a
 * version, `^0.1.0` a range, does `0.1.0` satisfy it), and each costs a parse. Prereleases are included.
 */
const answers = new Map<string, boolean>();
export function semverSays(question: 'version' | 'range' | 'satisfies', a: string, b = ''): boolean {
  const key = `${question} ${a} ${b}`;
  let yes = answers.get(key);
  if (yes === undefined) {
    yes =
      question === 'version'
        ? semver.valid(a) !== null
        : question === 'range'
          ? semver.validRange(a) !== null
          : semver.satisfies(a, b, { includePrerelease: true });
    answers.set(key, yes);
  }
  return yes;
}
const Version = z.string().refine((v) => semverSays('version', v), 'must be a semver version such as 1.0.0');
const Range = z.string().refine((v) => semverSays('range', v), 'must be a semver range such as ^1.2.0');
const ToolMode = z.enum(['read-only', 'workspace-write', 'danger-full-access']);

const ContributedTool = z.strictObject({
  name: z.string().regex(TOOL_NAME, 'tool names are 1-64 letters, digits, _ or -'),
  aliases: z.array(z.string().regex(TOOL_NAME)).optional(),
  description: z.string().optional(),
  mode: ToolMode.optional(),
  /** JSON Schema of the input; required for lazy plugins, whose code is not loaded until first use. */
  inputSchema: z.record(z.string(), z.unknown()).optional(),
  /**
   * A command tool: this executable (relative to the plugin folder, or on PATH) gets the input as JSON on
   * stdin and prints the result; exit 0 is success, anything else an error with its stderr. Any language.
   */
  command: z.string().min(1).optional(),
  args: z.array(z.string()).optional(),
  /** The mode a command tool needs (the reference harness's name for `mode`); default workspace-write. */
  requiredPermission: ToolMode.optional(),
  /** How long a command tool may run (default 60 s). */
  timeoutMs: z.number().int().positive().max(600_000).optional(),
});

/** `plugin.json`: everything the host needs to know about a plugin without running its code. */
export const PluginManifestSchema = z
  .strictObject({
    $schema: z.string().optional(),
    name: PluginName,
    version: Version,
    description: z.string().optional(),
    /** The ES module to import, relative to the plugin folder. */
    main: z.string().default('index.js'),
    engines: z.strictObject({ icode: Range }),
    /** Other plugins this one needs, with the versions it works with. */
    dependencies: z.record(PluginName, Range).default({}),
    contributes: z
      .strictObject({
        tools: z.array(ContributedTool).default([]),
        commands: z
          .array(z.strictObject({ name: z.string().min(1), description: z.string().optional() }))
          .default([]),
        hooks: z.array(z.enum(HOOK_NAMES)).default([]),
        /** Session and model hooks this plugin calls (it runs sessions). */
        emits: z.array(z.enum(EMITTABLE)).default([]),
        services: z.array(z.string().min(1)).default([]),
        /**
         * Name prefixes of tools and commands only known at run time (an MCP server's tools are
         * `mcp__<server>__<tool>`): the plugin may register and withdraw any name that starts with one.
         */
        dynamicTools: z
          .array(z.string().regex(/^[a-zA-Z0-9_-]+$/, 'a tool name prefix such as "mcp__"'))
          .default([]),
        dynamicCommands: z
          .array(z.string().regex(/^([a-zA-Z0-9_:-]+|\*)$/, 'a command name prefix, or * for any name'))
          .default([]),
      })
      .default({
        tools: [],
        commands: [],
        hooks: [],
        emits: [],
        services: [],
        dynamicTools: [],
        dynamicCommands: [],
      }),
    /** `startup` activates at boot; `lazy` on first use of a contributed tool, command or service. */
    activation: z.enum(['startup', 'lazy']).default('startup'),
    /** How long activate() may take before the plugin is failed with ICODE_ERR_ACTIVATE_TIMEOUT. */
    timeoutMs: z.number().int().positive().max(120_000).default(5_000),
    /**
     * How long one of its hook taps may take before it is skipped (the plugin degraded; a permission
     * hook's tap denies). permissionPrompt has none: it waits for a person.
     */
    hookTimeoutMs: z.number().int().positive().max(3_600_000).default(120_000),
    /** What the plugin's code does outside the permission gate; shown to the user on install. */
    capabilities: z.array(z.enum(['fs.read', 'fs.write', 'process.spawn', 'net'])).default([]),
  })
  .superRefine((m, ctx) => {
    if (m.activation !== 'lazy') return;
    m.contributes.tools.forEach((t, i) => {
      if (!t.description || !t.inputSchema) {
        ctx.addIssue({
          code: 'custom',
          path: ['contributes', 'tools', i],
          message: `lazy plugins must give tool "${t.name}" a description and an inputSchema in the manifest`,
        });
      }
    });
  });
export type PluginManifest = z.output<typeof PluginManifestSchema>;

const HarnessEntry = z.union([
  PluginName,
  z.strictObject({
    name: PluginName,
    version: Range.default('*'),
    /** A plugin folder, relative to the harness manifest. Without it, built-in then installed plugins. */
    path: z.string().optional(),
  }),
]);

/** A harness manifest (`manifests/*.json`): which plugins make up this harness, and its config. */
export const HarnessManifestSchema = z.strictObject({
  $schema: z.string().optional(),
  name: z.string().min(1),
  description: z.string().optional(),
  plugins: z.array(HarnessEntry),
  config: SettingsSchema.optional(),
});

export interface HarnessPlugin {
  name: string;
  version: string;
  path?: string;
  /** Where the harness manifest lists it (the kernel adds it), for errors about the entry: a duplicate. */
  location?: SourceLocation;
}
export interface HarnessManifest {
  name: string;
  description?: string;
  file: string;
  plugins: HarnessPlugin[];
  config?: z.output<typeof SettingsSchema>;
  doc: JsonDocument;
  warnings: Problem[];
}

/** Reads and validates a harness manifest; errors name the file, line and key. */
export function loadHarnessManifest(file: string, text = readManifestText(file)): HarnessManifest {
  const doc = parseJsonDocument(text, file, ErrorCodes.MANIFEST_INVALID);
  const v = validateDocument(doc, HarnessManifestSchema);
  const m = throwIfInvalid(v, ErrorCodes.MANIFEST_INVALID, 'correct the harness manifest at that line');
  const base = dirname(file);
  const plugins = m.plugins.map((p) =>
    typeof p === 'string'
      ? { name: p, version: '*' }
      : { name: p.name, version: p.version, ...(p.path ? { path: resolve(base, p.path) } : {}) },
  );
  return {
    name: m.name,
    ...(m.description ? { description: m.description } : {}),
    file,
    plugins,
    ...(m.config ? { config: m.config } : {}),
    doc,
    warnings: v.warnings,
  };
}

function readManifestText(file: string): string {
  if (!existsSync(file)) {
    throw new IcodeError(
      ErrorCodes.MANIFEST_INVALID,
      `harness manifest not found: ${file}`,
      'pass the path of a manifest file, e.g. --manifest manifests/minimal.json',
    );
  }
  return readFileSync(file, 'utf8');
}

/** Validates a plugin manifest given as text (from `plugin.json`). */
export function parsePluginManifest(
  text: string,
  file: string,
): { manifest: PluginManifest; warnings: Problem[] } {
  const doc = parseJsonDocument(text, file, ErrorCodes.MANIFEST_INVALID);
  const v = validateDocument(doc, PluginManifestSchema);
  const manifest = throwIfInvalid(v, ErrorCodes.MANIFEST_INVALID, 'correct plugin.json at that line');
  return { manifest, warnings: v.warnings };
}

/** Reads `plugin.json` from a plugin folder. */
export function readPluginFolder(dir: string): {
  manifest: PluginManifest;
  warnings: Problem[];
  file: string;
} {
  const file = join(dir, 'plugin.json');
  if (!existsSync(file)) {
    throw new IcodeError(
      ErrorCodes.PLUGIN_NOT_FOUND,
      `no plugin.json in ${dir}`,
      'point the manifest entry at a folder that holds a plugin.json',
    );
  }
  return { ...parsePluginManifest(readFileSync(file, 'utf8'), file), file };
}
