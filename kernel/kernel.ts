import { homedir } from 'node:os';
import {
  type Env,
  type LoadConfigOptions,
  loadConfig,
  type ResolvedConfig,
  type Settings,
} from './config.ts';
import { createHooks, type KernelHooks, type ShutdownInfo } from './hooks.ts';
import { type BuiltinPlugin, type Logger, PluginHost } from './host.ts';
import { readInstalled, withInstalled } from './installed.ts';
import type { Problem } from './json.ts';
import type { HarnessManifest } from './manifest.ts';
import { resolveReal } from './paths.ts';
import { PermissionGate } from './permissions.ts';
import { type HarnessProblem, harnessProblems, settingsWarnings } from './plugin-checks.ts';
import { CommandRegistry, ServiceRegistry } from './registries.ts';
import { type CallOptions, ToolRegistry } from './tools.ts';
import type { PermissionMode, PluginStatus, ToolCall, ToolResult } from './types.ts';

export interface KernelOptions {
  cwd: string;
  home?: string;
  env?: Env;
  manifest: HarnessManifest;
  builtins?: BuiltinPlugin[];
  /** Settings from command-line flags (the top config layer). */
  cli?: Settings;
  /** Where plugin log lines go; by default only to stderr when ICODE_DEBUG is set. */
  log?: (line: string) => void;
  /**
   * Whether the installed plugins the settings switch on join the manifest's (default true). A composition
   * icode boots for its own work (the mock server of `--mock`, the scenario runner) leaves them out.
   */
  installed?: boolean;
}

export interface BootReport {
  manifest: { name: string; file: string };
  plugins: PluginStatus[];
  warnings: Problem[];
  /** What stops the harness as a whole from working (no plugin provides `model`), with the fix. */
  problems: HarnessProblem[];
}

/**
 * The microkernel: typed hooks, the plugin host, layered config, the permission gate and the registries.
 * Everything else is a plugin.
 */
export class Kernel {
  readonly hooks: KernelHooks = createHooks();
  readonly tools: ToolRegistry;
  readonly commands: CommandRegistry;
  readonly services: ServiceRegistry;
  readonly gate: PermissionGate;
  readonly host: PluginHost;
  readonly cwd: string;
  /** The workspace: the project root and any `permissions.additionalDirectories`, symlinks resolved. */
  readonly roots: string[];
  readonly logs: string[] = [];
  private booted?: Promise<BootReport>;
  private stopped?: Promise<void>;

  private constructor(
    readonly config: ResolvedConfig,
    private readonly options: KernelOptions,
  ) {
    const home = options.home ?? homedir();
    this.cwd = resolveReal(options.cwd, '/');
    // Frozen, with the permission settings: plugins see these, and none may widen the workspace.
    this.roots = Object.freeze(
      [config.projectRoot, ...config.settings.permissions.additionalDirectories].map((d) =>
        resolveReal(d, config.projectRoot, home),
      ),
    ) as string[];
    deepFreeze(config.settings.permissions);
    const host: { current?: PluginHost } = {};
    const ensureActive = (p: string) => host.current!.ensureActive(p);
    const switchedOn = (kind: 'tools' | 'commands') => (p: string, name: string) =>
      host.current!.isLive(p) && config.settings.plugins[p]?.[kind]?.[name] !== false;
    const runAs = <T>(p: string, fn: () => T) => host.current!.runAs(p, fn);
    this.tools = new ToolRegistry(this.hooks, { ensureActive, isEnabled: switchedOn('tools'), runAs });
    this.commands = new CommandRegistry({ ensureActive, isEnabled: switchedOn('commands'), runAs });
    this.services = new ServiceRegistry((s) => host.current!.providerOf(s), ensureActive);
    this.host = host.current = new PluginHost({
      hooks: this.hooks,
      config,
      cwd: this.cwd,
      roots: this.roots,
      env: Object.freeze({ ...(options.env ?? process.env) }),
      tools: this.tools,
      commands: this.commands,
      services: this.services,
      log: (plugin, level, message) => this.log(plugin, level, message),
      deniedPaths: (access) => this.gate.deniedPaths(access),
      grantRead: (path) => this.gate.confinement.grantRead(resolveReal(path, '/')),
      protectedPaths: () => this.gate.confinement.protectedPaths,
    });
    // Rules name tools by alias (`Bash`), resolved when judged, so lazy and late tools are covered too.
    this.gate = new PermissionGate({
      rules: config.rules,
      projectRoot: config.projectRoot,
      home,
      hooks: this.hooks,
      canonicalTool: (name) => this.tools.canonical(name),
      ruleNames: (tool) => this.tools.ruleNames(tool),
      protectedPaths: protectedPaths(config.settings),
    });
    this.tools.setGate(this.gate);
    this.tools.setTimeouts(config.settings.toolTimeouts);
  }

  /** Loads the config layers (throwing an IcodeError that names file, line and key) and builds a kernel. */
  static async create(options: KernelOptions): Promise<Kernel> {
    const m = options.manifest;
    const configOptions: LoadConfigOptions = {
      cwd: options.cwd,
      ...(options.home ? { home: options.home } : {}),
      ...(options.env ? { env: options.env } : {}),
      ...(options.cli ? { cli: options.cli } : {}),
      ...(m.config ? { manifest: { file: m.file, settings: m.config, doc: m.doc } } : {}),
    };
    return new Kernel(await loadConfig(configOptions), options);
  }

