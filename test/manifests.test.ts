import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { IcodeError, loadHarnessManifest, parsePluginManifest } from '../kernel/index.ts';
import { builtinPlugins } from '../plugins/index.ts';
import { makeWorld, runCli, write } from './helpers.ts';
import { hasSandbox } from './programs.ts';

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

// The network switch is the sandbox's; without one, ci-fixer's commands ask before running at all.
const sandbox = await hasSandbox('the offline and sandboxed commands of the ci-fixer harness');

describe('the shipped compositions do what they say', () => {
  const verdict = async (w: ReturnType<typeof makeWorld>, manifest: string, ...query: string[]) => {
    const r = await runCli(['--manifest', join(root, 'manifests', manifest), 'check', ...query], {
      world: w,
    });
    return (JSON.parse(r.stdout) as { decision: string }).decision;
  };

  test('read-only-reviewer reads, and can change nothing: no write, no edit, no shell', async () => {
    const w = makeWorld();
    write(join(w.project, 'src', 'a.ts'), 'x');
    expect(await verdict(w, 'read-only-reviewer.json', 'path', '--op', 'read', '--', 'src/a.ts')).toBe(
      'allow',
    );
    expect(await verdict(w, 'read-only-reviewer.json', 'path', '--op', 'write', '--', 'src/a.ts')).toBe(
      'deny',
    );
    expect(await verdict(w, 'read-only-reviewer.json', 'path', '--op', 'edit', '--', 'src/a.ts')).toBe(
      'deny',
    );
    // It has no bash at all.
    expect(await verdict(w, 'read-only-reviewer.json', 'bash', '--', 'ls')).toBe('error');
  });

  test('ci-fixer edits and runs commands in the workspace, never pushes or reads .env', async () => {
    const w = makeWorld();
    write(join(w.project, 'src', 'a.ts'), 'x');
    write(join(w.project, '.env'), 'TOKEN=secret');
    expect(await verdict(w, 'ci-fixer.json', 'path', '--op', 'write', '--', 'src/a.ts')).toBe('allow');
    // Without a sandbox a command is not confined to the workspace: it needs full access, so it asks.
    expect(await verdict(w, 'ci-fixer.json', 'bash', '--', 'npm', 'test')).toBe(sandbox ? 'allow' : 'ask');
    expect(await verdict(w, 'ci-fixer.json', 'bash', '--', 'git', 'push', 'origin', 'main')).toBe('deny');
    expect(await verdict(w, 'ci-fixer.json', 'path', '--op', 'read', '--', '.env')).toBe('deny');
  });

  test.skipIf(!sandbox)(
    "ci-fixer's bash is offline; a setting gives the default harness's bash the network",
    async () => {
      const w = makeWorld();
      // A server on this machine's loopback: reachable only when a setting gives bash the network.
      const server = createServer((_, res) => res.end('hi')).listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as AddressInfo;
      const scenarios = join(w.root, 'scenarios');
      const probe = `node -e "fetch('http://127.0.0.1:${port}').then(() => console.log('ONLINE'), () => console.log('OFFLINE'))"`;
      write(join(scenarios, 'net_probe.json'), {
        name: 'net_probe',
        steps: [
          { content: [{ type: 'tool_use', name: 'bash', input: { command: probe } }] },
          { content: [{ type: 'text', text: '{{tool_results}}' }] },
        ],
      });
      try {
        const run = (...manifest: string[]) =>
          runCli(
            [
              ...manifest,
              '-p',
              'PARITY_SCENARIO:net_probe',
              '--mock',
              '--mock-scenarios',
              scenarios,
              '--permission-mode',
              'workspace-write',
            ],
            { world: w },
          );
        // Sandboxed commands have no network by default; a project can give the default harness's bash one.
        expect((await run()).stdout).toContain('OFFLINE');
        expect((await run('--manifest', join(root, 'manifests', 'ci-fixer.json'))).stdout).toContain(
          'OFFLINE',
        );
        write(join(w.project, '.icode', 'settings.json'), {
          plugins: { bash: { config: { network: true } } },
        });
        expect((await run()).stdout).toContain('ONLINE');
      } finally {
        server.close();
      }
    },
  );
});
