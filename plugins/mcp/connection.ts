import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { importModule, type ToolResultBlock } from '../../sdk/index.ts';
// OAuth (and the HTTP server and hashing it brings) loads with the first remote server, not at start-up.
import type { FileOAuthProvider } from './oauth.ts';
import { expandVars, type ServerEntry } from './servers.ts';

export type ServerState = 'connecting' | 'connected' | 'failed' | 'disabled' | 'unapproved' | 'lazy';

/** What `icode mcp list`, `/mcp` and `icode doctor` show for a server. */
export interface ServerStatus {
  name: string;
  source: string;
  transport: 'stdio' | 'http' | 'sse';
  state: ServerState;
  tools: string[];
  prompts: string[];
  error?: string;
  /** The last lines a stdio server wrote to stderr, when it failed. */
  stderr?: string;
  /** Reconnection attempts since the last success. */
  retries: number;
}

export interface McpTool {
  name: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  annotations?: { readOnlyHint?: boolean };
}
export interface McpPrompt {
  name: string;
  description?: string;
  arguments?: Array<{ name: string; required?: boolean }>;
}

export interface ConnectionHooks {
  env: Readonly<Record<string, string | undefined>>;
  /** The user's icode directory: OAuth registrations and tokens live under it. */
  userDir: string;
  cwd: string;
  connectTimeoutMs: number;
  callTimeoutMs: number;
  maxOutputChars: number;
  /** The server's tools and prompts now (empty when it went away). */
  onCatalog(server: string, tools: McpTool[], prompts: McpPrompt[]): void;
  onStatus(status: ServerStatus): void;
}

type Content = { type: string; [key: string]: unknown };

/** Maps MCP result content to tool_result blocks: text, images, embedded resources; the rest as a note. */
export function toBlocks(content: Content[], maxChars: number): ToolResultBlock[] {
  const blocks: ToolResultBlock[] = [];
  let budget = maxChars;
  const text = (t: string) => {
    const cut =
      t.length > budget ? `${t.slice(0, Math.max(0, budget))}\n[output cut at ${maxChars} characters]` : t;
    budget -= t.length;
    if (budget + t.length > 0) blocks.push({ type: 'text', text: cut });
  };
  for (const c of content) {
    if (c.type === 'text') text(String(c.text));
    else if (c.type === 'image')
      blocks.push({
        type: 'image',
        source: { type: 'base64', media_type: String(c.mimeType), data: String(c.data) },
      });
    else if (c.type === 'resource') {
      const r = c.resource as { uri: string; text?: string; mimeType?: string; blob?: string };
      text(
        r.text !== undefined
          ? `[resource ${r.uri}]\n${r.text}`
          : `[resource ${r.uri}: ${r.mimeType ?? 'binary'}, ${r.blob?.length ?? 0} base64 characters, not shown]`,
      );
    } else if (c.type === 'resource_link')
      text(`[resource link ${String(c.uri)}${c.name ? ` (${String(c.name)})` : ''}]`);
    else text(`[${c.type} content, not shown]`);
  }
  return blocks;
}

/**
 * One MCP server: connects with the SDK's client over stdio, Streamable HTTP or SSE; keeps its tool and
 * prompt lists current (`list_changed`); when it crashes or its connection drops, withdraws its tools,
 * reports why (exit, stderr tail) and reconnects with backoff. A call in flight when it goes away fails
 * with an error, never hangs.
 */
export class McpConnection {
  readonly status: ServerStatus;
  private client?: Client;
  private stderrTail: string[] = [];
  private retryTimer?: NodeJS.Timeout;
  private closed = false;
  private connecting?: Promise<void>;
  private needsAuth = false;
  private oauth?: FileOAuthProvider;

  constructor(
    readonly entry: ServerEntry,
    private readonly hooks: ConnectionHooks,
  ) {
    this.status = {
      name: entry.name,
      source: entry.source,
      transport: 'url' in entry.config ? entry.config.type : 'stdio',
      state: 'lazy',
      tools: [],
      prompts: [],
      retries: 0,
    };
  }

  private set(patch: Partial<ServerStatus>): void {
    Object.assign(this.status, patch);
    if (patch.state === 'connected') {
      delete this.status.error;
      delete this.status.stderr;
    }
    this.hooks.onStatus({ ...this.status });
  }

