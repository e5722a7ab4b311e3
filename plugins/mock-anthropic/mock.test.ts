import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadScenarios, scenarioFolder } from './scenario.ts';
import { type MockServer, startMockServer } from './server.ts';

const scenariosDir = join(import.meta.dirname, '..', '..', 'scenarios');
let mock: MockServer;
let client: Anthropic;

beforeAll(async () => {
  mock = await startMockServer({ scenarios: loadScenarios(scenariosDir) });
  client = new Anthropic({ apiKey: 'test-key', baseURL: mock.url, maxRetries: 0 });
});
afterAll(() => mock.close());

/** A request that offers the tool a scenario calls (one offering none is a side request: it gets text). */
const READ = [{ name: 'read_file', description: 'Reads a file', input_schema: { type: 'object' as const } }];
const ask = (text: string) => ({
  model: 'claude-sonnet-5-5',
  max_tokens: 1024,
  messages: [{ role: 'user' as const, content: text }],
});

describe('mock Anthropic API, read by the official SDK', () => {
  test('streaming_text: the SDK assembles exactly the scripted message from the SSE stream', async () => {
    const events: string[] = [];
    const stream = client.messages.stream(ask('hi PARITY_SCENARIO:streaming_text'));
    stream.on('streamEvent', (e) => events.push(e.type));
    const texts: string[] = [];
    stream.on('text', (t) => texts.push(t));
    const message = await stream.finalMessage();
    expect(texts).toEqual(['Hello from ', 'the mock.']);
    expect(message).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-5-5',
      content: [{ type: 'text', text: 'Hello from the mock.' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
    });
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    // The SDK hides pings; the raw stream has one right after message_start, as the API sends it.
    expect(events).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
  });

  test('the raw stream is SSE with the API headers, a ping after message_start, and message_stop last', async () => {
    const res = await fetch(`${mock.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'k' },
      body: JSON.stringify({ ...ask('PARITY_SCENARIO:streaming_text'), stream: true }),
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('request-id')).toMatch(/^req_mock_/);
    const types = [...(await res.text()).matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    expect(types.slice(0, 2)).toEqual(['message_start', 'ping']);
    expect(types.at(-1)).toBe('message_stop');
  });

  test('non-streaming returns the whole message with the API headers', async () => {
    const { data, response } = await client.messages
      .create(ask('PARITY_SCENARIO:streaming_text'))
      .withResponse();
    expect(data.content).toEqual([{ type: 'text', text: 'Hello from the mock.' }]);
    expect(response.headers.get('request-id')).toMatch(/^req_mock_\d+$/);
    expect(response.headers.get('content-type')).toBe('application/json');
  });

  test('a tool_use streamed in several input_json_delta chunks parses to the scripted input; the next step answers its result', async () => {
    const deltas: string[] = [];
    const stream = client.messages.stream({ ...ask('PARITY_SCENARIO:read_file_roundtrip'), tools: READ });
    stream.on('inputJson', (partial) => deltas.push(partial));
    const first = await stream.finalMessage();
    expect(deltas.length).toBe(3);
    const use = first.content.find((b) => b.type === 'tool_use');
    expect(use).toMatchObject({
      name: 'read_file',
      input: { path: 'README.md' },
      id: 'toolu_mock_read_file_roundtrip_0_1',
    });
    expect(first.stop_reason).toBe('tool_use');
    const second = await client.messages.create({
      ...ask('PARITY_SCENARIO:read_file_roundtrip'),
      messages: [
        { role: 'user', content: 'PARITY_SCENARIO:read_file_roundtrip' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use!.id, content: '# icode' }] },
      ],
    });
    expect(second.content).toEqual([{ type: 'text', text: 'The README says:\n# icode' }]);
  });

  test('thinking blocks stream thinking_delta and signature_delta', async () => {
    const message = await client.messages.stream(ask('PARITY_SCENARIO:thinking')).finalMessage();
    expect(message.content[0]).toEqual({
      type: 'thinking',
      thinking: 'The user wants a greeting. Keep it short.',
      signature: 'sig_mock_thinking_1',
    });
  });

  test('a scenario can also be chosen by the x-mock-scenario header', async () => {
    const message = await client.messages.create(ask('no token here'), {
      headers: { 'x-mock-scenario': 'thinking' },
    });
    expect(message.content[1]).toEqual({ type: 'text', text: 'Hi!' });
  });

  test('every request is captured, in process and over GET /__mock/requests', async () => {
    mock.reset();
    await client.messages.create({ ...ask('PARITY_SCENARIO:streaming_text'), system: 'Be brief.' });
    const over = (await (await fetch(`${mock.url}/__mock/requests`)).json()) as typeof mock.requests;
    expect(over).toEqual(mock.requests);
    expect(over[0]).toMatchObject({
      method: 'POST',
      path: '/v1/messages',
      headers: { authorization: 'Bearer test-key', 'anthropic-version': expect.any(String) },
      body: { model: 'claude-sonnet-5-5', max_tokens: 1024, system: 'Be brief.' },
    });
  });

  test('count_tokens and models answer in the API shape', async () => {
    const count = await client.messages.countTokens({
      model: 'claude-sonnet-5-5',
      messages: ask('hello').messages,
    });
    expect(count.input_tokens).toBeGreaterThan(0);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain('claude-sonnet-5-5');
  });
});

describe('a mock that serves any client', () => {
  const tools = (...names: string[]) =>
    names.map((name) => ({ name, description: name, input_schema: { type: 'object' as const } }));

  test('a system-role message (a current beta sends one) is accepted, as the API accepts it', async () => {
    const message = await client.messages.create({
      ...ask('hi PARITY_SCENARIO:streaming_text'),
      messages: [
        { role: 'system', content: 'Be brief.' } as unknown as Anthropic.MessageParam,
        { role: 'user', content: 'hi PARITY_SCENARIO:streaming_text' },
      ],
    });
    expect(message.content).toEqual([{ type: 'text', text: 'Hello from the mock.' }]);
  });

  test("a side request that offers no tools gets text, not the scenario's tool call; one asking for JSON gets JSON of its schema", async () => {
    const prompt = 'Read it. PARITY_SCENARIO:read_file_roundtrip';
    const side = await client.messages.create({ ...ask(prompt) });
    expect(side.stop_reason).toBe('end_turn');
    expect(side.content).toEqual([
      { type: 'text', text: 'Mock reply (scenario read_file_roundtrip): this request offers no tools.' },
    ]);
    const schema = {
      type: 'object',
      properties: { title: { type: 'string' }, words: { type: 'integer' }, tags: { type: 'array' } },
      required: ['title', 'words'],
    };
    const titled = await client.messages.create({
      ...ask(prompt),
      output_format: { type: 'json_schema', schema },
    } as Anthropic.MessageCreateParamsNonStreaming);
    const text = (titled.content[0] as { text: string }).text;
    expect(JSON.parse(text)).toEqual({ title: 'mock', words: 0 });
    // With tools offered, the scenario plays as written.
    const played = await client.messages.create({ ...ask(prompt), tools: tools('read_file') });
    expect(played.content.find((b) => b.type === 'tool_use')).toMatchObject({ name: 'read_file' });
  });

  test("a scenario's tool names follow the tools the request offers: read_file becomes Read with file_path, and back", async () => {
    const prompt = 'Read it. PARITY_SCENARIO:read_file_roundtrip';
    const claude = await client.messages.create({ ...ask(prompt), tools: tools('Read', 'Bash') });
    expect(claude.content.find((b) => b.type === 'tool_use')).toMatchObject({
      type: 'tool_use',
      name: 'Read',
      input: { file_path: 'README.md' },
    });
    const dir = mkdtempSync(join(tmpdir(), 'icode-cc-scenarios-'));
    writeFileSync(
      join(dir, 'cc_read.json'),
      JSON.stringify({
        name: 'cc_read',
        steps: [{ content: [{ type: 'tool_use', name: 'Read', input: { file_path: 'a.txt', limit: 5 } }] }],
      }),
    );
    const own = await startMockServer({ scenarios: loadScenarios(dir) });
    try {
      const icode = new Anthropic({ apiKey: 'k', baseURL: own.url, maxRetries: 0 });
      const back = await icode.messages.create({
        ...ask('PARITY_SCENARIO:cc_read'),
        tools: tools('read_file'),
      });
      expect(back.content[0]).toMatchObject({
        type: 'tool_use',
        name: 'read_file',
        input: { path: 'a.txt', limit: 5 },
      });
    } finally {
      await own.close();
    }
  });
});

describe('mock Anthropic API errors', () => {
  const post = (body: unknown, headers: Record<string, string> = { 'x-api-key': 'k' }) =>
    fetch(`${mock.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  test.each([
    [
      'missing max_tokens',
      { model: 'm', messages: [{ role: 'user', content: 'x' }] },
      'max_tokens: Field required',
    ],
    [
      'a bad role',
      { model: 'm', max_tokens: 5, messages: [{ role: 'tool', content: 'x' }] },
      "messages.0.role: Input should be 'user', 'assistant' or 'system'",
    ],
    [
      'a tool_result without its tool_use',
      {
        model: 'm',
        max_tokens: 5,
        messages: [
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_x', content: 'r' }] },
        ],
      },
      'unexpected `tool_use_id` found in `tool_result` blocks: toolu_x',
    ],
    [
      'a tool_use left unanswered',
      {
        model: 'm',
        max_tokens: 5,
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_y', name: 't', input: {} }] },
          { role: 'user', content: 'go on' },
        ],
      },
      '`tool_use` ids were found without `tool_result` blocks immediately after: toolu_y',
    ],
    [
      'an unknown scenario',
      { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'PARITY_SCENARIO:nope' }] },
      'unknown mock scenario "nope"',
    ],
  ])('%s is a 400 invalid_request_error', async (_name, body, message) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    const json = (await res.json()) as { type: string; error: { type: string; message: string } };
    expect(json.type).toBe('error');
    expect(json.error.type).toBe('invalid_request_error');
    expect(json.error.message).toContain(message);
  });

  test('no key is a 401 authentication_error', async () => {
    const res = await post(ask('x'), {});
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
  });

  test('a scripted 429 carries retry-after and the SDK sees a RateLimitError', async () => {
    const res = await post(ask('PARITY_SCENARIO:retry_after_429 please'));
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    await expect(client.messages.create(ask('PARITY_SCENARIO:always_overloaded'))).rejects.toMatchObject({
      status: 529,
      type: 'overloaded_error',
    });
  });
});

