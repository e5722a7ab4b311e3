import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type CapturedRequest,
  CLAUDE_TOOL_NAMES,
  IcodeError,
  type MockAnthropicServer as MockServer,
} from '../../sdk/index.ts';
import {
  type Fault,
  type Scenario,
  type Scenarios,
  type ScriptedBlock,
  type Step,
  split,
} from './scenario.ts';

export type { CapturedRequest, MockServer };

export interface MockServerOptions {
  port?: number;
  host?: string;
  scenarios: Scenarios;
}

const STATUS: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  overloaded_error: 529,
};

export const MODELS = [
  { id: 'claude-opus-5-5', display_name: 'Claude Opus 5.5', created_at: '2026-09-01T00:00:00Z' },
  { id: 'claude-sonnet-5-5', display_name: 'Claude Sonnet 5.5', created_at: '2026-09-28T00:00:00Z' },
  { id: 'claude-haiku-4-5', display_name: 'Claude Haiku 4.5', created_at: '2025-10-15T00:00:00Z' },
];

const TOKEN = /PARITY_SCENARIO:([a-z0-9_]+)/;

type Block = { type: string; [key: string]: unknown };
type Message = { role: string; content: string | Block[] };
type Body = {
  model?: unknown;
  max_tokens?: unknown;
  messages?: unknown;
  stream?: unknown;
  [key: string]: unknown;
};

class RequestError extends Error {
  constructor(
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

const blocksOf = (m: Message): Block[] =>
  typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
const textOf = (blocks: Block[]): string =>
  blocks
    .map((b) => (b.type === 'text' ? String(b.text) : ''))
    .filter(Boolean)
    .join('\n');

/** The checks the real API makes before it answers, with its wording. */
function validate(body: Body): Message[] {
  if (typeof body.model !== 'string')
    throw new RequestError('invalid_request_error', 'model: Field required');
  if (typeof body.max_tokens !== 'number')
    throw new RequestError('invalid_request_error', 'max_tokens: Field required');
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw new RequestError('invalid_request_error', 'messages: at least one message is required');
  }
  const messages = body.messages as Message[];
  messages.forEach((m, i) => {
    // A current beta sends instructions as a message with the system role, which the API accepts.
    if (m?.role !== 'user' && m?.role !== 'assistant' && m?.role !== 'system') {
      throw new RequestError(
        'invalid_request_error',
        `messages.${i}.role: Input should be 'user', 'assistant' or 'system'`,
      );
    }
    if (typeof m.content !== 'string' && !Array.isArray(m.content)) {
      throw new RequestError('invalid_request_error', `messages.${i}.content: Input should be a valid list`);
    }
  });
  messages.forEach((m, i) => {
    const uses = m.role === 'assistant' ? blocksOf(m).filter((b) => b.type === 'tool_use') : [];
    const results = m.role === 'user' ? blocksOf(m).filter((b) => b.type === 'tool_result') : [];
    const previousUses = new Set(
      i > 0 && messages[i - 1]!.role === 'assistant'
        ? blocksOf(messages[i - 1]!)
            .filter((b) => b.type === 'tool_use')
            .map((b) => b.id)
        : [],
    );
    const orphans = results.filter((r) => !previousUses.has(r.tool_use_id)).map((r) => r.tool_use_id);
    if (orphans.length) {
      throw new RequestError(
        'invalid_request_error',
        `messages.${i}.content.0: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${orphans.join(', ')}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
      );
    }
    const next = messages[i + 1];
    if (uses.length && next) {
      const answered = new Set(blocksOf(next).map((b) => b.tool_use_id));
      const missing = uses.filter((u) => !answered.has(u.id)).map((u) => u.id);
      if (missing.length) {
        throw new RequestError(
          'invalid_request_error',
          `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
        );
      }
    }
  });
  return messages;
}

