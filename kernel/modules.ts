type Importer = (specifier: string) => Promise<unknown>;

/**
 * Where icode's own modules sit: the folder of this file. In the CLI bundle that is dist/, beside the
 * terminal UI's bundle; a plugin's module never is. (From the sources, a built-in imported by file URL
 * counts as a plugin's, which only registers the SDK hooks early.)
 */
const OWN_CODE = new URL('.', import.meta.url).href;

/**
 * Imports an ES module (a plugin, or a dependency loaded on first use). The built CLI runs from a V8
 * code cache, and Node 20 loses the import() callback of a script restored from one, so the CLI's entry
 * installs an importer compiled outside the cache; everywhere else this is plain import(). A plugin's
 * module (a file URL outside icode's own code) gets this host's SDK as `icode/sdk` (kernel/sdk-loader.ts).
 *
 * @example
 * ```ts
 * const { default: Anthropic } = await importModule<typeof import('@anthropic-ai/sdk')>('@anthropic-ai/sdk');
 * ```
 */
export async function importModule<T = unknown>(specifier: string): Promise<T> {
  if (specifier.startsWith('file:') && !specifier.startsWith(OWN_CODE))
    await (await import('./sdk-loader.ts')).provideSdk(specifier);
  const outside = (globalThis as { __icodeImport?: Importer }).__icodeImport;
  return (outside ? outside(specifier) : import(specifier)) as Promise<T>;
}
