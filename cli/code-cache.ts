import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Script } from 'node:vm';

/**
 * Loads a CommonJS bundle with a V8 code cache kept under `~/.icode/cache` (what Node 22's
 * module.enableCompileCache does; Node 20 has no such switch). The cache file is named after the build,
 * so a rebuilt bundle never meets a stale cache; a missing, unwritable or rejected cache only costs speed.
 * ICODE_NO_CODE_CACHE=1 turns it off.
 */
export function runCached(file: string, buildId: string): unknown {
  const source = readFileSync(file, 'utf8');
  const base = process.env.ICODE_CONFIG_DIR || join(homedir(), '.icode');
  const cacheFile = join(base, 'cache', `cli-${buildId}-${process.version}-${process.arch}.v8`);
  const enabled = !process.env.ICODE_NO_CODE_CACHE;
  let cachedData: Buffer | undefined;
  try {
    if (enabled) cachedData = readFileSync(cacheFile);
  } catch {}
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new Script(wrapped, {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  // import() inside a script restored from a code cache fails on Node 20 (the loader callback is lost),
  // so the bundle imports through this function, compiled here, outside the cache (kernel/modules.ts).
  const bundleUrl = pathToFileURL(file).href;
  (globalThis as { __icodeImport?: (specifier: string) => Promise<unknown> }).__icodeImport = (specifier) =>
    import(specifier.startsWith('.') ? new URL(specifier, bundleUrl).href : specifier);
  const module = { exports: {} as Record<string, unknown> };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
  if (enabled && (!cachedData || script.cachedDataRejected)) {
    // Written at exit, so functions compiled while this command ran are in the cache too.
    process.once('exit', () => {
      try {
        mkdirSync(dirname(cacheFile), { recursive: true });
        const tmp = `${cacheFile}.${process.pid}`;
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, cacheFile);
      } catch {}
    });
  }
  return module.exports;
}
