import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Script } from 'node:vm';

/** Dependencies shipped pre-bundled beside the CLI, loaded (cached) the first time something imports them. */
const BUNDLED: Record<string, string> = {
  '@anthropic-ai/sdk': 'anthropic-sdk.cjs',
  'node-fetch': 'node-fetch.cjs',
};

/**
 * Loads a CommonJS bundle with a V8 code cache kept under `~/.icode/cache` (what Node 22's
 * module.enableCompileCache does; Node 20 has no such switch). The cache file is named after the build,
 * so a rebuilt bundle never meets a stale cache; a missing, unwritable or rejected cache only costs speed.
 * ICODE_NO_CODE_CACHE=1 turns it off.
 */
function loadCached(file: string, buildId: string): Record<string, unknown> {
  const source = readFileSync(file, 'utf8');
  const base = process.env.ICODE_CONFIG_DIR || join(homedir(), '.icode');
  const name = file
    .split('/')
    .pop()!
    .replace(/\.cjs$/, '');
  const cacheFile = join(base, 'cache', `${name}-${buildId}-${process.version}-${process.arch}.v8`);
  const enabled = !process.env.ICODE_NO_CODE_CACHE;
  let cachedData: Buffer | undefined;
  try {
    if (enabled) cachedData = readFileSync(cacheFile);
  } catch {}
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new Script(wrapped, { filename: file, ...(cachedData ? { cachedData } : {}) });
  const module = { exports: {} as Record<string, unknown> };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
  if (enabled && (!cachedData || script.cachedDataRejected)) {
    // Written at exit, so functions compiled while this command ran are in the cache too.
    process.once('exit', () => writeCache(cacheFile, name, () => script.createCachedData()));
  }
  return module.exports;
}

/**
 * Writes the cache under a temporary name and renames it into place. A write that fails (a full disk) takes
 * its temporary file with it: the cache is worth speed only, never a run or the disk space a session needs.
 * Temporary files of processes that died mid-write, and caches of earlier builds, are removed too.
 */
function writeCache(cacheFile: string, name: string, data: () => Buffer): void {
  const dir = dirname(cacheFile);
  const tmp = `${cacheFile}.${process.pid}`;
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(tmp, data());
    renameSync(tmp, cacheFile);
  } catch {
    try {
      rmSync(tmp, { force: true });
    } catch {}
  }
  try {
    for (const old of readdirSync(dir)) {
      if (!old.startsWith(`${name}-`)) continue;
      const pid = /\.v8\.(\d+)$/.exec(old)?.[1];
      // Caches of earlier builds are never read again (keep one per bundle); a writer that is gone left
      // its temporary file behind.
      const stale = pid ? !alive(Number(pid)) : old.endsWith('.v8') && join(dir, old) !== cacheFile;
      if (stale) rmSync(join(dir, old), { force: true });
    }
  } catch {}
}

function alive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Loads the CLI bundle (dist/cli.cjs) and what it imports, through the code cache. */
export function runCached(dir: string, buildId: string): unknown {
  // import() inside a script restored from a code cache fails on Node 20 (the loader callback is lost),
  // so the bundle imports through this function, compiled here, outside the cache (kernel/modules.ts).
  const loaded = new Map<string, Record<string, unknown>>();
  const dirUrl = pathToFileURL(`${dir}/`).href;
  (globalThis as { __icodeImport?: (specifier: string) => Promise<unknown> }).__icodeImport = async (
    specifier,
  ) => {
    const bundled = BUNDLED[specifier];
    if (!bundled) return import(specifier.startsWith('.') ? new URL(specifier, dirUrl).href : specifier);
    if (!loaded.has(specifier)) loaded.set(specifier, loadCached(join(dir, bundled), buildId));
    return loaded.get(specifier);
  };
  return loadCached(join(dir, 'cli.cjs'), buildId);
}
