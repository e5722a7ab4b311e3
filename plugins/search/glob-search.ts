import { relative } from 'node:path';
import * as z from 'zod';
import { defineTool, resolveReal } from '../../sdk/index.ts';
import { listFiles, newestFirst, page } from './files.ts';

/** Finds files by glob pattern under a folder, newest first, honouring .gitignore. */
export const globSearch = defineTool({
  name: 'glob_search',
  aliases: ['Glob'],
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
    const base = resolveReal(path ?? '.', ctx.cwd);
    const found = await newestFirst(await listFiles(base, pattern, ctx.roots));
    if (!found.length) return `No files match ${pattern} in ${relative(ctx.cwd, base) || '.'}`;
    return page(
      found.map((file) => relative(ctx.cwd, file) || file),
      offset,
      head_limit,
    ).join('\n');
  },
});
