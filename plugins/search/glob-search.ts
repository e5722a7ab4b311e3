import { relative, resolve, sep } from 'node:path';
import * as z from 'zod';
import { asJudged, defineTool, resolveReal } from '../../sdk/index.ts';
import { listFiles, newestFirst, page } from './files.ts';

/**
 * The files ripgrep lists under `base` that match a glob, honouring .gitignore (inside git repositories or
 * not), skipping .git and, unless the search starts inside one, node_modules. The pattern is matched here
 * (picomatch, shell semantics: `*.ts` is the top level only): given to ripgrep as `--glob`, it would
 * override the ignore rules.
 */
async function withRipgrep(
  rg: string,
  base: string,
  pattern: string,
  signal: AbortSignal,
): Promise<string[]> {
  const [{ execa }, { default: picomatch }] = await Promise.all([import('execa'), import('picomatch')]);
  const args = ['--no-config', '--files', '--no-require-git', '--hidden', '--glob', '!.git'];
  if (!base.split(sep).includes('node_modules')) args.push('--glob', '!node_modules');
  const matches = picomatch(pattern, { dot: true });
  const run = await execa(rg, args, {
    cwd: base,
    reject: false,
    cancelSignal: signal,
    stdin: 'ignore',
    maxBuffer: 1 << 28,
  });
  if (run.isCanceled) throw new Error('the search was interrupted');
  if (run.exitCode === 2 && !run.stdout) throw new Error(run.stderr.trim() || 'ripgrep failed');
  return run.stdout
    ? run.stdout
        .split('\n')
        .filter((f) => matches(f))
        .map((f) => resolve(base, f))
    : [];
}

/** `glob_search`: files by glob pattern, newest first, honouring .gitignore; ripgrep lists them when it is there. */
export function globSearchTool(rg: string | undefined) {
  return defineTool({
    name: 'glob_search',
    aliases: ['Glob'],
    coveredBy: ['Read'],
    description:
      'Find files by glob pattern (e.g. "src/**/*.ts") under a folder of the workspace. Returns paths, most recently modified first; files ignored by .gitignore are left out.',
    input: z.object({
      pattern: z.string().min(1).describe('Glob pattern, relative to path'),
      path: z.string().optional().describe('Folder to search in (default: the working directory)'),
      head_limit: z
        .number()
        .int()
        .min(1)
        .max(5000)
        .optional()
        .describe('At most this many paths (default 100)'),
      offset: z.number().int().min(0).optional().describe('Skip this many paths first (default 0)'),
    }),
    mode: 'read-only',
    concurrencySafe: true,
    subjects: ({ path }, ctx) => ({ kind: 'path', values: [resolveReal(path ?? '.', ctx.cwd)] }),
    async execute({ pattern, path, head_limit = 100, offset = 0 }, ctx) {
      if (pattern.startsWith('/') || pattern.split('/').includes('..')) {
        throw new Error('the pattern must be relative and stay inside the folder; put the folder in "path"');
      }
      const base = asJudged(resolveReal(path ?? '.', ctx.cwd), path ?? '.', ctx.judged);
      const files = rg
        ? await withRipgrep(rg, base, pattern, ctx.signal)
        : await listFiles(base, pattern, ctx.roots);
      const found = await newestFirst(files);
      if (!found.length) return `No files match ${pattern} in ${relative(ctx.cwd, base) || '.'}`;
      return page(found, offset, head_limit, (file) => relative(ctx.cwd, file) || file).join('\n');
    },
  });
}
