import { stat } from 'node:fs/promises';
import { relative } from 'node:path';
import * as z from 'zod';
import { defineTool, resolveReal } from '../../sdk/index.ts';

const LIMIT = 100;

/** Finds files by glob pattern under a folder, newest first. */
export const globSearch = defineTool({
  name: 'glob_search',
  aliases: ['Glob'],
  description:
    'Find files by glob pattern (e.g. "src/**/*.ts") under a folder of the workspace. Returns paths, most recently modified first.',
  input: z.object({
    pattern: z.string().min(1).describe('Glob pattern, relative to path'),
    path: z.string().optional().describe('Folder to search in (default: the working directory)'),
  }),
  mode: 'read-only',
  concurrencySafe: true,
  subjects: ({ path }, ctx) => ({ kind: 'path', values: [resolveReal(path ?? '.', ctx.cwd)] }),
  async execute({ pattern, path }, ctx) {
    if (pattern.startsWith('/') || pattern.split('/').includes('..')) {
      throw new Error('the pattern must be relative and stay inside the folder; put the folder in "path"');
    }
    const base = resolveReal(path ?? '.', ctx.cwd);
    // Loaded on first search, not at activation: it is most of this plugin's code and startup pays for it.
    const { default: fg } = await import('fast-glob');
    const found = await fg(pattern, {
      cwd: base,
      dot: true,
      onlyFiles: true,
      followSymbolicLinks: false,
      ignore: ['**/node_modules/**', '**/.git/**'],
      absolute: true,
      suppressErrors: true,
    });
    if (!found.length) return `No files match ${pattern} in ${relative(ctx.cwd, base) || '.'}`;
    const withTimes = await Promise.all(
      found.map(async (file) => ({ file, mtime: (await stat(file).catch(() => undefined))?.mtimeMs ?? 0 })),
    );
    withTimes.sort((a, b) => b.mtime - a.mtime || a.file.localeCompare(b.file));
    const lines = withTimes.slice(0, LIMIT).map(({ file }) => relative(ctx.cwd, file) || file);
    if (found.length > LIMIT) lines.push(`[${found.length - LIMIT} more; narrow the pattern]`);
    return lines.join('\n');
  },
});
