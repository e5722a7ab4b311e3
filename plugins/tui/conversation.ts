import type { CommandEffect, PermissionMode, SessionEndReason, ToolResultBlock } from '../../sdk/index.ts';

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

/** The prompt's shortcuts, as in Claude Code: `! command` runs it in the shell; `# note` goes to AGENTS.md. */
export type Shortcut = { kind: 'shell'; command: string } | { kind: 'memory'; note: string };

export function shortcut(text: string): Shortcut | undefined {
  if (/^!\s*\S/.test(text)) return { kind: 'shell', command: text.replace(/^!\s*/, '') };
  // One line only (a pasted markdown document may start with a heading), and not a #! line.
  if (/^#(?!!)\s*\S/.test(text) && !text.includes('\n'))
    return { kind: 'memory', note: text.replace(/^#\s*/, '') };
  return undefined;
}

/** Commands the user ran with `!` since the last prompt, put before it: the model sees what they saw. */
export function withShellContext(
  prompt: string,
  ran: ReadonlyArray<{ command: string; output: string }>,
): string {
  if (!ran.length) return prompt;
  const shown = ran.map((r) => `$ ${r.command}\n${r.output}`).join('\n\n');
  return `I ran this in the shell myself:\n\n\`\`\`\n${shown}\n\`\`\`\n\n${prompt}`;
}

/** A tool result as text for the screen (blocks that are not text show as their kind). */
export const contentText = (content: string | ToolResultBlock[]): string =>
  typeof content === 'string'
    ? content
    : content.map((b) => ('text' in b ? b.text : `[${b.type}]`)).join('\n');
