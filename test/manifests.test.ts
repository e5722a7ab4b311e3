import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { IcodeError, loadHarnessManifest, parsePluginManifest } from '../kernel/index.ts';
import { builtinPlugins } from '../plugins/index.ts';
import { makeWorld, write } from './helpers.ts';

const root = join(import.meta.dirname, '..');

describe('harness manifests', () => {
  test.each(readdirSync(join(root, 'manifests')))(
    'manifests/%s is valid and names only built-in plugins',
    (file) => {
      const m = loadHarnessManifest(join(root, 'manifests', file));
      expect(m.warnings).toEqual([]);
      const names = builtinPlugins.map((b) => (b.manifest as { name: string }).name);
      for (const p of m.plugins) expect(names).toContain(p.name);
    },
  );

  test('every built-in plugin manifest is valid', () => {
    for (const b of builtinPlugins) {
      expect(parsePluginManifest(JSON.stringify(b.manifest), b.file).warnings).toEqual([]);
    }
  });

  test('malformed JSON in a harness manifest names the file and line', () => {
    const w = makeWorld();
    const file = write(join(w.root, 'h.json'), '{\n  "name": "x",\n  "plugins": [\n    "a",\n  ]\n}\n');
    expect(() => loadHarnessManifest(file)).toThrowError(IcodeError);
    try {
      loadHarnessManifest(file);
    } catch (e) {
      expect((e as IcodeError).code).toBe('ICODE_ERR_MANIFEST_INVALID');
      expect((e as IcodeError).location).toMatchObject({ file, line: 5, column: 3 });
    }
  });

  test('a wrong type in a harness manifest names the key', () => {
    const w = makeWorld();
    const file = write(
      join(w.root, 'h.json'),
      '{\n  "name": "x",\n  "plugins": [{ "name": "a", "version": "not a range" }]\n}\n',
    );
    try {
      loadHarnessManifest(file);
      expect.unreachable();
    } catch (e) {
      expect((e as IcodeError).describe()).toContain(`${file}:3:30 (key "plugins.0.version")`);
      expect((e as IcodeError).message).toContain('semver range');
    }
  });

  test('plugin paths in a harness manifest are relative to the manifest', () => {
    const w = makeWorld();
    const file = write(join(w.root, 'sub', 'h.json'), {
      name: 'x',
      plugins: [{ name: 'a', path: '../plugins/a' }],
    });
    expect(loadHarnessManifest(file).plugins[0]).toEqual({
      name: 'a',
      version: '*',
      path: join(w.root, 'plugins', 'a'),
    });
  });

  test('a lazy plugin must declare its tool schemas in the manifest', () => {
    const text = JSON.stringify({
      name: 'lazy',
      version: '1.0.0',
      engines: { icode: '*' },
      activation: 'lazy',
      contributes: { tools: [{ name: 't' }] },
    });
    expect(() => parsePluginManifest(text, 'plugin.json')).toThrowError(/description and an inputSchema/);
  });

  test('unknown keys in a plugin manifest warn instead of failing, so newer plugins keep loading', () => {
    const text = '{ "name": "p", "version": "1.0.0", "engines": { "icode": "*" }, "futureField": 1 }';
    expect(parsePluginManifest(text, 'plugin.json').warnings[0]?.message).toBe('unknown key "futureField"');
  });
});
