import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { nearest } from '../kernel/plugin-checks.ts';
import { boot, createKernel, makeWorld, runCli, type World, write, writePlugin } from './helpers.ts';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'dist', 'icode.cjs');

/** A tool as plugin code registers it, with the given name and mode. */
const tool = (name: string, mode: string) =>
  `ctx.tools.register({ name: '${name}', description: 'x', input: { safeParse: (v) => ({ success: true, data: v }) }, mode: ${mode}, execute: () => 'ran ${name}' });`;
const activating = (body: string) => `export default { activate(ctx) { ${body} } };\n`;

describe('the code is held to its manifest', () => {
  test('a tool registered with another mode than plugin.json declares fails its plugin with the difference; the others start', async () => {
    const w = makeWorld();
    const lying = writePlugin(w, {
      name: 'lying',
      contributes: { tools: [{ name: 'peek', mode: 'read-only' }] },
      code: activating(tool('peek', "'workspace-write'")),
    });
    const judged = writePlugin(w, {
      name: 'judged',
      contributes: { tools: [{ name: 'run', mode: 'workspace-write' }] },
      // A mode the input decides is not a static claim: nothing to compare.
      code: activating(tool('run', "() => 'read-only'")),
    });
    const { kernel, status } = await boot(w, {
      plugins: [
        { name: 'lying', path: lying },
        { name: 'judged', path: judged },
      ],
    });
    expect(status('lying')).toMatchObject({ state: 'failed', code: 'ICODE_ERR_UNDECLARED_CONTRIBUTION' });
    expect(status('lying').reason).toBe(
      'tool peek is read-only in plugin.json but workspace-write in the code',
    );
    expect(status('lying').fix).toContain('"mode"');
    expect(kernel.tools.has('peek')).toBe(false);
    expect(status('judged')).toMatchObject({ state: 'active', activated: true });
  });

  test('a tool name that differs from the declared one only by case is refused with the declared spelling', async () => {
    const w = makeWorld();
    const typo = writePlugin(w, {
      name: 'typo',
      contributes: { tools: [{ name: 'read_File' }] },
      code: activating(tool('read_file', "'read-only'")),
    });
    const { status } = await boot(w, { plugins: [{ name: 'typo', path: typo }] });
    expect(status('typo')).toMatchObject({ state: 'failed', code: 'ICODE_ERR_UNDECLARED_CONTRIBUTION' });
    expect(status('typo').reason).toBe(
      'plugin "typo" registers tool "read_file", which its plugin.json does not declare (it declares "read_File": the names must match exactly)',
    );
    expect(status('typo').fix).toBe(
      'use one spelling, "read_File" or "read_file", in both plugin.json and the code',
    );
  });

  test('a declared command the code registers under a near name (allowed by a dynamic prefix) is named in the failure', async () => {
    const w = makeWorld();
    const near = writePlugin(w, {
      name: 'near',
      contributes: { commands: [{ name: 'review' }], dynamicCommands: ['*'] },
      code: activating(`ctx.commands.register({ name: 'reveiw', description: 'x', run: () => 'ok' });`),
    });
    const { status } = await boot(w, { plugins: [{ name: 'near', path: near }] });
    expect(status('near')).toMatchObject({ state: 'failed', code: 'ICODE_ERR_CONTRIBUTION_MISSING' });
    expect(status('near').reason).toBe(
      'plugin.json declares command review (activate() registered "reveiw") but activate() did not register it',
    );
  });

  test("a lazy plugin's manifest stands in until first use; then a mode mismatch fails it and the call gets an is_error result", async () => {
    const w = makeWorld();
    const lazy = writePlugin(w, {
      name: 'lazy',
      activation: 'lazy',
      contributes: {
        tools: [{ name: 'peek', mode: 'read-only', description: 'Peek', inputSchema: { type: 'object' } }],
      },
      code: activating(tool('peek', "'danger-full-access'")),
    });
    const { kernel, status } = await boot(w, { plugins: [{ name: 'lazy', path: lazy }] });
    expect(status('lazy')).toMatchObject({ state: 'active', activated: false });
    const result = await kernel.callTool({ id: 't1', name: 'peek', input: {} });
    expect(result.isError).toBe(true);
    expect(result.content).toContain(
      'tool peek is read-only in plugin.json but danger-full-access in the code',
    );
    expect(kernel.host.statuses()[0]).toMatchObject({
      state: 'failed',
      code: 'ICODE_ERR_UNDECLARED_CONTRIBUTION',
    });
  });
});

