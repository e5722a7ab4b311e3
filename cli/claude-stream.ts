import type { SessionEvent, SessionResult } from '../sdk/index.ts';

/** One line of `--output-format stream-json`: the messages Claude Code prints, and icode's own extras. */
export type StreamMessage = Record<string, unknown> & { type: string };

/**
 * Turns a run's session events into the stream Claude Code prints for `-p --output-format stream-json`,
 * so scripts and CI actions written for it read icode's too:
 *
 * - `system`/`init` first: session id, cwd, model, permission mode, tools, MCP servers with their status;
 * - `assistant` messages carrying the API's content blocks (each text, thinking or tool_use block as it
 *   completes), `user` messages carrying the tool results;
 * - with `partial`, `stream_event` lines wrapping the deltas as the API streams them;
 * - `result` last: subtype (`success`, `error_max_turns`, `error_during_execution`), is_error,
 *   duration_ms, duration_api_ms, num_turns, result, session_id, total_cost_usd, usage.
 *
 * What icode says beyond that (retries, notices, todos, compactions, mode changes, plugin health) comes
 * as lines of type `icode` (a Claude Code parser skips types it does not know) and as extra fields.
 */
export class ClaudeStream {
  private session = '';
  private text = '';
  private thinking = '';
  private readonly started = Date.now();
  private firstModelAt: number | undefined;

  constructor(
    private readonly emit: (message: StreamMessage) => void,
    private readonly options: {
      partial?: boolean;
      extras?: (event: SessionEvent) => Record<string, unknown>;
    } = {},
  ) {}

  /** Feeds one session event; `result` also prints the result line. */
  push(event: SessionEvent): void {
    const extras = this.options.extras?.(event) ?? {};
    switch (event.type) {
      case 'session_start': {
        this.session = event.session_id;
        const servers = [...new Set(event.tools.flatMap((t) => /^mcp__(.+?)__/.exec(t)?.[1] ?? []))].map(
          (name) => ({ name, status: 'connected' }),
        );
        this.emit({
          type: 'system',
          subtype: 'init',
          session_id: event.session_id,
          cwd: event.cwd,
          model: event.model,
          permissionMode: event.permission_mode,
          tools: event.tools,
          mcp_servers: servers,
          apiKeySource: 'none',
          ...extras,
        });
        return;
      }
      case 'text_delta':
        this.firstModelAt ??= Date.now();
        this.text += event.text;
        this.partial({ type: 'text_delta', text: event.text });
        return;
      case 'thinking_delta':
        this.firstModelAt ??= Date.now();
        this.thinking += event.text;
        this.partial({ type: 'thinking_delta', thinking: event.text });
        return;
      case 'tool_use':
        this.flush();
        this.assistant([{ type: 'tool_use', id: event.id, name: event.name, input: event.input }]);
        return;
      case 'tool_result':
        this.flush();
        this.emit({
          type: 'user',
          message: {
            role: 'user',
            content: [
              {
                type: 'tool_result',
                tool_use_id: event.tool_use_id,
                content: event.output,
                ...(event.is_error ? { is_error: true } : {}),
              },
            ],
          },
          parent_tool_use_id: null,
          session_id: this.session,
        });
        return;
      case 'result':
        this.flush();
        this.emit(this.result(event, extras));
        return;
      default:
        this.emit({ ...event, type: 'icode', event: event.type, session_id: this.session, ...extras });
    }
  }

  /** The result line for a run that ended before its session said so (a signal past its grace). */
  result(result: Partial<SessionResult> & { is_error: boolean }, extras: Record<string, unknown> = {}) {
    const now = Date.now();
    const subtype = !result.is_error
      ? 'success'
      : result.stop_reason === 'max_turns'
        ? 'error_max_turns'
        : 'error_during_execution';
    const { type: _type, ...rest } = result as typeof result & { type?: string };
    return {
      type: 'result',
      subtype,
      duration_ms: now - this.started,
      // From the first streamed token on: the time the run spent with the model and its tools.
      duration_api_ms: this.firstModelAt === undefined ? 0 : now - this.firstModelAt,
      num_turns: result.num_turns ?? 0,
      result: result.result ?? '',
      session_id: result.session_id ?? this.session,
      total_cost_usd: result.total_cost_usd ?? 0,
      usage: result.usage ?? {},
      permission_denials: (result.tool_results ?? [])
        .filter((r) => r.is_error && /^Permission denied/.test(typeof r.output === 'string' ? r.output : ''))
        .map((r) => ({ tool_name: r.tool_name, tool_use_id: r.tool_use_id })),
      ...rest,
      ...extras,
    };
  }

  private partial(delta: Record<string, unknown>): void {
    if (!this.options.partial) return;
    this.emit({
      type: 'stream_event',
      event: { type: 'content_block_delta', delta },
      parent_tool_use_id: null,
      session_id: this.session,
    });
  }

  private flush(): void {
    const blocks = [
      ...(this.thinking ? [{ type: 'thinking', thinking: this.thinking }] : []),
      ...(this.text ? [{ type: 'text', text: this.text }] : []),
    ];
    this.thinking = '';
    this.text = '';
    if (blocks.length) this.assistant(blocks);
  }

  private assistant(content: unknown[]): void {
    this.emit({
      type: 'assistant',
      message: { type: 'message', role: 'assistant', content },
      parent_tool_use_id: null,
      session_id: this.session,
    });
  }
}
