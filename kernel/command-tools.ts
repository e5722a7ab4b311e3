import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import type { PluginDefinition } from './host.ts';
import type { PluginManifest } from './manifest.ts';
import type { Tool } from './types.ts';

type Contributed = PluginManifest['contributes']['tools'][number];
const MAX_OUTPUT = 100_000;
const SECRETS = ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN'];

/** A tool whose work is an executable: input as JSON on stdin, the result on stdout. */
function commandTool(
  t: Contributed & { command: string },
  dir: string,
  env: Readonly<Record<string, string | undefined>>,
): Tool {
  const file = t.command.startsWith('./') || t.command.startsWith('../') ? join(dir, t.command) : t.command;
  return {
    name: t.name,
    ...(t.aliases ? { aliases: t.aliases } : {}),
    description: t.description ?? t.name,
    input: z.looseObject({}),
    inputSchema: t.inputSchema ?? { type: 'object' },
    mode: t.requiredPermission ?? t.mode ?? 'workspace-write',
    async execute(input, ctx) {
      // Bundled with the CLI (not importModule): a plain import() the bundler resolves.
      const { execa } = await import('execa');
      const run = await execa(file, t.args ?? [], {
        cwd: dir,
        env: {
          ...Object.fromEntries(Object.entries(env).filter(([k]) => !SECRETS.includes(k))),
          ICODE_CWD: ctx.cwd,
          ICODE_PROJECT_DIR: ctx.roots[0] ?? ctx.cwd,
        },
        extendEnv: false,
        input: JSON.stringify(input),
        timeout: t.timeoutMs ?? 60_000,
        forceKillAfterDelay: 1000,
        cancelSignal: ctx.signal,
        reject: false,
        maxBuffer: MAX_OUTPUT * 4,
      });
      const out = String(run.stdout ?? '')
        .trim()
        .slice(0, MAX_OUTPUT);
      if (run.timedOut)
        throw new Error(`${t.name}: ${t.command} timed out after ${(t.timeoutMs ?? 60_000) / 1000} s`);
      if (run.exitCode !== 0)
        throw new Error(
          `${t.command} exited ${run.exitCode ?? run.signal}${run.stderr ? `: ${String(run.stderr).trim().slice(0, 2000)}` : ''}`,
        );
      return out || '(no output)';
    },
  };
}

/**
 * The plugin a folder defines: its code (if `main` exists) plus the command tools its manifest declares,
 * registered before the code's own activate. A plugin of command tools only needs no code at all.
 */
export function withCommandTools(
  manifest: PluginManifest,
  dir: string,
  loadCode: () => Promise<PluginDefinition>,
): () => Promise<PluginDefinition> {
  const commands = manifest.contributes.tools.filter((t): t is Contributed & { command: string } =>
    Boolean(t.command),
  );
  if (!commands.length) return loadCode;
  return async () => {
    const code = existsSync(join(dir, manifest.main)) ? await loadCode() : undefined;
    return {
      ...(code?.config ? { config: code.config } : {}),
      async activate(ctx) {
        for (const t of commands) ctx.tools.register(commandTool(t, dir, ctx.env));
        await code?.activate(ctx);
      },
      ...(code?.deactivate ? { deactivate: code.deactivate } : {}),
    } as PluginDefinition;
  };
}
