import * as z from 'zod';
import {
  definePlugin,
  defineTool,
  enabledClaudePlugins,
  ProjectApprovals,
  type ToolMode,
} from '../../sdk/index.ts';
import { McpConnection, type McpPrompt, type McpTool, type ServerStatus } from './connection.ts';
import { renderStatus } from './render.ts';
import { type ConfigProblem, checkServer, collectServers, type ServerEntry } from './servers.ts';
import { defaultTimeouts, serverTimeouts } from './timeouts.ts';

/** The `mcp` service: what `icode mcp` and `/mcp` show, and project approval. */
export interface McpService {
  list(): ServerStatus[];
  /** Mistakes in the files that define servers (a broken .mcp.json), each at its line. */
  problems(): ConfigProblem[];
  /** Approves this project's servers (.mcp.json and project settings) as they are now. */
  approveProject(): string[];
  /** Runs the OAuth flow for a remote server; `open` receives the URL the user must visit. */
  authorize(server: string, open?: (url: URL) => void): Promise<string>;
}

declare module '../../kernel/registries.ts' {
  interface Services {
    mcp: McpService;
  }
}

const toolName = (server: string, tool: string) =>
  `mcp__${server}__${tool}`.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64);

/**
 * The longest activation waits for start-up servers, below the 60 s activation limit in plugin.json: a
 * server given a longer startupTimeoutMs keeps starting in the background and its tools appear when it
 * is ready, instead of the whole plugin failing.
 */
const STARTUP_WAIT_MS = 30_000;

