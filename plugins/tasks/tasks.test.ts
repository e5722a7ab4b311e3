import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bootTestKernel } from '../../sdk/testing.ts';
import { loadScenarios, type MockServer, startMockServer } from '../../test/mock-api.ts';
import { builtinPlugins } from '../index.ts';
import { TaskStore } from './store.ts';

// Scripted sub-agents: one that finishes, one that sleeps in bash until it is stopped.
const scenarios = mkdtempSync(join(tmpdir(), 'icode-task-scenarios-'));
const scenario = (name: string, steps: unknown[]) =>
  writeFileSync(join(scenarios, `${name}.json`), JSON.stringify({ name, steps }));
scenario('quick_task', [
  { content: [{ type: 'tool_use', name: 'bash', input: { command: 'echo working' } }] },
  { content: [{ type: 'text', text: 'quick task done' }] },
]);
// This run's own token: the test looks only at processes whose command line carries it.
const TOKEN = `late-${process.pid}-${Date.now()}`;
scenario('slow_task', [
  { content: [{ type: 'tool_use', name: 'bash', input: { command: `sleep 30; echo ${TOKEN}` } }] },
  { content: [{ type: 'text', text: 'slow task done' }] },
]);
scenario('listening_task', [
  { content: [{ type: 'tool_use', name: 'bash', input: { command: 'sleep 0.5' } }] },
  { content: [{ type: 'text', text: 'heard it' }] },
]);

/** The processes whose command line holds `token` (this file's own), once they have gone or after 5 s. */
async function gone(token: string): Promise<string[]> {
  const holding = () =>
    readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(token);
        } catch {
          return false;
        }
      });
  for (let i = 0; i < 100 && holding().length; i++) await new Promise((r) => setTimeout(r, 50));
  return holding();
}

let mock: MockServer;
beforeAll(async () => {
  mock = await startMockServer({ scenarios: loadScenarios(scenarios) });
});
afterAll(() => mock.close());

const boot = (config: Record<string, unknown> = {}, reuse?: { home: string; project: string }) =>
  bootTestKernel({
    include: ['anthropic', 'session', 'bash', 'tasks'],
    builtins: builtinPlugins,
    mode: 'workspace-write',
    env: { ANTHROPIC_BASE_URL: mock.url, ANTHROPIC_API_KEY: 'sk-test' },
    settings: { plugins: { anthropic: { config: { maxRetries: 0 } }, tasks: { config } } },
    ...(reuse ? { reuse } : {}),
  });

describe('background tasks', () => {
  test('TaskCreate returns at once; the sub-agent runs its own session with tools; TaskOutput waits and reads it', async () => {
    const h = await boot();
    const created = String(
      (await h.callTool('TaskCreate', { prompt: 'Go. PARITY_SCENARIO:quick_task', description: 'quick' }))
        .content,
    );
    const id = /task_[0-9a-f]+/.exec(created)![0];
    const out = String(
      (await h.callTool('TaskOutput', { task_id: id, block: true, timeout_ms: 10_000 })).content,
    );
    expect(out).toContain(`${id}: completed — quick`);
    expect(out).toContain('result: quick task done');
    expect(out).toContain('● bash {"command":"echo working"}');
    expect(String((await h.callTool('TaskOutput', { task_id: id })).content)).toContain(
      '--- new output ---\n(none)',
    );
    expect(String((await h.callTool('TaskList', {})).content)).toContain(`${id}  completed`);
    await h.shutdown();
  });

  test('TaskStop kills what the task runs, even while its tool call is starting; the record says stopped', async () => {
    const h = await boot();
    const tasks = await h.kernel.services.get('tasks');
    // Stopped as its bash call starts (the call is in the output before the command runs), a few times over.
    for (let round = 0; round < 3; round++) {
      const t = tasks.create({ prompt: 'Go. PARITY_SCENARIO:slow_task', description: 'slow' });
      for (let i = 0; i < 200 && !readFileSync(t.outputFile, 'utf8').includes('sleep 30'); i++)
        await new Promise((r) => setTimeout(r, 10));
      const r = await h.callTool('TaskStop', { task_id: t.id });
      expect(r.content).toContain(`${t.id}: stopped`);
      expect(await gone(TOKEN)).toEqual([]); // nothing it started is left running
    }
    await h.shutdown();
  });

  test('at most maxConcurrent run; the rest wait in the queue', async () => {
    const h = await boot({ maxConcurrent: 1 });
    const tasks = await h.kernel.services.get('tasks');
    const a = tasks.create({ prompt: 'Go. PARITY_SCENARIO:slow_task', description: 'a' });
    const b = tasks.create({ prompt: 'Go. PARITY_SCENARIO:quick_task', description: 'b' });
    expect([tasks.get(a.id)?.status, tasks.get(b.id)?.status]).toEqual(['running', 'queued']);
    tasks.stop(a.id);
    expect((await tasks.settled(a.id)).status).toBe('stopped');
    expect((await tasks.settled(b.id)).status).toBe('completed');
    expect(await gone(TOKEN)).toEqual([]);
    await h.shutdown();
  });

  test('TaskUpdate reaches a running task before its next model turn', async () => {
    const h = await boot();
    const tasks = await h.kernel.services.get('tasks');
    const t = tasks.create({ prompt: 'Go. PARITY_SCENARIO:listening_task', description: 'listens' });
    await new Promise((r) => setTimeout(r, 150));
    expect((await h.callTool('TaskUpdate', { task_id: t.id, message: 'also check the docs' })).content).toBe(
      `Sent to ${t.id}.`,
    );
    await tasks.settled(t.id);
    const bodies = mock.requests.filter((q) => q.path === '/v1/messages').map((q) => JSON.stringify(q.body));
    expect(bodies.some((b) => b.includes('also check the docs') && b.includes('listening_task'))).toBe(true);
    expect((await h.callTool('TaskUpdate', { task_id: t.id, message: 'late' })).content).toContain(
      'not running',
    );
    await h.shutdown();
  });

  test('after a restart, finished tasks are listed and ones whose icode died are marked interrupted', async () => {
    const h = await boot();
    const tasks = await h.kernel.services.get('tasks');
    const done = tasks.create({ prompt: 'Go. PARITY_SCENARIO:quick_task', description: 'done before' });
    await tasks.settled(done.id);
    await h.shutdown();
    const store = new TaskStore(join(h.home, '.icode'), h.project);
    mkdirSync(store.dir, { recursive: true });
    store.save({
      ...done,
      id: 'task_dead0001',
      status: 'running',
      pid: 2 ** 22 + 7,
      description: 'was running',
    });
    const again = await boot({}, h);
    const listed = (await again.kernel.services.get('tasks')).list();
    expect(listed.find((t) => t.id === done.id)?.status).toBe('completed');
    expect(listed.find((t) => t.id === 'task_dead0001')).toMatchObject({
      status: 'interrupted',
      error: 'icode exited while it ran',
    });
    await again.shutdown();
  });
});