/** Which scenario and step answer this conversation. */
function choose(messages: Message[], header: string | undefined, scenarios: Scenarios) {
  let start = -1;
  let name = header;
  messages.forEach((m, i) => {
    const found = m.role === 'user' ? TOKEN.exec(textOf(blocksOf(m))) : null;
    if (found) {
      start = i;
      name = found[1];
    }
  });
  if (!name) return undefined;
  let scenario: Scenario | undefined;
  try {
    scenario = scenarios.get(name);
  } catch (e) {
    // A broken scenario file: a client error (not retried) that says what to fix.
    const text = e instanceof IcodeError ? e.describe().replace(/\n\s*/g, '; ') : String(e);
    throw new RequestError('invalid_request_error', `scenario "${name}": ${text}`);
  }
  if (!scenario) {
    const known = [...scenarios.keys()].join(', ');
    throw new RequestError('invalid_request_error', `unknown mock scenario "${name}"; known: ${known}`);
  }
  const rounds = messages
    .slice(start + 1)
    .filter((m) => m.role === 'user' && blocksOf(m).some((b) => b.type === 'tool_result')).length;
  const last = [...messages].reverse().find((m) => m.role === 'user');
  const lastBlocks = blocksOf(last ?? { role: 'user', content: [] });
  const resultText = (b: Block) =>
    typeof b.content === 'string' ? b.content : textOf((b.content as Block[]) ?? []);
  const toolResults = lastBlocks
    .filter((b) => b.type === 'tool_result')
    .map(resultText)
    .join('\n');
  const lastText = `${textOf(lastBlocks)}\n${toolResults}`;
  const matched = scenario.steps.findIndex((s) => s.when !== undefined && lastText.includes(s.when));
  if (matched !== -1) return { scenario, index: matched, step: scenario.steps[matched]!, toolResults };
  const ordered = scenario.steps.filter((s) => s.when === undefined);
  const step = ordered[Math.min(rounds, ordered.length - 1)] ?? scenario.steps[0]!;
  return { scenario, index: scenario.steps.indexOf(step), step, toolResults };
}

/**
 * `{{match:REGEX}}` in a scripted tool input becomes the first match of REGEX in the latest tool results:
 * how a script refers to an id a tool made up (a task id, a background command's id).
 */
function withMatches(value: unknown, toolResults: string, baseUrl: string): unknown {
  if (typeof value === 'string')
    return value
      .replace(/\{\{match:(.+?)\}\}/g, (whole, re: string) => new RegExp(re).exec(toolResults)?.[0] ?? whole)
      .replaceAll('{{base_url}}', baseUrl);
  if (Array.isArray(value)) return value.map((v) => withMatches(v, toolResults, baseUrl));
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, withMatches(v, toolResults, baseUrl)]),
    );
  return value;
}

/** The mock's token estimate: four characters a token, at least one. */
const tokensOf = (chars: number) => Math.max(1, Math.ceil(chars / 4));
const tokens = (text: string) => tokensOf(text.length);

interface Built {
  /** SSE events in order, each `[type, data]`. */
  events: Array<[string, Record<string, unknown>]>;
  message: Record<string, unknown>;
}

