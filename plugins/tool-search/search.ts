import * as z from 'zod';
import { defineTool, type PluginContext, type ToolDefinition } from '../../sdk/index.ts';

/** A rough token count of tool definitions: four characters a token, as the mock and most estimates use. */
export const estimateTokens = (defs: ToolDefinition[]) => Math.ceil(JSON.stringify(defs).length / 4);

/**
 * Deferred tools: when the definitions of the deferrable tools would take more than `budgetTokens` of
 * every request, only their names are listed (in ToolSearch's description) and the model loads the
 * schemas it needs with ToolSearch — by keywords, or `select:name1,name2`. A loaded tool is offered from
 * the next request of that session on.
 */
export function deferTools(
  ctx: PluginContext,
  budgetTokens: number,
  deferrable: (name: string) => boolean,
): void {
  const loaded = new Map<string, Set<string>>();
  const isDeferrable = (d: ToolDefinition) => d.name !== 'ToolSearch' && deferrable(d.name);
  let all: ToolDefinition[] = [];

  ctx.hooks.toolDefinitions.tap(async (defs, session) => {
    const deferrableDefs = defs.filter(isDeferrable);
    all = deferrableDefs;
    if (estimateTokens(deferrableDefs) <= budgetTokens) return defs.filter((d) => d.name !== 'ToolSearch');
    const mine = loaded.get(session?.id ?? '') ?? new Set<string>();
    const deferred = deferrableDefs.filter((d) => !mine.has(d.name)).map((d) => d.name);
    return defs
      .filter((d) => !isDeferrable(d) || mine.has(d.name))
      .map((d) =>
        d.name === 'ToolSearch'
          ? {
              ...d,
              description: `${d.description}\nDeferred tools (${deferred.length}): ${deferred.join(', ')}`,
            }
          : d,
      );
  });

  ctx.tools.register(
    defineTool({
      name: 'ToolSearch',
      description:
        'Load the schemas of deferred tools (tools of MCP servers and installed plugins not sent with every request) so you can call them. Query with keywords, or "select:name1,name2" for exact names.',
      input: z.object({
        query: z.string().min(1),
        max_results: z.number().int().min(1).max(20).optional(),
      }),
      mode: 'read-only',
      async execute({ query, max_results = 5 }, tc) {
        const pool = all.length ? all : [];
        let hits: ToolDefinition[];
        if (query.startsWith('select:')) {
          const names = query
            .slice(7)
            .split(',')
            .map((n) => n.trim());
          hits = pool.filter((d) => names.includes(d.name));
        } else {
          const words = query.toLowerCase().split(/\s+/).filter(Boolean);
          hits = pool
            .map((d) => {
              const text = `${d.name} ${d.description}`.toLowerCase();
              return {
                d,
                score: words.reduce(
                  (n, w) => n + (d.name.toLowerCase().includes(w) ? 3 : text.includes(w) ? 1 : 0),
                  0,
                ),
              };
            })
            .filter((x) => x.score > 0)
            .sort((a, b) => b.score - a.score)
            .slice(0, max_results)
            .map((x) => x.d);
        }
        if (!hits.length) return `No deferred tool matches "${query}".`;
        const key = tc.sessionId ?? '';
        const mine = loaded.get(key) ?? new Set<string>();
        for (const h of hits) mine.add(h.name);
        loaded.set(key, mine);
        return `Loaded ${hits.length} tool${hits.length === 1 ? '' : 's'}; you can call ${hits.length === 1 ? 'it' : 'them'} from now on:\n${hits
          .map((h) => `- ${h.name}: ${h.description}\n  input: ${JSON.stringify(h.input_schema)}`)
          .join('\n')}`;
      },
    }),
  );
}
