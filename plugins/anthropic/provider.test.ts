import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ModelRequest, ModelService } from '../../sdk/index.ts';
import { bootTestKernel } from '../../sdk/testing.ts';
import { loadScenarios, type MockServer, startMockServer } from '../../test/mock-api.ts';
import { builtinPlugins } from '../index.ts';

let mock: MockServer;
beforeAll(async () => {
  mock = await startMockServer({
    scenarios: loadScenarios(join(import.meta.dirname, '..', '..', 'scenarios')),
  });
});
afterAll(() => mock.close());

async function provider(config: Record<string, unknown> = {}, env: Record<string, string> = {}) {
  const h = await bootTestKernel({
    include: ['anthropic'],
    builtins: builtinPlugins,
    env: { ANTHROPIC_BASE_URL: mock.url, ANTHROPIC_API_KEY: 'sk-test', ...env },
    settings: { plugins: { anthropic: { config: { baseBackoffMs: 10, idleTimeoutMs: 400, ...config } } } },
  });
  return { h, model: (await h.kernel.services.get('model')) as ModelService };
}

// A request offers tools, as a session's do: the mock answers one that offers none (a side request) with text.
const request = (scenario: string, extra: Partial<ModelRequest> = {}): ModelRequest => ({
  model: 'sonnet',
  max_tokens: 1024,
  messages: [{ role: 'user', content: `PARITY_SCENARIO:${scenario}` }],
  tools: [{ name: 'read_file', description: 'Reads a file', input_schema: { type: 'object' } }],
  ...extra,
});

