// Plugin-ecosystem benchmarks (issue 10): `icode doctor` with 0, 50 and 200 installed plugins (lazy ones:
// their code never loads at boot, so boot should stay flat), interleaved; and the cost of hook dispatch per
// tool call with 50 taps on each tool hook, against none.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bootTestKernel } from '../sdk/testing.ts';

const runs = Number(process.argv[2] ?? 30);
const root = resolve(process.argv[3] ?? process.cwd());
const bin = join(root, 'dist', 'icode.cjs');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A HOME with `n` installed lazy plugins, each enabled in the user's settings. */
function homeWith(n: number): string {
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
            { name: `bench_tool_${i}`, description: 'A benchmark tool', inputSchema: { type: 'object' } },
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

const homes = [0, 50, 200].map((n) => ({ n, home: homeWith(n) }));
const doctor = (home: string) => {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [bin, 'doctor', '--json'], {
    cwd: join(home, 'project'),
    env: { PATH: process.env.PATH, HOME: home, ICODE_CONFIG_DIR: join(home, '.icode') },
    encoding: 'utf8',
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const report = JSON.parse(r.stdout) as { plugins: Array<{ state: string; activation: string }> };
  return { ms, plugins: report.plugins.length };
};
const times = homes.map(() => [] as number[]);
let counts: number[] = [];
for (let i = 0; i < runs + 2; i++) {
  const round = homes.map((h) => doctor(h.home));
  if (i < 2) continue;
  for (const [j, r] of round.entries()) times[j]!.push(r.ms);
  counts = round.map((r) => r.plugins);
}
const base = median(times[0]!);
console.log(
  `\n${runs} runs each (median), interleaved; lazy installed plugins, enabled in the user's settings\n`,
);
console.log('| installed plugins | plugins in doctor | median ms | vs none |');
console.log('|---|---|---|---|');
for (const [j, h] of homes.entries())
  console.log(
    `| ${h.n} | ${counts[j]} | ${median(times[j]!).toFixed(1)} | ${(median(times[j]!) / base).toFixed(2)}x |`,
  );

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

// Request size: the tool definitions a model request carries in the default harness, with 0 and 200
// installed plugins of one tool each (issue 17: ≤ 1.2x), the tool-search plugin deferring theirs.
{
  const { Kernel, loadHarnessManifest } = await import('../kernel/index.ts');
  const { builtinPlugins } = await import('../plugins/index.ts');
  const sizes: number[] = [];
  const lowBudget = JSON.stringify({ plugins: { 'tool-search': { config: { budgetTokens: 1000 } } } });
  for (const [n, settings] of [
    [0, undefined],
    [200, undefined],
    [200, lowBudget],
  ] as const) {
    const home = homes.find((h) => h.n === n)!.home;
    const kernel = await Kernel.create({
      cwd: join(home, 'project'),
      home,
      env: {
        PATH: process.env.PATH,
        HOME: home,
        ICODE_CONFIG_DIR: join(home, '.icode'),
        ...(settings ? { ICODE_SETTINGS: settings } : {}),
      },
      manifest: loadHarnessManifest(join(root, 'manifests', 'default.json')),
      builtins: builtinPlugins,
      log: () => {},
    });
    await kernel.boot();
    const defs = await kernel.tools.definitions();
    sizes.push(JSON.stringify(defs).length);
    await kernel.shutdown();
  }
  console.log(
    `\ntool definitions per request, default harness: ${(sizes[0]! / 1024).toFixed(1)} KB with no installed plugins; with 200 of one tool each ${(sizes[1]! / 1024).toFixed(1)} KB (${(sizes[1]! / sizes[0]!).toFixed(2)}x) at the default budget of 20,000 tokens, under which they all fit, and ${(sizes[2]! / 1024).toFixed(1)} KB (${(sizes[2]! / sizes[0]!).toFixed(2)}x) with budgetTokens 1,000, where they are deferred behind ToolSearch`,
  );
}
