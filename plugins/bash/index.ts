import { randomBytes } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod';
import { definePlugin, defineTool, isInside, type ToolContext, type ToolMode } from '../../sdk/index.ts';
import { analyzeBash, type BashVerdict } from './analyze.ts';
import { killGroup, runCommand, startBackground } from './run.ts';
import { PROTECTED_PATHS, type SandboxProbe, sandboxArgs, sharedProbe } from './sandbox.ts';

export const BashConfig = z.strictObject({
  /** Default timeout of a command, in ms (the model may ask for up to maxTimeoutMs). */
  timeoutMs: z.number().int().positive().default(120_000),
  maxTimeoutMs: z.number().int().positive().default(600_000),
  /** Output beyond this many characters keeps its head and tail; the whole is saved to a file. */
  maxOutputChars: z.number().int().positive().default(30_000),
  /** auto: use bubblewrap when it works here; off: never (non-read-only commands then need full access). */
  sandbox: z.enum(['auto', 'off']).default('auto'),
  /** Network inside the sandbox. */
  network: z.boolean().default(true),
  /** Paths, relative to each workspace root, that commands may not write without approval. */
  protectedPaths: z.array(z.string()).default(PROTECTED_PATHS),
});

const SECRETS = ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN'];

interface Background {
  id: string;
  command: string;
  pid: number | undefined;
  outputFile: string;
  exitCode?: number | undefined;
  done: boolean;
  readOffset: number;
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
    const cwds = new Map<string, string>();
    const verdicts = new WeakMap<object, Promise<BashVerdict>>();
    const background = new Map<string, Background>();
    const outputDir = join(ctx.userDir, 'tool-output');
    const env = Object.fromEntries(Object.entries(ctx.env).filter(([k]) => !SECRETS.includes(k)));

    const cwdOf = (t: ToolContext) => cwds.get(t.sessionId ?? '') ?? t.cwd;
    // mode(), subjects() and the permission evidence all need the verdict: judged once per call.
    const verdictOf = (input: { command: string }, t: ToolContext) => {
      let v = verdicts.get(input);
      if (!v) {
        v = analyzeBash(input.command, {
          cwd: cwdOf(t),
          roots: t.roots,
          protectedPaths: config.protectedPaths,
        });
        verdicts.set(input, v);
      }
      return v;
    };

    ctx.hooks.permissionRequest.tap(async (request) => {
      if (request.tool !== 'bash') return undefined;
      const v = await verdicts.get(request.input as object);
      if (!v || v.decision === 'allow') return undefined;
      return { decision: v.decision, reason: v.reasons.join('; ') };
    });

    ctx.tools.register(
      defineTool({
        name: 'bash',
        aliases: ['Bash'],
        description:
          'Run a bash command in the workspace. The working directory persists between calls (cd sticks). Commands are checked before they run and, where the machine allows, run in a sandbox that can write only the workspace and a private /tmp. Use run_in_background for servers and watchers, then bash_output to read them.',
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
        subjects: async (input, t) => ({ kind: 'command', values: (await verdictOf(input, t)).commands }),
        async execute(input, t) {
          const v = await verdictOf(input, t);
          const cwd = cwdOf(t);
          const unconfined = !probe.bwrap || t.sessionMode === 'danger-full-access';
          const sandbox = unconfined
            ? undefined
            : {
                bwrap: probe.bwrap!,
                args: sandboxArgs({
                  roots: t.roots,
                  writable: !v.readOnly,
                  protectedPaths: config.protectedPaths,
                  cwd,
                  network: config.network,
                }),
              };
          const options = {
            command: input.command,
            cwd,
            env,
            timeoutMs: Math.min(input.timeout ?? config.timeoutMs, config.maxTimeoutMs),
            signal: t.signal,
            ...(sandbox ? { sandbox } : {}),
            outputDir,
            maxOutputChars: config.maxOutputChars,
          };
          if (input.run_in_background) {
            const id = `bash_${randomBytes(4).toString('hex')}`;
            const started = await startBackground(options, id);
            const entry: Background = {
              id,
              command: input.command,
              pid: started.pid,
              outputFile: started.outputFile,
              done: false,
              readOffset: 0,
            };
            background.set(id, entry);
            void started.done.then((code) => Object.assign(entry, { done: true, exitCode: code }));
            return `Started in the background as ${id} (pid ${started.pid}); read its output with bash_output {"id": "${id}"}. Output file: ${started.outputFile}`;
          }
          const r = await runCommand(options);
          const notes: string[] = [];
          if (r.finalCwd && r.finalCwd !== cwd) {
            if (t.roots.some((root) => isInside(r.finalCwd!, root))) cwds.set(t.sessionId ?? '', r.finalCwd);
            else
              notes.push(
                `[the command ended in ${r.finalCwd}, outside the workspace; the working directory stays ${cwd}]`,
              );
          }
          if (r.timedOut)
            notes.push(`[timed out after ${options.timeoutMs} ms; the command and its children were killed]`);
          if (r.interrupted)
            notes.push('[interrupted by the user; the command and its children were killed]');
          const text = [r.output || '(no output)', ...notes].join('\n');
          if (r.exitCode !== 0 || r.timedOut || r.interrupted)
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
          'Read the new output of a command started with run_in_background, and whether it is still running.',
        input: z.object({ id: z.string().describe('The id bash returned') }),
        mode: 'read-only',
        concurrencySafe: true,
        async execute({ id }) {
          const entry = background.get(id);
          if (!entry)
            throw new Error(
              `no background command ${id}; known: ${[...background.keys()].join(', ') || 'none'}`,
            );
          const size = (await stat(entry.outputFile)).size;
          const handle = await open(entry.outputFile, 'r');
          const buffer = Buffer.alloc(Math.min(size - entry.readOffset, config.maxOutputChars));
          await handle.read(buffer, 0, buffer.length, entry.readOffset);
          await handle.close();
          entry.readOffset += buffer.length;
          const status = entry.done ? `exited with code ${entry.exitCode}` : 'running';
          return `[${id}: ${status}]\n${buffer.toString('utf8') || '(no new output)'}`;
        },
      }),
    );

    ctx.onDispose(() => {
      for (const entry of background.values()) if (!entry.done) killGroup(entry.pid, 'SIGKILL');
    });
  },
});
