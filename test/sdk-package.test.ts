import { execFile } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { SDK_VERSION } from '../sdk/version.ts';
import { makeWorld, mockTurn, runCli } from './helpers.ts';
import { startRegistry } from './registry.ts';

const root = join(import.meta.dirname, '..');
const sdkDir = join(root, 'sdk');
const run = promisify(execFile);

interface Packed {
  name: string;
  version: string;
  size: number;
  unpackedSize: number;
  files: Array<{ path: string; size: number }>;
}

describe('@icode/sdk, the SDK as a package of its own', () => {
  test('its version is the one the host checks plugins against; zod is its peer; it installs in under 5 MB', async () => {
    const pkg = JSON.parse(readFileSync(join(sdkDir, 'package.json'), 'utf8'));
    expect(pkg.name).toBe('@icode/sdk');
    expect(pkg.version).toBe(SDK_VERSION);
    expect(pkg.peerDependencies).toEqual({ zod: expect.any(String) });
    expect(readFileSync(join(sdkDir, 'CHANGELOG.md'), 'utf8')).toContain(`## ${SDK_VERSION} `);
    expect(existsSync(join(sdkDir, 'dist', 'index.js')), 'sdk/dist is built by `npm run build`').toBe(true);
    const [packed] = JSON.parse(
      (await run('npm', ['pack', '--dry-run', '--json', sdkDir], { cwd: tmpdir() })).stdout,
    ) as Packed[];
    const paths = packed!.files.map((f) => f.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'dist/index.js',
        'dist/testing.js',
        'dist/types/sdk/index.d.ts',
        'dist/types/sdk/testing.d.ts',
        'CHANGELOG.md',
        'README.md',
      ]),
    );
    // Sources stay out; only declarations and the bundles go in.
    expect(paths.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts'))).toEqual([]);
    // What installing it brings: the package and its dependencies (tapable), not the CLI.
    const deps = Object.keys(pkg.dependencies ?? {});
    expect(deps).toEqual(['tapable']);
    const tapable = await run('du', ['-sb', realpathSync(join(root, 'node_modules', 'tapable'))]);
    const install = packed!.unpackedSize + Number(tapable.stdout.split('\t')[0]);
    console.log(
      `@icode/sdk ${packed!.version}: ${packed!.files.length} files, ${(packed!.size / 1024).toFixed(0)} KiB packed, installs ${(install / 1024 / 1024).toFixed(2)} MiB with its dependencies`,
    );
    expect(install).toBeLessThan(5 * 1024 * 1024);
  }, 60_000);

  test('published to a real registry with a scaffolded plugin: outside the repo the scaffold installs and passes its test with no link to the checkout, icode installs it, the model calls its tool, disable removes it, and a refused upgrade leaves it working', async () => {
    expect(existsSync(join(sdkDir, 'dist', 'index.js')), 'sdk/dist is built by `npm run build`').toBe(true);
    const registry = await startRegistry();
    try {
      // The registry holds only what is published here: the SDK, its dependency and peer, and the
      // scaffold's build tools (TypeScript, Node's types), each from this checkout's node_modules (no
      // uplink, no other registry).
      for (const folder of [
        sdkDir,
        join(root, 'node_modules', 'zod'),
        join(root, 'node_modules', 'tapable'),
        join(root, 'node_modules', 'typescript'),
        join(root, 'node_modules', '@types', 'node'),
        join(root, 'node_modules', 'undici-types'),
      ])
        await registry.publish(folder);

      // The author's side, in a folder outside the repository.
      const author = mkdtempSync(join(tmpdir(), 'icode-author-'));
      expect(relative(root, author).startsWith('..')).toBe(true);
      const w = makeWorld();
      const name = 'icode-plugin-greet';
      const dir = join(author, name);
      const init = await runCli(['plugins', 'init', dir], { world: w });
      expect(init.code).toBe(0);
      const npmEnv = { ...process.env, ...registry.env };
      for (const key of Object.keys(npmEnv))
        if (key.startsWith('npm_package_') || key === 'INIT_CWD') delete npmEnv[key];
      await run('npm', ['install'], { cwd: dir, env: npmEnv });
      // A copy from the registry, not a link into the checkout; and no icode CLI pulled in.
      const sdk = join(dir, 'node_modules', '@icode', 'sdk');
      expect(lstatSync(sdk).isSymbolicLink()).toBe(false);
      expect(JSON.parse(readFileSync(join(sdk, 'package.json'), 'utf8')).version).toBe(SDK_VERSION);
      expect(existsSync(join(dir, 'node_modules', 'icode'))).toBe(false);
      expect(realpathSync(sdk).startsWith(root)).toBe(false);
      const tested = await run('npm', ['test'], { cwd: dir, env: npmEnv });
      expect(tested.stdout).toContain('# pass 1');
      expect(tested.stdout).toContain('# fail 0');
      // The build wrote the tools' schemas from the code into plugin.json: the scaffold's were already right.
      expect(tested.stdout).toContain('plugin.json: tools already up to date');
      await registry.publish(dir);

      // The user's side: install it from the registry and let the model call its tool.
      w.env.npm_config_registry = registry.url;
      w.env.npm_config_cache = registry.env.npm_config_cache!;
      const installed = await runCli(['plugins', 'install', name, '--yes'], { world: w });
      expect(installed.stderr).toBe('');
      expect(installed.stdout).toContain(`Installed ${name}@0.1.0`);
      const turn = () =>
        mockTurn(w, [
          { content: [{ type: 'tool_use', name: 'icode_plugin_greet_hello', input: { name: 'Ada' } }] },
          { content: [{ type: 'text', text: 'Said: {{tool_results}}' }] },
        ]);
      const first = await turn();
      expect(first).toMatchObject({
        is_error: false,
        tool_results: [{ tool_name: 'icode_plugin_greet_hello', is_error: false }],
      });
      expect(first.result).toContain('Hello, Ada!');

      const doctor = async () =>
        JSON.parse((await runCli(['doctor', '--json'], { world: w })).stdout) as {
          tools: string[];
          plugins: Array<{ name: string; state: string; activated: boolean }>;
        };
      const tools = async () => (await doctor()).tools;
      // Lazy: listed from its manifest, its code not loaded until the model calls the tool.
      const report = await doctor();
      expect(report.tools).toContain('icode_plugin_greet_hello');
      expect(report.plugins.find((p) => p.name === name)).toMatchObject({
        state: 'active',
        activated: false,
      });
      await runCli(['plugins', 'disable', name], { world: w });
      expect(await tools()).not.toContain('icode_plugin_greet_hello');
      await runCli(['plugins', 'enable', name], { world: w });
      expect(await tools()).toContain('icode_plugin_greet_hello');

      // Version 0.2.0 is built against an SDK this icode does not provide: the update is refused before
      // anything is swapped, and 0.1.0 keeps working.
      const pkgFile = join(dir, 'package.json');
      const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
      pkg.version = '0.2.0';
      pkg.peerDependencies['@icode/sdk'] = '^2.0.0';
      writeFileSync(pkgFile, JSON.stringify(pkg, null, 2));
      const manifestFile = join(dir, 'plugin.json');
      writeFileSync(
        manifestFile,
        JSON.stringify({ ...JSON.parse(readFileSync(manifestFile, 'utf8')), version: '0.2.0' }, null, 2),
      );
      await registry.publish(dir);
      const update = await runCli(['plugins', 'update', name, '--yes'], { world: w });
      expect(update.code).toBe(2);
      expect(update.stderr).toContain(
        `needs @icode/sdk ^2.0.0 (peerDependencies), this icode provides ${SDK_VERSION}`,
      );
      expect(JSON.parse(readFileSync(join(w.userDir, 'plugins', 'installed.json'), 'utf8'))[0]).toMatchObject(
        {
          name,
          version: '0.1.0',
        },
      );
      const after = await turn();
      expect(after).toMatchObject({ is_error: false });
      expect(after.result).toContain('Hello, Ada!');
    } finally {
      registry.stop();
    }
  }, 180_000);
});

