import * as z from 'zod';
import { ErrorCodes, errorMessage, IcodeError } from './errors.ts';
import type { KernelHooks } from './hooks.ts';
import { resolveReal } from './paths.ts';
import type { PermissionGate } from './permissions.ts';
import type { ContributionHost } from './registries.ts';
import type {
  PermissionDecision,
  PermissionMode,
  PermissionRequest,
  PermissionSubjects,
  Tool,
  ToolCall,
  ToolContext,
  ToolDefinition,
  ToolMode,
  ToolResult,
  ToolResultBlock,
} from './types.ts';

/** A tool a lazy plugin declared in its manifest; its code loads on first call. */
export interface LazyTool {
  name: string;
  aliases?: string[];
  description: string;
  mode?: ToolMode;
  inputSchema: Record<string, unknown>;
}

interface Entry {
  owner: string;
  tool?: Tool;
  lazy?: LazyTool;
  schema?: Record<string, unknown>;
}

export interface CallOptions extends Partial<ToolContext> {
  sessionMode: PermissionMode;
  cwd: string;
  roots: string[];
}

function jsonSchemaOf(tool: Tool): Record<string, unknown> {
  try {
    const { $schema: _, ...schema } = z.toJSONSchema(tool.input, {
      io: 'input',
      unrepresentable: 'any',
    }) as Record<string, unknown>;
    return schema;
  } catch {
    // Not a zod schema zod can convert (another zod major, a hand-made validator): the tool still
    // validates its input; the model gets an open object schema.
    return { type: 'object' };
  }
}

/** How long a call runs before the kernel stops it, unless the tool or settings say otherwise. */
export const DEFAULT_TOOL_TIMEOUT_MS = 10 * 60_000;
/** After its signal aborts, how long a tool has to return its own account of what it stopped. */
const ABORT_GRACE_MS = 3_000;

/**
 * Every tool by name and alias. Calling one runs the whole contract: look up, validate input, permission
 * gate, `beforeToolCall`, execute, `afterToolCall`. Every failure becomes an `is_error` result the model
 * can act on; nothing a tool does throws into the caller.
 */