describe('names that are not there speak up', () => {
  test('nearest suggests a plausible typo and nothing for an unrelated name', () => {
    expect(nearest('file-tool', ['file-tools', 'search'])).toBe('file-tools');
    expect(nearest('Read_File', ['read_file', 'write_file'])).toBe('read_file');
    expect(nearest('bsh', ['bash'])).toBe('bash');
    expect(nearest('ls', ['cd'])).toBeUndefined();
    expect(nearest('kubernetes', ['file-tools', 'search'])).toBeUndefined();
  });

  test('a harness entry that is neither built in nor installed suggests the nearest plugin', async () => {
    const w = makeWorld();
    const { status } = await boot(w, { plugins: ['file-tool'] });
    expect(status('file-tool')).toMatchObject({ state: 'failed', code: 'ICODE_ERR_PLUGIN_NOT_FOUND' });
    expect(status('file-tool').reason).toBe(
      'plugin "file-tool" is neither built in nor installed; did you mean "file-tools"?',
    );
    expect(status('file-tool').fix).toMatch(/^write "file-tools", or install it/);
  });

  test('a plugin listed twice is its own failed entry naming both lines; the first one runs', async () => {
    const w = makeWorld();
    const { report, kernel } = await boot(w, { plugins: ['search', 'file-tools', 'search'] });
    expect(report.plugins.map((p) => [p.name, p.state === 'failed' ? p.code : 'running'])).toEqual([
      ['search', 'running'],
      ['file-tools', 'running'],
      ['search', 'ICODE_ERR_DUPLICATE_PLUGIN'],
    ]);
    expect(report.plugins[2]!.reason).toBe(
      `plugin "search" is listed twice in the harness manifest (${join(w.root, 'harness.json')}:6); the first entry (line 4) is the one used`,
    );
    expect(kernel.tools.names()).toContain('glob_search');
  });

  test("settings that switch a plugin's parts warn at their line when nothing would honour them", async () => {
    const w = makeWorld();
    const file = write(
      join(w.project, '.icode', 'settings.json'),
      `{
  "plugins": {
    "file-tools": { "tools": { "glob_search": false, "read_fil": false, "Read": false, "read_file": true } },
    "serch": { "enabled": true },
    "tui": { "enabled": false },
    "search": { "hooks": { "afterToolCall": false }, "commands": { "find": false } },
    "dyn": { "tools": { "mcp__github__issues": false } }
  }
}
`,
    );
    const dyn = writePlugin(w, { name: 'dyn', contributes: { dynamicTools: ['mcp__'] } });
    const kernel = await createKernel(w, { plugins: ['file-tools', 'search', { name: 'dyn', path: dyn }] });
    const report = await kernel.inspect();
    expect(report.warnings.map((p) => `${p.location.line}: ${p.message}`)).toEqual([
      '3: glob_search belongs to plugin search: use plugins.search.tools.glob_search',
      '3: plugin "file-tools" has no tool "read_fil"; did you mean "read_file"?',
      '3: Read is an alias of read_file: use plugins.file-tools.tools.read_file',
      '4: no plugin "serch" in this harness, built in or installed; did you mean "search"?',
      '6: plugin "search" has no command "find" (it has no commands)',
      '6: plugin "search" has no hook "afterToolCall" (it has no hooks)',
    ]);
    expect(report.warnings.every((p) => p.location.file === file)).toBe(true);
  });

  test('an unused setting is warned about the same way by inspect (plugins list) and boot (doctor, -p)', async () => {
    const w = makeWorld();
    const config = { plugins: { 'file-tools': { tools: { grep_search: false } } } };
    const inspected = await (await createKernel(w, { plugins: ['file-tools', 'search'], config })).inspect();
    const { report } = await boot(w, { plugins: ['file-tools', 'search'], config });
    expect(report.warnings).toEqual(inspected.warnings);
    expect(report.warnings[0]!.message).toBe(
      'grep_search belongs to plugin search: use plugins.search.tools.grep_search',
    );
  });
});

describe('a harness that cannot reach a model', () => {
  test('sessions without a model provider are a harness problem with the fix; with one, or without sessions, there is none', async () => {
    const w = makeWorld();
    const without = await boot(w, { plugins: ['session', 'file-tools'] });
    expect(without.report.problems).toEqual([
      {
        code: 'ICODE_ERR_SERVICE_MISSING',
        message: 'no plugin provides the "model" service, so session cannot send a prompt to a model',
        fix: `add "anthropic" to "plugins" in ${join(w.root, 'harness.json')} (or a plugin that provides "model")`,
      },
    ]);
    await without.kernel.shutdown();
    const withModel = await boot(w, { plugins: ['anthropic', 'session'] });
    expect(withModel.report.problems).toEqual([]);
    await withModel.kernel.shutdown();
    expect((await boot(w, { plugins: ['file-tools'] })).report.problems).toEqual([]);
  });

  test('a model provider switched off in config is named as the reason', async () => {
    const w = makeWorld();
    const { report } = await boot(w, {
      plugins: ['anthropic', 'session'],
      config: { plugins: { anthropic: { enabled: false } } },
    });
    expect(report.problems).toEqual([
      expect.objectContaining({
        message: `the "model" service's plugin anthropic is disabled, so session cannot send a prompt to a model`,
        fix: 'fix or enable anthropic (see its entry)',
      }),
    ]);
  });
});