describe('icode-sdk manifest: the tools of plugin.json written from the code', () => {
  const plugin = (w: ReturnType<typeof makeWorld>, describe_: string, manifest: object) => {
    const dir = join(w.root, 'plugin');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'plugin.json'), JSON.stringify(manifest, null, 2));
    writeFileSync(
      join(dir, 'index.mjs'),
      `import { definePlugin, defineTool } from '@icode/sdk';
import * as z from 'zod';
export default definePlugin({
  activate(ctx) {
    ctx.tools.register(defineTool({
      name: 'count_words',
      description: ${JSON.stringify(describe_)},
      input: z.object({ text: z.string(), max: z.number().int().optional() }),
      mode: 'read-only',
      execute: ({ text }) => String(text.split(/\\s+/).length),
    }));
  },
});
`,
    );
    return dir;
  };
  const base = {
    name: 'words',
    version: '1.0.0',
    main: 'index.mjs',
    engines: { icode: '^0.1.0' },
    activation: 'lazy',
    contributes: { tools: [{ name: 'count_words', mode: 'read-only' }] },
  };

  // The built command, in a process of its own, as a plugin's `npm run build` runs it.
  const manifest = async (dir: string) =>
    run(process.execPath, [join(sdkDir, 'dist', 'bin.js'), 'manifest', dir]).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        stdout: e.stdout,
        stderr: e.stderr,
      }),
    );

  test('a lazy manifest without schemas gets them, a changed description is written again, an unchanged one is left alone', async () => {
    const w = makeWorld();
    const dir = plugin(w, 'Counts words', base);
    expect((await manifest(dir)).stdout).toBe(`${join(dir, 'plugin.json')}: wrote count_words\n`);
    const written = JSON.parse(readFileSync(join(dir, 'plugin.json'), 'utf8'));
    expect(written.activation).toBe('lazy');
    expect(written.contributes.tools[0]).toEqual({
      name: 'count_words',
      mode: 'read-only',
      description: 'Counts words',
      inputSchema: {
        type: 'object',
        properties: { text: { type: 'string' }, max: expect.objectContaining({ type: 'integer' }) },
        required: ['text'],
      },
    });
    const before = statSync(join(dir, 'plugin.json')).mtimeMs;
    expect((await manifest(dir)).stdout).toContain('tools already up to date');
    expect(statSync(join(dir, 'plugin.json')).mtimeMs).toBe(before);
    plugin(w, 'Counts the words of a text', written);
    expect((await manifest(dir)).stdout).toContain('wrote count_words');
    expect(JSON.parse(readFileSync(join(dir, 'plugin.json'), 'utf8')).contributes.tools[0].description).toBe(
      'Counts the words of a text',
    );
    // A tool the code adds is added (with its fixed mode), one it no longer registers removed, and the
    // version follows package.json.
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'words', version: '1.1.0', type: 'module' }),
    );
    const now = JSON.parse(readFileSync(join(dir, 'plugin.json'), 'utf8'));
    now.contributes.tools.push({
      name: 'gone_tool',
      mode: 'read-only',
      description: 'x',
      inputSchema: { type: 'object' },
    });
    writeFileSync(join(dir, 'plugin.json'), JSON.stringify(now, null, 2));
    writeFileSync(
      join(dir, 'index.mjs'),
      `${readFileSync(join(dir, 'index.mjs'), 'utf8').replace(
        '  },\n});',
        "    ctx.tools.register(defineTool({ name: 'count_lines', description: 'Counts lines', input: z.object({ text: z.string() }), mode: 'read-only', execute: ({ text }) => String(text.split('\\n').length) }));\n  },\n});",
      )}`,
    );
    expect((await manifest(dir)).stdout).toBe(
      `${join(dir, 'plugin.json')}: version 1.0.0 -> 1.1.0 (from package.json); added count_lines; removed gone_tool (the code no longer registers them)\n`,
    );
    const synced = JSON.parse(readFileSync(join(dir, 'plugin.json'), 'utf8'));
    expect(synced.version).toBe('1.1.0');
    expect(synced.contributes.tools.map((t: { name: string; mode?: string }) => [t.name, t.mode])).toEqual([
      ['count_words', 'read-only'],
      ['count_lines', 'read-only'],
    ]);

    // The manifest is a valid lazy plugin now: icode lists the tool from it and runs it on first call.
    writeFileSync(
      join(w.project, '.icode', 'settings.json'),
      JSON.stringify({ permissions: { allow: ['count_words'] } }),
    );
    const harness = join(w.root, 'harness.json');
    writeFileSync(
      harness,
      JSON.stringify({ name: 'h', plugins: [{ name: 'mock-anthropic' }, { name: 'words', path: dir }] }),
    );
    const doctor = JSON.parse(
      (await runCli(['doctor', '--json', '--manifest', harness], { world: w })).stdout,
    );
    expect(doctor.plugins.find((p: { name: string }) => p.name === 'words')).toMatchObject({
      state: 'active',
      activated: false,
    });
    expect(doctor.tools).toContain('count_words');
  }, 60_000);

  test('a plugin that cannot start is an error naming why, and plugin.json is left as it was', async () => {
    const w = makeWorld();
    const dir = plugin(w, 'Counts words', base);
    writeFileSync(join(dir, 'index.mjs'), "throw new Error('no build here');\n");
    const text = readFileSync(join(dir, 'plugin.json'), 'utf8');
    const r = await manifest(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^icode-sdk: words does not start, so its tools cannot be read: .*no build here/,
    );
    expect(readFileSync(join(dir, 'plugin.json'), 'utf8')).toBe(text);
  }, 60_000);
});
