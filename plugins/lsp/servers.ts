import { extname } from 'node:path';
import * as z from 'zod';

/** One language server as configured (`plugins.lsp.config.servers.<name>`); a default's fields may be overridden. */
export const ServerConfig = z.strictObject({
  /** The executable: a path or a name looked up in PATH. */
  command: z.string().min(1).optional(),
  args: z.array(z.string()).optional(),
  /** File extensions this server handles, without the dot (`ts`, `py`). */
  extensions: z.array(z.string().regex(/^[A-Za-z0-9_+-]+$/, 'an extension without the dot')).optional(),
  /** Extra environment for the server process. */
  env: z.record(z.string(), z.string()).optional(),
  /** Sent as `initializationOptions` in the initialize request. */
  initializationOptions: z.unknown().optional(),
  /** How to install the server, shown when it is missing. */
  install: z.string().optional(),
  enabled: z.boolean().optional(),
});
export type ServerConfig = z.infer<typeof ServerConfig>;

export interface ServerSpec {
  name: string;
  command: string;
  args: string[];
  extensions: string[];
  env: Record<string, string>;
  initializationOptions?: unknown;
  install: string;
  /** Configured by the user, rather than a default that applies when its binary is found. */
  explicit: boolean;
}

/** The servers icode knows without configuration; each applies only when its binary is found. */
export const DEFAULT_SERVERS: Record<
  string,
  Required<Pick<ServerConfig, 'command' | 'args' | 'extensions' | 'install'>>
> = {
  typescript: {
    command: 'typescript-language-server',
    args: ['--stdio'],
    extensions: ['ts', 'tsx', 'mts', 'cts', 'js', 'jsx', 'mjs', 'cjs'],
    install: 'npm install -g typescript-language-server typescript',
  },
  pyright: {
    command: 'pyright-langserver',
    args: ['--stdio'],
    extensions: ['py', 'pyi'],
    install: 'npm install -g pyright (or pip install pyright)',
  },
  gopls: {
    command: 'gopls',
    args: [],
    extensions: ['go'],
    install: 'go install golang.org/x/tools/gopls@latest',
  },
  'rust-analyzer': {
    command: 'rust-analyzer',
    args: [],
    extensions: ['rs'],
    install: 'rustup component add rust-analyzer',
  },
  clangd: {
    command: 'clangd',
    args: [],
    extensions: ['c', 'h', 'cc', 'cpp', 'cxx', 'hpp', 'hh', 'hxx'],
    install: 'apt install clangd (or brew install llvm); clangd reads compile_commands.json',
  },
};

/**
 * The defaults with the user's settings laid over them, field by field. A server the user adds must name
 * its command and extensions; one with `enabled: false` is left out. Problems name the settings key.
 */
export function resolveServers(configured: Record<string, ServerConfig>): {
  servers: ServerSpec[];
  problems: string[];
} {
  const servers: ServerSpec[] = [];
  const problems: string[] = [];
  for (const name of new Set([...Object.keys(DEFAULT_SERVERS), ...Object.keys(configured)])) {
    const base = DEFAULT_SERVERS[name];
    const own = configured[name];
    const merged = { ...base, ...own };
    if (merged.enabled === false) continue;
    if (!merged.command || !merged.extensions?.length) {
      problems.push(
        `plugins.lsp.config.servers.${name} needs "command" and "extensions" (e.g. { "command": "my-server", "args": ["--stdio"], "extensions": ["ext"] })`,
      );
      continue;
    }
    servers.push({
      name,
      command: merged.command,
      args: merged.args ?? [],
      extensions: merged.extensions.map((e) => e.toLowerCase()),
      env: merged.env ?? {},
      ...(merged.initializationOptions !== undefined
        ? { initializationOptions: merged.initializationOptions }
        : {}),
      install:
        merged.install ?? `install ${merged.command} or set plugins.lsp.config.servers.${name}.command`,
      explicit: own !== undefined,
    });
  }
  return { servers, problems };
}

/** The extension of a file as servers are keyed: lower case, no dot. */
export const extensionOf = (file: string) => extname(file).slice(1).toLowerCase();

const LANGUAGE_IDS: Record<string, string> = {
  ts: 'typescript',
  mts: 'typescript',
  cts: 'typescript',
  tsx: 'typescriptreact',
  js: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  jsx: 'javascriptreact',
  py: 'python',
  pyi: 'python',
  go: 'go',
  rs: 'rust',
  c: 'c',
  h: 'c',
  cc: 'cpp',
  cpp: 'cpp',
  cxx: 'cpp',
  hpp: 'cpp',
  hh: 'cpp',
  hxx: 'cpp',
};

/** The LSP languageId of a file (the extension itself when icode does not know it). */
export const languageId = (file: string) => LANGUAGE_IDS[extensionOf(file)] ?? extensionOf(file);
