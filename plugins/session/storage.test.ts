import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { processStart } from '../../sdk/lock.ts';
import { SessionStore } from './store.ts';

const header = { cwd: '/some/project', model: 'm' };
const jsonl = (lines: object[]) => lines.map((l) => `${JSON.stringify(l)}\n`).join('');
const linesOf = (file: string) => readFileSync(file, 'utf8').split('\n');

function store() {
  const userDir = mkdtempSync(join(tmpdir(), 'icode-storage-'));
  const s = new SessionStore(userDir, '/some/project', (text) => text);
  mkdirSync(s.dir, { recursive: true });
  return s;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});
/** A real process that stays alive until the test ends. */
function liveProcess(): number {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(child);
  return child.pid!;
}
/** The PID of a process that has ended. */
async function deadPid(): Promise<number> {
  const child = spawn('true', { stdio: 'ignore' });
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

describe('a session file cut short', () => {
  test('a cut last line is set aside in <id>.jsonl.partial-<time> and cut off before anything is appended, so the next message is a line of its own', () => {
    const s = store();
    const whole = jsonl([
      { type: 'session', id: 'cut', ...header, created_at: '2026-11-01T00:00:00Z' },
      { type: 'message', message: { role: 'user', content: 'first' } },
    ]);
    const cut = '{"type":"message","message":{"role":"assistant","content":[{"type":"te';
    writeFileSync(s.file('cut'), whole + cut);
    const w = s.open('cut', header);
    w.message({ role: 'user', content: 'the next prompt' });
    w.close();
    const lines = linesOf(s.file('cut'));
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1).map((l) => JSON.parse(l).type)).toEqual(['session', 'message', 'message']);
    expect(JSON.parse(lines[2]!).message).toEqual({ role: 'user', content: 'the next prompt' });
    const aside = readdirSync(s.dir).filter((f) => f.startsWith('cut.jsonl.partial-'));
    expect(aside).toHaveLength(1);
    expect(aside[0]).toMatch(/^cut\.jsonl\.partial-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/);
    expect(readFileSync(join(s.dir, aside[0]!), 'utf8')).toBe(cut);
    expect(s.messages('cut').map((m) => m.content)).toEqual(['first', 'the next prompt']);
    expect(s.list().map((x) => [x.id, x.messages])).toEqual([['cut', 2]]);
  });

  test('a whole last line that only lacks its newline gets one; nothing is set aside', () => {
    const s = store();
    const text = jsonl([
      { type: 'session', id: 'nonl', ...header, created_at: '2026-11-01T00:00:00Z' },
      { type: 'message', message: { role: 'user', content: 'first' } },
    ]).slice(0, -1);
    writeFileSync(s.file('nonl'), text);
    const w = s.open('nonl', header);
    w.message({ role: 'user', content: 'second' });
    w.close();
    expect(s.messages('nonl').map((m) => m.content)).toEqual(['first', 'second']);
    expect(readdirSync(s.dir).sort()).toEqual(['nonl.jsonl']);
  });
});

test('stray entries in the sessions folder are not sessions: list and latest skip them', () => {
  const s = store();
  const w = s.open('real', header);
  w.message({ role: 'user', content: 'hello' });
  w.close();
  writeFileSync(join(s.dir, 'notes.txt'), 'my notes\n');
  writeFileSync(join(s.dir, 'foo.jsonl'), 'this is not json\n\u0000\u0001 garbage');
  writeFileSync(join(s.dir, 'empty.jsonl'), '');
  writeFileSync(join(s.dir, 'my notes.jsonl'), '{"type":"session"}\n');
  mkdirSync(join(s.dir, 'folder.jsonl'));
  symlinkSync(join(s.dir, 'nowhere'), join(s.dir, 'dangling.jsonl'));
  const fifo = spawnSync('mkfifo', [join(s.dir, 'pipe.jsonl')]);
  expect(fifo.status).toBe(0);
  writeFileSync(join(s.dir, 'locked.jsonl'), '', { mode: 0o000 });
  writeFileSync(join(s.dir, 'real.jsonl.partial-2026-01-01T00-00-00-000Z'), '{"type":"mess');
  writeFileSync(join(s.dir, 'real.jsonl.lock'), '12345');
  // The stray session-looking files are newer than the real one: --continue still passes them over.
  for (const f of ['foo.jsonl', 'empty.jsonl', 'locked.jsonl'])
    utimesSync(join(s.dir, f), new Date(Date.now() + 60_000), new Date(Date.now() + 60_000));

  expect(s.list().map((x) => x.id)).toEqual(['real']);
  expect(s.latest()).toBe('real');
});

