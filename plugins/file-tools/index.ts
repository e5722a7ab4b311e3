import { definePlugin } from '../../sdk/index.ts';
import { editFile } from './edit-file.ts';
import { globSearch } from './glob-search.ts';
import { readFile } from './read-file.ts';
import { writeFile } from './write-file.ts';

export default definePlugin({
  activate(ctx) {
    for (const tool of [readFile, writeFile, editFile, globSearch]) ctx.tools.register(tool);
  },
});
