import * as z from 'zod';
import {
  approvedTarget,
  checkedTarget,
  defineTool,
  readText,
  statTarget,
  writeAtomic,
} from '../../sdk/index.ts';

function count(text: string, part: string): number {
  let n = 0;
  for (let at = text.indexOf(part); at !== -1; at = text.indexOf(part, at + part.length)) n++;
  return n;
}

/** Replaces an exact string in a file; returns a unified diff of the change. */
export const editFile = defineTool({
  name: 'edit_file',
  aliases: ['Edit'],
  description:
    'Replace an exact string in a file. old_string must occur exactly once (include surrounding lines to make it unique) unless replace_all is true. An empty old_string creates a new file. Returns a unified diff.',
  input: z.object({
    path: z.string().min(1).describe('Path of the file, absolute or relative to the working directory'),
    old_string: z.string().describe('The exact text to replace, including whitespace and indentation'),
    new_string: z.string().describe('The text to put in its place'),
    replace_all: z.boolean().optional().describe('Replace every occurrence (default false)'),
  }),
  mode: 'workspace-write',
  subjects: async ({ path }, ctx) => ({ kind: 'path', values: [await checkedTarget(path, ctx.cwd)] }),
  async execute({ path, old_string, new_string, replace_all = false }, ctx) {
    const file = approvedTarget(path, ctx.cwd, ctx.judged);
    const info = await statTarget(file, path);
    if (old_string === new_string) throw new Error('old_string and new_string are the same; nothing to do');
    let before = '';
    let after: string;
    if (!info) {
      if (old_string !== '')
        throw new Error(`${path} does not exist; to create it, pass an empty old_string (or use write_file)`);
      after = new_string;
    } else {
      if (info.isDirectory()) throw new Error(`${path} is a directory`);
      before = await readText(file, path, info);
      if (old_string === '') {
        if (before !== '')
          throw new Error(`${path} already exists and is not empty; old_string must not be empty`);
        after = new_string;
      } else {
        // Keep the file's line endings: the model writes \n, a Windows file has \r\n.
        const crlf = before.includes('\r\n') && !old_string.includes('\r\n');
        const from = crlf ? old_string.replace(/\n/g, '\r\n') : old_string;
        const to = crlf ? new_string.replace(/\r?\n/g, '\r\n') : new_string;
        const found = count(before, from);
        if (found === 0)
          throw new Error(
            `old_string was not found in ${path}. Read the file again and copy the text exactly, whitespace included`,
          );
        if (found > 1 && !replace_all)
          throw new Error(
            `old_string occurs ${found} times in ${path}; include more surrounding text to pick one, or set replace_all`,
          );
        after = replace_all ? before.split(from).join(to) : before.replace(from, () => to);
      }
    }
    await writeAtomic(file, path, after);
    // Loaded on the first edit, not at startup.
    const { createPatch } = await import('diff');
    const patch = createPatch(path, before, after, '', '', { context: 3 });
    // Drop the "Index:" and "====" header lines; keep ---/+++ and the hunks.
    return patch.split('\n').slice(2).join('\n').trimEnd();
  },
});
