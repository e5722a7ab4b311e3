import { definePlugin } from '../../sdk/index.ts';
import { globSearch } from './glob-search.ts';
import { readFile } from './read-file.ts';

export default definePlugin({
  activate(ctx) {
    ctx.tools.register(readFile);
    ctx.tools.register(globSearch);
  },
});
