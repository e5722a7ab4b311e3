// Startup benchmark: `icode --version` and `icode doctor` against bare `node -e 0`, measured in the same
// run and interleaved, so a busy machine slows all three alike. Prints a markdown table of medians and
// ratios. Usage: npm run bench [-- --runs 30]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 30;
const bin = join(root, 'dist', 'icode.cjs');

// An empty HOME and project, so the figures do not depend on this machine's settings.
const home = mkdtempSync(join(tmpdir(), 'icode-bench-'));
const project = join(home, 'project');
mkdirSync(project);
const env = { PATH: process.env.PATH, HOME: home, ICODE_CONFIG_DIR: join(home, '.icode') };

const cases = [
  { name: 'node -e 0 (baseline)', args: ['-e', '0'] },
  { name: 'icode --version', args: [bin, '--version'] },
  { name: 'icode doctor', args: [bin, 'doctor'] },
  { name: 'icode doctor --json', args: [bin, 'doctor', '--json'] },
  { name: 'icode doctor, no code cache', args: [bin, 'doctor'], env: { ICODE_NO_CODE_CACHE: '1' } },
  { name: 'icode -p hi --mock (one turn, mock in process)', args: [bin, '-p', 'hi', '--mock'] },
];

// Peak memory is read by the process itself at exit; a separate pass keeps this out of the timings.
const rssProbe =
  'data:text/javascript,process.on("exit",()=>process.stderr.write("\\nmaxrss="+process.resourceUsage().maxRSS+"\\n"))';

