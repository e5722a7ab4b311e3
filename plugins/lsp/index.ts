import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import * as z from 'zod';
import {
  asJudged,
  definePlugin,
  defineTool,
  expandPaths,
  findExecutable,
  resolveReal,
  sandboxed,
  sharedProbe,
  type ToolResultBlock,
  workspacePolicy,
} from '../../sdk/index.ts';
import type { LanguageServer } from './client.ts';
import type { Renderer } from './format.ts';
import { type LspServerStatus, renderLspStatus } from './render.ts';
import { extensionOf, resolveServers, ServerConfig, type ServerSpec } from './servers.ts';

export type { LspServerStatus } from './render.ts';

export interface LspService {
  list(): LspServerStatus[];
}

type Runtime = typeof import('./runtime.ts');
let loading: Promise<Runtime> | undefined;
const runtime = () => {
  loading ??= import('./runtime.ts');
  return loading;
};

declare module '../../kernel/registries.ts' {
  interface Services {
    lsp: LspService;
  }
}

export const ACTIONS = [
  'diagnostics',
  'hover',
  'definition',
  'references',
  'completion',
  'symbols',
  'workspace_symbols',
] as const;

export const Input = z.object({
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
    /**
     * auto: language servers run in the OS sandbox (the workspace read-only, no network, credentials
     * hidden), since they run a project's code (build scripts, proc macros, toolchain files). Off by
     * default for now: typescript-language-server does not yet publish diagnostics in it (see
     * docs/security.md, known limits); off, servers run as the user with only allow-listed variables.
     */
    sandbox: z.enum(['auto', 'off']).default('off'),
  }),
  activate(ctx) {
    const { servers: specs, problems } = resolveServers(ctx.config.servers);
    // The protocol library and the client load with the first request (not at boot).
    let renderer: Renderer | undefined;
    const render = (rt: Runtime) => {
      renderer ??= new rt.Renderer(ctx.projectRoot);
      return renderer;
    };
    const timeouts = { startMs: ctx.config.startTimeoutMs, requestMs: ctx.config.requestTimeoutMs };
    /** Servers whose binary was found, by name → executable; a process starts on first use. */
    const installed = new Map<string, string>();
    const running = new Map<string, LanguageServer>();
    const missing = new Map<string, ServerSpec>();
    const byExtension = new Map<string, ServerSpec>();
    for (const spec of specs) {
      const executable = findExecutable(spec.command, ctx.env);
      if (executable) installed.set(spec.name, executable);
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
      if (!installed.size && !bad.length)
        bad.push(`no language server found (${specs.map((s) => s.command).join(', ')})`);
      if (bad.length)
        ctx.health.degraded(
          `LSP: ${bad.join('; ')}`,
          installed.size
            ? 'see `icode doctor` or /lsp for each server; other languages work'
            : `install a language server, e.g. ${specs[0]?.install ?? 'typescript-language-server'}`,
        );
      else ctx.health.ok();
    };
    health();

    /** The sandbox a server runs in: its own installation shown read-only beside the toolchains. */
    const wrap = async (executable: string, spec: ServerSpec) => {
      if (ctx.config.sandbox === 'off') return undefined;
      const probe = await sharedProbe(ctx.env, join(ctx.userDir, 'state'));
      if (!probe.bwrap) return undefined;
      const real = realpathSync.native(executable);
      const modules = real.lastIndexOf(`${sep}node_modules${sep}`);
      const install = modules !== -1 ? real.slice(0, modules + 13) : dirname(dirname(real));
      // The server's own files and any absolute paths its arguments name (a script, a config).
      const named = spec.args.filter((a) => isAbsolute(a) && existsSync(a));
      const policy = {
        ...workspacePolicy({
          protectedPaths: ctx.permissions.protectedPaths(),
          roots: ctx.roots,
          cwd: ctx.projectRoot,
          env: ctx.env,
          userDir: ctx.userDir,
          writable: false,
          hidden: expandPaths(ctx.permissions.deniedPaths('read')),
        }),
        readable: [install, ...named],
      };
      return (file: string, args: string[]) => sandboxed(probe, policy, { file, args });
    };

    /** The server for a file, or an error the model can act on. */
    const serverFor = async (file: string): Promise<LanguageServer> => {
      const ext = extensionOf(file);
      const spec = byExtension.get(ext);
      if (!spec)
        throw new Error(`no language server is configured for .${ext} files (plugins.lsp.config.servers)`);
      const executable = installed.get(spec.name);
      if (!executable)
        throw new Error(
          `the ${spec.name} language server (${spec.command}) is not installed; install it with: ${spec.install}`,
        );
      const rt = await runtime();
      let server = running.get(spec.name);
      if (!server) {
        server = new rt.LanguageServer(
          spec,
          executable,
          ctx.projectRoot,
          ctx.env,
          timeouts,
          await wrap(executable, spec),
        );
        running.set(spec.name, server);
      }
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
        coveredBy: ['Read'],
        description:
          "Ask the project's language servers (TypeScript, Python, Go, Rust, C/C++ when installed) about code: diagnostics, hover (type and docs), definition, references, completion, symbols of a file, workspace_symbols. Lines and characters are 1-based; locations come back as path:line:col.",
        input: Input,
        // Starting a language server runs the project's code (build scripts, proc macros, toolchain files,
        // tsserver plugins), as the user: read-only and plan mode promise that no code runs, so there a
        // server that is not running yet is not started. Once one runs, asking it is a read.
        mode: ({ path }, tctx) => {
          if (tctx.sessionMode !== 'read-only' && tctx.sessionMode !== 'plan') return 'read-only';
          const spec = byExtension.get(extensionOf(path));
          return spec && running.get(spec.name)?.state === 'running' ? 'read-only' : 'workspace-write';
        },
        concurrencySafe: true,
        subjects: ({ path }, tctx) => ({ kind: 'path', values: [resolveReal(path, tctx.cwd)] }),
        async execute(input, tctx) {
          if (input.path.includes('\0')) throw new Error('the path contains a NUL byte');
          const file = asJudged(resolveReal(input.path, tctx.cwd), input.path, tctx.judged);
          if (!statSync(file, { throwIfNoEntry: false })?.isFile())
            throw new Error(`${input.path} is not a file`);
          const rt = await runtime();
          const server = await serverFor(file);
          return track(() =>
            rt.answer(server, input, file, render(rt), ctx.roots, ctx.config.diagnosticsTimeoutMs),
          );
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
      if (!spec || !installed.has(spec.name)) return result;
      const rt = await runtime();
      const server = await serverFor(file);
      if (server.state === 'failed') return result;
      const before = server.known(file);
      const limit = ctx.config.editDiagnosticsTimeoutMs;
      const work = track(() => server.diagnostics(file, limit)).catch(() => undefined);
      const items = await Promise.race([
        work,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), limit + 50).unref()),
      ]);
      const note =
        items && rt.editNote(server, file, before, items, render(rt), ctx.config.maxEditDiagnostics);
      if (!note) return result;
      const block: ToolResultBlock = { type: 'text', text: note };
      const content =
        typeof result.content === 'string'
          ? [{ type: 'text' as const, text: result.content }, block]
          : [...result.content, block];
      return { ...result, content };
    });

    const service: LspService = {
      list: () =>
        specs.map((spec) => {
          const server = running.get(spec.name);
          const executable = installed.get(spec.name);
          return {
            name: spec.name,
            extensions: spec.extensions,
            state: server?.state ?? (executable ? 'idle' : 'not-installed'),
            command: executable ?? spec.command,
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
