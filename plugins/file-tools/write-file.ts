import * as z from 'zod';
import { approvedTarget, checkedTarget, defineTool, statTarget, writeAtomic } from '../../sdk/index.ts';

/** Creates or replaces a file, atomically, creating parent folders. */
export const writeFile = defineTool({
  name: 'write_file',
  aliases: ['Write'],
  coveredBy: ['Edit'],
  description:
    'Write a file in the workspace, replacing it if it exists and creating parent folders. Prefer edit_file for changes to an existing file.',
  input: z.object({
    path: z.string().min(1).describe('Path of the file, absolute or relative to the working directory'),
    content: z.string().describe('The complete new content of the file'),
  }),
  mode: 'workspace-write',
  subjects: async ({ path }, ctx) => ({ kind: 'path', values: [await checkedTarget(path, ctx.cwd)] }),
  async execute({ path, content }, ctx) {
    const file = approvedTarget(path, ctx.cwd, ctx.judged);
    const info = await statTarget(file, path);
    await writeAtomic(file, path, content);
    const lines = content === '' ? 0 : content.split('\n').length - (content.endsWith('\n') ? 1 : 0);
    return `${info ? 'Updated' : 'Created'} ${path} (${lines} lines)`;
  },
});
