import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { boot, makeWorld, type World, write } from './helpers.ts';

/** An installed lazy plugin of one tool, enabled in the user's settings, as `icode plugins install` leaves it. */
function install(w: World, version = '1.0.0'): string {
  const dir = join(w.userDir, 'plugins', 'node_modules', 'extra');
  write(join(dir, 'index.mjs'), 'export default { activate() { throw new Error("not at boot"); } };\n');
  write(join(w.userDir, 'plugins', 'installed.json'), [
    { name: 'extra', version, spec: 'extra', capabilities: [], installedAt: '2026-12-01T00:00:00Z' },
  ]);
  write(join(w.userDir, 'settings.json'), { plugins: { extra: { enabled: true } } });
  return writeManifest(w, version);
}

function writeManifest(w: World, version: string, description = 'says hello'): string {
  return write(join(w.userDir, 'plugins', 'node_modules', 'extra', 'plugin.json'), {
    name: 'extra',
    version,
    main: 'index.mjs',
    activation: 'lazy',
    engines: { icode: '^0.1.0' },
    contributes: { tools: [{ name: 'hello', description, inputSchema: { type: 'object' } }] },
  });
}

const cacheFile = (w: World) => join(w.userDir, 'cache', 'plugin-manifests.json');
type Cache = { schema: string; entries: Record<string, { manifest: { version: string } }> };
const readCache = (w: World) => JSON.parse(readFileSync(cacheFile(w), 'utf8')) as Cache;

/**
 * Starts until the cache holds the plugin: a plugin.json written within a clock tick of a start is not
 * remembered (its next edit could keep the same timestamps), so the first start may read it again.
 */
async function startUntilRemembered(w: World, file: string) {
  for (let i = 0; i < 50; i++) {
    const started = await boot(w);
    await started.kernel.shutdown();
    try {
      if (readCache(w).entries[file]) return started;
    } catch {}
    await sleep(100);
  }
  throw new Error(`${file} was never remembered`);
}

const versionOf = async (w: World) => (await boot(w)).status('extra');

describe('installed plugins’ manifests are remembered across starts, never stale', () => {
  test('the next start takes a remembered manifest from the cache, without reading plugin.json', async () => {
    const w = makeWorld();
    const file = install(w);
    const { status } = await startUntilRemembered(w, file);
    expect(status('extra')).toMatchObject({ state: 'active', version: '1.0.0', activation: 'lazy' });
    // Doctored in the cache only: a start that shows it read the cache, not the file.
    const cache = readCache(w);
    cache.entries[file]!.manifest.version = '1.0.7';
    writeFileSync(cacheFile(w), JSON.stringify(cache));
    expect(await versionOf(w)).toMatchObject({ state: 'active', version: '1.0.7' });
  });

  test('an edit of the same size is seen on the next start, also when the mtime is put back', async () => {
    const w = makeWorld();
    const file = install(w, '1.0.0');
    await startUntilRemembered(w, file);
    const before = statSync(file);
    writeManifest(w, '1.0.1');
    expect(statSync(file).size).toBe(before.size);
    expect(await versionOf(w)).toMatchObject({ state: 'active', version: '1.0.1' });

    await startUntilRemembered(w, file);
    // touch -r copies the timestamps to the nanosecond (Node's utimes takes seconds as a double).
    const saved = join(w.root, 'timestamps');
    write(saved, '');
    execFileSync('touch', ['-r', file, saved]);
    writeManifest(w, '1.0.2');
    execFileSync('touch', ['-r', saved, file]);
    const mtime = (f: string) => statSync(f, { bigint: true }).mtimeNs;
    expect(mtime(file)).toBe(mtime(saved));
    expect(await versionOf(w)).toMatchObject({ state: 'active', version: '1.0.2' });
  });

  test('a plugin.json broken after it was remembered is reported with its file, line and key, every start', async () => {
    const w = makeWorld();
    const file = install(w);
    await startUntilRemembered(w, file);
    write(file, readFileSync(file, 'utf8').replace('"version": "1.0.0"', '"version": "one"'));
    for (let i = 0; i < 2; i++) {
      const status = await versionOf(w);
      expect(status).toMatchObject({ state: 'failed', code: 'ICODE_ERR_MANIFEST_INVALID' });
      expect(status.reason).toContain(`${file}:3:3 (key "version")`);
    }
    expect(readCache(w).entries[file]).toBeUndefined();
  });

  test('a corrupt cache file is ignored and rewritten', async () => {
    const w = makeWorld();
    const file = install(w);
    await startUntilRemembered(w, file);
    write(cacheFile(w), '{"format": 1, "entries": {"');
    expect(await versionOf(w)).toMatchObject({ state: 'active', version: '1.0.0' });
    expect(readCache(w).entries[file]?.manifest.version).toBe('1.0.0');
  });

  test('a cache validated against another manifest schema (another icode) is not used', async () => {
    const w = makeWorld();
    const file = install(w);
    await startUntilRemembered(w, file);
    const cache = readCache(w);
    cache.entries[file]!.manifest.version = '9.9.9';
    cache.schema = 'another-icode';
    writeFileSync(cacheFile(w), JSON.stringify(cache));
    expect(await versionOf(w)).toMatchObject({ state: 'active', version: '1.0.0' });
    expect(readCache(w).schema).not.toBe('another-icode');
  });
});
