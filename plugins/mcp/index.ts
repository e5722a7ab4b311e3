import * as z from 'zod';
import { definePlugin, defineTool, ProjectApprovals, type ToolMode } from '../../sdk/index.ts';
import { McpConnection, type McpPrompt, type McpTool, type ServerStatus } from './connection.ts';
import { renderStatus } from './render.ts';
import { checkServer, collectServers, type ServerEntry } from './servers.ts';
import { deferMcpTools } from './tool-search.ts';

/** The `mcp` service: what `icode mcp` and `/mcp` show, and project approval. */
export interface McpService {
  list(): ServerStatus[];
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

export default definePlugin({
  config: z.strictObject({
    connectTimeoutMs: z.number().int().positive().default(10_000),
    callTimeoutMs: z.number().int().positive().default(120_000),
    /** Text of a tool result beyond this is cut with a note. */
    maxOutputChars: z.number().int().positive().default(25_000),
    /**
     * When the definitions of all MCP tools would take more tokens than this in every request, they are
     * deferred: the model sees their names and loads schemas with ToolSearch.
     */
    toolSearchBudgetTokens: z.number().int().min(0).default(20_000),
    /** How long McpAuth waits for the user to finish authorizing in the browser. */
    authTimeoutMs: z.number().int().positive().default(300_000),
  }),
  async activate(ctx) {
    const approvals = new ProjectApprovals(ctx.userDir, 'mcp');
    const problems: string[] = [];
    let found: ReturnType<typeof collectServers> = { entries: [] };
    try {
      found = collectServers(ctx.settings.mcpServers, ctx.origins, ctx.projectRoot, ctx.locate);
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
    const fingerprint = ProjectApprovals.fingerprint(
      found.entries.filter((e) => e.fromProject).map((e) => [e.name, e.raw]),
    );
    const projectApproved = approvals.approved(ctx.projectRoot, fingerprint);
    const connections = new Map<string, McpConnection>();
    const statuses = new Map<string, ServerStatus>();
    const registered = new Map<string, string[]>();

    const updateHealth = () => {
      const bad = [...statuses.values()].filter((s) => s.state === 'failed' || s.state === 'unapproved');
      const all = [
        ...problems,
        ...bad.map((s) => `${s.name}: ${s.state === 'unapproved' ? 'not approved' : s.error}`),
      ];
      if (!all.length) ctx.health.ok();
      else
        ctx.health.degraded(
          `MCP servers: ${all.join('; ')}`,
          bad.some((s) => s.state === 'unapproved')
            ? "review the project's MCP servers, then run `icode mcp approve` (see `icode mcp list`)"
            : "see `icode mcp list` for each server's error and stderr",
        );
    };

    const onCatalog = (server: string, tools: McpTool[], prompts: McpPrompt[]) => {
      for (const name of registered.get(server) ?? []) {
        ctx.tools.unregister(name);
        ctx.commands.unregister(name);
      }
      const names: string[] = [];
      const connection = connections.get(server)!;
      for (const t of tools) {
        const name = toolName(server, t.name);
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
      if ('problems' in checked) {
        for (const p of checked.problems) problems.push(`${name}: ${where(p.path)}: ${p.message}`);
        continue;
      }
      const entry: ServerEntry = { name, config: checked.config, source, fromProject };
      const connection = new McpConnection(entry, {
        env: ctx.env,
        userDir: ctx.userDir,
        cwd: ctx.projectRoot,
        connectTimeoutMs: ctx.config.connectTimeoutMs,
        callTimeoutMs: ctx.config.callTimeoutMs,
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
    // Startup servers connect in parallel, each within connectTimeoutMs; lazy ones after start-up.
    await Promise.all(startup.map((c) => c.connect()));
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
      deferMcpTools(ctx, ctx.config.toolSearchBudgetTokens);
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
            const lines: string[] = [];
            for (const n of names)
              for (const r of await server(n).listResources())
                lines.push(`${n}\t${r.uri}\t${r.name ?? ''}${r.mimeType ? `\t${r.mimeType}` : ''}`);
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
      run: () => renderStatus(service.list()),
    });
  },
});
