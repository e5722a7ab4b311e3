import * as z from 'zod';

/**
 * The two things settings (and Claude Code plugins) configure that run commands: hooks and MCP server
 * entries. One schema for each, used by the hooks and mcp plugins when they run them and by
 * `icode plugins install` when it checks a plugin's hooks.json and .mcp.json, so what installs is what runs.
 */

/** The hook events icode runs, by Claude Code's names. */
export const HOOK_EVENTS = [
  'PreToolUse',
  'PostToolUse',
  'PostToolUseFailure',
  'UserPromptSubmit',
  'SessionStart',
  'SessionEnd',
  'Stop',
  'PreCompact',
  'Notification',
] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

export const HookCommandSchema = z.object({
  type: z.literal('command').default('command'),
  command: z.string().min(1),
  timeout: z.number().positive().optional(),
  failOpen: z.boolean().optional(),
});
export const HookMatcherSchema = z.object({
  matcher: z.string().optional(),
  hooks: z.array(HookCommandSchema).min(1),
});
/**
 * `hooks` by event, as settings and a plugin's hooks/hooks.json write them; an unknown event is an error.
 *
 * @example
 * ```ts
 * HooksSchema.parse({ Stop: [{ hooks: [{ command: 'notify-send done' }] }] });
 * ```
 */
export const HooksSchema = z.partialRecord(z.enum(HOOK_EVENTS), z.array(HookMatcherSchema));

const Common = {
  /** false: configured but not started. */
  enabled: z.boolean().optional(),
  /** startup: connect while icode starts (in parallel, each with a timeout); lazy: on first use. */
  startup: z.enum(['startup', 'lazy']).optional(),
  /**
   * Ms to start, answer initialize and list its tools and prompts, all together; a server slower than
   * this is stopped and reported (default: $MCP_TIMEOUT, else the plugin's connectTimeoutMs).
   */
  startupTimeoutMs: z.number().int().positive().optional(),
  /** Ms per tool call, as Claude Code and Gemini CLI name it (default: $MCP_TOOL_TIMEOUT, else callTimeoutMs). */
  timeout: z.number().int().positive().optional(),
  /** icode's earlier name for `timeout`. */
  timeoutMs: z.number().int().positive().optional(),
};

const Stdio = z.object({
  type: z.literal('stdio').optional(),
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional(),
  ...Common,
});
const Remote = z.object({
  type: z.enum(['http', 'sse']),
  url: z.string().min(1),
  headers: z.record(z.string(), z.string()).default({}),
  ...Common,
});
/** A server entry, in the format Claude Code users already have (extra keys are ignored). */
export type ServerConfig = z.output<typeof Stdio> | z.output<typeof Remote>;

/**
 * Checks an entry against the form it means to be — remote when it has a `url` or an http/sse type,
 * stdio otherwise — so a mistake is reported at its key ("command: expected string"), not as a union
 * that matched nothing.
 */
export function checkServer(
  raw: Record<string, unknown>,
): { config: ServerConfig } | { problems: Array<{ path: PropertyKey[]; message: string }> } {
  const remote = 'url' in raw || raw.type === 'http' || raw.type === 'sse';
  const parsed = (remote ? Remote : Stdio).safeParse(raw);
  if (parsed.success) return { config: parsed.data };
  return { problems: parsed.error.issues.map((i) => ({ path: i.path, message: i.message })) };
}

/**
 * One MCP server entry as a file writes it, checked as `checkServer` checks it (each mistake at its key);
 * the entry is kept as written.
 */
export const McpServerEntrySchema = z.record(z.string(), z.unknown()).superRefine((raw, ctx) => {
  const checked = checkServer(raw);
  if ('problems' in checked)
    for (const p of checked.problems)
      ctx.addIssue({ code: 'custom', message: p.message, path: p.path.map((k) => k as string | number) });
});
