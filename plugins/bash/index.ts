import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import * as z from 'zod';
import {
  commandEnv,
  definePlugin,
  defineTool,
  expandPaths,
  isInside,
  PROTECTED_PATHS,
  type SandboxProbe,
  sandboxed,
  sharedProbe,
  type ToolContext,
  type ToolMode,
} from '../../sdk/index.ts';
import { analyzeBash, type BashVerdict } from './analyze.ts';
import { killGroup, runCommand, startBackground } from './run.ts';
import { sampleFile } from './spill.ts';

export const BashConfig = z.strictObject({
  /** Default timeout of a command, in ms (the model may ask for up to maxTimeoutMs). */
  timeoutMs: z.number().int().positive().default(120_000),
  maxTimeoutMs: z.number().int().positive().default(600_000),
  /**
   * What the model is shown of a command's output: the whole up to this many characters (bytes), else its
   * head and tail in as many, with the path of a file that holds the whole.
   */
  maxOutputChars: z.number().int().positive().default(30_000),
  /** Output, in bytes, after which a command is killed; unset: a command is never killed for its output. */
  maxOutputBytes: z.number().int().positive().optional(),
  /** auto: use bubblewrap when it works here; off: never (non-read-only commands then need full access). */
  sandbox: z.enum(['auto', 'off']).default('auto'),
  /** Network inside the sandbox for every command (off: a command that needs it asks first). */
  network: z.boolean().default(false),
  /** Paths, relative to each workspace root, that sandboxed commands can never change or create. */
  protectedPaths: z.array(z.string()).default(PROTECTED_PATHS),
  /** More paths outside the workspace a sandboxed command may read (caches, SDKs); `~/` is the home folder. */
  allowRead: z.array(z.string()).default([]),
  /** More paths a sandboxed command may not see, beside the credential folders and `Read(...)` deny rules. */
  denyRead: z.array(z.string()).default([]),
  /** Environment variables passed to commands beside the allow-list (PATH, HOME, LANG, …); "*" passes all. */
  env: z.array(z.string()).default([]),
});

interface Background {
  id: string;
  command: string;
  pid: number | undefined;
  outputFile: string;
  exitCode?: number | undefined;
  done: boolean;
  outputLimited: boolean;
  readOffset: number;
  /** Newlines in the log before readOffset, and whether the last byte there was one. */
  readNewlines: number;
  readEndsLine: boolean;
  /** Settles when the command has exited and its sandbox is let go (placeholders removed). */
  finished: Promise<unknown>;
}

/**
 * The files outside the workspace the user approved writing, each made to exist (empty, untouched if it
 * does) so that exactly that file can be shown writable — never its folder, where other files, credentials
 * among them, would become writable too. A folder that was named is shown as it is.
 */
function approvedFiles(paths: string[]): string[] {
  return paths.flatMap((p) => {
    if (existsSync(p)) return [p];
    try {
      mkdirSync(dirname(p), { recursive: true });
      closeSync(openSync(p, 'a'));
      return [p];
    } catch {
      return [];
    }
  });
}