function build(
  step: Step,
  ids: { message: string; tool: (i: number) => string },
  model: string,
  inputTokens: number,
  toolResults: string,
  baseUrl: string,
): Built {
  const events: Built['events'] = [];
  const content: Record<string, unknown>[] = [];
  let outputChars = 0;
  step.content.forEach((b: ScriptedBlock, index) => {
    if (b.type === 'text') {
      const text = (b.deltas?.join('') ?? (b.text ?? '').repeat(b.repeat)).replaceAll(
        '{{tool_results}}',
        toolResults,
      );
      const deltas = b.deltas
        ? b.deltas.map((d) => d.replaceAll('{{tool_results}}', toolResults))
        : split(text, b.chunks);
      events.push(['content_block_start', { index, content_block: { type: 'text', text: '' } }]);
      for (const d of deltas)
        events.push(['content_block_delta', { index, delta: { type: 'text_delta', text: d } }]);
      content.push({ type: 'text', text });
      outputChars += text.length;
    } else if (b.type === 'tool_use') {
      const id = b.id ?? ids.tool(index);
      const input = withMatches(b.input, toolResults, baseUrl);
      const chunks = b.partialJson ?? split(JSON.stringify(input), b.chunks);
      events.push([
        'content_block_start',
        { index, content_block: { type: 'tool_use', id, name: b.name, input: {} } },
      ]);
      for (const c of chunks) {
        events.push(['content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: c } }]);
      }
      content.push({ type: 'tool_use', id, name: b.name, input });
      outputChars += chunks.join('').length;
    } else {
      events.push([
        'content_block_start',
        { index, content_block: { type: 'thinking', thinking: '', signature: '' } },
      ]);
      for (const d of split(b.thinking, b.chunks)) {
        events.push(['content_block_delta', { index, delta: { type: 'thinking_delta', thinking: d } }]);
      }
      events.push([
        'content_block_delta',
        { index, delta: { type: 'signature_delta', signature: b.signature } },
      ]);
      content.push({ type: 'thinking', thinking: b.thinking, signature: b.signature });
      outputChars += b.thinking.length;
    }
    events.push(['content_block_stop', { index }]);
  });
  const stop_reason =
    step.stopReason ?? (step.content.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn');
  const usage = {
    input_tokens: inputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: tokensOf(outputChars),
  };
  const message = {
    id: ids.message,
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason,
    stop_sequence: null,
    usage,
  };
  events.unshift(['ping', {}]);
  events.unshift([
    'message_start',
    { message: { ...message, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } } },
  ]);
  events.push([
    'message_delta',
    { delta: { stop_reason, stop_sequence: null }, usage: { output_tokens: usage.output_tokens } },
  ]);
  events.push(['message_stop', {}]);
  return { events, message };
}

const noScenario = (scenarios: Scenarios): Step => ({
  content: [
    {
      type: 'text',
      text: `Mock Anthropic API: no scenario was chosen. Put PARITY_SCENARIO:<name> in the prompt or send the x-mock-scenario header. Known scenarios: ${[...scenarios.keys()].join(', ')}.`,
      chunks: 1,
      repeat: 1,
    },
  ],
  delayMs: 0,
});

/** Claude Code's input fields where icode's tools name them otherwise, by icode's tool name. */
const CLAUDE_FIELDS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  read_file: { path: 'file_path' },
  write_file: { path: 'file_path' },
  edit_file: { path: 'file_path' },
};

/**
 * A scripted tool call as the client that sent this request can take it. A scenario is written with one
 * client's tool names (icode's `read_file`, or Claude Code's `Read`): when the request does not offer that
 * name but offers its counterpart, the call uses the counterpart, its input fields renamed to match.
 */
function offeredCall(name: string, input: Record<string, unknown>, offered: Set<string>) {
  if (!offered.size || offered.has(name)) return { name, input };
  const claude = CLAUDE_TOOL_NAMES[name];
  const icode = Object.entries(CLAUDE_TOOL_NAMES).find(([, cc]) => cc === name)?.[0];
  const rename = (fields: Readonly<Record<string, string>>) =>
    Object.fromEntries(Object.entries(input).map(([k, v]) => [fields[k] ?? k, v]));
  if (claude && offered.has(claude)) return { name: claude, input: rename(CLAUDE_FIELDS[name] ?? {}) };
  if (icode && offered.has(icode)) {
    const back = Object.fromEntries(Object.entries(CLAUDE_FIELDS[icode] ?? {}).map(([a, b]) => [b, a]));
    return { name: icode, input: rename(back) };
  }
  return { name, input };
}

/** A value that satisfies a JSON Schema in the simplest way: what a side request asking for JSON gets. */
function sampleOf(schema: unknown): unknown {
  if (!schema || typeof schema !== 'object') return null;
  const s = schema as {
    type?: string | string[];
    properties?: Record<string, unknown>;
    required?: string[];
    enum?: unknown[];
    const?: unknown;
    default?: unknown;
    anyOf?: unknown[];
    oneOf?: unknown[];
    minItems?: number;
    items?: unknown;
  };
  if ('const' in s) return s.const;
  if (s.enum?.length) return s.enum[0];
  if (s.default !== undefined) return s.default;
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives?.length) return sampleOf(alternatives[0]);
  const type = Array.isArray(s.type) ? s.type[0] : (s.type ?? (s.properties ? 'object' : undefined));
  switch (type) {
    case 'object':
      return Object.fromEntries(
        Object.entries(s.properties ?? {})
          .filter(([key]) => !s.required || s.required.includes(key))
          .map(([key, value]) => [key, sampleOf(value)]),
      );
    case 'array':
      return Array.from({ length: s.minItems ?? 0 }, () => sampleOf(s.items));
    case 'string':
      return 'mock';
    case 'number':
    case 'integer':
      return 0;
    case 'boolean':
      return false;
    default:
      return null;
  }
}

