import { extname } from 'node:path';
import * as z from 'zod';
import {
  approvedTarget,
  checkedTarget,
  defineTool,
  MAX_FILE_BYTES as MAX_BYTES,
  parseNotebook,
  readJudged,
  renderNotebook,
  statTarget,
} from '../../sdk/index.ts';

const MAX_LINE = 2000;
const IMAGE_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
};
// The Messages API takes images up to 5 MB.
const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

/** Reads a text file with line numbers (`cat -n` style), a window of lines at a time. */
export const readFile = defineTool({
  name: 'read_file',
  aliases: ['Read'],
  description:
    'Read a file from the workspace. Text comes back as numbered lines (1-based; page with offset and limit); PNG, JPEG, GIF and WebP images come back as images.',
  input: z.object({
    path: z.string().min(1).describe('Path of the file, absolute or relative to the working directory'),
    offset: z.number().int().min(1).optional().describe('First line to return (1-based)'),
    limit: z.number().int().min(1).max(5000).optional().describe('How many lines to return (default 2000)'),
  }),
  mode: 'read-only',
  concurrencySafe: true,
  subjects: async ({ path }, ctx) => ({ kind: 'path', values: [await checkedTarget(path, ctx.cwd)] }),
  async execute({ path, offset = 1, limit = 2000 }, ctx) {
    const file = approvedTarget(path, ctx.cwd, ctx.judged);
    const info = await statTarget(file, path);
    if (!info) throw new Error(`${path} does not exist`);
    if (info.isDirectory()) throw new Error(`${path} is a directory; use glob_search to list it`);
    const imageType = IMAGE_TYPES[extname(file).toLowerCase()];
    if (imageType) {
      const { bytes, size } = await readJudged(file, path, info, MAX_IMAGE_BYTES);
      if (size > MAX_IMAGE_BYTES)
        throw new Error(`${path} is a ${size}-byte image; images are sent up to ${MAX_IMAGE_BYTES} bytes`);
      return [
        { type: 'image', source: { type: 'base64', media_type: imageType, data: bytes.toString('base64') } },
      ];
    }
    const { bytes, size } = await readJudged(file, path, info, MAX_BYTES);
    if (bytes.subarray(0, 8192).includes(0))
      throw new Error(`${path} looks like a binary file; it cannot be shown as text`);
    const text = bytes.toString('utf8');
    if (text === '') return `(${path} is empty)`;
    // A notebook is shown cell by cell (ids for NotebookEdit, sources, outputs), not as its JSON.
    if (extname(file).toLowerCase() === '.ipynb') {
      try {
        return renderNotebook(parseNotebook(text, path));
      } catch {
        // Not a notebook after all: shown as text below.
      }
    }
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
      size > MAX_BYTES ? `[only the first ${MAX_BYTES} bytes of ${size} were read]` : '',
    ].filter(Boolean);
    return [...shown, ...notes].join('\n');
  },
});
