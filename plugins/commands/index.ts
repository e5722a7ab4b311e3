import { execFile } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as z from 'zod';
import {
  addPermissionRule,
  CONTEXT_FILES,
  type Command,
  type CommandContext,
  claudeFolders,
  contextFiles,
  definePlugin,
  editSettings,
  enabledClaudePlugins,
  hostGit,
  type MessageParam,
  PERMISSION_MODES,
  type PermissionMode,
  pluginLines,
  settingLines,
  settingsPath,
  userMemory,
  withPluginRoot,
} from '../../sdk/index.ts';
import { expand, loadCommands } from './custom.ts';

const INIT_PROMPT = `Write an AGENTS.md at the root of this repository for coding agents who will work in it.
Look at the repository first (its README, package or build files, test setup, folder layout, CI) with the
tools. Then write, concisely: what the project is; how to install, build, run and test it (exact commands);
the layout (main folders and what lives where); the conventions a change must follow (style, tests, commits);
and anything surprising. If an AGENTS.md (or CLAUDE.md) exists, improve it rather than replace what is
right. Keep it under about 150 lines.`;

const git = (args: string[], cwd: string) =>
  new Promise<string>((ok, fail) => {
    const [file, argv] = hostGit(args);
    execFile(file, argv, { cwd, maxBuffer: 8 * 1024 * 1024 }, (error, stdout, stderr) =>
      error ? fail(new Error(stderr.trim() || error.message)) : ok(stdout),
    );
  });

/** A conversation as markdown: prompts, replies, tool calls and their results. */
export function toMarkdown(messages: MessageParam[], title: string): string {
  const out = [`# ${title}`, ''];
  for (const m of messages) {
    const blocks = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
    for (const b of blocks) {
      if (b.type === 'text' && typeof b.text === 'string')
        out.push(m.role === 'user' ? `## User\n\n${b.text}` : `## Assistant\n\n${b.text}`, '');
      else if (b.type === 'tool_use')
        out.push(
          `**Tool: ${String(b.name)}**\n\n\`\`\`json\n${JSON.stringify(b.input, null, 2)}\n\`\`\``,
          '',
        );
      else if (b.type === 'tool_result') {
        const content = b.content;
        const text =
          typeof content === 'string'
            ? content
            : Array.isArray(content)
              ? content.map((c: { text?: string }) => c.text ?? '').join('\n')
              : '';
        out.push(`${b.is_error ? 'Error' : 'Result'}:\n\n\`\`\`\n${text}\n\`\`\``, '');
      }
    }
  }
  return `${out.join('\n').trimEnd()}\n`;
}

