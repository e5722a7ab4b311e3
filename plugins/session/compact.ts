import type { CompactionReport, MessageParam, ModelService } from '../../sdk/index.ts';

export const SUMMARY_REQUEST =
  'Summarise the conversation so far for a continuation of this work: the user’s goals and requests, what was done (files read and changed, commands run and their outcomes), decisions, and what remains. Be concise and concrete; keep file paths, names and error messages exact.';

type Block = Record<string, unknown> & { type: string };
const blocks = (m: MessageParam): Block[] =>
  typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : (m.content as Block[]);
const hasToolResult = (m: MessageParam) =>
  m.role === 'user' && blocks(m).some((b) => b.type === 'tool_result');

/**
 * Where the kept part of the conversation can start: at an assistant message (its tool_use results come
 * right after it, so nothing is split) or at a user message that is a prompt, not tool results. Keeps at
 * least the last exchange; undefined when there is nothing older to summarise.
 */
export function cutIndex(messages: MessageParam[]): number | undefined {
  for (let k = messages.length - 2; k >= 2; k--) {
    const m = messages[k]!;
    if (m.role === 'assistant' || !hasToolResult(m)) return k;
  }
  return undefined;
}

/** A summary icode writes itself when the model cannot: the prompts, the tool calls and the last answer. */
export function localSummary(older: MessageParam[]): string {
  const lines: string[] = [];
  for (const m of older) {
    for (const b of blocks(m)) {
      if (m.role === 'user' && b.type === 'text') lines.push(`User: ${String(b.text).slice(0, 500)}`);
      if (b.type === 'tool_use')
        lines.push(`Tool call: ${String(b.name)} ${JSON.stringify(b.input).slice(0, 200)}`);
      if (b.type === 'tool_result' && b.is_error) lines.push('  (that call failed)');
      if (m.role === 'assistant' && b.type === 'text')
        lines.push(`Assistant: ${String(b.text).slice(0, 500)}`);
    }
  }
  return `(summary written by icode; the model could not be asked)\n${lines.join('\n')}`;
}

/** Older messages plus the request to summarise them, ending in one user message. */
function summaryRequest(older: MessageParam[], instructions?: string): MessageParam[] {
  const ask: Block = {
    type: 'text',
    text: instructions ? `${SUMMARY_REQUEST}\n${instructions}` : SUMMARY_REQUEST,
  };
  const last = older.at(-1)!;
  if (last.role === 'user') return [...older.slice(0, -1), { role: 'user', content: [...blocks(last), ask] }];
  return [...older, { role: 'user', content: [ask] }];
}

/**
 * Replaces the older part of a conversation with a summary, keeping the last exchange whole: a tool_use is
 * never separated from its tool_result. The summary comes from the model; if that call fails, from
 * {@link localSummary}. Returns undefined when there is nothing to compact.
 */
export async function compactMessages(
  messages: MessageParam[],
  model: ModelService,
  options: {
    model: string;
    trigger: CompactionReport['trigger'];
    instructions?: string;
    signal?: AbortSignal;
  },
): Promise<{ messages: MessageParam[]; report: CompactionReport } | undefined> {
  const k = cutIndex(messages);
  if (k === undefined) return undefined;
  const older = messages.slice(0, k);
  const kept = messages.slice(k);
  let summary: string;
  let source: CompactionReport['summary_source'] = 'model';
  let error: string | undefined;
  try {
    const turn = await model.stream(
      { model: options.model, max_tokens: 4096, messages: summaryRequest(older, options.instructions) },
      options.signal ? { signal: options.signal } : {},
    );
    summary = turn.message.content
      .filter((b) => b.type === 'text')
      .map((b) => String(b.text))
      .join('')
      .trim();
    if (!summary) throw new Error('the model returned an empty summary');
  } catch (e) {
    if (options.signal?.aborted) throw e;
    summary = localSummary(older);
    source = 'local';
    error = e instanceof Error ? e.message : String(e);
  }
  const head: Block = { type: 'text', text: `[Summary of the earlier conversation]\n${summary}` };
  const first = kept[0]!;
  const compacted: MessageParam[] =
    first.role === 'user'
      ? [{ role: 'user', content: [head, ...blocks(first)] }, ...kept.slice(1)]
      : [{ role: 'user', content: [head] }, ...kept];
  return {
    messages: compacted,
    report: {
      trigger: options.trigger,
      messages_before: messages.length,
      messages_after: compacted.length,
      summary_source: source,
      ...(error ? { error } : {}),
    },
  };
}
