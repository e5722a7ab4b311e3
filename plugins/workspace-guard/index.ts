import { join } from 'node:path';
import * as z from 'zod';
import { definePlugin, isInside } from '../../sdk/index.ts';

/**
 * Path evidence for the permission gate. Tools report their paths already resolved (symlinks followed),
 * so a link inside the workspace that points outside it is judged by where it points.
 */
export default definePlugin({
  config: z.strictObject({
    /** Folders and files, relative to each workspace root, that need approval before anything writes there. */
    protectedPaths: z
      .array(z.string())
      .default(['.git', '.icode', '.claude', '.mcp.json', '.vscode', '.idea']),
  }),
  activate(ctx) {
    ctx.hooks.permissionRequest.tap((request) => {
      if (request.subjects?.kind !== 'path' || request.sessionMode === 'danger-full-access') return undefined;
      for (const path of request.subjects.values) {
        if (!request.roots.some((root) => isInside(path, root))) {
          return {
            decision: 'ask',
            reason: `${path} is outside the workspace (${request.roots.join(', ')})`,
          };
        }
        if (request.mode === 'read-only') continue;
        const hit = request.roots
          .flatMap((root) => ctx.config.protectedPaths.map((p) => join(root, p)))
          .find((p) => isInside(path, p));
        if (hit)
          return { decision: 'ask', reason: `${path} is protected: writing under ${hit} needs approval` };
      }
      return undefined;
    });
  },
});
