import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as z from 'zod';
import { withCommandTools } from './command-tools.ts';
import type { Env, ResolvedConfig } from './config.ts';
import {
  type ErrorCode,
  ErrorCodes,
  errorMessage,
  formatLocation,
  IcodeError,
  type SourceLocation,
} from './errors.ts';
import { type FaultKind, type FaultScope, runAs } from './faults.ts';
import {
  createHookEmitter,
  createHookTaps,
  type HookEmitter,
  type HookName,
  type HookTaps,
  type KernelHooks,
} from './hooks.ts';
import { readInstalled } from './installed.ts';
import type { Problem } from './json.ts';
import {
  type HarnessPlugin,
  type PluginManifest,
  PluginManifestSchema,
  parsePluginManifest,
  readPluginFolder,
  semverSays,
} from './manifest.ts';
import { ManifestCache, type ReadManifest } from './manifest-cache.ts';
import { importModule } from './modules.ts';
import { isInside } from './paths.ts';
import { nearest } from './plugin-checks.ts';
import type { CommandOutcome, CommandRegistry, ServiceRegistry, ServiceType } from './registries.ts';
import type { CallOptions, ToolRegistry } from './tools.ts';
import type {
  Command,
  CommandContext,
  PluginStatus,
  SessionInfo,
  Tool,
  ToolCall,
  ToolDefinition,
  ToolResult,
} from './types.ts';

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** What a plugin's `activate` receives: everything it may use, nothing it may not. */
export interface PluginContext<C = Record<string, unknown>> {
  readonly name: string;
  readonly version: string;
  /** The plugin's own options (`plugins.<name>.config`), validated by its `config` schema. */
  readonly config: C;
  /** The effective settings of every layer, read-only. */
  readonly settings: ResolvedConfig['settings'];
  /** Which config layer each settings key path came from (`mcpServers.github` → `project`). */
  readonly origins: Readonly<ResolvedConfig['origins']>;
  /** Where a setting is written (file, line, column, key) — for errors about a plugin's own settings. */
  locate(path: readonly string[]): SourceLocation;
  readonly cwd: string;
  readonly projectRoot: string;
  /** The workspace: the project root and permissions.additionalDirectories, symlinks resolved. */
  readonly roots: readonly string[];
  /** The user's icode directory (`~/.icode`). */
  readonly userDir: string;
  /** The environment icode was started with (API keys, base URLs); read-only. */
  readonly env: Readonly<Env>;
  readonly hooks: HookTaps;
  /** Calls session and model hooks; only those listed in `contributes.emits`. */
  readonly emit: HookEmitter;
  readonly tools: {
    register(tool: Tool): void;
    /** Withdraws a tool this plugin registered (names under its `dynamicTools` prefixes come and go). */
    unregister(name: string): void;
    names(): string[];
    /** The plugin that registered a tool, or declared it in its manifest (a lazy plugin), by name or alias. */
    owner(name: string): string | undefined;
    /** Read-only and concurrency-safe: may run in parallel with other such calls. */
    concurrencySafe(name: string): boolean;
    definitions(session?: SessionInfo): Promise<ToolDefinition[]>;
    call(call: ToolCall, options: CallOptions): Promise<ToolResult>;
  };
  readonly commands: {
    register(command: Command): void;
    unregister(name: string): void;
    /** Every command that is on, with its owner and description (for /help and completion). */
    list(): Array<{ name: string; owner: string; description: string }>;
    /** Runs `/name args` (the UI's input); failures come back as text. */
    run(name: string, args: string, ctx: CommandContext): Promise<CommandOutcome>;
    /** A command, for its argument completion. */
    get(name: string): Promise<Command | undefined>;
  };
  /** Every plugin of the harness with its state (for /doctor, /plugins, /status). */
  plugins(): PluginStatus[];
  readonly services: {
    provide<K extends string>(name: K, impl: ServiceType<K>): void;
    get<K extends string>(name: K): Promise<ServiceType<K>>;
  };
  readonly health: {
    /** Reports that the plugin works only in part; `fix` tells the user what to do. */
    degraded(reason: string, fix?: string): void;
    ok(): void;
  };
  readonly log: Logger;
  /** What the permission rules say, for a plugin that enforces them elsewhere (bash's sandbox). */
  readonly permissions: {
    /**
     * Absolute paths and globs that `Read(...)` (`read`) or `Edit(...)` (`write`) deny rules cover, symlinks
     * resolved: a sandbox hides them, so a command cannot read what the file tools may not.
     */
    deniedPaths(access: 'read' | 'write'): string[];
    /**
     * Lets read-only tool calls read this exact file, outside the workspace though it is: for a file the
     * plugin itself wrote for the model to read back (a command's saved output). Symlinks are resolved.
     */
    grantRead(path: string): void;
    /** The paths under each workspace root that writes need approval for: one list for every tool and sandbox. */
    protectedPaths(): readonly string[];
  };
  /** Aborted when the plugin is deactivated or its activation times out. */
  readonly signal: AbortSignal;
  /** Runs at deactivation, in reverse order of registration. */
  onDispose(fn: () => unknown): void;
}

