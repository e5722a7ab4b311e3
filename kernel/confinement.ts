import { join } from 'node:path';
import { isInside } from './paths.ts';
import type { PermissionDecision, PermissionRequest } from './types.ts';

/** Folders and files, relative to each workspace root, that need approval before anything writes there. */
export const DEFAULT_PROTECTED_PATHS = ['.git', '.icode', '.claude', '.mcp.json', '.vscode', '.idea'];

/**
 * The workspace boundary, an invariant of the gate rather than a plugin a composition could leave out:
 * a path outside the workspace roots asks, and so does a write under a protected path inside them.
 * Tools report their paths resolved (symlinks followed), so a link inside the workspace that points out
 * of it is judged by where it points. Full access skips it, as it skips every ask of the mode.
 */
export class Confinement {
  /** Files outside the roots that icode itself wrote and a tool may read back (a bash command's saved output). */
  private readonly readable = new Set<string>();

  constructor(private readonly protectedPaths: readonly string[]) {}

  /** Lets read-only calls read this exact file (a real path), wherever it is. */
  grantRead(realPath: string): void {
    this.readable.add(realPath);
  }

  judge(request: PermissionRequest): PermissionDecision | undefined {
    if (request.subjects?.kind !== 'path' || request.sessionMode === 'danger-full-access') return undefined;
    for (const path of request.subjects.values) {
      if (!request.roots.some((root) => isInside(path, root))) {
        if (request.mode === 'read-only' && this.readable.has(path)) continue;
        return { decision: 'ask', reason: `${path} is outside the workspace (${request.roots.join(', ')})` };
      }
      if (request.mode === 'read-only') continue;
      const hit = request.roots
        .flatMap((root) => this.protectedPaths.map((p) => join(root, p)))
        .find((p) => isInside(path, p));
      if (hit)
        return { decision: 'ask', reason: `${path} is protected: writing under ${hit} needs approval` };
    }
    return undefined;
  }
}
