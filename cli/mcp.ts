import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ErrorCodes, IcodeError } from '../kernel/errors.ts';
import type { Kernel } from '../kernel/index.ts';
import { importModule } from '../kernel/modules.ts';
import type { McpService } from '../plugins/mcp/index.ts';
import { renderStatus } from '../plugins/mcp/render.ts';
import { editSettings } from '../sdk/settings.ts';

interface McpCli {
  /** Boots the harness for this project (flags and config layers as usual), runs `fn`, shuts it down. */
  /** Boots the harness (with `off` plugins switched off for this run), runs `fn`, shuts it down. */
  withKernel(fn: (kernel: Kernel) => Promise<void>, off?: string[]): Promise<void>;
  /** The settings file of a scope, without booting plugins. */
  settingsFile(scope: 'user' | 'local'): Promise<string>;
  projectRoot(): Promise<string>;
  print(json: boolean, value: unknown, text: string): void;
  exit(code: number): void;
}

/**
 * The mcp plugin's service; when the plugin is not running, an error that says why (its own reason and
 * fix), not a bare "no active plugin provides the service".
 */
async function mcpService(kernel: Kernel): Promise<McpService> {
  try {
    return await kernel.services.get('mcp');
  } catch (error) {
    const plugin = kernel.host.statuses().find((p) => p.name === 'mcp');
    if (!plugin?.reason) throw error;
    throw new IcodeError(
      ErrorCodes.SERVICE_MISSING,
      `the mcp plugin is ${plugin.state}: ${plugin.reason}`,
      plugin.fix ?? 'see `icode doctor`',
    );
  }
}

/** Sets or deletes `mcpServers.<name>` in a JSON (with comments) file, keeping its formatting. */
const editServers = (file: string, name: string, value: Record<string, unknown> | undefined) =>
  editSettings(file, ['mcpServers', name], value);

/**
 * Serves the harness's tools over MCP on stdio until the client disconnects. Every call runs the whole
 * tool contract — validation, the permission gate in the configured mode, hooks — as for the model; an
 * ask has no one to answer it and is a deny that says what would allow it.
 */
/** Tools that need a person in the loop (a question, a plan to approve): not offered to an MCP client. */
const INTERACTIVE = new Set(['AskUserQuestion', 'EnterPlanMode', 'ExitPlanMode']);

async function serveTools(kernel: Kernel, withServers: boolean): Promise<void> {
  const offered = (name: string) => !INTERACTIVE.has(name) && (withServers || !name.startsWith('mcp__'));
  const [{ Server }, { StdioServerTransport }, types] = await Promise.all([
    importModule<typeof import('@modelcontextprotocol/sdk/server/index.js')>(
      '@modelcontextprotocol/sdk/server/index.js',
    ),
    importModule<typeof import('@modelcontextprotocol/sdk/server/stdio.js')>(
      '@modelcontextprotocol/sdk/server/stdio.js',
    ),
    importModule<typeof import('@modelcontextprotocol/sdk/types.js')>('@modelcontextprotocol/sdk/types.js'),
  ]);
  const server = new Server({ name: 'icode', version: '0.1.0' }, { capabilities: { tools: {} } });
  server.setRequestHandler(types.ListToolsRequestSchema, async () => ({
    tools: (await kernel.tools.definitions())
      .filter((d) => offered(d.name))
      .map((d) => ({
        name: d.name,
        description: d.description,
        inputSchema: { type: 'object', ...d.input_schema } as { type: 'object' },
      })),
  }));
  let n = 0;
  server.setRequestHandler(types.CallToolRequestSchema, async (request, extra) => {
    if (!offered(request.params.name))
      return {
        content: [
          { type: 'text' as const, text: `Unknown tool "${request.params.name}" (not offered over MCP)` },
        ],
        isError: true,
      };
    const r = await kernel.tools.call(
      { id: `mcp-serve-${++n}`, name: request.params.name, input: request.params.arguments ?? {} },
      { sessionMode: kernel.sessionMode, cwd: kernel.cwd, roots: kernel.roots, signal: extra.signal },
    );
    const content =
      typeof r.content === 'string'
        ? [{ type: 'text' as const, text: r.content }]
        : r.content.map((b) =>
            b.type === 'text'
              ? b
              : { type: 'image' as const, data: b.source.data, mimeType: b.source.media_type },
          );
    return { content, isError: r.isError };
  });
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = resolve;
    process.stdin.once('end', resolve);
  });
  await server.connect(transport);
  await closed;
}

