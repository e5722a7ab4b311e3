import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { boot, loggingPlugin, makeWorld, write, writePlugin } from './helpers.ts';

describe('plugin host lifecycle', () => {
  test('a plugin whose engine range excludes this kernel is failed with ICODE_ERR_ENGINE_MISMATCH and the others still start', async () => {
    const w = makeWorld();
    const old = writePlugin(w, { name: 'old', engines: '^2.0.0' });
    const good = writePlugin(w, { name: 'good' });
    const { status } = await boot(w, {
      plugins: [
        { name: 'old', path: old },
        { name: 'good', path: good },
      ],
    });
    expect(status('old')).toMatchObject({ state: 'failed', code: 'ICODE_ERR_ENGINE_MISMATCH' });
    expect(status('old').reason).toContain('needs icode ^2.0.0, this is 0.1.0');
    expect(status('old').fix).toBeTruthy();
    expect(status('good')).toMatchObject({ state: 'active', activated: true });
  });

  test('a missing dependency fails the dependent with ICODE_ERR_DEPENDENCY_MISSING', async () => {
    const w = makeWorld();
    const a = writePlugin(w, { name: 'a', dependencies: { ghost: '^1.0.0' } });
    const { status } = await boot(w, { plugins: [{ name: 'a', path: a }] });
    expect(status('a')).toMatchObject({ state: 'failed', code: 'ICODE_ERR_DEPENDENCY_MISSING' });
    expect(status('a').reason).toContain('"ghost"');
  });

  test('a dependency outside the wanted range fails with ICODE_ERR_DEPENDENCY_RANGE', async () => {
    const w = makeWorld();
    const lib = writePlugin(w, { name: 'lib', version: '1.4.0' });
    const app = writePlugin(w, { name: 'app', dependencies: { lib: '^2.0.0' } });
    const { status } = await boot(w, {
      plugins: [
        { name: 'app', path: app },
        { name: 'lib', path: lib },
      ],
    });
    expect(status('app')).toMatchObject({ state: 'failed', code: 'ICODE_ERR_DEPENDENCY_RANGE' });
    expect(status('app').reason).toBe('needs lib@^2.0.0, found 1.4.0');
    expect(status('lib').state).toBe('active');
  });

  test('a dependency cycle is a clear error naming the cycle; plugins that need it are disabled', async () => {
    const w = makeWorld();
    const a = writePlugin(w, { name: 'a', dependencies: { b: '*' } });
    const b = writePlugin(w, { name: 'b', dependencies: { a: '*' } });
    const c = writePlugin(w, { name: 'c', dependencies: { a: '*' } });
    const d = writePlugin(w, { name: 'd' });
    const { status } = await boot(w, {
      plugins: ['a', 'b', 'c', 'd'].map((name, i) => ({ name, path: [a, b, c, d][i]! })),
    });
    expect(status('a')).toMatchObject({ state: 'failed', code: 'ICODE_ERR_DEPENDENCY_CYCLE' });
    expect(status('b')).toMatchObject({ state: 'failed', code: 'ICODE_ERR_DEPENDENCY_CYCLE' });
    expect(status('a').reason).toBe('dependency cycle: a → b → a');
    expect(status('c')).toMatchObject({ state: 'disabled', reason: 'dependency "a" is failed' });
    expect(status('d').state).toBe('active');
  });

  test('plugins activate in dependency order and deactivate in reverse', async () => {
    const w = makeWorld();
    const log = join(w.root, 'order.log');
    const paths = {
      ui: writePlugin(w, {
        name: 'ui',
        dependencies: { core: '^1.0.0', model: '^1.0.0' },
        code: loggingPlugin(log),
      }),
      model: writePlugin(w, { name: 'model', dependencies: { core: '^1.0.0' }, code: loggingPlugin(log) }),
      core: writePlugin(w, { name: 'core', code: loggingPlugin(log) }),
    };
    const { kernel } = await boot(w, {
      plugins: Object.entries(paths).map(([name, path]) => ({ name, path })),
    });
    await kernel.shutdown();
    await kernel.shutdown();
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([
      'activate core',
      'activate model',
      'activate ui',
      'deactivate ui',
      'deactivate model',
      'deactivate core',
    ]);
  });

  test('activate that throws fails that plugin only, and what it registered is rolled back', async () => {
    const w = makeWorld();
    const bad = writePlugin(w, {
      name: 'bad',
      contributes: { tools: [{ name: 'half' }] },
      code: `export default { activate(ctx) {
        ctx.tools.register({ name: 'half', description: 'x', input: { safeParse: (v) => ({ success: true, data: v }) }, mode: 'read-only', execute: () => 'x' });
        throw new Error('database unreachable');
      } };`,
    });
    const good = writePlugin(w, { name: 'good' });
    const { kernel, status } = await boot(w, {
      plugins: [
        { name: 'bad', path: bad },
        { name: 'good', path: good },
      ],
    });
    expect(status('bad')).toMatchObject({ state: 'failed', code: 'ICODE_ERR_ACTIVATE_FAILED' });
    expect(status('bad').reason).toContain('database unreachable');
    expect(kernel.tools.has('half')).toBe(false);
    expect(status('good').state).toBe('active');
  });

  test('activate that hangs is failed with ICODE_ERR_ACTIVATE_TIMEOUT after its timeout, and boot goes on', async () => {
    const w = makeWorld();
    const slow = writePlugin(w, {
      name: 'slow',
      timeoutMs: 150,
      code: 'export default { activate(ctx) { return new Promise((r) => ctx.signal.addEventListener("abort", r)); } };',
    });
    const good = writePlugin(w, { name: 'good' });
    const started = Date.now();
    const { status } = await boot(w, {
      plugins: [
        { name: 'slow', path: slow },
        { name: 'good', path: good },
      ],
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(status('slow')).toMatchObject({ state: 'failed', code: 'ICODE_ERR_ACTIVATE_TIMEOUT' });
    expect(status('slow').reason).toContain('150 ms');
    expect(status('good').state).toBe('active');
  });

  test('a plugin that reports degraded keeps working and says why and how to fix it', async () => {
    const w = makeWorld();
    const lsp = writePlugin(w, {
      name: 'lsp',
      code: `export default { activate(ctx) { ctx.health.degraded('pyright not found', 'npm i -g pyright'); } };`,
    });
    const { status } = await boot(w, { plugins: [{ name: 'lsp', path: lsp }] });
    expect(status('lsp')).toMatchObject({
      state: 'degraded',
      reason: 'pyright not found',
      fix: 'npm i -g pyright',
      activated: true,
    });
  });

  test('project config disables a plugin, naming the file and line; plugins that need it are disabled too', async () => {
    const w = makeWorld();
    const settings = write(
      join(w.project, '.icode', 'settings.json'),
      '{\n  "plugins": {\n    "core": { "enabled": false }\n  }\n}\n',
    );
    const core = writePlugin(w, { name: 'core' });
    const ext = writePlugin(w, { name: 'ext', dependencies: { core: '^1' } });
    const { status } = await boot(w, {
      plugins: [
        { name: 'core', path: core },
        { name: 'ext', path: ext },
      ],
    });
    expect(status('core')).toMatchObject({ state: 'disabled', reason: `disabled by config (${settings}:3)` });
    expect(status('ext')).toMatchObject({ state: 'disabled', reason: 'dependency "core" is disabled' });
  });

  test('a malformed plugin.json is failed with ICODE_ERR_MANIFEST_INVALID naming file and line', async () => {
    const w = makeWorld();
    const broken = writePlugin(w, {
      name: 'broken',
      manifestText: '{\n  "name": "broken",\n  "version": "1.0.0"\n  "main": "x.js"\n}\n',
    });
    const wrongType = writePlugin(w, {
      name: 'typed',
      manifestText: '{\n  "name": "typed",\n  "version": "one",\n  "engines": { "icode": "*" }\n}\n',
    });
    const { status } = await boot(w, {
      plugins: [
        { name: 'broken', path: broken },
        { name: 'typed', path: wrongType },
      ],
    });
    expect(status('broken')).toMatchObject({ state: 'failed', code: 'ICODE_ERR_MANIFEST_INVALID' });
    expect(status('broken').reason).toContain(`${join(broken, 'plugin.json')}:4:3`);
    expect(status('broken').reason).toContain('comma');
    expect(status('typed').reason).toContain(`${join(wrongType, 'plugin.json')}:3:3 (key "version")`);
    expect(status('typed').reason).toContain('semver');
  });

  test('a plugin whose "main" leaves its folder is refused before any code runs', async () => {
    const w = makeWorld();
    const escaper = writePlugin(w, {
      name: 'escape',
      manifestText: JSON.stringify({
        name: 'escape',
        version: '1.0.0',
        main: '../../evil.mjs',
        engines: { icode: '*' },
      }),
    });
    const { status } = await boot(w, { plugins: [{ name: 'escape', path: escaper }] });
    expect(status('escape')).toMatchObject({ state: 'failed', code: 'ICODE_ERR_MANIFEST_INVALID' });
    expect(status('escape').reason).toContain('leaves the plugin folder');
  });

  test('registering a tool the manifest does not declare fails with ICODE_ERR_UNDECLARED_CONTRIBUTION', async () => {
    const w = makeWorld();
    const sneaky = writePlugin(w, {
      name: 'sneaky',
      code: `export default { activate(ctx) { ctx.tools.register({ name: 'hidden', description: '', input: {}, mode: 'read-only', execute: () => '' }); } };`,
    });
    const { status } = await boot(w, { plugins: [{ name: 'sneaky', path: sneaky }] });
    expect(status('sneaky')).toMatchObject({ state: 'failed', code: 'ICODE_ERR_UNDECLARED_CONTRIBUTION' });
  });

  test('a plugin that declares a tool it never registers fails with ICODE_ERR_CONTRIBUTION_MISSING', async () => {
    const w = makeWorld();
    const liar = writePlugin(w, {
      name: 'liar',
      contributes: { tools: [{ name: 'ghost' }], commands: [{ name: 'boo' }] },
    });
    const { status, kernel } = await boot(w, { plugins: [{ name: 'liar', path: liar }] });
    expect(status('liar')).toMatchObject({ state: 'failed', code: 'ICODE_ERR_CONTRIBUTION_MISSING' });
    expect(status('liar').reason).toBe(
      'plugin.json declares tool ghost, command boo but activate() did not register it',
    );
    expect(kernel.tools.names()).toEqual([]);
  });

  test('a plugin listed that is neither built in nor installed fails with ICODE_ERR_PLUGIN_NOT_FOUND', async () => {
    const w = makeWorld();
    const { status } = await boot(w, { plugins: ['nowhere'] });
    expect(status('nowhere')).toMatchObject({ state: 'failed', code: 'ICODE_ERR_PLUGIN_NOT_FOUND' });
  });

  test('a plugin installed in the user plugin folder is found by name', async () => {
    const w = makeWorld();
    write(join(w.userDir, 'plugins', 'node_modules', 'extra', 'plugin.json'), {
      name: 'extra',
      version: '2.1.0',
      main: 'index.mjs',
      engines: { icode: '>=0.1.0' },
    });
    write(
      join(w.userDir, 'plugins', 'node_modules', 'extra', 'index.mjs'),
      'export default { activate() {} };',
    );
    const { status } = await boot(w, { plugins: [{ name: 'extra', version: '^2' }] });
    expect(status('extra')).toMatchObject({ state: 'active', version: '2.1.0' });
  });

  test('plugin config is validated by the plugin schema; a bad value names the settings file and line', async () => {
    const w = makeWorld();
    const settings = write(
      join(w.project, '.icode', 'settings.json'),
      '{\n  "plugins": {\n    "workspace-guard": {\n      "config": { "protectedPaths": "all" }\n    }\n  }\n}\n',
    );
    const { status } = await boot(w, { plugins: ['workspace-guard', 'file-tools'] });
    expect(status('workspace-guard')).toMatchObject({ state: 'failed', code: 'ICODE_ERR_CONFIG_INVALID' });
    expect(status('workspace-guard').reason).toContain(
      `${settings}:4:19 (key "plugins.workspace-guard.config.protectedPaths")`,
    );
    expect(status('file-tools').state).toBe('active');
  });
});

describe('lazy activation', () => {
  test('a lazy plugin is not loaded at boot; the first call of its tool activates it', async () => {
    const w = makeWorld();
    const log = join(w.root, 'lazy.log');
    const lazy = writePlugin(w, {
      name: 'lazy',
      activation: 'lazy',
      contributes: {
        tools: [
          {
            name: 'echo',
            description: 'Echo text',
            inputSchema: { type: 'object', properties: { text: { type: 'string' } } },
          },
        ],
      },
      code: loggingPlugin(
        log,
        `ctx.tools.register({ name: 'echo', description: 'Echo text', input: { safeParse: (v) => ({ success: true, data: v }) }, mode: 'read-only', execute: ({ text }) => 'echo ' + text });`,
      ),
    });
    const { kernel, status } = await boot(w, { plugins: [{ name: 'lazy', path: lazy }] });
    expect(status('lazy')).toMatchObject({ state: 'active', activated: false });
    expect((await kernel.tools.definitions()).map((d) => d.name)).toEqual(['echo']);
    expect(() => readFileSync(log)).toThrow();
    const result = await kernel.callTool({ id: 't1', name: 'echo', input: { text: 'hi' } });
    expect(result).toMatchObject({ content: 'echo hi', isError: false });
    expect(readFileSync(log, 'utf8')).toBe('activate lazy\n');
    expect(kernel.host.statuses()[0]).toMatchObject({ activated: true });
  });

  test('a lazy plugin whose module is not there (a folder not built yet) is failed at boot, saying to build it', async () => {
    const { rmSync } = await import('node:fs');
    const w = makeWorld();
    const lazy = writePlugin(w, {
      name: 'lazy',
      activation: 'lazy',
      contributes: {
        tools: [{ name: 'echo', description: 'Echo text', inputSchema: { type: 'object' } }],
      },
    });
    rmSync(join(lazy, 'index.mjs'));
    const { kernel, status } = await boot(w, { plugins: [{ name: 'lazy', path: lazy }] });
    expect(status('lazy')).toMatchObject({
      state: 'failed',
      code: 'ICODE_ERR_LOAD_FAILED',
      reason: 'index.mjs does not exist',
      fix: 'build the plugin (npm run build in its folder), or install it again',
    });
    expect(kernel.tools.names()).toEqual([]);
  });

  test('a lazy plugin that fails to activate answers its tool call with an is_error result', async () => {
    const w = makeWorld();
    const lazy = writePlugin(w, {
      name: 'lazy',
      activation: 'lazy',
      contributes: { tools: [{ name: 'boom', description: 'x', inputSchema: { type: 'object' } }] },
      code: `export default { activate() { throw new Error('no config'); } };`,
    });
    const { kernel } = await boot(w, { plugins: [{ name: 'lazy', path: lazy }] });
    const result = await kernel.callTool({ id: 't1', name: 'boom', input: {} });
    expect(result.isError).toBe(true);
    expect(result.content).toContain('no config');
    expect(kernel.host.statuses()[0]).toMatchObject({ state: 'failed', code: 'ICODE_ERR_ACTIVATE_FAILED' });
  });
});
