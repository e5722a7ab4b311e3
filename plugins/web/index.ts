import * as z from 'zod';
import { definePlugin, defineTool } from '../../sdk/index.ts';
import { SearchConfig, search, searchProblem, underDomain } from './search.ts';

const hostOf = (url: string) => {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return url;
  }
};

export default definePlugin({
  config: z.strictObject({
    timeoutMs: z.number().int().positive().default(30_000),
    /** Bytes read from a response at most; the rest is cut. */
    maxBytes: z
      .number()
      .int()
      .positive()
      .default(5 * 1024 * 1024),
    /** Characters of a page the model gets at most. */
    maxChars: z.number().int().positive().default(100_000),
    maxRedirects: z.number().int().min(0).default(5),
    /** How long a fetched page is reused. */
    cacheTtlMs: z
      .number()
      .int()
      .min(0)
      .default(15 * 60_000),
    search: SearchConfig.optional(),
  }),
  activate(ctx) {
    const cache = new Map<string, { at: number; text: string }>();
    const limits = {
      timeoutMs: ctx.config.timeoutMs,
      maxBytes: ctx.config.maxBytes,
      maxRedirects: ctx.config.maxRedirects,
    };

    // Every new domain is asked about unless a rule allows it (WebFetch(domain:example.com)) or the session
    // runs with full access: fetching sends data out of the machine even though it changes nothing here.
    ctx.hooks.permissionRequest.tap(async (request, provisional) => {
      if (request.tool !== 'WebFetch' || provisional.rule || request.sessionMode === 'danger-full-access')
        return undefined;
      const host = request.subjects?.values[0] ?? '';
      return {
        decision: 'ask',
        reason: `WebFetch would fetch from ${host}; allow it with WebFetch(domain:${host})`,
      };
    });

    ctx.tools.register(
      defineTool({
        name: 'WebFetch',
        description:
          'Fetch a web page (http or https) and read it as markdown, to answer `prompt` from it. A redirect to another host is reported, not followed: call WebFetch again with the new URL. Pages are cached for a few minutes.',
        input: z.object({
          url: z.string().url().describe('The full URL, http:// or https://'),
          prompt: z.string().describe('What you want to learn from the page'),
        }),
        mode: 'read-only',
        concurrencySafe: true,
        subjects: ({ url }) => ({ kind: 'domain', values: [hostOf(url)] }),
        async execute({ url, prompt }, tctx) {
          const parsed = new URL(url);
          if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
            throw new Error(`only http and https URLs can be fetched, not ${parsed.protocol}`);
          if (parsed.username || parsed.password) throw new Error('URLs with credentials are not fetched');
          const hit = cache.get(parsed.href);
          let text: string;
          if (hit && Date.now() - hit.at < ctx.config.cacheTtlMs) text = hit.text;
          else {
            // turndown (and its DOM) loads with the first fetch, not at start-up.
            const { fetchPage } = await import('./fetch.ts');
            const page = await fetchPage(parsed.href, limits, tctx.signal);
            if (page.kind === 'redirect')
              return `REDIRECT: ${page.from} answered ${page.status} and redirects to another host: ${page.to}\nIt was not followed. To read it, call WebFetch with url "${page.to}" (its domain, ${hostOf(page.to)}, needs its own permission).`;
            const body =
              page.text.length > ctx.config.maxChars
                ? `${page.text.slice(0, ctx.config.maxChars)}\n\n[cut at ${ctx.config.maxChars} characters]`
                : page.text;
            text = `URL: ${page.url}\nStatus: ${page.status}\nContent-Type: ${page.contentType}${page.truncated ? `\n[the response was larger than ${ctx.config.maxBytes} bytes; only the start was read]` : ''}\n\n${body}`;
            // Expired pages go as new ones come, so a long session does not keep every page it read.
            for (const [key, entry] of cache)
              if (Date.now() - entry.at >= ctx.config.cacheTtlMs) cache.delete(key);
            cache.set(parsed.href, { at: Date.now(), text });
          }
          return `${text}\n\n---\nAnswer from the page above: ${prompt}`;
        },
      }),
    );

    const problem = searchProblem(ctx.config.search, ctx.env);
    if (problem) {
      // A tool the user switched off is not missing: no notice for it on every run.
      if (ctx.settings.plugins[ctx.name]?.tools?.WebSearch !== false)
        ctx.health.degraded(
          `WebSearch is off: ${problem}`,
          'configure a backend as above, or switch the tool off: plugins.web.tools.WebSearch: false',
        );
      return;
    }
    const config = ctx.config.search!;
    ctx.tools.register(
      defineTool({
        name: 'WebSearch',
        description: `Search the web (${config.backend}); results are titles, URLs and snippets. Use WebFetch to read a result.`,
        input: z.object({
          query: z.string().min(2),
          allowed_domains: z
            .array(z.string())
            .optional()
            .describe('Only results from these domains (and their subdomains)'),
          blocked_domains: z.array(z.string()).optional().describe('Never results from these domains'),
        }),
        mode: 'read-only',
        concurrencySafe: true,
        async execute({ query, allowed_domains, blocked_domains }, tctx) {
          const signal = AbortSignal.any([tctx.signal, AbortSignal.timeout(ctx.config.timeoutMs)]);
          const results = (await search(config, ctx.env, query, signal)).filter(
            (r) =>
              (!allowed_domains?.length || allowed_domains.some((d) => underDomain(r.url, d))) &&
              !blocked_domains?.some((d) => underDomain(r.url, d)),
          );
          if (!results.length) return `No results for "${query}".`;
          return results
            .slice(0, 10)
            .map(
              (r, i) =>
                `${i + 1}. ${r.title}\n   ${r.url}${r.snippet ? `\n   ${r.snippet.replace(/\s+/g, ' ').slice(0, 300)}` : ''}`,
            )
            .join('\n');
        },
      }),
    );
  },
});
