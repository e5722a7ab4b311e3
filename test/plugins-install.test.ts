import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { makeWorld, runCli } from './helpers.ts';

const fixture = (name: string) => join(import.meta.dirname, 'fixtures', 'installable', name);
const tools = async (w: ReturnType<typeof makeWorld>) =>
  (JSON.parse((await runCli(['doctor', '--json'], { world: w })).stdout) as { tools: string[] }).tools;

describe('icode plugins install | disable | enable | uninstall (real npm, isolated folder)', () => {
  test('a plugin is packed, installed under ~/.icode/plugins, checked, switched on, off and removed', async () => {
    const w = makeWorld();
    const refused = await runCli(['plugins', 'install', fixture('echo')], { world: w });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('asks for process.spawn');
    expect(refused.stderr).toContain('--yes');

    const installed = await runCli(['plugins', 'install', fixture('echo'), '--yes'], { world: w });
    expect(installed.stdout).toContain('Installed icode-plugin-echo@1.2.0');
    expect(existsSync(join(w.userDir, 'plugins', 'node_modules', 'icode-plugin-echo', 'plugin.json'))).toBe(
      true,
    );
    expect(existsSync(join(w.project, 'node_modules'))).toBe(false); // the project is never touched
    const record = JSON.parse(readFileSync(join(w.userDir, 'plugins', 'installed.json'), 'utf8'));
    expect(record[0]).toMatchObject({
      name: 'icode-plugin-echo',
      version: '1.2.0',
      capabilities: ['process.spawn'],
      integrity: expect.stringMatching(/^sha512-/),
    });
    expect(await tools(w)).toContain('echo_back');

    await runCli(['plugins', 'disable', 'icode-plugin-echo', '--scope', 'project'], { world: w });
    expect(await tools(w)).not.toContain('echo_back');
    const listed = (await runCli(['plugins', 'list'], { world: w })).stdout;
    expect(listed).toMatch(
      /icode-plugin-echo: installed with icode plugins install; disabled by project \(.*settings\.json:\d+\)/,
    );
    await runCli(['plugins', 'enable', 'icode-plugin-echo', '--scope', 'project'], { world: w });
    expect(await tools(w)).toContain('echo_back');

    const removed = await runCli(['plugins', 'uninstall', 'icode-plugin-echo'], { world: w });
    expect(removed.stdout).toContain('Uninstalled icode-plugin-echo.');
    expect(await tools(w)).not.toContain('echo_back');
  }, 60_000);

  test('an incompatible engines range is refused with what would fix it, and nothing stays installed', async () => {
    const w = makeWorld();
    const r = await runCli(['plugins', 'install', fixture('future')], { world: w });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('needs icode ^9.0.0, this is 0.1.0');
    expect(r.stderr).toContain('whose engines.icode includes 0.1.0');
    expect(existsSync(join(w.userDir, 'plugins', 'node_modules', 'icode-plugin-future'))).toBe(false);
  }, 60_000);
});

test('icode plugins init scaffolds a plugin package that builds and passes its own test', async () => {
  const { readPluginFolder } = await import('../kernel/index.ts');
  const w = makeWorld();
  const r = await runCli(['plugins', 'init', 'git-helper'], { world: w });
  expect(r.stdout).toContain('Created 6 files');
  const dir = join(w.project, 'git-helper');
  expect(readPluginFolder(dir).manifest.contributes.tools[0]?.name).toBe('git_helper_hello');
  expect(readFileSync(join(dir, 'test', 'plugin.test.mjs'), 'utf8')).toContain("from 'icode/sdk/testing'");
  expect((await runCli(['plugins', 'init', 'git-helper'], { world: w })).stderr).toContain('already exists');
  // The scaffold is real: it compiles (strict) and its test passes against this icode's SDK.
  const { execFileSync } = await import('node:child_process');
  const { mkdirSync, symlinkSync } = await import('node:fs');
  const root = join(import.meta.dirname, '..');
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'icode'));
  for (const dep of ['zod', 'typescript'])
    symlinkSync(join(root, 'node_modules', dep), join(dir, 'node_modules', dep));
  execFileSync(process.execPath, [join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir]);
  const out = execFileSync(process.execPath, ['--test', join(dir, 'test')], { encoding: 'utf8', cwd: dir });
  expect(out).toContain('# pass 1');
}, 60_000);

test('installed from an npm registry over loopback, the plugin serves a model turn; disabled, its tool is gone', async () => {
  const { execFileSync } = await import('node:child_process');
  const { createHash } = await import('node:crypto');
  const { createServer } = await import('node:http');
  const { mkdtempSync, writeFileSync: write_, mkdirSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  // A registry that real npm installs from: the read side of the npm registry API (a packument and a
  // tarball) on loopback. (verdaccio was the plan; its dependencies do not install from this machine's
  // registry mirror.)
  const packDir = mkdtempSync(join(tmpdir(), 'icode-registry-'));
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', fixture('echo'), '--json', '--pack-destination', packDir], {
      encoding: 'utf8',
    }),
  ) as Array<{ filename: string }>;
  const tarball = readFileSync(join(packDir, packed!.filename));
  const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
  const shasum = createHash('sha1').update(tarball).digest('hex');
  const server = createServer((req, res) => {
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    if (req.url === '/icode-plugin-echo') {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          name: 'icode-plugin-echo',
          'dist-tags': { latest: '1.2.0' },
          versions: {
            '1.2.0': {
              name: 'icode-plugin-echo',
              version: '1.2.0',
              dist: { tarball: `${url}/icode-plugin-echo/-/${packed!.filename}`, integrity, shasum },
            },
          },
        }),
      );
    } else if (req.url?.endsWith('.tgz')) res.end(tarball);
    else res.writeHead(404).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const registry = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  try {
    const w = makeWorld();
    w.env.npm_config_registry = registry;
    const installed = await runCli(['plugins', 'install', 'icode-plugin-echo', '--yes'], { world: w });
    expect(installed.stdout).toContain('Installed icode-plugin-echo@1.2.0');
    const record = JSON.parse(readFileSync(join(w.userDir, 'plugins', 'installed.json'), 'utf8'));
    expect(record[0]).toMatchObject({ spec: 'icode-plugin-echo', integrity });
    // A model turn that uses the installed plugin's tool, on the embedded mock API.
    const scenarios = mkdtempSync(join(tmpdir(), 'icode-installed-scenario-'));
    mkdirSync(scenarios, { recursive: true });
    write_(
      join(scenarios, 'installed_plugin_roundtrip.json'),
      JSON.stringify({
        name: 'installed_plugin_roundtrip',
        steps: [
          { content: [{ type: 'tool_use', name: 'echo_back', input: { text: 'from npm' } }] },
          { content: [{ type: 'text', text: 'It said {{tool_results}}' }] },
        ],
      }),
    );
    const turn = await runCli(
      [
        '-p',
        '--mock',
        '--mock-scenarios',
        scenarios,
        '--output-format',
        'json',
        'Echo. PARITY_SCENARIO:installed_plugin_roundtrip',
      ],
      { world: w },
    );
    expect(JSON.parse(turn.stdout).error).toBeUndefined();
    expect(JSON.parse(turn.stdout)).toMatchObject({ is_error: false, result: 'It said {"text":"from npm"}' });
    await runCli(['plugins', 'disable', 'icode-plugin-echo'], { world: w });
    expect(await tools(w)).not.toContain('echo_back');
    expect((await runCli(['plugins', 'uninstall', 'icode-plugin-echo'], { world: w })).code).toBe(0);
  } finally {
    server.close();
  }
}, 60_000);