function once({ args, env: extra }, probe) {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, probe ? ['--import', rssProbe, ...args] : args, {
    cwd: project,
    env: { ...env, ...extra },
    encoding: 'utf8',
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 2000)}`);
  const rss = probe ? Number(/maxrss=(\d+)/.exec(r.stderr)?.[1]) : undefined;
  return { ms, rss };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

// Warm the file cache, and the code cache the first run of icode writes.
for (const c of cases) for (let i = 0; i < 3; i++) once(c, false);
const times = cases.map(() => []);
const rss = cases.map(() => []);
for (let i = 0; i < runs; i++) {
  for (const [j, c] of cases.entries()) times[j].push(once(c, false).ms);
}
for (let i = 0; i < Math.min(runs, 10); i++) {
  for (const [j, c] of cases.entries()) rss[j].push(once(c, true).rss);
}

// The fastest run is the one least disturbed by other work on a shared machine; the median shows the
// typical one. Each is compared with the baseline's figure of the same kind.
const base = { ms: median(times[0]), min: Math.min(...times[0]), rss: median(rss[0]) };
const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
const rows = cases.map((c, j) => {
  const [ms, min, kb] = [median(times[j]), Math.min(...times[j]), median(rss[j])];
  const cells = [ms.toFixed(1), ratio(ms, base.ms), min.toFixed(1), ratio(min, base.min)];
  return `| ${c.name} | ${cells.join(' | ')} | ${(kb / 1024).toFixed(1)} | ${ratio(kb, base.rss)} |`;
});
console.log(`node ${process.version}, ${process.platform} ${process.arch}, ${runs} runs each, interleaved\n`);
console.log('| command | median ms | vs node | fastest ms | vs node | peak RSS MiB | vs node |');
console.log('|---|---|---|---|---|---|---|');
console.log(rows.join('\n'));

// Headless sessions against the mock server, as a user runs them: `icode -p` for a one-turn text reply,
// and for 10 and 50 model turns of one tool call each. The mock runs in its own process.
const { spawn } = await import('node:child_process');
const mockProcess = spawn(process.execPath, [bin, 'mock-server'], {
  env,
  stdio: ['ignore', 'pipe', 'inherit'],
});
const mockUrl = await new Promise((resolve) => {
  let out = '';
  mockProcess.stdout.on('data', (d) => {
    out += d;
    const m = /MOCK_ANTHROPIC_BASE_URL=(\S+)/.exec(out);
    if (m) resolve(m[1]);
  });
});
writeFileSync(join(project, 'README.md'), '# bench\n');
const apiEnv = { ANTHROPIC_BASE_URL: mockUrl, ANTHROPIC_API_KEY: 'bench' };
const noSandbox = JSON.stringify({ plugins: { bash: { config: { sandbox: 'off' } } } });
const sessions = [
  { name: 'node -e 0 (baseline)', args: ['-e', '0'] },
  { name: 'icode -p, one-turn text reply', args: [bin, '-p', 'PARITY_SCENARIO:streaming_text'], env: apiEnv },
  { name: 'icode -p, 10 tool turns', args: [bin, '-p', 'PARITY_SCENARIO:bench_tool_turns_10'], env: apiEnv },
  {
    name: 'icode -p, 50 tool turns',
    args: [bin, '-p', 'PARITY_SCENARIO:bench_tool_turns_50', '--max-turns', '60'],
    env: apiEnv,
  },
  // The same without the bubblewrap sandbox, to show what it costs per command.
  {
    name: 'icode -p, 10 tool turns, sandbox off',
    args: [bin, '-p', 'PARITY_SCENARIO:bench_tool_turns_10'],
    env: { ...apiEnv, ICODE_SETTINGS: noSandbox },
  },
  {
    name: 'icode -p, 50 tool turns, sandbox off',
    args: [bin, '-p', 'PARITY_SCENARIO:bench_tool_turns_50', '--max-turns', '60'],
    env: { ...apiEnv, ICODE_SETTINGS: noSandbox },
  },
];
const sessionRuns = Math.max(5, Math.floor(runs / 3));
const sTimes = sessions.map(() => []);
const sRss = sessions.map(() => []);
try {
  for (const c of sessions) once(c, false);
  for (let i = 0; i < sessionRuns; i++) {
    for (const [j, c] of sessions.entries()) sTimes[j].push(once(c, false).ms);
  }
  for (let i = 0; i < Math.min(sessionRuns, 5); i++) {
    for (const [j, c] of sessions.entries()) sRss[j].push(once(c, true).rss);
  }
} finally {
  mockProcess.kill('SIGTERM');
}
const sBase = { ms: median(sTimes[0]), rss: median(sRss[0]) };
console.log(`\n${sessionRuns} runs each (median), interleaved; mock server in its own process\n`);
console.log('| command | median ms | vs node | peak RSS MiB | vs node |');
console.log('|---|---|---|---|---|');
for (const [j, c] of sessions.entries()) {
  const [ms, kb] = [median(sTimes[j]), median(sRss[j])];
  console.log(
    `| ${c.name} | ${ms.toFixed(1)} | ${ratio(ms, sBase.ms)} | ${(kb / 1024).toFixed(1)} | ${ratio(kb, sBase.rss)} |`,
  );
}
const perTurn = (a, b) => ((median(sTimes[a]) - median(sTimes[b])) / 40).toFixed(2);
console.log(
  `\nper tool turn (50-turn minus 10-turn, over 40): ${perTurn(3, 2)} ms; sandbox off: ${perTurn(5, 4)} ms`,
);

// The streaming and tool benchmarks are TypeScript that imports the plugins: bundle each next to
// node_modules and run it with the same number of runs.
const { build } = await import('esbuild');
async function runBundled(name) {
  const out = join(root, 'dist', `${name}.mjs`);
  await build({
    entryPoints: [join(root, 'scripts', `${name}.ts`)],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'warning',
  });
  const r = spawnSync(process.execPath, [out, String(runs), root], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.stdout.write(r.stdout);
  if (r.status !== 0) process.exitCode = 1;
}
await runBundled('bench-model');
await runBundled('bench-tools');
await runBundled('bench-mcp');
await runBundled('bench-plugins');
await runBundled('bench-lsp');
for (const script of ['bench-tui.mjs', 'bench-load.mjs']) {
  const r = spawnSync(process.execPath, [join(root, 'scripts', script), String(runs), root], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.stdout.write(r.stdout);
  if (r.status !== 0) process.exitCode = 1;
}
