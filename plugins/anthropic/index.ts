import * as z from 'zod';
import { definePlugin } from '../../sdk/index.ts';
import { AnthropicProvider } from './provider.ts';

export default definePlugin({
  config: z.strictObject({
    /** Retries after the first attempt, for 408/409/429/5xx/529 and broken or stalled streams. */
    maxRetries: z.number().int().min(0).max(10).default(4),
    /** A stream that sends nothing for this long is abandoned and retried. */
    idleTimeoutMs: z.number().int().positive().default(60_000),
    baseBackoffMs: z.number().int().positive().default(500),
    maxBackoffMs: z.number().int().positive().default(8_000),
    /** A retry-after longer than this fails the request at once (naming the wait) instead of sleeping. */
    maxRetryAfterMs: z.number().int().positive().default(60_000),
  }),
  activate(ctx) {
    const {
      ANTHROPIC_API_KEY: apiKey,
      ANTHROPIC_AUTH_TOKEN: authToken,
      ANTHROPIC_BASE_URL: baseURL,
    } = ctx.env;
    ctx.services.provide(
      'model',
      new AnthropicProvider({
        ...ctx.config,
        ...(apiKey ? { apiKey } : {}),
        ...(authToken ? { authToken } : {}),
        ...(baseURL ? { baseURL } : {}),
      }),
    );
    if (!apiKey && !authToken && !baseURL) {
      ctx.health.degraded(
        'no Anthropic credentials: ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN and ANTHROPIC_BASE_URL are all unset',
        'export ANTHROPIC_API_KEY=…, or run `icode mock-server` and export the MOCK_ANTHROPIC_BASE_URL it prints as ANTHROPIC_BASE_URL',
      );
    }
  },
});
