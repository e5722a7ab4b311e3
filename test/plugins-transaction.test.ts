import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { makeWorld, mockTurn, runCli, type World, write } from './helpers.ts';

const ECHO = 'icode-plugin-echo';
const echoFixture = join(import.meta.dirname, 'fixtures', 'installable', 'echo');

/**
 * A version of the echo plugin as a real package folder: the fixture (1.2.0, one command tool, asking for
 * process.spawn) with plugin.json and package.json changed, and any extra files (its code).
 */
function echoVersion(
  w: World,
  folder: string,
  change: {
    version: string;
    name?: string;
    plugin?: Record<string, unknown>;
    package?: Record<string, unknown>;
    files?: Record<string, string>;
  },
): string {
  const dir = join(w.root, folder);
  rmSync(dir, { recursive: true, force: true });
  cpSync(echoFixture, dir, { recursive: true });
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const plugin = JSON.parse(readFileSync(join(dir, 'plugin.json'), 'utf8'));
  write(join(dir, 'package.json'), {
    ...pkg,
    name: change.name ?? pkg.name,
    version: change.version,
    files: [...pkg.files, ...Object.keys(change.files ?? {}), 'dist'],
    ...change.package,
  });
  write(join(dir, 'plugin.json'), {
    ...plugin,
    name: change.name ?? plugin.name,
    version: change.version,
    ...change.plugin,
  });
  for (const [file, text] of Object.entries(change.files ?? {})) write(join(dir, file), text);
  return dir;
}

/** A second plugin, with a tool of its own. */
const otherPlugin = (w: World) =>
  echoVersion(w, 'other', {
    version: '1.0.0',
    name: 'icode-plugin-other',
    plugin: {
      contributes: { tools: [{ name: 'other_echo', command: './echo.sh', requiredPermission: 'read-only' }] },
    },
  });