/** `icode mcp list | get | approve | add | remove | serve`. */
export function mcpCommands(program: Command, cli: McpCli): void {
  const mcp = program
    .command('mcp')
    .description('MCP servers: their state, tools and errors; add, remove, approve');
  const withServers = cli.withKernel;
  mcp
    .command('list')
    .description("each server's state, tools, prompts and last error")
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) =>
      withServers(async (k) => {
        const service = await mcpService(k);
        const servers = service.list();
        const problems = service.problems();
        cli.print(Boolean(opts.json), servers, `${renderStatus(servers, problems)}\n`);
        if (!problems.length) return;
        // A broken configuration is an error: scripts see the exit status, --json readers see stderr.
        if (opts.json)
          for (const p of problems) process.stderr.write(`icode: ${p.at}: ${p.message}\n  fix: ${p.fix}\n`);
        cli.exit(1);
      }),
    );
  mcp
    .command('get')
    .argument('<name>')
    .description('one server in full')
    .option('--json', 'print JSON')
    .action((name: string, opts: { json?: boolean }) =>
      withServers(async (k) => {
        const server = (await mcpService(k)).list().find((s) => s.name === name);
        if (!server) {
          process.stderr.write(`icode: no MCP server "${name}" (see: icode mcp list)\n`);
          cli.exit(2);
          return;
        }
        cli.print(Boolean(opts.json), server, `${renderStatus([server])}\n`);
      }),
    );
  mcp
    .command('approve')
    .description("trust this project's servers (.mcp.json and .icode/settings.json) as they are now")
    .action(() =>
      withServers(async (k) => {
        const names = (await mcpService(k)).approveProject();
        process.stdout.write(
          names.length
            ? `Approved ${names.join(', ')} for ${k.config.projectRoot}; they start from the next run. Editing their definitions asks again.\n`
            : 'This project defines no MCP servers.\n',
        );
      }),
    );
  mcp
    .command('add')
    .description('add a server: icode mcp add NAME -- COMMAND [ARGS…], or --transport http|sse NAME URL')
    .argument('<name>')
    .argument('<commandOrUrl>')
    .argument('[args...]')
    .option('--scope <scope>', 'project (.mcp.json, shared), user (~/.icode/settings.json) or local', 'local')
    .option('--transport <transport>', 'stdio, http or sse', 'stdio')
    .option('-e, --env <KEY=value...>', 'environment for a stdio server')
    .option('-H, --header <Name: value...>', 'HTTP header for a remote server')
    .action(
      async (
        name: string,
        target: string,
        args: string[],
        opts: { scope: string; transport: string; env?: string[]; header?: string[] },
      ) => {
        const pairs = (items: string[] | undefined, sep: string) =>
          Object.fromEntries(
            (items ?? []).map((i) => [i.slice(0, i.indexOf(sep)).trim(), i.slice(i.indexOf(sep) + 1).trim()]),
          );
        const server =
          opts.transport === 'stdio'
            ? { command: target, args, ...(opts.env ? { env: pairs(opts.env, '=') } : {}) }
            : {
                type: opts.transport,
                url: target,
                ...(opts.header ? { headers: pairs(opts.header, ':') } : {}),
              };
        if (
          !['stdio', 'http', 'sse'].includes(opts.transport) ||
          !['project', 'user', 'local'].includes(opts.scope)
        ) {
          process.stderr.write(
            'icode: --transport is stdio, http or sse; --scope is project, user or local\n',
          );
          cli.exit(2);
          return;
        }
        const file =
          opts.scope === 'project'
            ? join(await cli.projectRoot(), '.mcp.json')
            : await cli.settingsFile(opts.scope as 'user' | 'local');
        const replaced = editServers(file, name, server);
        process.stdout.write(`${replaced ? 'Replaced' : 'Added'} MCP server "${name}" in ${file}\n`);
        if (opts.scope === 'project')
          process.stdout.write('Project servers start once approved: icode mcp approve\n');
      },
    );
  mcp
    .command('auth')
    .argument('<name>')
    .description(
      'authorize icode with a remote server that needs OAuth (opens the browser; $BROWSER is honoured)',
    )
    .action((name: string) =>
      withServers(async (k) => {
        const message = await (await mcpService(k)).authorize(name, (url) =>
          process.stderr.write(
            `Opening the browser to authorize ${name}; if it does not open, visit:\n${url}\n`,
          ),
        );
        process.stdout.write(`${message}\n`);
      }),
    );
  mcp
    .command('serve')
    .description(
      "offer icode's own non-interactive tools as an MCP server over stdio, behind the same permission gate",
    )
    .option(
      '--with-mcp-servers',
      "also offer the tools of this project's MCP servers (proxied; they start first)",
    )
    .action((opts: { withMcpServers?: boolean }) =>
      // Without the proxied servers, no MCP client starts at all: the server answers at once.
      withServers((k) => serveTools(k, Boolean(opts.withMcpServers)), opts.withMcpServers ? [] : ['mcp']),
    );
  mcp
    .command('remove')
    .argument('<name>')
    .description('remove a server from a scope')
    .option('--scope <scope>', 'project, user or local', 'local')
    .action(async (name: string, opts: { scope: string }) => {
      const file =
        opts.scope === 'project'
          ? join(await cli.projectRoot(), '.mcp.json')
          : await cli.settingsFile(opts.scope as 'user' | 'local');
      if (!existsSync(file) || !editServers(file, name, undefined)) {
        process.stderr.write(`icode: no MCP server "${name}" in ${file}\n`);
        cli.exit(2);
        return;
      }
      process.stdout.write(`Removed MCP server "${name}" from ${file}\n`);
    });
}
