import type { z } from 'zod';

/** Session-wide permission modes, from least to most trusting (plan and prompt are special). */
export type PermissionMode = 'read-only' | 'workspace-write' | 'danger-full-access' | 'plan' | 'prompt';
/** What a tool needs to run without asking. */
export type ToolMode = 'read-only' | 'workspace-write' | 'danger-full-access';

export type Decision = 'allow' | 'ask' | 'deny';

/**
 * What a tool call would touch, as the permission rules see it. A tool reports one kind; the kernel
 * matches rule specifiers against every value (all must be allowed, any denied denies).
 * - `command`: shell commands (`Bash(git status)`, `Bash(npm run test:*)`)
 * - `path`: absolute, symlink-resolved paths (`Read(./src/**)`, `Edit(/abs/file)`)
 * - `domain`: host names (`WebFetch(domain:example.com)`)
 * - `text`: anything else, matched exactly or by `prefix:*`
 */
export interface PermissionSubjects {
  kind: 'command' | 'path' | 'domain' | 'text';
  values: string[];
  /**
   * Per value: the shortest rule prefix that may allow it. A value with a risk past its first words
   * (`git push --force`, `sed -n '1e cmd'`) is allowed only by a rule whose prefix reaches that far: a
   * prefix rule never allows more than its prefix (`Bash(sed:*)` does not allow sed's `e` command).
   */
  covers?: Array<string | undefined>;
  /** Why the call needs approval whatever the mode (network, a protected path, a destructive command). */
  needs?: string[];
  /**
   * The values (indexes) whose needs a rule can answer: when an allow rule covers each of them, the
   * others are left to the mode (`cat ../x` allowed by its rule, `node -e …` beside it by workspace-write).
   * Without it, only rules that cover every value answer the needs.
   */
  asking?: number[];
  /** Absolute, symlink-resolved files the call reads and writes: `Read(...)` and `Edit(...)` rules judge them. */
  reads?: string[];
  writes?: string[];
}

export interface PermissionRequest {
  tool: string;
  input: unknown;
  mode: ToolMode;
  subjects?: PermissionSubjects;
  /** Working directory and workspace roots, symlinks resolved. */
  cwd: string;
  roots: string[];
  sessionMode: PermissionMode;
  /** The session making the call, and the call's id, when a session makes it (hooks are given both). */
  sessionId?: string;
  toolUseId?: string;
}

/** A rule as written in config, with where it was written. */
export interface RuleSource {
  rule: string;
  effect: Decision;
  layer: string;
  file?: string;
}

export interface PermissionDecision {
  decision: Decision;
  reason: string;
  /** The rule that decided, if one did. */
  rule?: RuleSource;
  /** The plugin whose evidence decided, if one did. */
  plugin?: string;
  /** For ask/deny: what the user could change to allow this. */
  hint?: string;
  /** Evidence that rewrote the tool's input (see PermissionEvidence). */
  updatedInput?: Record<string, unknown>;
}

/** What a plugin contributes to a permission decision through the `permissionRequest` hook. */
export interface PermissionEvidence {
  decision: Decision;
  reason: string;
  /** The input the tool should run with instead (a user hook rewrote it); validated again. */
  updatedInput?: Record<string, unknown>;
  /** Set by the kernel: the plugin whose tap returned this evidence. */
  plugin?: string;
}

export interface TextBlock {
  type: 'text';
  text: string;
}
export interface ImageBlock {
  type: 'image';
  source: { type: 'base64'; media_type: string; data: string };
}
export type ToolResultBlock = TextBlock | ImageBlock;

export interface ToolCall {
  id: string;
  name: string;
  input: unknown;
}

export interface ToolResult {
  toolUseId: string;
  toolName: string;
  content: string | ToolResultBlock[];
  isError: boolean;
}

/** The definition sent to the model (the Messages API `tools` entry). */
export interface ToolDefinition {
  name: string;
  description: string;
  input_schema: Record<string, unknown>;
}

export interface ToolContext {
  cwd: string;
  roots: string[];
  signal: AbortSignal;
  sessionId?: string;
  /** The session's permission mode (bash runs unconfined only in danger-full-access). */
  sessionMode?: PermissionMode;
  /** Changes the session's permission mode from the next call on (EnterPlanMode, ExitPlanMode). */
  setSessionMode?(mode: PermissionMode): void;
  /** Shows the person watching the session a message now, whole (SendUserMessage). */
  notify?(text: string): void;
  /**
   * What the permission gate judged for this call (the tool's `subjects`), given to `execute`: a tool that
   * resolves its target again can refuse one that changed since (a symlink swapped while a person decided).
   */
  judged?: PermissionSubjects;
}

