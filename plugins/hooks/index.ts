import { join } from 'node:path';
import type * as z from 'zod';
import {
  CLAUDE_MODE_OF,
  claudeToolInput,
  claudeToolName,
  claudeToolResponse,
  definePlugin,
  enabledClaudePlugins,
  formatLocation,
  HOOK_EVENTS,
  type HookEvent,
  type HookMatcherSchema,
  HooksSchema,
  icodeToolInput,
  type PermissionEvidence,
  type PermissionMode,
  ProjectApprovals,
  projectSlug,
  type ToolResultBlock,
  toolNamesFor,
} from '../../sdk/index.ts';
import { type HookCommand, type HookOutcome, runHook } from './run.ts';

type Matcher = typeof HookMatcherSchema;

/** The `hooks` service: what is configured, and approval of a project's own hooks. */
export interface HooksService {
  list(): Array<{ event: HookEvent; matcher: string; command: string; source: string; approved: boolean }>;
  approveProject(): number;
}
declare module '../../kernel/registries.ts' {
  interface Services {
    hooks: HooksService;
  }
}

const textOf = (content: string | ToolResultBlock[]) =>
  typeof content === 'string'
    ? content
    : content.map((b) => (b.type === 'text' ? b.text : `[${b.type}]`)).join('\n');

interface Configured {
  event: HookEvent;
  matcher: string;
  hook: HookCommand;
  source: string;
  fromProject: boolean;
  /** A Claude Code plugin's folder: its hooks get it as CLAUDE_PLUGIN_ROOT. */
  pluginRoot?: string;
}

const text = (o: HookOutcome) => o.stderr || o.stdout || `exit ${o.exitCode}`;
const specific = (o: HookOutcome) => (o.json?.hookSpecificOutput ?? {}) as Record<string, unknown>;
/** What a hook that succeeded gives the model: its additionalContext, or its plain (non-JSON) stdout. */
const contextOf = (o: HookOutcome): string | undefined => {
  if (o.exitCode !== 0) return undefined;
  const extra = specific(o).additionalContext ?? (o.json ? undefined : o.stdout);
  return typeof extra === 'string' && extra ? extra : undefined;
};