  private log(plugin: string, level: keyof Logger, message: string): void {
    const line = `[${level}] ${plugin}: ${message}`;
    this.logs.push(line);
    if (this.logs.length > 500) this.logs.shift();
    if (this.options.log) this.options.log(line);
    else if ((this.options.env ?? process.env).ICODE_DEBUG) process.stderr.write(`${line}\n`);
  }

  get sessionMode(): PermissionMode {
    return this.config.settings.permissions.defaultMode ?? 'prompt';
  }

  /** The harness manifest's plugins (with where each is listed) and the installed plugins config switches on. */
  private plugins() {
    const { plugins, doc } = this.options.manifest;
    const listed = plugins.map((p, i) => ({ ...p, location: doc.locate(['plugins', i]) }));
    if (this.options.installed === false) return listed;
    return withInstalled(listed, this.config.userDir, (name) => this.config.settings.plugins[name]?.enabled);
  }

  /** Every plugin name this icode could run: built in, installed, or listed by the harness manifest. */
  knownPlugins(): string[] {
    return [
      ...new Set([
        ...this.options.manifest.plugins.map((p) => p.name),
        ...this.builtinMap().keys(),
        ...readInstalled(this.config.userDir).map((p) => p.name),
      ]),
    ];
  }

  private builtinMap() {
    return new Map((this.options.builtins ?? []).map((b) => [nameOf(b), b]));
  }

  private report(): BootReport {
    const harness = this.host.manifests();
    const { file } = this.options.manifest;
    const seen = new Set<string>();
    // A name listed twice is reported once: its first entry's warnings.
    const first = harness.filter((p) => !seen.has(p.status.name) && seen.add(p.status.name));
    return {
      manifest: { name: this.options.manifest.name, file },
      plugins: this.host.statuses(),
      warnings: [
        ...this.options.manifest.warnings,
        ...this.config.warnings,
        ...first.flatMap((p) => p.warnings),
        ...settingsWarnings(this.config, harness, this.knownPlugins()),
      ],
      problems: harnessProblems(harness, file),
    };
  }

  /**
   * Runs every check that needs no plugin code (manifests, engines, dependencies, config switches) and
   * reports, without activating anything: what `icode plugins list` shows. Use instead of boot().
   */
  async inspect(): Promise<BootReport> {
    await this.host.boot(this.plugins(), this.builtinMap(), { activate: false });
    return this.report();
  }

  /** Boots the manifest's plugins once; later calls return the same report. */
  boot(): Promise<BootReport> {
    this.booted ??= (async () => {
      const plugins = await this.host.boot(this.plugins(), this.builtinMap());
      await this.hooks.configResolved.promise(this.config.settings);
      await this.hooks.ready.promise({ plugins });
      return this.report();
    })();
    return this.booted;
  }

  /** Runs one tool call through the whole contract (see {@link ToolRegistry.call}). */
  callTool(call: ToolCall, options: Partial<CallOptions> = {}): Promise<ToolResult> {
    return this.tools.call(call, {
      sessionMode: this.sessionMode,
      cwd: this.cwd,
      roots: this.roots,
      ...options,
    });
  }

  /** Calls the `shutdown` hook, then deactivates plugins in reverse order of activation. Runs once. */
  shutdown(reason: ShutdownInfo['reason'] = 'exit'): Promise<void> {
    this.stopped ??= this.hooks.shutdown.promise({ reason }).then(() => this.host.shutdown());
    return this.stopped;
  }

  /** Shuts down cleanly on SIGINT/SIGTERM, then exits 130/143. Returns a function that removes the handlers. */
  handleSignals(exit: (code: number) => void = (code) => process.exit(code)): () => void {
    const on = (signal: 'SIGINT' | 'SIGTERM', code: number) => () => {
      void this.shutdown(signal).finally(() => exit(code));
    };
    const int = on('SIGINT', 130);
    const term = on('SIGTERM', 143);
    process.once('SIGINT', int);
    process.once('SIGTERM', term);
    return () => {
      process.off('SIGINT', int);
      process.off('SIGTERM', term);
    };
  }
}

function nameOf(b: BuiltinPlugin): string {
  return (b.manifest as { name?: string }).name ?? b.file;
}

/**
 * The protected paths settings add to the defaults: `permissions.protectedPaths`, and the setting of the
 * workspace-guard plugin that once held the boundary (`plugins.workspace-guard.config.protectedPaths`).
 * Neither can remove a default: a cloned project's settings must not unprotect `.git` or `.icode`.
 */
function protectedPaths(settings: Settings): string[] {
  const legacy = settings.plugins?.['workspace-guard']?.config?.protectedPaths;
  const fromPlugin = Array.isArray(legacy) ? legacy.filter((p): p is string => typeof p === 'string') : [];
  return [...(settings.permissions?.protectedPaths ?? []), ...fromPlugin];
}

function deepFreeze(value: unknown): void {
  if (!value || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
}
