/**
 * The `session` service contract: what the session plugin provides and every other plugin (the UI, tasks,
 * agents, commands, a third party's) consumes through `ctx.services.get('session')`. Only types live here;
 * the session plugin implements them.
 */
import type {
  MessageParam,
  PermissionMode,
  SessionEndReason,
  ToolResultBlock,
  Usage,
} from '../kernel/types.ts';

/**
 * What a compaction did (older turns summarised to make room), as the JSON result and the stream report it.
 *
 * @example
 * ```ts
 * const line = (c: CompactionReport) => `${c.trigger}: ${c.messages_before} → ${c.messages_after} messages`;
 * ```
 */
export interface CompactionReport {
  trigger: 'auto' | 'manual';
  messages_before: number;
  messages_after: number;
  /** model: the model wrote the summary; local: the model call failed and icode summarised by itself. */
  summary_source: 'model' | 'local';
  error?: string;
}

/**
 * One stored session of a project, as `icode sessions` and `/resume` list them.
 *
 * @example
 * ```ts
 * const pick = (sessions: SessionSummary[]) => sessions.map((s) => `${s.id}  ${s.firstPrompt}`);
 * ```
 */
export interface SessionSummary {
  id: string;
  file: string;
  createdAt: string;
  updatedAt: string;
  messages: number;
  firstPrompt: string;
}

/**
 * Who holds a session's lock: enough to tell a live holder from a dead one, also when the dead one's PID
 * now belongs to another process (a PID alone is reused; a PID with its start time is not).
 *
 * @example
 * ```ts
 * const who = (h: LockHolder) => `pid ${h.pid}${h.host ? ` on ${h.host}` : ''}`;
 * ```
 */
export interface LockHolder {
  pid: number;
  /** When the process started, as the OS says ("<boot id>:<clock ticks>" on Linux); absent when unknown. */
  start?: string;
  host?: string;
  /**
   * The PID namespace the pid belongs to (`pid:[…]` on Linux): a pid from another one (a container, a
   * sandbox sharing this home) cannot be looked up from here, so its lock is never judged stale.
   */
  pidns?: string;
  /** When the lock was taken (ISO time). */
  at?: string;
}

/**
 * What `icode sessions unlock` did ({@link SessionService.unlock}).
 *
 * @example
 * ```ts
 * const say = (report: UnlockReport) => (report.removed ? report.message : `kept: ${report.message}`);
 * ```
 */
export interface UnlockReport {
  id: string;
  removed: boolean;
  /** Whose the lock was; absent when there was none. */
  holder?: LockHolder;
  /** live (a process on this host still holds it), remote (another host's), stale (its holder is gone). */
  state?: 'live' | 'remote' | 'stale';
  /** Why it was judged stale. */
  reason?: string;
  /** A sentence for the person who asked. */
  message: string;
}

/**
 * What happens in a session, in order; `--output-format stream-json` prints each as a line.
 *
 * @example
 * ```ts
 * const onEvent = (event: SessionEvent) => {
 *   if (event.type === 'text_delta') process.stdout.write(event.text);
 *   else if (event.type === 'result') process.stdout.write(`\n[${event.num_turns} turns]\n`);
 * };
 * ```
 */
