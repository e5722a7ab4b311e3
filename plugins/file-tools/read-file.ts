import { extname } from 'node:path';
import * as z from 'zod';
import {
  approvedTarget,
  checkedTarget,
  defineTool,
  MAX_FILE_BYTES as MAX_BYTES,
  parseNotebook,
  readJudged,
  readJudgedChunks,
  renderNotebook,
  statTarget,
} from '../../sdk/index.ts';

const MAX_LINE = 2000;
// A line is decoded from at most this many bytes: MAX_LINE characters of any width.
const MAX_LINE_BYTES = MAX_LINE * 4;
const IMAGE_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
};
// The Messages API takes images up to 5 MB.
const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

/**
 * Reads a text file with line numbers (`cat -n` style), a window of lines at a time, streaming: any line of
 * a file of any size can be reached, and the result gives the file's true line count and size.
 */
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
    // A notebook is shown cell by cell (ids for NotebookEdit, sources, outputs), not as its JSON.
    if (extname(file).toLowerCase() === '.ipynb' && info.size <= MAX_BYTES) {
      const { bytes } = await readJudged(file, path, info, MAX_BYTES);
      try {
        if (!bytes.subarray(0, 8192).includes(0))
          return renderNotebook(parseNotebook(bytes.toString('utf8'), path));
      } catch {
        // Not a notebook after all: shown as text below.
      }
    }
    const last = offset - 1 + limit;
    const page = await pageOf(readJudgedChunks(file, path, info), offset, last, ctx.signal);
    if (page.binary) throw new Error(`${path} looks like a binary file; it cannot be shown as text`);
    if (page.bytes === 0) return `(${path} is empty)`;
    if (offset > page.total)
      throw new Error(`${path} has ${page.total} lines; offset ${offset} is past the end`);
    const shown = page.lines.map((line, i) => `${String(offset + i).padStart(6)}\t${line}`);
    const end = offset - 1 + shown.length;
    if (offset === 1 && end === page.total) return shown.join('\n');
    const more = page.total - end;
    const onward = more ? `; ${more} more line${more === 1 ? '' : 's'}: read on with offset ${end + 1}` : '';
    return [...shown, `[lines ${offset}-${end} of ${page.total} (${page.bytes} bytes)${onward}]`].join('\n');
  },
});

interface Page {
  /** The lines asked for, each cut to MAX_LINE characters. */
  lines: string[];
  /** The file's true line count and size. */
  total: number;
  bytes: number;
  binary: boolean;
}

function countNewlines(bytes: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 10) n++;
  return n;
}

/**
 * Lines `first` to `last` (1-based) of a file read as chunks, and its totals. The whole file is read, for
 * the true line count, but only the lines asked for are kept, each to MAX_LINE_BYTES: memory stays
 * bounded for a file of any size, or a line of any length.
 */
async function pageOf(
  chunks: AsyncIterable<Buffer>,
  first: number,
  last: number,
  signal: AbortSignal,
): Promise<Page> {
  const lines: string[] = [];
  let line = 1; // the line the next byte belongs to
  let bytes = 0;
  let endsWithNewline = true;
  let kept: Buffer[] = [];
  let keptLength = 0;
  let lineBytes = 0;
  const inPage = () => line >= first && line <= last;
  const take = (piece: Buffer) => {
    lineBytes += piece.length;
    if (keptLength >= MAX_LINE_BYTES) return;
    const part = Buffer.from(piece.subarray(0, MAX_LINE_BYTES - keptLength));
    kept.push(part);
    keptLength += part.length;
  };
  const endLine = () => {
    // stream: a character cut at MAX_LINE_BYTES is left out, not shown as U+FFFD.
    const text = new TextDecoder().decode(Buffer.concat(kept), { stream: true });
    lines.push(
      lineBytes > keptLength || text.length > MAX_LINE
        ? `${text.slice(0, MAX_LINE)}… [line cut; the whole line is ${lineBytes} bytes]`
        : text,
    );
    kept = [];
    keptLength = 0;
    lineBytes = 0;
  };
  for await (const chunk of chunks) {
    signal.throwIfAborted();
    if (bytes === 0 && chunk.subarray(0, 8192).includes(0))
      return { lines: [], total: 0, bytes: chunk.length, binary: true };
    bytes += chunk.length;
    endsWithNewline = chunk[chunk.length - 1] === 10;
    const newlines = countNewlines(chunk);
    // A chunk wholly before or after the page is only counted.
    if (line > last || line + newlines < first) {
      line += newlines;
      continue;
    }
    for (let at = 0; at < chunk.length; ) {
      const newline = chunk.indexOf(10, at);
      if (inPage()) take(chunk.subarray(at, newline === -1 ? chunk.length : newline));
      if (newline === -1) break;
      if (inPage()) endLine();
      line++;
      at = newline + 1;
      if (line > last) {
        line += countNewlines(chunk.subarray(at));
        break;
      }
    }
  }
  // A last line without a newline is a line too.
  if (!endsWithNewline && inPage()) endLine();
  return { lines, total: endsWithNewline ? line - 1 : line, bytes, binary: false };
}
