import * as z from 'zod';

export const SearchConfig = z.strictObject({
  /** brave (BRAVE_API_KEY), exa (EXA_API_KEY), searxng (url of the instance) or custom (url answering ?q=). */
  backend: z.enum(['brave', 'exa', 'searxng', 'custom']),
  url: z.string().url().optional(),
  /** The environment variable holding the API key (brave, exa; optional for custom, sent as a bearer token). */
  apiKeyEnv: z.string().optional(),
});
export type SearchConfig = z.infer<typeof SearchConfig>;

export interface SearchResult {
  title: string;
  url: string;
  snippet: string;
}

const KEY_ENV = {
  brave: 'BRAVE_API_KEY',
  exa: 'EXA_API_KEY',
  searxng: undefined,
  custom: undefined,
} as const;

/** Why the backend cannot run here (a missing key or URL), or undefined when it can. */
export function searchProblem(
  config: SearchConfig | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  if (!config)
    return 'no web search backend is configured; set plugins.web.config.search, e.g. { "backend": "brave" } with BRAVE_API_KEY, { "backend": "exa" } with EXA_API_KEY, or { "backend": "searxng", "url": "https://searx.example" }';
  const keyEnv = config.apiKeyEnv ?? KEY_ENV[config.backend];
  if ((config.backend === 'brave' || config.backend === 'exa') && (!keyEnv || !env[keyEnv]))
    return `the ${config.backend} search backend needs an API key in ${keyEnv}`;
  if ((config.backend === 'searxng' || config.backend === 'custom') && !config.url)
    return `the ${config.backend} search backend needs plugins.web.config.search.url`;
  return undefined;
}

/** Whether a URL's host is the domain or under it (`docs.example.com` is under `example.com`). */
export function underDomain(url: string, domain: string): boolean {
  try {
    const host = new URL(url).hostname.toLowerCase();
    const d = domain.toLowerCase().replace(/^\*?\./, '');
    return host === d || host.endsWith(`.${d}`);
  } catch {
    return false;
  }
}

export async function search(
  config: SearchConfig,
  env: Readonly<Record<string, string | undefined>>,
  query: string,
  signal: AbortSignal,
): Promise<SearchResult[]> {
  const key = env[config.apiKeyEnv ?? KEY_ENV[config.backend] ?? ''];
  const json = async (res: Response) => {
    if (!res.ok)
      throw new Error(
        `the ${config.backend} search backend answered ${res.status}: ${(await res.text()).slice(0, 200)}`,
      );
    return (await res.json()) as Record<string, unknown>;
  };
  switch (config.backend) {
    case 'brave': {
      const u = new URL(config.url ?? 'https://api.search.brave.com/res/v1/web/search');
      u.searchParams.set('q', query);
      const body = await json(
        await fetch(u, {
          signal,
          headers: { 'x-subscription-token': key ?? '', accept: 'application/json' },
        }),
      );
      const results = ((body.web as { results?: unknown[] } | undefined)?.results ?? []) as Array<
        Record<string, string>
      >;
      return results.map((r) => ({ title: r.title ?? '', url: r.url ?? '', snippet: r.description ?? '' }));
    }
    case 'exa': {
      const body = await json(
        await fetch(config.url ?? 'https://api.exa.ai/search', {
          method: 'POST',
          signal,
          headers: { 'x-api-key': key ?? '', 'content-type': 'application/json' },
          body: JSON.stringify({ query, numResults: 10, contents: { text: { maxCharacters: 300 } } }),
        }),
      );
      return ((body.results ?? []) as Array<Record<string, string>>).map((r) => ({
        title: r.title ?? '',
        url: r.url ?? '',
        snippet: r.text ?? '',
      }));
    }
    case 'searxng': {
      const u = new URL('search', config.url!.endsWith('/') ? config.url : `${config.url}/`);
      u.searchParams.set('q', query);
      u.searchParams.set('format', 'json');
      const body = await json(await fetch(u, { signal, headers: { accept: 'application/json' } }));
      return ((body.results ?? []) as Array<Record<string, string>>).map((r) => ({
        title: r.title ?? '',
        url: r.url ?? '',
        snippet: r.content ?? '',
      }));
    }
    case 'custom': {
      const u = new URL(config.url!);
      u.searchParams.set('q', query);
      const body = await json(
        await fetch(u, {
          signal,
          headers: { accept: 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
        }),
      );
      return ((body.results ?? []) as Array<Record<string, string>>).map((r) => ({
        title: r.title ?? '',
        url: r.url ?? '',
        snippet: r.snippet ?? r.content ?? '',
      }));
    }
  }
}