/** A tool as registered: what {@link defineTool} returns. */
export interface Tool<S extends z.ZodType = z.ZodType> {
  name: string;
  aliases?: string[];
  /**
   * Rules that name these tools also judge this one, as Claude Code's do: `Edit(...)` covers every tool
   * that edits files (write_file, NotebookEdit), `Read(...)` every tool that reads them (grep, glob, LSP).
   */
  coveredBy?: string[];
  description: string;
  input: S;
  /** The mode a call needs; a function may judge the input (bash: `ls` is read-only, `rm` is not). */
  mode: ToolMode | ((input: z.output<S>, ctx: ToolContext) => ToolMode | Promise<ToolMode>);
  /** Safe to run alongside other calls (read-only tools usually are). */
  concurrencySafe?: boolean;
  /**
   * The JSON Schema the model sees, when it comes from elsewhere (an MCP server's tool); `input` still
   * validates every call. Without it, the schema is derived from `input`.
   */
  inputSchema?: Record<string, unknown>;
  subjects?: (input: z.output<S>, ctx: ToolContext) => PermissionSubjects | Promise<PermissionSubjects>;
  /**
   * How long a call may run before the kernel stops it (its signal aborts, the model gets an error), in
   * ms; `0` for no limit (a tool that waits for a person). Without it the default applies (10 minutes,
   * `toolTimeouts["*"]` in settings); `toolTimeouts.<tool>` in settings overrides both.
   */
  timeoutMs?: number | ((input: z.output<S>) => number);
  execute: (
    input: z.output<S>,
    ctx: ToolContext,
  ) => Promise<string | ToolResultBlock[]> | string | ToolResultBlock[];
}

export interface Command {
  name: string;
  description: string;
  argumentHint?: string;
  /** Completions for the argument being typed (the UI's Tab). */
  complete?(partial: string, ctx: CommandContext): string[] | Promise<string[]>;
  run(
    args: string,
    ctx: CommandContext,
  ): Promise<string | CommandResult | undefined> | string | CommandResult | undefined;
}

/** Where a command runs: the UI's or a headless run's session, when there is one. */
export interface CommandContext {
  cwd: string;
  session?: {
    id?: string;
    model: string;
    permissionMode: string;
    usage?: Usage;
    costUsd?: number;
  };
}

/** What a command asks of the UI beyond printing: a new conversation, another session, model or mode. */
export type CommandEffect =
  | { type: 'clear' }
  | { type: 'exit' }
  | { type: 'resume'; id: string }
  | { type: 'model'; model: string }
  | { type: 'mode'; mode: PermissionMode }
  /** Open this file in the user's editor ($VISUAL, $EDITOR); where there is no terminal, its path is shown. */
  | { type: 'edit'; file: string };

export interface CommandResult {
  /** Shown to the user. */
  output?: string;
  /** Sent to the model as the user's turn (a custom command's expanded text, /init's instructions). */
  prompt?: string;
  /** Tools the prompt may use without asking (a custom command's allowed-tools). */
  allowedTools?: string[];
  model?: string;
  effect?: CommandEffect;
}

export interface MessageParam {
  role: 'user' | 'assistant';
  content: string | Array<Record<string, unknown> & { type: string }>;
}

export interface ModelRequest {
  model: string;
  max_tokens: number;
  system?: string | Array<{ type: 'text'; text: string }>;
  messages: MessageParam[];
  tools?: ToolDefinition[];
  [key: string]: unknown;
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export interface ModelResponse {
  id: string;
  model: string;
  stop_reason: string | null;
  content: Array<Record<string, unknown> & { type: string }>;
  usage: Usage;
}

/** One model turn, as a provider returns it once the stream has ended. */
export interface ModelTurn {
  message: ModelResponse;
  /** tool_use blocks whose streamed input was not valid JSON (their `input` is `{}`): id → parse error. */
  toolInputErrors: Record<string, string>;
  costUsd: number;
  requestId?: string;
  /** 1 when the first attempt succeeded. */
  attempts: number;
}

export interface ModelStreamOptions {
  signal?: AbortSignal;
  onText?(delta: string): void;
  onThinking?(delta: string): void;
  /** A retry is coming: text already delivered for this turn will be sent again. */
  onRetry?(info: { attempt: number; delayMs: number; reason: string }): void;
}

/** The `model` service: what the session engine calls, whichever provider plugin implements it. */
export interface ModelService {
  /** The model id for a name or alias (`sonnet` → `claude-sonnet-5-5`). */
  resolveModel(name: string): string;
  /** The names it knows (aliases, then ids), for `/model` completion; any other id may work too. */
  models?(): string[];
  /** Streams one turn; rejects with the provider's error after its retries, or at once on abort. */
  stream(request: ModelRequest, options?: ModelStreamOptions): Promise<ModelTurn>;
}

export interface SessionInfo {
  id: string;
  cwd: string;
  mode: PermissionMode;
  interactive: boolean;
  /** Why the session started: a new conversation, or one resumed from its file. */
  source?: 'startup' | 'resume';
  /** The JSON Schema the final answer must match (`--json-schema`), when one was given. */
  jsonSchema?: Record<string, unknown>;
}

/** Why a session ended (Claude Code's SessionEnd reasons): /clear, the user left the UI, anything else. */
export type SessionEndReason = 'clear' | 'prompt_input_exit' | 'other';

export interface UserPrompt {
  text: string;
  session: SessionInfo;
  /** Set by a tap that refuses the prompt: the session ends without a model turn, with this reason. */
  blocked?: string;
}

/** The `stop` hook's question: the model finished its reply; should it go on? */
export interface StopRequest {
  session: SessionInfo;
  /** The reply's text. */
  result: string;
  /** How many times a tap has already sent the model back to work for this prompt. */
  continuations: number;
}
/** A `stop` tap's answer: go on, with this message to the model. */
export interface StopVerdict {
  continueWith: string;
}

export type HealthState = 'active' | 'degraded' | 'failed' | 'disabled';

/** One plugin's health, as `icode doctor` and the `pluginStatus` hook see it. */
export interface PluginStatus {
  name: string;
  version: string;
  state: HealthState;
  reason?: string;
  fix?: string;
  code?: string;
  source: string;
  activation: 'startup' | 'lazy';
  activated: boolean;
}
