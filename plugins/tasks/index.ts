import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import {
  definePlugin,
  defineTool,
  type SessionEvent,
  type TaskRecord,
  type TasksService,
} from '../../sdk/index.ts';
import { renderTasks } from './render.ts';
import { alive, TaskStore } from './store.ts';

const ENDED = new Set(['completed', 'failed', 'stopped', 'interrupted']);

/** Waits for a promise at most `ms`; the timer is cleared either way, so it never holds the process open. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export default definePlugin({
  config: z.strictObject({
    /** How many tasks run at once; more wait in a queue. */
    maxConcurrent: z.number().int().min(1).max(16).default(3),
    /** Tools a task may use (its own Task* tools are never among them, so tasks do not spawn tasks). */
    tools: z
      .array(z.string())
      .default([
        'read_file',
        'write_file',
        'edit_file',
        'glob_search',
        'grep_search',
        'bash',
        'bash_output',
        'TodoWrite',
      ]),
    maxTurns: z.number().int().positive().default(30),
  }),
  activate(ctx) {
    const store = new TaskStore(ctx.userDir, ctx.projectRoot);
    const tasks = new Map<string, TaskRecord>(store.all().map((t) => [t.id, t]));
    // Tasks that were running in an icode that is gone are marked, not lost.
    for (const t of tasks.values()) {
      if (!ENDED.has(t.status) && t.pid !== process.pid && !alive(t.pid)) {
        Object.assign(t, {
          status: 'interrupted',
          endedAt: new Date().toISOString(),
          error: 'icode exited while it ran',
        });
        store.save(t);
      }
    }
    const running = new Map<string, { controller: AbortController; inbox: string[] }>();
    const queue: string[] = [];
    const waiters = new Map<string, Array<(t: TaskRecord) => void>>();
    const readOffsets = new Map<string, number>();

    const finish = (t: TaskRecord, patch: Partial<TaskRecord>) => {
      Object.assign(t, patch, { endedAt: new Date().toISOString() });
      store.save(t);
      running.delete(t.id);
      for (const w of waiters.get(t.id) ?? []) w(t);
      waiters.delete(t.id);
      pump();
    };

    const start = async (t: TaskRecord) => {
      const controller = new AbortController();
      const inbox: string[] = [];
      running.set(t.id, { controller, inbox });
      Object.assign(t, { status: 'running', startedAt: new Date().toISOString(), pid: process.pid });
      store.save(t);
      const write = (text: string) => store.output(t, text);
      try {
        const session = await ctx.services.get('session');
        const known = new Set(ctx.tools.names());
        const result = await session.run({
          prompt: t.prompt,
          maxTurns: ctx.config.maxTurns,
          tools: ctx.config.tools.filter((n) => known.has(n)),
          signal: controller.signal,
          inbox: () => inbox.splice(0),
          onEvent: (e: SessionEvent) => {
            if (e.type === 'session_start') t.sessionId = e.session_id;
            else if (e.type === 'text_delta') write(e.text);
            else if (e.type === 'tool_use') write(`\n● ${e.name} ${JSON.stringify(e.input)}\n`);
            else if (e.type === 'tool_result')
              write(
                `  ${e.is_error ? '✗' : '⎿'} ${(typeof e.output === 'string' ? e.output : JSON.stringify(e.output)).slice(0, 2000)}\n`,
              );
          },
        });
        if (controller.signal.aborted) finish(t, { status: 'stopped', error: 'stopped by TaskStop' });
        else if (result.is_error)
          finish(t, { status: 'failed', result: result.result, error: result.error ?? result.stop_reason });
        else finish(t, { status: 'completed', result: result.result });
      } catch (error) {
        finish(t, { status: 'failed', error: error instanceof Error ? error.message : String(error) });
      }
    };

    function pump() {
      while (running.size < ctx.config.maxConcurrent && queue.length) {
        const next = tasks.get(queue.shift()!);
        if (next?.status === 'queued') void start(next);
      }
    }

    const task = (id: string) => {
      const t = tasks.get(id);
      if (!t) throw new Error(`no task ${id}; known: ${[...tasks.keys()].join(', ') || 'none'}`);
      return t;
    };
    const service: TasksService = {
      create({ prompt, description, team }) {
        const id = `task_${randomBytes(4).toString('hex')}`;
        const t: TaskRecord = {
          id,
          description,
          prompt,
          status: 'queued',
          pid: process.pid,
          createdAt: new Date().toISOString(),
          outputFile: join(store.dir, `${id}.log`),
          ...(team ? { team } : {}),
        };
        tasks.set(id, t);
        store.save(t);
        store.output(t, '');
        queue.push(id);
        pump();
        return t;
      },
      get: (id) => tasks.get(id),
      list: () => [...tasks.values()],
      stop(id) {
        const t = task(id);
        const r = running.get(id);
        if (r) r.controller.abort(new Error('stopped by TaskStop'));
        else if (t.status === 'queued') {
          queue.splice(queue.indexOf(id), 1);
          finish(t, { status: 'stopped', error: 'stopped before it started' });
        }
        return t;
      },
      settled: (id) =>
        new Promise((resolve) => {
          const t = task(id);
          if (ENDED.has(t.status)) resolve(t);
          else waiters.set(id, [...(waiters.get(id) ?? []), resolve]);
        }),
    };
    ctx.services.provide('tasks', service);
    ctx.onDispose(() => {
      for (const r of running.values()) r.controller.abort(new Error('icode is shutting down'));
    });

    const newOutput = (t: TaskRecord) => {
      let text = '';
      try {
        text = readFileSync(t.outputFile, 'utf8');
      } catch {}
      const from = readOffsets.get(t.id) ?? 0;
      readOffsets.set(t.id, text.length);
      return text.slice(from);
    };
    const describe = (t: TaskRecord) =>
      [
        `${t.id}: ${t.status} — ${t.description}`,
        t.result ? `result: ${t.result}` : '',
        t.error ? `error: ${t.error}` : '',
      ]
        .filter(Boolean)
        .join('\n');

    ctx.tools.register(
      defineTool({
        name: 'TaskCreate',
        description:
          'Start a sub-agent in the background on a self-contained task: it has its own conversation, the same permissions and a subset of the tools. Returns a task id at once; read progress with TaskOutput.',
        input: z.object({
          prompt: z.string().min(1).describe('Everything the sub-agent needs to know to do the task'),
          description: z.string().min(1).describe('A few words for lists'),
        }),
        mode: 'read-only',
        execute: ({ prompt, description }) => {
          const t = service.create({ prompt, description });
          return `Started ${t.id} (${t.status}). Read its progress with TaskOutput {"task_id": "${t.id}"}; its output file is ${t.outputFile}`;
        },
      }),
    );
    ctx.tools.register(
      defineTool({
        name: 'TaskGet',
        description: 'The state of one task: status, result or error.',
        input: z.object({ task_id: z.string() }),
        mode: 'read-only',
        concurrencySafe: true,
        execute: ({ task_id }) => describe(task(task_id)),
      }),
    );
    ctx.tools.register(
      defineTool({
        name: 'TaskList',
        description: "This project's tasks with their status.",
        input: z.object({}),
        mode: 'read-only',
        concurrencySafe: true,
        execute: () => renderTasks(service.list()),
      }),
    );
    ctx.tools.register(
      defineTool({
        name: 'TaskStop',
        description: 'Stop a running or queued task (what it runs is killed, process trees included).',
        input: z.object({ task_id: z.string() }),
        mode: 'read-only',
        async execute({ task_id }) {
          const t = service.stop(task_id);
          const ended = await Promise.race([
            service.settled(t.id),
            new Promise<TaskRecord>((r) => setTimeout(() => r(t), 5000)),
          ]);
          return describe(ended);
        },
      }),
    );
    ctx.tools.register(
      defineTool({
        name: 'TaskUpdate',
        description: 'Send a message to a running task; it sees it before its next model turn.',
        input: z.object({ task_id: z.string(), message: z.string().min(1) }),
        mode: 'read-only',
        execute({ task_id, message }) {
          const t = task(task_id);
          const r = running.get(t.id);
          if (!r) throw new Error(`${t.id} is ${t.status}, not running; messages reach running tasks only`);
          r.inbox.push(message);
          return `Sent to ${t.id}.`;
        },
      }),
    );
    ctx.tools.register(
      defineTool({
        name: 'TaskOutput',
        description:
          'Read the new output of a task (or of a background bash command, bash_…), optionally waiting for it to finish up to timeout_ms.',
        input: z.object({
          task_id: z.string(),
          block: z.boolean().optional().describe('Wait until the task ends (up to timeout_ms)'),
          timeout_ms: z.number().int().min(0).max(600_000).optional(),
        }),
        mode: 'read-only',
        async execute({ task_id, block = false, timeout_ms = 30_000 }, tc) {
          if (task_id.startsWith('bash_')) {
            const r = await ctx.tools.call(
              { id: `task-output-${task_id}`, name: 'bash_output', input: { id: task_id } },
              { sessionMode: tc.sessionMode ?? 'prompt', cwd: tc.cwd, roots: tc.roots, signal: tc.signal },
            );
            if (r.isError) throw new Error(String(r.content));
            return r.content;
          }
          const t = task(task_id);
          if (block && !ENDED.has(t.status)) await within(service.settled(t.id), timeout_ms);
          const size = (() => {
            try {
              return statSync(t.outputFile).size;
            } catch {
              return 0;
            }
          })();
          const fresh = size ? newOutput(t) : '';
          return `${describe(t)}\n--- new output ---\n${fresh || '(none)'}`;
        },
      }),
    );
    ctx.commands.register({
      name: 'tasks',
      description: 'Background tasks and their state',
      run: () => renderTasks(service.list()),
    });
  },
});
