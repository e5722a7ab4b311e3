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
