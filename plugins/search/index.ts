import * as z from 'zod';
import { definePlugin, expandPaths, findExecutable } from '../../sdk/index.ts';
import { globSearchTool } from './glob-search.ts';
import { grepSearchTool } from './grep-search.ts';

export default definePlugin({
  config: z.strictObject({
    /** ripgrep to use: a path or a name looked up in PATH. */
    rgPath: z.string().default('rg'),
  }),
  activate(ctx) {
    const rg = findExecutable(ctx.config.rgPath, ctx.env);
    if (!rg) {
      ctx.health.degraded(
        `ripgrep (${ctx.config.rgPath}) was not found on PATH; grep_search uses a slower JavaScript search with JavaScript regex syntax`,
        'install ripgrep (apt install ripgrep, brew install ripgrep, winget install BurntSushi.ripgrep.MSVC) or set plugins.search.config.rgPath',
      );
    }
    ctx.tools.register(globSearchTool(rg));
    // Files Read(...) deny rules cover, as they are now (a glob is expanded), kept out of search output.
    ctx.tools.register(grepSearchTool(rg, () => expandPaths(ctx.permissions.deniedPaths('read'))));
  },
});
