import type { PluginStatus } from '../kernel/index.ts';
import {
  type SessionEvent,
  type SessionResult,
  type SessionRunOptions,
  type SessionService,
  transcript,
} from '../sdk/index.ts';
import { ClaudeStream } from './claude-stream.ts';

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

/** A plugin that is not fully working, as the JSON result and the stream-json start event carry it. */
export interface PluginHealth {
  name: string;
  state: PluginStatus['state'];
  reason?: string;
  fix?: string;
}

/** The failed and degraded plugins (disabled ones were switched off on purpose). */
export function pluginHealth(statuses: PluginStatus[]): PluginHealth[] {
  return statuses
    .filter((p) => p.state === 'failed' || p.state === 'degraded')
    .map((p) => ({
      name: p.name,
      state: p.state,
      ...(p.reason ? { reason: p.reason } : {}),
      ...(p.fix ? { fix: p.fix } : {}),
    }));
}

/** One stderr line per plugin that is not fully working, so a headless run never hides one. */
export function reportHealth(health: PluginHealth[]): void {
  for (const p of health)
    process.stderr.write(
      `icode: plugin ${p.name} is ${p.state}: ${p.reason ?? 'no reason given'}${p.fix ? ` (fix: ${p.fix})` : ''}\n`,
    );
}

const SIGNAL_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
/** How long the run has, after the first SIGINT/SIGTERM, to finish its turn and save before icode exits anyway. */
const GRACE_MS = 5_000;

/**
 * Runs one prompt headless and prints it in the chosen format; returns the exit code. The first SIGINT or
 * SIGTERM interrupts the run: every tool call still gets a result and the session is saved; the process
 * ends within 5 s whatever happens, and a second signal ends it at once (exit code 130 or 143).
 */
export async function runHeadless(
  session: SessionService,
  {
    format,
    health = () => [],
    partial = false,
    ...run
  }: Omit<SessionRunOptions, 'signal' | 'onEvent'> & {
    format: OutputFormat | 'transcript';
    health?: () => PluginStatus[];
    /** stream-json: also the deltas as they stream (`--include-partial-messages`). */
    partial?: boolean;
  },
): Promise<number> {
  const controller = new AbortController();
  let signalled: keyof typeof SIGNAL_CODES | undefined;
  let printed = false;
  // Claude Code's shapes; the start and the result also carry the plugins that are not fully working.
  const stream = new ClaudeStream(
    (message) => {
      if (message.type === 'result') printed = true;
      line(message);
    },
    {
      partial,
      extras: (event) =>
        event.type === 'session_start' || event.type === 'result'
          ? { plugin_health: pluginHealth(health()) }
          : {},
    },
  );
  const printResult = (result: Partial<SessionResult> & { is_error: boolean }) => {
    if (printed) return;
    printed = true;
    if (format === 'json' || format === 'stream-json')
      line(stream.result(result, { plugin_health: pluginHealth(health()) }));
  };
  const onSignal = (signal: keyof typeof SIGNAL_CODES) => {
    const code = SIGNAL_CODES[signal];
    if (signalled) {
      process.stderr.write(`icode: ${signal} again: stopping now\n`);
      process.exit(code);
    }
    signalled = signal;
    process.stderr.write(`icode: ${signal}: stopping the run (send it again to stop at once)\n`);
    controller.abort(new Error(`interrupted by ${signal}`));
    // Whatever still holds the run (a model stream, a plugin's hook), the process ends in time.
    setTimeout(() => {
      process.stderr.write(`icode: the run did not stop within ${GRACE_MS / 1000} s of ${signal}; exiting\n`);
      printResult({ is_error: true, stop_reason: 'interrupted', error: `interrupted by ${signal}` });
      process.stdout.write('', () => process.exit(code));
    }, GRACE_MS).unref();
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  let result: SessionResult;
  try {
    result = await session.run({
      ...run,
      signal: controller.signal,
      onEvent: (event: SessionEvent) => {
        if (event.type === 'retry')
          process.stderr.write(
            `icode: retrying in ${Math.ceil(event.delay_ms / 1000)} s (attempt ${event.attempt}): ${event.reason}\n`,
          );
        if (format === 'stream-json') stream.push(event);
        else if (format === 'transcript') process.stdout.write(transcript(event));
      },
    });
  } finally {
    // The handlers stay until a signal has been answered: a second one during shutdown still ends at once.
    if (!signalled) {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    }
  }
  if (format === 'json') printResult(result);
  if (format === 'text') {
    if (result.result) process.stdout.write(`${result.result}\n`);
    if (result.error) process.stderr.write(`icode: ${result.error}\n`);
  } else if (result.stop_reason === 'storage_error') {
    // The session was not saved whole: say so where a person sees it, whatever reads stdout.
    process.stderr.write(`icode: ${result.error}\n`);
  }
  if (signalled) return SIGNAL_CODES[signalled];
  return result.is_error ? 1 : 0;
}
