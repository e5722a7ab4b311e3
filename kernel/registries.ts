import { ErrorCodes, errorMessage, IcodeError } from './errors.ts';
import type { Command, CommandContext, CommandResult, ModelService } from './types.ts';

/** How a registry reaches the plugin host: to load a lazy plugin, and to honour config switches. */
export interface ContributionHost {
  /** Activates a lazy plugin; rejects with the reason if it cannot be activated. */
  ensureActive(plugin: string): Promise<void>;
  /** False when config switched the contribution off (`plugins.<name>.tools.<tool>: false`) or the plugin is down. */
  isEnabled(plugin: string, name: string): boolean;
  /** Runs `fn` as the plugin's code (kernel/faults.ts): what it throws or starts is the plugin's. */
  runAs<T>(plugin: string, fn: () => T): T;
}

/**
 * Services plugins provide to each other by name (the provider registers `model`, consumers ask for it).
 * Plugin packages add their service types here by declaration merging:
 * `declare module '@icode/sdk' { interface Services { model: ModelService } }`.
 */
export interface Services {
  model: ModelService;
}

export type ServiceType<K extends string> = K extends keyof Services ? Services[K] : unknown;

/** Slash commands by name, refusing duplicates. */
export class CommandRegistry {
  private readonly entries = new Map<string, { owner: string; command?: Command; description?: string }>();

  constructor(private readonly host: ContributionHost) {}

  private claim(owner: string, name: string): void {
    const holder = this.entries.get(name);
    if (holder && holder.owner !== owner) {
      throw new IcodeError(
        ErrorCodes.DUPLICATE_NAME,
        `command "/${name}" is already registered by plugin "${holder.owner}"`,
        'rename the command, or disable one of the two plugins',
      );
    }
  }

  register(owner: string, command: Command): void {
    this.claim(owner, command.name);
    this.entries.set(command.name, { owner, command });
  }

  /** A command a lazy plugin declared; it loads on first run. */
  registerLazy(owner: string, name: string, description?: string): void {
    this.claim(owner, name);
    this.entries.set(name, { owner, ...(description ? { description } : {}) });
  }

  unregisterOwner(owner: string): void {
    for (const [name, e] of this.entries) if (e.owner === owner) this.entries.delete(name);
  }

  /** Withdraws one command; only its owner can. */
  unregister(owner: string, name: string): void {
    if (this.entries.get(name)?.owner === owner) this.entries.delete(name);
  }

  /** The plugin that registered a command (lazy placeholders excluded). */
  owner(name: string): string | undefined {
    const e = this.entries.get(name);
    return e?.command ? e.owner : undefined;
  }

  /** The commands that are on, with their descriptions (lazy ones from the manifest). */
  list(): Array<{ name: string; owner: string; description: string }> {
    return [...this.entries]
      .filter(([name, e]) => this.host.isEnabled(e.owner, name))
      .map(([name, e]) => ({
        name,
        owner: e.owner,
        description: e.command?.description ?? e.description ?? '',
      }));
  }

  /** Runs `/name args`, loading a lazy plugin first. A failure is returned as text, never thrown. */
  async run(name: string, args: string, ctx: CommandContext): Promise<CommandOutcome> {
    const entry = this.entries.get(name);
    if (!entry || !this.host.isEnabled(entry.owner, name)) {
      const known = this.list().map((c) => `/${c.name}`);
      return { output: `Unknown command /${name}. Commands: ${known.join(', ') || 'none'}`, isError: true };
    }
    try {
      const command = await this.get(name);
      if (!command)
        return { output: `/${name} is unavailable: its plugin did not register it`, isError: true };
      const result = await command.run(args, ctx);
      if (typeof result === 'object') return { output: '', ...result, isError: false };
      return { output: result ?? '', isError: false };
    } catch (error) {
      return { output: `/${name} failed: ${errorMessage(error)}`, isError: true };
    }
  }

  /** The command itself (its plugin activated first), for completion; undefined when off or unknown. */
  async get(name: string): Promise<Command | undefined> {
    const entry = this.entries.get(name);
    if (!entry || !this.host.isEnabled(entry.owner, name)) return undefined;
    if (!entry.command) await this.host.ensureActive(entry.owner);
    return this.entries.get(name)?.command;
  }
}

/** `/name args` as typed (in the UI, or as a headless prompt): the command's name and its arguments. */
export function parseSlashCommand(text: string): { name: string; args: string } | undefined {
  const m = /^\/([a-zA-Z0-9_:-]+)(?:\s+([\s\S]*))?$/.exec(text.trim());
  return m ? { name: m[1]!, args: m[2] ?? '' } : undefined;
}

/** What running a command gave: its text, and what it asks of the caller (see {@link CommandResult}). */
export type CommandOutcome = Omit<CommandResult, 'output'> & { output: string; isError: boolean };

/** Named services; a service of a lazy plugin activates it on first request. */
export class ServiceRegistry {
  private readonly provided = new Map<string, { owner: string; impl: unknown }>();

  constructor(
    private readonly declaredBy: (service: string) => string | undefined,
    private readonly ensureActive: (plugin: string) => Promise<void>,
  ) {}

  provide(owner: string, name: string, impl: unknown): void {
    const holder = this.provided.get(name);
    if (holder) {
      throw new IcodeError(
        ErrorCodes.DUPLICATE_NAME,
        `service "${name}" is already provided by plugin "${holder.owner}"`,
        'disable one of the two plugins that provide it',
      );
    }
    this.provided.set(name, { owner, impl });
  }

  owner(name: string): string | undefined {
    return this.provided.get(name)?.owner;
  }

  unregisterOwner(owner: string): void {
    for (const [name, e] of this.provided) if (e.owner === owner) this.provided.delete(name);
  }

  async get<K extends string>(name: K): Promise<ServiceType<K>> {
    if (!this.provided.has(name)) {
      const plugin = this.declaredBy(name);
      if (plugin) await this.ensureActive(plugin);
    }
    const entry = this.provided.get(name);
    if (!entry) {
      throw new IcodeError(
        ErrorCodes.SERVICE_MISSING,
        `no active plugin provides the service "${name}"`,
        `add a plugin that contributes the "${name}" service to the harness manifest, or check \`icode doctor\``,
      );
    }
    return entry.impl as ServiceType<K>;
  }
}