describe('tool calls interrupted by a crash', () => {
  test('a tool call recorded as started but left without a result resumes as "may have run"; one never started as "did not run"', () => {
    const s = store();
    const w = s.open('crash', header);
    w.message({ role: 'user', content: 'do two things' });
    w.message({
      role: 'assistant',
      content: [
        { type: 'tool_use', id: 'toolu_ran', name: 'bash', input: { command: 'make' } },
        { type: 'tool_use', id: 'toolu_later', name: 'bash', input: { command: 'make install' } },
      ],
    });
    w.toolStart(['toolu_ran']);
    w.close(); // the process died while `make` ran
    expect(s.messages('crash').at(-1)).toEqual({
      role: 'user',
      content: [
        {
          type: 'tool_result',
          tool_use_id: 'toolu_ran',
          content:
            'Interrupted — this tool was started and may have run; check its effects before repeating it.',
          is_error: true,
        },
        {
          type: 'tool_result',
          tool_use_id: 'toolu_later',
          content: 'Interrupted: the session ended before this tool ran.',
          is_error: true,
        },
      ],
    });
  });
});

describe('session locks', () => {
  const lockOf = (s: SessionStore, id: string) => `${s.file(id)}.lock`;

  test('the lock names its holder: pid, process start time and host; closing removes it', () => {
    const s = store();
    const w = s.open('held', header);
    const lock = JSON.parse(readFileSync(lockOf(s, 'held'), 'utf8'));
    expect(lock).toMatchObject({ pid: process.pid, host: hostname() });
    expect(lock.start).toBe(processStart(process.pid));
    if (process.platform === 'linux') expect(lock.start).toMatch(/^[0-9a-f-]{36}:\d+$/);
    w.close();
    expect(existsSync(lockOf(s, 'held'))).toBe(false);
  });

  test('a live holder keeps the session: a second open fails naming its pid', () => {
    const s = store();
    const pid = liveProcess();
    writeFileSync(lockOf(s, 'busy'), JSON.stringify({ pid, start: processStart(pid), host: hostname() }));
    expect(() => s.open('busy', header)).toThrow(
      `session busy is open in another icode process (pid ${pid})`,
    );
    expect(JSON.parse(readFileSync(lockOf(s, 'busy'), 'utf8')).pid).toBe(pid);
  });

  test('a lock whose PID is alive but now another process (PID reused) is stale and taken over', () => {
    const s = store();
    const pid = liveProcess();
    writeFileSync(
      lockOf(s, 'reused'),
      JSON.stringify({ pid, start: 'some-other-boot:12345', host: hostname(), at: '2026-01-01T00:00:00Z' }),
    );
    const w = s.open('reused', header);
    expect(JSON.parse(readFileSync(lockOf(s, 'reused'), 'utf8')).pid).toBe(process.pid);
    w.close();
    expect(existsSync(lockOf(s, 'reused'))).toBe(false);
  });

  test('a lock of a dead process on this host, or a bare PID from an older icode, is stale and taken over', async () => {
    const s = store();
    const pid = await deadPid();
    writeFileSync(lockOf(s, 'dead'), JSON.stringify({ pid, start: '1', host: hostname() }));
    s.open('dead', header).close();
    writeFileSync(lockOf(s, 'legacy'), String(await deadPid()));
    s.open('legacy', header).close();
    expect(readdirSync(s.dir).filter((f) => f.includes('.lock'))).toEqual([]);
  });

  test('a lock from another host is respected, naming host, pid and the remedy; unlock removes it and says whose it was', () => {
    const s = store();
    s.open('remote', header).close();
    writeFileSync(
      lockOf(s, 'remote'),
      JSON.stringify({ pid: 4242, start: 'x:1', host: 'build-box-7', at: '2026-01-01T00:00:00.000Z' }),
    );
    expect(() => s.open('remote', header)).toThrow(
      'session remote is open in icode on host build-box-7 (pid 4242); if that process is gone, run: icode sessions unlock remote',
    );
    expect(s.unlock('remote')).toMatchObject({
      removed: true,
      state: 'remote',
      holder: { pid: 4242, host: 'build-box-7' },
      message:
        'removed the lock of session remote, held by pid 4242 on host build-box-7, since 2026-01-01T00:00:00.000Z (on another host: not checked)',
    });
    s.open('remote', header).close();
  });

  test('unlock refuses a holder still running on this host unless forced; says so when there is no lock; an unknown session is an error', () => {
    const s = store();
    s.open('live', header).close();
    const pid = liveProcess();
    writeFileSync(lockOf(s, 'live'), JSON.stringify({ pid, start: processStart(pid), host: hostname() }));
    const refused = s.unlock('live');
    expect(refused).toMatchObject({ removed: false, state: 'live' });
    expect(refused.message).toContain(`pid ${pid} on host ${hostname()}`);
    expect(refused.message).toContain('--force');
    expect(existsSync(lockOf(s, 'live'))).toBe(true);
    expect(s.unlock('live', { force: true })).toMatchObject({ removed: true, state: 'live' });
    expect(existsSync(lockOf(s, 'live'))).toBe(false);
    expect(s.unlock('live')).toMatchObject({ removed: false, message: 'session live is not locked' });
    expect(() => s.unlock('nosuch')).toThrow('no session nosuch in this project');
  });
});
