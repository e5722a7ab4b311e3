import * as z from 'zod';
import { defineTool, type PluginContext, type ToolDefinition } from '../../sdk/index.ts';

/** A rough token count of tool definitions: four characters a token, as the mock and most estimates use. */
export const estimateTokens = (defs: ToolDefinition[]) => Math.ceil(JSON.stringify(defs).length / 4);

/**
 * The most characters the names of deferred tools take in ToolSearch's description. Past it, names that
 * share a stem are written once (`mcp__github__{create_issue,list_pulls}`), and what still does not fit is
 * counted, not named: the model finds those by keyword. So the request stays the same size however many
 * plugins are installed.
 */
export const LISTING_CHARS = 2_000;

/** Where a tool name's family ends: after the last `__` (an MCP server's tools), else the last `_` or `-`. */
function stemOf(name: string): string {
  const server = name.lastIndexOf('__');
  if (server > 0) return name.slice(0, server + 2);
  const cut = Math.max(name.lastIndexOf('_'), name.lastIndexOf('-'));
  return cut > 0 ? name.slice(0, cut + 1) : '';
}

/** Names by stem, in first-seen order of their stems. */
function families(names: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const n of names) {
    const stem = stemOf(n);
    const family = out.get(stem) ?? [];
    family.push(n);
    out.set(stem, family);
  }
  return out;
}

/** The deferred tools as ToolSearch's description lists them: every name while they fit, else compacted. */
export function deferredListing(names: string[], limit = LISTING_CHARS): string {
  const head = `Deferred tools (${names.length}): `;
  const plain = names.join(', ');
  if (plain.length <= limit) return head + plain;
  const parts: string[] = [];
  let length = 0;
  let named = 0;
  for (const [stem, family] of families(names)) {
    const grouped = stem !== '' && family.length > 1;
    // `stem{a,b}` for a family, `a, b` for names of no family; as many members as still fit.
    let size = length + (parts.length ? 2 : 0) + (grouped ? stem.length + 2 : 0);
    const fit: string[] = [];
    for (const n of family) {
      const member = grouped ? n.slice(stem.length) : n;
      const add = member.length + (fit.length ? (grouped ? 1 : 2) : 0);
      if (size + add > limit) break;
      fit.push(member);
      size += add;
    }
    if (!fit.length) break;
    parts.push(grouped ? `${stem}{${fit.join(',')}}` : fit.join(', '));
    length = size;
    named += fit.length;
    if (fit.length < family.length) break;
  }
  const rest = names.length - named;
  const more = rest ? `, and ${rest} more: find them by keyword` : '';
  const listed = parts.join(', ');
  return `${head}${listed}${more}${listed.includes('{') ? ' (a{b,c} stands for ab and ac)' : ''}`;
}

/** `select:` names, with `stem{a,b}` as the listing writes it expanded to `stema, stemb`. */
export function selectedNames(list: string): string[] {
  return list
    .replace(/([\w.-]*)\{([^{}]*)\}/g, (_, stem: string, parts: string) =>
      parts
        .split(',')
        .map((p) => stem + p.trim())
        .join(','),
    )
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
}

/**
 * Deferred tools: when the definitions of the deferrable tools would take more than `budgetTokens` of
 * every request, only their names are listed (in ToolSearch's description; compacted past
 * {@link LISTING_CHARS}) and the model loads the schemas it needs with ToolSearch — by keywords, or
 * `select:name1,name2`. A loaded tool is offered from the next request of that session on.
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
        d.name === 'ToolSearch' ? { ...d, description: `${d.description}\n${deferredListing(deferred)}` } : d,
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
          const names = selectedNames(query.slice(7));
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
