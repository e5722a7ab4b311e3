import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { projectSlug as slug } from '../../sdk/index.ts';
import { bootTestKernel } from '../../sdk/testing.ts';
import { loadScenarios, type MockServer, startMockServer } from '../../test/mock-api.ts';
import { builtinPlugins } from '../index.ts';

const scenarios = mkdtempSync(join(tmpdir(), 'icode-cron-scenarios-'));
const scenario = (name: string, steps: unknown[]) =>
  writeFileSync(join(scenarios, `${name}.json`), JSON.stringify({ name, steps }));
scenario('tick', [{ content: [{ type: 'text', text: 'tick' }] }]);
scenario('long', [
  { content: [{ type: 'tool_use', name: 'bash', input: { command: 'sleep 20' } }] },
  { content: [{ type: 'text', text: 'done' }] },
]);

let mock: MockServer;
beforeAll(async () => {
  mock = await startMockServer({ scenarios: loadScenarios(scenarios) });
});
afterAll(() => mock.close());

const boot = (reuse?: { home: string; project: string }) =>
  bootTestKernel({
    include: ['anthropic', 'session', 'bash', 'tasks', 'team-cron'],
    builtins: builtinPlugins,
    mode: 'workspace-write',
    env: { ANTHROPIC_BASE_URL: mock.url, ANTHROPIC_API_KEY: 'sk-test' },
    settings: {
      plugins: { anthropic: { config: { maxRetries: 0 } }, tasks: { config: { maxConcurrent: 8 } } },
    },
    ...(reuse ? { reuse } : {}),
  });

describe('cron', () => {
  test('a schedule every second fires once a second while icode runs, and stops when deleted', async () => {
    const h = await boot();
    const created = String(
      (
        await h.callTool('CronCreate', {
          schedule: '* * * * * *',
          prompt: 'PARITY_SCENARIO:tick',
          description: 'every second',
        })
      ).content,
    );
    const id = /cron_[0-9a-f]+/.exec(created)![0];
    await new Promise((r) => setTimeout(r, 2300));
    const tasks = await h.kernel.services.get('tasks');
    const fired = tasks.list().filter((t) => t.description.startsWith(`cron ${id}`)).length;
    expect(fired).toBeGreaterThanOrEqual(2);
    expect(fired).toBeLessThanOrEqual(3);
    expect(String((await h.callTool('CronList', {})).content)).toContain(`${id}  * * * * * *  next 20`);
    await h.callTool('CronDelete', { id });
    await new Promise((r) => setTimeout(r, 1200));
    expect(tasks.list().filter((t) => t.description.startsWith(`cron ${id}`)).length).toBe(fired);
    await h.shutdown();
  });

  test('an invalid expression is a clear error with the valid forms', async () => {
    const h = await boot();
    const r = await h.callTool('CronCreate', { schedule: '61 * * * *', prompt: 'x', description: 'bad' });
    expect(r.isError).toBe(true);
    expect(r.content).toContain('invalid schedule "61 * * * *"');
    expect(r.content).toContain('minute');
    expect(r.content).toContain('e.g. "*/15 * * * *"');
    await h.shutdown();
  });

  test('runs missed while icode was not running are reported once, not replayed', async () => {
    const h = await boot();
    await h.shutdown();
    const dir = join(h.home, '.icode', 'cron');
    mkdirSync(dir, { recursive: true });
    const tenMinutesAgo = new Date(Date.now() - 10 * 60_000 - 1000).toISOString();
    writeFileSync(
      join(dir, `${slug(h.project)}.json`),
      JSON.stringify([
        {
          id: 'cron_old',
          schedule: '* * * * *',
          prompt: 'PARITY_SCENARIO:tick',
          description: 'every minute',
          createdAt: tenMinutesAgo,
          lastRun: tenMinutesAgo,
          taskIds: [],
        },
      ]),
    );
    const again = await boot(h);
    expect(String((await again.callTool('CronList', {})).content)).toMatch(
      /missed 1[01] runs since .*; not replayed/,
    );
    expect((await again.kernel.services.get('tasks')).list()).toEqual([]);
    await again.shutdown();
    // icode cron list says so too, not only the model's CronList.
    const { execFileSync } = await import('node:child_process');
    const listed = execFileSync(
      process.execPath,
      [join(import.meta.dirname, '..', '..', 'dist', 'icode.cjs'), 'cron', 'list'],
      {
        cwd: h.project,
        env: { PATH: process.env.PATH, HOME: h.home, ICODE_CONFIG_DIR: join(h.home, '.icode') },
        encoding: 'utf8',
      },
    );
    expect(listed).toMatch(
      /cron_old .* every minute {2}\(missed 1[01] runs since .* while icode was not running; not replayed\)/,
    );
  });
});

describe('teams', () => {
  test('a team runs at most max_concurrent of its tasks, has one status, and TeamDelete stops it', async () => {
    const h = await boot();
    const tasks = Array.from({ length: 3 }, (_, i) => ({
      prompt: 'PARITY_SCENARIO:long',
      description: `part ${i}`,
    }));
    const status = String(
      (await h.callTool('TeamCreate', { name: 'crew', tasks, max_concurrent: 1 })).content,
    );
    expect(status).toMatch(/team crew: 2 waiting, 1 (queued|running)/);
    const deleted = String((await h.callTool('TeamDelete', { name: 'crew' })).content);
    expect(deleted).toContain('Deleted; it was:');
    const service = await h.kernel.services.get('tasks');
    await Promise.all(service.list().map((t) => service.settled(t.id)));
    expect(service.list().map((t) => t.status)).toEqual(['stopped']);
    expect((await h.callTool('TeamList', {})).content).toBe('No teams.');
    await h.shutdown();
  });
});

test('icode --mock cron run stays in the foreground, answers from the mock API, prints each firing and missed runs, and stops on Ctrl-C', async () => {
  const { spawn } = await import('node:child_process');
  const h = await boot();
  await h.callTool('CronCreate', {
    schedule: '* * * * * *',
    prompt: 'PARITY_SCENARIO:tick',
    description: 'every second',
  });
  await h.shutdown();
  // No key and no base URL: only --mock can answer the task the firing starts.
  const child = spawn(
    process.execPath,
    [
      join(import.meta.dirname, '..', '..', 'dist', 'icode.cjs'),
      '--mock',
      '--mock-scenarios',
      scenarios,
      'cron',
      'run',
    ],
    {
      cwd: h.project,
      env: { PATH: process.env.PATH, HOME: h.home, ICODE_CONFIG_DIR: join(h.home, '.icode') },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d) => (stderr += d));
  // Stopped once a firing is printed: waits on the event, not on time.
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d) => {
      stdout += d;
      if (/ cron_[0-9a-f]+ fired \(\* \* \* \* \* \*\): task \S+ {2}every second/.test(stdout)) resolve();
    }),
  );
  child.kill('SIGINT');
  const code = await new Promise((r) => child.on('close', r));
  expect(stderr).toContain('icode cron: 1 schedules');
  expect(code).toBe(130); // Ctrl-C: the kernel shuts down cleanly and exits 130, as shells expect
  const after = await boot(h);
  const fired = (await after.kernel.services.get('tasks'))
    .list()
    .filter((t) => t.description.includes('every second'));
  expect(fired.length).toBeGreaterThanOrEqual(1);
  expect(
    fired.every((t) => t.status === 'completed' || t.status === 'interrupted' || t.status === 'stopped'),
  ).toBe(true);
  await after.shutdown();
});