/** What a plugin module exports as default: see `definePlugin` in the SDK. */
export interface PluginDefinition<C extends z.ZodType = z.ZodType> {
  config?: C;
  activate(ctx: PluginContext<z.output<C>>): void | Promise<void>;
  deactivate?(): void | Promise<void>;
}

/** A first-party plugin compiled into icode. */
export interface BuiltinPlugin {
  file: string;
  manifest: unknown;
  load(): Promise<{ default: PluginDefinition }>;
}

interface PluginRecord {
  entry: HarnessPlugin;
  manifest?: PluginManifest;
  load?: () => Promise<PluginDefinition>;
  /** The module `load` imports, for a plugin from a folder (a lazy one's is checked at boot, not first use). */
  mainFile?: string;
  status: PluginStatus;
  warnings: Problem[];
  definition?: PluginDefinition;
  controller?: AbortController;
  disposers: Array<() => unknown>;
  /** What activate() registered, to compare with the manifest: tools with their modes, commands. */
  registered: { tool: Map<string, Tool['mode']>; command: Set<string> };
  activation?: Promise<void>;
  /** Entries into the plugin's code run in this scope, so its stray errors are laid at its door. */
  scope: FaultScope;
}

export interface HostDeps {
  hooks: KernelHooks;
  config: ResolvedConfig;
  cwd: string;
  roots: string[];
  env: Readonly<Env>;
  tools: ToolRegistry;
  commands: CommandRegistry;
  services: ServiceRegistry;
  log: (plugin: string, level: keyof Logger, message: string) => void;
  deniedPaths: (access: 'read' | 'write') => string[];
  grantRead: (path: string) => void;
  protectedPaths: () => readonly string[];
}

/** The version of the kernel API that plugins' `engines.icode` ranges are checked against. */
export const KERNEL_VERSION = '0.1.0';

const LIVE = new Set(['active', 'degraded']);

/**
 * Owns every plugin's lifecycle: resolve → validate → engines and dependency ranges → order → activate
 * under a timeout → health. One plugin failing never stops another; shutdown runs in reverse order.
 */
export class PluginHost {
  private readonly records = new Map<string, PluginRecord>();
  /** Every harness entry in order, duplicates included (failed), so every report shows them. */
  private readonly listed: PluginRecord[] = [];
  private readonly started: PluginRecord[] = [];
  private stopping?: Promise<void>;
  private readonly manifestCache: ManifestCache;

  constructor(private readonly deps: HostDeps) {
    this.manifestCache = ManifestCache.of(deps.config.userDir);
  }

  statuses(): PluginStatus[] {
    return this.listed.map((r) => ({ ...r.status }));
  }

  manifests(): Array<{ manifest?: PluginManifest; status: PluginStatus; warnings: Problem[] }> {
    return this.listed.map((r) => ({
      ...(r.manifest ? { manifest: r.manifest } : {}),
      status: { ...r.status },
      warnings: r.warnings,
    }));
  }

  /** Runs `fn` as the plugin's code, so a throw from it (an abort listener, say) is the plugin's. */
  runAs<T>(plugin: string, fn: () => T): T {
    const r = this.records.get(plugin);
    return r ? runAs(r.scope, fn) : fn();
  }

  isLive(plugin: string): boolean {
    const r = this.records.get(plugin);
    return Boolean(r && LIVE.has(r.status.state));
  }

