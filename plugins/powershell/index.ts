import { join } from 'node:path';
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

export default definePlugin({
  config: z.strictObject({
    pwshPath: z.string().default('pwsh'),
    timeoutMs: z.number().int().positive().default(120_000),
    maxOutputChars: z.number().int().positive().default(30_000),
  }),
  async activate(ctx) {
    const pwsh = findExecutable(ctx.config.pwshPath, ctx.env);
    if (!pwsh) {
      ctx.health.degraded(
        `PowerShell is off: ${ctx.config.pwshPath} was not found`,
        'install PowerShell 7 (Linux: Microsoft\'s package repository, "apt install powershell"; macOS: brew install powershell; Windows: winget install Microsoft.PowerShell) or set plugins.powershell.config.pwshPath',
      );
      return;
    }
    const probe = await sharedProbe(ctx.env, join(ctx.userDir, 'state'));
    ctx.tools.register(
      defineTool({
        name: 'PowerShell',
        description:
          'Run a PowerShell command with pwsh (no profile, non-interactive) in the working folder, inside the OS sandbox (the workspace writable, no network). Prefer bash for ordinary shell work.',
        input: z.object({
          command: z.string().min(1),
          timeout_ms: z.number().int().positive().max(600_000).optional(),
        }),
        // icode parses bash commands to judge them; PowerShell is not parsed, so it is judged as a whole:
        // sandboxed it is a workspace write, without a sandbox full access (asked unless allowed).
        mode: () => (probe.bwrap ? 'workspace-write' : 'danger-full-access'),
        subjects: ({ command }) => ({ kind: 'command', values: [command] }),
        async execute({ command, timeout_ms }, tctx) {
          const args = ['-NoProfile', '-NonInteractive', '-Command', command];
          const policy = workspacePolicy({
            protectedPaths: ctx.permissions.protectedPaths(),
            roots: tctx.roots,
            cwd: tctx.cwd,
            env: ctx.env,
            userDir: ctx.userDir,
            hidden: expandPaths(ctx.permissions.deniedPaths('read')),
          });
          const program = sandboxed(probe, policy, { file: pwsh, args });
          const { execa } = await import('execa');
          const r = await execa(program.file, program.args, {
            cwd: tctx.cwd,
            env: commandEnv(ctx.env),
            extendEnv: false,
            all: true,
            reject: false,
            timeout: timeout_ms ?? ctx.config.timeoutMs,
            cancelSignal: tctx.signal,
            stdin: 'ignore',
          }).finally(() => void program.release());
          const out = capOutput(String(r.all ?? '').replace(/\n$/, ''), ctx.config.maxOutputChars);
          if (r.timedOut)
            throw new Error(`${out}\n[timed out after ${timeout_ms ?? ctx.config.timeoutMs} ms]`.trim());
          if (r.exitCode !== 0) throw new Error(`${out}\n[exit code ${r.exitCode}]`.trim());
          return out || '(no output)';
        },
      }),
    );
  },
});
