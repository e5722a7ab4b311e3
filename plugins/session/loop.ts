import { randomUUID } from 'node:crypto';
import type {
  MessageParam,
  ModelRequest,
  ModelTurn,
  PluginContext,
  SessionEvent,
  SessionInfo,
  SessionResult,
  SessionRunOptions,
  ToolResult,
  Usage,
} from '../../sdk/index.ts';
import { compactMessages } from './compact.ts';
import { systemPrompt } from './context.ts';
import { type SessionStore, SessionWriteError, type SessionWriter } from './store.ts';

export interface LoopConfig {
  maxTokens: number;
  maxTurns: number;
  /** When a request's context reaches this many tokens, the older turns are summarised first. */
  autoCompactTokens: number;
}

type ToolUse = { id: string; name: string; input: unknown };
const zeroUsage = (): Usage => ({
  input_tokens: 0,
  output_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
});

/**
 * Runs one prompt to the end: request → streamed turn → every tool_use answered (in order, read-only
 * concurrency-safe tools in parallel) → again, until the model stops, max turns, or an abort. Every
 * tool_use gets a tool_result, also on denial, error and interruption.
 */
export async function runSession(
  ctx: PluginContext,
  config: LoopConfig,
  store: SessionStore,
  /** Sessions kept open across runs (the UI's: one run per prompt), by id, until SessionService.end. */
  open: Map<string, SessionInfo>,
  options: SessionRunOptions,
): Promise<SessionResult> {
  const emit = (event: SessionEvent) => options.onEvent?.(event);
  const model = await ctx.services.get('model');
  const modelId = model.resolveModel(options.model ?? ctx.settings.model ?? 'sonnet');
  let mode = options.permissionMode ?? ctx.settings.permissions.defaultMode ?? 'prompt';
  const session: SessionInfo = {
    id: options.resume ?? randomUUID(),
    cwd: ctx.cwd,
    mode,
    interactive: options.interactive ?? false,
    source: options.resume ? 'resume' : 'startup',
    ...(options.jsonSchema ? { jsonSchema: options.jsonSchema } : {}),
  };
  const roots = [...ctx.roots];
  const result: SessionResult = {
    result: '',
    is_error: false,
    stop_reason: 'end_turn',
    num_turns: 0,
    session_id: session.id,
    usage: zeroUsage(),
    total_cost_usd: 0,
    tool_uses: [],
    tool_results: [],
  };
  // A sub-agent sees only its subset of the tools.
  const subset = options.tools ? new Set(options.tools) : undefined;
  const offered = async () => {
    const defs = await ctx.tools.definitions(session);
    return subset ? defs.filter((d) => subset.has(d.name)) : defs;
  };
  const tools = await offered();
  emit({
    type: 'session_start',
    session_id: session.id,
    model: modelId,
    cwd: ctx.cwd,
    tools: tools.map((t) => t.name),
    permission_mode: mode,
  });
  // Start and end reach the hooks once per conversation: a run that continues a session kept open in
  // this process (the UI's next prompt) is no new start, and a kept-open one ends when the UI says so.
  if (!open.has(session.id)) await ctx.emit.sessionStart(session);
  if (options.keepOpen) open.set(session.id, session);
  const finish = async () => {
    if (options.keepOpen) return;
    open.delete(session.id);
    await ctx.emit.sessionEnd(session, 'other');
  };
  const system = await systemPrompt({
    projectRoot: ctx.projectRoot,
    cwd: ctx.cwd,
    userDir: ctx.userDir,
    ...(options.systemPrompt ? { base: options.systemPrompt } : {}),
    ...(options.appendSystemPrompt ? { append: options.appendSystemPrompt } : {}),
  });
  const maxTurns = options.maxTurns ?? config.maxTurns;
  // A session file the disk refused ends the run as a storage_error naming the file (the CLI prints it).
  const fail = (error: unknown) =>
    Object.assign(result, {
      is_error: true,
      stop_reason: error instanceof SessionWriteError ? 'storage_error' : 'error',
      error: error instanceof Error ? error.message : String(error),
    });
  let writer: SessionWriter;
  let messages: MessageParam[];
  try {
    messages = options.resume ? store.messages(options.resume) : [];
    writer = store.open(session.id, { cwd: ctx.cwd, model: modelId });
  } catch (error) {
    fail(error);
    await finish();
    emit({ type: 'result', ...result });
    return result;
  }
  // A resumed session's todo list is the session's: the UI and stream-json readers get it back at once.
  if (options.resume) {
    const todos = (await ctx.services.get('todos').catch(() => undefined))?.get(options.resume) ?? [];
    if (todos.length) emit({ type: 'todos', todos });
  }
  const record = (message: MessageParam) => {
    messages.push(message);
    writer.message(message);
  };
  const compact = async (trigger: 'auto' | 'manual', instructions?: string) => {
    await ctx.emit.preCompact(session, trigger);
    const done = await compactMessages(messages, model, {
      model: modelId,
      trigger,
      ...(instructions ? { instructions } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (!done) return undefined;
    messages.splice(0, messages.length, ...done.messages);
    writer.compaction(messages, { ...done.report });
    result.compactions = [...(result.compactions ?? []), done.report];
    emit({ type: 'compaction', ...done.report });
    return done.report;
  };
  const manual = /^\/compact(?:\s+([\s\S]*))?$/.exec(options.prompt.trim());
  if (manual) {
    // `/compact [instructions]`: summarise the resumed conversation now, without a model turn.
    try {
      const report = await compact('manual', manual[1]);
      result.result = report
        ? `Compacted ${report.messages_before} messages into ${report.messages_after} (summary by the ${report.summary_source === 'model' ? 'model' : 'local fallback'}).`
        : 'Nothing to compact yet.';
    } catch (error) {
      fail(error);
    }
    await finish();
    writer.close();
    emit({ type: 'result', ...result });
    return result;
  }
  const prompt = await ctx.emit.userPrompt({ text: options.prompt, session });
  if (prompt.blocked !== undefined) {
    // A UserPromptSubmit hook refused the prompt: nothing reaches the model or the session file.
    Object.assign(result, {
      is_error: true,
      stop_reason: 'blocked',
      error: `prompt blocked: ${prompt.blocked}`,
    });
    await finish();
    writer.close();
    emit({ type: 'result', ...result });
    return result;
  }
  let continuations = 0;
  let contextTokens = 0;

  const answer = (use: ToolUse, r: Omit<ToolResult, 'toolUseId' | 'toolName'>) => {
    const entry = { tool_use_id: use.id, tool_name: use.name, output: r.content, is_error: r.isError };
    result.tool_results.push(entry);
    emit({ type: 'tool_result', ...entry });
    // The todo list, whole, whenever the model writes it (for stream-json readers and the UI).
    if (use.name === 'TodoWrite' && !r.isError)
      emit({ type: 'todos', todos: (use.input as { todos: unknown[] }).todos });
    return {
      type: 'tool_result',
      tool_use_id: use.id,
      content: r.content,
      ...(r.isError ? { is_error: true } : {}),
    };
  };

  const runTools = async (uses: ToolUse[], turn: ModelTurn) => {
    const blocks: Array<Record<string, unknown> & { type: string }> = [];
    let i = 0;
    while (i < uses.length) {
      // A run of read-only, concurrency-safe calls goes in parallel; anything else alone, in order.
      let j = i + 1;
      if (ctx.tools.concurrencySafe(uses[i]!.name))
        while (j < uses.length && ctx.tools.concurrencySafe(uses[j]!.name)) j++;
      const batch = uses.slice(i, j);
      const early = batch.map((use) => {
        const inputError = turn.toolInputErrors[use.id];
        if (inputError) {
          return {
            content: `Error: ${inputError}. Call the tool again with valid JSON input.`,
            isError: true,
          };
        }
        if (options.signal?.aborted)
          return { content: 'Interrupted by the user before this tool ran.', isError: true };
        if (subset && !subset.has(use.name))
          return {
            content: `The tool ${use.name} is not available here. Available: ${[...subset].join(', ')}`,
            isError: true,
          };
        return undefined;
      });
      // On disk before they run: a resume after a crash tells the model these may have run.
      const starting = batch.filter((_, k) => !early[k]).map((use) => use.id);
      if (starting.length) writer.toolStart(starting);
      const outputs = await Promise.all(
        batch.map(async (use, k) => {
          const answered = early[k];
          if (answered) return answered;
          return ctx.tools.call(
            { id: use.id, name: use.name, input: use.input },
            {
              sessionMode: mode,
              setSessionMode: (next) => {
                mode = next;
                session.mode = next;
                emit({ type: 'mode', mode: next });
              },
              notify: (text) => emit({ type: 'notice', text }),
              cwd: ctx.cwd,
              roots,
              sessionId: session.id,
              ...(options.signal ? { signal: options.signal } : {}),
            },
          );
        }),
      );
      for (const [k, use] of batch.entries()) blocks.push(answer(use, outputs[k]!));
      i = j;
    }
    return blocks;
  };

  try {
    record({ role: 'user', content: prompt.text });
    for (;;) {
      if (result.num_turns >= maxTurns) {
        Object.assign(result, {
          is_error: true,
          stop_reason: 'max_turns',
          error: `stopped after --max-turns ${maxTurns}`,
        });
        break;
      }
      result.num_turns++;
      for (const note of options.inbox?.() ?? []) {
        // A message sent to the running session: with the tool results if they are last, else on its own.
        const last = messages.at(-1);
        if (last?.role === 'user' && Array.isArray(last.content)) {
          last.content = [...last.content, { type: 'text', text: note }];
          writer.message({ role: 'user', content: [{ type: 'text', text: note }] });
        } else record({ role: 'user', content: note });
      }
      if (contextTokens >= config.autoCompactTokens) await compact('auto');
      const request = await ctx.emit.beforeModelRequest(
        {
          model: modelId,
          max_tokens: config.maxTokens,
          system,
          // Asked again for every request: MCP servers come and go, ToolSearch loads deferred tools.
          tools: result.num_turns === 1 ? tools : await offered(),
          messages: [...messages],
        },
        session,
      );
      const turn = await model.stream(request as ModelRequest, {
        ...(options.signal ? { signal: options.signal } : {}),
        onText: (text) => emit({ type: 'text_delta', text }),
        onThinking: (text) => emit({ type: 'thinking_delta', text }),
        onRetry: (r) => emit({ type: 'retry', attempt: r.attempt, delay_ms: r.delayMs, reason: r.reason }),
      });
      await ctx.emit.afterModelResponse(turn.message, session);
      for (const key of Object.keys(result.usage) as Array<keyof Usage>)
        result.usage[key] += turn.message.usage[key] ?? 0;
      result.total_cost_usd += turn.costUsd;
      const used = turn.message.usage;
      contextTokens =
        used.input_tokens +
        (used.cache_creation_input_tokens ?? 0) +
        (used.cache_read_input_tokens ?? 0) +
        used.output_tokens;
      const content = turn.message.content;
      record({ role: 'assistant', content });
      const text = content
        .filter((b) => b.type === 'text')
        .map((b) => String(b.text))
        .join('');
      if (text) result.result = text;
      const uses = content
        .filter((b) => b.type === 'tool_use')
        .map((b) => ({ id: String(b.id), name: String(b.name), input: b.input }));
      for (const use of uses) {
        result.tool_uses.push(use);
        emit({ type: 'tool_use', ...use });
      }
      result.stop_reason = turn.message.stop_reason ?? 'end_turn';
      if (!uses.length) {
        // A Stop hook may send the model back to work, a few times at most.
        const verdict =
          result.stop_reason === 'end_turn' && continuations < 3
            ? await ctx.emit.stop({ session, result: text, continuations })
            : undefined;
        if (!verdict) break;
        continuations++;
        record({ role: 'user', content: verdict.continueWith });
        continue;
      }
      record({ role: 'user', content: await runTools(uses, turn) });
      if (options.signal?.aborted) throw options.signal.reason;
    }
  } catch (error) {
    if (options.signal?.aborted && !(error instanceof SessionWriteError))
      Object.assign(result, { is_error: true, stop_reason: 'interrupted', error: 'interrupted by the user' });
    else fail(error);
  }
  if (result.stop_reason === 'max_tokens') result.error = 'the reply was cut off at max_tokens';
  if (result.stop_reason === 'refusal')
    result.error = 'the model declined to continue (stop_reason: refusal)';
  if (session.jsonSchema && !result.is_error) {
    // --json-schema: the answer is what StructuredOutput accepted; without one the run failed.
    const given = (await ctx.services.get('structured-output').catch(() => undefined))?.get(session.id);
    if (given) result.structured_output = given.value;
    else
      Object.assign(result, {
        is_error: true,
        error: 'the model ended without a structured output that matches --json-schema',
      });
  }
  await finish();
  const { tool_uses: _u, tool_results: _r, ...summary } = result;
  try {
    writer.result(summary);
  } catch (error) {
    fail(error);
  }
  writer.close();
  emit({ type: 'result', ...result });
  return result;
}