  /** Which plugin declares a service in its manifest (so a lazy provider can be activated). */
  providerOf(service: string): string | undefined {
    for (const r of this.records.values()) {
      if (LIVE.has(r.status.state) && r.manifest?.contributes.services.includes(service))
        return r.status.name;
    }
    return undefined;
  }

  private setStatus(r: PluginRecord, patch: Partial<PluginStatus>): void {
    const { reason: _r, fix: _f, code: _c, ...kept } = r.status;
    r.status = { ...kept, ...patch };
    this.deps.hooks.pluginStatus.call({ ...r.status });
  }

  /** Marks a plugin failed; returns false so checks can `return this.fail(...)`. */
  private fail(r: PluginRecord, code: ErrorCode, reason: string, fix?: string): false {
    this.setStatus(r, { state: 'failed', code, reason, ...(fix ? { fix } : {}) });
    return false;
  }

  private resolve(entry: HarnessPlugin, builtins: Map<string, BuiltinPlugin>): PluginRecord {
    const status: PluginStatus = {
      name: entry.name,
      version: '',
      state: 'active',
      source: entry.path ?? 'builtin',
      activation: 'startup',
      activated: false,
    };
    const r = {
      entry,
      status,
      warnings: [],
      disposers: [],
      registered: { tool: new Map(), command: new Set() },
    } as unknown as PluginRecord;
    r.scope = { plugin: entry.name, fault: (error, kind) => this.fault(r, error, kind) };
    const mainInside = ({ manifest, file }: ReadManifest) => {
      const dir = dirname(file);
      if (isInside(resolve(dir, manifest.main), resolve(dir))) return;
      throw new IcodeError(
        ErrorCodes.MANIFEST_INVALID,
        `"main" (${manifest.main}) leaves the plugin folder`,
        'point "main" at a module inside the plugin folder',
        { file, key: 'main' },
      );
    };
    const fromFolder = (dir: string, read = this.manifestCache.read(dir, mainInside)) => {
      const { manifest, warnings } = read ?? readPluginFolder(dir);
      r.manifest = manifest;
      r.warnings = warnings;
      r.mainFile = join(dir, manifest.main);
      r.load = withCommandTools(
        manifest,
        dir,
        async () =>
          (await importModule<{ default: PluginDefinition }>(pathToFileURL(join(dir, manifest.main)).href))
            .default,
      );
    };
    try {
      const builtin = builtins.get(entry.name);
      const installed = join(this.deps.config.userDir, 'plugins', 'node_modules', entry.name);
      const fromInstalled =
        !entry.path && !builtin ? this.manifestCache.read(installed, mainInside) : undefined;
      if (entry.path) fromFolder(entry.path);
      else if (builtin) {
        // A built-in manifest is valid (the tests hold every one to the schema): validated as the object it
        // is; only a failing one goes through the text path, whose errors name the line and key.
        const quick = PluginManifestSchema.safeParse(builtin.manifest, { jitless: true });
        const parsed = quick.success
          ? { manifest: quick.data, warnings: [] }
          : parsePluginManifest(JSON.stringify(builtin.manifest, null, 2), builtin.file);
        r.manifest = parsed.manifest;
        r.warnings = parsed.warnings;
        r.load = async () => (await builtin.load()).default;
      } else if (fromInstalled) {
        status.source = installed;
        fromFolder(installed, fromInstalled);
      } else {
        const known = [...builtins.keys(), ...readInstalled(this.deps.config.userDir).map((p) => p.name)];
        const guess = nearest(entry.name, known);
        throw new IcodeError(
          ErrorCodes.PLUGIN_NOT_FOUND,
          `plugin "${entry.name}" is neither built in nor installed${guess ? `; did you mean "${guess}"?` : ''}`,
          `${guess ? `write "${guess}", or ` : ''}install it under ${join(this.deps.config.userDir, 'plugins')} or give the manifest entry a "path"`,
        );
      }
      const m = r.manifest!;
      status.version = m.version;
      status.activation = m.activation;
      if (m.name !== entry.name) {
        throw new IcodeError(
          ErrorCodes.MANIFEST_INVALID,
          `the folder for "${entry.name}" holds plugin "${m.name}"`,
          'make the harness manifest entry and plugin.json agree on the name',
        );
      }
    } catch (error) {
      const e =
        error instanceof IcodeError
          ? error
          : new IcodeError(ErrorCodes.MANIFEST_INVALID, errorMessage(error));
      const where = e.location ? `${formatLocation(e.location)}: ` : '';
      status.state = 'failed';
      status.code = e.code;
      status.reason = `${where}${e.message}`;
      if (e.fix) status.fix = e.fix;
    }
    return r;
  }

