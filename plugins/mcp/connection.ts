import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { importModule, type ToolResultBlock } from '../../sdk/index.ts';
import { type Content, toBlocks } from './content.ts';
import { Deadline, StartupTimeout } from './deadline.ts';
import { isClosed, requestFailure } from './failure.ts';
// OAuth (and the HTTP server and hashing it brings) loads with the first remote server, not at start-up.
import type { FileOAuthProvider } from './oauth.ts';
import { expandVars, type ServerEntry } from './servers.ts';
import type { Timeouts } from './timeouts.ts';

/** `invalid`: its entry in the configuration is wrong, so it was never started. */
export type ServerState =
  | 'connecting'
  | 'connected'
  | 'failed'
  | 'disabled'
  | 'unapproved'
  | 'lazy'
  | 'invalid';

/** What `icode mcp list`, `/mcp` and `icode doctor` show for a server. */
export interface ServerStatus {
  name: string;
  source: string;
  transport: 'stdio' | 'http' | 'sse';
  state: ServerState;
  tools: string[];
  prompts: string[];
  /** Why it is not connected, starting with what happened: timed out, crashed, could not start… */
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
  timeouts: Timeouts;
  maxOutputChars: number;
  /** The server's tools and prompts now (empty when it went away). */
  onCatalog(server: string, tools: McpTool[], prompts: McpPrompt[]): void;
  onStatus(status: ServerStatus): void;
}

/**
 * One MCP server: connects with the SDK's client over stdio, Streamable HTTP or SSE; keeps its tool and
 * prompt lists current (`list_changed`); when it crashes or its connection drops, withdraws its tools,
 * reports why (exit, stderr tail) and reconnects with backoff. A call in flight when it goes away fails
 * with an error, never hangs.
 *
 * Start-up has one deadline (`timeouts.startupMs`) over connect, initialize, tools/list and prompts/list:
 * a server that misses it is stopped (its process is killed) and reported with the request it never
 * answered, so one hung server cannot hold up the others or icode's start.
 */
