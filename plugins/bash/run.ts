import { mkdirSync, writeFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { capOutput, type SandboxedProgram } from '../../sdk/index.ts';

export interface RunOptions {
  command: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  signal: AbortSignal;
  /** Wraps bash for the sandbox, when the command runs in one. */
  sandbox?: (file: string, args: string[]) => SandboxedProgram;
  /** Where a capped output is saved in full. */
  outputDir: string;
  maxOutputChars: number;
}

export interface RunResult {
  output: string;
  exitCode: number | undefined;
  /** The working directory the command ended in (after its `cd`s), when it said. */
  finalCwd?: string;
  timedOut: boolean;
  interrupted: boolean;
}

let counter = 0;

// The command runs as written; an EXIT trap reports the folder it ended in on fd 3, so `cd` sticks.
const script = (command: string) => `trap 'pwd -P >&3' EXIT\n${command}\n`;

/** bash -c BODY, inside bwrap when sandboxed, in its own process group, with only the given environment. */
async function spawnBash<O extends Record<string, unknown>>(options: RunOptions, body: string, io: O) {
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
    ...io,
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

/**
 * Runs a command to the end in its own process group: a timeout or an abort kills the whole group
 * (SIGTERM, then SIGKILL after 2 s). Output is stdout and stderr interleaved; a long output keeps its head
 * and tail and is saved whole to a file whose path the result names.
 */
export async function runCommand(options: RunOptions): Promise<RunResult> {
  const { sub, notes } = await spawnBash(options, script(options.command), {
    all: true,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  } as const);
  let timedOut = false;
  let interrupted = false;
  const stop = (why: 'timeout' | 'abort') => {
    if (why === 'timeout') timedOut = true;
    else interrupted = true;
    killGroup(sub.pid, 'SIGTERM');
    setTimeout(() => killGroup(sub.pid, 'SIGKILL'), 2000).unref();
  };
  const timer = setTimeout(() => stop('timeout'), options.timeoutMs);
  const onAbort = () => stop('abort');
  options.signal.addEventListener('abort', onAbort, { once: true });
  if (options.signal.aborted) onAbort();
  const result = await sub;
  clearTimeout(timer);
  options.signal.removeEventListener('abort', onAbort);
  const all = String(result.all ?? '').replace(/\n$/, '');
  let output = all;
  if (all.length > options.maxOutputChars) {
    mkdirSync(options.outputDir, { recursive: true });
    const saved = join(options.outputDir, `bash-${process.pid}-${Date.now()}-${++counter}.txt`);
    writeFileSync(saved, all);
    output = capOutput(all, options.maxOutputChars, { savedTo: saved });
  }
  const finalCwd = String(result.stdio[3] ?? '').trim() || undefined;
  const undone = await notes;
  return {
    output: undone.length ? [output, ...undone].join('\n') : output,
    exitCode: result.exitCode,
    ...(finalCwd ? { finalCwd } : {}),
    timedOut,
    interrupted,
  };
}

/** Starts a command in the background, its output going to a file; returns at once. */
export async function startBackground(
  options: RunOptions,
  id: string,
): Promise<{ pid: number | undefined; outputFile: string; done: Promise<number | undefined> }> {
  mkdirSync(options.outputDir, { recursive: true });
  const outputFile = join(options.outputDir, `${id}.log`);
  const { sub, notes } = await spawnBash(options, options.command, {
    stdin: 'ignore',
    stdout: { file: outputFile, append: true },
    stderr: { file: outputFile, append: true },
  } as const);
  const done = sub.then(async (r) => {
    const undone = await notes;
    if (undone.length) await appendFile(outputFile, `${undone.join('\n')}\n`);
    return r.exitCode;
  });
  return { pid: sub.pid, outputFile, done };
}

export { killGroup };
