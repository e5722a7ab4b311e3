import * as z from 'zod';
import { definePlugin } from '../../sdk/index.ts';
import { deferTools } from './search.ts';

/**
 * Deferred tools for every plugin, not only MCP: the built-in tools are always sent; the tools of MCP
 * servers and of plugins that are not built in (installed, or given by path) are sent by name only once
 * their definitions would take more than `budgetTokens` of every request, and ToolSearch loads the ones
 * the model needs. So two hundred installed plugins cost a request little more than none.
 */
export default definePlugin({
  config: z.strictObject({
    /** Tokens the deferrable tools' definitions may take in every request before they are deferred. */
    budgetTokens: z.number().int().min(0).optional(),
  }),
  activate(ctx) {
    // The mcp plugin's old setting still counts where this one's is not set.
    const legacy = ctx.settings.plugins.mcp?.config?.toolSearchBudgetTokens;
    const budget = ctx.config.budgetTokens ?? (typeof legacy === 'number' ? legacy : 20_000);
    const builtin = new Set(
      ctx
        .plugins()
        .filter((p) => p.source === 'builtin')
        .map((p) => p.name),
    );
    deferTools(ctx, budget, (name) => {
      if (name.startsWith('mcp__')) return true;
      const owner = ctx.tools.owner(name);
      return owner !== undefined && !builtin.has(owner);
    });
  },
});
