import * as z from 'zod';
import type { Problem } from './json.ts';
import { parseRule } from './permissions.ts';

/**
 * Claude Code's settings files (`~/.claude/settings.json`, `.claude/settings.json`,
 * `.claude/settings.local.json`) read as icode layers: the keys both tools share are taken, Claude Code's
 * permission modes are mapped onto icode's, and the keys only Claude Code has (statusLine, apiKeyHelper,
 * outputStyle, …) are left alone, as Claude Code leaves icode's. docs/claude-code.md is the table.
 */

const Rule = z.string().superRefine((rule, ctx) => {
  const problem = parseRule(rule).error;
  if (problem) ctx.addIssue({ code: 'custom', message: `invalid permission rule "${rule}": ${problem}` });
});

/** What icode reads of a Claude Code settings file; every other key is ignored, not reported. */
export const ClaudeSettingsSchema = z.looseObject({
  model: z.string().min(1).optional(),
  env: z.record(z.string(), z.string()).optional(),
  hooks: z.record(z.string(), z.array(z.unknown())).optional(),
  enabledPlugins: z.record(z.string(), z.boolean()).optional(),
  permissions: z
    .looseObject({
      allow: z.array(Rule).optional(),
      ask: z.array(Rule).optional(),
      deny: z.array(Rule).optional(),
      defaultMode: z.string().optional(),
      additionalDirectories: z.array(z.string()).optional(),
    })
    .optional(),
});

/**
 * Claude Code's permission modes as icode's. `acceptEdits` becomes `workspace-write`, which also runs
 * commands in the sandbox without asking; `dontAsk` has no counterpart and is not taken.
 */
export const CLAUDE_PERMISSION_MODES = {
  default: 'prompt',
  acceptEdits: 'workspace-write',
  plan: 'plan',
  bypassPermissions: 'danger-full-access',
} as const;

/** icode's permission modes by Claude Code's names, for the `permission_mode` hooks receive. */
export const CLAUDE_MODE_OF = {
  prompt: 'default',
  'workspace-write': 'acceptEdits',
  plan: 'plan',
  // Claude Code has no read-only mode; its plan mode is the one that changes nothing.
  'read-only': 'plan',
  'danger-full-access': 'bypassPermissions',
} as const;

type ClaudeSettings = z.output<typeof ClaudeSettingsSchema>;

/**
 * The icode settings a Claude Code settings file stands for. A permission mode icode has no counterpart
 * for is dropped with a warning at its line (`locate`).
 */
export function fromClaudeSettings(
  value: ClaudeSettings,
  locate: (path: string[]) => Problem['location'],
  warnings: Problem[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (value.model !== undefined) out.model = value.model;
  if (value.env) out.env = value.env;
  if (value.hooks) out.hooks = value.hooks;
  if (value.enabledPlugins) out.enabledPlugins = value.enabledPlugins;
  const p = value.permissions;
  if (p) {
    const permissions: Record<string, unknown> = {};
    for (const key of ['allow', 'ask', 'deny', 'additionalDirectories'] as const)
      if (p[key]) permissions[key] = p[key];
    if (p.defaultMode !== undefined) {
      const mode = CLAUDE_PERMISSION_MODES[p.defaultMode as keyof typeof CLAUDE_PERMISSION_MODES];
      if (mode) permissions.defaultMode = mode;
      else
        warnings.push({
          message: `Claude Code's defaultMode "${p.defaultMode}" has no icode counterpart and is not taken (icode maps ${Object.keys(CLAUDE_PERMISSION_MODES).join(', ')})`,
          location: { ...locate(['permissions', 'defaultMode']), key: 'permissions.defaultMode' },
        });
    }
    out.permissions = permissions;
  }
  return out;
}
