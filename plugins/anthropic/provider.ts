import type Anthropic from '@anthropic-ai/sdk';
import {
  importModule,
  type ModelRequest,
  type ModelResponse,
  type ModelService,
  type ModelStreamOptions,
  type ModelTurn,
  type Usage,
} from '../../sdk/index.ts';
import { ALIASES, costOf, resolveModel } from './models.ts';

export interface ProviderOptions {
  apiKey?: string;
  authToken?: string;
  baseURL?: string;
  maxRetries: number;
  idleTimeoutMs: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** The longest wait a retry-after may ask for; a longer one fails the request at once, naming it. */
  maxRetryAfterMs: number;
}

/** A request that failed for good: what the user sees names the status, error type, message and request id. */
export class ModelRequestError extends Error {
  override readonly name = 'ModelRequestError';
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly errorType: string | undefined,
    readonly requestId: string | undefined,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

const RETRY_STATUS = new Set([408, 409, 429, 500, 502, 503, 504, 529]);
const RETRY_TYPES = new Set(['overloaded_error', 'api_error', 'rate_limit_error', 'timeout_error']);

type SdkError = {
  status?: number;
  headers?: Headers;
  type?: string | null;
  apiMessage?: string | null;
  error?: { error?: { type?: string; message?: string } };
  requestID?: string | null;
  message: string;
};

function retryAfterMs(headers: Headers | undefined): number | undefined {
  const ms = Number(headers?.get('retry-after-ms'));
  if (ms > 0) return ms;
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (!Number.isNaN(seconds)) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Turns whatever the SDK or the stream threw into one error that says whether to retry. */
function classify(error: unknown, requestId: string | undefined): ModelRequestError {
  if (error instanceof ModelRequestError) return error;
  const e = error as SdkError;
  const errorType = e.type ?? e.error?.error?.type ?? undefined;
  const apiMessage = e.apiMessage ?? e.error?.error?.message ?? e.message;
  const id = e.requestID ?? requestId;
  if (e.status !== undefined || errorType) {
    const retryable =
      (e.status !== undefined && RETRY_STATUS.has(e.status)) || RETRY_TYPES.has(errorType ?? '');
    const where = e.status !== undefined ? `${e.status} ` : 'stream error ';
    const message = `Anthropic API error ${where}${errorType ?? 'unknown_error'}: ${apiMessage}${id ? ` (request ${id})` : ''}`;
    return new ModelRequestError(message, e.status, errorType, id, retryable, retryAfterMs(e.headers));
  }
  // Connection refused or reset, a cut stream: the request may be tried again.
  const cause = (error as { cause?: { code?: string } }).cause?.code;
  const message = `connection to the Anthropic API failed: ${e.message}${cause ? ` (${cause})` : ''}${id ? ` (request ${id})` : ''}`;
  return new ModelRequestError(message, undefined, undefined, id, true);
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });

/** Adds prompt-caching marks to the system prompt and the last tool definition, without touching the input. */
function withCacheMarks(request: ModelRequest): ModelRequest {
  const mark = { type: 'ephemeral' as const };
  const system =
    typeof request.system === 'string'
      ? [{ type: 'text' as const, text: request.system, cache_control: mark }]
      : request.system?.map((b, i, all) => (i === all.length - 1 ? { ...b, cache_control: mark } : b));
  const tools = request.tools?.map((t, i, all) => (i === all.length - 1 ? { ...t, cache_control: mark } : t));
  return { ...request, ...(system ? { system } : {}), ...(tools ? { tools } : {}) };
}

interface BlockState {
  block: Record<string, unknown> & { type: string };
  json?: string;
}

/**
 * The model service on the Messages API. Streams with the SDK (its own retries off, so every failure —
 * an HTTP error, an `error` event, a cut or stalled stream — goes through one retry policy here).
 */
export class AnthropicProvider implements ModelService {
  private client?: Promise<Anthropic>;

  constructor(private readonly options: ProviderOptions) {}

  resolveModel(name: string): string {
    return resolveModel(name);
  }

  models(): string[] {
    return [...Object.keys(ALIASES), ...Object.values(ALIASES)];
  }

  private sdk(): Promise<Anthropic> {
    // Imported on first use, so a start-up that never talks to a model never loads the SDK.
    this.client ??= Promise.all([
      importModule<typeof import('@anthropic-ai/sdk')>('@anthropic-ai/sdk'),
      // node-fetch on node:http instead of Node's undici-based fetch: half the start-up of a one-turn
      // session, and no keep-alive socket holding the process open afterwards (BENCHMARKS.md).
      importModule<typeof import('node-fetch')>('node-fetch'),
    ]).then(([{ default: Sdk }, { default: fetch }]) => {
      const { apiKey, authToken, baseURL } = this.options;
      return new Sdk({
        // An API key goes in x-api-key, as the API documents; an auth token as a bearer token.
        apiKey: null,
        authToken: authToken ?? null,
        ...(baseURL ? { baseURL } : {}),
        ...(!authToken ? { defaultHeaders: { 'x-api-key': apiKey ?? 'icode-no-key' } } : {}),
        maxRetries: 0,
        fetch: fetch as unknown as NonNullable<ConstructorParameters<typeof Sdk>[0]>['fetch'],
      });
    });
    return this.client;
  }

