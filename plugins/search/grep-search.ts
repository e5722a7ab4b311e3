import { readFile, stat } from 'node:fs/promises';
import { relative, resolve, sep } from 'node:path';
import vm from 'node:vm';
import * as z from 'zod';
import { asJudged, capOutput, defineTool, resolveReal } from '../../sdk/index.ts';
import { listFiles, newestFirst, page } from './files.ts';

const MAX_OUTPUT = 30_000;
const MAX_FALLBACK_FILE = 2 * 1024 * 1024;

const Input = z.object({
  pattern: z.string().min(1).describe('Regular expression to search for (ripgrep syntax)'),
  path: z.string().optional().describe('File or folder to search (default: the working directory)'),
  glob: z
    .string()
    .optional()
    .describe('Only files whose path matches this glob, e.g. "*.ts" or "src/**/*.{ts,tsx}"'),
  type: z
    .string()
    .regex(/^[A-Za-z0-9_+-]+$/, 'a ripgrep file type such as ts, py, rust')
    .optional()
    .describe('Only files of this ripgrep type (ts, py, rust, go, …)'),
  output_mode: z
    .enum(['content', 'files_with_matches', 'count'])
    .optional()
    .describe(
      'content: matching lines; files_with_matches (default): paths, newest first; count: matches per file',
    ),
  '-A': z
    .number()
    .int()
    .min(0)
    .max(100)
    .optional()
    .describe('Lines of context after each match (content mode)'),
  '-B': z
    .number()
    .int()
    .min(0)
    .max(100)
    .optional()
    .describe('Lines of context before each match (content mode)'),
  '-C': z
    .number()
    .int()
    .min(0)
    .max(100)
    .optional()
    .describe('Lines of context around each match (content mode)'),
  '-n': z.boolean().optional().describe('Show line numbers (content mode; default true)'),
  '-i': z.boolean().optional().describe('Case-insensitive search'),
  head_limit: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .optional()
    .describe('At most this many lines or paths (default 250)'),
  offset: z.number().int().min(0).optional().describe('Skip this many lines or paths first'),
  multiline: z.boolean().optional().describe('Let patterns span lines (. matches newlines)'),
});
type GrepInput = z.output<typeof Input>;

/**
 * The arguments icode passes to ripgrep. The model chooses values, never flags: the pattern goes through
 * `--regexp`, paths after `--`, and `--no-config` keeps a RIPGREP_CONFIG_PATH from adding flags such as
 * `--pre` (which runs a program on every file).
 */
export function ripgrepArgs(input: GrepInput, target: string | undefined): string[] {
  const mode = input.output_mode ?? 'files_with_matches';
  // .gitignore counts outside git repositories too, and node_modules is skipped unless searched directly.
  const args = ['--no-config', '--no-require-git', '--hidden', '--glob', '!.git', '--color', 'never'];
  if (!target?.split(sep).includes('node_modules')) args.push('--glob', '!node_modules');
  args.push('--max-columns', '500');
  if (mode === 'files_with_matches') args.push('--files-with-matches');
  else if (mode === 'count') args.push('--count-matches', '--with-filename');
  else {
    args.push('--no-heading', '--with-filename');
    if (input['-n'] ?? true) args.push('--line-number');
    if (input['-C'] !== undefined) args.push('--context', String(input['-C']));
    if (input['-A'] !== undefined) args.push('--after-context', String(input['-A']));
    if (input['-B'] !== undefined) args.push('--before-context', String(input['-B']));
  }
  if (input['-i']) args.push('--ignore-case');
  if (input.multiline) args.push('--multiline', '--multiline-dotall');
  if (input.glob) args.push('--glob', input.glob);
  if (input.type) args.push('--type', input.type);
  args.push('--regexp', input.pattern);
  if (target) args.push('--', target);
  return args;
}

async function withRipgrep(rg: string, input: GrepInput, base: string, cwd: string, signal: AbortSignal) {
  const { execa } = await import('execa');
  const target = relative(cwd, base);
  const run = await execa(rg, ripgrepArgs(input, target || undefined), {
    cwd,
    reject: false,
    cancelSignal: signal,
    maxBuffer: 256 * 1024 * 1024,
    stdin: 'ignore',
  });
  if (run.isCanceled) throw new Error('the search was interrupted');
  // ripgrep exits 1 when nothing matched and 2 on errors (some of which still leave results).
  if (run.exitCode === 2 && !run.stdout) throw new Error(run.stderr.trim() || 'ripgrep failed');
  const lines = run.stdout ? run.stdout.split('\n') : [];
  return { lines, warning: run.exitCode === 2 ? run.stderr.trim() : '' };
}

// The fallback's matching runs in a VM context under a time budget per file: a pattern that backtracks
// catastrophically (`(a+)+$`) would otherwise hold the event loop, and with it every timeout and signal.
const SCAN = `(function (text, source, flags, before, after, content) {
  if (!content) { const m = text.match(new RegExp(source, flags + 'g')); return m ? m.length : 0; }
  const re = new RegExp(source, flags);
  const lines = text.split('\\n');
  const keep = new Set();
  const hits = new Set();
  for (let i = 0; i < lines.length; i++) {
    if (!re.test(lines[i])) continue;
    hits.add(i);
    for (let k = Math.max(0, i - before); k <= Math.min(lines.length - 1, i + after); k++) keep.add(k);
  }
  return [...keep].sort((a, b) => a - b).map((i) => [i, hits.has(i)]);
})`;
const FILE_BUDGET_MS = 1_000;

