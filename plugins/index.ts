import type { BuiltinPlugin } from '../kernel/host.ts';
import agents from './agents/plugin.json' with { type: 'json' };
import anthropic from './anthropic/plugin.json' with { type: 'json' };
import bash from './bash/plugin.json' with { type: 'json' };
import commands from './commands/plugin.json' with { type: 'json' };
import fileTools from './file-tools/plugin.json' with { type: 'json' };
import hooks from './hooks/plugin.json' with { type: 'json' };
import interaction from './interaction/plugin.json' with { type: 'json' };
import lsp from './lsp/plugin.json' with { type: 'json' };
import mcp from './mcp/plugin.json' with { type: 'json' };
import mockAnthropic from './mock-anthropic/plugin.json' with { type: 'json' };
import notebook from './notebook/plugin.json' with { type: 'json' };
import parity from './parity/plugin.json' with { type: 'json' };
import plan from './plan/plugin.json' with { type: 'json' };
import powershell from './powershell/plugin.json' with { type: 'json' };
import repl from './repl/plugin.json' with { type: 'json' };
import search from './search/plugin.json' with { type: 'json' };
import session from './session/plugin.json' with { type: 'json' };
import skills from './skills/plugin.json' with { type: 'json' };
import stdinApproval from './stdin-approval/plugin.json' with { type: 'json' };
import structuredOutput from './structured-output/plugin.json' with { type: 'json' };
import tasks from './tasks/plugin.json' with { type: 'json' };
import teamCron from './team-cron/plugin.json' with { type: 'json' };
import todo from './todo/plugin.json' with { type: 'json' };
import toolSearch from './tool-search/plugin.json' with { type: 'json' };
import tui from './tui/plugin.json' with { type: 'json' };
import web from './web/plugin.json' with { type: 'json' };
import workspaceGuard from './workspace-guard/plugin.json' with { type: 'json' };

/**
 * The first-party plugins compiled into icode. Each manifest is static data; the code of a plugin is
 * imported only when it activates, so listing plugins never loads them.
 */
export const builtinPlugins: BuiltinPlugin[] = [
  { file: 'plugins/agents/plugin.json', manifest: agents, load: () => import('./agents/index.ts') },
  { file: 'plugins/anthropic/plugin.json', manifest: anthropic, load: () => import('./anthropic/index.ts') },
  { file: 'plugins/commands/plugin.json', manifest: commands, load: () => import('./commands/index.ts') },
  { file: 'plugins/bash/plugin.json', manifest: bash, load: () => import('./bash/index.ts') },
  {
    file: 'plugins/file-tools/plugin.json',
    manifest: fileTools,
    load: () => import('./file-tools/index.ts'),
  },
  { file: 'plugins/hooks/plugin.json', manifest: hooks, load: () => import('./hooks/index.ts') },
  {
    file: 'plugins/interaction/plugin.json',
    manifest: interaction,
    load: () => import('./interaction/index.ts'),
  },
  { file: 'plugins/lsp/plugin.json', manifest: lsp, load: () => import('./lsp/index.ts') },
  { file: 'plugins/mcp/plugin.json', manifest: mcp, load: () => import('./mcp/index.ts') },
  {
    file: 'plugins/mock-anthropic/plugin.json',
    manifest: mockAnthropic,
    load: () => import('./mock-anthropic/index.ts'),
  },
  { file: 'plugins/notebook/plugin.json', manifest: notebook, load: () => import('./notebook/index.ts') },
  { file: 'plugins/parity/plugin.json', manifest: parity, load: () => import('./parity/index.ts') },
  { file: 'plugins/plan/plugin.json', manifest: plan, load: () => import('./plan/index.ts') },
  {
    file: 'plugins/powershell/plugin.json',
    manifest: powershell,
    load: () => import('./powershell/index.ts'),
  },
  { file: 'plugins/repl/plugin.json', manifest: repl, load: () => import('./repl/index.ts') },
  { file: 'plugins/search/plugin.json', manifest: search, load: () => import('./search/index.ts') },
  { file: 'plugins/session/plugin.json', manifest: session, load: () => import('./session/index.ts') },
  {
    file: 'plugins/stdin-approval/plugin.json',
    manifest: stdinApproval,
    load: () => import('./stdin-approval/index.ts'),
  },
  { file: 'plugins/skills/plugin.json', manifest: skills, load: () => import('./skills/index.ts') },
  {
    file: 'plugins/structured-output/plugin.json',
    manifest: structuredOutput,
    load: () => import('./structured-output/index.ts'),
  },
  { file: 'plugins/tasks/plugin.json', manifest: tasks, load: () => import('./tasks/index.ts') },
  {
    file: 'plugins/team-cron/plugin.json',
    manifest: teamCron,
    load: () => import('./team-cron/index.ts'),
  },
  { file: 'plugins/todo/plugin.json', manifest: todo, load: () => import('./todo/index.ts') },
  {
    file: 'plugins/tool-search/plugin.json',
    manifest: toolSearch,
    load: () => import('./tool-search/index.ts'),
  },
  { file: 'plugins/tui/plugin.json', manifest: tui, load: () => import('./tui/index.ts') },
  { file: 'plugins/web/plugin.json', manifest: web, load: () => import('./web/index.ts') },
  {
    file: 'plugins/workspace-guard/plugin.json',
    manifest: workspaceGuard,
    load: () => import('./workspace-guard/index.ts'),
  },
];
