import type { CommandEffect, PermissionMode, SessionEndReason } from '../../sdk/index.ts';

/** Where an interactive conversation stands: its session (none before the first prompt), model and mode. */
export interface Conversation {
  session?: string;
  model: string;
  mode: PermissionMode;
}

/**
 * What a slash command's effect does to the conversation — one rule for the UI and its plain-line mode:
 * the state after it, whether to leave, and the session that ends (with Claude Code's SessionEnd reason).
 */
export function applyEffect(
  now: Conversation,
  effect: CommandEffect | undefined,
): { next: Conversation; exit: boolean; ends?: { id: string; reason: SessionEndReason } } {
  const leaving = (id: string | undefined, reason: SessionEndReason) => (id ? { ends: { id, reason } } : {});
  switch (effect?.type) {
    case 'exit':
      return { next: now, exit: true };
    case 'clear': {
      const { session: _, ...rest } = now;
      return { next: rest, exit: false, ...leaving(now.session, 'clear') };
    }
    case 'resume':
      return {
        next: { ...now, session: effect.id },
        exit: false,
        ...(now.session !== effect.id ? leaving(now.session, 'other') : {}),
      };
    case 'model':
      return { next: { ...now, model: effect.model }, exit: false };
    case 'mode':
      return { next: { ...now, mode: effect.mode }, exit: false };
    default:
      return { next: now, exit: false };
  }
}
