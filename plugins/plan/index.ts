import * as z from 'zod';
import { definePlugin, defineTool, type PermissionMode } from '../../sdk/index.ts';

export default definePlugin({
  config: z.strictObject({}),
  activate(ctx) {
    // The mode each session was in before it entered plan mode, restored when its plan is approved.
    const before = new Map<string, PermissionMode>();
    const fallback = (): PermissionMode => {
      const d = ctx.settings.permissions.defaultMode;
      return d && d !== 'plan' ? d : 'prompt';
    };

    // Leaving plan mode is the user's call: always asked (a deny keeps the session planning).
    ctx.hooks.permissionRequest.tap(async (request) => {
      if (request.tool !== 'ExitPlanMode' || request.sessionMode !== 'plan') return undefined;
      const plan = String((request.input as { plan?: unknown }).plan ?? '');
      return { decision: 'ask', reason: `approve this plan and leave plan mode?\n\n${plan}` };
    });

    ctx.tools.register(
      defineTool({
        name: 'EnterPlanMode',
        description:
          'Switch to plan mode before a change that needs thought: you can read, search and ask, but nothing that changes files or runs commands with effects. Finish with ExitPlanMode and your plan.',
        input: z.object({}),
        mode: 'read-only',
        execute(_, tctx) {
          if (!tctx.setSessionMode) throw new Error('plan mode is only available inside a session');
          if (tctx.sessionMode === 'plan') return 'Already in plan mode.';
          if (tctx.sessionId && tctx.sessionMode) before.set(tctx.sessionId, tctx.sessionMode);
          tctx.setSessionMode('plan');
          return 'Plan mode is on: read, search and think; tools that change files or run commands are refused. When the plan is ready, call ExitPlanMode with it; the user approves it before you go on.';
        },
      }),
    );
    ctx.tools.register(
      defineTool({
        name: 'ExitPlanMode',
        description:
          'Present your plan (markdown) for the user to approve. If approved, plan mode ends and you carry out the plan; if not, you stay in plan mode with their feedback.',
        input: z.object({
          plan: z.string().min(1).describe('The plan, in markdown: the steps and the files they touch'),
        }),
        mode: 'read-only',
        execute(_, tctx) {
          if (tctx.sessionMode !== 'plan') return 'Not in plan mode; go ahead.';
          if (!tctx.setSessionMode) throw new Error('plan mode is only available inside a session');
          const next = (tctx.sessionId && before.get(tctx.sessionId)) || fallback();
          if (tctx.sessionId) before.delete(tctx.sessionId);
          tctx.setSessionMode(next);
          return `The user approved the plan. Plan mode is off (permission mode: ${next}); carry out the plan.`;
        },
      }),
    );
  },
});
