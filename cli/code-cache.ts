import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { constants, Script } from 'node:vm';

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
    // Plugins from npm or folders are ES modules, imported at run time from inside the bundle.
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  // Node 20 flags the main-context loader as experimental once, at the first import() a plugin or the SDK
  // makes; the loader is Node's own, so that one notice is dropped and every other warning kept.
  const emitWarning = process.emitWarning.bind(process);
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (String(warning).includes('USE_MAIN_CONTEXT_DEFAULT_LOADER')) return;
    (emitWarning as (...a: unknown[]) => void)(warning, ...rest);
  }) as typeof process.emitWarning;
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
