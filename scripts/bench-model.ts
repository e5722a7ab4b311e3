// Streaming benchmark: a 1,000-delta text stream from the mock API, read by the raw SDK (the baseline)
// and by the anthropic provider, interleaved in one process. Prints a markdown table.
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import fetch from 'node-fetch';
import { AnthropicProvider } from '../plugins/anthropic/provider.ts';
import { loadScenarios } from '../plugins/mock-anthropic/scenario.ts';
import { startMockServer } from '../plugins/mock-anthropic/server.ts';

const runs = Number(process.argv[2] ?? 30);
const root = process.argv[3] ?? process.cwd();
const mock = await startMockServer({ scenarios: loadScenarios(join(root, 'scenarios')) });
const body = {
  model: 'claude-sonnet-5-5',
  max_tokens: 8192,
  messages: [{ role: 'user' as const, content: 'PARITY_SCENARIO:long_stream' }],
};
const client = new Anthropic({
  apiKey: null,
  baseURL: mock.url,
  defaultHeaders: { 'x-api-key': 'k' },
  maxRetries: 0,
});
const provider = new AnthropicProvider({
  apiKey: 'k',
  baseURL: mock.url,
  maxRetries: 0,
  idleTimeoutMs: 60_000,
  baseBackoffMs: 500,
  maxBackoffMs: 8000,
  maxRetryAfterMs: 60_000,
});

interface Sample {
  first: number;
  stop: number;
  deltas: number;
}

async function raw(): Promise<Sample> {
  const start = performance.now();
  let first = 0;
  let deltas = 0;
  const stream = await client.messages.create({ ...body, stream: true });
  for await (const event of stream) {
    if (event.type === 'content_block_delta' && event.delta.type === 'text_delta' && deltas++ === 0)
      first = performance.now() - start;
  }
  return { first, stop: performance.now() - start, deltas };
}

async function viaProvider(): Promise<Sample> {
  const start = performance.now();
  let first = 0;
  let deltas = 0;
  await provider.stream(body, {
    onText: () => {
      if (deltas++ === 0) first = performance.now() - start;
    },
  });
  return { first, stop: performance.now() - start, deltas };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (let i = 0; i < 5; i++) {
  await raw();
  await viaProvider();
}
const samples = { raw: [] as Sample[], provider: [] as Sample[] };
for (let i = 0; i < runs; i++) {
  samples.raw.push(await raw());
  samples.provider.push(await viaProvider());
}
await mock.close();

const row = (name: string, s: Sample[], base: Sample[]) => {
  const [first, stop, baseStop] = [
    median(s.map((x) => x.first)),
    median(s.map((x) => x.stop)),
    median(base.map((x) => x.stop)),
  ];
  return `| ${name} | ${s[0]!.deltas} | ${first.toFixed(2)} | ${stop.toFixed(1)} | ${(stop / baseStop).toFixed(2)}x |`;
};
const perDelta =
  (median(samples.provider.map((x) => x.stop)) - median(samples.raw.map((x) => x.stop))) /
  samples.raw[0]!.deltas;
console.log(`\n${runs} runs each (median), interleaved, mock and client in one process\n`);
console.log('| reader | text deltas | first delta ms | message_stop ms | vs raw SDK |');
console.log('|---|---|---|---|---|');
console.log(row('raw @anthropic-ai/sdk stream, same fetch (baseline)', samples.raw, samples.raw));
console.log(row('anthropic provider (icode)', samples.provider, samples.raw));
console.log(`\nprovider overhead per delta: ${(perDelta * 1000).toFixed(2)} µs`);
