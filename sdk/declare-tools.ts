/**
 * `icode-sdk manifest`: writes what a plugin's code registers (each tool's description and input schema)
 * into its plugin.json, so icode can offer the tools of a lazy plugin (`"activation": "lazy"`) without
 * loading its code until the model first calls one. A plugin's build runs it after compiling, so the
 * manifest never drifts from the code.
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
}

interface ManifestTool {
  name: string;
  command?: string;
  description?: string;
  inputSchema?: Record<string, unknown>;
  [key: string]: unknown;
}

/**
 * Loads the plugin in `dir` the way icode does (a real kernel, its SDK, its gate), reads the definitions
 * of the tools it registers, and writes their `description` and `inputSchema` into `dir/plugin.json`
 * (other keys, and tools that run a `command`, stay as written). The file is rewritten only when
 * something changed. A plugin that fails to activate is an error naming why.
 */
export async function declareTools(dir: string): Promise<DeclaredTools> {
  const folder = resolve(dir);
  const file = join(folder, 'plugin.json');
  const text = readFileSync(file, 'utf8');
  const manifest = parseJsonDocument(text, file, ErrorCodes.MANIFEST_INVALID).value as {
    name?: string;
    main?: string;
    contributes?: { tools?: ManifestTool[] };
  };
  const tools = manifest.contributes?.tools ?? [];
  const coded = tools.filter((t) => !t.command);
  if (!coded.length) return { file, changed: [] };
  // The plugin as it is, made to start at boot: a folder of its own with a copy of the manifest and an
  // entry that re-exports the plugin's module, which resolves its imports from where it lives. The
  // manifest itself may be lazy without schemas yet: that is what this fills in.
  const main = join(folder, manifest.main ?? 'index.js');
  if (!existsSync(main))
    throw new IcodeError(
      ErrorCodes.LOAD_FAILED,
      `${main} (the plugin's "main") does not exist`,
      'build the plugin first (icode-sdk manifest reads the built code)',
    );
  const stand = mkdtempSync(join(tmpdir(), 'icode-sdk-manifest-'));
  try {
    writeFileSync(
      join(stand, 'plugin.json'),
      JSON.stringify({
        ...manifest,
        main: 'entry.mjs',
        activation: 'startup',
        contributes: {
          ...manifest.contributes,
          tools: tools.map(({ description: _d, inputSchema: _s, ...t }) => t),
        },
      }),
    );
    writeFileSync(
      join(stand, 'entry.mjs'),
      `import * as plugin from ${JSON.stringify(pathToFileURL(main).href)};\nexport default plugin.default;\n`,
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
      const changed: string[] = [];
      for (const t of coded) {
        const def = defs.get(t.name);
        if (!def) continue; // a declared tool the code does not register is the kernel's to report
        if (
          t.description === def.description &&
          JSON.stringify(t.inputSchema) === JSON.stringify(def.input_schema)
        )
          continue;
        t.description = def.description;
        t.inputSchema = def.input_schema as Record<string, unknown>;
        changed.push(t.name);
      }
      if (changed.length) writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
      return { file, changed };
    } finally {
      await h.shutdown();
      rmSync(join(h.project, '..'), { recursive: true, force: true });
    }
  } finally {
    rmSync(stand, { recursive: true, force: true });
  }
}
