import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import * as z from 'zod';
import {
  capOutput,
  commandEnv,
  definePlugin,
  defineTool,
  expandPaths,
  findExecutable,
  sandboxed,
  sharedProbe,
  workspacePolicy,
} from '../../sdk/index.ts';
import { NODE_DRIVER, PYTHON_DRIVER } from './drivers.ts';

interface Answer {
  id: number;
  output: string;
  value?: string | null;
  error?: string | null;
}

/** The line the drivers print on stdout after each request: what came before it belongs to that request. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the end mark is fenced by NULs no code prints by accident
const END = /\u0000icode-repl-end-(\d+)\u0000\n/;

/** One language's interpreter for one session: its variables live as long as the process. */
class Interpreter {
  private next = 0;
  private readonly answers = new Map<number, Answer>();
  private readonly printed = new Map<number, string>();
  private readonly waiting = new Map<number, (a: Answer & { stray: string }) => void>();
  private stray = '';
  exited: string | undefined;

  constructor(
    readonly child: ChildProcess,
    createInterface: typeof import('node:readline').createInterface,
  ) {
    createInterface({ input: child.stdio[3] as Readable }).on('line', (line) => {
      const answer = JSON.parse(line) as Answer;
      this.answers.set(answer.id, answer);
      this.settle(answer.id);
    });
    // What the code writes around the driver (process.stdout.write, os.write) arrives on another pipe than
    // the answer, in any order: it belongs to the request whose end mark follows it.
    child.stdout?.on('data', (d) => {
      this.stray += d;
      for (let m = END.exec(this.stray); m; m = END.exec(this.stray)) {
        const id = Number(m[1]);
        this.printed.set(id, this.stray.slice(0, m.index));
        this.stray = this.stray.slice(m.index + m[0].length);
        this.settle(id);
      }
    });
    child.stderr?.on('data', (d) => {
      this.stray += d;
    });
    child.on('exit', (code, signal) => {
      this.exited = `exited (${signal ?? `code ${code}`})${this.stray ? `: ${this.stray.trim().slice(-500)}` : ''}`;
      for (const w of this.waiting.values())
        w({ id: -1, output: '', stray: '', error: `the interpreter ${this.exited}` });
      this.waiting.clear();
    });
    child.stdin?.on('error', () => {});
  }

  private settle(id: number): void {
    const answer = this.answers.get(id);
    const printed = this.printed.get(id);
    if (!answer || printed === undefined) return;
    this.answers.delete(id);
    this.printed.delete(id);
    this.waiting.get(id)?.({ ...answer, stray: printed });
    this.waiting.delete(id);
  }

  run(code: string): Promise<Answer & { stray: string }> {
    const id = ++this.next;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.stdin?.write(`${JSON.stringify({ id, code })}\n`);
    });
  }
}

export default definePlugin({
  config: z.strictObject({
    timeoutMs: z.number().int().positive().default(30_000),
    maxOutputChars: z.number().int().positive().default(30_000),
    pythonPath: z.string().default('python3'),
    /** Network inside the sandbox (off: code cannot reach the network). */
    network: z.boolean().default(false),
  }),
  async activate(ctx) {
    const probe = await sharedProbe(ctx.env, join(ctx.userDir, 'state'));
    const python = findExecutable(ctx.config.pythonPath, ctx.env);
    const problems = [
      ...(probe.bwrap
        ? []
        : [`no OS sandbox (${probe.reason}): REPL code needs danger-full-access approval`]),
      ...(python ? [] : [`${ctx.config.pythonPath} was not found: only node is available`]),
    ];
    if (problems.length)
      ctx.health.degraded(
        `REPL: ${problems.join('; ')}`,
        python ? probe.fix : 'install python3 or set plugins.repl.config.pythonPath',
      );
    const interpreters = new Map<string, Interpreter>();

    const start = (
      language: 'node' | 'python',
      cwd: string,
      createInterface: typeof import('node:readline').createInterface,
    ): Interpreter => {
      const [command, args] =
        language === 'node'
          ? [process.execPath, ['-e', NODE_DRIVER]]
          : [python!, ['-u', '-c', PYTHON_DRIVER]];
      const policy = workspacePolicy({
        protectedPaths: ctx.permissions.protectedPaths(),
        roots: ctx.roots,
        cwd,
        env: ctx.env,
        userDir: ctx.userDir,
        network: ctx.config.network,
        // Read(...) deny rules hold for code as for commands: what they name is not there.
        hidden: expandPaths(ctx.permissions.deniedPaths('read')),
      });
      const program = sandboxed(probe, policy, { file: command, args });
      const child = spawn(program.file, program.args, {
        cwd,
        env: commandEnv(ctx.env),
        stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      });
      child.once('exit', () => program.release());
      return new Interpreter(child, createInterface);
    };

    ctx.tools.register(
      defineTool({
        name: 'REPL',
        description:
          'Run code in a persistent interpreter (node or python): variables, imports and functions survive between calls in this session. The value of the last expression is shown with what the code printed; in node, top-level await works. Runs in the sandbox (the workspace writable, no network); a call that runs past its timeout restarts the interpreter and its state is lost.',
        input: z.object({
          code: z.string().min(1),
          language: z.enum(['node', 'python']).default('python'),
          timeout_ms: z.number().int().positive().max(600_000).optional(),
        }),
        // Arbitrary code: inside the sandbox it is a workspace write; without one it is full access.
        mode: () => (probe.bwrap ? 'workspace-write' : 'danger-full-access'),
        async execute({ code, language, timeout_ms }, tctx) {
          if (language === 'python' && !python)
            throw new Error(`${ctx.config.pythonPath} is not installed here; use language "node"`);
          // Loaded with the first call (not at start-up), before the lookup: no await between get and set.
          const { createInterface } = await import('node:readline');
          const key = `${tctx.sessionId ?? 'default'}:${language}`;
          let interpreter = interpreters.get(key);
          if (!interpreter || interpreter.exited) {
            interpreter = start(language, tctx.cwd, createInterface);
            interpreters.set(key, interpreter);
          }
          const limit = timeout_ms ?? ctx.config.timeoutMs;
          let timer: NodeJS.Timeout | undefined;
          const stop = (why: string) => {
            interpreter.child.kill('SIGKILL');
            interpreters.delete(key);
            return { id: -1, output: '', stray: '', error: why };
          };
          const answer = await Promise.race([
            interpreter.run(code),
            new Promise<Answer & { stray: string }>((resolve) => {
              timer = setTimeout(
                () =>
                  resolve(
                    stop(
                      `timed out after ${limit} ms; the ${language} interpreter was restarted and its state is lost`,
                    ),
                  ),
                limit,
              );
              tctx.signal.addEventListener(
                'abort',
                () => resolve(stop('interrupted; the interpreter was restarted and its state is lost')),
                { once: true },
              );
            }),
          ]).finally(() => clearTimeout(timer));
          const text = [answer.stray, answer.output, answer.value ?? '']
            .map((s) => s.replace(/\s+$/, ''))
            .filter(Boolean)
            .join('\n');
          const shown = capOutput(text, ctx.config.maxOutputChars);
          if (answer.error) throw new Error(`${shown ? `${shown}\n` : ''}${answer.error.trim()}`);
          return shown || '(no output)';
        },
      }),
    );
    ctx.onDispose(() => {
      for (const i of interpreters.values()) i.child.kill('SIGKILL');
    });
  },
});
