import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';
import { SDK_VERSION } from '../sdk/version.ts';
import { makeWorld, runCli, type World, write, writePlugin } from './helpers.ts';

/**
 * The host provides `icode/sdk` to every plugin it loads, as VS Code provides `vscode`: a plugin outside
 * the repository, with no node_modules (or with a copy of icode of its own), gets the running icode's SDK
 * module. Every world is a temporary folder outside the repository, so nothing resolves through it.
 */

/**
 * A plugin module that imports the SDK by `specifier` and registers `<name>_echo`; its zod, which it has
 * no copy of, is the host's too.
 */
const echoModule = (
  name: string,
  specifier = 'icode/sdk',
) => `import { definePlugin, defineTool } from '${specifier}';
import * as z from 'zod';

const anyInput = z.object({ text: z.string() });

export default definePlugin({
  activate(ctx) {
    ctx.tools.register(
      defineTool({
        name: '${name}_echo',
        description: 'Says the text back',
        input: anyInput,
        inputSchema: { type: 'object', properties: { text: { type: 'string' } } },
        mode: 'read-only',
        execute: ({ text }) => '${name} says ' + text,
      }),
    );
  },
});
`;

const echoManifest = (name: string) => ({
  name,
  version: '1.0.0',
  main: 'index.mjs',
  engines: { icode: '^0.1.0' },
  contributes: { tools: [{ name: `${name}_echo`, mode: 'read-only' }] },
});

/** The echo plugin in a folder of its own under the world, as a harness manifest's `path` names it. */
function sdkPlugin(w: World, name: string, specifier?: string): string {
  const dir = join(w.root, 'plugins', name);
  write(join(dir, 'plugin.json'), echoManifest(name));
  write(join(dir, 'index.mjs'), echoModule(name, specifier));
  return dir;
}

/** A copy of a package named icode in the plugin's own node_modules, whose SDK is not the host's. */
function ownIcodeCopy(dir: string): void {
  const copy = join(dir, 'node_modules', 'icode');
  write(join(copy, 'package.json'), {
    name: 'icode',
    version: '0.1.0',
    type: 'module',
    exports: { './sdk': './sdk.js' },
  });
  write(
    join(copy, 'sdk.js'),
    `export function definePlugin() { throw new Error("the plugin's own copy of icode/sdk was used"); }
export const defineTool = definePlugin;
export class IcodeError extends Error {}
export const ErrorCodes = { CONFIG_INVALID: 'FAKE_CONFIG_INVALID' };
`,
  );
}

function run(file: string, args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd }, (_error, stdout, stderr) => resolve({ stdout, stderr }));
  });
}

function harness(w: World, plugins: Array<{ name: string; path?: string }>): string {
  return write(join(w.root, 'harness.json'), { name: 'provided', plugins });
}

async function doctor(w: World, manifest: string) {
  const r = await runCli(['--manifest', manifest, 'doctor', '--json'], { world: w });
  return JSON.parse(r.stdout) as {
    plugins: Array<{ name: string; state: string; code?: string; reason?: string; fix?: string }>;
    tools: string[];
  };
}

