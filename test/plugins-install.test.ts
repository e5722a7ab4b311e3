import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { makeWorld, mockTurn, runCli } from './helpers.ts';
import { startRegistry } from './registry.ts';

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
    // No empty entry is left behind to warn on every run.
    expect(readFileSync(join(w.project, '.icode', 'settings.json'), 'utf8')).not.toContain(
      'icode-plugin-echo',
    );
    expect(await tools(w)).not.toContain('echo_back');
  }, 60_000);

  test('a git URL installs like a package (a local repository over git+file)', async () => {
    const { cpSync, mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { execFileSync } = await import('node:child_process');
    const repo = mkdtempSync(join(tmpdir(), 'icode-plugin-repo-'));
    cpSync(fixture('echo'), repo, { recursive: true });
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: repo });
    git('init', '-q');
    git('add', '.');
    git('commit', '-q', '-m', 'plugin');
    const w = makeWorld();
    const r = await runCli(['plugins', 'install', `git+file://${repo}`, '--yes'], { world: w });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('Installed icode-plugin-echo@1.2.0');
    expect(await tools(w)).toContain('echo_back');
  }, 60_000);

  test('a plugin folder with no package.json (command tools, no code) installs from the folder, and its tools run', async () => {
    const w = makeWorld();
    const shell = join(import.meta.dirname, 'fixtures', 'shell-tools');
    const r = await runCli(['plugins', 'install', shell, '--yes'], { world: w });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('Installed shell-tools@1.0.0');
    expect(existsSync(join(shell, 'package.json'))).toBe(false); // the author's folder is left as it was
    expect(await tools(w)).toContain('shout_sh');
    const turn = await mockTurn(w, [
      { content: [{ type: 'tool_use', name: 'shout_sh', input: { text: 'hi' } }] },
      { content: [{ type: 'text', text: '{{tool_results}}' }] },
    ]);
    expect(turn).toMatchObject({
      is_error: false,
      tool_results: [{ tool_name: 'shout_sh', is_error: false }],
    });
    expect(turn.result).toContain('HI');
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
  expect(readFileSync(join(dir, 'test', 'plugin.test.mjs'), 'utf8')).toContain("from '@icode/sdk/testing'");
  expect((await runCli(['plugins', 'init', 'git-helper'], { world: w })).stderr).toContain('already exists');
  // The scaffold is real: it compiles (strict) and its test passes against this checkout's SDK package
  // (test/sdk-package.test.ts installs it from a registry instead, with no link to the checkout).
  const { execFileSync } = await import('node:child_process');
  const { mkdirSync, symlinkSync } = await import('node:fs');
  const root = join(import.meta.dirname, '..');
  mkdirSync(join(dir, 'node_modules', '@icode'), { recursive: true });
  symlinkSync(join(root, 'sdk'), join(dir, 'node_modules', '@icode', 'sdk'));
  for (const dep of ['zod', 'typescript', 'tapable'])
    symlinkSync(join(root, 'node_modules', dep), join(dir, 'node_modules', dep));
  execFileSync(process.execPath, [join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir]);
  const out = execFileSync(process.execPath, ['--test', join(dir, 'test')], { encoding: 'utf8', cwd: dir });
  expect(out).toContain('# pass 1');
  // The manifest the scaffold writes is what the SDK's build step reads from the code.
  const declared = execFileSync(process.execPath, [join(root, 'sdk', 'dist', 'bin.js'), 'manifest', dir], {
    encoding: 'utf8',
  });
  expect(declared).toContain('tools already up to date');
}, 60_000);

test('published to a real npm registry (verdaccio) on loopback, the example git plugin installs, serves a model turn, and can be disabled and removed', async () => {
  const { execFileSync } = await import('node:child_process');
  const registry = await startRegistry();
  try {
    const example = join(import.meta.dirname, '..', 'examples', 'plugins', 'git');
    await registry.publish(example);
    const w = makeWorld();
    w.env.npm_config_registry = registry.url;
    const installed = await runCli(['plugins', 'install', 'icode-plugin-git', '--yes'], { world: w });
    expect(installed.stdout).toContain('Installed icode-plugin-git@0.1.0');
    expect(JSON.parse(readFileSync(join(w.userDir, 'plugins', 'installed.json'), 'utf8'))[0]).toMatchObject({
      spec: 'icode-plugin-git',
      integrity: expect.stringMatching(/^sha512-/),
      capabilities: ['process.spawn'],
    });
    // A model turn on the embedded mock API that calls the installed plugin's tool in a git repository.
    execFileSync('git', ['init', '-q'], { cwd: w.project });
    const result = await mockTurn(w, [
      { content: [{ type: 'tool_use', name: 'GitStatus', input: {} }] },
      { content: [{ type: 'text', text: 'Status: {{tool_results}}' }] },
    ]);
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({
      is_error: false,
      tool_results: [{ tool_name: 'GitStatus', is_error: false }],
    });
    expect(result.result).toMatch(/^Status: ## No commits yet on /);
    await runCli(['plugins', 'disable', 'icode-plugin-git'], { world: w });
    expect(await tools(w)).not.toContain('GitStatus');
    expect((await runCli(['plugins', 'uninstall', 'icode-plugin-git'], { world: w })).code).toBe(0);
    expect(await tools(w)).not.toContain('GitStatus');
  } finally {
    registry.stop();
  }
}, 60_000);
