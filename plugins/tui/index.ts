import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as z from 'zod';
import {
  addPermissionRule,
  type CommandContext,
  definePlugin,
  importModule,
  type PermissionAnswer,
  type PermissionDecision,
  type PermissionMode,
  type PermissionRequest,
  parseSlashCommand,
  type SessionService,
  settingsPath,
  projectSlug as slug,
  suggestedRules,
  transcript,
} from '../../sdk/index.ts';
import type { UiHost } from './app.tsx';
import { applyEffect, type Conversation, contentText, shortcut, withShellContext } from './conversation.ts';

declare const __ICODE_TUI_BUNDLE__: string | undefined;

export interface UiRunOptions {
  resume?: string;
  model: string;
  mode: PermissionMode;
  version: string;
  /** Rules the gate holds from now on (the kernel's; "allow always" and a command's allowed-tools). */
  addRules(rules: string[]): void;
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
}

/** The `ui` service: the interactive terminal UI, or plain lines when stdout is not a terminal. */
export interface UiService {
  run(options: UiRunOptions): Promise<number>;
}

declare module '../../kernel/registries.ts' {
  interface Services {
    ui: UiService;
  }
}

type Asker = (request: PermissionRequest, decision: PermissionDecision) => Promise<PermissionAnswer>;

export default definePlugin({
  config: z.strictObject({}),
  activate(ctx) {
    let asker: Asker | undefined;
    // While the UI is up, permission asks are its dialog; otherwise other taps (stdin) or a deny apply.
    ctx.hooks.permissionPrompt.tap(async (request, decision) =>
      asker ? asker(request, decision) : undefined,
    );

    let shells = 0;
    const host = (options: UiRunOptions, session: SessionService): UiHost => ({
      session,
      commands: {
        list: () => ctx.commands.list(),
        run: (name, args, cctx) => ctx.commands.run(name, args, cctx),
        complete: async (name: string, partial: string, cctx: CommandContext) => {
          const command = await ctx.commands.get(name);
          return command?.complete ? await command.complete(partial, cctx) : [];
        },
      },
      plugins: () => ctx.plugins(),
      onPermission: (fn) => {
        asker = fn;
      },
      onQuestion: (fn) => {
        void ctx.services
          .get('questions')
          .then((q) => q.setAsker(fn))
          .catch(() => {});
      },
      allowAlways: (rules) => {
        const file = settingsPath('local', ctx.projectRoot, ctx.userDir);
        for (const rule of rules) addPermissionRule(file, 'allow', rule);
        return file;
      },
      suggestedRules,
      addRules: options.addRules,
      editFile: (file) => {
        const editor = ctx.env.VISUAL || ctx.env.EDITOR || 'vi';
        // Through the shell, so an $EDITOR with arguments ("code --wait") works; the file is passed as $1.
        const r = spawnSync('/bin/sh', ['-c', `${editor} "$1"`, 'editor', file], {
          stdio: 'inherit',
          env: { ...ctx.env },
        });
        return r.status === 0
          ? { ok: true, message: `Edited ${file}; the model reads it from the next prompt on.` }
          : {
              ok: false,
              message: `The editor (${editor}) ${r.error ? `could not start: ${r.error.message}` : `exited with ${r.status ?? r.signal}`}; set $EDITOR to yours.`,
            };
      },
      shell: async (command, mode, signal) => {
        const r = await ctx.tools.call(
          { id: `user_shell_${++shells}`, name: 'bash', input: { command } },
          { sessionMode: mode, cwd: ctx.cwd, roots: [...ctx.roots], ...(signal ? { signal } : {}) },
        );
        return { output: contentText(r.content), isError: r.isError };
      },
      cwd: ctx.cwd,
      roots: ctx.roots,
      historyFile: join(ctx.userDir, 'history', `${slug(ctx.projectRoot)}.json`),
      model: options.model,
      mode: options.mode,
      ...(options.resume ? { resume: options.resume } : {}),
      version: options.version,
    });

    const service: UiService = {
      async run(options) {
        const ui = host(options, await ctx.services.get('session'));
        const stdout = options.stdout ?? process.stdout;
        if (!stdout.isTTY) return plain(ui, options.stdin ?? process.stdin, stdout);
        // NO_COLOR (any value) turns colour off everywhere, the UI's libraries included.
        if (ctx.env.NO_COLOR) process.env.FORCE_COLOR = '0';
        const app = await outsideCi(() =>
          importModule<typeof import('./app.tsx')>(
            typeof __ICODE_TUI_BUNDLE__ === 'string'
              ? new URL(__ICODE_TUI_BUNDLE__, import.meta.url).href
              : new URL('./app.tsx', import.meta.url).href,
          ),
        );
        return app.runUi(ui);
      },
    };
    ctx.services.provide('ui', service);
  },
});

