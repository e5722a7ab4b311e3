// Plugin-ecosystem benchmarks (issues 10 and 17): boot (`icode doctor --json`) and a one-turn `icode -p` with
// 0 and 200 installed plugins (lazy ones: their code never loads at boot, so both should stay flat),
// interleaved; the cost of hook dispatch per tool call with 50 taps on each tool hook, against none; and the
// tool definitions a model request carries with 0, 10 and 200 installed plugins.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bootTestKernel } from '../sdk/testing.ts';

const runs = Number(process.argv[2] ?? 30);
const root = resolve(process.argv[3] ?? process.cwd());
const bin = join(root, 'dist', 'icode.cjs');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * A HOME with `n` installed lazy plugins of one tool each, enabled in the user's settings. The tools are
 * `bench_tool_<i>` (one family, which ToolSearch's listing writes once), or with `distinct` names that
 * share no stem (`plugin<i>DoesThings`), as tools of unrelated authors would.
 */
function homeWith(n: number, distinct = false): string {
  const home = mkdtempSync(join(tmpdir(), `icode-bench-plugins-${n}-`));
  const userDir = join(home, '.icode');
  const modules = join(userDir, 'plugins', 'node_modules');
  const installed = [];
  const plugins: Record<string, { enabled: boolean }> = {};
  for (let i = 0; i < n; i++) {
    const name = `bench-plugin-${i}`;
    const dir = join(modules, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'plugin.json'),
      JSON.stringify({
        name,
        version: '1.0.0',
        main: 'index.mjs',
        activation: 'lazy',
        engines: { icode: '^0.1.0' },
        contributes: {
          tools: [
            {
              name: distinct ? `plugin${i}DoesThings` : `bench_tool_${i}`,
              description: 'A benchmark tool',
              inputSchema: { type: 'object' },
            },
          ],
        },
      }),
    );
    writeFileSync(
      join(dir, 'index.mjs'),
      'export default { activate(ctx) { throw new Error("never loaded at boot"); } };\n',
    );
    installed.push({
      name,
      version: '1.0.0',
      spec: name,
      capabilities: [],
      installedAt: new Date().toISOString(),
    });
    plugins[name] = { enabled: true };
  }
  mkdirSync(join(userDir, 'plugins'), { recursive: true });
  writeFileSync(join(userDir, 'plugins', 'installed.json'), JSON.stringify(installed));
  writeFileSync(join(userDir, 'settings.json'), JSON.stringify({ plugins }));
  mkdirSync(join(home, 'project'));
  return home;
}

const homes = [0, 200].map((n) => ({ n, home: homeWith(n) }));
// The CPU time a run used, read by the process itself at exit: a busy shared machine stretches wall time
// far more than the work done, so both are recorded.
const cpuProbe =
  'data:text/javascript,process.on("exit",()=>{const u=process.cpuUsage();process.stderr.write("\\ncpu="+(u.user+u.system)+"\\n")})';
/** One run of icode in a HOME: its wall and CPU time, and what it printed. */
const run = (home: string, args: string[]) => {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['--import', cpuProbe, bin, ...args], {
    cwd: join(home, 'project'),
    env: { PATH: process.env.PATH, HOME: home, ICODE_CONFIG_DIR: join(home, '.icode') },
    encoding: 'utf8',
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0)
    throw new Error(`icode ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 2000)}`);
  const cpu = Number(/cpu=(\d+)/.exec(r.stderr)?.[1]) / 1000;
  return { ms, cpu, stdout: r.stdout };
};
// Boot (`icode doctor --json`) and a one-turn headless reply (the mock model in process), each with 0 and 200
// installed plugins, interleaved round by round so a busy machine slows all four alike.
const cases = [
  { what: 'boot: icode doctor --json', args: ['doctor', '--json'] },
  { what: 'one-turn icode -p hi --mock', args: ['-p', 'hi', '--mock'] },
];
const times = cases.map(() => homes.map(() => [] as number[]));
const cpus = cases.map(() => homes.map(() => [] as number[]));
const counts: number[] = [];
for (let i = 0; i < runs + 2; i++) {
  for (const [c, k] of cases.entries()) {
    for (const [j, h] of homes.entries()) {
      const r = run(h.home, k.args);
      if (i >= 2) {
        times[c]![j]!.push(r.ms);
        cpus[c]![j]!.push(r.cpu);
      }
      if (c === 0) counts[j] = (JSON.parse(r.stdout) as { plugins: unknown[] }).plugins.length;
    }
  }
}
console.log(
  `\n${runs} runs each (median), interleaved; lazy installed plugins of one tool each, enabled in the user's settings\n`,
);
console.log(
  '| command | installed plugins | plugins in the harness | median ms | vs 0 installed | median CPU ms | vs 0 installed |',
);
console.log('|---|---|---|---|---|---|---|');
for (const [c, k] of cases.entries()) {
  const base = { ms: median(times[c]![0]!), cpu: median(cpus[c]![0]!) };
  for (const [j, h] of homes.entries()) {
    const [ms, cpu] = [median(times[c]![j]!), median(cpus[c]![j]!)];
    const cells = [
      ms.toFixed(1),
      `${(ms / base.ms).toFixed(2)}x`,
      cpu.toFixed(1),
      `${(cpu / base.cpu).toFixed(2)}x`,
    ];
    console.log(`| ${k.what} | ${h.n} | ${counts[j]} | ${cells.join(' | ')} |`);
  }
}

