import { formatMs } from './timeouts.ts';

// The SDK's ErrorCode values; the SDK loads lazily, so they are not imported from it.
const CONNECTION_CLOSED = -32000;
const REQUEST_TIMEOUT = -32001;

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The SDK raises both as McpError; the server the user sees them against should be named either way. */
export const isTimeout = (error: unknown) => (error as { code?: unknown })?.code === REQUEST_TIMEOUT;
export const isClosed = (error: unknown) => (error as { code?: unknown })?.code === CONNECTION_CLOSED;

/**
 * The error a failed request to a running server becomes: it names the server and the request, and says
 * whether the server was slow (timed out), went away (with why, from the connection's status) or refused.
 * The model and the user read it as an `is_error` tool result, so it must stand on its own.
 */
export function requestFailure(
  server: string,
  what: string,
  error: unknown,
  context: { timeoutMs: number; signal?: AbortSignal | undefined; lost?: string | undefined },
): Error {
  if (context.signal?.aborted)
    return new Error(`MCP server "${server}": ${what} was cancelled (${messageOf(context.signal.reason)})`);
  if (isTimeout(error))
    return new Error(
      `MCP server "${server}" timed out: no answer to ${what} within ${formatMs(context.timeoutMs)}; if its work is only slow, raise "timeout" (ms) in the server's entry`,
    );
  if (isClosed(error))
    return new Error(`MCP server "${server}" ${context.lost ?? 'disconnected'} (during ${what})`);
  return new Error(`MCP server "${server}": ${what} failed: ${messageOf(error)}`);
}
