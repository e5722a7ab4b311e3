import { open, stat } from 'node:fs/promises';
import * as z from 'zod';
import { defineTool, resolveReal } from '../../sdk/index.ts';

const MAX_BYTES = 2 * 1024 * 1024;
const MAX_LINE = 2000;

/** Reads a text file with line numbers (`cat -n` style), a window of lines at a time. */
export const readFile = defineTool({
  name: 'read_file',
  aliases: ['Read'],
  description:
    'Read a text file from the workspace. Returns numbered lines (1-based). Use offset and limit to page through large files.',
  input: z.object({
    path: z.string().min(1).describe('Path of the file, absolute or relative to the working directory'),
    offset: z.number().int().min(1).optional().describe('First line to return (1-based)'),
    limit: z.number().int().min(1).max(5000).optional().describe('How many lines to return (default 2000)'),
  }),
  mode: 'read-only',
  concurrencySafe: true,
  subjects: ({ path }, ctx) => ({ kind: 'path', values: [resolveReal(path, ctx.cwd)] }),
  async execute({ path, offset = 1, limit = 2000 }, ctx) {
    const file = resolveReal(path, ctx.cwd);
    const info = await stat(file);
    if (info.isDirectory()) throw new Error(`${path} is a directory; use glob_search to list it`);
    const handle = await open(file, 'r');
    let text: string;
    try {
      const buffer = Buffer.alloc(Math.min(info.size, MAX_BYTES));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      if (buffer.subarray(0, Math.min(bytesRead, 8192)).includes(0)) {
        throw new Error(`${path} looks like a binary file; it cannot be shown as text`);
      }
      text = buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
    if (text === '') return `(${path} is empty)`;
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    if (offset > lines.length)
      throw new Error(`${path} has ${lines.length} lines; offset ${offset} is past the end`);
    const shown = lines.slice(offset - 1, offset - 1 + limit).map((line, i) => {
      const cut = line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}… [line cut]` : line;
      return `${String(offset + i).padStart(6)}\t${cut}`;
    });
    const end = offset - 1 + shown.length;
    const notes = [
      end < lines.length ? `[lines ${offset}-${end} of ${lines.length}; read on with offset ${end + 1}]` : '',
      info.size > MAX_BYTES ? `[only the first ${MAX_BYTES} bytes of ${info.size} were read]` : '',
    ].filter(Boolean);
    return [...shown, ...notes].join('\n');
  },
});