  async stream(request: ModelRequest, options: ModelStreamOptions = {}): Promise<ModelTurn> {
    const params = withCacheMarks({ ...request, model: resolveModel(request.model) });
    const { maxRetries, baseBackoffMs, maxBackoffMs } = this.options;
    for (let attempt = 1; ; attempt++) {
      try {
        return { ...(await this.attempt(params, options)), attempts: attempt };
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason ?? error;
        const failure = classify(error, undefined);
        if (!failure.retryable || attempt > maxRetries) throw failure;
        const backoff = Math.min(maxBackoffMs, baseBackoffMs * 2 ** (attempt - 1));
        const delayMs = failure.retryAfterMs ?? backoff;
        if (delayMs > this.options.maxRetryAfterMs) {
          const asked = Math.ceil(delayMs / 1000);
          throw new ModelRequestError(
            `${failure.message}; the API asked to wait ${asked} s before retrying, more than the ${this.options.maxRetryAfterMs / 1000} s icode waits (plugins.anthropic.config.maxRetryAfterMs): try again later, or raise that setting`,
            failure.status,
            failure.errorType,
            failure.requestId,
            false,
            delayMs,
          );
        }
        options.onRetry?.({ attempt, delayMs, reason: failure.message });
        await sleep(delayMs, options.signal);
      }
    }
  }

  private async attempt(
    params: ModelRequest,
    options: ModelStreamOptions,
  ): Promise<Omit<ModelTurn, 'attempts'>> {
    const client = await this.sdk();
    const controller = new AbortController();
    const onAbort = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let idle = false;
    let watchdog: NodeJS.Timeout | undefined;
    const kick = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        idle = true;
        controller.abort();
      }, this.options.idleTimeoutMs);
    };
    let requestId: string | undefined;
    try {
      kick();
      const { data: stream, response } = await client.messages
        .create(
          { ...(params as unknown as Anthropic.MessageCreateParamsStreaming), stream: true },
          { signal: controller.signal },
        )
        .withResponse();
      requestId = response.headers.get('request-id') ?? undefined;
      const blocks: BlockState[] = [];
      const toolInputErrors: Record<string, string> = {};
      let message: ModelResponse | undefined;
      let stopped = false;
      for await (const event of stream) {
        kick();
        switch (event.type) {
          case 'message_start':
            message = { ...(event.message as unknown as ModelResponse), content: [] };
            break;
          case 'content_block_start':
            blocks[event.index] = {
              block: { ...(event.content_block as unknown as BlockState['block']) },
              ...(event.content_block.type === 'tool_use' ? { json: '' } : {}),
            };
            break;
          case 'content_block_delta': {
            const state = blocks[event.index]!;
            const d = event.delta;
            if (d.type === 'text_delta') {
              state.block.text = `${state.block.text ?? ''}${d.text}`;
              options.onText?.(d.text);
            } else if (d.type === 'input_json_delta') {
              state.json += d.partial_json;
            } else if (d.type === 'thinking_delta') {
              state.block.thinking = `${state.block.thinking ?? ''}${d.thinking}`;
              options.onThinking?.(d.thinking);
            } else if (d.type === 'signature_delta') {
              state.block.signature = d.signature;
            }
            break;
          }
          case 'content_block_stop': {
            const state = blocks[event.index]!;
            if (state.json !== undefined) {
              // The input arrives as raw JSON text in pieces; it is parsed once, whole.
              try {
                state.block.input = state.json === '' ? {} : JSON.parse(state.json);
              } catch (error) {
                state.block.input = {};
                toolInputErrors[String(state.block.id)] =
                  `the tool input is not valid JSON (${(error as Error).message}): ${state.json.slice(0, 200)}`;
              }
            }
            break;
          }
          case 'message_delta':
            if (message) {
              message.stop_reason = event.delta.stop_reason;
              message.usage = { ...message.usage, ...(event.usage as Partial<Usage>) } as Usage;
            }
            break;
          case 'message_stop':
            stopped = true;
            break;
        }
      }
      if (!message || !stopped) {
        throw new ModelRequestError(
          `the stream ended before message_stop${requestId ? ` (request ${requestId})` : ''}`,
          undefined,
          undefined,
          requestId,
          true,
        );
      }
      message.content = blocks.map((b) => b.block);
      const usage: Usage = {
        input_tokens: message.usage.input_tokens ?? 0,
        output_tokens: message.usage.output_tokens ?? 0,
        cache_creation_input_tokens: message.usage.cache_creation_input_tokens ?? 0,
        cache_read_input_tokens: message.usage.cache_read_input_tokens ?? 0,
      };
      message.usage = usage;
      return {
        message,
        toolInputErrors,
        costUsd: costOf(message.model, usage),
        ...(requestId ? { requestId } : {}),
      };
    } catch (error) {
      if (idle && !options.signal?.aborted) {
        throw new ModelRequestError(
          `the stream was idle for ${this.options.idleTimeoutMs} ms${requestId ? ` (request ${requestId})` : ''}`,
          undefined,
          undefined,
          requestId,
          true,
        );
      }
      throw classify(error, requestId);
    } finally {
      clearTimeout(watchdog);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }
}