/**
 * The step as this request can take it. A request that offers no tools (a client's side request: a
 * session title, a summary) gets text, or JSON matching the schema it asks for, instead of a scripted
 * tool call it could not answer; scripted tool names are matched to the ones the request offers.
 */
function forRequest(step: Step, body: Body, scenario: string | undefined): Step {
  const offered = new Set(
    (Array.isArray(body.tools) ? (body.tools as Array<{ name?: unknown }>) : [])
      .map((t) => t?.name)
      .filter((n): n is string => typeof n === 'string'),
  );
  const format = (body.output_format ?? (body.output_config as { format?: unknown } | undefined)?.format) as
    | { type?: unknown; schema?: unknown }
    | undefined;
  const wantsJson = format?.type === 'json_schema';
  const calls = step.content.some((b) => b.type === 'tool_use');
  if (!offered.size && (calls || wantsJson)) {
    const text = wantsJson
      ? JSON.stringify(sampleOf(format.schema))
      : `Mock reply${scenario ? ` (scenario ${scenario})` : ''}: this request offers no tools.`;
    return { ...step, content: [{ type: 'text', text, repeat: 1, chunks: 1 }], stopReason: 'end_turn' };
  }
  if (!calls) return step;
  return {
    ...step,
    content: step.content.map((b) =>
      b.type === 'tool_use' ? { ...b, ...offeredCall(b.name, b.input, offered) } : b,
    ),
  };
}

/**
 * Starts the mock Messages API on loopback. It answers like the real API (SSE framing, headers, error
 * shapes, request validation) from scripted scenarios, and records every request it receives.
 */
