import { readFile, stat } from 'node:fs/promises';
import { relative, resolve, sep } from 'node:path';
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

/** The search without ripgrep: JavaScript regular expressions over the same file list, more slowly. */
async function withoutRipgrep(input: GrepInput, base: string, cwd: string, roots: string[]) {
  const mode = input.output_mode ?? 'files_with_matches';
  const flags = `${input['-i'] ? 'i' : ''}${input.multiline ? 's' : ''}`;
  const regex = new RegExp(input.pattern, flags);
  const info = await stat(base);
  // A glob without a slash matches a file name at any depth, as in ripgrep and .gitignore.
  const glob = input.glob && !input.glob.includes('/') ? `**/${input.glob}` : (input.glob ?? '**/*');
  const files = info.isFile() ? [base] : await listFiles(base, glob, roots);
  const lines: string[] = [];
  const after = input['-A'] ?? input['-C'] ?? 0;
  const before = input['-B'] ?? input['-C'] ?? 0;
  for (const file of files) {
    const buffer = await readFile(file).catch(() => undefined);
    if (!buffer || buffer.length > MAX_FALLBACK_FILE || buffer.subarray(0, 8192).includes(0)) continue;
    const text = buffer.toString('utf8');
    const shown = relative(cwd, file);
    if (mode !== 'content') {
      const count = text.match(new RegExp(regex.source, `${flags}g`))?.length ?? 0;
      if (count) lines.push(mode === 'count' ? `${shown}:${count}` : shown);
      continue;
    }
    const fileLines = text.split('\n');
    const keep = new Set<number>();
    fileLines.forEach((line, i) => {
      if (!regex.test(line)) return;
      for (let k = Math.max(0, i - before); k <= Math.min(fileLines.length - 1, i + after); k++) keep.add(k);
    });
    for (const i of [...keep].sort((a, b) => a - b)) {
      const sep = regex.test(fileLines[i]!) ? ':' : '-';
      lines.push(
        input['-n'] === false
          ? `${shown}${sep}${fileLines[i]}`
          : `${shown}${sep}${i + 1}${sep}${fileLines[i]}`,
      );
    }
  }
  return { lines, warning: '' };
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
        : await withoutRipgrep(input, base, ctx.cwd, ctx.roots);
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