export type SessionEvent =
  | {
      type: 'session_start';
      session_id: string;
      model: string;
      cwd: string;
      tools: string[];
      permission_mode: string;
    }
  | { type: 'text_delta'; text: string }
  | { type: 'thinking_delta'; text: string }
  | { type: 'retry'; attempt: number; delay_ms: number; reason: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | {
      type: 'tool_result';
      tool_use_id: string;
      tool_name: string;
      output: string | ToolResultBlock[];
      is_error: boolean;
    }
  | ({ type: 'compaction' } & CompactionReport)
  | { type: 'todos'; todos: unknown[] }
  /** A message a tool shows the person while the model works (SendUserMessage), whole. */
  | { type: 'notice'; text: string }
  /** The permission mode changed during the run (EnterPlanMode, an approved ExitPlanMode). */
  | { type: 'mode'; mode: PermissionMode }
  | ({ type: 'result' } & SessionResult);

/**
 * How one prompt's run ended ({@link SessionService.run}); `--output-format json` prints it.
 *
 * @example
 * ```ts
 * const exitCode = (result: SessionResult) => (result.is_error ? 1 : 0);
 * ```
 */
export interface SessionResult {
  /** The final assistant text. */
  result: string;
  is_error: boolean;
  /** end_turn, max_tokens, refusal, max_turns, error, interrupted, blocked (by a prompt hook)… */
  stop_reason: string;
  num_turns: number;
  session_id: string;
  usage: Usage;
  total_cost_usd: number;
  tool_uses: Array<{ id: string; name: string; input: unknown }>;
  tool_results: Array<{
    tool_use_id: string;
    tool_name: string;
    output: string | ToolResultBlock[];
    is_error: boolean;
  }>;
  error?: string;
  /** The final answer as JSON that matched `--json-schema` (StructuredOutput). */
  structured_output?: unknown;
  /** Each time older turns were summarised to make room (automatic, or `/compact`). */
  compactions?: CompactionReport[];
}

/**
 * One run of {@link SessionService.run}: the prompt, and what differs from the settings for it.
 *
 * @example
 * ```ts
 * const readOnly: SessionRunOptions = { prompt: 'Summarise README.md', permissionMode: 'read-only', maxTurns: 5 };
 * ```
 */
export interface SessionRunOptions {
  /** The user's prompt; `/compact [instructions]` summarises the resumed conversation instead. */
  prompt: string;
  model?: string;
  maxTurns?: number;
  /** Replaces icode's own system prompt (context files and environment facts are still added). */
  systemPrompt?: string;
  appendSystemPrompt?: string;
  /** Continue this session (its messages come first); the new prompt is appended to its file. */
  resume?: string;
  signal?: AbortSignal;
  onEvent?(event: SessionEvent): void;
  /** Only these tools are offered and callable (a sub-agent's subset); all when absent. */
  tools?: string[];
  /** The permission mode for this run (the UI's /mode and /plan); the settings' default otherwise. */
  permissionMode?: PermissionMode;
  /** The final answer must match this JSON Schema, given through the StructuredOutput tool (`--json-schema`). */
  jsonSchema?: Record<string, unknown>;
  /** A person is at the terminal (the UI): hooks and tools may ask. */
  interactive?: boolean;
  /**
   * The conversation goes on after this run (the UI: one run per prompt): its SessionEnd waits for
   * {@link SessionService.end}, and later runs that resume it are no new SessionStart.
   */
  keepOpen?: boolean;
  /** Messages that arrived while the session runs (TaskUpdate); taken before each model request. */
  inbox?(): string[];
}

/**
 * The `session` service: runs one prompt to the end. Provided by the session plugin; any plugin gets it
 * typed with `ctx.services.get('session')`.
 *
 * @example
 * ```ts
 * import { definePlugin, defineCommand } from '@icode/sdk';
 *
 * export default definePlugin({
 *   activate(ctx) {
 *     ctx.commands.register(
 *       defineCommand({
 *         name: 'ask',
 *         description: 'Asks the model once, in a session of its own',
 *         run: async (args) => {
 *           const session = await ctx.services.get('session');
 *           return (await session.run({ prompt: args, maxTurns: 3 })).result;
 *         },
 *       }),
 *     );
 *   },
 * });
 * ```
 */
export interface SessionService {
  run(options: SessionRunOptions): Promise<SessionResult>;
  /** This project's sessions, newest first. */
  list(): SessionSummary[];
  /** The id of this project's latest session (`--continue`), without reading every session. */
  latest(): string | undefined;
  /** A session's conversation as it would be resumed (after its last compaction). */
  messages(id: string): MessageParam[];
  /** Ends a session kept open (`keepOpen`): its SessionEnd, with the reason. Nothing if it is not open. */
  end(id: string, reason: SessionEndReason): Promise<void>;
  /** Removes a session's lock whose holder is gone or on another host (`icode sessions unlock`); `force` for a live one. */
  unlock(id: string, options?: { force?: boolean }): UnlockReport;
}
