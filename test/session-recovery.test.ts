import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  utimesSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { loadScenarios } from '../plugins/mock-anthropic/scenario.ts';
import { type MockServer, startMockServer } from '../plugins/mock-anthropic/server.ts';
import { projectSlug } from '../sdk/index.ts';
import { processStart } from '../sdk/lock.ts';
import { makeWorld, runCli, type World, write } from './helpers.ts';

const bin = join(import.meta.dirname, '..', 'dist', 'icode.cjs');

/** A bash call that marks that it started, then waits until the test lets it go (never longer than a minute). */
const SLOW_TOOL = {
  name: 'slow_tool_killed',
  description: 'A bash call that is still running when icode is killed',
  steps: [
    {
      content: [
        {
          type: 'tool_use',
          name: 'bash',
          input: {
            command:
              'touch started.flag; for i in $(seq 600); do [ -e release.flag ] && exit 0; sleep 0.1; done',
          },
        },
      ],
    },
    { content: [{ type: 'text', text: 'Done.' }] },
  ],
};

let mock: MockServer;
beforeAll(async () => {
  const world = makeWorld();
  const dir = join(world.root, 'scenarios');
  write(join(dir, `${SLOW_TOOL.name}.json`), SLOW_TOOL);
  mock = await startMockServer({
    scenarios: new Map([
      ...loadScenarios(join(import.meta.dirname, '..', 'scenarios')),
      ...loadScenarios(dir),
    ]),
  });
});
afterAll(() => mock.close());

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** A world whose icode talks to this file's mock server, so a test sees what the model was sent. */
function world(): World {
  const w = makeWorld();
  return { ...w, env: { ...w.env, ANTHROPIC_BASE_URL: mock.url, ANTHROPIC_API_KEY: 'sk-test' } };
}
const sessionDir = (w: World) => join(w.userDir, 'projects', projectSlug(realpathSync(w.project)));
const icode = (w: World, ...args: string[]) => runCli(args, { world: w });
/** The messages of the last request the model got. */
const lastSent = () => {
  const body = mock.requests.filter((r) => r.path === '/v1/messages').at(-1)!.body;
  return (body as { messages: Array<{ role: string; content: unknown }> }).messages;
};

async function firstSession(w: World): Promise<string> {
  const r = await icode(w, '-p', 'PARITY_SCENARIO:streaming_text', '--output-format', 'json');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout).session_id;
}