const CI_MARKERS = ['CI', 'CONTINUOUS_INTEGRATION'];

/**
 * ink draws only the final frame when it believes it runs in CI (CI or CONTINUOUS_INTEGRATION set, read
 * once when it loads): a prompt that never shows. A terminal on stdout means someone is at it, so the UI
 * loads with both unset; they are put back at once, so the tools' processes still see them.
 */
async function outsideCi<T>(load: () => Promise<T>): Promise<T> {
  const saved = CI_MARKERS.map((key) => [key, process.env[key]] as const);
  for (const [key] of saved) delete process.env[key];
  try {
    return await load();
  } finally {
    for (const [key, value] of saved) if (value !== undefined) process.env[key] = value;
  }
}

/**
 * Without a terminal on stdout: prompts are lines on stdin, the transcript is plain lines, commands work,
 * and a permission ask is denied with its reason (nobody can answer it here).
 */
async function plain(
  ui: UiHost,
  stdin: NodeJS.ReadableStream,
  stdout: NodeJS.WritableStream,
): Promise<number> {
  let now: Conversation = { ...(ui.resume ? { session: ui.resume } : {}), model: ui.model, mode: ui.mode };
  const ran: Array<{ command: string; output: string }> = [];
  ui.onPermission(undefined);
  const { createInterface } = await import('node:readline');
  const lines = createInterface({ input: stdin, terminal: false });
  for await (const raw of lines) {
    const text = raw.trim();
    if (!text) continue;
    let prompt = text;
    const cut = shortcut(text);
    if (cut?.kind === 'shell') {
      const r = await ui.shell(cut.command, now.mode, new AbortController().signal);
      stdout.write(`${r.output}\n`);
      ran.push({ command: cut.command, output: r.output });
      continue;
    }
    if (cut?.kind === 'memory') {
      const outcome = await ui.commands.run('memory', `add ${cut.note}`, {
        cwd: ui.cwd,
        session: { model: now.model, permissionMode: now.mode },
      });
      if (outcome.output) stdout.write(`${outcome.output}\n`);
      continue;
    }
    const slash = parseSlashCommand(text);
    if (slash && ui.commands.list().some((c) => c.name === slash.name)) {
      const outcome = await ui.commands.run(slash.name, slash.args, {
        cwd: ui.cwd,
        session: { ...(now.session ? { id: now.session } : {}), model: now.model, permissionMode: now.mode },
      });
      if (outcome.output) stdout.write(`${outcome.output}\n`);
      const { next, exit, ends } = applyEffect(now, outcome.effect);
      if (exit) break;
      if (ends) await ui.session.end(ends.id, ends.reason);
      now = next;
      if (!outcome.prompt || outcome.isError) continue;
      prompt = outcome.prompt;
      if (outcome.allowedTools?.length) ui.addRules(outcome.allowedTools);
    }
    const result = await ui.session.run({
      prompt: withShellContext(prompt, ran.splice(0)),
      model: now.model,
      permissionMode: now.mode,
      keepOpen: true,
      ...(now.session ? { resume: now.session } : {}),
      onEvent: (event) => {
        if (event.type === 'session_start') now = { ...now, session: event.session_id };
        stdout.write(transcript(event));
      },
    });
    now = { ...now, session: result.session_id };
  }
  if (now.session) await ui.session.end(now.session, 'prompt_input_exit');
  return 0;
}