export class McpConnection {
  readonly status: ServerStatus;
  private client?: Client;
  /** The client while it starts, so close() can stop a server that is still starting. */
  private starting?: Client;
  private stderrTail: string[] = [];
  private retryTimer?: NodeJS.Timeout;
  private closed = false;
  private connecting?: Promise<void>;
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
    // A retry keeps showing the last failure until it succeeds, so health does not flap to ok meanwhile.
    if (!this.status.retries) this.set({ state: 'connecting' });
    let client: Client | undefined;
    let transport: Transport | undefined;
    // Set once icode has loaded the SDK and prepared the transport: only the server's time counts.
    let deadline: Deadline | undefined;
    try {
      const { Client } = await importModule<typeof import('@modelcontextprotocol/sdk/client/index.js')>(
        '@modelcontextprotocol/sdk/client/index.js',
      );
      transport = await this.transport();
      const started = new Client(
        { name: 'icode', version: '0.1.0' },
        {
          // icode lists itself, under the same deadline as at start-up, instead of the SDK's auto-refresh.
          listChanged: {
            tools: { autoRefresh: false, onChanged: () => void this.relist(started) },
            prompts: { autoRefresh: false, onChanged: () => void this.relist(started) },
          },
        },
      );
      // close() may have come while the SDK loaded; nothing is spawned until connect, so stop here.
      if (this.closed) return;
      client = this.starting = started;
      started.onclose = () => this.lost(started);
      deadline = new Deadline(this.hooks.timeouts.startupMs);
      // The SDK's own 60 s default would cut a longer start-up budget short.
      await deadline.guard('initialize', started.connect(transport, { timeout: deadline.ms }));
      await this.refresh(started, deadline);
      this.client = started;
      this.set({ state: 'connected', retries: 0 });
    } catch (error) {
      if (error instanceof StartupTimeout) stop(transport);
      await client?.close().catch(() => {});
      if (this.closed) return;
      if (error instanceof Error && [error.name, error.constructor.name].includes('UnauthorizedError')) {
        // Retrying cannot help until the user authorizes; no backoff loop.
        this.hooks.onCatalog(this.entry.name, [], []);
        this.set({
          state: 'failed',
          error: `needs authorization: run \`icode mcp auth ${this.entry.name}\` (or ask for the McpAuth tool)`,
        });
        return;
      }
      this.fail(this.startupFailure(error, deadline));
    } finally {
      if (this.starting === client) this.starting = undefined;
    }
  }

  /** Why start-up failed, beginning with what kind of failure it was. */
  private startupFailure(error: unknown, deadline: Deadline | undefined): string {
    const stdio = !('url' in this.entry.config);
    if (error instanceof StartupTimeout)
      return `timed out: ${error.message}; ${stdio ? 'its process was stopped' : 'the connection was closed'}. If it is only slow to start, raise "startupTimeoutMs" in its entry`;
    if (isClosed(error))
      return `crashed: ${stdio ? 'its process exited' : 'the connection closed'} during ${deadline?.step ?? 'start-up'}`;
    return `could not start: ${error instanceof Error ? error.message : String(error)}`;
  }

  /** Lists tools and prompts (each request under the deadline) and publishes them. */
  private async refresh(client: Client, deadline: Deadline): Promise<void> {
    const caps = client.getServerCapabilities() ?? {};
    const options = { timeout: deadline.ms };
    const tools = caps.tools
      ? ((await deadline.guard('tools/list', client.listTools(undefined, options))).tools as McpTool[])
      : [];
    const prompts = caps.prompts
      ? ((await deadline.guard('prompts/list', client.listPrompts(undefined, options)))
          .prompts as McpPrompt[])
      : [];
    this.status.tools = tools.map((t) => t.name);
    this.status.prompts = prompts.map((p) => p.name);
    this.hooks.onCatalog(this.entry.name, tools, prompts);
  }

  /** After list_changed: a server that no longer answers its lists is treated as hung, and restarted. */
  private async relist(client: Client): Promise<void> {
    if (this.client !== client) return;
    const deadline = new Deadline(this.hooks.timeouts.startupMs);
    try {
      await this.refresh(client, deadline);
    } catch (error) {
      if (this.client !== client) return;
      this.client = undefined;
      if (error instanceof StartupTimeout) stop(client.transport);
      await client.close().catch(() => {});
      this.fail(
        error instanceof StartupTimeout
          ? `timed out: ${error.message} after it announced a change`
          : `could not list its tools: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  private lost(client: Client): void {
    if (this.client !== client || this.closed) return;
    this.client = undefined;
    this.fail(
      'url' in this.entry.config ? 'disconnected: the connection closed' : 'crashed: its process exited',
    );
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

  /**
   * One request to the running server, within the call timeout; any failure is rethrown naming the
   * server and the request (see requestFailure).
   */
  private async request<T>(
    what: string,
    signal: AbortSignal | undefined,
    send: (client: Client, options: { timeout: number; signal?: AbortSignal }) => Promise<T>,
  ): Promise<T> {
    const client = await this.ready();
    const timeoutMs = this.hooks.timeouts.callMs;
    try {
      return await send(client, { timeout: timeoutMs, ...(signal ? { signal } : {}) });
    } catch (error) {
      throw requestFailure(this.entry.name, what, error, { timeoutMs, signal, lost: this.status.error });
    }
  }

  async callTool(
    tool: string,
    args: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<{ blocks: ToolResultBlock[]; isError: boolean }> {
    const result = (await this.request(`tools/call "${tool}"`, signal, (client, options) =>
      client.callTool({ name: tool, arguments: args }, undefined, options),
    )) as { content?: Content[]; structuredContent?: unknown; isError?: boolean };
    const content = result.content?.length
      ? result.content
      : [{ type: 'text', text: JSON.stringify(result.structuredContent ?? null) }];
    return { blocks: toBlocks(content, this.hooks.maxOutputChars), isError: Boolean(result.isError) };
  }

  async listResources(): Promise<
    Array<{ uri: string; name?: string; mimeType?: string; description?: string }>
  > {
    return this.request('resources/list', undefined, async (client, options) =>
      client.getServerCapabilities()?.resources
        ? (await client.listResources(undefined, options)).resources
        : [],
    );
  }

  async readResource(uri: string): Promise<ToolResultBlock[]> {
    const { contents } = await this.request(`resources/read "${uri}"`, undefined, (client, options) =>
      client.readResource({ uri }, options),
    );
    return toBlocks(
      contents.map((c) => ({ type: 'resource', resource: c })),
      this.hooks.maxOutputChars,
    );
  }

  async getPrompt(name: string, args: Record<string, string>): Promise<string> {
    const { messages } = await this.request(`prompts/get "${name}"`, undefined, (client, options) =>
      client.getPrompt({ name, arguments: args }, options),
    );
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
    this.status.retries = 0;
    await this.connect();
    if (this.status.state !== 'connected')
      throw new Error(`authorized, but the server did not connect: ${this.status.error}`);
    return `Authorized and connected to "${this.entry.name}" (${this.status.tools.length} tools).`;
  }

  /** Stops the server, also one still starting (its process must not outlive icode). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const clients = [this.client, this.starting];
    this.client = this.starting = undefined;
    await Promise.all(clients.map((c) => c?.close().catch(() => {})));
  }
}

/**
 * A server that missed its deadline is not trusted to exit when asked: a stdio server gets SIGTERM now,
 * rather than after the SDK's two-second grace for closing stdin (the SDK escalates to SIGKILL).
 */
function stop(transport: Transport | undefined): void {
  const pid = (transport as { pid?: number | null } | undefined)?.pid;
  if (!pid) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // Already gone.
  }
}