export default definePlugin({
  config: BashConfig,
  async activate(ctx) {
    const config = ctx.config;
    const probe: SandboxProbe =
      config.sandbox === 'off'
        ? {
            reason: 'the sandbox is switched off in config (plugins.bash.config.sandbox)',
            fix: 'set it to "auto"',
          }
        : await sharedProbe(ctx.env, join(ctx.userDir, 'state'));
    if (!probe.bwrap)
      ctx.health.degraded(
        `no OS sandbox: ${probe.reason}; every command that is not read-only needs approval`,
        probe.fix,
      );
    else if (probe.socketsOpen) ctx.health.degraded(probe.socketsOpen, 'run icode on x86_64 or arm64 Linux');
    const cwds = new Map<string, string>();
    const verdicts = new WeakMap<object, Promise<BashVerdict>>();
    const background = new Map<string, Background>();
    // The bash plugin's own list and the gate's (permissions.protectedPaths): one list for every judge.
    const protectedPaths = [...new Set([...config.protectedPaths, ...ctx.permissions.protectedPaths()])];
    const outputDir = join(ctx.userDir, 'tool-output');
    // Saved outputs are kept for a week, so they cannot pile up until the disk is full.
    void pruneOutputs(outputDir, 7 * 24 * 3600_000);
    // A saved output (a long output, a background log) lives outside the workspace; it holds only what the
    // model's own commands printed, so the gate lets read-only tools read back exactly these files (deny
    // and ask rules still hold).
    const keep = (file: string) => {
      try {
        ctx.permissions.grantRead(file);
      } catch {} // not there (the output could not be saved): nothing to read back
    };
    const env = commandEnv(ctx.env, config.env);
    const home = ctx.env.HOME ?? homedir();
    const stateDir = join(ctx.userDir, 'state');
    const homePath = (p: string) => (p === '~' ? home : p.startsWith('~/') ? join(home, p.slice(2)) : p);

    const cwdOf = (t: ToolContext) => cwds.get(t.sessionId ?? '') ?? t.cwd;
    // mode(), subjects() and the permission evidence all need the verdict: judged once per call.
    const verdictOf = (input: { command: string }, t: ToolContext) => {
      let v = verdicts.get(input);
      if (!v) {
        v = analyzeBash(input.command, {
          cwd: cwdOf(t),
          roots: t.roots,
          protectedPaths: protectedPaths,
        });
        verdicts.set(input, v);
      }
      return v;
    };

    // Only refusals come as evidence; asks travel with the subjects, so a rule that covers them can allow.
    ctx.hooks.permissionRequest.tap(async (request) => {
      if (request.tool !== 'bash') return undefined;
      const v = await verdicts.get(request.input as object);
      if (v?.decision !== 'deny') return undefined;
      return { decision: 'deny', reason: v.reasons.join('; ') };
    });

    ctx.tools.register(
      defineTool({
        name: 'bash',
        aliases: ['Bash'],
        // Its own timeout kills the command; the kernel's deadline is only the backstop behind it.
        timeoutMs: (input) => Math.min(input.timeout ?? config.timeoutMs, config.maxTimeoutMs) + 30_000,
        description:
          'Run a bash command in the workspace. The working directory persists between calls (cd sticks). Commands are checked before they run and, where the machine allows, run in a sandbox that can write only the workspace and a private /tmp. Use run_in_background for servers and watchers, then bash_output to read them. A long output shows its head and tail and names a file holding all of it, which read_file pages through.',
        input: z.object({
          command: z.string().describe('The command line to run'),
          timeout: z
            .number()
            .int()
            .positive()
            .optional()
            .describe(`Timeout in ms (default ${config.timeoutMs}, at most ${config.maxTimeoutMs})`),
          description: z.string().optional().describe('What the command does, in a few words'),
          run_in_background: z
            .boolean()
            .optional()
            .describe('Start it and return at once with an id for bash_output'),
        }),
        async mode(input, t): Promise<ToolMode> {
          const v = await verdictOf(input, t);
          if (v.readOnly) return 'read-only';
          // Without a sandbox a command is not confined to the workspace: it needs full access.
          return probe.bwrap ? 'workspace-write' : 'danger-full-access';
        },
        subjects: async (input, t) => {
          const v = await verdictOf(input, t);
          const sandboxedHere = Boolean(probe.bwrap) && t.sessionMode !== 'danger-full-access';
          // Sandboxed commands have no network: one that needs it asks, naming itself.
          const network =
            sandboxedHere && !config.network
              ? v.network.map(
                  (why) =>
                    `${why}, and sandboxed commands have no network: approve to run it with the network`,
                )
              : [];
          // Without a sandbox nothing hides a denied file from a recursive search: such a search asks.
          const exposed = sandboxedHere
            ? []
            : expandPaths(ctx.permissions.deniedPaths('read'))
                .filter((p) => v.recursiveReads.some((dir) => isInside(p, dir)))
                .map(
                  (p) =>
                    `the search reads every file under its folders, ${p} among them, which a Read rule denies`,
                );
          const needs = [...v.needs, ...network, ...exposed];
          const asking = exposed.length
            ? v.commands.map((_, i) => i)
            : [...new Set([...v.asking, ...(network.length ? v.networkAt : [])])];
          return {
            kind: 'command',
            values: v.commands,
            covers: v.covers,
            ...(needs.length ? { needs, asking } : {}),
            reads: v.reads,
            writes: v.writes,
          };
        },
        async execute(input, t) {
          const v = await verdictOf(input, t);
          const cwd = cwdOf(t);
          const outside = (p: string) => !t.roots.some((root) => isInside(p, root));
          const unconfined = !probe.bwrap || t.sessionMode === 'danger-full-access';
          // Reached only when allowed: a command that needs the network was approved (or the project allows it).
          const policy = {
            roots: t.roots,
            writable: !v.readOnly,
            network: config.network || v.network.length > 0,
            protectedPaths: protectedPaths,
            unlocked: v.unlocks,
            hidden: expandPaths([...ctx.permissions.deniedPaths('read'), ...config.denyRead.map(homePath)]),
            // Reached only when allowed: what it reads or writes outside the workspace was approved (those
            // always ask), so the sandbox shows exactly that, for this command; credentials stay hidden.
            readable: [...config.allowRead.map(homePath), ...v.reads.filter(outside)],
            writableOutside: approvedFiles(v.writes.filter(outside)),
            home,
            cwd,
            env: ctx.env,
            stateDir,
            // run.ts spawns it detached: its own session, so a kill of the group reaches every process.
            ownSession: true,
          };
          const sandbox = unconfined
            ? undefined
            : (file: string, args: string[]) => sandboxed(probe, policy, { file, args });
          const options = {
            command: input.command,
            cwd,
            env,
            timeoutMs: Math.min(input.timeout ?? config.timeoutMs, config.maxTimeoutMs),
            signal: t.signal,
            ...(sandbox ? { sandbox } : {}),
            outputDir,
            maxOutputChars: config.maxOutputChars,
            ...(config.maxOutputBytes ? { maxOutputBytes: config.maxOutputBytes } : {}),
          };
          if (input.run_in_background) {
            const id = `bash_${randomBytes(4).toString('hex')}`;
            const started = await startBackground(options, id);
            keep(started.outputFile);
            const entry: Background = {
              id,
              command: input.command,
              pid: started.pid,
              outputFile: started.outputFile,
              done: false,
              outputLimited: false,
              readOffset: 0,
              readNewlines: 0,
              readEndsLine: true,
              finished: started.done.catch(() => undefined),
            };
            background.set(id, entry);
            void started.done.then(
              (end) => Object.assign(entry, { done: true, ...end }),
              () => Object.assign(entry, { done: true }),
            );
            return `Started in the background as ${id} (pid ${started.pid}); read its output with bash_output {"id": "${id}"}. Output file: ${started.outputFile}`;
          }
          const r = await runCommand(options);
          if (r.savedTo) keep(r.savedTo);
          const notes: string[] = [];
          if (r.finalCwd && r.finalCwd !== cwd) {
            if (t.roots.some((root) => isInside(r.finalCwd!, root))) cwds.set(t.sessionId ?? '', r.finalCwd);
            else
              notes.push(
                `[the command ended in ${r.finalCwd}, outside the workspace; the working directory stays ${cwd}]`,
              );
          }
          if (!unconfined && /Read-only file system|EROFS/.test(r.output))
            notes.push(
              `[the sandbox keeps the system folders and ${protectedPaths.join(', ')} read-only; outside the workspace only approved paths are writable (docs/security.md)]`,
            );
          if (r.timedOut)
            notes.push(`[timed out after ${options.timeoutMs} ms; the command and its children were killed]`);
          if (r.interrupted) {
            // The kernel's deadline (toolTimeouts) aborts the same signal as the user's interrupt: say which.
            const deadline =
              (t.signal.reason as { code?: string } | undefined)?.code === 'ICODE_ERR_TOOL_TIMEOUT';
            notes.push(
              deadline
                ? `[stopped at its deadline (${(t.signal.reason as Error).message}; settings toolTimeouts.bash); the command and its children were killed]`
                : '[interrupted by the user; the command and its children were killed]',
            );
          }
          if (r.outputLimited)
            notes.push(
              `[killed: its output passed ${config.maxOutputBytes} bytes (plugins.bash.config.maxOutputBytes); the command and its children were killed]`,
            );
          const text = [r.output || '(no output)', ...notes].join('\n');
          if (r.exitCode !== 0 || r.timedOut || r.interrupted || r.outputLimited)
            throw new Error(`${text}\n[exit code ${r.exitCode ?? 'none'}]`);
          return text;
        },
      }),
    );

    ctx.tools.register(
      defineTool({
        name: 'bash_output',
        aliases: ['BashOutput'],
        description:
          'Read the new output of a command started with run_in_background, and whether it is still running. Long new output shows its head and tail; the whole log is a file that read_file pages through.',
        input: z.object({ id: z.string().describe('The id bash returned') }),
        mode: 'read-only',
        concurrencySafe: true,
        async execute({ id }) {
          const entry = background.get(id);
          if (!entry)
            throw new Error(
              `no background command ${id}; known: ${[...background.keys()].join(', ') || 'none'}`,
            );
          // Whether it has ended is looked at before the log's size: once ended, the log holds all it printed.
          const done = entry.done;
          const size = (await stat(entry.outputFile)).size;
          const start = entry.readOffset;
          const fresh = await sampleFile(entry.outputFile, start, size, config.maxOutputChars);
          entry.readOffset = start + fresh.bytes;
          entry.readNewlines += fresh.newlines;
          if (fresh.bytes) entry.readEndsLine = fresh.endsWithNewline;
          const lines = entry.readNewlines + (entry.readEndsLine ? 0 : 1);
          const status = !done
            ? 'running'
            : entry.outputLimited
              ? `killed: its output passed ${config.maxOutputBytes} bytes (plugins.bash.config.maxOutputBytes)`
              : `exited with code ${entry.exitCode}`;
          const text = fresh.render(
            `the whole output so far is in ${entry.outputFile} (${entry.readOffset} bytes, ${lines} lines; read_file pages through it with offset and limit)`,
          );
          return `[${id}: ${status}]\n${text || '(no new output)'}`;
        },
      }),
    );

    ctx.onDispose(async () => {
      const running = [...background.values()].filter((entry) => !entry.done);
      for (const entry of running) killGroup(entry.pid, 'SIGKILL');
      // Wait (briefly) for them to be gone, so their sandboxes let go of placeholder folders.
      await Promise.race([
        Promise.all(running.map((entry) => entry.finished)),
        new Promise((resolve) => setTimeout(resolve, 2000).unref()),
      ]);
    });
  },
});

/** Removes saved outputs older than `maxAgeMs`; a file in use by a live command is recent, so it stays. */
async function pruneOutputs(dir: string, maxAgeMs: number): Promise<void> {
  const cutoff = Date.now() - maxAgeMs;
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const file = join(dir, name);
    const s = await stat(file).catch(() => undefined);
    if (s?.isFile() && s.mtimeMs < cutoff) await rm(file, { force: true }).catch(() => {});
  }
}
