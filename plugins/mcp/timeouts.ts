import type { ServerConfig } from './servers.ts';

/** How long one server may take, in ms. */
export interface Timeouts {
  /** Spawn or connect, `initialize`, `tools/list` and `prompts/list`, all together. */
  startupMs: number;
  /** One `tools/call` (and a resource or prompt read). */
  callMs: number;
}

/**
 * The defaults for every server: the plugin's config, overridden by Claude Code's environment variables
 * (`MCP_TIMEOUT` for start-up, `MCP_TOOL_TIMEOUT` for calls, both in ms) so a setup that already sets
 * them keeps its limits. A value that is not a positive number of ms is a problem, not silently ignored.
 */
export function defaultTimeouts(
  config: Timeouts,
  env: Readonly<Record<string, string | undefined>>,
): { timeouts: Timeouts; problems: string[] } {
  const problems: string[] = [];
  const fromEnv = (name: string, fallback: number) => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const ms = Number(raw);
    if (Number.isInteger(ms) && ms > 0) return ms;
    problems.push(`$${name} is "${raw}": expected a whole number of milliseconds such as 30000; ignored`);
    return fallback;
  };
  return {
    timeouts: {
      startupMs: fromEnv('MCP_TIMEOUT', config.startupMs),
      callMs: fromEnv('MCP_TOOL_TIMEOUT', config.callMs),
    },
    problems,
  };
}

/** A server's own limits (`startupTimeoutMs`; `timeout`, as Claude Code names it, or `timeoutMs`) win. */
export const serverTimeouts = (config: ServerConfig, defaults: Timeouts): Timeouts => ({
  startupMs: config.startupTimeoutMs ?? defaults.startupMs,
  callMs: config.timeout ?? config.timeoutMs ?? defaults.callMs,
});

/** `1 s`, `1.5 s`, `300 ms`: how a limit reads in a message. */
export const formatMs = (ms: number) => (ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(1))} s`);
