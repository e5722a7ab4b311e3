// Load: 20 headless sessions at once in one project against one mock server (its own process), beside
// one session alone and 20 bare `node -e 0` at once as baselines measured in the same run. Reports the
// wall time of each batch and the peak memory of its processes (each reads its own at exit).
// Usage: node scripts/bench-load.mjs [runs] [root]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const runs = Math.max(3, Math.floor(Number(process.argv[2] ?? 30) / 10));
const root = process.argv[3] ?? process.cwd();
const bin = join(root, 'dist', 'icode.cjs');
const SESSIONS = 20;

const home = mkdtempSync(join(tmpdir(), 'icode-bench-load-'));
const project = join(home, 'project');
const scenarios = join(home, 'scenarios');
mkdirSync(project);
mkdirSync(scenarios);
writeFileSync(join(project, 'README.md'), '# load\n');
writeFileSync(
  join(scenarios, 'load.json'),
  JSON.stringify({
    name: 'load',
    steps: [
      { content: [{ type: 'tool_use', name: 'read_file', input: { path: 'README.md' } }] },
      { content: [{ type: 'text', text: 'Read: {{tool_results}}' }] },
    ],
  }),
);
const env = { PATH: process.env.PATH, HOME: home, ICODE_CONFIG_DIR: join(home, '.icode') };
const rssProbe =
  'data:text/javascript,process.on("exit",()=>process.stderr.write("\\nmaxrss="+process.resourceUsage().maxRSS+"\\n"))';

function one(args, extra) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', rssProbe, ...args], {
      cwd: project,
      env: { ...env, ...extra },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${args.join(' ')} exited ${code}: ${err.slice(0, 2000)}`));
      else resolve(Number(/maxrss=(\d+)/.exec(err)?.[1]));
    });
  });
}

async function batch(n, args, extra) {
  const start = process.hrtime.bigint();
  const rss = await Promise.all(Array.from({ length: n }, () => one(args, extra)));
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, rss: Math.max(...rss) / 1024 };
}

const mock = spawn(process.execPath, [bin, 'mock-server', '--scenarios', scenarios], {
  env,
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise((resolve) => {
  let out = '';
  mock.stdout.on('data', (d) => {
    out += d;
    const m = /MOCK_ANTHROPIC_BASE_URL=(\S+)/.exec(out);
    if (m) resolve(m[1]);
  });
});
const api = { ANTHROPIC_BASE_URL: url, ANTHROPIC_API_KEY: 'bench' };
const session = [bin, '-p', 'PARITY_SCENARIO:load'];
const cases = [
  { name: `${SESSIONS} × node -e 0 at once (baseline)`, n: SESSIONS, args: ['-e', '0'] },
  { name: 'icode -p, one session alone', n: 1, args: session, env: api },
  { name: `icode -p, ${SESSIONS} sessions at once`, n: SESSIONS, args: session, env: api },
];
const results = cases.map(() => []);
try {
  await batch(1, session, api); // warm the code cache
  for (let i = 0; i < runs; i++)
    for (const [j, c] of cases.entries()) results[j].push(await batch(c.n, c.args, c.env));
} finally {
  mock.kill('SIGTERM');
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const files = readdirSync(join(home, '.icode', 'projects', readdirSync(join(home, '.icode', 'projects'))[0]));
const sessions = files.filter((f) => f.endsWith('.jsonl')).length;
const expected = 1 + runs * (1 + SESSIONS);
const base = median(results[0].map((r) => r.ms));
console.log(`\n### Load: ${SESSIONS} concurrent headless sessions, one mock server (${runs} runs, median)\n`);
console.log('| batch | wall ms | vs baseline | peak RSS of one process MiB |');
console.log('|---|---|---|---|');
for (const [j, c] of cases.entries()) {
  const ms = median(results[j].map((r) => r.ms));
  const rss = median(results[j].map((r) => r.rss));
  console.log(`| ${c.name} | ${ms.toFixed(0)} | ${(ms / base).toFixed(2)}x | ${rss.toFixed(1)} |`);
}
console.log(`\nsession files written: ${sessions} of ${expected} sessions run`);
if (sessions !== expected) process.exitCode = 1;