  /** Checks that do not run plugin code: versions, engines, dependencies, config switches. */
  private check(r: PluginRecord): boolean {
    const m = r.manifest;
    if (!m || r.status.state !== 'active') return false;
    const { name } = r.status;
    if (!semverSays('satisfies', m.version, r.entry.version)) {
      return this.fail(
        r,
        ErrorCodes.PLUGIN_VERSION,
        `the harness asks for ${name}@${r.entry.version}, found ${m.version}`,
        `install a version of ${name} in ${r.entry.version}, or widen the range in the harness manifest`,
      );
    }
    if (!semverSays('satisfies', KERNEL_VERSION, m.engines.icode)) {
      return this.fail(
        r,
        ErrorCodes.ENGINE_MISMATCH,
        `${name}@${m.version} needs icode ${m.engines.icode}, this is ${KERNEL_VERSION}`,
        `use a version of ${name} whose engines.icode includes ${KERNEL_VERSION}`,
      );
    }
    for (const [dep, range] of Object.entries(m.dependencies)) {
      const d = this.records.get(dep);
      if (!d?.manifest) {
        return this.fail(
          r,
          ErrorCodes.DEPENDENCY_MISSING,
          d
            ? `needs plugin "${dep}", which could not be loaded`
            : `needs plugin "${dep}" (${range}), which is not in this harness`,
          d ? `fix "${dep}" first (see its entry)` : `add "${dep}" to the harness manifest's plugins`,
        );
      }
      if (!semverSays('satisfies', d.manifest.version, range)) {
        return this.fail(
          r,
          ErrorCodes.DEPENDENCY_RANGE,
          `needs ${dep}@${range}, found ${d.manifest.version}`,
          `use a version of ${dep} in ${range}, or a version of ${name} that works with ${dep}@${d.manifest.version}`,
        );
      }
    }
    const setting = this.deps.config.settings.plugins[name]?.enabled;
    if (setting === false) {
      const loc = this.deps.config.locate(['plugins', name, 'enabled']);
      this.setStatus(r, {
        state: 'disabled',
        reason: `disabled by config (${formatLocation({ file: loc.file, ...(loc.line ? { line: loc.line } : {}) })})`,
      });
    }
    return true;
  }

  /** Dependency order, stable by manifest order; members of a cycle are failed. */
  private order(records: PluginRecord[]): PluginRecord[] {
    const pending = new Map(records.filter((r) => r.manifest).map((r) => [r.status.name, r]));
    const depsOf = (r: PluginRecord) => Object.keys(r.manifest!.dependencies).filter((d) => pending.has(d));
    const out: PluginRecord[] = [];
    const placed = new Set<string>();
    let progress = true;
    while (progress) {
      progress = false;
      for (const [name, r] of pending) {
        if (depsOf(r).every((d) => placed.has(d))) {
          out.push(r);
          placed.add(name);
          pending.delete(name);
          progress = true;
        }
      }
    }
    for (const cycle of findCycles(pending, depsOf)) {
      for (const name of cycle.slice(0, -1)) {
        const r = pending.get(name)!;
        if (r.status.state !== 'failed') {
          this.fail(
            r,
            ErrorCodes.DEPENDENCY_CYCLE,
            `dependency cycle: ${cycle.join(' → ')}`,
            'remove one of these dependencies',
          );
        }
      }
    }
    return [...out, ...pending.values(), ...records.filter((r) => !r.manifest)];
  }