test('a session whose last line was cut short resumes with the new prompt on a line of its own, and the model gets it', async () => {
  const w = world();
  const id = '00000000-0000-4000-8000-0000000000c7';
  const cut = '{"type":"message","message":{"role":"assistant","content":[{"type":"text","text":"I was';
  write(
    join(sessionDir(w), `${id}.jsonl`),
    `${[
      { type: 'session', id, cwd: w.project, model: 'm', created_at: '2026-11-01T00:00:00Z' },
      { type: 'message', message: { role: 'user', content: 'first question' } },
      { type: 'message', message: { role: 'assistant', content: [{ type: 'text', text: 'first answer' }] } },
    ]
      .map((l) => JSON.stringify(l))
      .join('\n')}\n${cut}`,
  );
  mock.reset();
  const prompt = 'second question PARITY_SCENARIO:streaming_text';
  const r = await icode(w, '-p', prompt, '--resume', id, '--output-format', 'json');
  expect(r.code).toBe(0);
  expect(lastSent()).toEqual([
    { role: 'user', content: 'first question' },
    { role: 'assistant', content: [{ type: 'text', text: 'first answer' }] },
    { role: 'user', content: prompt },
  ]);
  const text = readFileSync(join(sessionDir(w), `${id}.jsonl`), 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  const lines = text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  expect(lines.find((l) => l.type === 'message' && l.message.content === prompt)).toBeDefined();
  expect(lines.map((l) => l.type)).toEqual(['session', 'message', 'message', 'message', 'message', 'result']);
  const aside = readdirSync(sessionDir(w)).filter((f) => f.startsWith(`${id}.jsonl.partial-`));
  expect(aside).toHaveLength(1);
  expect(readFileSync(join(sessionDir(w), aside[0]!), 'utf8')).toBe(cut);
});

test('stray files in the sessions folder break neither `sessions list` nor --continue', async () => {
  const w = world();
  const id = await firstSession(w);
  const dir = sessionDir(w);
  writeFileSync(join(dir, 'notes.txt'), 'remember the milk\n');
  writeFileSync(join(dir, 'foo.jsonl'), 'garbage \u0000 not json\n{"half":');
  writeFileSync(join(dir, 'bad name.jsonl'), '{}\n');
  // Unreadable for anyone but root; as root, a file that is no session.
  writeFileSync(join(dir, 'unreadable.jsonl'), 'secret\n', { mode: 0o000 });
  mkdirSync(join(dir, 'folder.jsonl'));
  mkdirSync(join(dir, 'backup'));
  for (const f of ['foo.jsonl', 'unreadable.jsonl', 'bad name.jsonl'])
    utimesSync(join(dir, f), new Date(1_000_000), new Date(1_000_000));

  const list = await icode(w, 'sessions', 'list', '--json');
  expect(list.code).toBe(0);
  expect(JSON.parse(list.stdout).map((s: { id: string }) => s.id)).toEqual([id]);
  const text = await icode(w, 'sessions', 'list');
  expect(text).toMatchObject({ code: 0, stderr: '' });
  const next = await icode(
    w,
    '-p',
    'more PARITY_SCENARIO:streaming_text',
    '--continue',
    '--output-format',
    'json',
  );
  expect(next.code).toBe(0);
  expect(JSON.parse(next.stdout)).toMatchObject({ session_id: id, is_error: false });
});

test('kill -9 during a tool call: on resume the model is told the tool was started and may have run', async () => {
  const w = world();
  mock.reset();
  const child = spawn(
    process.execPath,
    [
      bin,
      '-p',
      `Build it. PARITY_SCENARIO:${SLOW_TOOL.name}`,
      '--output-format',
      'stream-json',
      '--permission-mode',
      'danger-full-access',
    ],
    { cwd: w.project, env: { PATH: process.env.PATH, ...w.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let out = '';
  const sessionId = new Promise<string>((resolve) =>
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      const start = /"type":"system","subtype":"init","session_id":"([^"]+)"/.exec(out);
      if (start) resolve(start[1]!);
    }),
  );
  const flag = join(w.project, 'started.flag');
  await new Promise<void>((resolve) => {
    const watcher = watch(w.project, () => {
      if (existsSync(flag)) {
        watcher.close();
        resolve();
      }
    });
    if (existsSync(flag)) {
      watcher.close();
      resolve();
    }
  });
  const id = await sessionId;
  child.kill('SIGKILL');
  await exited;
  writeFileSync(join(w.project, 'release.flag'), ''); // the orphaned command ends now
  const lock = join(sessionDir(w), `${id}.jsonl.lock`);
  expect(existsSync(lock)).toBe(true); // left by the killed process

  mock.reset();
  const r = await icode(
    w,
    '-p',
    'What happened? PARITY_SCENARIO:streaming_text',
    '--resume',
    id,
    '--output-format',
    'json',
  );
  expect(r.code).toBe(0);
  const sent = lastSent();
  expect(sent[1]).toMatchObject({
    role: 'assistant',
    content: [{ type: 'tool_use', id: `toolu_mock_${SLOW_TOOL.name}_0_0`, name: 'bash' }],
  });
  expect(sent[2]).toEqual({
    role: 'user',
    content: [
      {
        type: 'tool_result',
        tool_use_id: `toolu_mock_${SLOW_TOOL.name}_0_0`,
        content:
          'Interrupted — this tool was started and may have run; check its effects before repeating it.',
        is_error: true,
      },
    ],
  });
  expect(existsSync(lock)).toBe(false);
}, 60_000);

