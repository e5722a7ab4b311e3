import type {
  MessageParam,
  PermissionMode,
  SessionEndReason,
  ToolResultBlock,
  Usage,
} from '../../sdk/index.ts';
import type { CompactionReport } from './compact.ts';
import type { SessionSummary, UnlockReport } from './store.ts';

export type { SessionSummary, UnlockReport };

/** What happens in a session, in order; `--output-format stream-json` prints each as a line. */
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

/** The `session` service: runs one prompt to the end. */
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

declare module '../../kernel/registries.ts' {
  interface Services {
    session: SessionService;
  }
}
