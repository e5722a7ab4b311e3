import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import {
  ErrorCodes,
  formatLocation,
  IcodeError,
  loadJsonFile,
  ProjectApprovals,
  parseJsonDocument,
  type ServerConfig,
  type SourceLocation,
} from '../../sdk/index.ts';

export { checkServer, type ServerConfig } from '../../sdk/index.ts';

export interface ServerEntry {
  name: string;
  config: ServerConfig;
  /** Where it was defined: a settings layer, or the project's .mcp.json. */
  source: string;
  /** Defined by a file in the repository: needs the user's approval before it runs anything. */
  fromProject: boolean;
}

/**
 * Expands `${VAR}` and `${VAR:-default}` in every string of a server entry, from the environment icode
 * runs in. A variable that is unset and has no default is an error naming it.
 */
export function expandVars<T>(value: T, env: Readonly<Record<string, string | undefined>>, where: string): T {
  if (typeof value === 'string') {
    return value.replace(
      /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
      (_, name: string, fallback?: string) => {
        const v = env[name];
        if (v !== undefined && v !== '') return v;
        if (fallback !== undefined) return fallback;
        throw new Error(`${where}: \${${name}} is not set; export ${name}, or write \${${name}:-default}`);
      },
    ) as T;
  }
  if (Array.isArray(value)) return value.map((v) => expandVars(v, env, where)) as T;
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandVars(v, env, where)])) as T;
  return value;
}

/** The file's own shape; unknown top-level keys are problems ("mcpServer" would hide every server). */
const McpJson = z.strictObject({ mcpServers: z.record(z.string(), z.unknown()).default({}) });

/** A mistake in a file that defines servers, at its line, with what to do about it. */
export interface ConfigProblem {
  /** `file:line:column (key "…")`. */
  at: string;
  message: string;
  fix: string;
}

/**
 * Servers from every settings layer (`mcpServers`) and from the project's `.mcp.json`. A broken
 * `.mcp.json` is a problem naming the file and line, never an empty list, and never costs the servers
 * the settings define; an entry that is not an object skips only itself.
 */
export function collectServers(
  settings: Record<string, Record<string, unknown>> | undefined,
  origins: Readonly<Record<string, string>>,
  projectRoot: string,
  /** Where a setting is written (the plugin context's locate). */
  locate: (path: readonly string[]) => SourceLocation,
): { entries: CollectedServer[]; problems: ConfigProblem[] } {
  const entries = Object.entries(settings ?? {}).map(([name, raw]): CollectedServer => {
    // Layers merge key by key: a project file that sets only `args` of a server the user defined makes
    // it the project's. Any key from a layer a repository can ship counts.
    const layers = Object.entries(origins)
      .filter(([k]) => k === `mcpServers.${name}` || k.startsWith(`mcpServers.${name}.`))
      .map(([, layer]) => layer);
    const fromProject = layers.some(ProjectApprovals.fromRepository);
    const layer = layers.find(ProjectApprovals.fromRepository) ?? layers[0] ?? 'settings';
    const source = `${layer} settings`;
    return {
      name,
      raw,
      source,
      fromProject,
      where: (path) => formatLocation(locate(['mcpServers', name, ...path.map(String)])),
    };
  });
  const file = join(projectRoot, '.mcp.json');
  if (!existsSync(file)) return { entries, problems: [] };
  const shape = `correct ${file} at that line; it reads { "mcpServers": { "<name>": { "command": "…", "args": [] } } }`;
  // Syntax first (its own fix), then the shape: either way the whole file is unreadable, so say where.
  const unreadable = (error: unknown, fix?: string) => {
    if (!(error instanceof IcodeError)) {
      // Not a JSON mistake: a folder or a FIFO by that name, no permission, nesting too deep to parse.
      const message =
        error instanceof RangeError ? 'nested too deeply to read' : String((error as Error).message ?? error);
      return { entries, problems: [{ at: file, message, fix: fix ?? shape }] };
    }
    const at = error.location ? formatLocation(error.location) : file;
    return { entries, problems: [{ at, message: error.message, fix: fix ?? error.fix ?? shape }] };
  };
  // Only a regular file is read: a FIFO would block the process, a folder would throw.
  const kind = statSync(file);
  if (!kind.isFile())
    return unreadable(new Error(`${file} is not a file`), `remove it, or make it a JSON file: ${shape}`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return unreadable(error);
  }
  let doc: ReturnType<typeof parseJsonDocument>;
  let parsed: z.output<typeof McpJson>;
  try {
    doc = parseJsonDocument(text, file, ErrorCodes.FILE_INVALID);
  } catch (error) {
    return unreadable(error);
  }
  try {
    parsed = loadJsonFile(text, file, McpJson);
  } catch (error) {
    return unreadable(error, shape);
  }
  const problems: ConfigProblem[] = [];
  for (const [name, raw] of Object.entries(parsed.mcpServers)) {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      problems.push({
        at: formatLocation(doc.locate(['mcpServers', name])),
        message: `server "${name}" is ${JSON.stringify(raw)}, not an object`,
        fix: `write it as { "command": "…", "args": [] }, or { "type": "http", "url": "…" } for a remote server`,
      });
      continue;
    }
    if (!entries.some((e) => e.name === name))
      entries.push({
        name,
        raw: raw as Record<string, unknown>,
        source: file,
        fromProject: true,
        where: (path) => formatLocation(doc.locate(['mcpServers', name, ...path])),
      });
  }
  return { entries, problems };
}

export interface CollectedServer {
  name: string;
  raw: Record<string, unknown>;
  source: string;
  fromProject: boolean;
  /** Where a key of this entry is written: `file:line:column (key "…")`, or the settings layer and key. */
  where(path: readonly PropertyKey[]): string;
}
