/**
 * `icode-sdk manifest`: brings a plugin's plugin.json in step with its built code — each tool's
 * description and input schema (so icode can offer the tools of a lazy plugin without loading its code
 * until the model first calls one), tools the code registers that the manifest does not list yet, tools
 * it lists that the code no longer registers, and the version package.json says. A plugin's build runs it
 * after compiling, so the manifest never drifts from the code.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ErrorCodes, IcodeError } from '../kernel/errors.ts';
import { parseJsonDocument } from '../kernel/json.ts';
import { bootTestKernel } from './testing.ts';

export interface DeclaredTools {
  /** The plugin.json written (or left as it was). */
  file: string;
  /** Tools whose description or input schema changed. */
  changed: string[];
  /** Tools the code registers that plugin.json did not list: added. */
  added: string[];
  /** Tools plugin.json listed that the code does not register (command tools aside): removed. */
  removed: string[];
  /** The version taken from package.json, when plugin.json said another. */
  version?: { from: string | undefined; to: string };
}

interface ManifestTool {
  name: string;
  mode?: string;
  command?: string;
  description?: string;
  inputSchema?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Where the stand-in entry reports each tool the plugin registers (name and, when fixed, its mode). */
const SEEN = 'icode.sdk.manifest.seen';
/** One prefix per first character a tool name can have: the stand-in may register any name. */
const ANY_NAME = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-'];

/**
 * Loads the plugin in `dir` the way icode does (a real kernel, its SDK, its gate), and writes into
 * `dir/plugin.json` what its code registers: each tool's `description` and `inputSchema` (and `mode`,
 * when the code gives a fixed one and the manifest none), a new entry for a tool the manifest does not
 * list, no entry for one the code no longer registers; and package.json's version, when it differs.
 * Other keys, and tools that run a `command`, stay as written. The file is rewritten only when something
 * changed. A plugin that fails to activate is an error naming why.
 */
export async function declareTools(dir: string): Promise<DeclaredTools> {
  const folder = resolve(dir);
  const file = join(folder, 'plugin.json');
  const manifest = parseJsonDocument(readFileSync(file, 'utf8'), file, ErrorCodes.MANIFEST_INVALID).value as {
    name?: string;
    version?: string;
    main?: string;
    contributes?: { tools?: ManifestTool[] };
  };
  const result: DeclaredTools = { file, changed: [], added: [], removed: [] };
  const pkgFile = join(folder, 'package.json');
  if (existsSync(pkgFile)) {
    const { version } = parseJsonDocument(readFileSync(pkgFile, 'utf8'), pkgFile, ErrorCodes.FILE_INVALID)
      .value as { version?: unknown };
    if (typeof version === 'string' && version !== manifest.version) {
      result.version = { from: manifest.version, to: version };
      manifest.version = version;
    }
  }
  const main = join(folder, manifest.main ?? 'index.js');
  if (!existsSync(main))
    throw new IcodeError(
      ErrorCodes.LOAD_FAILED,
      `${main} (the plugin's "main") does not exist`,
      'build the plugin first (icode-sdk manifest reads the built code)',
    );
  const registered = await registeredTools(folder, manifest, main);
  manifest.contributes ??= {};
  const listed = manifest.contributes.tools ?? [];
  const kept = listed.filter((t) => {
    if (t.command || registered.has(t.name)) return true;
    result.removed.push(t.name);
    return false;
  });
  for (const [name, tool] of registered) {
    let entry = kept.find((t) => t.name === name);
    if (!entry) {
      entry = { name, ...(tool.mode ? { mode: tool.mode } : {}) };
      kept.push(entry);
      result.added.push(name);
    } else if (!entry.mode && tool.mode) {
      entry.mode = tool.mode;
      result.changed.push(name);
    }
    if (
      entry.description === tool.description &&
      JSON.stringify(entry.inputSchema) === JSON.stringify(tool.inputSchema)
    )
      continue;
    entry.description = tool.description;
    entry.inputSchema = tool.inputSchema;
    if (!result.added.includes(name) && !result.changed.includes(name)) result.changed.push(name);
  }
  manifest.contributes.tools = kept;
  if (result.version || result.changed.length || result.added.length || result.removed.length)
    writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
  return result;
}

/**
 * The tools the plugin registers when it activates, with what the model is sent for each. It runs as it
 * is, made to start at boot, from a folder of its own: a copy of the manifest that lets it register any
 * tool name, and an entry that imports the plugin's module (which resolves its imports from where it
 * lives) and notes each tool its `activate` registers. The manifest itself may be lazy without schemas
 * yet: that is what this fills in.
 */
async function registeredTools(
  folder: string,
  manifest: { name?: string; contributes?: { tools?: ManifestTool[] } },
  main: string,
): Promise<Map<string, { mode?: string; description: string; inputSchema: Record<string, unknown> }>> {
  const stand = mkdtempSync(join(tmpdir(), 'icode-sdk-manifest-'));
  const seen: Array<{ name: string; mode?: string }> = [];
  const slots = globalThis as Record<symbol, unknown>;
  slots[Symbol.for(SEEN)] = seen;
  try {
    writeFileSync(
      join(stand, 'plugin.json'),
      JSON.stringify({
        ...manifest,
        main: 'entry.mjs',
        activation: 'startup',
        contributes: {
          ...manifest.contributes,
          // Command tools are the kernel's to run, not the code's to register: left out here.
          tools: [],
          dynamicTools: ANY_NAME,
        },
      }),
    );
    writeFileSync(
      join(stand, 'entry.mjs'),
      `import * as plugin from ${JSON.stringify(pathToFileURL(main).href)};
const seen = globalThis[Symbol.for(${JSON.stringify(SEEN)})];
const definition = plugin.default;
export default definition && typeof definition.activate === 'function'
  ? {
      ...definition,
      activate(ctx) {
        const tools = new Proxy({}, {
          get(_, key) {
            const target = ctx.tools;
            const value = Reflect.get(target, key);
            if (key !== 'register' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
            return (tool) => {
              seen.push({ name: tool?.name, mode: typeof tool?.mode === 'string' ? tool.mode : undefined });
              return value.call(target, tool);
            };
          },
        });
        // The context is frozen: a stand-in that answers for it, with the noting tools.
        const stand = new Proxy({}, {
          get: (_, k) => {
            if (k === 'tools') return tools;
            const value = Reflect.get(ctx, k);
            return typeof value === 'function' ? value.bind(ctx) : value;
          },
          has: (_, k) => k in ctx,
        });
        return definition.activate(stand);
      },
    }
  : definition;
`,
    );
    const h = await bootTestKernel({ plugins: [stand] });
    try {
      const status = h.report.plugins[0];
      if (status?.state !== 'active' && status?.state !== 'degraded')
        throw new IcodeError(
          ErrorCodes.ACTIVATE_FAILED,
          `${manifest.name ?? folder} does not start, so its tools cannot be read: ${(status?.reason ?? 'unknown').replaceAll('entry.mjs', main)}`,
          status?.fix ?? 'fix what the reason says, then run icode-sdk manifest again',
        );
      const defs = new Map((await h.kernel.tools.definitions()).map((d) => [d.name, d]));
      const tools = new Map<
        string,
        { mode?: string; description: string; inputSchema: Record<string, unknown> }
      >();
      for (const { name, mode } of seen) {
        const def = defs.get(name);
        if (!def) continue; // registered and withdrawn again during activation
        tools.set(name, {
          ...(mode ? { mode } : {}),
          description: def.description,
          inputSchema: def.input_schema as Record<string, unknown>,
        });
      }
      return tools;
    } finally {
      await h.shutdown();
      rmSync(join(h.project, '..'), { recursive: true, force: true });
    }
  } finally {
    delete slots[Symbol.for(SEEN)];
    rmSync(stand, { recursive: true, force: true });
  }
}
