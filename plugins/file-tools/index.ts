import { definePlugin } from '../../sdk/index.ts';
import { editFile } from './edit-file.ts';
import { readFile } from './read-file.ts';
import { writeFile } from './write-file.ts';

export default definePlugin({
  activate(ctx) {
    ctx.tools.register(readFile);
    ctx.tools.register(writeFile);
    ctx.tools.register(editFile);
  },
});
