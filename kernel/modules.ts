type Importer = (specifier: string) => Promise<unknown>;

/**
 * Imports an ES module (a plugin, or a dependency loaded on first use). The built CLI runs from a V8
 * code cache, and Node 20 loses the import() callback of a script restored from one, so the CLI's entry
 * installs an importer compiled outside the cache; everywhere else this is plain import().
 *
 * @example
 * ```ts
 * const { default: Anthropic } = await importModule<typeof import('@anthropic-ai/sdk')>('@anthropic-ai/sdk');
 * ```
 */
export function importModule<T = unknown>(specifier: string): Promise<T> {
  const outside = (globalThis as { __icodeImport?: Importer }).__icodeImport;
  return (outside ? outside(specifier) : import(specifier)) as Promise<T>;
}
