import { transcript } from '../plugins/session/transcript.ts';
import type {
  SessionEvent,
  SessionResult,
  SessionRunOptions,
  SessionService,
} from '../plugins/session/types.ts';

export type OutputFormat = 'text' | 'json' | 'stream-json';
export const OUTPUT_FORMATS: OutputFormat[] = ['text', 'json', 'stream-json'];

/** Splits `--allowedTools "Bash(git status),Read Edit"` into rules: on commas and spaces outside parentheses. */
export function splitRules(values: string[] = []): string[] {
  const rules: string[] = [];
  for (const value of values) {
    let depth = 0;
    let current = '';
    for (const c of value) {
      if (c === '(') depth++;
      if (c === ')') depth = Math.max(0, depth - 1);
      if (depth === 0 && (c === ',' || c === ' ')) {
        if (current) rules.push(current);
        current = '';
      } else current += c;
    }
    if (current) rules.push(current);
  }
  return rules;
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const line = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

/** Runs one prompt headless and prints it in the chosen format; returns the exit code. */
export async function runHeadless(
  session: SessionService,
  { format, ...run }: Omit<SessionRunOptions, 'signal' | 'onEvent'> & { format: OutputFormat | 'transcript' },
): Promise<number> {
  const controller = new AbortController();
  const interrupt = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  let result: SessionResult;
  try {
    result = await session.run({
      ...run,
      signal: controller.signal,
      onEvent: (event: SessionEvent) => {
        if (format === 'stream-json') line(event);
        else if (format === 'transcript') process.stdout.write(transcript(event));
      },
    });
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
  if (format === 'json') line({ type: 'result', ...result });
  if (format === 'text') {
    if (result.result) process.stdout.write(`${result.result}\n`);
    if (result.error) process.stderr.write(`icode: ${result.error}\n`);
  }
  return result.is_error ? 1 : 0;
}
