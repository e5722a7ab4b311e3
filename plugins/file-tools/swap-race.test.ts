import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { ToolContext } from '../../sdk/index.ts';
import { approvedTarget, readJudged, statTarget, writeAtomic } from '../../sdk/index.ts';
import { bootTestKernel } from '../../sdk/testing.ts';
import { hasProgram } from '../../test/programs.ts';
import { builtinPlugins } from '../index.ts';
import { readFile } from './read-file.ts';
import { writeFile } from './write-file.ts';

const INSIDE = 'inside the workspace\n';
const SECRET = 'OUTSIDE SECRET\n';

// A workspace with dir/file.txt, a folder outside it holding file.txt too, and link -> that folder.
async function swappable() {
  const h = await bootTestKernel({
    include: ['workspace-guard', 'file-tools'],
    builtins: builtinPlugins,
    files: { 'dir/file.txt': INSIDE },
    mode: 'workspace-write',
  });
  const outside = realpathSync(mkdtempSync(join(tmpdir(), 'icode-outside-')));
  writeFileSync(join(outside, 'file.txt'), SECRET);
  symlinkSync(outside, join(h.project, 'link'));
  return { h, outside, dir: join(h.project, 'dir'), link: join(h.project, 'link') };
}

// Everything under a folder, the folder itself included, with content and mtimes: a folder's mtime moves
// when a name is added or removed, so even a file made and deleted again would show.
function snapshot(root: string): string[] {
  const names = ['', ...readdirSync(root, { recursive: true, encoding: 'utf8' }).sort()];
  return names.map((name) => {
    const info = lstatSync(join(root, name));
    return `${name} ${info.mtimeMs} ${info.isFile() ? readFileSync(join(root, name), 'utf8') : ''}`;
  });
}

// The attacker: swaps dir (a folder) and link (a symlink out) as fast as it can, atomically.
const EXCHANGE = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = os.fsencode(sys.argv[1]), os.fsencode(sys.argv[2])
print('swapping', flush=True)
while True:
    if libc.renameat2(-100, a, -100, b, 2) != 0:  # AT_FDCWD, RENAME_EXCHANGE
        sys.exit('renameat2: ' + os.strerror(ctypes.get_errno()))