describe('a scenario folder read on demand', () => {
  test('the server starts with a broken file in the folder; choosing it is a 400 naming the file and key, the others work', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'icode-scenarios-'));
    writeFileSync(
      join(dir, 'good.json'),
      JSON.stringify({ name: 'good', steps: [{ content: [{ type: 'text', text: 'fine' }] }] }),
    );
    writeFileSync(join(dir, 'broken.json'), '{\n  "name": "broken",\n  "steps": "none"\n}\n');
    const server = await startMockServer({ scenarios: scenarioFolder(dir) });
    try {
      const sdk = new Anthropic({ apiKey: 'k', baseURL: server.url, maxRetries: 0 });
      const good = await sdk.messages.create(ask('PARITY_SCENARIO:good'));
      expect(good.content).toEqual([{ type: 'text', text: 'fine' }]);
      const error = await sdk.messages.create(ask('PARITY_SCENARIO:broken')).catch((e: unknown) => e);
      expect(error).toMatchObject({ status: 400 });
      expect(String((error as Error).message)).toMatch(/broken\.json:3:\d+.*steps/);
      const unknown = await sdk.messages.create(ask('PARITY_SCENARIO:absent')).catch((e: unknown) => e);
      expect(String((unknown as Error).message)).toContain('known: broken, good');
    } finally {
      await server.close();
    }
  });
});