// Hook dispatch: one plugin with 50 taps on each of permissionRequest, beforeToolCall and afterToolCall.
const pluginDir = mkdtempSync(join(tmpdir(), 'icode-bench-taps-'));
writeFileSync(
  join(pluginDir, 'plugin.json'),
  JSON.stringify({
    name: 'taps',
    version: '1.0.0',
    main: 'index.mjs',
    engines: { icode: '^0.1.0' },
    contributes: {
      tools: [{ name: 'noop' }],
      hooks: ['permissionRequest', 'beforeToolCall', 'afterToolCall'],
    },
  }),
);
writeFileSync(
  join(pluginDir, 'index.mjs'),
  `export default { activate(ctx) {
    const taps = Number(process.env.BENCH_TAPS ?? 0);
    for (let i = 0; i < taps; i++) {
      ctx.hooks.permissionRequest.tap(() => undefined);
      ctx.hooks.beforeToolCall.tap(() => undefined);
      ctx.hooks.afterToolCall.tap((r) => r);
    }
    ctx.tools.register({ name: 'noop', description: 'nothing', input: { safeParse: (v) => ({ success: true, data: v }) }, mode: 'read-only', execute: () => 'ok' });
  } };\n`,
);
async function perCall(taps: number): Promise<number> {
  process.env.BENCH_TAPS = String(taps);
  const h = await bootTestKernel({ plugins: [pluginDir] });
  for (let i = 0; i < 200; i++) await h.callTool('noop', {});
  const samples: number[] = [];
  for (let i = 0; i < 20; i++) {
    const start = process.hrtime.bigint();
    for (let k = 0; k < 200; k++) await h.callTool('noop', {});
    samples.push(Number(process.hrtime.bigint() - start) / 1e6 / 200);
  }
  await h.shutdown();
  return median(samples);
}
const none = await perCall(0);
const fifty = await perCall(50);
console.log(
  `\nhook dispatch per tool call: ${(none * 1000).toFixed(1)} µs with no taps, ${(fifty * 1000).toFixed(1)} µs with 50 taps on each of permissionRequest, beforeToolCall and afterToolCall (+${((fifty - none) * 1000).toFixed(1)} µs, ${(((fifty - none) * 1000) / 150).toFixed(2)} µs per tap)`,
);

// Request size: the tool definitions a model request carries in the default harness, with 0, 10 and 200
// installed plugins of one tool each (issue 17: ≤ 1.2x at 200), the tool-search plugin deferring theirs past
// its default budget; 200 with names of one family, and 200 whose names share nothing.
{
  const { Kernel, loadHarnessManifest } = await import('../kernel/index.ts');
  const { builtinPlugins } = await import('../plugins/index.ts');
  const cases = [
    { n: 0, what: 'none', home: homes[0]!.home },
    { n: 10, what: 'sent as they are', home: homeWith(10) },
    { n: 200, what: 'deferred: one family, bench_tool_{0,…,199}', home: homes[1]!.home },
    { n: 200, what: 'deferred: names that share no stem', home: homeWith(200, true) },
  ];
  const sizes: number[] = [];
  for (const { home } of cases) {
    const kernel = await Kernel.create({
      cwd: join(home, 'project'),
      home,
      env: { PATH: process.env.PATH, HOME: home, ICODE_CONFIG_DIR: join(home, '.icode') },
      manifest: loadHarnessManifest(join(root, 'manifests', 'default.json')),
      builtins: builtinPlugins,
      log: () => {},
    });
    await kernel.boot();
    sizes.push(JSON.stringify(await kernel.tools.definitions()).length);
    await kernel.shutdown();
  }
  console.log('\ntool definitions per request, default harness, default tool-search budget\n');
  console.log('| installed plugins (one tool each) | their tools | definitions KB | vs none |');
  console.log('|---|---|---|---|');
  for (const [j, c] of cases.entries())
    console.log(
      `| ${c.n} | ${c.what} | ${(sizes[j]! / 1024).toFixed(1)} | ${(sizes[j]! / sizes[0]!).toFixed(2)}x |`,
    );
}
