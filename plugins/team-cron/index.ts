import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { definePlugin, defineTool, projectSlug as slug, type TaskRecord } from '../../sdk/index.ts';

interface CronJob {
  id: string;
  schedule: string;
  prompt: string;
  description: string;
  createdAt: string;
  /** When it last fired (or was last accounted for). */
  lastRun?: string;
  /** Runs that fell while icode was not running: reported once, never replayed. */
  missed?: { count: number; since: string; reportedAt: string };
  taskIds: string[];
}

/** The `cron` service: schedules of this project (for `icode cron run`). */
export interface CronService {
  list(): Array<CronJob & { nextRun?: string }>;
  /** Called at each firing with the task it started; returns the unsubscribe. */
  onFire(listener: (fired: { job: CronJob; taskId: string; at: string }) => void): () => void;
}
declare module '../../kernel/registries.ts' {
  interface Services {
    cron: CronService;
  }
}

const FORMS =
  'a cron expression has 5 fields (minute hour day-of-month month day-of-week), e.g. "*/15 * * * *" for every 15 minutes or "0 9 * * 1-5" for 9:00 on weekdays; a sixth field in front is seconds ("*/10 * * * * *"); nicknames such as @hourly and @daily work too';

export default definePlugin({
  async activate(ctx) {
    const tasks = await ctx.services.get('tasks');
    const file = join(ctx.userDir, 'cron', `${slug(ctx.projectRoot)}.json`);
    const load = (): CronJob[] => {
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as CronJob[];
      } catch {
        return [];
      }
    };
    const jobs = new Map(load().map((j) => [j.id, j]));
    // croner is loaded only for a project that has schedules, or when one is created.
    let Cron: typeof import('croner').Cron | undefined;
    const cronClass = async () => (Cron ??= (await import('croner')).Cron);
    if (jobs.size) await cronClass();
    const save = () => {
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(`${file}.tmp`, JSON.stringify([...jobs.values()], null, 2));
      renameSync(`${file}.tmp`, file);
    };
    const parse = (schedule: string) => {
      try {
        return new Cron!(schedule, { paused: true });
      } catch (error) {
        throw new Error(`invalid schedule "${schedule}": ${(error as Error).message}; ${FORMS}`);
      }
    };

    // Runs missed while icode was not running are counted and reported, not replayed.
    const now = new Date();
    for (const job of jobs.values()) {
      const since = new Date(job.lastRun ?? job.createdAt);
      let count = 0;
      const probe = parse(job.schedule);
      for (let next = probe.nextRun(since); next && next < now && count < 1000; next = probe.nextRun(next))
        count++;
      if (count) job.missed = { count, since: since.toISOString(), reportedAt: now.toISOString() };
      job.lastRun = now.toISOString();
    }
    if (jobs.size) save();

    const timers = new Map<string, import('croner').Cron>();
    const firing = new Set<(fired: { job: CronJob; taskId: string; at: string }) => void>();
    const schedule = (job: CronJob) => {
      timers.set(
        job.id,
        new Cron!(job.schedule, { unref: true, protect: true }, () => {
          const t = tasks.create({ prompt: job.prompt, description: `cron ${job.id}: ${job.description}` });
          job.lastRun = new Date().toISOString();
          job.taskIds = [...job.taskIds.slice(-49), t.id];
          save();
          for (const listener of firing) listener({ job, taskId: t.id, at: job.lastRun });
        }),
      );
    };
    for (const job of jobs.values()) schedule(job);
    ctx.onDispose(() => {
      for (const t of timers.values()) t.stop();
    });
    const list = () =>
      [...jobs.values()].map((j) => {
        const next = timers.get(j.id)?.nextRun();
        return { ...j, ...(next ? { nextRun: next.toISOString() } : {}) };
      });
    ctx.services.provide('cron', {
      list,
      onFire: (listener) => {
        firing.add(listener);
        return () => firing.delete(listener);
      },
    });

    ctx.tools.register(
      defineTool({
        name: 'CronCreate',
        description: `Run a prompt as a background task on a schedule, while icode runs (or under \`icode cron run\`). ${FORMS}.`,
        input: z.object({
          schedule: z.string().min(1),
          prompt: z.string().min(1),
          description: z.string().min(1),
        }),
        mode: 'read-only',
        async execute({ schedule: expr, prompt, description }) {
          await cronClass();
          const next = parse(expr).nextRun();
          const job: CronJob = {
            id: `cron_${randomBytes(3).toString('hex')}`,
            schedule: expr,
            prompt,
            description,
            createdAt: new Date().toISOString(),
            lastRun: new Date().toISOString(),
            taskIds: [],
          };
          jobs.set(job.id, job);
          save();
          schedule(job);
          return `Scheduled ${job.id} (${expr}); next run ${next?.toISOString() ?? 'never'}.`;
        },
      }),
    );
    ctx.tools.register(
      defineTool({
        name: 'CronList',
        description:
          "This project's schedules with their next run and any runs missed while icode was not running.",
        input: z.object({}),
        mode: 'read-only',
        execute: () => {
          const all = list();
          if (!all.length) return 'No schedules.';
          return all
            .map(
              (j) =>
                `${j.id}  ${j.schedule}  next ${j.nextRun ?? 'never'}  ${j.description}${j.missed ? `  (missed ${j.missed.count} runs since ${j.missed.since}; not replayed)` : ''}`,
            )
            .join('\n');
        },
      }),
    );
    ctx.tools.register(
      defineTool({
        name: 'CronDelete',
        description: 'Delete a schedule.',
        input: z.object({ id: z.string() }),
        mode: 'read-only',
        execute({ id }) {
          if (!jobs.delete(id))
            throw new Error(`no schedule ${id}; known: ${[...jobs.keys()].join(', ') || 'none'}`);
          timers.get(id)?.stop();
          timers.delete(id);
          save();
          return `Deleted ${id}.`;
        },
      }),
    );

    // Teams: named groups of tasks that run at most `max_concurrent` at a time, with one status.
    const teams = new Map<
      string,
      {
        name: string;
        taskIds: string[];
        pending: Array<{ prompt: string; description: string }>;
        max: number;
      }
    >();
    const teamStatus = (name: string) => {
      const team = teams.get(name);
      if (!team) throw new Error(`no team ${name}; known: ${[...teams.keys()].join(', ') || 'none'}`);
      const records = team.taskIds.map((id) => tasks.get(id)).filter((t): t is TaskRecord => Boolean(t));
      const counts: Record<string, number> = { waiting: team.pending.length };
      for (const t of records) counts[t.status] = (counts[t.status] ?? 0) + 1;
      const summary = Object.entries(counts)
        .filter(([, n]) => n)
        .map(([s, n]) => `${n} ${s}`)
        .join(', ');
      return `team ${name}: ${summary}\n${records.map((t) => `  ${t.id}  ${t.status.padEnd(11)} ${t.description}${t.result ? ` → ${t.result.slice(0, 200)}` : ''}`).join('\n')}`;
    };
    const feed = (name: string) => {
      const team = teams.get(name);
      if (!team) return;
      const active = team.taskIds.filter((id) =>
        ['queued', 'running'].includes(tasks.get(id)?.status ?? ''),
      ).length;
      for (let i = active; i < team.max && team.pending.length; i++) {
        const next = team.pending.shift()!;
        const t = tasks.create({ ...next, team: name });
        team.taskIds.push(t.id);
        void tasks.settled(t.id).then(() => feed(name));
      }
    };
    ctx.tools.register(
      defineTool({
        name: 'TeamCreate',
        description:
          'Start a named team of background tasks that run at most max_concurrent at a time; see them with TeamList.',
        input: z.object({
          name: z.string().regex(/^[\w-]+$/),
          tasks: z.array(z.object({ prompt: z.string().min(1), description: z.string().min(1) })).min(1),
          max_concurrent: z.number().int().min(1).max(16).optional(),
        }),
        mode: 'read-only',
        execute({ name, tasks: list_, max_concurrent = 2 }) {
          if (teams.has(name)) throw new Error(`team ${name} exists; delete it first or pick another name`);
          teams.set(name, { name, taskIds: [], pending: [...list_], max: max_concurrent });
          feed(name);
          return teamStatus(name);
        },
      }),
    );
    ctx.tools.register(
      defineTool({
        name: 'TeamList',
        description: 'The combined status of a team (or of every team).',
        input: z.object({ name: z.string().optional() }),
        mode: 'read-only',
        execute: ({ name }) =>
          name ? teamStatus(name) : [...teams.keys()].map(teamStatus).join('\n') || 'No teams.',
      }),
    );
    ctx.tools.register(
      defineTool({
        name: 'TeamDelete',
        description: "Stop a team's tasks (those waiting never start) and remove the team.",
        input: z.object({ name: z.string() }),
        mode: 'read-only',
        execute({ name }) {
          const status = teamStatus(name);
          const team = teams.get(name)!;
          team.pending = [];
          for (const id of team.taskIds)
            if (['queued', 'running'].includes(tasks.get(id)?.status ?? '')) tasks.stop(id);
          teams.delete(name);
          return `Deleted; it was:\n${status}`;
        },
      }),
    );
  },
});
