import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as z from 'zod';
import {
  CLAUDE_PERMISSION_MODES,
  claudeFolders,
  definePlugin,
  defineTool,
  enabledClaudePlugins,
  icodeToolName,
  listOf,
  PERMISSION_MODES,
  type PermissionMode,
  parseFrontmatter,
} from '../../sdk/index.ts';

export interface AgentType {
  name: string;
  description: string;
  /** Tool names the agent may use; undefined: every tool but Agent. */
  tools?: string[];
  model?: string;
  /** The agent's permission mode; undefined: the calling session's. */
  permissionMode?: PermissionMode;
  /** Instructions added to the agent's system prompt. */
  prompt: string;
  source: string;
}

const READ_TOOLS = [
  'read_file',
  'glob_search',
  'grep_search',
  'LSP',
  'WebFetch',
  'WebSearch',
  'Skill',
  'bash',
];

const BUILT_IN: AgentType[] = [
  {
    name: 'general',
    description: 'General-purpose: research and multi-step work with every tool but Agent',
    prompt:
      'You are a sub-agent. Do the task you were given completely, then reply with a concise report of what you found and did; that report is all the caller sees.',
    source: 'built-in',
  },
  {
    name: 'explore',
    description: 'Read-only exploration: finds files, reads and searches code, and reports; changes nothing',
    tools: READ_TOOLS,
    permissionMode: 'read-only',
    prompt:
      'You are a read-only exploration sub-agent. Find what was asked by searching and reading; you cannot change anything. Reply with a concise report: the answer, the files and lines that show it.',
    source: 'built-in',
  },
  {
    name: 'plan',
    description: 'Read-only planning: studies the code and returns a step-by-step implementation plan',
    tools: READ_TOOLS,
    permissionMode: 'read-only',
    prompt:
      'You are a planning sub-agent. Study the relevant code (read-only) and reply with an implementation plan: the steps, the files each touches, and the risks.',
    source: 'built-in',
  },
];

/**
 * Custom agents: `NAME.md` with frontmatter name, description, tools, model, permissionMode; the body is the
 * prompt. `path` is a folder of them, or one such file.
 */