export async function startMockServer(options: MockServerOptions): Promise<MockServer> {
  const requests: CapturedRequest[] = [];
  const attempts = new Map<string, number>();
  const open = new Set<ServerResponse>();
  let counter = 0;

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, {
      'content-type': 'application/json',
      'request-id': `req_mock_${++counter}`,
      ...headers,
    });
    res.end(JSON.stringify(body));
  };
  const error = (
    res: ServerResponse,
    errorType: string,
    message: string,
    headers: Record<string, string> = {},
    status = STATUS[errorType] ?? 500,
  ) => send(res, status, { type: 'error', error: { type: errorType, message } }, headers);

  const messages = async (req: IncomingMessage, res: ServerResponse, body: Body) => {
    const conversation = validate(body);
    const header = req.headers['x-mock-scenario'];
    const chosen = choose(conversation, typeof header === 'string' ? header : undefined, options.scenarios);
    const step = forRequest(chosen?.step ?? noScenario(options.scenarios), body, chosen?.scenario.name);
    const key = createHash('sha256')
      .update(`${chosen?.scenario.name}:${chosen?.index}:${JSON.stringify(body.messages)}`)
      .digest('hex');
    const attempt = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, attempt);
    const fault: Fault | undefined = step.fault && attempt <= step.fault.times ? step.fault : undefined;
    if (fault?.type === 'http_error') {
      const headers: Record<string, string> =
        fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {};
      return error(res, fault.errorType, fault.message, headers, fault.status);
    }
    const id = ++counter;
    const built = build(
      step,
      {
        message: `msg_mock_${id}`,
        tool: (i) => `toolu_mock_${chosen?.scenario.name ?? 'none'}_${chosen?.index ?? 0}_${i}`,
      },
      String(body.model),
      tokens(
        JSON.stringify(body.messages) + JSON.stringify(body.system ?? '') + JSON.stringify(body.tools ?? ''),
      ),
      chosen?.toolResults ?? '',
      baseUrl,
    );
    if (body.stream !== true) {
      if (fault?.type === 'cut') return void req.socket.destroy();
      if (fault?.type === 'stall') return; // never answer
      if (fault?.type === 'stream_error') return error(res, fault.errorType, fault.message);
      if (fault?.type === 'truncate') return void res.end(JSON.stringify(built.message).slice(0, 20));
      return send(res, 200, built.message);
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'request-id': `req_mock_${id}`,
    });
    open.add(res);
    res.on('close', () => open.delete(res));
    let sent = 0;
    for (const [type, data] of built.events) {
      if (res.destroyed) return;
      if (fault && sent === fault.afterEvents) {
        if (fault.type === 'cut') return void res.socket?.destroy();
        if (fault.type === 'stall') return; // keep the connection open, send nothing more
        if (fault.type === 'truncate') return void res.end(); // a clean end, before message_stop
        res.write(
          `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: fault.errorType, message: fault.message } })}\n\n`,
        );
        return void res.end();
      }
      if (step.delayMs && sent > 0) await new Promise((r) => setTimeout(r, step.delayMs));
      res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
      sent++;
    }
    res.end();
  };

  // Known once listening; scripted tool inputs and redirects refer to it as {{base_url}}.
  let baseUrl = '';
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      const raw = Buffer.concat(chunks).toString('utf8');
      if (path === '/__mock/requests' && req.method === 'GET') return send(res, 200, requests);
      const page = /^\/__mock\/pages\/([a-z0-9_]+)(\/.*)$/.exec(path);
      if (page && req.method === 'GET') {
        const found = options.scenarios.get(page[1]!)?.pages?.[page[2]!];
        if (!found) return send(res, 404, { error: `no page ${page[2]} in scenario ${page[1]}` });
        res.writeHead(found.status, {
          'content-type': found.contentType,
          ...(found.location ? { location: found.location.replaceAll('{{base_url}}', baseUrl) } : {}),
        });
        return res.end(found.body);
      }
      if (path === '/__mock/reset' && req.method === 'POST') {
        requests.length = 0;
        attempts.clear();
        return send(res, 200, { ok: true });
      }
      let body: Body = {};
      let parsed = true;
      try {
        body = raw ? (JSON.parse(raw) as Body) : {};
      } catch {
        parsed = false;
      }
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
      );
      requests.push({ method: req.method ?? 'GET', path, headers, body: parsed ? body : raw });
      if (!req.headers['x-api-key'] && !req.headers.authorization) {
        return error(res, 'authentication_error', 'x-api-key header is required');
      }
      if (!parsed) return error(res, 'invalid_request_error', 'The request body is not valid JSON');
      const route = `${req.method} ${path}`;
      const handle = async () => {
        if (route === 'POST /v1/messages') return messages(req, res, body);
        if (route === 'POST /v1/messages/count_tokens') {
          validate({ max_tokens: 1, ...body });
          return send(res, 200, {
            input_tokens: tokens(
              JSON.stringify(body.messages) +
                JSON.stringify(body.system ?? '') +
                JSON.stringify(body.tools ?? ''),
            ),
          });
        }
        if (route === 'GET /v1/models') {
          const data = MODELS.map((m) => ({ type: 'model', ...m }));
          return send(res, 200, { data, has_more: false, first_id: data[0]!.id, last_id: data.at(-1)!.id });
        }
        const model = /^\/v1\/models\/([^/]+)$/.exec(path);
        const found = model && req.method === 'GET' ? MODELS.find((m) => m.id === model[1]) : undefined;
        if (found) return send(res, 200, { type: 'model', ...found });
        return error(res, 'not_found_error', `Not found: ${req.method} ${path}`);
      };
      handle().catch((e: unknown) => {
        if (e instanceof RequestError) return error(res, e.errorType, e.message);
        return error(res, 'api_error', `mock failure: ${e instanceof Error ? e.message : String(e)}`);
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://${options.host ?? '127.0.0.1'}:${port}`;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    requests,
    reset: () => {
      requests.length = 0;
      attempts.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of open) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
