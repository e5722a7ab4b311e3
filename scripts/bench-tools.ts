// Tool benchmarks (issue 5), each against a baseline measured in the same run and interleaved with it:
// grep_search vs plain `rg` and glob_search vs `rg --files` on a tree of 50,000 files; the bash tool's
// round trip (`echo hi` through validation, the gate and the sandbox) vs a bare spawn of bash; and the
// validator's time per command over the adversarial corpus. Prints markdown tables.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeBash } from '../plugins/bash/analyze.ts';
import { builtinPlugins } from '../plugins/index.ts';
import { bootTestKernel } from '../sdk/testing.ts';

const runs = Number(process.argv[2] ?? 30);
const root = process.argv[3] ?? process.cwd();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;
const time = async (fn: () => unknown) => {
  const start = process.hrtime.bigint();
  await fn();
  return ms(start);
};

const h = await bootTestKernel({
  include: ['workspace-guard', 'file-tools', 'search', 'bash'],
  builtins: builtinPlugins,
  mode: 'workspace-write',
});
const rg = execFileSync('sh', ['-c', 'command -v rg'], { encoding: 'utf8' }).trim();

// 50,000 files: 500 folders of 100 small TypeScript files; one file in a hundred holds the needle.
const FOLDERS = 500;
const PER = 100;
for (let d = 0; d < FOLDERS; d++) {
  const dir = join(h.project, 'src', `m${d}`);
  mkdirSync(dir, { recursive: true });
  for (let f = 0; f < PER; f++) {
    const needle = (d * PER + f) % 100 === 0 ? 'export const NEEDLE_VALUE = 42;\n' : '';
    writeFileSync(
      join(dir, `f${f}.ts`),
      `// file ${d}/${f}\nexport function f${f}() {\n  return ${f};\n}\n${needle}`,
    );
  }
}
writeFileSync(join(h.project, '.gitignore'), 'node_modules/\n');

interface Pair {
  name: string;
  baseline: string;
  base: () => unknown;
  icode: () => Promise<unknown>;
}
const check = async (name: string, input: unknown) => {
  const r = await h.callTool(name, input);
  if (r.isError) throw new Error(`${name}: ${String(r.content).slice(0, 300)}`);
  return r;
};
const rgRun = (args: string[]) => {
  const r = spawnSync(rg, args, {
    cwd: h.project,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.status !== 0) throw new Error(`rg ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const pairs: Pair[] = [
  {
    name: 'grep_search, files_with_matches (500 of 50,000 files match)',
    baseline: 'rg -l NEEDLE_VALUE',
    base: () => rgRun(['-l', 'NEEDLE_VALUE']),
    icode: () => check('grep_search', { pattern: 'NEEDLE_VALUE', head_limit: 1000 }),
  },
  {
    name: 'grep_search, content (500 matching lines)',
    baseline: 'rg -n NEEDLE_VALUE',
    base: () => rgRun(['-n', 'NEEDLE_VALUE']),
    icode: () => check('grep_search', { pattern: 'NEEDLE_VALUE', output_mode: 'content', head_limit: 1000 }),
  },
  {
    name: 'glob_search **/*.ts (50,000 files)',
    baseline: 'rg --files',
    base: () => rgRun(['--files']),
    icode: () => check('glob_search', { pattern: '**/*.ts', head_limit: 100 }),
  },
  {
    name: 'bash `echo hi` round trip (validated, sandboxed)',
    baseline: "bash -c 'echo hi' (bare spawn)",
    base: () => spawnSync('bash', ['-c', 'echo hi'], { encoding: 'utf8' }),
    icode: () => check('bash', { command: 'echo hi' }),
  },
];
const toolRuns = Math.max(5, Math.floor(runs / 3));
const results = pairs.map(() => ({ base: [] as number[], icode: [] as number[] }));
for (const p of pairs) {
  await time(p.base);
  await time(p.icode);
}
for (let i = 0; i < toolRuns; i++) {
  for (const [j, p] of pairs.entries()) {
    results[j]!.base.push(await time(p.base));
    results[j]!.icode.push(await time(p.icode));
  }
}
const state = h.report.plugins.find((p) => p.name === 'bash');
console.log(
  `\n${toolRuns} runs each (median), interleaved; bash plugin ${state?.state}${state?.reason ? ` (${state.reason})` : ' (bubblewrap sandbox)'}\n`,
);
console.log('| icode | median ms | baseline | median ms | ratio |');
console.log('|---|---|---|---|---|');
for (const [j, p] of pairs.entries()) {
  const [a, b] = [median(results[j]!.icode), median(results[j]!.base)];
  console.log(`| ${p.name} | ${a.toFixed(1)} | ${p.baseline} | ${b.toFixed(1)} | ${(a / b).toFixed(2)}x |`);
}

// The validator alone: parse and judge each corpus command (the grammar loaded once, before timing).
const corpus = readFileSync(join(root, 'test', 'corpus', 'bash.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => (JSON.parse(l) as { command: string }).command);
const options = { cwd: h.project, roots: [h.project], protectedPaths: ['.git', '.icode'] };
await analyzeBash('true', options);
const perCommand: number[] = [];
for (const command of corpus) {
  const samples: number[] = [];
  for (let i = 0; i < 20; i++) samples.push(await time(() => analyzeBash(command, options)));
  perCommand.push(median(samples));
}
const sorted = [...perCommand].sort((a, b) => a - b);
console.log(
  `\nvalidator over ${corpus.length} corpus commands (median of 20 runs each): median ${(median(perCommand) * 1000).toFixed(0)} µs, p90 ${(sorted[Math.floor(sorted.length * 0.9)]! * 1000).toFixed(0)} µs, max ${(sorted.at(-1)! * 1000).toFixed(0)} µs`,
);

// The whole permission gate per bash command (issue 16): the kernel's judge — input validation, the
// parser and option tables, path resolution, Read/Edit rules, covers — over the attack corpus and the
// base corpus, in this 50,000-file workspace. Baseline: the bash grammar's parse of the same command
// alone, the part no judging can skip.
const attacks = ['bash-attacks.jsonl', 'bash.jsonl'].flatMap((f) =>
  readFileSync(join(root, 'test', 'corpus', f), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { command: string }).command),
);
const { bashParser } = await import('../plugins/bash/parser.ts');
const parser = await bashParser();
const judge = (command: string) =>
  h.kernel.tools.judge(
    { id: 'bench', name: 'bash', input: { command } },
    { sessionMode: 'workspace-write', cwd: h.project, roots: [h.project] },
  );
await judge('true');
const gate: number[] = [];
const parse: number[] = [];
for (const command of attacks) {
  const g: number[] = [];
  const p: number[] = [];
  for (let i = 0; i < 10; i++) {
    p.push(await time(() => parser.parse(command)?.delete()));
    g.push(await time(() => judge(command)));
  }
  gate.push(median(g));
  parse.push(median(p));
}
const q = (xs: number[], f: number) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * f)]!;
const us = (x: number) => `${(x * 1000).toFixed(0)} µs`;
console.log(
  `\n| permission gate per bash command (${attacks.length} corpus commands, median of 10 each) | median | p90 | max |\n|---|---|---|---|\n| the gate (kernel judge: parse, option tables, paths, rules) | ${us(median(gate))} | ${us(q(gate, 0.9))} | ${us(Math.max(...gate))} |\n| baseline: the bash grammar's parse alone | ${us(median(parse))} | ${us(q(parse, 0.9))} | ${us(Math.max(...parse))} |\n| ratio (median) | ${(median(gate) / median(parse)).toFixed(1)}x | | |`,
);
await h.shutdown();
