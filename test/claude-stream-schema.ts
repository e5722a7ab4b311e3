import * as z from 'zod';

/**
 * The lines Claude Code prints for `-p --output-format stream-json` (and the `json` result), written from
 * its documentation (headless mode, the Agent SDK's message types): what a script or CI action written for
 * Claude Code reads. Loose objects: icode may add fields, never drop or change these.
 */
const Block = z.looseObject({ type: z.string() });
const Common = { session_id: z.string().min(1), parent_tool_use_id: z.string().nullable() };

export const ClaudeInit = z.looseObject({
  type: z.literal('system'),
  subtype: z.literal('init'),
  session_id: z.string().min(1),
  cwd: z.string(),
  model: z.string(),
  permissionMode: z.string(),
  tools: z.array(z.string()),
  mcp_servers: z.array(z.looseObject({ name: z.string(), status: z.string() })),
  apiKeySource: z.string(),
});

export const ClaudeAssistant = z.looseObject({
  type: z.literal('assistant'),
  message: z.looseObject({ role: z.literal('assistant'), content: z.array(Block).min(1) }),
  ...Common,
});

export const ClaudeUser = z.looseObject({
  type: z.literal('user'),
  message: z.looseObject({
    role: z.literal('user'),
    content: z.array(z.looseObject({ type: z.literal('tool_result'), tool_use_id: z.string() })),
  }),
  ...Common,
});

export const ClaudeStreamEvent = z.looseObject({
  type: z.literal('stream_event'),
  event: z.looseObject({ type: z.string() }),
  ...Common,
});

export const ClaudeResult = z.looseObject({
  type: z.literal('result'),
  subtype: z.enum(['success', 'error_max_turns', 'error_during_execution']),
  is_error: z.boolean(),
  duration_ms: z.number().int().min(0),
  duration_api_ms: z.number().int().min(0),
  num_turns: z.number().int().min(0),
  result: z.string(),
  session_id: z.string().min(1),
  total_cost_usd: z.number().min(0),
  usage: z.looseObject({ input_tokens: z.number(), output_tokens: z.number() }),
  permission_denials: z.array(z.looseObject({ tool_name: z.string(), tool_use_id: z.string() })),
});

/** Any line: Claude Code's types, or icode's own extras (`icode`), which a Claude Code parser skips. */
export const ClaudeStreamMessage = z.union([
  ClaudeInit,
  ClaudeAssistant,
  ClaudeUser,
  ClaudeStreamEvent,
  ClaudeResult,
  z.looseObject({ type: z.literal('icode'), event: z.string() }),
]);
