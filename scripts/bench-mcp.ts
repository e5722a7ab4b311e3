// MCP benchmarks (issue 6): connecting 1 and 10 stdio servers at startup (in parallel) against connecting
// one with the SDK's client directly, and the overhead of a tool call through icode against the same call
// on a directly connected SDK client. Servers are test/fixtures/mcp/fixture-server.mjs (the official SDK).
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { builtinPlugins } from '../plugins/index.ts';
import { bootTestKernel } from '../sdk/testing.ts';

const runs = Number(process.argv[2] ?? 30);
const root = resolve(process.argv[3] ?? process.cwd());
const FIXTURE = join(root, 'test/fixtures/mcp/fixture-server.mjs');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const server = { command: process.execPath, args: [FIXTURE] };

async function direct() {
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(new StdioClientTransport({ ...server, stderr: 'ignore' }));
  return client;
}
async function viaIcode(n: number) {
  const servers = Object.fromEntries(Array.from({ length: n }, (_, i) => [`s${i}`, server]));
  return bootTestKernel({
    include: ['mcp'],
    builtins: builtinPlugins,
    mode: 'workspace-write',
    env: { ICODE_SETTINGS: JSON.stringify({ mcpServers: servers }) },
  });
}
const time = async <T>(fn: () => Promise<T>): Promise<[number, T]> => {
  const start = performance.now();
  const value = await fn();
  return [performance.now() - start, value];
};

const connectRuns = Math.max(5, Math.floor(runs / 3));
const connect = { direct: [] as number[], one: [] as number[], ten: [] as number[] };
for (let i = 0; i < connectRuns + 1; i++) {
  const [d, client] = await time(direct);
  await client.close();
  const [one, k1] = await time(() => viaIcode(1));
  await k1.shutdown();
  const [ten, k10] = await time(() => viaIcode(10));
  if ((await k10.kernel.services.get('mcp')).list().some((s) => s.state !== 'connected'))
    throw new Error(
      `a server did not connect: ${JSON.stringify((await k10.kernel.services.get('mcp')).list().filter((s) => s.state !== 'connected'))}`,
    );
  await k10.shutdown();
  if (i === 0) continue; // warm-up
  connect.direct.push(d);
  connect.one.push(one);
  connect.ten.push(ten);
}

const client = await direct();
const h = await viaIcode(1);
const calls = { direct: [] as number[], icode: [] as number[] };
for (let i = 0; i < runs * 10 + 20; i++) {
  const [d] = await time(() => client.callTool({ name: 'shout', arguments: { text: 'hi' } }));
  const [ic, r] = await time(() => h.callTool('mcp__s0__shout', { text: 'hi' }));
  if (r.isError) throw new Error(String(r.content));
  if (i < 20) continue;
  calls.direct.push(d);
  calls.icode.push(ic);
}
await client.close();
await h.shutdown();

const base = median(connect.direct);
console.log(`\n${connectRuns} runs each (median), interleaved; fixture server on node ${process.version}\n`);
console.log('| what | median ms | vs one direct SDK connect |');
console.log('|---|---|---|');
console.log(`| SDK client, connect 1 stdio server (baseline) | ${base.toFixed(1)} | 1.00x |`);
console.log(
  `| icode mcp plugin activation, 1 server | ${median(connect.one).toFixed(1)} | ${(median(connect.one) / base).toFixed(2)}x |`,
);
console.log(
  `| icode mcp plugin activation, 10 servers in parallel | ${median(connect.ten).toFixed(1)} | ${(median(connect.ten) / base).toFixed(2)}x |`,
);
const [cd, ci] = [median(calls.direct), median(calls.icode)];
console.log(
  `\ntool call, ${calls.direct.length} calls each (median): SDK client ${cd.toFixed(3)} ms, through icode ${ci.toFixed(3)} ms; icode's overhead ${((ci - cd) * 1000).toFixed(0)} µs per call (${(ci / cd).toFixed(2)}x)`,
);