describe('session locks from the command line', () => {
  /** A real process of this test, alive until the test ends. */
  const liveProcess = () => {
    const child = spawn('sleep', ['60'], { stdio: 'ignore' });
    children.push(child);
    return child.pid!;
  };
  const lockFile = (w: World, id: string) => join(sessionDir(w), `${id}.jsonl.lock`);

  test('a lock whose PID now belongs to another process (PID reused) does not block the session; `sessions unlock` says whose it was', async () => {
    const w = world();
    const id = await firstSession(w);
    const pid = liveProcess();
    const stale = JSON.stringify({
      pid,
      start: 'another-boot:42',
      host: hostname(),
      at: '2026-01-01T00:00:00.000Z',
    });
    writeFileSync(lockFile(w, id), stale);
    const unlocked = await icode(w, 'sessions', 'unlock', id);
    expect(unlocked.code).toBe(0);
    expect(unlocked.stdout).toBe(
      `removed the lock of session ${id}, held by pid ${pid} on host ${hostname()}, since 2026-01-01T00:00:00.000Z (pid ${pid} is now another process (the holder started at another-boot:42, this one at ${processStart(pid)}))\n`,
    );
    expect(existsSync(lockFile(w, id))).toBe(false);

    writeFileSync(lockFile(w, id), stale);
    const resumed = await icode(
      w,
      '-p',
      'again PARITY_SCENARIO:streaming_text',
      '--resume',
      id,
      '--output-format',
      'json',
    );
    expect(resumed.code).toBe(0);
    expect(existsSync(lockFile(w, id))).toBe(false);
  }, 30_000);

  test('a holder alive on this host keeps its lock: the run says which pid, unlock refuses without --force', async () => {
    const w = world();
    const id = await firstSession(w);
    const pid = liveProcess();
    writeFileSync(lockFile(w, id), JSON.stringify({ pid, start: processStart(pid), host: hostname() }));
    const blocked = await icode(
      w,
      '-p',
      'x PARITY_SCENARIO:streaming_text',
      '--resume',
      id,
      '--output-format',
      'json',
    );
    expect(blocked.code).toBe(1);
    expect(JSON.parse(blocked.stdout)).toMatchObject({
      is_error: true,
      error: `session ${id} is open in another icode process (pid ${pid})`,
    });
    const refused = await icode(w, 'sessions', 'unlock', id);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`pid ${pid} on host ${hostname()}`);
    expect(refused.stderr).toContain('--force');
    expect(existsSync(lockFile(w, id))).toBe(true);
    const forced = await icode(w, 'sessions', 'unlock', id, '--force');
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`removed the lock of session ${id}`);
    expect(existsSync(lockFile(w, id))).toBe(false);
  }, 30_000);

  test('a lock from another host is respected with its host, pid and the remedy, which works', async () => {
    const w = world();
    const id = await firstSession(w);
    writeFileSync(lockFile(w, id), JSON.stringify({ pid: 777, start: 'b:1', host: 'laptop-of-ada' }));
    const blocked = await icode(w, '-p', 'x PARITY_SCENARIO:streaming_text', '--resume', id);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toContain(
      `icode: session ${id} is open in icode on host laptop-of-ada (pid 777); if that process is gone, run: icode sessions unlock ${id}\n`,
    );
    const unlocked = await icode(w, 'sessions', 'unlock', id, '--json');
    expect(JSON.parse(unlocked.stdout)).toMatchObject({
      id,
      removed: true,
      state: 'remote',
      holder: { pid: 777, host: 'laptop-of-ada' },
    });
    const resumed = await icode(w, '-p', 'x PARITY_SCENARIO:streaming_text', '--resume', id);
    expect(resumed.code).toBe(0);
    const none = await icode(w, 'sessions', 'unlock', id);
    expect(none).toMatchObject({ code: 0, stdout: `session ${id} is not locked\n` });
    const unknown = await icode(w, 'sessions', 'unlock', 'no-such-session');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no session no-such-session in this project');
  }, 30_000);
});
