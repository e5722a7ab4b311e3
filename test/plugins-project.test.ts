import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { makeWorld, runCli, type World } from './helpers.ts';

const ECHO = 'icode-plugin-echo';
const TARBALL = `${ECHO}-1.2.0.tgz`;
let packed: string;

beforeAll(() => {
  // A real npm tarball: installing a `file:` tarball gives npm's sha512 integrity, as a registry would.
  const out = mkdtempSync(join(tmpdir(), 'icode-pack-'));
  execFileSync(
    'npm',
    ['pack', join(import.meta.dirname, 'fixtures', 'installable', 'echo'), '--pack-destination', out],
    { stdio: 'ignore' },
  );
  packed = join(out, TARBALL);
});

const lockFile = (w: World) => join(w.project, '.icode', 'plugins.lock.json');
const readLock = (w: World) =>
  JSON.parse(readFileSync(lockFile(w), 'utf8')) as {
    plugins: Record<string, { version: string; spec: string; integrity?: string; capabilities: string[] }>;
  };
const tools = async (w: World) =>
  (JSON.parse((await runCli(['doctor', '--json'], { world: w })).stdout) as { tools: string[] }).tools;
const installedDir = (w: World) => join(w.userDir, 'plugins', 'node_modules', ECHO);

/** A project with the echo tarball in vendor/, locked by `plugins install --scope project` in its own HOME. */
async function lockedProject(): Promise<World> {
  const w = makeWorld();
  mkdirSync(join(w.project, 'vendor'));
  copyFileSync(packed, join(w.project, 'vendor', TARBALL));
  const r = await runCli(['plugins', 'install', `./vendor/${TARBALL}`, '--scope', 'project', '--yes'], {
    world: w,
  });
  expect(r.stderr).toBe('');
  expect(r.stdout).toContain(`locked in ${lockFile(w)}`);
  return w;
}

/** The same project checked out by someone else: a fresh HOME, nothing installed or approved. */
function freshHome(w: World): World {
  const home = mkdtempSync(join(tmpdir(), 'icode-home-'));
  const userDir = join(home, '.icode');
  mkdirSync(userDir);
  return { ...w, home, userDir, env: { HOME: home, ICODE_CONFIG_DIR: userDir } };
}

describe('a project carries its plugins: plugins.lock.json, icode plugins approve and sync (real npm)', () => {
  test('install --scope project writes the lock (sorted, spec relative to the project, integrity, capabilities); a path outside the project is refused for it', async () => {
    const w = await lockedProject();
    const text = readFileSync(lockFile(w), 'utf8');
    expect(readLock(w)).toEqual({
      plugins: {
        [ECHO]: {
          capabilities: ['process.spawn'],
          integrity: expect.stringMatching(/^sha512-/),
          spec: `./vendor/${TARBALL}`,
          version: '1.2.0',
        },
      },
    });
    expect(text.indexOf('"capabilities"')).toBeLessThan(text.indexOf('"version"'));
    // Whoever locked it trusts it: their own sync needs no approval and has nothing to do.
    const again = await runCli(['plugins', 'sync'], { world: w });
    expect(again.stdout).toContain(`${ECHO}@1.2.0 is installed already`);
    expect(again.code).toBe(0);

    const outside = await runCli(['plugins', 'install', packed, '--scope', 'project', '--yes'], { world: w });
    expect(outside.code).toBe(2);
    expect(outside.stderr).toContain('is outside the project');
    expect(outside.stderr).toContain('--scope user');
    expect(readFileSync(lockFile(w), 'utf8')).toBe(text);

    const removed = await runCli(['plugins', 'uninstall', ECHO, '--scope', 'project'], { world: w });
    expect(removed.stdout).toContain(`removed it from ${lockFile(w)}`);
    expect(readLock(w).plugins).toEqual({});
  }, 90_000);

  test('in a fresh HOME, sync refuses and installs nothing until the lock is approved; then it installs the locked version and its tool is there', async () => {
    const other = freshHome(await lockedProject());
    const refused = await runCli(['plugins', 'sync'], { world: other });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`this project's plugins (${ECHO}) are not approved`);
    expect(refused.stderr).toContain('icode plugins approve');
    expect(existsSync(installedDir(other))).toBe(false);
    expect(await tools(other)).not.toContain('echo_back');

    const approved = await runCli(['plugins', 'approve'], { world: other });
    expect(approved.stdout).toContain(`${ECHO}@1.2.0 from ./vendor/${TARBALL} (process.spawn)`);
    const synced = await runCli(['plugins', 'sync'], { world: other });
    expect(synced.stderr).toBe('');
    expect(synced.code).toBe(0);
    expect(synced.stdout).toContain(`Installed ${ECHO}@1.2.0`);
    const record = JSON.parse(readFileSync(join(other.userDir, 'plugins', 'installed.json'), 'utf8'));
    expect(record[0]).toMatchObject({
      name: ECHO,
      version: '1.2.0',
      integrity: readLock(other).plugins[ECHO]!.integrity,
    });
    expect(await tools(other)).toContain('echo_back');

    const twice = await runCli(['plugins', 'sync'], { world: other });
    expect(twice.stdout).toContain(`${ECHO}@1.2.0 is installed already`);
  }, 90_000);

  test('a lock whose integrity does not match the package refuses that plugin, says so and exits 1', async () => {
    const w = await lockedProject();
    const lock = readLock(w);
    lock.plugins[ECHO]!.integrity = `sha512-${Buffer.alloc(64, 7).toString('base64')}`;
    writeFileSync(lockFile(w), JSON.stringify(lock, null, 2));
    const other = freshHome(w);
    await runCli(['plugins', 'approve'], { world: other });
    const r = await runCli(['plugins', 'sync'], { world: other });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${ECHO}@1.2.0 was not installed`);
    expect(r.stderr).toContain(`the project's lock says sha512-${Buffer.alloc(64, 7).toString('base64')}`);
    expect(r.stdout).toContain(`1 of 1 locked plugins not installed: ${ECHO}`);
    expect(existsSync(installedDir(other))).toBe(false);
    expect(existsSync(join(other.userDir, 'plugins', 'installed.json'))).toBe(false);
  }, 90_000);

  test('an approved lock that is edited afterwards needs approval again', async () => {
    const other = freshHome(await lockedProject());
    await runCli(['plugins', 'approve'], { world: other });
    const lock = readLock(other);
    lock.plugins[ECHO]!.capabilities = [];
    writeFileSync(lockFile(other), JSON.stringify(lock, null, 2));
    const r = await runCli(['plugins', 'sync'], { world: other });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('changed since');
    expect(existsSync(installedDir(other))).toBe(false);
  }, 90_000);
});