  /** Reads every entry's manifest; a name listed twice is kept as a failed entry of its own. */
  private resolveAll(entries: HarnessPlugin[], builtins: Map<string, BuiltinPlugin>): void {
    for (const entry of entries) {
      const first = this.records.get(entry.name);
      const r = this.resolve(entry, builtins);
      this.listed.push(r);
      if (!first) {
        this.records.set(entry.name, r);
        continue;
      }
      // Kept as its own failed entry: the first one runs, and doctor, plugins list and -p all say so.
      const at = (e: HarnessPlugin) => (e.location?.line ? `line ${e.location.line}` : 'earlier');
      this.fail(
        r,
        ErrorCodes.DUPLICATE_PLUGIN,
        `plugin "${entry.name}" is listed twice in the harness manifest${entry.location ? ` (${entry.location.file}${entry.location.line ? `:${entry.location.line}` : ''})` : ''}; the first entry (${at(first.entry)}) is the one used`,
        'remove the second entry from "plugins"',
      );
    }
  }

  /** Resolves, checks, orders and activates the harness's plugins. Never throws for a plugin's fault. */
  async boot(
    entries: HarnessPlugin[],
    builtins: Map<string, BuiltinPlugin>,
    { activate = true }: { activate?: boolean } = {},
  ): Promise<PluginStatus[]> {
    try {
      this.resolveAll(entries, builtins);
    } finally {
      // Written once the manifests are read, before any plugin code runs.
      this.manifestCache.save();
    }
    for (const r of this.order([...this.records.values()])) {
      this.check(r);
      const blocker = Object.keys(r.manifest?.dependencies ?? {})
        .map((d) => this.records.get(d)!)
        .find((d) => d && !LIVE.has(d.status.state));
      if (blocker && LIVE.has(r.status.state)) {
        this.setStatus(r, {
          state: 'disabled',
          reason: `dependency "${blocker.status.name}" is ${blocker.status.state}`,
          fix: `fix or enable "${blocker.status.name}" (see its entry)`,
        });
      }
      if (!LIVE.has(r.status.state) || !activate) continue;
      if (r.manifest!.activation === 'lazy') this.registerLazy(r);
      else await this.activate(r);
    }
    return this.statuses();
  }

  private registerLazy(r: PluginRecord): void {
    const m = r.manifest!;
    // Its code is not loaded until first use, but a module that is not there at all (a plugin folder not
    // built yet) is said now, not as a failing first call.
    const coded = m.contributes.tools.some((t) => !t.command) || m.contributes.commands.length > 0;
    if (coded && r.mainFile && !existsSync(r.mainFile)) {
      this.fail(
        r,
        ErrorCodes.LOAD_FAILED,
        `${m.main} does not exist`,
        'build the plugin (npm run build in its folder), or install it again',
      );
      return;
    }
    try {
      for (const t of m.contributes.tools) {
        this.deps.tools.registerLazy(r.status.name, {
          name: t.name,
          description: t.description!,
          inputSchema: t.inputSchema!,
          ...(t.aliases ? { aliases: t.aliases } : {}),
          ...(t.mode ? { mode: t.mode } : {}),
        });
      }
      for (const c of m.contributes.commands)
        this.deps.commands.registerLazy(r.status.name, c.name, c.description);
    } catch (error) {
      this.rollback(r);
      const code = error instanceof IcodeError ? error.code : ErrorCodes.ACTIVATE_FAILED;
      this.fail(r, code, errorMessage(error), error instanceof IcodeError ? error.fix : undefined);
    }
  }

  /** Activates a lazy plugin on first use; rejects with its failure if it cannot work. */
  async ensureActive(plugin: string): Promise<void> {
    const r = this.records.get(plugin);
    if (!r) throw new IcodeError(ErrorCodes.PLUGIN_NOT_FOUND, `no plugin "${plugin}"`);
    await this.activate(r);
    if (!LIVE.has(r.status.state)) {
      throw new IcodeError(
        (r.status.code as ErrorCode) ?? ErrorCodes.ACTIVATE_FAILED,
        `plugin "${plugin}" is ${r.status.state}: ${r.status.reason}`,
      );
    }
  }

  private activate(r: PluginRecord): Promise<void> {
    if (r.status.activated || !LIVE.has(r.status.state)) return Promise.resolve();
    r.activation ??= this.runActivation(r);
    return r.activation;
  }