export class ToolRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly aliases = new Map<string, string>();
  private timeouts: Record<string, number> = {};

  constructor(
    private readonly hooks: KernelHooks,
    private readonly host: ContributionHost,
    private gate?: PermissionGate,
  ) {}

  setGate(gate: PermissionGate): void {
    this.gate = gate;
  }

  /** `toolTimeouts` from settings: ms by tool name, `"*"` for the default. */
  setTimeouts(timeouts: Record<string, number> = {}): void {
    this.timeouts = timeouts;
  }

  private timeoutOf(tool: Tool, input: unknown): number {
    const own = typeof tool.timeoutMs === 'function' ? tool.timeoutMs(input) : tool.timeoutMs;
    // By its name or an alias (`Bash`), as rules name tools.
    const set = [tool.name, ...(tool.aliases ?? [])]
      .map((n) => this.timeouts[n])
      .find((ms) => ms !== undefined);
    return set ?? own ?? this.timeouts['*'] ?? DEFAULT_TOOL_TIMEOUT_MS;
  }

  /**
   * Runs the tool under its deadline and the caller's signal. When either ends the call, the tool's
   * signal aborts and it has a short grace to say what it stopped; a tool that never answers cannot hold
   * the run, since the caller gets an error result either way.
   */
  private async execute(tool: Tool, input: unknown, ctx: ToolContext, call: ToolCall): Promise<ToolResult> {
    const result = (content: string | ToolResultBlock[], isError = false): ToolResult => ({
      toolUseId: call.id,
      toolName: tool.name,
      content,
      isError,
    });
    const outer = ctx.signal;
    // A stop that came while the call was being judged wins: the tool never starts.
    if (outer.aborted) return result('Interrupted: the run was stopped before this tool ran.', true);
    const controller = new AbortController();
    const running = Promise.resolve()
      .then(() => tool.execute(input, { ...ctx, signal: controller.signal }))
      .then(
        (content) => result(checkedContent(content)),
        (error: unknown) => result(`Error: ${errorMessage(error)}`, true),
      );
    const limit = this.timeoutOf(tool, input);
    const timers: NodeJS.Timeout[] = [];
    let onAbort = () => {};
    const stopped = new Promise<ToolResult>((resolve) => {
      const stop = (reason: Error, fallback: string) => {
        // The tool's abort listeners run now: as its plugin's code, so a throw there is that plugin's fault.
        const owner = this.owner(tool.name);
        if (owner) this.host.runAs(owner, () => controller.abort(reason));
        else controller.abort(reason);
        timers.push(setTimeout(() => resolve(result(fallback, true)), ABORT_GRACE_MS));
        void running.then(resolve);
      };
      onAbort = () =>
        stop(
          outer.reason instanceof Error ? outer.reason : new Error('interrupted'),
          `Interrupted: ${tool.name} was stopped before it finished; it may have done part of its work.`,
        );
      if (outer.aborted) onAbort();
      else outer.addEventListener('abort', onAbort, { once: true });
      if (limit > 0) {
        const seconds = limit / 1000;
        timers.push(
          setTimeout(
            () =>
              stop(
                new IcodeError(ErrorCodes.TOOL_TIMEOUT, `${tool.name} timed out after ${seconds} s`),
                `${tool.name} did not finish within ${seconds} s and was stopped (${ErrorCodes.TOOL_TIMEOUT}); it may have done part of its work. If it needs longer, set toolTimeouts.${tool.name} (ms) in settings.`,
              ),
            limit,
          ),
        );
      }
    });
    try {
      return await Promise.race([running, stopped]);
    } finally {
      for (const t of timers) clearTimeout(t);
      outer.removeEventListener('abort', onAbort);
    }
  }

  private claim(owner: string, name: string, aliases: string[] = []): void {
    for (const n of [name, ...aliases]) {
      const holder = this.entries.get(n)?.owner ?? this.entries.get(this.aliases.get(n) ?? '')?.owner;
      const sameLazy = holder === owner && this.entries.get(name)?.lazy;
      if (holder && !sameLazy) {
        throw new IcodeError(
          ErrorCodes.DUPLICATE_NAME,
          `tool name "${n}" is already registered by plugin "${holder}"`,
          'rename the tool, or disable one of the two plugins',
        );
      }
    }
    for (const a of aliases) this.aliases.set(a, name);
  }

  register(owner: string, tool: Tool): void {
    this.claim(owner, tool.name, tool.aliases);
    // A lazy tool keeps its manifest schema: the model saw it, and it stands in if zod cannot convert.
    const lazy = this.entries.get(tool.name)?.lazy;
    this.entries.set(tool.name, { owner, tool, ...(lazy ? { schema: lazy.inputSchema } : {}) });
  }

  registerLazy(owner: string, lazy: LazyTool): void {
    this.claim(owner, lazy.name, lazy.aliases);
    this.entries.set(lazy.name, { owner, lazy });
  }

  /** Withdraws one tool (an MCP server that went away); only its owner can. */
  unregister(owner: string, name: string): void {
    if (this.entries.get(name)?.owner !== owner) return;
    this.entries.delete(name);
    for (const [alias, target] of this.aliases) if (target === name) this.aliases.delete(alias);
  }

  unregisterOwner(owner: string): void {
    for (const [name, entry] of this.entries) if (entry.owner === owner) this.entries.delete(name);
    for (const [alias, name] of this.aliases) if (!this.entries.has(name)) this.aliases.delete(alias);
  }

  /** The registered name for a name or alias (`Bash` → `bash`); unknown names come back unchanged. */
  canonical(name: string): string {
    return this.aliases.get(name) ?? name;
  }

  /** The tool's own name and the names whose rules also cover it (`write_file` → also `edit_file`). */
  ruleNames(name: string): string[] {
    const tool = this.entries.get(name)?.tool;
    return [name, ...(tool?.coveredBy ?? []).map((n) => this.canonical(n))];
  }

  has(name: string): boolean {
    return this.entries.has(this.canonical(name));
  }

  /** The plugin a tool is registered or declared by (a lazy plugin's tool too). */
  declaredBy(name: string): string | undefined {
    return this.entries.get(this.canonical(name))?.owner;
  }

  /** The plugin that registered a tool (lazy placeholders excluded). */
  owner(name: string): string | undefined {
    const e = this.entries.get(this.canonical(name));
    return e?.tool ? e.owner : undefined;
  }

  private enabled(): Array<[string, Entry]> {
    return [...this.entries].filter(([name, e]) => this.host.isEnabled(e.owner, name));
  }

  names(): string[] {
    return this.enabled().map(([name]) => name);
  }

  /** True when calls of this tool may run alongside others: read-only and declared concurrency-safe. */
  concurrencySafe(name: string): boolean {
    const tool = this.entries.get(this.canonical(name))?.tool;
    return Boolean(tool?.concurrencySafe && tool.mode === 'read-only');
  }

  /** The definitions to send to the model, after plugins transform them in `toolDefinitions`. */
  async definitions(
    session?: Parameters<KernelHooks['toolDefinitions']['promise']>[1],
  ): Promise<ToolDefinition[]> {
    const defs = this.enabled().map(([name, e]) => {
      if (!e.tool) return { name, description: e.lazy!.description, input_schema: e.lazy!.inputSchema };
      e.schema ??= e.tool.inputSchema ?? jsonSchemaOf(e.tool);
      return { name, description: e.tool.description, input_schema: e.schema };
    });
    return this.hooks.toolDefinitions.promise(defs, session);
  }

  /** The registered tool for a name or alias, activating a lazy plugin; a string says why there is none. */
  private async resolve(callName: string): Promise<Tool | string> {
    const name = this.canonical(callName);
    let entry = this.entries.get(name);
    if (!entry || !this.host.isEnabled(entry.owner, name)) {
      const available = this.names().join(', ') || 'none';
      return `Unknown tool "${callName}"${entry ? ' (switched off in config)' : ''}. Available tools: ${available}`;
    }
    if (!entry.tool) {
      try {
        await this.host.ensureActive(entry.owner);
      } catch (error) {
        return `Tool "${name}" is unavailable: ${errorMessage(error)}`;
      }
      entry = this.entries.get(name);
      if (!entry?.tool) return `Tool "${name}" is unavailable: its plugin did not register it`;
    }
    return entry.tool;
  }

  /**
   * What the permission gate decides about a call, before anyone is asked and without running it: the
   * same lookup, validation, mode and subjects as {@link call}. `icode check` explains decisions with it.
   */
  async judge(call: ToolCall, options: CallOptions): Promise<Judged | { error: string }> {
    const tool = await this.resolve(call.name);
    if (typeof tool === 'string') return { error: tool };
    const parsed = tool.input.safeParse(call.input);
    if (!parsed.success) {
      return {
        error: `Invalid input for ${tool.name}:\n${z.prettifyError(parsed.error)}\nFix the input and call the tool again.`,
      };
    }
    const input = parsed.data;
    const ctx: ToolContext = {
      cwd: options.cwd,
      roots: options.roots,
      signal: options.signal ?? new AbortController().signal,
      sessionMode: options.sessionMode,
      ...(options.sessionId ? { sessionId: options.sessionId } : {}),
      ...(options.setSessionMode ? { setSessionMode: options.setSessionMode } : {}),
      ...(options.notify ? { notify: options.notify } : {}),
    };
    const gate = this.gate;
    if (!gate) return { error: 'No permission gate is configured; refusing to run tools' };
    const mode = typeof tool.mode === 'function' ? await tool.mode(input, ctx) : tool.mode;
    const declared: PermissionSubjects | undefined = await tool.subjects?.(input, ctx);
    // The gate judges where a path leads, not how it is written: a tool that declares `a.txt`, `~/x` or
    // a path through a symlink out of the workspace is judged at the file it reaches (built-in tools
    // declare resolved paths already, and resolving those again changes nothing).
    let subjects = declared;
    if (declared?.kind === 'path') {
      const values: string[] = [];
      for (const value of declared.values) {
        try {
          values.push(resolveReal(value, options.cwd));
        } catch (error) {
          // resolveReal says a swapped symlink plainly; a loop of links is ELOOP.
          return { error: `${value} cannot be resolved: ${errorMessage(error)}` };
        }
      }
      subjects = { ...declared, values };
    }
    const request: PermissionRequest = {
      tool: tool.name,
      input,
      mode,
      ...(subjects ? { subjects } : {}),
      cwd: options.cwd,
      roots: options.roots,
      sessionMode: options.sessionMode,
      ...(options.sessionId ? { sessionId: options.sessionId } : {}),
      ...(call.id ? { toolUseId: call.id } : {}),
    };
    return { tool, input, ctx, request, decision: await gate.evaluate(request) };
  }

  async call(call: ToolCall, options: CallOptions): Promise<ToolResult> {
    const name = this.canonical(call.name);
    const fail = (text: string): ToolResult => ({
      toolUseId: call.id,
      toolName: name,
      content: text,
      isError: true,
    });
    try {
      const judged = await this.judge(call, options);
      if ('error' in judged) return fail(judged.error);
      const { tool, request } = judged;
      let { input } = judged;
      let subjects = request.subjects;
      const decision = await this.gate!.confirm(request, judged.decision);
      if (decision.decision !== 'allow') {
        return fail(
          `Permission denied: ${decision.reason}${decision.hint ? `. To allow: ${decision.hint}` : ''}`,
        );
      }
      if (decision.updatedInput) {
        // A hook rewrote the input: the new input is validated and judged again (its paths, its command),
        // so a rewrite can never carry a call past the gate. A second rewrite is not taken.
        const again = await this.judge({ ...call, input: decision.updatedInput }, options);
        if ('error' in again) return fail(`A hook rewrote the input of ${name}: ${again.error}`);
        const second = await this.gate!.confirm(again.request, again.decision);
        if (second.decision !== 'allow') {
          return fail(
            `Permission denied (input rewritten by a hook): ${second.reason}${second.hint ? `. To allow: ${second.hint}` : ''}`,
          );
        }
        input = again.input;
        subjects = again.request.subjects;
      }
      const ctx: ToolContext = { ...judged.ctx, ...(subjects ? { judged: subjects } : {}) };
      const normalized: ToolCall = { id: call.id, name, input };
      const short = await this.hooks.beforeToolCall.promise(normalized, ctx);
      const result: ToolResult = short ?? (await this.execute(tool, input, ctx, normalized));
      return await this.hooks.afterToolCall.promise(result, normalized, ctx);
    } catch (error) {
      return fail(`Error: ${errorMessage(error)}`);
    }
  }
}

/** A call the gate has judged: the tool, its validated input, and the decision before anyone is asked. */
export interface Judged {
  tool: Tool;
  input: unknown;
  ctx: ToolContext;
  request: PermissionRequest;
  decision: PermissionDecision;
}

/**
 * What a tool returned, as it will be saved and sent: text, or blocks that survive JSON. Anything else (a
 * circular structure, a BigInt, a number) is a fault of the tool, thrown so the model gets an error result.
 */
function checkedContent(content: unknown): string | ToolResultBlock[] {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content))
    throw new Error(`the tool returned ${typeof content}, not text or content blocks`);
  try {
    JSON.stringify(content);
  } catch (error) {
    throw new Error(`the tool returned content that cannot be saved as JSON: ${errorMessage(error)}`);
  }
  return content as ToolResultBlock[];
}
