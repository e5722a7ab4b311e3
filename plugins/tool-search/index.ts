import * as z from 'zod';
import { definePlugin } from '../../sdk/index.ts';
import { deferTools } from './search.ts';

/**
 * Every request carries this many tokens of deferrable tools' definitions before they are deferred: about
 * ten tools of a few described parameters each (the built-in tools average ≈ 130 tokens), so a handful of
 * installed plugins or a small MCP server are sent as they are. Past it, deferring costs ToolSearch's own
 * definition and a listing of at most 2,000 characters, ≈ 15% of the built-in tools' request, however many
 * tools there are. (Claude Code's 10% of a 200k context, 20,000 tokens, would let installed tools double
 * the request before any is deferred.)
 */
const DEFAULT_BUDGET_TOKENS = 2_000;

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
    const budget = ctx.config.budgetTokens ?? (typeof legacy === 'number' ? legacy : DEFAULT_BUDGET_TOKENS);
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