  private async runActivation(r: PluginRecord): Promise<void> {
    const m = r.manifest!;
    const { name } = r.status;
    try {
      // The module's own top-level code (its timers, its imports' side effects) is the plugin's too.
      r.definition = await runAs(r.scope, () => r.load!());
      if (typeof r.definition?.activate !== 'function') {
        throw new IcodeError(
          ErrorCodes.LOAD_FAILED,
          `${m.main} does not export a plugin (default export with activate)`,
          'export default definePlugin({ activate(ctx) { ... } }) from the plugin module',
        );
      }
    } catch (error) {
      const e = error instanceof IcodeError ? error : undefined;
      this.fail(
        r,
        e?.code ?? ErrorCodes.LOAD_FAILED,
        `could not load ${m.main}: ${errorMessage(error)}`,
        e?.fix,
      );
      return;
    }
    const raw = this.deps.config.settings.plugins[name]?.config ?? {};
    const parsed = (r.definition.config ?? z.record(z.string(), z.unknown())).safeParse(raw, {
      jitless: true,
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const path = ['plugins', name, 'config', ...issue.path.map(String)];
      this.fail(
        r,
        ErrorCodes.CONFIG_INVALID,
        `${formatLocation(this.deps.config.locate(path))}: ${issue.message}`,
        `correct plugins.${name}.config in your settings`,
      );
      return;
    }
    r.controller = new AbortController();
    const ctx = this.context(r, parsed.data as Record<string, unknown>, r.controller.signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new IcodeError(
              ErrorCodes.ACTIVATE_TIMEOUT,
              `activate() did not finish within ${m.timeoutMs} ms`,
              `find what activate() waits for, or raise "timeoutMs" in ${name}'s plugin.json`,
            ),
          ),
        m.timeoutMs,
      );
    });
    try {
      await Promise.race([
        Promise.resolve().then(() => runAs(r.scope, () => r.definition!.activate(ctx))),
        timeout,
      ]);
      this.compareWithManifest(r);
      r.status.activated = true;
      this.started.push(r);
      this.deps.hooks.pluginStatus.call({ ...r.status });
    } catch (error) {
      const e = error instanceof IcodeError ? error : undefined;
      r.controller.abort();
      this.rollback(r);
      await this.dispose(r);
      this.fail(
        r,
        e?.code ?? ErrorCodes.ACTIVATE_FAILED,
        e ? e.message : `activate() threw: ${errorMessage(error)}`,
        e?.fix,
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Everything plugin.json declares must be registered, as declared: users and `icode plugins list` read the
   * manifest (a lazy plugin's tools stand in from it), so a tool the code gives another mode or a name
   * spelt differently fails the plugin with the difference, not a surprise at the first call.
   */
  private compareWithManifest(r: PluginRecord): void {
    const m = r.manifest!;
    const { name } = r.status;
    const { tools, commands, services } = this.deps;
    // Names registered beyond the declared ones (allowed by a dynamic prefix): one close to a missing name
    // is most likely that name misspelt.
    const declared = new Set([...m.contributes.tools, ...m.contributes.commands].map((x) => x.name));
    const extra = {
      tool: [...r.registered.tool.keys()].filter((t) => !declared.has(t)),
      command: [...r.registered.command].filter((c) => !declared.has(c)),
    };
    const missing = (kind: 'tool' | 'command', item: string) => {
      const guess = nearest(item, extra[kind]);
      return `${kind} ${item}${guess ? ` (activate() registered "${guess}")` : ''}`;
    };
    const absent = [
      ...m.contributes.tools.filter((t) => tools.owner(t.name) !== name).map((t) => missing('tool', t.name)),
      ...m.contributes.commands
        .filter((c) => commands.owner(c.name) !== name)
        .map((c) => missing('command', c.name)),
      ...m.contributes.services.filter((sv) => services.owner(sv) !== name).map((sv) => `service ${sv}`),
    ];
    const modes = m.contributes.tools.flatMap((t) => {
      const mode = r.registered.tool.get(t.name);
      return t.mode && typeof mode === 'string' && mode !== t.mode
        ? [`tool ${t.name} is ${t.mode} in plugin.json but ${mode} in the code`]
        : [];
    });
    if (absent.length) {
      throw new IcodeError(
        ErrorCodes.CONTRIBUTION_MISSING,
        `plugin.json declares ${absent.join(', ')} but activate() did not register it${modes.length ? `; ${modes.join('; ')}` : ''}`,
        'register everything the manifest declares, under the same names, or remove it from "contributes"',
      );
    }
    if (modes.length) {
      throw new IcodeError(
        ErrorCodes.UNDECLARED_CONTRIBUTION,
        `${modes.join('; ')}`,
        `make plugin.json's "mode" and the tool's mode agree (the manifest is what users review before the code runs)`,
      );
    }
  }

  /**
   * An error the plugin's own code threw or rejected with outside any call the kernel awaited (a timer,
   * a callback, a promise nobody awaited): the plugin is failed and its contributions withdrawn; every
   * other plugin, and the run, go on.
   */
  private fault(r: PluginRecord, error: unknown, kind: FaultKind): void {
    const reason = `${kind} in plugin "${r.status.name}": ${errorMessage(error)}`;
    this.deps.log(r.status.name, 'error', reason);
    if (!LIVE.has(r.status.state)) return;
    r.controller?.abort();
    this.rollback(r);
    this.fail(
      r,
      ErrorCodes.PLUGIN_FAULT,
      reason,
      `report this to the author of ${r.status.name}, or disable it with plugins.${r.status.name}.enabled: false`,
    );
  }

  private rollback(r: PluginRecord): void {
    r.registered.tool.clear();
    r.registered.command.clear();
    this.deps.tools.unregisterOwner(r.status.name);
    this.deps.commands.unregisterOwner(r.status.name);
    this.deps.services.unregisterOwner(r.status.name);
  }

  private async dispose(r: PluginRecord): Promise<void> {
    for (const fn of r.disposers.splice(0).reverse()) {
      try {
        await runAs(r.scope, fn);
      } catch (error) {
        this.deps.log(r.status.name, 'error', `dispose failed: ${errorMessage(error)}`);
      }
    }
  }

  private context(r: PluginRecord, config: Record<string, unknown>, signal: AbortSignal): PluginContext {
    const { name } = r.status;
    const m = r.manifest!;
    const { deps } = this;
    const { contributes } = m;
    const names = {
      tool: contributes.tools.map((t) => t.name),
      command: contributes.commands.map((c) => c.name),
      service: contributes.services,
      hook: contributes.hooks as string[],
      emit: contributes.emits as string[],
    };
    const prefixes: Partial<Record<keyof typeof names, string[]>> = {
      tool: contributes.dynamicTools,
      command: contributes.dynamicCommands,
    };
    const declared = (kind: keyof typeof names, item: string) => {
      if (!names[kind].includes(item) && !prefixes[kind]?.some((p) => p === '*' || item.startsWith(p))) {
        const guess = nearest(item, names[kind]);
        throw new IcodeError(
          ErrorCodes.UNDECLARED_CONTRIBUTION,
          `plugin "${name}" registers ${kind} "${item}", which its plugin.json does not declare${guess ? ` (it declares "${guess}": the names must match exactly)` : ''}`,
          guess
            ? `use one spelling, "${guess}" or "${item}", in both plugin.json and the code`
            : `add "${item}" to contributes.${kind}s in plugin.json`,
        );
      }
    };
    const hookSwitch = (hook: HookName) => deps.config.settings.plugins[name]?.hooks?.[hook] !== false;
    const hooks = createHookTaps(deps.hooks, {
      plugin: name,
      isLive: (hook) => LIVE.has(r.status.state) && hookSwitch(hook),
      onError: (hook, error) => {
        const reason = `plugin "${name}" failed in hook ${hook}: ${errorMessage(error)}`;
        deps.log(name, 'error', reason);
        if (r.status.state === 'active' || r.status.state === 'degraded') {
          this.setStatus(r, {
            state: 'degraded',
            reason,
            fix: `report this to the author of ${name}, or disable it with plugins.${name}.enabled: false`,
          });
        }
      },
      checkDeclared: (hook) => declared('hook', hook),
      run: (fn) => runAs(r.scope, fn),
      timeoutMs: m.hookTimeoutMs,
    });
    const logger = Object.fromEntries(
      (['debug', 'info', 'warn', 'error'] as const).map((level) => [
        level,
        (msg: string) => deps.log(name, level, msg),
      ]),
    ) as unknown as Logger;
    return Object.freeze({
      name,
      version: m.version,
      config,
      settings: deps.config.settings,
      origins: deps.config.origins,
      locate: (path: readonly string[]) => deps.config.locate(path),
      cwd: deps.cwd,
      projectRoot: deps.config.projectRoot,
      roots: deps.roots,
      permissions: Object.freeze({
        deniedPaths: (access: 'read' | 'write') => deps.deniedPaths(access),
        grantRead: (path: string) => deps.grantRead(path),
        protectedPaths: () => deps.protectedPaths(),
      }),
      userDir: deps.config.userDir,
      env: deps.env,
      hooks,
      emit: createHookEmitter(deps.hooks, (hook) => declared('emit', hook)),
      tools: Object.freeze({
        register: (tool: Tool) => {
          declared('tool', tool.name);
          deps.tools.register(name, scopedMethods(tool, r.scope));
          r.registered.tool.set(tool.name, tool.mode);
        },
        unregister: (tool: string) => {
          deps.tools.unregister(name, tool);
          r.registered.tool.delete(tool);
        },
        names: () => deps.tools.names(),
        owner: (tool: string) => deps.tools.declaredBy(tool),
        concurrencySafe: (tool: string) => deps.tools.concurrencySafe(tool),
        definitions: (session?: SessionInfo) => deps.tools.definitions(session),
        call: (call: ToolCall, options: CallOptions) => deps.tools.call(call, options),
      }),
      commands: Object.freeze({
        register: (command: Command) => {
          declared('command', command.name);
          deps.commands.register(name, scopedMethods(command, r.scope));
          r.registered.command.add(command.name);
        },
        unregister: (command: string) => {
          deps.commands.unregister(name, command);
          r.registered.command.delete(command);
        },
        list: () => deps.commands.list(),
        run: (command: string, args: string, cctx: CommandContext) => deps.commands.run(command, args, cctx),
        get: (command: string) => deps.commands.get(command),
      }),
      plugins: () => this.statuses(),
      services: Object.freeze({
        provide: (service: string, impl: unknown) => {
          declared('service', service);
          deps.services.provide(name, service, scopedMethods(impl, r.scope));
        },
        get: (service: string) => deps.services.get(service),
      }) as PluginContext['services'],
      health: Object.freeze({
        degraded: (reason: string, fix?: string) => {
          if (LIVE.has(r.status.state))
            this.setStatus(r, { state: 'degraded', reason, ...(fix ? { fix } : {}) });
        },
        ok: () => {
          if (LIVE.has(r.status.state)) this.setStatus(r, { state: 'active' });
        },
      }),
      log: logger,
      signal,
      onDispose: (fn: () => unknown) => {
        r.disposers.push(fn);
      },
    });
  }

  /** Deactivates every started plugin in reverse order of activation. Safe to call twice. */
  shutdown(): Promise<void> {
    this.stopping ??= (async () => {
      for (const r of this.started.splice(0).reverse()) {
        r.controller?.abort();
        try {
          await withTimeout(
            Promise.resolve().then(() => runAs(r.scope, () => r.definition?.deactivate?.())),
            r.manifest!.timeoutMs,
          );
        } catch (error) {
          this.deps.log(r.status.name, 'error', `deactivate failed: ${errorMessage(error)}`);
        }
        await this.dispose(r);
        r.status.activated = false;
      }
    })();
    return this.stopping;
  }
}

/** A tool, command or service whose methods run as its plugin's code, whoever calls them. */
function scopedMethods<T>(impl: T, scope: FaultScope): T {
  if (!impl || typeof impl !== 'object') return impl;
  return new Proxy(impl, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      return typeof value === 'function'
        ? (...args: unknown[]) => runAs(scope, () => value.apply(target, args))
        : value;
    },
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Every elementary cycle reachable in `nodes`, each as a path that ends where it starts. */
function findCycles<T>(nodes: Map<string, T>, depsOf: (n: T) => string[]): string[][] {
  const cycles: string[][] = [];
  const done = new Set<string>();
  const visit = (name: string, stack: string[]) => {
    const at = stack.indexOf(name);
    if (at >= 0) {
      cycles.push([...stack.slice(at), name]);
      return;
    }
    if (done.has(name)) return;
    done.add(name);
    for (const d of depsOf(nodes.get(name)!)) visit(d, [...stack, name]);
  };
  for (const name of nodes.keys()) visit(name, []);
  return cycles;
}