export default definePlugin({
  activate(ctx) {
    const problems: string[] = [];
    /** Plugins whose hooks differ from what was accepted: installing again shows them for review. */
    const reinstall: string[] = [];
    const configured: Configured[] = [];
    /** Each hook of a parsed `hooks` object, with where it came from (per event). */
    const addHooks = (
      events: Record<string, z.output<Matcher>[]> | undefined,
      from: (event: HookEvent) => Pick<Configured, 'source' | 'fromProject' | 'pluginRoot'>,
    ) => {
      for (const [event, matchers] of Object.entries(events ?? {}) as Array<
        [HookEvent, z.output<Matcher>[]]
      >) {
        const where = from(event);
        for (const m of matchers)
          for (const hook of m.hooks) configured.push({ event, matcher: m.matcher ?? '', hook, ...where });
      }
    };
    let raw = (ctx.settings as { hooks?: unknown }).hooks as Record<string, unknown> | undefined;
    if (raw !== undefined) {
      // Events icode does not run, in a file written for Claude Code, are said and passed over: they must
      // not keep the file's other hooks (an rm guard) from running.
      const foreign = Object.keys(raw).filter(
        (event) =>
          !(HOOK_EVENTS as readonly string[]).includes(event) &&
          String(ctx.origins[`hooks.${event}`]).startsWith('claude-'),
      );
      for (const event of foreign)
        problems.push(
          `${formatLocation(ctx.locate(['hooks', event]))}: Claude Code's ${event} hooks are not run by icode (see docs/claude-code.md)`,
        );
      raw = Object.fromEntries(Object.entries(raw).filter(([event]) => !foreign.includes(event)));
      const parsed = HooksSchema.safeParse(raw);
      if (!parsed.success)
        for (const issue of parsed.error.issues)
          problems.push(
            `${formatLocation(ctx.locate(['hooks', ...issue.path.map(String)]))}: ${issue.message}`,
          );
      addHooks(parsed.data, (event) => {
        const layer = ctx.origins[`hooks.${event}`] ?? 'settings';
        return {
          source: `${layer} settings${layer === 'settings' ? '' : ` (${ctx.locate(['hooks', event]).file})`}`,
          fromProject: ProjectApprovals.fromRepository(layer),
        };
      });
    }
    // A Claude Code plugin's hooks (hooks/hooks.json): a plugin the project switches on counts as the project's.
    for (const p of enabledClaudePlugins(ctx).plugins) {
      if (!p.parts.hooks) continue;
      // Hooks (or the scripts they run) that differ from what the user accepted at install do not run.
      const held = p.heldBack();
      if (held?.hooks) {
        problems.push(`${p.source}: ${held.reason}`);
        reinstall.push(`icode plugins install ${p.record.spec}`);
        continue;
      }
      const parsed = HooksSchema.safeParse(p.parts.hooks.events);
      if (!parsed.success)
        for (const issue of parsed.error.issues)
          problems.push(`${p.parts.hooks.file} (key "hooks.${issue.path.join('.')}"): ${issue.message}`);
      addHooks(parsed.data, () => ({
        source: p.source,
        fromProject: p.fromProject,
        pluginRoot: p.parts.root,
      }));
    }
    // Hooks from the repository's own settings run commands: only once the user approved them as they are.
    const approvals = new ProjectApprovals(ctx.userDir, 'hooks');
    const projectHooks = configured
      .filter((c) => c.fromProject)
      .map((c) => [c.event, c.matcher, c.hook, ...(c.pluginRoot ? [c.source] : [])]);
    const fingerprint = ProjectApprovals.fingerprint(projectHooks);
    const projectApproved = !projectHooks.length || approvals.approved(ctx.projectRoot, fingerprint);
    if (!projectApproved) {
      const skipped = configured
        .filter((c) => c.fromProject)
        .map((c) => `${c.event}${c.matcher ? ` ${c.matcher}` : ''}: ${c.hook.command} (${c.source})`);
      problems.push(
        `${projectHooks.length} hooks of the project (its .icode and .claude settings files and the plugins they switch on) are not approved and do not run: ${skipped.join('; ')}`,
      );
    }
    if (problems.length)
      ctx.health.degraded(
        problems.join('; '),
        !projectApproved
          ? 'review them, then run `icode hooks approve`'
          : reinstall.length
            ? `review the plugin, then install it again: ${reinstall.join('; ')}`
            : 'fix the settings',
      );
    const active = configured.filter((c) => !c.fromProject || projectApproved);

    /** SessionStart hooks' context for each session, until its first prompt takes it. */
    const startContext = new Map<string, string[]>();
    // A matcher written for Claude Code (`Read|Write`, `Task`) matches icode's tool by any of its names.
    const matching = (event: HookEvent, tool?: string) =>
      active.filter((c) => {
        if (c.event !== event) return false;
        if (!tool || !c.matcher || c.matcher === '*') return true;
        const re = new RegExp(`^(?:${c.matcher})$`);
        return toolNamesFor(tool).some((name) => re.test(name));
      });
    /** The fields every hook input has, as Claude Code documents them. */
    const base = (
      event: HookEvent,
      session?: { id?: string | undefined; cwd: string; mode?: PermissionMode | undefined },
    ) => ({
      session_id: session?.id ?? '',
      transcript_path: session?.id
        ? join(ctx.userDir, 'projects', projectSlug(ctx.projectRoot), `${session.id}.jsonl`)
        : '',
      cwd: session?.cwd ?? ctx.cwd,
      hook_event_name: event,
      ...(session?.mode ? { permission_mode: CLAUDE_MODE_OF[session.mode] } : {}),
    });
    const run = (c: Configured, event: Record<string, unknown>) =>
      runHook(c.hook, event, {
        cwd: ctx.projectRoot,
        env: c.pluginRoot ? { ...ctx.env, CLAUDE_PLUGIN_ROOT: c.pluginRoot } : ctx.env,
      });
    const failed = (c: Configured, o: HookOutcome) =>
      o.timedOut
        ? `timed out after ${c.hook.timeout ?? 60} s`
        : `exited ${o.exitCode}${o.stderr ? `: ${o.stderr}` : ''}`;

    // PreToolUse: before the permission decision; it can deny, ask, allow or rewrite the input.
    ctx.hooks.permissionRequest.tap(async (request) => {
      let input = request.input as Record<string, unknown>;
      let rewritten = false;
      for (const c of matching('PreToolUse', request.tool)) {
        const o = await run(c, {
          ...base('PreToolUse', { id: request.sessionId, cwd: request.cwd, mode: request.sessionMode }),
          tool_name: claudeToolName(request.tool),
          tool_input: claudeToolInput(request.tool, input, request.cwd),
          ...(request.toolUseId ? { tool_use_id: request.toolUseId } : {}),
        });
        const where = `PreToolUse hook "${c.hook.command}" (${c.source})`;
        if (o.exitCode === 2) return { decision: 'deny', reason: `${where} blocked it: ${text(o)}` };
        if (o.exitCode !== 0) {
          if (c.hook.failOpen) continue;
          return {
            decision: 'deny',
            reason: `${where} ${failed(c, o)}; a failing PreToolUse hook blocks the call (mark it failOpen to let calls through)`,
          };
        }
        const s = specific(o);
        if (o.json?.continue === false)
          return { decision: 'deny', reason: `${where}: ${String(o.json.stopReason ?? 'stop')}` };
        if (s.updatedInput && typeof s.updatedInput === 'object') {
          // Written in Claude Code's field names (file_path) or icode's.
          input = icodeToolInput(request.tool, s.updatedInput as Record<string, unknown>);
          rewritten = true;
        }
        const decision =
          s.permissionDecision ??
          ({ approve: 'allow', block: 'deny' } as Record<string, string>)[String(o.json?.decision)];
        const reason = String(s.permissionDecisionReason ?? o.json?.reason ?? `${where} decided`);
        if (decision === 'deny' || decision === 'ask' || decision === 'allow')
          return { decision, reason, ...(rewritten ? { updatedInput: input } : {}) } as PermissionEvidence;
      }
      return rewritten
        ? { decision: 'allow', reason: 'a PreToolUse hook rewrote the input', updatedInput: input }
        : undefined;
    });

    // PostToolUse / PostToolUseFailure: after the tool; feedback and context go to the model with the result.
    ctx.hooks.afterToolCall.tap(async (result, call, tctx) => {
      const event: HookEvent = result.isError ? 'PostToolUseFailure' : 'PostToolUse';
      const notes: string[] = [];
      const said = textOf(result.content);
      for (const c of matching(event, call.name)) {
        const o = await run(c, {
          ...base(event, { id: tctx.sessionId, cwd: tctx.cwd, mode: tctx.sessionMode }),
          tool_name: claudeToolName(call.name),
          tool_input: claudeToolInput(call.name, call.input, tctx.cwd),
          tool_use_id: call.id,
          ...(result.isError
            ? { error: said }
            : { tool_response: claudeToolResponse(call.name, call.input, said, tctx.cwd) }),
        });
        if (o.exitCode === 2) notes.push(`[${event} hook] ${text(o)}`);
        else if (o.exitCode !== 0) notes.push(`[${event} hook "${c.hook.command}" ${failed(c, o)}]`);
        else if (o.json?.decision === 'block')
          notes.push(`[${event} hook] ${String(o.json.reason ?? 'blocked')}`);
        const extra = specific(o).additionalContext;
        if (typeof extra === 'string') notes.push(`[${event} hook context] ${extra}`);
      }
      if (!notes.length) return result;
      const note: ToolResultBlock = { type: 'text', text: notes.join('\n') };
      const content =
        typeof result.content === 'string'
          ? [{ type: 'text' as const, text: result.content }, note]
          : [...result.content, note];
      return { ...result, content };
    });

    // UserPromptSubmit: can block the prompt, or add context to it.
    // SessionStart context (below) comes first, once, with the session's first prompt.
    ctx.hooks.userPrompt.tap(async (prompt) => {
      const started = startContext.get(prompt.session.id) ?? [];
      startContext.delete(prompt.session.id);
      let text_ = [prompt.text, ...started].join('\n\n');
      for (const c of matching('UserPromptSubmit')) {
        const o = await run(c, { ...base('UserPromptSubmit', prompt.session), prompt: prompt.text });
        if (o.exitCode === 2) return { ...prompt, blocked: text(o) };
        if (o.exitCode !== 0) continue;
        if (o.json?.decision === 'block')
          return { ...prompt, blocked: String(o.json.reason ?? 'blocked by a hook') };
        const extra = contextOf(o);
        if (extra) text_ += `\n\n${extra}`;
      }
      return { ...prompt, text: text_ };
    });

    // Stop: may send the model back to work with a reason.
    ctx.hooks.stop.tap(async (request) => {
      for (const c of matching('Stop')) {
        const o = await run(c, {
          ...base('Stop', request.session),
          stop_hook_active: request.continuations > 0,
        });
        if (o.exitCode === 2) return { continueWith: text(o) };
        if (o.exitCode === 0 && o.json?.decision === 'block')
          return { continueWith: String(o.json.reason ?? 'Keep going.') };
      }
      return undefined;
    });

    const notify = (
      event: HookEvent,
      extra: Record<string, unknown>,
      session?: { id?: string | undefined; cwd: string; mode?: PermissionMode | undefined },
    ) =>
      Promise.all(matching(event).map((c) => run(c, { ...base(event, session), ...extra }))).then(
        () => undefined,
      );
    // SessionStart (matchers test the source: startup or resume): what the hooks print, or give as
    // additionalContext, goes to the model with the session's first prompt, as in Claude Code.
    ctx.hooks.sessionStart.tap(async (session) => {
      const source = session.source ?? 'startup';
      const outcomes = await Promise.all(
        matching('SessionStart', source).map((c) => run(c, { ...base('SessionStart', session), source })),
      );
      const notes = outcomes.map(contextOf).filter((n): n is string => n !== undefined);
      if (notes.length) startContext.set(session.id, notes);
    });
    ctx.hooks.sessionEnd.tap(async (session, reason) => {
      startContext.delete(session.id);
      await notify('SessionEnd', { reason }, session);
    });
    ctx.hooks.preCompact.tap((session, trigger) => notify('PreCompact', { trigger }, session));
    ctx.hooks.permissionPrompt.tap(async (request) => {
      await notify(
        'Notification',
        { message: `icode needs your permission to use ${claudeToolName(request.tool)}` },
        { id: request.sessionId, cwd: request.cwd, mode: request.sessionMode },
      );
      return undefined;
    });

    ctx.services.provide('hooks', {
      list: () =>
        configured.map((c) => ({
          event: c.event,
          matcher: c.matcher,
          command: c.hook.command,
          source: c.source,
          approved: !c.fromProject || projectApproved,
        })),
      approveProject: () => {
        approvals.approve(ctx.projectRoot, fingerprint);
        return projectHooks.length;
      },
    });
  },
});
