import TurndownService from 'turndown';

export interface FetchLimits {
  timeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
}

export type Fetched =
  | { kind: 'page'; url: string; status: number; contentType: string; text: string; truncated: boolean }
  | { kind: 'redirect'; from: string; to: string; status: number };

const isHtml = (type: string) => /text\/html|application\/xhtml/i.test(type);
const isText = (type: string) => !type || /^text\/|json|xml|javascript|yaml|csv|markdown/i.test(type);

/**
 * Fetches a URL with a timeout, a size cap and redirects followed only within the same host: a redirect to
 * another host is returned (never followed silently), so the model and the permission gate see it.
 */
export async function fetchPage(start: string, limits: FetchLimits, signal: AbortSignal): Promise<Fetched> {
  const timeout = AbortSignal.timeout(limits.timeoutMs);
  const both = AbortSignal.any([signal, timeout]);
  let url = new URL(start);
  for (let hop = 0; ; hop++) {
    let res: Response;
    try {
      res = await fetch(url, {
        redirect: 'manual',
        signal: both,
        headers: {
          'user-agent': 'icode-webfetch/0.1',
          accept: 'text/html, text/markdown, text/plain, */*;q=0.5',
        },
      });
    } catch (error) {
      if (timeout.aborted) throw new Error(`${url.href} did not answer within ${limits.timeoutMs} ms`);
      throw new Error(
        `could not fetch ${url.href}: ${error instanceof Error ? ((error.cause as Error)?.message ?? error.message) : error}`,
      );
    }
    if (res.status >= 300 && res.status < 400 && res.headers.has('location')) {
      await res.body?.cancel();
      const next = new URL(res.headers.get('location')!, url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:')
        throw new Error(`${url.href} redirects to ${next.href}, which is not http(s)`);
      if (next.hostname !== url.hostname)
        return { kind: 'redirect', from: url.href, to: next.href, status: res.status };
      if (hop + 1 > limits.maxRedirects)
        throw new Error(`more than ${limits.maxRedirects} redirects from ${start}`);
      url = next;
      continue;
    }
    const contentType = res.headers.get('content-type') ?? '';
    if (!isText(contentType) && !isHtml(contentType)) {
      await res.body?.cancel();
      throw new Error(`${url.href} is ${contentType} (binary content is not fetched)`);
    }
    // The body is read up to the cap; a bigger one is cut, not buffered whole.
    const chunks: Uint8Array[] = [];
    let size = 0;
    let truncated = false;
    const reader = res.body?.getReader();
    try {
      while (reader) {
        const { done, value } = await reader.read();
        if (done) break;
        if (size + value.byteLength > limits.maxBytes) {
          chunks.push(value.subarray(0, limits.maxBytes - size));
          truncated = true;
          await reader.cancel();
          break;
        }
        chunks.push(value);
        size += value.byteLength;
      }
    } catch (error) {
      if (timeout.aborted)
        throw new Error(`${url.href} did not finish sending within ${limits.timeoutMs} ms`);
      throw error;
    }
    const raw = new TextDecoder().decode(Buffer.concat(chunks));
    return {
      kind: 'page',
      url: url.href,
      status: res.status,
      contentType,
      text: isHtml(contentType) ? htmlToMarkdown(raw) : raw,
      truncated,
    };
  }
}

let turndown: TurndownService | undefined;

/** HTML as markdown (turndown), without scripts, styles and page chrome that carry no content. */
export function htmlToMarkdown(html: string): string {
  if (!turndown) {
    turndown = new TurndownService({ headingStyle: 'atx', codeBlockStyle: 'fenced', bulletListMarker: '-' });
    turndown.remove(['script', 'style', 'noscript', 'iframe', 'svg', 'head']);
  }
  return turndown
    .turndown(html)
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
