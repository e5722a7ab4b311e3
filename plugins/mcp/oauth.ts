import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';

type Saved = {
  port?: number;
  client?: Awaited<ReturnType<OAuthClientProvider['clientInformation']>>;
  tokens?: Awaited<ReturnType<OAuthClientProvider['tokens']>>;
  verifier?: string;
};

/** Where a server's OAuth client registration and tokens are kept: owner-only, under ~/.icode/mcp-auth. */
export function authFile(userDir: string, server: string, url: string): string {
  const hash = createHash('sha256').update(url).digest('hex').slice(0, 12);
  return join(userDir, 'mcp-auth', `${server.replace(/[^a-zA-Z0-9_-]/g, '_')}-${hash}.json`);
}

/**
 * The SDK's OAuth client hooks, backed by a file: dynamic client registration, PKCE verifier and tokens
 * (the SDK refreshes them when they expire). The redirect goes to a loopback port chosen once per server
 * and kept with the registration. `onAuthorize` is told the authorization URL when the user must act;
 * without it (a connection at start-up) nothing opens and the connection reports that it needs auth.
 */
export class FileOAuthProvider implements OAuthClientProvider {
  private saved: Saved;
  onAuthorize?: (url: URL) => void;

  constructor(private readonly file: string) {
    try {
      this.saved = JSON.parse(readFileSync(file, 'utf8')) as Saved;
    } catch {
      this.saved = {};
    }
  }

  private write(patch: Partial<Saved>): void {
    this.saved = { ...this.saved, ...patch };
    const dir = join(this.file, '..');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(this.file, JSON.stringify(this.saved, null, 2), { mode: 0o600 });
    chmodSync(this.file, 0o600);
  }

  /** The loopback port for the redirect: the one registered before, or a fresh one. */
  async port(): Promise<number> {
    if (this.saved.port) return this.saved.port;
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    this.write({ port });
    return port;
  }

  get redirectUrl(): string {
    return `http://127.0.0.1:${this.saved.port ?? 0}/callback`;
  }

  get clientMetadata() {
    return {
      client_name: 'icode',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  clientInformation() {
    return this.saved.client;
  }
  saveClientInformation(client: NonNullable<Saved['client']>) {
    this.write({ client });
  }
  tokens() {
    return this.saved.tokens;
  }
  saveTokens(tokens: NonNullable<Saved['tokens']>) {
    this.write({ tokens });
  }
  saveCodeVerifier(verifier: string) {
    this.write({ verifier });
  }
  codeVerifier() {
    if (!this.saved.verifier) throw new Error('no PKCE verifier saved; start the authorization again');
    return this.saved.verifier;
  }
  redirectToAuthorization(url: URL) {
    this.onAuthorize?.(url);
  }
  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery') {
    if (scope === 'all') this.write({ client: undefined, tokens: undefined, verifier: undefined });
    else if (scope === 'client') this.write({ client: undefined });
    else if (scope === 'tokens') this.write({ tokens: undefined });
    else if (scope === 'verifier') this.write({ verifier: undefined });
  }
}

/** Waits on the loopback port for the authorization server's redirect; resolves with the code. */
export function awaitRedirect(port: number, timeoutMs: number): { code: Promise<string>; close(): void } {
  let close = () => {};
  const code = new Promise<string>((resolve, reject) => {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
      const got = url.searchParams.get('code');
      const error = url.searchParams.get('error');
      res.writeHead(got ? 200 : 400, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(
        got ? 'icode is authorized. You can close this tab.' : `Authorization failed: ${error ?? 'no code'}`,
      );
      if (got) resolve(got);
      else reject(new Error(`the authorization server answered: ${error ?? 'no code'}`));
    });
    const timer = setTimeout(
      () => reject(new Error(`no authorization within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    close = () => {
      clearTimeout(timer);
      server.close();
    };
    server.on('error', reject);
    server.listen(port, '127.0.0.1');
  });
  code.finally(close).catch(() => {});
  return { code, close: () => close() };
}

/** Opens a URL the way the user's system does ($BROWSER first, as other CLIs do). */
export function openBrowser(url: URL, env: Readonly<Record<string, string | undefined>>): void {
  const [cmd, ...args] = env.BROWSER
    ? [env.BROWSER]
    : process.platform === 'darwin'
      ? ['open']
      : process.platform === 'win32'
        ? ['cmd', '/c', 'start', '']
        : ['xdg-open'];
  try {
    const child = spawn(cmd!, [...args, url.toString()], {
      stdio: 'ignore',
      detached: true,
      env: { ...process.env, ...env },
    });
    child.on('error', () => {});
    child.unref();
  } catch {}
}
