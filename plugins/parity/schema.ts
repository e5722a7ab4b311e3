import * as z from 'zod';

const Contains = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]));

/** How the harness is run for a scenario. */
export const RunSchema = z.strictObject({
  /** The prompt; ` PARITY_SCENARIO:<name>` is appended. */
  prompt: z.string().default('Do the task.'),
  permissionMode: z.enum(['read-only', 'workspace-write', 'danger-full-access', 'plan', 'prompt']).optional(),
  allowedTools: z.array(z.string()).default([]),
  disallowedTools: z.array(z.string()).default([]),
  /** Lines for stdin, e.g. answers to permission prompts with `--permission-prompt-stdin`. */
  stdin: z.string().optional(),
  /** More command-line arguments for `icode -p`. */
  args: z.array(z.string()).default([]),
  /** Files to create before the run: path (relative to the workspace; `../x` lands beside it) → content. */
  files: z.record(z.string(), z.string()).default({}),
  /** The workspace's `.icode/settings.json`. */
  settings: z.record(z.string(), z.unknown()).optional(),
  /**
   * The user's `~/.icode/settings.json` in the temporary HOME (trusted where project files are not: MCP
   * servers defined here start without approval). The run's environment has ICODE_PACKAGE_ROOT, the
   * folder icode is installed in, for `${ICODE_PACKAGE_ROOT}` in such settings or in fixture scripts.
   */
  userSettings: z.record(z.string(), z.unknown()).optional(),
  /** Programs the scenario needs on PATH (a language server, say); without them it is skipped, saying why. */
  requires: z.array(z.string().min(1)).default([]),
});

/** What must be true afterwards. Every key is optional; only what is given is checked. */
export const ExpectSchema = z.strictObject({
  exitCode: z.number().int().optional(),
  isError: z.boolean().optional(),
  stopReason: z.string().optional(),
  numTurns: z.number().int().optional(),
  /** How many compactions the JSON result reports, and by what (model or local summary). */
  compactions: z
    .array(z.object({ trigger: z.enum(['auto', 'manual']), summarySource: z.enum(['model', 'local']) }))
    .optional(),
  /** Texts the final message contains. */
  result: Contains.optional(),
  toolUses: z
    .array(z.strictObject({ name: z.string(), input: z.record(z.string(), z.unknown()).optional() }))
    .optional(),
  toolResults: z
    .array(
      z.strictObject({
        toolName: z.string(),
        isError: z.boolean().optional(),
        contains: Contains.optional(),
      }),
    )
    .optional(),
  /** Files afterwards: path → texts it contains, or null when it must not exist. */
  files: z.record(z.string(), Contains.nullable()).optional(),
  usage: z
    .strictObject({ inputTokensAtLeast: z.number().optional(), costUsdAtLeast: z.number().optional() })
    .optional(),
  /** What the mock received. */
  requests: z
    .strictObject({
      count: z.number().int().optional(),
      stream: z.boolean().optional(),
      toolsOffered: z.array(z.string()).optional(),
      /** Tool name → texts its description in the first request contains (what the model is told). */
      toolDescriptionContains: z.record(z.string(), Contains).optional(),
      /** Texts that some tool_result the harness sent contains. */
      toolResultContains: Contains.optional(),
    })
    .optional(),
});

export const ParityScenarioSchema = z.looseObject({
  name: z.string(),
  description: z.string().optional(),
  run: RunSchema,
  expect: ExpectSchema,
});
export type ParityScenario = z.output<typeof ParityScenarioSchema>;
