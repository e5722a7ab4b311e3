import type { Usage } from '../../sdk/index.ts';

/** Short names users type, resolved to the current model ids (November 2026). */
export const ALIASES: Record<string, string> = {
  opus: 'claude-opus-5-5',
  sonnet: 'claude-sonnet-5-5',
  haiku: 'claude-haiku-4-5',
};

export const resolveModel = (name: string): string => ALIASES[name] ?? name;

/**
 * US dollars per million input and output tokens, by model id prefix (the first match wins, so the more
 * specific prefixes come first). Cache writes cost 1.25x input, cache reads 0.1x input.
 */
const PRICES: Array<[prefix: string, input: number, output: number]> = [
  ['claude-fable-5', 10, 50],
  ['claude-opus-5-5', 4, 20],
  ['claude-opus-5', 5, 25],
  ['claude-opus-4-1', 15, 75],
  ['claude-opus-4-0', 15, 75],
  ['claude-opus-4-2', 15, 75],
  ['claude-opus-4', 5, 25],
  ['claude-sonnet-5', 2, 10],
  ['claude-sonnet-4', 3, 15],
  ['claude-haiku-4-5', 1, 5],
];

/** The estimated cost of a turn; 0 for a model not in the table (a proxy's or a test's own name). */
export function costOf(model: string, usage: Usage): number {
  const price = PRICES.find(([prefix]) => model.startsWith(prefix));
  if (!price) return 0;
  const [, input, output] = price;
  const tokens =
    usage.input_tokens * input +
    usage.cache_creation_input_tokens * input * 1.25 +
    usage.cache_read_input_tokens * input * 0.1 +
    usage.output_tokens * output;
  return tokens / 1_000_000;
}