/** The search without ripgrep: JavaScript regular expressions over the same file list, more slowly. */
async function withoutRipgrep(
  input: GrepInput,
  base: string,
  cwd: string,
  roots: string[],
  signal: AbortSignal,
) {
  const mode = input.output_mode ?? 'files_with_matches';
  const flags = `${input['-i'] ? 'i' : ''}${input.multiline ? 's' : ''}`;
  new RegExp(input.pattern, flags); // a pattern that does not compile is the model's error, said at once
  const sandbox = vm.createContext({});
  vm.runInContext(`globalThis.scan = ${SCAN}`, sandbox);
  const call = new vm.Script(
    'scan(args.text, args.source, args.flags, args.before, args.after, args.content)',
  );
  const info = await stat(base);
  // A glob without a slash matches a file name at any depth, as in ripgrep and .gitignore.
  const glob = input.glob && !input.glob.includes('/') ? `**/${input.glob}` : (input.glob ?? '**/*');
  const files = info.isFile() ? [base] : await listFiles(base, glob, roots);
  const lines: string[] = [];
  const slow: string[] = [];
  const after = input['-A'] ?? input['-C'] ?? 0;
  const before = input['-B'] ?? input['-C'] ?? 0;
  for (const file of files) {
    signal.throwIfAborted();
    const buffer = await readFile(file).catch(() => undefined);
    if (!buffer || buffer.length > MAX_FALLBACK_FILE || buffer.subarray(0, 8192).includes(0)) continue;
    const text = buffer.toString('utf8');
    const shown = relative(cwd, file);
    sandbox.args = { text, source: input.pattern, flags, before, after, content: mode === 'content' };
    let found: unknown;
    try {
      found = call.runInContext(sandbox, { timeout: FILE_BUDGET_MS });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw error;
      slow.push(shown);
      continue;
    }
    if (mode !== 'content') {
      const count = found as number;
      if (count) lines.push(mode === 'count' ? `${shown}:${count}` : shown);
      continue;
    }
    const fileLines = text.split('\n');
    for (const [i, hit] of found as Array<[number, boolean]>) {
      const mark = hit ? ':' : '-';
      lines.push(
        input['-n'] === false
          ? `${shown}${mark}${fileLines[i]}`
          : `${shown}${mark}${i + 1}${mark}${fileLines[i]}`,
      );
    }
  }
  const warning = slow.length
    ? `the pattern took over ${FILE_BUDGET_MS / 1000} s on ${slow.length} file(s), which were skipped (${slow.slice(0, 5).join(', ')}): it backtracks too much for JavaScript's regex engine; simplify it, or install ripgrep`
    : '';
  return { lines, warning };
}

/** `grep_search`: ripgrep when it is there (`rg`), a JavaScript search otherwise. */
/**
 * Drops output lines of files that `Read(...)` deny rules cover: the rule that stops read_file stops a
 * search from printing the same lines. A line is `path`, `path:…` or `path-…` (a context line).
 */
export function withoutDenied(lines: string[], cwd: string, denied: readonly string[]): string[] {
  if (!denied.length) return lines;
  const names = denied.map((p) => relative(cwd, p));
  return lines.filter(
    (line) =>
      !names.some(
        (n) =>
          line === n || line.startsWith(`${n}:`) || line.startsWith(`${n}-`) || line.startsWith(`${n}${sep}`),
      ),
  );
}

export function grepSearchTool(rg: string | undefined, denied: () => string[] = () => []) {
  return defineTool({
    name: 'grep_search',
    aliases: ['Grep'],
    coveredBy: ['Read'],
    description:
      'Search file contents with a regular expression (ripgrep), honouring .gitignore. output_mode files_with_matches (default) lists paths, content shows matching lines with context, count counts matches per file.',
    input: Input,
    mode: 'read-only',
    concurrencySafe: true,
    subjects: ({ path }, ctx) => ({ kind: 'path', values: [resolveReal(path ?? '.', ctx.cwd)] }),
    async execute(input, ctx) {
      if (input.path?.includes('\0')) throw new Error('the path contains a NUL byte');
      const base = asJudged(resolveReal(input.path ?? '.', ctx.cwd), input.path ?? '.', ctx.judged);
      const found = rg
        ? await withRipgrep(rg, input, base, ctx.cwd, ctx.signal)
        : await withoutRipgrep(input, base, ctx.cwd, ctx.roots, ctx.signal);
      const { warning } = found;
      const lines = withoutDenied(found.lines, ctx.cwd, denied());
      const mode = input.output_mode ?? 'files_with_matches';
      if (!lines.length) return `No matches for ${input.pattern}${warning ? `\n${warning}` : ''}`;
      // ripgrep prints paths relative to the folder it ran in (ctx.cwd), symlinks not followed.
      const shown =
        mode === 'files_with_matches'
          ? page(
              await newestFirst(lines.map((l) => resolve(ctx.cwd, l))),
              input.offset ?? 0,
              input.head_limit ?? 250,
              (f) => relative(ctx.cwd, f),
            )
          : page(lines, input.offset ?? 0, input.head_limit ?? 250);
      const head =
        mode === 'files_with_matches' ? [`Found ${lines.length} file${lines.length === 1 ? '' : 's'}`] : [];
      const body = [...head, ...shown, ...(warning ? [`[ripgrep: ${warning}]`] : [])].join('\n');
      return capOutput(body, MAX_OUTPUT);
    },
  });
}