`;
// Without renameat2: four renames, so dir is by turns the folder, missing, and the symlink. A fresh
// parking name each round keeps it going when a tool has created dir again meanwhile.
const RENAMES = `
const { renameSync } = require('node:fs');
const [dir, link] = process.argv.slice(1);
const move = (from, to) => { try { renameSync(from, to); } catch {} };
console.log('swapping');
for (let i = 0; ; i++) { const park = dir + '-park-' + i; move(dir, park); move(link, dir); move(dir, link); move(park, dir); }
`;
const hasExchange = () =>
  spawnSync('python3', ['-c', 'import ctypes; ctypes.CDLL(None).renameat2'], { stdio: 'ignore' }).status ===
  0;

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
});

async function underAttack(attacker: (dir: string, link: string) => ChildProcess) {
  const { h, outside, dir, link } = await swappable();
  const before = snapshot(outside);
  const child = attacker(dir, link);
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  // Interpreters take a while to start: the calls begin once the attacker says it is swapping.
  await new Promise((resolve, reject) => {
    child.stdout?.once('data', resolve);
    child.once('exit', () => reject(new Error(`the attacker exited before swapping: ${stderr}`)));
  });
  const seen = new Set<string>();
  const look = () => {
    try {
      seen.add(lstatSync(dir).isSymbolicLink() ? 'symlink' : 'folder');
    } catch {
      seen.add('missing');
    }
  };
  const failures: string[] = [];
  for (let i = 0; i < 30; i++) {
    look();
    const read = await h.callTool('read_file', { path: 'dir/file.txt' });
    expect(JSON.stringify(read.content)).not.toContain('OUTSIDE');
    if (read.isError) failures.push(String(read.content));
    look();
    for (const path of ['dir/file.txt', `dir/new-${i}/made.txt`]) {
      const write = await h.callTool('write_file', { path, content: `written ${i}\n` });
      if (write.isError) failures.push(String(write.content));
    }
  }
  expect(child.exitCode, `the attacker stopped early: ${stderr}`).toBeNull();
  // The attacker really swapped while the tools ran.
  expect(seen.has('symlink') && (seen.has('folder') || seen.has('missing'))).toBe(true);
  expect(snapshot(outside)).toEqual(before);
  // A call may fail, but only with an error that says what happened.
  for (const failure of failures)
    expect(failure).toMatch(
      /outside the workspace|now resolves to|between the check and the (read|write)|changed while it was being resolved|does not exist/,
    );
  await h.shutdown();
}

// The proof needs Linux's /proc/self/fd; elsewhere re-checks by name narrow the race but cannot close it.
describe.skipIf(process.platform !== 'linux')(
  'a folder swapped for a symlink out of the workspace while file tools run',
  () => {
    test.skipIf(!hasProgram('python3', 'the swap-race checks with renameat2 (through ctypes)', hasExchange))(
      'with renameat2(RENAME_EXCHANGE): read_file never returns the outside file and write_file never writes there',
      async () => {
        await underAttack((dir, link) => spawn('python3', ['-c', EXCHANGE, dir, link], { stdio: 'pipe' }));
      },
      30_000,
    );

    test('with a loop of renames: read_file never returns the outside file and write_file never writes there', async () => {
      await underAttack((dir, link) =>
        spawn(process.execPath, ['-e', RENAMES, dir, link], { stdio: 'pipe' }),
      );
    }, 30_000);
  },
);

describe('a swap between the check and the use', () => {
  // What a racing attacker does by luck, done here on purpose: dir becomes the symlink out.
  const swap = (dir: string, link: string) => {
    renameSync(dir, `${dir}-moved`);
    renameSync(link, dir);
  };

  test('after the tool re-resolved the path, the read and the write refuse it, say so and touch nothing outside', async () => {
    const { h, outside, dir, link } = await swappable();
    const judged = join(dir, 'file.txt');
    const file = approvedTarget('dir/file.txt', h.project, { kind: 'path', values: [judged] });
    const info = (await statTarget(file, 'dir/file.txt'))!;
    const before = snapshot(outside);
    swap(dir, link);
    const now = process.platform === 'linux' ? `: it is now ${outside}/file.txt, not ${judged}` : '';
    await expect(readJudged(file, 'dir/file.txt', info, 1000)).rejects.toThrow(
      `dir/file.txt changed between the check and the read (a symlink or folder was swapped${now}); nothing was read — call the tool again`,
    );
    await expect(writeAtomic(file, 'dir/file.txt', 'pwned')).rejects.toThrow(
      'dir/file.txt changed between the check and the write (a symlink or folder was swapped); nothing was written — call the tool again',
    );
    await expect(writeAtomic(join(dir, 'sub/new.txt'), 'dir/sub/new.txt', 'pwned')).rejects.toThrow(
      'changed between the check and the write',
    );
    expect(snapshot(outside)).toEqual(before);
    await h.shutdown();
  });

  test('between a tool’s subjects and its execute, read_file and write_file refuse it and touch nothing outside', async () => {
    const { h, outside, dir, link } = await swappable();
    const ctx: ToolContext = { cwd: h.project, roots: [h.project], signal: new AbortController().signal };
    const readInput = { path: 'dir/file.txt' };
    const writeInput = { path: 'dir/file.txt', content: 'pwned' };
    const readJudgedAs = await readFile.subjects!(readInput, ctx);
    const writeJudgedAs = await writeFile.subjects!(writeInput, ctx);
    const before = snapshot(outside);
    swap(dir, link);
    // execute resolves the path again first, so it is that check which refuses here.
    const refused = `now resolves to ${outside}/file.txt, not to ${join(dir, 'file.txt')} as when it was approved (a symlink on the way changed); nothing was touched — call the tool again`;
    await expect(readFile.execute(readInput, { ...ctx, judged: readJudgedAs })).rejects.toThrow(refused);
    await expect(writeFile.execute(writeInput, { ...ctx, judged: writeJudgedAs })).rejects.toThrow(refused);
    expect(snapshot(outside)).toEqual(before);
    await h.shutdown();
  });
});
