// Terminal UI benchmark (issue 9): time from launching `icode` on a terminal to the prompt being ready
// for input (the input box drawn), against bare `node` printing a line on the same kind of terminal, in
// the same run, interleaved. The terminal is a pseudo-terminal from util-linux `script`. Usage:
// node scripts/bench-tui.mjs [runs] [root]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const runs = Number(process.argv[2] ?? 30);
const root = resolve(process.argv[3] ?? process.cwd());
const bin = join(root, 'dist', 'icode.cjs');
const home = mkdtempSync(join(tmpdir(), 'icode-bench-tui-'));
const project = join(home, 'project');
mkdirSync(project);
const env = {
  PATH: process.env.PATH,
  HOME: home,
  ICODE_CONFIG_DIR: join(home, '.icode'),
  TERM: 'xterm-256color',
  COLUMNS: '100',
  LINES: '30',
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const quote = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Milliseconds from spawn until `ready` appears on the terminal. */
function until(command, ready) {
  return new Promise((done, fail) => {
    const start = process.hrtime.bigint();
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd: project,
      env,
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    let seen = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`never ready: ${JSON.stringify(seen.slice(-300))}`));
    }, 20_000);
    child.stdout.on('data', (d) => {
      seen += d;
      if (seen.includes(ready)) {
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        clearTimeout(timer);
        child.kill('SIGKILL');
        done(ms);
      }
    });
  });
}

const cases = [
  {
    name: 'node printing a line on the terminal (baseline)',
    command: `${quote(process.execPath)} -e ${quote("process.stdout.write('READY\\n'); setTimeout(() => {}, 5000)")}`,
    ready: 'READY',
  },
  {
    name: 'icode: UI up, prompt ready for input',
    command: `${quote(process.execPath)} ${quote(bin)}`,
    ready: 'Ctrl-C twice exits',
  },
];
const times = cases.map(() => []);
for (let i = 0; i < runs + 2; i++) {
  for (const [j, c] of cases.entries()) {
    const ms = await until(c.command, c.ready);
    if (i >= 2) times[j].push(ms); // two warm-ups (disk cache, code cache)
  }
}
const base = median(times[0]);
console.log(
  `\nTUI start-up, ${runs} runs each (median), interleaved, on a pseudo-terminal (script); node ${process.version}\n`,
);
console.log('| what | median ms | vs baseline |');
console.log('|---|---|---|');
for (const [j, c] of cases.entries())
  console.log(`| ${c.name} | ${median(times[j]).toFixed(1)} | ${(median(times[j]) / base).toFixed(2)}x |`);
