import * as z from 'zod';
import { definePlugin } from '../../sdk/index.ts';
import { runSession } from './loop.ts';
import { redactor, SessionStore } from './store.ts';
import type {} from './types.ts';

export default definePlugin({
  config: z.strictObject({
    /** max_tokens of each model request. */
    maxTokens: z.number().int().positive().default(8192),
    /** Model turns per prompt before the session stops (`--max-turns` overrides it). */
    maxTurns: z.number().int().positive().default(50),
    /** Context size (tokens) at which older turns are summarised before the next request. */
    autoCompactTokens: z.number().int().positive().default(160_000),
  }),
  activate(ctx) {
    const secrets = redactor([ctx.env.ANTHROPIC_API_KEY, ctx.env.ANTHROPIC_AUTH_TOKEN]);
    const store = new SessionStore(ctx.userDir, ctx.projectRoot, secrets);
    ctx.services.provide('session', {
      run: (options) => runSession(ctx, ctx.config, store, options),
      list: () => store.list(),
      messages: (id) => store.messages(id),
    });
  },
});