  /** Connects (once at a time); resolves when connected or failed, never throws. */
  connect(): Promise<void> {
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async transport() {
    const config = expandVars(
      this.entry.config,
      this.hooks.env,
      `MCP server "${this.entry.name}" (${this.entry.source})`,
    );
    if ('url' in config) {
      const requestInit = { headers: config.headers };
      // Remote servers may need OAuth: the SDK uses the provider only when the server answers 401.
      const { authFile, FileOAuthProvider } = await import('./oauth.ts');
      this.oauth ??= new FileOAuthProvider(authFile(this.hooks.userDir, this.entry.name, config.url));
      await this.oauth.port();
      const authProvider = this.oauth;
      if (config.type === 'sse') {
        const { SSEClientTransport } = await importModule<
          typeof import('@modelcontextprotocol/sdk/client/sse.js')
        >('@modelcontextprotocol/sdk/client/sse.js');
        return new SSEClientTransport(new URL(config.url), { requestInit, authProvider });
      }
      const { StreamableHTTPClientTransport } = await importModule<
        typeof import('@modelcontextprotocol/sdk/client/streamableHttp.js')
      >('@modelcontextprotocol/sdk/client/streamableHttp.js');
      return new StreamableHTTPClientTransport(new URL(config.url), { requestInit, authProvider });
    }
    const { StdioClientTransport } = await importModule<
      typeof import('@modelcontextprotocol/sdk/client/stdio.js')
    >('@modelcontextprotocol/sdk/client/stdio.js');
    const env = Object.fromEntries(
      Object.entries(this.hooks.env).filter((e): e is [string, string] => e[1] !== undefined),
    );
    const transport = new StdioClientTransport({
      command: config.command,
      args: config.args,
      env: { ...env, ...config.env },
      cwd: config.cwd ?? this.hooks.cwd,
      stderr: 'pipe',
    });
    this.stderrTail = [];
    transport.stderr?.on('data', (chunk: Buffer) => {
      this.stderrTail.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      this.stderrTail.splice(0, Math.max(0, this.stderrTail.length - 10));
    });
    return transport;
  }

  private async open(): Promise<void> {
    if (this.closed) return;
    this.set({ state: 'connecting' });
    let client: Client | undefined;
    try {
      const { Client } = await importModule<typeof import('@modelcontextprotocol/sdk/client/index.js')>(
        '@modelcontextprotocol/sdk/client/index.js',
      );
      const transport = await this.transport();
      client = new Client(
        { name: 'icode', version: '0.1.0' },
        {
          listChanged: {
            tools: { onChanged: () => void this.refresh() },
            prompts: { onChanged: () => void this.refresh() },
          },
        },
      );
      client.onclose = () => this.lost(client!, 'the connection closed');
      await client.connect(transport, { timeout: this.hooks.connectTimeoutMs });
      this.client = client;
      await this.refresh();
      this.set({ state: 'connected', retries: 0 });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await client?.close().catch(() => {});
      if (error instanceof Error && [error.name, error.constructor.name].includes('UnauthorizedError')) {
        // Retrying cannot help until the user authorizes; no backoff loop.
        this.needsAuth = true;
        this.hooks.onCatalog(this.entry.name, [], []);
        this.set({
          state: 'failed',
          error: `needs authorization: run \`icode mcp auth ${this.entry.name}\` (or ask for the McpAuth tool)`,
        });
        return;
      }
      this.fail(
        /timed out|timeout/i.test(message)
          ? `no answer within ${this.hooks.connectTimeoutMs} ms (${message})`
          : message,
      );
    }
  }

  private async refresh(): Promise<void> {
    const client = this.client;
    if (!client) return;
    const caps = client.getServerCapabilities() ?? {};
    const tools = caps.tools ? ((await client.listTools()).tools as McpTool[]) : [];
    const prompts = caps.prompts ? ((await client.listPrompts()).prompts as McpPrompt[]) : [];
    this.status.tools = tools.map((t) => t.name);
    this.status.prompts = prompts.map((p) => p.name);
    this.hooks.onCatalog(this.entry.name, tools, prompts);
  }

  private lost(client: Client, why: string): void {
    if (this.client !== client || this.closed) return;
    this.client = undefined;
    this.fail(why);
  }

  private fail(why: string): void {
    this.hooks.onCatalog(this.entry.name, [], []);
    const stderr = this.stderrTail.join('\n');
    this.set({ state: 'failed', error: why, tools: [], prompts: [], ...(stderr ? { stderr } : {}) });
    if (this.closed) return;
    // Back off 1 s, 2 s, 4 s … up to a minute between attempts, for as long as icode runs.
    const delay = Math.min(60_000, 1000 * 2 ** this.status.retries);
    this.status.retries++;
    this.retryTimer = setTimeout(() => void this.connect(), delay);
    this.retryTimer.unref();
  }

  private async ready(): Promise<Client> {
    if (!this.client) await this.connect();
    if (!this.client)
      throw new Error(
        `MCP server "${this.entry.name}" is not connected: ${this.status.error ?? this.status.state}`,
      );
    return this.client;
  }

  async callTool(
    tool: string,
    args: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<{ blocks: ToolResultBlock[]; isError: boolean }> {
    const client = await this.ready();
    const timeout = this.entry.config.timeoutMs ?? this.hooks.callTimeoutMs;
    const result = (await client.callTool({ name: tool, arguments: args }, undefined, {
      signal,
      timeout,
    })) as {
      content?: Content[];
      structuredContent?: unknown;
      isError?: boolean;
    };
    const content = result.content?.length
      ? result.content
      : [{ type: 'text', text: JSON.stringify(result.structuredContent ?? null) }];
    return { blocks: toBlocks(content, this.hooks.maxOutputChars), isError: Boolean(result.isError) };
  }

  async listResources(): Promise<
    Array<{ uri: string; name?: string; mimeType?: string; description?: string }>
  > {
    const client = await this.ready();
    if (!client.getServerCapabilities()?.resources) return [];
    return (await client.listResources()).resources;
  }

  async readResource(uri: string): Promise<ToolResultBlock[]> {
    const client = await this.ready();
    const { contents } = await client.readResource({ uri });
    return toBlocks(
      contents.map((c) => ({ type: 'resource', resource: c })),
      this.hooks.maxOutputChars,
    );
  }

  async getPrompt(name: string, args: Record<string, string>): Promise<string> {
    const client = await this.ready();
    const { messages } = await client.getPrompt({ name, arguments: args });
    return messages
      .map((m) => {
        const c = m.content as Content;
        return `${m.role}: ${c.type === 'text' ? String(c.text) : `[${c.type}]`}`;
      })
      .join('\n\n');
  }

  /**
   * OAuth 2.1 for a remote server with the SDK's flow (discovery, dynamic client registration, PKCE):
   * `open` is given the authorization URL, the redirect comes back to a loopback port, the code is
   * exchanged and the tokens kept (owner-only); then the server is connected.
   */
  async authorize(open: (url: URL) => void, timeoutMs: number): Promise<string> {
    const config = this.entry.config;
    if (!('url' in config))
      throw new Error(`MCP server "${this.entry.name}" runs over stdio; OAuth is for remote servers`);
    const serverUrl = expandVars(config.url, this.hooks.env, `MCP server "${this.entry.name}"`);
    const { auth } = await importModule<typeof import('@modelcontextprotocol/sdk/client/auth.js')>(
      '@modelcontextprotocol/sdk/client/auth.js',
    );
    const { authFile, awaitRedirect, FileOAuthProvider } = await import('./oauth.ts');
    this.oauth ??= new FileOAuthProvider(authFile(this.hooks.userDir, this.entry.name, config.url));
    const redirect = awaitRedirect(await this.oauth.port(), timeoutMs);
    try {
      this.oauth.onAuthorize = open;
      const first = await auth(this.oauth, { serverUrl });
      if (first === 'REDIRECT') await auth(this.oauth, { serverUrl, authorizationCode: await redirect.code });
    } finally {
      redirect.close();
      this.oauth.onAuthorize = undefined;
    }
    this.needsAuth = false;
    this.status.retries = 0;
    await this.connect();
    if (this.status.state !== 'connected')
      throw new Error(`authorized, but the server did not connect: ${this.status.error}`);
    return `Authorized and connected to "${this.entry.name}" (${this.status.tools.length} tools).`;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    await client?.close().catch(() => {});
  }
}
