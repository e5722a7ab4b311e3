import * as z from 'zod';
import { definePlugin, type SessionEndReason, type SessionInfo } from '../../sdk/index.ts';
import { runSession } from './loop.ts';
import { redactor, SessionStore } from './store.ts';

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
    const open = new Map<string, SessionInfo>();
    const end = async (id: string, reason: SessionEndReason) => {
      const session = open.get(id);
      if (!session) return;
      open.delete(id);
      await ctx.emit.sessionEnd(session, reason);
    };
    ctx.services.provide('session', {
      run: (options) => runSession(ctx, ctx.config, store, open, options),
      list: () => store.list(),
      latest: () => store.latest(),
      messages: (id) => store.messages(id),
      unlock: (id, options) => store.unlock(id, options),
      end,
    });
    // Sessions still open when icode shuts down (the UI was killed, a script forgot) end too.
    ctx.hooks.shutdown.tap(async () => {
      for (const id of [...open.keys()]) await end(id, 'other');
    });
  },
});