export default definePlugin({
  config: z.strictObject({}),
  activate(ctx) {
    const session = () => ctx.services.get('session');
    const local = settingsPath('local', ctx.projectRoot, ctx.userDir);
    const builtins: Command[] = [
      {
        name: 'help',
        description: 'The commands, and how to use icode',
        run: () => {
          const list = ctx.commands.list().sort((a, b) => a.name.localeCompare(b.name));
          const width = Math.max(...list.map((c) => c.name.length)) + 2;
          return [
            'Type a prompt and press Enter (end a line with \\ for a new line). @path attaches a file; Tab completes.',
            '! command runs it in the shell (the model sees its output with your next prompt); # note adds a line to AGENTS.md.',
            'Esc interrupts the model; Ctrl-C twice exits. Sessions are saved: icode --continue or /resume.',
            '',
            ...list.map((c) => `/${c.name.padEnd(width)}${c.description}`),
          ].join('\n');
        },
      },
      { name: 'clear', description: 'Start a new conversation', run: () => ({ effect: { type: 'clear' } }) },
      {
        name: 'compact',
        description: 'Summarise the conversation so far to free context',
        argumentHint: '[what to focus on]',
        run: (args) => ({ prompt: `/compact ${args}`.trim() }),
      },
      {
        name: 'config',
        description: 'The settings in effect and which file set each',
        run: () => {
          const lines = settingLines(ctx.settings, ctx.origins);
          return `${lines.join('\n')}\n\nEdit .icode/settings.json (project), .icode/settings.local.json (yours, not committed) or ~/.icode/settings.json.`;
        },
      },
      {
        name: 'cost',
        description: 'Tokens and cost of this session',
        run: (_, c) => {
          const u = c.session?.usage;
          if (!u) return 'No model requests yet in this session.';
          return `Input ${u.input_tokens} tokens, output ${u.output_tokens}, cache read ${u.cache_read_input_tokens ?? 0}, cache write ${u.cache_creation_input_tokens ?? 0}; cost $${(c.session?.costUsd ?? 0).toFixed(4)}`;
        },
      },
      {
        name: 'doctor',
        description: "The harness's plugins and their health",
        run: () => pluginLines(ctx.plugins()).join('\n'),
      },
      {
        name: 'exit',
        description: 'Leave icode (the session is saved)',
        run: () => ({ effect: { type: 'exit' } }),
      },
      {
        name: 'init',
        description: 'Have the model write an AGENTS.md for this repository',
        run: (args) => ({ prompt: args ? `${INIT_PROMPT}\n\nAlso: ${args}` : INIT_PROMPT }),
      },
      {
        name: 'model',
        description: 'Show or switch the model',
        argumentHint: '[model]',
        // The provider's own aliases and ids (a fixed list here went stale when the models moved on).
        complete: async (partial) =>
          ((await ctx.services.get('model').catch(() => undefined))?.models?.() ?? []).filter((m) =>
            m.startsWith(partial),
          ),
        run: (args, c) =>
          args.trim()
            ? { output: `Model: ${args.trim()}`, effect: { type: 'model', model: args.trim() } }
            : `Model: ${c.session?.model ?? ctx.settings.model ?? 'default'}`,
      },
      {
        name: 'permissions',
        description: 'Show the permission rules, or add one: /permissions allow|ask|deny RULE',
        argumentHint: '[allow|ask|deny RULE]',
        complete: () => ['allow ', 'ask ', 'deny '],
        run: (args, c) => {
          const m = /^(allow|ask|deny)\s+(.+)$/.exec(args.trim());
          if (m) {
            const added = addPermissionRule(local, m[1] as 'allow', m[2]!.trim());
            return added
              ? `Added "${m[2]!.trim()}" to permissions.${m[1]} in ${local} (from the next session; this one keeps its rules)`
              : `"${m[2]!.trim()}" is already in permissions.${m[1]} of ${local}`;
          }
          if (args.trim())
            throw new Error(
              'usage: /permissions [allow|ask|deny RULE], e.g. /permissions allow Bash(npm test:*)',
            );
          const p = ctx.settings.permissions ?? {};
          const show = (effect: 'allow' | 'ask' | 'deny') =>
            `${effect}: ${((p[effect] as string[] | undefined) ?? []).join(', ') || '(none)'}`;
          return [
            `mode: ${c.session?.permissionMode ?? p.defaultMode ?? 'prompt'}`,
            show('deny'),
            show('ask'),
            show('allow'),
          ].join('\n');
        },
      },
      {
        name: 'plan',
        description: 'Plan mode: the model reads and plans, and changes nothing',
        run: () => ({
          output: 'Plan mode: read-only until you switch back (/mode workspace-write).',
          effect: { type: 'mode', mode: 'plan' },
        }),
      },
      {
        name: 'mode',
        description: 'Show or switch the permission mode',
        argumentHint: `[${PERMISSION_MODES.join('|')}]`,
        complete: () => [...PERMISSION_MODES],
        run: (args, c) => {
          const mode = args.trim() as PermissionMode;
          if (!mode) return `Permission mode: ${c.session?.permissionMode ?? 'prompt'}`;
          if (!PERMISSION_MODES.includes(mode))
            throw new Error(`unknown mode "${mode}"; one of ${PERMISSION_MODES.join(', ')}`);
          return { output: `Permission mode: ${mode}`, effect: { type: 'mode', mode } };
        },
      },
      {
        name: 'plugins',
        description: 'The plugins, or switch one for this project: /plugins enable|disable NAME',
        argumentHint: '[enable|disable NAME]',
        complete: () => ctx.plugins().flatMap((p) => [`enable ${p.name}`, `disable ${p.name}`]),
        run: async (args) => {
          const m = /^(enable|disable)\s+(\S+)$/.exec(args.trim());
          if (m) {
            editSettings(local, ['plugins', m[2]!, 'enabled'], m[1] === 'enable');
            return `${m[2]} ${m[1]}d in ${local}; it takes effect in the next session.`;
          }
          return [
            ...pluginLines(ctx.plugins()),
            '',
            '/plugins enable|disable NAME switches one for this project.',
          ].join('\n');
        },
      },
      {
        name: 'resume',
        description: 'Continue an earlier session of this project',
        argumentHint: '[session id]',
        complete: async () => (await session()).list().map((s) => s.id),
        run: async (args) => {
          const list = (await session()).list();
          const id = args.trim();
          if (id) {
            const found = list.find((s) => s.id === id || s.id.startsWith(id));
            if (!found) throw new Error(`no session ${id} in this project (see /resume)`);
            return {
              output: `Resumed ${found.id}: ${found.firstPrompt}`,
              effect: { type: 'resume', id: found.id },
            };
          }
          if (!list.length) return 'No earlier sessions in this project.';
          return list
            .slice(0, 20)
            .map(
              (s) =>
                `${s.id}  ${s.updatedAt.slice(0, 16).replace('T', ' ')}  ${s.messages} messages  ${s.firstPrompt.slice(0, 60)}`,
            )
            .join('\n');
        },
      },
      {
        name: 'status',
        description: 'Session, model, mode, working folder and plugin health',
        run: (_, c) => {
          const bad = ctx.plugins().filter((p) => p.state === 'degraded' || p.state === 'failed');
          return [
            `Session: ${c.session?.id ?? '(new)'}`,
            `Model: ${c.session?.model ?? ctx.settings.model ?? 'default'}`,
            `Permission mode: ${c.session?.permissionMode ?? 'prompt'}`,
            `Working folder: ${c.cwd}`,
            `Project root: ${ctx.projectRoot}`,
            bad.length
              ? `Needs attention: ${bad.map((p) => `${p.name} (${p.state})`).join(', ')} — see /doctor`
              : 'All plugins healthy.',
          ].join('\n');
        },
      },
      {
        name: 'memory',
        description:
          'The context files the model reads (AGENTS.md…); add TEXT appends to the project one; edit [user] opens it in your editor',
        argumentHint: '[add TEXT | edit [user]]',
        complete: (partial) => ['add ', 'edit', 'edit user'].filter((a) => a.startsWith(partial)),
        run: (args, c) => {
          const project = join(ctx.projectRoot, 'AGENTS.md');
          const user = userMemory(ctx.userDir);
          const m = /^add\s+([\s\S]+)$/.exec(args.trim());
          if (m) {
            appendFileSync(project, `${existsSync(project) ? '\n' : ''}- ${m[1]!.trim()}\n`);
            return `Added to ${project}; the model reads it from the next prompt on.`;
          }
          const edit = /^edit(?:\s+(user|project))?$/.exec(args.trim());
          if (edit) {
            const file = edit[1] === 'user' ? user : project;
            mkdirSync(dirname(file), { recursive: true });
            if (!existsSync(file)) writeFileSync(file, '');
            // The UI opens it in the user's editor; elsewhere the path is the answer.
            return { output: file, effect: { type: 'edit', file } };
          }
          const files = contextFiles(ctx.projectRoot, c.cwd);
          return [
            ...(files.length
              ? files.map((f) => `${f.path} (${f.text.split('\n').length} lines)`)
              : [`No context files (${CONTEXT_FILES.join(', ')}) in this project.`]),
            existsSync(user) ? `${user} (yours, every project)` : '',
            '/memory edit [user] opens one in your editor; /memory add TEXT appends to the project one.',
          ]
            .filter(Boolean)
            .join('\n');
        },
      },
      {
        name: 'export',
        description: 'Write this session as markdown',
        argumentHint: '[file]',
        run: async (args, c) => {
          if (!c.session?.id) return 'Nothing to export yet.';
          const file = resolve(c.cwd, args.trim() || `icode-session-${c.session.id}.md`);
          writeFileSync(
            file,
            toMarkdown((await session()).messages(c.session.id), `icode session ${c.session.id}`),
          );
          return `Wrote ${file}`;
        },
      },
      {
        name: 'diff',
        description: 'What changed in the working tree (git diff against HEAD, new files listed)',
        run: async (_, c) => {
          const [diff, untracked] = await Promise.all([
            git(
              ['--no-pager', '-c', 'core.fsmonitor=false', 'diff', '--no-ext-diff', '--no-color', 'HEAD'],
              c.cwd,
            ).catch(() => git(['--no-pager', 'diff', '--no-ext-diff', '--no-color'], c.cwd)),
            git(['ls-files', '--others', '--exclude-standard'], c.cwd),
          ]);
          const parts = [diff.trim(), untracked.trim() && `New files:\n${untracked.trim()}`].filter(Boolean);
          return parts.length ? parts.join('\n\n') : 'No changes.';
        },
      },
    ];
    for (const command of builtins) ctx.commands.register(command);

    // Custom commands: the project's override the user's of the same name; built-ins are never shadowed.
    // A Claude Code plugin's are /plugin:command, and also /command while no other command has that name.
    // A plugin that cannot be read is reported here, for every part of it (agents, skills, …) is missing.
    const claude = enabledClaudePlugins(ctx);
    const problems: string[] = [...claude.problems];
    const fromPlugins = claude.plugins.flatMap((p) =>
      p.parts.commands
        .flatMap((path) => loadCommands(path, p.source, problems))
        .map((c) => ({
          ...c,
          body: withPluginRoot(c.body, p.parts.root),
          name: `${p.record.name}:${c.name}`,
          short: c.name,
        })),
    );
    // Claude Code's folders (~/.claude/commands, .claude/commands) just below icode's of the same scope.
    const cc = claudeFolders(ctx, 'commands');
    const custom = [
      ...fromPlugins,
      ...loadCommands(cc.user.path, cc.user.scope, problems),
      ...loadCommands(join(ctx.userDir, 'commands'), 'user', problems),
      ...(cc.project ? loadCommands(cc.project.path, cc.project.scope, problems) : []),
      ...loadCommands(join(ctx.projectRoot, '.icode', 'commands'), 'project', problems),
    ];
    const taken = new Set(ctx.commands.list().map((c) => c.name));
    const byName = new Map(custom.map((c) => [c.name, c]));
    const shorts = new Map<string, number>();
    for (const c of fromPlugins) shorts.set(c.short, (shorts.get(c.short) ?? 0) + 1);
    for (const c of fromPlugins)
      if (shorts.get(c.short) === 1 && !taken.has(c.short) && !byName.has(c.short))
        byName.set(c.short, { ...c, name: c.short });
    for (const c of byName.values()) {
      if (taken.has(c.name)) {
        problems.push(`${c.file}: /${c.name} is already a command; rename the file`);
        continue;
      }
      ctx.commands.register({
        name: c.name,
        description: `${c.description} (${c.scope})`,
        ...(c.argumentHint ? { argumentHint: c.argumentHint } : {}),
        run: (args: string, _: CommandContext) => ({
          prompt: expand(c.body, args),
          ...(c.allowedTools.length ? { allowedTools: c.allowedTools } : {}),
          ...(c.model ? { model: c.model } : {}),
        }),
      });
    }
    if (problems.length)
      ctx.health.degraded(`custom commands: ${problems.join('; ')}`, 'fix or rename the command files named');
  },
});