/** Everything an install may change: the record, the installed folder's version, leftovers. */
function installedState(w: World) {
  const plugins = join(w.userDir, 'plugins');
  const pkg = join(plugins, 'node_modules', ECHO, 'package.json');
  return {
    record: existsSync(join(plugins, 'installed.json'))
      ? readFileSync(join(plugins, 'installed.json'), 'utf8')
      : undefined,
    folderVersion: existsSync(pkg)
      ? (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version
      : undefined,
  };
}

/** No staging folder, no lock and no temporary record left behind. */
function leftovers(w: World): string[] {
  return [
    ...readdirSync(w.userDir).filter((f) => f.startsWith('plugins.')),
    ...readdirSync(join(w.userDir, 'plugins')).filter((f) => f !== 'installed.json' && f !== 'node_modules'),
  ];
}

const doctor = async (w: World) =>
  JSON.parse((await runCli(['doctor', '--json'], { world: w })).stdout) as {
    tools: string[];
    plugins: Array<{ name: string; version: string; state: string }>;
  };

/** A model turn on the mock API that calls echo_back: the installed plugin's tool really runs. */
async function echoTurn(w: World): Promise<string> {
  const result = await mockTurn(w, [
    { content: [{ type: 'tool_use', name: 'echo_back', input: { said: 'still here' } }] },
    { content: [{ type: 'text', text: 'Echo: {{tool_results}}' }] },
  ]);
  expect(result.is_error).toBe(false);
  return result.result;
}

/** Installs echo 1.2.0 (accepting process.spawn) and returns what it left. */
async function installEcho(w: World) {
  const r = await runCli(['plugins', 'install', echoFixture, '--yes'], { world: w });
  expect(r.stderr).toBe('');
  expect(r.stdout).toContain(`Installed ${ECHO}@1.2.0`);
  return installedState(w);
}

/** The old version is installed, recorded, running: the refused change left no trace. */
async function expectUnchanged(w: World, before: ReturnType<typeof installedState>) {
  expect(installedState(w)).toEqual(before);
  expect(leftovers(w)).toEqual([]);
  const d = await doctor(w);
  expect(d.plugins.find((p) => p.name === ECHO)).toMatchObject({ version: '1.2.0', state: 'active' });
  expect(d.tools).toContain('echo_back');
  expect(await echoTurn(w)).toContain('"said":"still here"');
}

describe('icode plugins install | update | uninstall are transactions (real npm, real folders)', () => {
  test('an upgrade refused for its engines range, or its SDK peer range, leaves the old version installed, recorded and working', async () => {
    const w = makeWorld();
    const before = await installEcho(w);
    const future = echoVersion(w, 'echo-future', {
      version: '1.3.0',
      plugin: { engines: { icode: '^9.0.0' } },
    });
    const r = await runCli(['plugins', 'install', future, '--yes'], { world: w });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${ECHO}@1.3.0: needs icode ^9.0.0, this is 0.1.0`);
    await expectUnchanged(w, before);

    const newSdk = echoVersion(w, 'echo-new-sdk', {
      version: '1.3.0',
      package: { peerDependencies: { icode: '^0.2.0' } },
    });
    const s = await runCli(['plugins', 'install', newSdk, '--yes'], { world: w });
    expect(s.code).toBe(2);
    expect(s.stderr).toContain(
      `${ECHO}@1.3.0: needs icode/sdk ^0.2.0 (peerDependencies), this icode provides 0.1.0`,
    );
    expect(s.stderr).toContain(`whose peerDependencies["icode"] includes 0.1.0`);
    await expectUnchanged(w, before);

    // plugin.json and package.json disagreeing on the version: which one is installed is unclear.
    const drift = echoVersion(w, 'echo-drift', { version: '1.3.0', plugin: { version: '1.2.9' } });
    const d = await runCli(['plugins', 'install', drift, '--yes'], { world: w });
    expect(d.code).toBe(2);
    expect(d.stderr).toContain('its plugin.json says version 1.2.9, its package.json 1.3.0');
    await expectUnchanged(w, before);
  }, 90_000);

  test('an update that asks for a new capability is asked about again: answered no, the old version stays; yes, it is swapped in', async () => {
    const w = makeWorld();
    // Installed from a folder the author then changes: `update` reinstalls from the recorded spec.
    const source = echoVersion(w, 'echo-source', { version: '1.2.0' });
    expect((await runCli(['plugins', 'install', source, '--yes'], { world: w })).code).toBe(0);
    expect((await runCli(['plugins', 'update', ECHO], { world: w })).stdout).toContain(
      `${ECHO} is up to date: 1.2.0 is the newest version`,
    );
    const before = installedState(w);
    echoVersion(w, 'echo-source', { version: '1.3.0', plugin: { capabilities: ['process.spawn', 'net'] } });

    const no = await runCli(['plugins', 'update', ECHO], { world: w, stdin: 'n\n' });
    expect(no.code).toBe(2);
    // Only the capability not accepted before is asked about.
    expect(no.stderr).toContain(`${ECHO}@1.3.0: asks for net, which 1.2.0 did not`);
    expect(no.stderr).toContain('Accept? [y/N]');
    expect(no.stderr).toContain(`icode plugins update ${ECHO} --yes`);
    await expectUnchanged(w, before);

    const yes = await runCli(['plugins', 'update', ECHO], { world: w, stdin: 'y\n' });
    expect(yes.stdout).toContain(`Updated ${ECHO} from 1.2.0 to 1.3.0 (accepted: process.spawn, net)`);
    expect(installedState(w).folderVersion).toBe('1.3.0');
    expect(JSON.parse(installedState(w).record!)[0]).toMatchObject({
      version: '1.3.0',
      capabilities: ['process.spawn', 'net'],
      spec: source,
    });
    expect(leftovers(w)).toEqual([]);
    expect(await echoTurn(w)).toContain('"said":"still here"');
  }, 90_000);

  test('a package published without its build is refused, naming the missing file, and nothing changes', async () => {
    const w = makeWorld();
    const before = await installEcho(w);
    const unbuilt = echoVersion(w, 'echo-unbuilt', { version: '1.3.0', plugin: { main: 'dist/index.mjs' } });
    const r = await runCli(['plugins', 'install', unbuilt, '--yes'], { world: w });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `${ECHO}@1.3.0: dist/index.mjs ("main") is not in the package: it was published without its build`,
    );
    await expectUnchanged(w, before);
  }, 60_000);

  test('a module that throws while loading, or exports no plugin, is refused by the dry load, and nothing changes', async () => {
    const w = makeWorld();
    const before = await installEcho(w);
    const throwing = echoVersion(w, 'echo-throws', {
      version: '1.3.0',
      plugin: { main: 'index.mjs' },
      files: {
        'index.mjs': `import { writeFileSync } from 'node:fs';
writeFileSync(${JSON.stringify(join(w.root, 'loaded'))}, 'yes');
throw new Error('settings.yaml not found next to the plugin');
export default { activate() {} };
`,
      },
    });
    const r = await runCli(['plugins', 'install', throwing, '--yes'], { world: w });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `${ECHO}@1.3.0: index.mjs throws while loading: settings.yaml not found next to the plugin`,
    );
    expect(existsSync(join(w.root, 'loaded'))).toBe(true); // it was really imported, in a child process
    await expectUnchanged(w, before);

    const hollow = echoVersion(w, 'echo-hollow', {
      version: '1.3.0',
      plugin: { main: 'index.mjs' },
      files: { 'index.mjs': 'export default { name: "no activate here" };\n' },
    });
    const h = await runCli(['plugins', 'install', hollow, '--yes'], { world: w });
    expect(h.stderr).toContain('index.mjs does not export a plugin (default export with activate)');
    await expectUnchanged(w, before);
  }, 90_000);

  test('a failure in the middle of the swap (the settings file cannot be written) puts folder and record back', async () => {
    const w = makeWorld();
    const before = await installEcho(w);
    const next = echoVersion(w, 'echo-next', { version: '1.3.0' });
    // The project's .icode is a file, so switching the plugin on in the local scope (.icode/settings.local.json) fails: after the new
    // folder is in place and its record written, before the commit.
    rmSync(join(w.project, '.icode'), { recursive: true });
    writeFileSync(join(w.project, '.icode'), 'not a folder');
    const r = await runCli(['plugins', 'install', next, '--scope', 'local'], { world: w });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(`${ECHO}: could not switch to the new version: .*EEXIST.*; the previous state is back`),
    );
    expect(installedState(w)).toEqual(before);
    expect(leftovers(w)).toEqual([]);

    // A first install that fails the same way leaves nothing at all.
    const other = otherPlugin(w);
    const first = await runCli(['plugins', 'install', other, '--yes', '--scope', 'local'], { world: w });
    expect(first.code).toBe(2);
    expect(first.stderr).toContain('icode-plugin-other: could not switch to the new version');
    expect(existsSync(join(w.userDir, 'plugins', 'node_modules', 'icode-plugin-other'))).toBe(false);
    expect(installedState(w)).toEqual(before);

    rmSync(join(w.project, '.icode'));
    mkdirSync(join(w.project, '.icode'));
    await expectUnchanged(w, before);
  }, 90_000);

  test('uninstall removes the record and the folder together, or, when the record cannot be written, neither', async () => {
    const w = makeWorld();
    const before = await installEcho(w);
    // A folder where the new record is written first: replacing installed.json fails.
    const blocker = join(w.userDir, 'plugins', 'installed.json.next');
    mkdirSync(join(blocker, 'in-the-way'), { recursive: true });
    const failed = await runCli(['plugins', 'uninstall', ECHO], { world: w });
    expect(failed.code).toBe(2);
    expect(failed.stderr).toMatch(new RegExp(`${ECHO}: could not remove it: .*; the previous state is back`));
    rmSync(blocker, { recursive: true });
    await expectUnchanged(w, before);

    const removed = await runCli(['plugins', 'uninstall', ECHO], { world: w });
    expect(removed.stdout).toContain(`Uninstalled ${ECHO}.`);
    expect(JSON.parse(readFileSync(join(w.userDir, 'plugins', 'installed.json'), 'utf8'))).toEqual([]);
    expect(existsSync(join(w.userDir, 'plugins', 'node_modules', ECHO))).toBe(false);
    expect(JSON.parse(readFileSync(join(w.userDir, 'settings.json'), 'utf8')).plugins[ECHO]?.enabled).toBe(
      undefined,
    );
    expect(leftovers(w)).toEqual([]);
    expect((await doctor(w)).tools).not.toContain('echo_back');
    expect((await runCli(['plugins', 'uninstall', ECHO], { world: w })).stderr).toContain(
      `${ECHO} is not installed`,
    );
  }, 60_000);
});

describe('the plugins lock', () => {
  /** A process id that is not running: a child that has exited. */
  const deadPid = () =>
    new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['-e', '']);
      child.on('exit', () => resolve(child.pid!));
    });

  test('a second install waits for the one holding the lock, and goes on once its holder is gone', async () => {
    const w = makeWorld();
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    write(join(w.userDir, 'plugins', 'install.lock'), { pid: holder.pid });
    const install = runCli(['plugins', 'install', echoFixture, '--yes'], { world: w });
    await new Promise((r) => setTimeout(r, 2000));
    expect(existsSync(join(w.userDir, 'plugins', 'node_modules', ECHO))).toBe(false); // still waiting
    holder.kill('SIGKILL');
    const r = await install;
    expect(r.stderr).toMatch(
      new RegExp(`waiting for another icode plugins command to finish \\(pid ${holder.pid}`),
    );
    expect(r.stdout).toContain(`Installed ${ECHO}@1.2.0`);
    expect(leftovers(w)).toEqual([]);
  }, 60_000);

  test('two installs at once both land: neither loses the other record', async () => {
    const w = makeWorld();
    const other = otherPlugin(w);
    const both = await Promise.all([
      runCli(['plugins', 'install', echoFixture, '--yes'], { world: w }),
      runCli(['plugins', 'install', other, '--yes'], { world: w }),
    ]);
    expect(both.map((r) => r.code)).toEqual([0, 0]);
    const names = (
      JSON.parse(readFileSync(join(w.userDir, 'plugins', 'installed.json'), 'utf8')) as Array<{
        name: string;
      }>
    ).map((p) => p.name);
    expect(names.sort()).toEqual([ECHO, 'icode-plugin-other']);
    expect((await doctor(w)).tools).toEqual(expect.arrayContaining(['echo_back', 'other_echo']));
    expect(leftovers(w)).toEqual([]);
  }, 60_000);

  test('a lock left by a dead process is taken over, and the swap it left half done is rolled back', async () => {
    const w = makeWorld();
    const before = await installEcho(w);
    // What a process killed between its two renames leaves: the lock, its staging folder with the journal,
    // the installed version moved aside and the new one not yet in place.
    const pid = await deadPid();
    write(join(w.userDir, 'plugins', 'install.lock'), { pid });
    const stage = join(w.userDir, 'plugins.staging-crashed');
    const target = join(w.userDir, 'plugins', 'node_modules', ECHO);
    mkdirSync(stage);
    renameSync(target, join(stage, 'previous'));
    write(join(stage, 'journal.json'), {
      userDir: w.userDir,
      name: ECHO,
      target,
      aside: join(stage, 'previous'),
      hadPrevious: true,
      installedBefore: JSON.parse(before.record!),
    });
    write(join(w.userDir, 'plugins', 'installed.json'), '[]');

    const r = await runCli(['plugins', 'uninstall', 'icode-plugin-absent'], { world: w });
    expect(r.stderr).toContain(`rolled back an interrupted change to ${ECHO}`);
    expect(r.stderr).toContain('icode-plugin-absent is not installed');
    await expectUnchanged(w, before);
  }, 60_000);
});