export default definePlugin({
  config: z.strictObject({
    /**
     * Each server's start-up budget: spawn or connect, initialize, tools/list and prompts/list together.
     * 10 s (Codex's default) lets a local server start while a hung one costs at most that; a server's
     * own `startupTimeoutMs` or $MCP_TIMEOUT overrides it.
     */
    connectTimeoutMs: z.number().int().positive().default(10_000),
    /** Each tools/call; a server's own `timeout` or $MCP_TOOL_TIMEOUT overrides it. */
    callTimeoutMs: z.number().int().positive().default(120_000),
    /** Text of a tool result beyond this is cut with a note. */
    maxOutputChars: z.number().int().positive().default(25_000),
    /**
     * Deprecated: the tool-search plugin defers MCP tools (and installed plugins' tools) now; its
     * `budgetTokens` wins, and this is read where that is not set.
     */
    toolSearchBudgetTokens: z.number().int().min(0).default(20_000),
    /** How long McpAuth waits for the user to finish authorizing in the browser. */
    authTimeoutMs: z.number().int().positive().default(300_000),
  }),
  async activate(ctx) {
    const approvals = new ProjectApprovals(ctx.userDir, 'mcp');
    const defaults = defaultTimeouts(
      { startupMs: ctx.config.connectTimeoutMs, callMs: ctx.config.callTimeoutMs },
      ctx.env,
    );
    const found = collectServers(ctx.settings.mcpServers, ctx.origins, ctx.projectRoot, ctx.locate);
    // A Claude Code plugin's servers (.mcp.json in the plugin) are `plugin:<plugin>:<server>`, as Claude
    // Code names them; a plugin the project switches on counts as the project's.
    const held = new Map<string, string>();
    for (const p of enabledClaudePlugins(ctx).plugins)
      for (const [server, raw] of Object.entries(p.parts.mcpServers?.servers ?? {})) {
        // A server (or the files it runs) that differs from what the user accepted at install does not run.
        const back = p.heldBack();
        if (back?.mcpServers.includes(server)) held.set(`plugin:${p.record.name}:${server}`, back.reason);
        found.entries.push({
          name: `plugin:${p.record.name}:${server}`,
          raw,
          source: p.source,
          fromProject: p.fromProject,
          where: (path) => `${p.parts.mcpServers?.file} (key "mcpServers.${[server, ...path].join('.')}")`,
        });
      }
    const problems: ConfigProblem[] = [
      ...found.problems,
      ...defaults.problems.map((message) => ({
        at: 'environment',
        message,
        fix: 'set it to a number of milliseconds, or unset it',
      })),
    ];
    const fingerprint = ProjectApprovals.fingerprint(
      found.entries.filter((e) => e.fromProject).map((e) => [e.name, e.raw]),
    );
    const projectApproved = approvals.approved(ctx.projectRoot, fingerprint);
    const connections = new Map<string, McpConnection>();
    const statuses = new Map<string, ServerStatus>();
    const registered = new Map<string, string[]>();

    // Degraded, never failed: each bad server and each broken file is named with why; the rest work.
    const updateHealth = () => {
      const bad = [...statuses.values()].filter((s) => ['failed', 'unapproved', 'invalid'].includes(s.state));
      const all = [
        ...problems.map((p) => `${p.at}: ${p.message}`),
        ...bad.map((s) => `${s.name}: ${s.state === 'unapproved' ? 'not approved' : s.error}`),
      ];
      if (!all.length) ctx.health.ok();
      else
        ctx.health.degraded(
          `MCP servers: ${all.join('; ')}`,
          bad.some((s) => s.state === 'unapproved')
            ? "review the project's MCP servers, then run `icode mcp approve` (see `icode mcp list`)"
            : (problems[0]?.fix ?? "see `icode mcp list` for each server's error and stderr"),
        );
    };

    /** Which server registered each tool and prompt name. */
    const owners = new Map<string, string>();
    /**
     * Names are made safe (`:` and other characters become `_`) and cut to 64 characters, so two servers
     * can map to one name (plugin `a_b` server `c`, plugin `a` server `b_c`). The first keeps it; the
     * other's tool is left out and reported, never registered over it.
     */
    const clash = (server: string, name: string, what: string) => {
      const holder = owners.get(name);
      if (holder === undefined || holder === server) return false;
      const message = `${what} is named ${name}, as one of server "${holder}" is: left out`;
      if (!problems.some((p) => p.message === message))
        problems.push({ at: `MCP server "${server}"`, message, fix: 'rename one of the two servers' });
      updateHealth();
      return true;
    };
    const onCatalog = (server: string, tools: McpTool[], prompts: McpPrompt[]) => {
      for (const name of registered.get(server) ?? []) {
        ctx.tools.unregister(name);
        ctx.commands.unregister(name);
        owners.delete(name);
      }
      const names: string[] = [];
      const connection = connections.get(server)!;
      for (const t of tools) {
        const name = toolName(server, t.name);
        if (clash(server, name, `its tool "${t.name}"`)) continue;
        owners.set(name, server);
        const mode: ToolMode = t.annotations?.readOnlyHint ? 'read-only' : 'workspace-write';
        ctx.tools.register(
          defineTool({
            name,
            description: `${t.description ?? t.name} (MCP server "${server}")`,
            input: z.looseObject({}),
            inputSchema: t.inputSchema,
            mode,
            async execute(args, tc) {
              const r = await connection.callTool(t.name, args, tc.signal);
              if (r.isError)
                throw new Error(r.blocks.map((b) => (b.type === 'text' ? b.text : '[image]')).join('\n'));
              return r.blocks;
            },
          }),
        );
        names.push(name);
      }
      for (const p of prompts) {
        const name = toolName(server, p.name);
        if (clash(server, name, `its prompt "${p.name}"`)) continue;
        owners.set(name, server);
        ctx.commands.register({
          name,
          description: `${p.description ?? p.name} (MCP prompt of "${server}")`,
          ...(p.arguments?.length
            ? { argumentHint: p.arguments.map((a) => (a.required ? `<${a.name}>` : `[${a.name}]`)).join(' ') }
            : {}),
          run: (args) => {
            // Words map to the prompt's arguments in order; the last one takes the rest.
            const words = args.trim() ? args.trim().split(/\s+/) : [];
            const names = p.arguments?.map((a) => a.name) ?? [];
            const values = Object.fromEntries(
              names
                .map((n, i) => [n, i === names.length - 1 ? words.slice(i).join(' ') : (words[i] ?? '')])
                .filter(([, v]) => v),
            );
            return connection.getPrompt(p.name, values);
          },
        });
        names.push(name);
      }
      registered.set(server, names);
    };

    for (const { name, raw, source, fromProject, where } of found.entries) {
      const checked = checkServer(raw);
      const reason = held.get(name);
      if ('problems' in checked || reason) {
        // Listed, so `icode mcp list` names it and where its entry is wrong; never started.
        statuses.set(name, {
          name,
          source,
          transport: 'url' in raw ? (raw.type === 'sse' ? 'sse' : 'http') : 'stdio',
          state: 'invalid',
          tools: [],
          prompts: [],
          error:
            reason ??
            ('problems' in checked ? checked.problems : [])
              .map((p) => `${where(p.path)}: ${p.message}`)
              .join('; '),
          retries: 0,
        });
        continue;
      }
      const entry: ServerEntry = { name, config: checked.config, source, fromProject };
      const connection = new McpConnection(entry, {
        env: ctx.env,
        userDir: ctx.userDir,
        cwd: ctx.projectRoot,
        timeouts: serverTimeouts(checked.config, defaults.timeouts),
        maxOutputChars: ctx.config.maxOutputChars,
        onCatalog,
        onStatus: (s) => {
          statuses.set(s.name, s);
          updateHealth();
        },
      });
      connections.set(name, connection);
      statuses.set(name, connection.status);
      if (checked.config.enabled === false) connection.status.state = 'disabled';
      else if (fromProject && !projectApproved) connection.status.state = 'unapproved';
    }
    ctx.onDispose(() => Promise.all([...connections.values()].map((c) => c.close())));

    const waiting = [...connections.values()].filter((c) => c.status.state === 'lazy');
    const startup = waiting.filter((c) => c.entry.config.startup !== 'lazy');
    const lazy = waiting.filter((c) => c.entry.config.startup === 'lazy');
    // Start-up servers connect in parallel, each within its own start-up budget, so a hung one costs its
    // budget and nothing more; lazy ones connect after start-up.
    let waited: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(startup.map((c) => c.connect())),
      new Promise((resolve) => {
        waited = setTimeout(resolve, STARTUP_WAIT_MS);
      }),
    ]);
    clearTimeout(waited);
    for (const c of lazy) setImmediate(() => void c.connect());
    updateHealth();

    const server = (name: string) => {
      const c = connections.get(name);
      if (!c)
        throw new Error(
          `no MCP server "${name}"; configured: ${[...connections.keys()].join(', ') || 'none'}`,
        );
      return c;
    };
    // The resource tools are offered only where there are servers: no tool definitions eat the context
    // of a project that uses none.
    if (connections.size) {
      registerResourceTools();
      registerDispatcher();
      if (found.entries.some((e) => 'url' in e.raw)) registerAuthTool();
    }
    function registerResourceTools() {
      ctx.tools.register(
        defineTool({
          name: 'ListMcpResources',
          description: 'List the resources MCP servers offer (all connected servers, or one).',
          input: z.object({ server: z.string().optional().describe('Only this server') }),
          mode: 'read-only',
          concurrencySafe: true,
          async execute({ server: only }) {
            const names = only
              ? [only]
              : [...connections.keys()].filter((n) => statuses.get(n)?.state === 'connected');
            // One server that fails or hangs is a line naming it; the others' resources still show.
            const lists = await Promise.allSettled(names.map((n) => server(n).listResources()));
            const lines = lists.flatMap((r, i) =>
              r.status === 'rejected'
                ? [`${names[i]}\t(error: ${r.reason instanceof Error ? r.reason.message : String(r.reason)})`]
                : r.value.map(
                    (x) => `${names[i]}\t${x.uri}\t${x.name ?? ''}${x.mimeType ? `\t${x.mimeType}` : ''}`,
                  ),
            );
            return lines.length ? lines.join('\n') : 'No resources.';
          },
        }),
      );
      ctx.tools.register(
        defineTool({
          name: 'ReadMcpResource',
          description: 'Read one resource of an MCP server by its URI.',
          input: z.object({ server: z.string(), uri: z.string() }),
          mode: 'read-only',
          concurrencySafe: true,
          execute: ({ server: name, uri }) => server(name).readResource(uri),
        }),
      );
    }
    function registerAuthTool() {
      ctx.tools.register(
        defineTool({
          name: 'McpAuth',
          // It waits for the user to sign in; the sign-in has its own deadline.
          timeoutMs: 0,
          description:
            'Authorize icode with a remote MCP server that needs OAuth: opens the sign-in page in the browser and waits for the user to finish.',
          input: z.object({ server: z.string() }),
          mode: 'workspace-write',
          execute: ({ server: name }) =>
            service.authorize(name, (url) =>
              process.stderr.write(`icode: to authorize ${name}, open ${url}\n`),
            ),
        }),
      );
    }

    function registerDispatcher() {
      ctx.tools.register(
        defineTool({
          name: 'MCP',
          description:
            'Call a tool of a connected MCP server by server and tool name (for tools not listed among your tools).',
          input: z.object({
            server: z.string(),
            tool: z.string(),
            arguments: z.record(z.string(), z.unknown()).default({}),
          }),
          // Only a dispatcher: the call goes through the whole tool contract under the tool's own name,
          // so rules such as mcp__github__* and the tool's own mode apply.
          mode: 'read-only',
          async execute({ server: name, tool, arguments: args }, tc) {
            server(name);
            const r = await ctx.tools.call(
              { id: `mcp-dispatch-${Date.now()}`, name: toolName(name, tool), input: args },
              {
                sessionMode: tc.sessionMode ?? 'prompt',
                cwd: tc.cwd,
                roots: tc.roots,
                signal: tc.signal,
                ...(tc.sessionId ? { sessionId: tc.sessionId } : {}),
              },
            );
            if (r.isError)
              throw new Error(typeof r.content === 'string' ? r.content : JSON.stringify(r.content));
            return r.content;
          },
        }),
      );
    }

    const service: McpService = {
      list: () => [...statuses.values()].map((s) => ({ ...s })),
      problems: () => problems.map((p) => ({ ...p })),
      authorize: (name, open) =>
        server(name).authorize((url) => {
          open?.(url);
          void import('./oauth.ts').then(({ openBrowser }) => openBrowser(url, ctx.env));
        }, ctx.config.authTimeoutMs),
      approveProject: () => {
        approvals.approve(ctx.projectRoot, fingerprint);
        return found.entries.filter((e) => e.fromProject).map((e) => e.name);
      },
    };
    ctx.services.provide('mcp', service);
    ctx.commands.register({
      name: 'mcp',
      description: 'MCP servers: state, tools, last error',
      run: () => renderStatus(service.list(), service.problems()),
    });
  },
});
