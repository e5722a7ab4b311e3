import { capOutput } from '../../sdk/index.ts';

export interface HookCommand {
  command: string;
  /** Seconds (Claude Code's unit); default 60. */
  timeout?: number;
  /** A PreToolUse hook that crashes or times out lets the call through instead of blocking it. */
  failOpen?: boolean;
}

export interface HookOutcome {
  /** 0 continue, 2 block; anything else is a failure of the hook itself. */
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** stdout parsed as JSON, when it is a JSON object. */
  json?: Record<string, unknown>;
}

const MAX_OUTPUT = 10_000;

/** Runs one hook command with the event as JSON on stdin, a timeout, the project's environment and capped output. */
export async function runHook(
  hook: HookCommand,
  event: Record<string, unknown>,
  options: { cwd: string; env: Readonly<Record<string, string | undefined>> },
): Promise<HookOutcome> {
  const { execa } = await import('execa');
  const timeoutMs = (hook.timeout ?? 60) * 1000;
  const r = await execa('bash', ['-c', hook.command], {
    cwd: options.cwd,
    env: { ...options.env, ICODE_PROJECT_DIR: options.cwd, CLAUDE_PROJECT_DIR: options.cwd },
    extendEnv: false,
    input: JSON.stringify(event),
    reject: false,
    timeout: timeoutMs,
    forceKillAfterDelay: 1000,
    maxBuffer: 1024 * 1024,
  });
  const stdout = capOutput(String(r.stdout ?? '').trim(), MAX_OUTPUT);
  const stderr = capOutput(String(r.stderr ?? '').trim(), MAX_OUTPUT);
  let json: Record<string, unknown> | undefined;
  if (stdout.startsWith('{')) {
    try {
      const parsed = JSON.parse(stdout) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
        json = parsed as Record<string, unknown>;
    } catch {}
  }
  return { exitCode: r.exitCode, stdout, stderr, timedOut: Boolean(r.timedOut), ...(json ? { json } : {}) };
}