describe('the CLI says the same thing in plugins list, doctor and -p', () => {
  beforeAll(() => {
    // `npm test` builds first; a bare vitest run builds here so these tests never run a stale CLI.
    if (!existsSync(bin)) execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root });
  }, 120_000);

  const harness = (w: World, plugins: unknown[]) => write(join(w.root, 'h.json'), { name: 'mine', plugins });

  test('a plugin whose activation fails is "enabled, not activated" in plugins list, failed in doctor and on -p stderr', async () => {
    const w = makeWorld();
    const ran = join(w.root, 'ran.log');
    const broken = writePlugin(w, {
      name: 'broken',
      code: `import { writeFileSync } from 'node:fs';\nexport default { activate() { writeFileSync(${JSON.stringify(ran)}, 'x'); throw new Error('cannot start here'); } };\n`,
    });
    const manifest = harness(w, ['anthropic', 'session', { name: 'broken', path: broken }]);

    const list = await runCli(['--manifest', manifest, 'plugins', 'list'], { world: w });
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/\.\. broken 1\.0\.0 +enabled, not activated\n/);
    expect(list.stdout).not.toMatch(/broken 1\.0\.0 +active/);
    expect(list.stdout).toContain('icode doctor activates the plugins and checks them');
    expect(existsSync(ran)).toBe(false);

    const doctor = await runCli(['--manifest', manifest, 'doctor'], { world: w });
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(
      /XX broken 1\.0\.0 +failed ICODE_ERR_ACTIVATE_FAILED\n +activate\(\) threw: cannot start here/,
    );

    const scenarios = join(w.root, 'scenarios');
    write(join(scenarios, 'hi.json'), {
      name: 'hi',
      steps: [{ content: [{ type: 'text', text: 'hello' }] }],
    });
    const headless = await runCli(
      ['--manifest', manifest, '--mock', '--mock-scenarios', scenarios, '-p', 'PARITY_SCENARIO:hi'],
      { world: w },
    );
    expect(headless.stdout).toBe('hello\n');
    expect(headless.stderr).toContain('icode: plugin broken is failed: activate() threw: cannot start here');
  });

  test('a harness without a model provider: doctor reports it with the fix and -p exits 1 at once', async () => {
    const w = makeWorld();
    const manifest = harness(w, ['session', 'file-tools']);
    const doctor = await runCli(['--manifest', manifest, 'doctor'], { world: w });
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toContain(
      'XX harness: no plugin provides the "model" service, so session cannot send a prompt to a model ICODE_ERR_SERVICE_MISSING',
    );
    expect(doctor.stdout).toContain(`fix: add "anthropic" to "plugins" in ${manifest}`);
    const json = JSON.parse(
      (await runCli(['--manifest', manifest, 'doctor', '--json'], { world: w })).stdout,
    );
    expect(json.ok).toBe(false);
    expect(json.problems[0].code).toBe('ICODE_ERR_SERVICE_MISSING');

    const headless = await runCli(['--manifest', manifest, '-p', 'hello'], { world: w });
    expect(headless.code).toBe(1);
    expect(headless.stdout).toBe('');
    expect(headless.stderr).toBe(
      `icode: ICODE_ERR_SERVICE_MISSING: no plugin provides the "model" service, so session cannot send a prompt to a model\n  fix: add "anthropic" to "plugins" in ${manifest} (or a plugin that provides "model")\n`,
    );
  });

  test('a duplicate entry and a misplaced tool switch show in plugins list and doctor alike', async () => {
    const w = makeWorld();
    const manifest = harness(w, ['search', 'file-tools', 'search']);
    write(join(w.project, '.icode', 'settings.json'), {
      plugins: { 'file-tools': { tools: { glob_search: false } } },
    });
    for (const command of [['plugins', 'list'], ['doctor']]) {
      const r = await runCli(['--manifest', manifest, ...command], { world: w });
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/XX search 0\.1\.0 +failed ICODE_ERR_DUPLICATE_PLUGIN/);
      expect(r.stdout).toContain(
        '(key "plugins.file-tools.tools.glob_search"): glob_search belongs to plugin search: use plugins.search.tools.glob_search',
      );
    }
  });

  test('plugins enable/disable of an unknown name is refused with the nearest name, and nothing is written', async () => {
    const w = makeWorld();
    const r = await runCli(['plugins', 'enable', 'file-tool', '--scope', 'project'], { world: w });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'icode: no plugin "file-tool" in this harness, built in or installed; did you mean "file-tools"?\n',
    );
    expect(existsSync(join(w.project, '.icode', 'settings.json'))).toBe(false);
    const ok = await runCli(['plugins', 'disable', 'file-tools', '--scope', 'project'], { world: w });
    expect(ok.code).toBe(0);
    expect(readFileSync(join(w.project, '.icode', 'settings.json'), 'utf8')).toContain('"file-tools"');
  });
});
