import type { SessionEvent } from './session.ts';

/**
 * A session event as a transcript line a user would watch: streamed text as it comes, one line per tool
 * call and per result, and a closing line with the turns, tool calls and tokens. Events that show nothing
 * (thinking, retries, todos) give `''`. Headless `--output-format transcript` and the UI without a
 * terminal print the same.
 *
 * @example
 * ```ts
 * const session = await ctx.services.get('session');
 * await session.run({ prompt: 'hello', onEvent: (event) => process.stdout.write(transcript(event)) });
 * ```
 */
export function transcript(event: SessionEvent): string {
  let text_ = '';
  const out = (text: string) => {
    text_ += text;
  };
  const oneLine = (v: unknown, max = 100) => {
    const text = (typeof v === 'string' ? v : JSON.stringify(v)).replace(/\s+/g, ' ').trim();
    return text.length > max ? `${text.slice(0, max)}…` : text;
  };
  if (event.type === 'text_delta') out(event.text);
  else if (event.type === 'tool_use') out(`\n● ${event.name} ${oneLine(event.input)}\n`);
  else if (event.type === 'tool_result') out(`  ${event.is_error ? '✗' : '⎿'} ${oneLine(event.output)}\n`);
  else if (event.type === 'notice') out(`\n${event.text}\n`);
  else if (event.type === 'compaction')
    out(`\n[compacted ${event.messages_before} messages into ${event.messages_after}]\n`);
  else if (event.type === 'result')
    out(
      `\n\n[${event.num_turns} turns, ${event.tool_uses.length} tool calls, ${event.usage.input_tokens + event.usage.output_tokens} tokens${event.is_error ? `, error: ${event.error}` : ''}]\n`,
    );
  return text_;
}
