import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bootTestKernel } from '../../sdk/testing.ts';
import { builtinPlugins } from '../index.ts';

const text = (r: { content: unknown }) =>
  typeof r.content === 'string'
    ? r.content
    : (r.content as Array<{ text: string }>).map((b) => b.text).join('\n');

let server: Server;
let base: string;
let hits = 0;
beforeAll(async () => {
  server = createServer((req, res) => {
    hits++;
    const port = (server.address() as AddressInfo).port;
    if (req.url === '/page')
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end(
          '<html><head><title>T</title><script>evil()</script></head><body><h1>Docs</h1><p>Use <code>icode -p</code> for <b>headless</b> runs.</p><ul><li>one</li></ul></body></html>',
        );
    else if (req.url === '/same') res.writeHead(302, { location: '/page' }).end();
    else if (req.url === '/elsewhere')
      res.writeHead(301, { location: `http://localhost:${port}/page` }).end();
    else if (req.url === '/huge') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = 'x'.repeat(64 * 1024);
      let sent = 0;
      const more = () => {
        while (sent < 100 && res.write(chunk)) sent++;
        if (sent < 100) res.once('drain', more);
        else res.end();
      };
      more();
    } else if (req.url === '/slow') setTimeout(() => res.end('late'), 5000);
    else if (req.url === '/image') res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.alloc(10));
    else if (req.url?.startsWith('/search'))
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          results: [
            { title: 'icode docs', url: 'https://docs.icode.dev/headless', content: 'Run icode -p' },
            { title: 'Spam', url: 'https://spam.example/x', content: 'buy' },
            {
              title: 'Query echo',
              url: 'https://echo.dev/',
              content: new URL(req.url, 'http://x').searchParams.get('q') ?? '',
            },
          ],
        }),
      );
    else res.writeHead(404).end('no');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((r) => server.close(r)));

const boot = (config: Record<string, unknown> = {}, allow = ['WebFetch(domain:127.0.0.1)']) =>
  bootTestKernel({
    include: ['web'],
    builtins: builtinPlugins,
    settings: {
      permissions: { allow },
      plugins: { web: { config: { timeoutMs: 1000, maxBytes: 1024 * 1024, ...config } } },
    },
  });

describe('WebFetch against a local HTTP server', () => {
  test('HTML becomes markdown (scripts dropped); same-host redirects are followed; pages are cached', async () => {
    const h = await boot();
    const r = await h.callTool('WebFetch', { url: `${base}/same`, prompt: 'How do I run headless?' });
    expect(r.isError).toBe(false);
    expect(text(r)).toContain(`URL: ${base}/page`);
    expect(text(r)).toContain('# Docs\n\nUse `icode -p` for **headless** runs.\n\n-   one');
    expect(text(r)).not.toContain('evil()');
    expect(text(r)).toContain('Answer from the page above: How do I run headless?');
    const before = hits;
    await h.callTool('WebFetch', { url: `${base}/same`, prompt: 'again' });
    expect(hits).toBe(before);
    await h.shutdown();
  });

  test('a redirect to another host is reported, not followed', async () => {
    const h = await boot();
    const r = await h.callTool('WebFetch', { url: `${base}/elsewhere`, prompt: 'x' });
    expect(text(r)).toMatch(
      /^REDIRECT: .*\/elsewhere answered 301 and redirects to another host: http:\/\/localhost:\d+\/page/,
    );
    expect(text(r)).toContain('(its domain, localhost, needs its own permission)');
    await h.shutdown();
  });

  test('a huge body is cut at the cap; a slow server times out; binary is refused', async () => {
    const h = await boot();
    const huge = text(await h.callTool('WebFetch', { url: `${base}/huge`, prompt: 'x' }));
    expect(huge).toContain('only the start was read');
    expect(huge).toContain('[cut at 100000 characters]');
    const slow = await h.callTool('WebFetch', { url: `${base}/slow`, prompt: 'x' });
    expect(slow.isError).toBe(true);
    expect(text(slow)).toContain('did not answer within 1000 ms');
    expect(text(await h.callTool('WebFetch', { url: `${base}/image`, prompt: 'x' }))).toContain(
      'image/png (binary content is not fetched)',
    );
    await h.shutdown();
  }, 15_000);

  test('permission is per domain, matched on the parsed host: other hosts are asked (denied headless)', async () => {
    const h = await boot({}, ['WebFetch(domain:localhost)']);
    const r = await h.callTool('WebFetch', { url: `${base}/page`, prompt: 'x' });
    expect(r.isError).toBe(true);
    expect(text(r)).toContain(
      'WebFetch would fetch from 127.0.0.1; allow it with WebFetch(domain:127.0.0.1)',
    );
    // A host that merely starts with an allowed name is another host.
    const tricky = await h.callTool('WebFetch', { url: 'http://localhost.evil.example/', prompt: 'x' });
    expect(text(tricky)).toContain('fetch from localhost.evil.example');
    const file = await h.callTool('WebFetch', { url: 'file:///etc/passwd', prompt: 'x' });
    expect(file.isError).toBe(true);
    await h.shutdown();
  });
});

describe('WebSearch', () => {
  test('without a backend the plugin is degraded, says how to set one up, and offers no WebSearch', async () => {
    const h = await boot();
    const status = h.report.plugins.find((p) => p.name === 'web')!;
    expect(status.state).toBe('degraded');
    expect(status.reason).toContain('no web search backend is configured; set plugins.web.config.search');
    expect(h.kernel.tools.names()).not.toContain('WebSearch');
    await h.shutdown();
  });
  test('switched off by the user (plugins.web.tools.WebSearch: false), a missing backend is no notice', async () => {
    const h = await bootTestKernel({
      include: ['web'],
      builtins: builtinPlugins,
      settings: { plugins: { web: { tools: { WebSearch: false } } } },
    });
    expect(h.report.plugins.find((p) => p.name === 'web')!.state).toBe('active');
    await h.shutdown();
  });
  test('against a local SearXNG-style backend, with allowed and blocked domains', async () => {
    const h = await boot({ search: { backend: 'searxng', url: base } });
    expect(h.report.plugins.find((p) => p.name === 'web')?.state).toBe('active');
    const all = text(await h.callTool('WebSearch', { query: 'icode headless' }));
    expect(all).toContain('1. icode docs\n   https://docs.icode.dev/headless\n   Run icode -p');
    expect(all).toContain('icode headless'); // the query reached the backend
    const only = text(await h.callTool('WebSearch', { query: 'icode', allowed_domains: ['icode.dev'] }));
    expect(only).not.toContain('spam.example');
    const blocked = text(
      await h.callTool('WebSearch', { query: 'icode', blocked_domains: ['spam.example'] }),
    );
    expect(blocked).not.toContain('Spam');
    expect(blocked).toContain('icode docs');
    await h.shutdown();
  });
});