export function loadAgents(path: string, source: string, problems: string[]): AgentType[] {
  if (!existsSync(path)) return [];
  const single = statSync(path).isFile();
  const dir = single ? dirname(path) : path;
  const out: AgentType[] = [];
  for (const entry of single ? [basename(path)] : readdirSync(dir).sort()) {
    if (!entry.endsWith('.md')) continue;
    const file = join(dir, entry);
    try {
      const { data, body } = parseFrontmatter(readFileSync(file, 'utf8'), file);
      const given = data.permissionMode ?? data['permission-mode'];
      // Claude Code's names for modes (acceptEdits, …) are taken as icode's counterparts.
      const mode = CLAUDE_PERMISSION_MODES[String(given) as keyof typeof CLAUDE_PERMISSION_MODES] ?? given;
      if (mode !== undefined && !PERMISSION_MODES.includes(mode as PermissionMode))
        throw new Error(
          `${file}: permissionMode "${String(given)}" is not one of ${[...PERMISSION_MODES, ...Object.keys(CLAUDE_PERMISSION_MODES)].join(', ')}`,
        );
      if (typeof data.description !== 'string')
        throw new Error(`${file}: the frontmatter needs a description`);
      // Tools may be named as Claude Code names them (Read, Grep, Bash): they mean icode's.
      const tools = data.tools === undefined ? undefined : listOf(data.tools).map(icodeToolName);
      out.push({
        name: typeof data.name === 'string' ? data.name : entry.slice(0, -3),
        description: data.description,
        ...(tools ? { tools } : {}),
        // Claude Code's `inherit`: the caller's model, as no model means here.
        ...(typeof data.model === 'string' && data.model !== 'inherit' ? { model: data.model } : {}),
        ...(mode ? { permissionMode: mode as PermissionMode } : {}),
        prompt: body.trim(),
        source,
      });
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
  }
  return out;
}

export default definePlugin({
  config: z.strictObject({
    maxTurns: z.number().int().positive().default(30),
  }),
  activate(ctx) {
    const claude = enabledClaudePlugins(ctx);
    // (A plugin that cannot be read is reported by the commands plugin, once.)
    const problems: string[] = [];
    const types = new Map<string, AgentType>();
    // A Claude Code plugin's agents are `plugin:agent`.
    const fromPlugins = claude.plugins.flatMap((p) =>
      p.parts.agents
        .flatMap((path) => loadAgents(path, p.source, problems))
        .map((a) => ({ ...a, name: `${p.record.name}:${a.name}` })),
    );
    // Project agents override the user's, which override the built-in ones of the same name; Claude
    // Code's folders (~/.claude/agents, .claude/agents) sit just below icode's of the same scope.
    const cc = claudeFolders(ctx, 'agents');
    for (const a of [
      ...BUILT_IN,
      ...fromPlugins,
      ...loadAgents(cc.user.path, cc.user.scope, problems),
      ...loadAgents(join(ctx.userDir, 'agents'), 'user', problems),
      ...(cc.project ? loadAgents(cc.project.path, cc.project.scope, problems) : []),
      ...loadAgents(join(ctx.projectRoot, '.icode', 'agents'), 'project', problems),
    ])
      types.set(a.name, a);
    if (problems.length) ctx.health.degraded(`agents: ${problems.join('; ')}`, 'fix the agent files named');

    const list = () => [...types.values()].map((a) => `- ${a.name}: ${a.description}`).join('\n');
    ctx.hooks.toolDefinitions.tap(async (defs) =>
      defs.map((d) =>
        d.name === 'Agent'
          ? { ...d, description: `${d.description}\n\nAgent types (subagent_type):\n${list()}` }
          : d,
      ),
    );
    ctx.tools.register(
      defineTool({
        name: 'Agent',
        // A sub-agent is a whole session; it ends with the caller's signal, not a deadline.
        timeoutMs: 0,
        aliases: ['Task'],
        description:
          'Hand a self-contained task to a sub-agent with its own context; it works with its own tools and returns one final report (you do not see its steps). Give it everything it needs in the prompt. Independent agents may run in parallel.',
        input: z.object({
          description: z.string().min(1).describe('A few words: what the agent does'),
          prompt: z.string().min(1).describe('The whole task, with the context the agent needs'),
          subagent_type: z.string().default('general').describe('Which kind of agent (see the list)'),
        }),
        mode: 'read-only',
        concurrencySafe: true,
        async execute({ prompt, subagent_type }, tctx) {
          const type = types.get(subagent_type);
          if (!type)
            throw new Error(`no agent type "${subagent_type}"; available: ${[...types.keys()].join(', ')}`);
          const known = ctx.tools.names().filter((n) => n !== 'Agent');
          const tools = type.tools ? type.tools.filter((n) => known.includes(n)) : known;
          const session = await ctx.services.get('session');
          const started = Date.now();
          const result = await session.run({
            prompt,
            tools,
            maxTurns: ctx.config.maxTurns,
            appendSystemPrompt: type.prompt,
            ...(type.model ? { model: type.model } : {}),
            // An agent never gets more than its caller: a read-only caller keeps it read-only.
            permissionMode: narrower(type.permissionMode, tctx.sessionMode),
            signal: tctx.signal,
          });
          const stats = `[${type.name} agent: ${result.num_turns} turns, ${result.tool_uses.length} tool calls, ${((Date.now() - started) / 1000).toFixed(1)}s]`;
          if (result.is_error)
            throw new Error(
              `the ${type.name} agent failed: ${result.error ?? result.stop_reason}\n${result.result}\n${stats}`,
            );
          return `${result.result || '(the agent gave no report)'}\n\n${stats}`;
        },
      }),
    );
  },
});

const RANK: Record<PermissionMode, number> = {
  'read-only': 0,
  plan: 0,
  prompt: 1,
  'workspace-write': 2,
  'danger-full-access': 3,
};

/** The narrower of the agent's mode and its caller's. */
function narrower(agent: PermissionMode | undefined, caller: PermissionMode | undefined): PermissionMode {
  if (!agent) return caller ?? 'prompt';
  if (!caller) return agent;
  return RANK[agent] <= RANK[caller] ? agent : caller;
}
