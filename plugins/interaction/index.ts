import * as z from 'zod';
import { definePlugin, defineTool, editSettings, type Question, settingsPath } from '../../sdk/index.ts';

/** Settings the model may read and change with Config: harmless ones; never permissions or hooks. */
const SETTINGS: Record<string, z.ZodType> = {
  model: z.string().min(1),
  'plugins.session.config.maxTurns': z.number().int().positive(),
  'plugins.session.config.autoCompactTokens': z.number().int().positive(),
  'plugins.lsp.config.editDiagnosticsTimeoutMs': z.number().int().min(0),
};

/** The value at a dotted key path of the settings. */
const at = (settings: unknown, key: string) =>
  key
    .split('.')
    .reduce<unknown>(
      (v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
      settings,
    );

export default definePlugin({
  config: z.strictObject({}),
  activate(ctx) {
    let asker: ((q: Question) => Promise<string | undefined>) | undefined;
    ctx.services.provide('questions', {
      setAsker: (fn) => {
        asker = fn;
      },
    });

    ctx.tools.register(
      defineTool({
        name: 'Sleep',
        description:
          'Wait (at most 5 minutes), e.g. for a background task or a server to come up. Esc ends the wait early.',
        input: z.object({ seconds: z.number().positive().max(300) }),
        mode: 'read-only',
        concurrencySafe: true,
        execute: ({ seconds }, tctx) =>
          new Promise<string>((resolve) => {
            const started = Date.now();
            const done = (why: string) => {
              clearTimeout(timer);
              resolve(why);
            };
            const timer = setTimeout(() => done(`Slept ${seconds}s.`), seconds * 1000);
            tctx.signal.addEventListener(
              'abort',
              () =>
                done(
                  `Woken after ${((Date.now() - started) / 1000).toFixed(1)}s of ${seconds}s: interrupted.`,
                ),
              { once: true },
            );
          }),
      }),
    );
    ctx.tools.register(
      defineTool({
        name: 'SendUserMessage',
        description:
          'Show the user a message now, while you keep working (progress, a heads-up). It does not wait for an answer.',
        input: z.object({ message: z.string().min(1) }),
        mode: 'read-only',
        execute: ({ message }, tctx) => {
          if (!tctx.notify) return 'Nobody watches this run: the message stays in the session log only.';
          tctx.notify(message);
          return 'Shown to the user.';
        },
      }),
    );
    ctx.tools.register(
      defineTool({
        name: 'AskUserQuestion',
        // It waits for a person, as long as they take.
        timeoutMs: 0,
        description:
          'Ask the user a question when you cannot proceed without their decision, with 2-4 options to choose from (they may also answer in their own words). Headless runs without a way to answer fail at once: then decide yourself and say what you assumed.',
        input: z.object({
          question: z.string().min(1),
          options: z.array(z.string().min(1)).min(2).max(4).optional(),
          multiSelect: z.boolean().default(false),
        }),
        mode: 'read-only',
        async execute({ question, options, multiSelect }) {
          if (!asker)
            throw new Error(
              'no one can answer questions in this run (headless, without --permission-prompt-stdin): decide yourself and say what you assumed',
            );
          const answer = await asker({ question, options: options ?? [], multiSelect });
          if (answer === undefined || !answer.trim()) return 'The user gave no answer.';
          return `The user answered: ${answer.trim()}`;
        },
      }),
    );
    ctx.tools.register(
      defineTool({
        name: 'Config',
        description: `Read a setting, or change it for this project (written to .icode/settings.local.json; it applies from the next session). Settings: ${Object.keys(SETTINGS).join(', ')}.`,
        input: z.object({
          setting: z.string(),
          value: z.union([z.string(), z.number(), z.boolean()]).optional().describe('Leave out to read'),
        }),
        // Reading changes nothing; writing a settings file is a workspace write (asked in prompt mode).
        mode: ({ value }) => (value === undefined ? 'read-only' : 'workspace-write'),
        subjects: ({ value }) =>
          value === undefined
            ? { kind: 'path', values: [] }
            : { kind: 'path', values: [settingsPath('local', ctx.projectRoot, ctx.userDir)] },
        execute({ setting, value }) {
          const known = SETTINGS[setting];
          if (!known)
            throw new Error(
              `"${setting}" cannot be read or changed here; settings: ${Object.keys(SETTINGS).join(', ')}`,
            );
          if (value === undefined) return `${setting} = ${JSON.stringify(at(ctx.settings, setting) ?? null)}`;
          const parsed = known.safeParse(value);
          if (!parsed.success) throw new Error(`${setting}: ${z.prettifyError(parsed.error)}`);
          const file = settingsPath('local', ctx.projectRoot, ctx.userDir);
          editSettings(file, setting.split('.'), parsed.data);
          return `Set ${setting} = ${JSON.stringify(parsed.data)} in ${file}; it applies from the next session.`;
        },
      }),
    );
  },
});