describe('the host provides icode/sdk to the plugins it loads', () => {
  test('a plugin in a folder with no node_modules, loaded by path or installed, is active with its tool, and a headless run calls the tool', async () => {
    const w = makeWorld();
    const byPath = sdkPlugin(w, 'far');
    // Installed: resolved by name from ~/.icode/plugins/node_modules, where no icode is linked here.
    const installed = join(w.userDir, 'plugins', 'node_modules', 'near');
    write(join(installed, 'plugin.json'), echoManifest('near'));
    write(join(installed, 'index.mjs'), echoModule('near'));
    const manifest = harness(w, [
      { name: 'anthropic' },
      { name: 'session' },
      { name: 'workspace-guard' },
      { name: 'far', path: byPath },
      { name: 'near' },
    ]);

    const report = await doctor(w, manifest);
    expect(report.plugins.filter((p) => p.name === 'far' || p.name === 'near')).toEqual([
      expect.objectContaining({ name: 'far', state: 'active' }),
      expect.objectContaining({ name: 'near', state: 'active' }),
    ]);
    expect(report.tools).toEqual(expect.arrayContaining(['far_echo', 'near_echo']));

    const scenarios = join(w.root, 'scenarios');
    write(join(scenarios, 'echo.json'), {
      name: 'echo',
      steps: [
        {
          content: [
            { type: 'tool_use', name: 'far_echo', input: { text: 'hi' } },
            { type: 'tool_use', name: 'near_echo', input: { text: 'there' } },
          ],
        },
        { content: [{ type: 'text', text: 'Got: {{tool_results}}' }] },
      ],
    });
    const args = ['--manifest', manifest, '--mock', '--mock-scenarios', scenarios];
    const r = await runCli([...args, '-p', 'go PARITY_SCENARIO:echo', '--output-format', 'json'], {
      world: w,
    });
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.tool_results).toEqual([
      expect.objectContaining({ tool_name: 'far_echo', output: 'far says hi', is_error: false }),
      expect.objectContaining({ tool_name: 'near_echo', output: 'near says there', is_error: false }),
    ]);
  });

  test("the host's SDK wins over a copy of icode in the plugin's own node_modules, so an IcodeError it throws keeps its code and fix", async () => {
    const w = makeWorld();
    const shadowed = sdkPlugin(w, 'shadowed');
    ownIcodeCopy(shadowed);
    const strict = writePlugin(w, {
      name: 'strict',
      code: `import { definePlugin, ErrorCodes, IcodeError } from 'icode/sdk';
export default definePlugin({
  activate() {
    throw new IcodeError(ErrorCodes.CONFIG_INVALID, 'strict needs a token', 'set plugins.strict.config.token');
  },
});
`,
    });
    ownIcodeCopy(strict);
    const report = await doctor(
      w,
      harness(w, [
        { name: 'shadowed', path: shadowed },
        { name: 'strict', path: strict },
      ]),
    );
    expect(report.plugins).toEqual([
      expect.objectContaining({ name: 'shadowed', state: 'active' }),
      // The host tells its own IcodeError by instanceof: a copy's class would be ICODE_ERR_ACTIVATE_FAILED.
      expect.objectContaining({
        name: 'strict',
        state: 'failed',
        code: 'ICODE_ERR_CONFIG_INVALID',
        fix: 'set plugins.strict.config.token',
      }),
    ]);
    expect(report.tools).toEqual(['shadowed_echo']);
  });

  test('@icode/sdk, the scoped name, is the same SDK', async () => {
    const w = makeWorld();
    const report = await doctor(
      w,
      harness(w, [{ name: 'scoped', path: sdkPlugin(w, 'scoped', '@icode/sdk') }]),
    );
    expect(report.plugins).toEqual([expect.objectContaining({ name: 'scoped', state: 'active' })]);
    expect(report.tools).toEqual(['scoped_echo']);
  });

  test('a plugin whose package.json peer range on icode excludes this icode fails with ICODE_ERR_ENGINE_MISMATCH and the others still start', async () => {
    const w = makeWorld();
    const future = sdkPlugin(w, 'future');
    write(join(future, 'package.json'), {
      name: 'future',
      version: '1.0.0',
      type: 'module',
      peerDependencies: { icode: '^9.0.0' },
    });
    const report = await doctor(
      w,
      harness(w, [
        { name: 'future', path: future },
        { name: 'far', path: sdkPlugin(w, 'far') },
      ]),
    );
    expect(report.plugins).toEqual([
      expect.objectContaining({
        name: 'future',
        state: 'failed',
        code: 'ICODE_ERR_ENGINE_MISMATCH',
        reason: expect.stringContaining('needs icode/sdk ^9.0.0 (peerDependencies in'),
        fix: 'use a version of the plugin whose peerDependencies["icode"] includes 0.1.0',
      }),
      expect.objectContaining({ name: 'far', state: 'active' }),
    ]);
    expect(report.plugins[0]!.reason).toContain('this icode provides 0.1.0');
    expect(report.tools).toEqual(['far_echo']);
  });

  test("a peer range on @icode/sdk is checked against the SDK's own version, not icode's", async () => {
    const w = makeWorld();
    const fits = sdkPlugin(w, 'fits', '@icode/sdk');
    write(join(fits, 'package.json'), {
      name: 'fits',
      version: '1.0.0',
      type: 'module',
      peerDependencies: { '@icode/sdk': `^${SDK_VERSION}` },
    });
    const next = sdkPlugin(w, 'next', '@icode/sdk');
    write(join(next, 'package.json'), {
      name: 'next',
      version: '1.0.0',
      type: 'module',
      peerDependencies: { '@icode/sdk': '^2.0.0' },
    });
    const report = await doctor(
      w,
      harness(w, [
        { name: 'fits', path: fits },
        { name: 'next', path: next },
      ]),
    );
    expect(report.plugins).toEqual([
      expect.objectContaining({ name: 'fits', state: 'active' }),
      expect.objectContaining({
        name: 'next',
        state: 'failed',
        code: 'ICODE_ERR_ENGINE_MISMATCH',
        reason: expect.stringContaining(`needs @icode/sdk ^2.0.0 (peerDependencies in`),
        fix: `use a version of the plugin whose peerDependencies["@icode/sdk"] includes ${SDK_VERSION}`,
      }),
    ]);
  });

  test("a plugin author's test under node, on icode/sdk/testing, boots the plugin on the kit's own SDK module", async () => {
    const w = makeWorld();
    const dir = sdkPlugin(w, 'kit');
    write(join(dir, 'sdk.mjs'), "export { definePlugin, IcodeError } from 'icode/sdk';\n");
    ownIcodeCopy(dir);
    const dist = pathToFileURL(join(import.meta.dirname, '..', 'dist', 'sdk')).href;
    // What `node --test` runs for the author: the kit and the SDK from the built package, the plugin by path.
    const script = write(
      join(w.root, 'author.test.mjs'),
      `import { bootTestKernel } from '${dist}/testing.js';
import * as sdk from '${dist}/index.js';
const h = await bootTestKernel({ plugins: [${JSON.stringify(dir)}] });
const result = await h.callTool('kit_echo', { text: 'hi' });
const seen = await import(${JSON.stringify(pathToFileURL(join(dir, 'sdk.mjs')).href)});
await h.shutdown();
console.log(JSON.stringify({
  content: result.content,
  definePlugin: seen.definePlugin === sdk.definePlugin,
  IcodeError: seen.IcodeError === sdk.IcodeError,
}));
`,
    );
    const r = await run(process.execPath, [script], w.root);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ content: 'kit says hi', definePlugin: true, IcodeError: true });
  });
});
