import * as z from 'zod';
import { definePlugin } from '../../sdk/index.ts';
import { runSession } from './loop.ts';
import { SessionStore } from './store.ts';
import type {} from './types.ts';

export default definePlugin({
  config: z.strictObject({
    /** max_tokens of each model request. */
    maxTokens: z.number().int().positive().default(8192),
    /** Model turns per prompt before the session stops (`--max-turns` overrides it). */
    maxTurns: z.number().int().positive().default(50),
  }),
  activate(ctx) {
    const store = () => new SessionStore(ctx.userDir, ctx.projectRoot, (t) => t);
    ctx.services.provide('session', {
      run: (options) => runSession(ctx, ctx.config, options),
      list: () => store().list(),
    });
  },
});
