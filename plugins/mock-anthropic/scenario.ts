import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { ErrorCodes, IcodeError, loadJsonFile } from '../../sdk/index.ts';

const times = z
  .number()
  .int()
  .min(1)
  .default(1)
  .describe('How many attempts of this step fail before it succeeds');

/** A failure the mock injects into a step, for the first `times` attempts of it. */
const Fault = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('http_error'),
    status: z.number().int().min(400).max(599),
    errorType: z.string(),
    message: z.string().default('Injected by the mock'),
    retryAfter: z.number().min(0).optional().describe('Seconds, sent as the retry-after header'),
    times,
  }),
  z.strictObject({
    type: z.literal('stream_error'),
    afterEvents: z.number().int().min(1),
    errorType: z.string().default('overloaded_error'),
    message: z.string().default('Overloaded'),
    times,
  }),
  z.strictObject({ type: z.literal('cut'), afterEvents: z.number().int().min(1), times }),
  z.strictObject({ type: z.literal('truncate'), afterEvents: z.number().int().min(1), times }),
  z.strictObject({ type: z.literal('stall'), afterEvents: z.number().int().min(1), times }),
]);
export type Fault = z.output<typeof Fault>;

const Text = z.strictObject({
  type: z.literal('text'),
  /** The text; `{{tool_results}}` becomes the text of the latest tool results. */
  text: z.string().optional(),
  /** Explicit deltas, sent as they are. */
  deltas: z.array(z.string()).optional(),
  /** Repeat `text` this many times (long streams without long files). */
  repeat: z.number().int().min(1).default(1),
  /** Split `text` into this many deltas. */
  chunks: z.number().int().min(1).default(1),
});
const ToolUse = z.strictObject({
  type: z.literal('tool_use'),
  id: z.string().optional(),
  name: z.string(),
  input: z.record(z.string(), z.unknown()).default({}),
  /** Raw `partial_json` chunks, sent as they are (they need not parse). */
  partialJson: z.array(z.string()).optional(),
  /** Split the JSON of `input` into this many chunks. */
  chunks: z.number().int().min(1).default(3),
});
const Thinking = z.strictObject({
  type: z.literal('thinking'),
  thinking: z.string(),
  signature: z.string(),
  chunks: z.number().int().min(1).default(2),
});
const Block = z.discriminatedUnion('type', [Text, ToolUse, Thinking]);
export type ScriptedBlock = z.output<typeof Block>;

const Step = z.strictObject({
  /**
   * Answer any request whose last user message contains this text (its prompt, or its tool results)
   * with this step, whatever the round. Steps without `when` answer by round, in order.
   */
  when: z.string().min(1).optional(),
  content: z.array(Block).min(1),
  stopReason: z
    .enum(['end_turn', 'tool_use', 'max_tokens', 'stop_sequence', 'refusal', 'pause_turn'])
    .optional(),
  fault: Fault.optional(),
  /** Milliseconds between SSE events (a slow stream). */
  delayMs: z.number().int().min(0).default(0),
});
export type Step = z.output<typeof Step>;

/**
 * A scripted conversation. Step N (counting steps without `when`) answers the request that carries N rounds
 * of tool results after the user message that chose the scenario: step 0 is the first reply, step 1 the
 * reply to its tool results. A step with `when` answers whenever its text is in the last user message.
 */
export const ScenarioSchema = z.strictObject({
  $schema: z.string().optional(),
  name: z.string().regex(/^[a-z0-9_]+$/, 'scenario names are lowercase letters, digits and _'),
  description: z.string().optional(),
  steps: z.array(Step).min(1),
  /** How the parity runner drives the harness, and what it expects (validated by the parity plugin). */
  run: z.record(z.string(), z.unknown()).optional(),
  expect: z.record(z.string(), z.unknown()).optional(),
  /**
   * Web pages the mock serves at `/__mock/pages/<scenario>/<path>` for WebFetch scenarios; tool inputs
   * write the mock's address as `{{base_url}}`.
   */
  pages: z
    .record(
      z.string().startsWith('/'),
      z.strictObject({
        status: z.number().int().default(200),
        contentType: z.string().default('text/html; charset=utf-8'),
        body: z.string().default(''),
        /** A redirect target (`{{base_url}}` allowed). */
        location: z.string().optional(),
      }),
    )
    .optional(),
});
export type Scenario = z.output<typeof ScenarioSchema>;

/** The scenarios the mock answers from: looked up by name. */
export interface Scenarios {
  get(name: string): Scenario | undefined;
  keys(): Iterable<string>;
}

/** Reads one scenario file; a bad file is an error naming its line and key. */
function loadScenarioFile(dir: string, file: string): Scenario {
  const path = join(dir, file);
  const scenario = loadJsonFile(readFileSync(path, 'utf8'), path, ScenarioSchema);
  if (`${scenario.name}.json` !== file) {
    throw new IcodeError(
      ErrorCodes.FILE_INVALID,
      `${path}: the scenario is named "${scenario.name}", but the file is ${file}`,
      `rename the file to ${scenario.name}.json, or change "name"`,
    );
  }
  return scenario;
}

const scenarioFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();

/** Reads every `*.json` scenario in a folder (the parity runner, which checks them all). */
export function loadScenarios(dir: string): Map<string, Scenario> {
  return new Map(
    scenarioFiles(dir).map((file) => {
      const scenario = loadScenarioFile(dir, file);
      return [scenario.name, scenario];
    }),
  );
}

/**
 * The scenarios of a folder, each read when first asked for: a mock server starts without parsing
 * every file (a one-turn `icode -p --mock` used the one it needs). A bad file is an error when chosen.
 */
export function scenarioFolder(dir: string): Scenarios {
  const names = scenarioFiles(dir).map((f) => f.slice(0, -'.json'.length));
  const read = new Map<string, Scenario>();
  return {
    keys: () => names,
    get(name) {
      if (!names.includes(name)) return undefined;
      if (!read.has(name)) read.set(name, loadScenarioFile(dir, `${name}.json`));
      return read.get(name);
    },
  };
}

/** Splits a string into `n` pieces of nearly equal length (never empty unless the string is). */
export function split(text: string, n: number): string[] {
  if (n <= 1 || text.length <= 1) return [text];
  const parts = Math.min(n, text.length);
  const size = Math.ceil(text.length / parts);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}
