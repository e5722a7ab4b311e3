import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as P from 'vscode-languageserver-protocol/node';
import * as z from 'zod';
import {
  definePlugin,
  defineTool,
  findExecutable,
  isInside,
  resolveReal,
  type ToolResultBlock,
} from '../../sdk/index.ts';
import { LanguageServer, toPath } from './client.ts';
import { completionText, hoverText, Renderer } from './format.ts';
import { type LspServerStatus, renderLspStatus } from './render.ts';
import { extensionOf, resolveServers, ServerConfig, type ServerSpec } from './servers.ts';

export type { LspServerStatus } from './render.ts';

export interface LspService {
  list(): LspServerStatus[];
}

declare module '../../kernel/registries.ts' {
  interface Services {
    lsp: LspService;
  }
}

const ACTIONS = [
  'diagnostics',
  'hover',
  'definition',
  'references',
  'completion',
  'symbols',
  'workspace_symbols',
] as const;

const Input = z.object({
  action: z
    .enum(ACTIONS)
    .describe(
      'diagnostics: errors and warnings in the file; hover: type and docs at a position; definition / references: where the symbol at a position is defined / used; completion: what can be typed at a position; symbols: the outline of the file; workspace_symbols: symbols across the project matching query',
    ),
  path: z
    .string()
    .min(1)
    .describe(
      'The file (absolute or relative to the working directory); for workspace_symbols, any file of the language',
    ),
  line: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('1-based line (hover, definition, references, completion)'),
  character: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('1-based column (hover, definition, references, completion)'),
  query: z.string().optional().describe('workspace_symbols: the name, or part of it, to look for'),
});

