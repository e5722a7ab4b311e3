import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { makeWorld, runCli, write } from './helpers.ts';

const bin = join(import.meta.dirname, '..', 'dist', 'icode.cjs');

/** A private mount namespace: as root a plain one, otherwise inside a user namespace (`unshare -r`). */
const UNSHARE =
  process.getuid?.() === 0
    ? ['unshare', '--mount', '--propagation', 'private']
    : ['unshare', '--user', '--map-root-user', '--mount', '--propagation', 'private'];

/** Whether a tiny tmpfs can be mounted here, and if not, why. */
function mountProbe(): string | undefined {
  if (process.platform !== 'linux') return `tmpfs mounts need Linux (this is ${process.platform})`;
  const dir = mkdtempSync(join(tmpdir(), 'icode-mount-probe-'));
  try {
    const r = spawnSync(
      UNSHARE[0]!,
      [...UNSHARE.slice(1), 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs "$1"', 'sh', dir],
      { encoding: 'utf8', timeout: 10_000 },
    );
    if (r.error) return `${UNSHARE.join(' ')}: ${r.error.message}`;
    if (r.status !== 0)
      return `cannot mount a tmpfs in a private namespace: ${r.stderr.trim() || `exit ${r.status}`}`;
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const cannotMount = mountProbe();

/** Runs a shell script in a private mount namespace; resolves with its exit code and output. */
const inNamespace = (script: string, env: NodeJS.ProcessEnv, cwd: string) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(UNSHARE[0]!, [...UNSHARE.slice(1), 'sh', '-c', script], { cwd, env }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    ),
  );

test('a full disk mid-session ends the run cleanly: the message names the file and the error, JSON is_error, exit 1, no lock, only whole lines, no code-cache temp files; the session resumes once there is room', async (ctx) => {
  if (cannotMount) {
    if (process.env.CI === 'true') throw new Error(`the disk-full test cannot run in CI: ${cannotMount}`);
    ctx.skip(cannotMount);
  }
  const w = makeWorld();
  const out = join(w.root, 'out');
  const scenarios = join(w.root, 'scenarios');
  // A reply far larger than the room left: its line cannot be written whole.
  write(join(scenarios, 'huge_reply.json'), {
    name: 'huge_reply',
    description: 'a 200 kB reply',
    steps: [{ content: [{ type: 'text', text: 'abcdefgh', repeat: 25_000, chunks: 10 }] }],
  });
  write(join(out, '.keep'), '');
  // HOME (and ~/.icode in it) is a 4 MB tmpfs, filled up but for 24 kB: room for the lock, the session's
  // header and prompt and the sandbox probe's note; not for the reply, nor for the code cache written at exit.
  const script = `
set -u
mount -t tmpfs -o size=4m tmpfs "$HOME" || exit 90
mkdir -p "$ICODE_CONFIG_DIR"
dd if=/dev/zero of="$HOME/filler" bs=4096 2>/dev/null
truncate -s -24k "$HOME/filler" || exit 91
icode() { "$NODE" "$BIN" "$@"; }
snapshot() { find "$ICODE_CONFIG_DIR" | sort > "$OUT/$1.files"; cp "$ICODE_CONFIG_DIR"/projects/*/*.jsonl "$OUT/$1.jsonl"; }

icode --mock --mock-scenarios "$SCENARIOS" -p 'PARITY_SCENARIO:huge_reply' --output-format json >"$OUT/full.out" 2>"$OUT/full.err"
echo $? >"$OUT/full.code"
snapshot full

# Not a byte left: the session cannot even be opened.
dd if=/dev/zero of="$HOME/filler2" bs=4096 2>/dev/null
icode --mock -p 'PARITY_SCENARIO:streaming_text' --continue --output-format json >"$OUT/none.out" 2>"$OUT/none.err"
echo $? >"$OUT/none.code"
snapshot none

rm "$HOME/filler" "$HOME/filler2"
icode --mock -p 'again PARITY_SCENARIO:streaming_text' --continue --output-format json >"$OUT/room.out" 2>"$OUT/room.err"
echo $? >"$OUT/room.code"
snapshot room
`;
  const run = await inNamespace(
    script,
    {
      PATH: process.env.PATH,
      ...w.env,
      NODE: process.execPath,
      BIN: bin,
      OUT: out,
      SCENARIOS: scenarios,
    },
    w.project,
  );
  expect(run).toMatchObject({ code: 0, stderr: '' });
  const read = (name: string) => readFileSync(join(out, name), 'utf8');
  const lines = (name: string) => {
    const text = read(name);
    expect(text.endsWith('\n')).toBe(true);
    return text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; message?: { content: unknown } });
  };

  // The reply did not fit.
  expect(read('full.code').trim()).toBe('1');
  const full = JSON.parse(read('full.out'));
  expect(full).toMatchObject({ type: 'result', is_error: true, stop_reason: 'storage_error' });
  expect(full.error).toMatch(
    new RegExp(
      `^cannot write the session file ${w.userDir}/projects/[^ ]+/${full.session_id}\\.jsonl: ENOSPC: no space left on device`,
    ),
  );
  expect(read('full.err')).toContain(`icode: ${full.error}\n`);
  expect(read('full.err')).not.toMatch(/\n\s+at /);
  expect(lines('full.jsonl').map((l) => l.type)).toEqual(['session', 'message']);
  const files = read('full.files');
  expect(files).not.toContain('.lock');
  expect(files).not.toMatch(/\.v8\.\d+$/m); // the code cache's temporary files went with their failed writes

  // No room at all: the lock cannot be taken; nothing is changed.
  expect(read('none.code').trim()).toBe('1');
  const none = JSON.parse(read('none.out'));
  expect(none).toMatchObject({ is_error: true, stop_reason: 'storage_error', session_id: full.session_id });
  expect(none.error).toContain(`cannot write the session lock`);
  expect(none.error).toContain('ENOSPC');
  expect(read('none.err')).toContain(`icode: ${none.error}\n`);
  expect(read('none.err')).not.toMatch(/\n\s+at /);
  expect(read('none.jsonl')).toBe(read('full.jsonl'));
  expect(read('none.files')).not.toContain('.lock');
  expect(read('none.files')).not.toMatch(/\.v8\.\d+$/m);

  // With room again the same session goes on, and the code cache is written.
  expect(read('room.code').trim()).toBe('0');
  expect(JSON.parse(read('room.out'))).toMatchObject({ is_error: false, session_id: full.session_id });
  const resumed = lines('room.jsonl');
  expect(resumed.map((l) => l.type)).toEqual(['session', 'message', 'message', 'message', 'result']);
  expect(resumed[2]!.message!.content).toBe('again PARITY_SCENARIO:streaming_text');
  expect(read('room.files')).toMatch(/\/cache\/cli-[0-9a-f]+-v[\d.]+-\w+\.v8$/m);
  expect(read('room.files')).not.toMatch(/\.v8\.\d+$/m);
}, 120_000);

test('code-cache temporary files left by a writer that died are removed when the cache is next written; a live writer keeps its own', async () => {
  const w = makeWorld();
  const cache = join(w.userDir, 'cache');
  const ended = spawn('true', { stdio: 'ignore' });
  await new Promise((resolve) => ended.on('exit', resolve));
  const writing = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    const dead = write(
      join(cache, `cli-0123456789abcdef-${process.version}-${process.arch}.v8.${ended.pid}`),
      'x'.repeat(4096),
    );
    const live = write(
      join(cache, `cli-0123456789abcdef-${process.version}-${process.arch}.v8.${writing.pid}`),
      'x',
    );
    const r = await runCli(['doctor', '--json'], { world: w });
    expect(r.code).toBe(0);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(readdirSync(cache).filter((f) => /\.v8$/.test(f))).toHaveLength(1);
  } finally {
    writing.kill('SIGKILL');
  }
}, 30_000);
