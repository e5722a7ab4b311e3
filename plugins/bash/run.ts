import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { SandboxedProgram } from '../../sdk/index.ts';
import { OutputSpill } from './spill.ts';

export interface RunOptions {
  command: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  signal: AbortSignal;
  /** Wraps bash for the sandbox, when the command runs in one. */
  sandbox?: (file: string, args: string[]) => SandboxedProgram;
  /** Where an output too long to show whole is saved whole (readable only by the user). */
  outputDir: string;
  /** How much of an output the model is shown: the whole up to this, else head and tail of this size. */
  maxOutputChars: number;
  /** Output, in bytes, after which the command is killed; none: never killed for its output. */
  maxOutputBytes?: number;
}

export interface RunResult {
  output: string;
  exitCode: number | undefined;
  /** The working directory the command ended in (after its `cd`s), when it said. */
  finalCwd?: string;
  timedOut: boolean;
  interrupted: boolean;
  /** The command was killed because its output passed maxOutputBytes. */
  outputLimited: boolean;
  /** The file that holds the whole output, when it was too long to show whole. */
  savedTo?: string;
}

// The command runs as written; an EXIT trap reports the folder it ended in on fd 3, so `cd` sticks.
const script = (command: string) => `trap 'pwd -P >&3' EXIT\n${command}\n`;

/**
 * bash -c BODY, inside bwrap when sandboxed, in its own process group, with only the given environment.
 * stdout and stderr are streams, never buffered (they can be any size); fd 3, when asked for, is one line.
 */
async function spawnBash(options: RunOptions, body: string, fd3: boolean) {
  const { execa } = await import('execa');
  const program = options.sandbox
    ? options.sandbox('bash', ['-c', body])
    : { file: 'bash', args: ['-c', body], release: (): string[] => [] };
  const sub = execa(program.file, program.args, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: false,
    detached: true,
    reject: false,
    stdio: fd3 ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
    buffer: { stdout: false, stderr: false },
  });
  // Placeholders for protected paths are let go when the sandbox has gone, however it ended; what the
  // sandbox had to undo comes back as notes.
  const notes = Promise.resolve(sub).then(
    () => program.release(),
    () => program.release(),
  );
  // Wrapped: the subprocess is a promise of its result, which an await here would wait for.
  return { sub, notes };
}

/** Kills the command's whole process group (the sandbox's PID namespace dies with bwrap). */
function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {}
}

/** SIGTERM to the group, then SIGKILL after 2 s for what did not listen. */
function stopGroup(pid: number | undefined): void {
  killGroup(pid, 'SIGTERM');
  setTimeout(() => killGroup(pid, 'SIGKILL'), 2000).unref();
}

/** Streams stdout and stderr, interleaved as they come, into the spill; settles when both have ended. */
async function drainInto(spill: OutputSpill, streams: Array<Readable | null>): Promise<void> {
  const open = streams.filter((s): s is Readable => s !== null);
  for (const s of open) s.pipe(spill, { end: false });
  await Promise.all(open.map((s) => finished(s).catch(() => {})));
  spill.end();
  await finished(spill);
}

/**
 * Runs a command to the end in its own process group: a timeout or an abort kills the whole group
 * (SIGTERM, then SIGKILL after 2 s), and so does output past maxOutputBytes when that is set. Output is
 * stdout and stderr interleaved, streamed: memory keeps its head and tail, and an output longer than
 * that goes whole to a file whose path the result names, so any amount of output is taken in bounded
 * memory and the command is not stopped for it.
 */
export async function runCommand(options: RunOptions): Promise<RunResult> {
  const { sub, notes } = await spawnBash(options, script(options.command), true);
  let timedOut = false;
  let interrupted = false;
  let outputLimited = false;
  const stop = (why: 'timeout' | 'abort' | 'size') => {
    if (why === 'timeout') timedOut = true;
    else if (why === 'abort') interrupted = true;
    else outputLimited = true;
    stopGroup(sub.pid);
  };
  const spill = new OutputSpill({
    file: join(options.outputDir, `bash-${randomBytes(6).toString('hex')}.txt`),
    keepBytes: options.maxOutputChars,
    ...(options.maxOutputBytes ? { maxBytes: options.maxOutputBytes } : {}),
    onLimit: () => stop('size'),
  });
  const drained = drainInto(spill, [sub.stdout, sub.stderr]);
  const timer = setTimeout(() => stop('timeout'), options.timeoutMs);
  const onAbort = () => stop('abort');
  options.signal.addEventListener('abort', onAbort, { once: true });
  if (options.signal.aborted) onAbort();
  const [result] = await Promise.all([sub, drained]);
  clearTimeout(timer);
  options.signal.removeEventListener('abort', onAbort);
  const output = spill.render().replace(/\n$/, '');
  const finalCwd = String(result.stdio[3] ?? '').trim() || undefined;
  const undone = await notes;
  return {
    output: undone.length ? [output, ...undone].join('\n') : output,
    exitCode: result.exitCode,
    ...(finalCwd ? { finalCwd } : {}),
    timedOut,
    interrupted,
    outputLimited,
    ...(spill.saved && !spill.saveError ? { savedTo: spill.file } : {}),
  };
}

export interface Started {
  pid: number | undefined;
  outputFile: string;
  /** Settles with the exit code once the command has ended and its output is all in the file. */
  done: Promise<{ exitCode: number | undefined; outputLimited: boolean }>;
}

/**
 * Starts a command in the background and returns at once; its output streams to a log file (bounded
 * memory, as for {@link runCommand}), which bash_output reads.
 */
export async function startBackground(options: RunOptions, id: string): Promise<Started> {
  mkdirSync(options.outputDir, { recursive: true, mode: 0o700 });
  const outputFile = join(options.outputDir, `${id}.log`);
  // There from the start, so bash_output can read a command that has printed nothing yet.
  closeSync(openSync(outputFile, 'a', 0o600));
  const { sub, notes } = await spawnBash(options, options.command, false);
  let outputLimited = false;
  const spill = new OutputSpill({
    file: outputFile,
    keepBytes: options.maxOutputChars,
    eager: true,
    ...(options.maxOutputBytes ? { maxBytes: options.maxOutputBytes } : {}),
    onLimit: () => {
      outputLimited = true;
      stopGroup(sub.pid);
    },
  });
  const drained = drainInto(spill, [sub.stdout, sub.stderr]);
  const done = Promise.all([sub, drained]).then(async ([r]) => {
    const undone = await notes;
    if (undone.length) await appendFile(outputFile, `${undone.join('\n')}\n`);
    return { exitCode: r.exitCode, outputLimited };
  });
  return { pid: sub.pid, outputFile, done };
}

export { killGroup };