export default definePlugin({
  config: z.strictObject({
    /** Servers by name; fields override the defaults (typescript, pyright, gopls, rust-analyzer, clangd). */
    servers: z.record(z.string(), ServerConfig).default({}),
    startTimeoutMs: z.number().int().positive().default(30_000),
    requestTimeoutMs: z.number().int().positive().default(15_000),
    /** How long the diagnostics action waits for a server to publish. */
    diagnosticsTimeoutMs: z.number().int().positive().default(10_000),
    /** How long write_file and edit_file wait for the diagnostics of the file they changed (0: not at all). */
    editDiagnosticsTimeoutMs: z.number().int().min(0).default(5_000),
    /** At most this many new errors are appended to an edit's result. */
    maxEditDiagnostics: z.number().int().positive().default(10),
  }),
  activate(ctx) {
    const { servers: specs, problems } = resolveServers(ctx.config.servers);
    const render = new Renderer(ctx.projectRoot);
    const timeouts = { startMs: ctx.config.startTimeoutMs, requestMs: ctx.config.requestTimeoutMs };
    const running = new Map<string, LanguageServer>();
    const missing = new Map<string, ServerSpec>();
    const byExtension = new Map<string, ServerSpec>();
    for (const spec of specs) {
      const executable = findExecutable(spec.command, ctx.env);
      if (executable)
        running.set(spec.name, new LanguageServer(spec, executable, ctx.projectRoot, ctx.env, timeouts));
      else missing.set(spec.name, spec);
      // The first server that is installed wins an extension; a missing one keeps it only if none is.
      for (const ext of spec.extensions) {
        const held = byExtension.get(ext);
        if (!held || (missing.has(held.name) && executable)) byExtension.set(ext, spec);
      }
    }
    const health = () => {
      const bad = [
        ...problems,
        ...[...missing.values()]
          .filter((s) => s.explicit)
          .map((s) => `${s.name}: ${s.command} not found (install: ${s.install})`),
        ...[...running.values()]
          .filter((s) => s.state === 'failed' || s.state === 'crashed')
          .map((s) => `${s.spec.name} ${s.state}: ${s.error}`),
      ];
      if (!running.size && !bad.length)
        bad.push(`no language server found (${specs.map((s) => s.command).join(', ')})`);
      if (bad.length)
        ctx.health.degraded(
          `LSP: ${bad.join('; ')}`,
          running.size
            ? 'see `icode doctor` or /lsp for each server; other languages work'
            : `install a language server, e.g. ${specs[0]?.install ?? 'typescript-language-server'}`,
        );
      else ctx.health.ok();
    };
    health();

    /** The server for a file, or an error the model can act on. */
    const serverFor = (file: string): LanguageServer => {
      const ext = extensionOf(file);
      const spec = byExtension.get(ext);
      if (!spec)
        throw new Error(`no language server is configured for .${ext} files (plugins.lsp.config.servers)`);
      const server = running.get(spec.name);
      if (!server)
        throw new Error(
          `the ${spec.name} language server (${spec.command}) is not installed; install it with: ${spec.install}`,
        );
      return server;
    };
    const track = async <T>(work: () => Promise<T>): Promise<T> => {
      try {
        return await work();
      } finally {
        health();
      }
    };

    ctx.tools.register(
      defineTool({
        name: 'LSP',
        description:
          "Ask the project's language servers (TypeScript, Python, Go, Rust, C/C++ when installed) about code: diagnostics, hover (type and docs), definition, references, completion, symbols of a file, workspace_symbols. Lines and characters are 1-based; locations come back as path:line:col.",
        input: Input,
        mode: 'read-only',
        concurrencySafe: true,
        subjects: ({ path }, tctx) => ({ kind: 'path', values: [resolveReal(path, tctx.cwd)] }),
        async execute(input, tctx) {
          if (input.path.includes('\0')) throw new Error('the path contains a NUL byte');
          const file = resolveReal(input.path, tctx.cwd);
          if (!statSync(file, { throwIfNoEntry: false })?.isFile())
            throw new Error(`${input.path} is not a file`);
          const server = serverFor(file);
          const position = (): P.Position => {
            if (input.line === undefined || input.character === undefined)
              throw new Error(`${input.action} needs line and character (1-based)`);
            return { line: input.line - 1, character: input.character - 1 };
          };
          const doc = () => ({ uri: pathToFileURL(file).href });
          return track(async () => {
            if (input.action === 'diagnostics') {
              const items = await server.diagnostics(file, ctx.config.diagnosticsTimeoutMs);
              if (items === undefined)
                return `${server.spec.name} published no diagnostics for ${render.path(file)} within ${ctx.config.diagnosticsTimeoutMs} ms`;
              return items.length
                ? render.diagnostics(file, items)
                : `No diagnostics in ${render.path(file)}.`;
            }
            await server.sync(file);
            const at = () => ({ textDocument: doc(), position: position() });
            switch (input.action) {
              case 'hover':
                return hoverText(await server.request(P.HoverRequest.type, at()));
              case 'definition':
                return render.locations(
                  await server.request(P.DefinitionRequest.type, at()),
                  'No definition found.',
                );
              case 'references':
                return render.locations(
                  await server.request(P.ReferencesRequest.type, {
                    ...at(),
                    context: { includeDeclaration: true },
                  }),
                  'No references found.',
                );
              case 'completion':
                return completionText(await server.request(P.CompletionRequest.type, at()));
              case 'symbols':
                return render.symbols(
                  await server.request(P.DocumentSymbolRequest.type, { textDocument: doc() }),
                  `No symbols in ${render.path(file)}.`,
                );
              default: {
                if (!input.query) throw new Error('workspace_symbols needs a query');
                const found = await server.request(P.WorkspaceSymbolRequest.type, { query: input.query });
                // Only what is inside the workspace (servers also index libraries).
                const inside = (found ?? []).filter((s) => {
                  const path = toPath(s.location.uri);
                  return path !== undefined && ctx.roots.some((r) => isInside(path, r));
                });
                return render.symbols(
                  inside as P.SymbolInformation[],
                  `No symbols matching "${input.query}".`,
                );
              }
            }
          });
        },
      }),
    );

    // After write_file / edit_file: the errors the edit introduced, so the model sees them at once.
    ctx.hooks.afterToolCall.tap(async (result, call, tctx) => {
      if (result.isError || !ctx.config.editDiagnosticsTimeoutMs) return result;
      if (call.name !== 'write_file' && call.name !== 'edit_file') return result;
      const raw = (call.input as { path?: unknown }).path;
      if (typeof raw !== 'string') return result;
      const file = resolveReal(isAbsolute(raw) ? raw : resolve(tctx.cwd, raw), tctx.cwd);
      const spec = byExtension.get(extensionOf(file));
      const server = spec && running.get(spec.name);
      if (!server || server.state === 'failed') return result;
      const before = server.known(file);
      const limit = ctx.config.editDiagnosticsTimeoutMs;
      const work = track(() => server.diagnostics(file, limit)).catch(() => undefined);
      const items = await Promise.race([
        work,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), limit + 50).unref()),
      ]);
      if (!items) return result;
      const errors = items.filter((d) => (d.severity ?? 1) === P.DiagnosticSeverity.Error);
      const fresh = before ? newOnes(errors, before) : errors;
      if (!fresh.length) return result;
      const shown = fresh.slice(0, ctx.config.maxEditDiagnostics);
      const more = fresh.length - shown.length;
      const note: ToolResultBlock = {
        type: 'text',
        text: `${server.spec.name} reports ${before ? 'new ' : ''}error${fresh.length === 1 ? '' : 's'} in ${render.path(file)} after this change:\n${render.diagnostics(file, shown)}${more ? `\n… and ${more} more (LSP diagnostics shows all)` : ''}`,
      };
      const content =
        typeof result.content === 'string'
          ? [{ type: 'text' as const, text: result.content }, note]
          : [...result.content, note];
      return { ...result, content };
    });

    const service: LspService = {
      list: () =>
        specs.map((spec) => {
          const server = running.get(spec.name);
          return {
            name: spec.name,
            extensions: spec.extensions,
            state: server?.state ?? 'not-installed',
            command: server?.executable ?? spec.command,
            install: spec.install,
            restarts: server?.restarts ?? 0,
            ...(server?.pid ? { pid: server.pid } : {}),
            ...(server?.error ? { error: server.error } : {}),
          };
        }),
    };
    ctx.services.provide('lsp', service);
    ctx.commands.register({
      name: 'lsp',
      description: 'Language servers: state, languages, last error',
      run: () => renderLspStatus(service.list()),
    });
    ctx.onDispose(async () => {
      await Promise.all([...running.values()].map((s) => s.stop()));
    });
  },
});

/** The errors in `after` that were not in `before` (same message and code; lines move as text is edited). */
function newOnes(after: P.Diagnostic[], before: P.Diagnostic[]): P.Diagnostic[] {
  const key = (d: P.Diagnostic) => `${d.code ?? ''}\0${JSON.stringify(d.message)}`;
  const seen = new Map<string, number>();
  for (const d of before) seen.set(key(d), (seen.get(key(d)) ?? 0) + 1);
  return after.filter((d) => {
    const left = seen.get(key(d)) ?? 0;
    if (left) seen.set(key(d), left - 1);
    return !left;
  });
}