describe('anthropic provider against the mock API over loopback', () => {
  test('streams text deltas as they arrive and returns the whole turn with usage, cost and request id', async () => {
    const { model } = await provider();
    const deltas: string[] = [];
    const turn = await model.stream(request('streaming_text'), { onText: (d) => deltas.push(d) });
    expect(deltas).toEqual(['Hello from ', 'the mock.']);
    expect(turn.message).toMatchObject({
      model: 'claude-sonnet-5-5',
      stop_reason: 'end_turn',
      content: [{ type: 'text', text: 'Hello from the mock.' }],
    });
    expect(turn.message.usage.input_tokens).toBeGreaterThan(0);
    expect(turn.message.usage.output_tokens).toBeGreaterThan(0);
    // claude-sonnet-5-5 costs $2 per million input tokens and $10 per million output tokens.
    const { input_tokens, output_tokens } = turn.message.usage;
    expect(turn.costUsd).toBeCloseTo((input_tokens * 2 + output_tokens * 10) / 1e6, 12);
    expect(turn.requestId).toMatch(/^req_mock_/);
    expect(turn.attempts).toBe(1);
  });

  test('a tool_use input split over several deltas is assembled exactly; two tool_use blocks in one message', async () => {
    const { model } = await provider();
    const one = await model.stream(request('read_file_roundtrip'));
    expect(one.message.content[1]).toEqual({
      type: 'tool_use',
      id: 'toolu_mock_read_file_roundtrip_0_1',
      name: 'read_file',
      input: { path: 'README.md' },
    });
    expect(one.message.stop_reason).toBe('tool_use');
    const two = await model.stream(request('multi_tool_turn_roundtrip'));
    expect(two.message.content.map((b) => b.input)).toEqual([{ path: 'a.txt' }, { pattern: '**/*.ts' }]);
    expect(two.toolInputErrors).toEqual({});
  });

  test('thinking blocks arrive with their signature', async () => {
    const { model } = await provider();
    const thoughts: string[] = [];
    const turn = await model.stream(request('thinking'), { onThinking: (t) => thoughts.push(t) });
    expect(thoughts.join('')).toBe('The user wants a greeting. Keep it short.');
    expect(turn.message.content[0]).toMatchObject({ type: 'thinking', signature: 'sig_mock_thinking_1' });
  });

  test('tool input that is not JSON is reported for that tool_use, not thrown', async () => {
    const { model } = await provider();
    const turn = await model.stream(request('malformed_tool_json'));
    const id = String(turn.message.content[0]!.id);
    expect(turn.message.content[0]!.input).toEqual({});
    expect(turn.toolInputErrors[id]).toContain('the tool input is not valid JSON');
    expect(turn.toolInputErrors[id]).toContain('{"path": "README.md", ');
  });

  test('a 429 is retried after the retry-after it states', async () => {
    const { model } = await provider();
    const retries: Array<{ delayMs: number; reason: string }> = [];
    const started = Date.now();
    const turn = await model.stream(request('retry_after_429'), { onRetry: (r) => retries.push(r) });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(turn.attempts).toBe(2);
    expect(retries).toHaveLength(1);
    expect(retries[0]!.delayMs).toBe(1000);
    expect(retries[0]!.reason).toContain('429 rate_limit_error');
    expect(turn.message.content[0]).toEqual({ type: 'text', text: 'Recovered after the fault.' });
  });

  test('a retry-after longer than the cap fails at once, naming the wait asked for', async () => {
    const { model } = await provider();
    const retries: unknown[] = [];
    const started = Date.now();
    const failure = await model
      .stream(request('retry_after_too_long'), { onRetry: (r) => retries.push(r) })
      .catch((e: Error) => e);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(retries).toEqual([]);
    expect(String(failure)).toContain('429 rate_limit_error');
    expect(String(failure)).toContain('the API asked to wait 120 s before retrying');
    expect(String(failure)).toContain('maxRetryAfterMs');
  });

  test.each([
    ['overloaded_529_then_ok', '529 overloaded_error'],
    ['server_error_then_ok', '500 api_error'],
    ['stream_error_then_ok', 'stream error overloaded_error'],
    ['stream_cut_then_retry', 'connection to the Anthropic API failed'],
    ['truncated_then_ok', 'the stream ended before message_stop'],
    ['stall_then_ok', 'the stream was idle for 400 ms'],
  ])('%s: the failed attempt is retried and the turn completes', async (scenario, reason) => {
    const { model } = await provider();
    const reasons: string[] = [];
    const texts: string[] = [];
    const turn = await model.stream(request(scenario), {
      onRetry: (r) => reasons.push(r.reason),
      onText: (t) => texts.push(t),
    });
    expect(turn.attempts).toBe(2);
    expect(reasons[0]).toContain(reason);
    expect(turn.message.content).toEqual([{ type: 'text', text: 'Recovered after the fault.' }]);
  });

  test('after its last retry the error names status, type, message and request id', async () => {
    const { model } = await provider({ maxRetries: 2 });
    mock.reset();
    const error = await model.stream(request('always_overloaded')).then(
      () => undefined,
      (e: unknown) => e as Error & { status: number; errorType: string; requestId: string },
    );
    expect(error?.message).toMatch(
      /^Anthropic API error 529 overloaded_error: Overloaded \(request req_mock_\d+\)$/,
    );
    expect(error).toMatchObject({ status: 529, errorType: 'overloaded_error' });
    expect(mock.requests.filter((r) => r.path === '/v1/messages')).toHaveLength(3);
  });

  test('a 400 is not retried', async () => {
    const { model } = await provider();
    mock.reset();
    await expect(model.stream(request('no_such_scenario'))).rejects.toThrow(
      /400 invalid_request_error: unknown mock scenario/,
    );
    expect(mock.requests).toHaveLength(1);
  });

  test('abort cancels the request at once, mid-stream', async () => {
    const { model } = await provider();
    const controller = new AbortController();
    const started = Date.now();
    const result = model.stream(request('slow_stream'), {
      signal: controller.signal,
      onText: () => controller.abort(new Error('user pressed Ctrl-C')),
    });
    await expect(result).rejects.toThrow('user pressed Ctrl-C');
    expect(Date.now() - started).toBeLessThan(200);
  });

  test('the request carries the key, the API version, the resolved model, tools with their schemas and cache marks', async () => {
    const { model } = await provider();
    mock.reset();
    await model.stream(
      request('streaming_text', {
        system: 'You are icode.',
        tools: [
          {
            name: 'read_file',
            description: 'Read',
            input_schema: { type: 'object', properties: { path: { type: 'string' } } },
          },
          {
            name: 'glob_search',
            description: 'Glob',
            input_schema: { type: 'object', properties: { pattern: { type: 'string' } } },
          },
        ],
      }),
    );
    const sent = mock.requests[0]!;
    expect(sent.headers['x-api-key']).toBe('sk-test');
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(sent.body).toMatchObject({
      model: 'claude-sonnet-5-5',
      max_tokens: 1024,
      stream: true,
      system: [{ type: 'text', text: 'You are icode.', cache_control: { type: 'ephemeral' } }],
      tools: [
        { name: 'read_file', input_schema: { properties: { path: { type: 'string' } } } },
        { name: 'glob_search', cache_control: { type: 'ephemeral' } },
      ],
    });
    expect((sent.body as { tools: object[] }).tools[0]).not.toHaveProperty('cache_control');
  });

  test('ANTHROPIC_AUTH_TOKEN is sent as a bearer token', async () => {
    const { model } = await provider({}, { ANTHROPIC_API_KEY: '', ANTHROPIC_AUTH_TOKEN: 'tok-1' });
    mock.reset();
    await model.stream(request('streaming_text'));
    expect(mock.requests[0]!.headers.authorization).toBe('Bearer tok-1');
  });
});

describe('anthropic plugin health', () => {
  test('without a key or a base URL it is degraded and says how to fix it; the rest still boots', async () => {
    const h = await bootTestKernel({ include: ['anthropic', 'file-tools'], builtins: builtinPlugins });
    const status = h.report.plugins.find((p) => p.name === 'anthropic')!;
    expect(status.state).toBe('degraded');
    expect(status.reason).toContain('no Anthropic credentials');
    expect(status.fix).toContain('icode mock-server');
    expect(h.report.plugins.find((p) => p.name === 'file-tools')!.state).toBe('active');
  });
});
