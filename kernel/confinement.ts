import { statSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { isInside } from './paths.ts';
import type { PermissionDecision, PermissionRequest } from './types.ts';

/** Folders and files that need approval before anything writes there. */
export const DEFAULT_PROTECTED_PATHS = ['.git', '.icode', '.claude', '.mcp.json', '.vscode', '.idea'];

/**
 * The workspace boundary, an invariant of the gate rather than a plugin a composition could leave out:
 * a path outside the workspace roots asks, and so does a write under a protected path inside them.
 * Tools report their paths resolved (symlinks followed), so a link inside the workspace that points out
 * of it is judged by where it points. Full access skips it, as it skips every ask of the mode.
 *
 * A protected name (`.icode`) is protected at any depth — `sub/.icode/settings.json` is the settings of a
 * session started in `sub/` — and in any case, since macOS and Windows file systems ignore it; a
 * protected path with a slash (`deploy/prod`) is protected under each root.
 */
export class Confinement {
  /** The defaults and what settings added: settings can add protected paths, never remove the defaults. */
  readonly protectedPaths: readonly string[];
  private readonly names: Set<string>;
  private readonly anchored: string[];
  /** Files outside the roots that icode itself wrote and a tool may read back (a bash command's saved output). */
  private readonly readable = new Set<string>();

  constructor(configured: readonly string[] = []) {
    this.protectedPaths = Object.freeze([...new Set([...DEFAULT_PROTECTED_PATHS, ...configured])]);
    const clean = this.protectedPaths.map((p) => p.replace(/^\.\/+/, '').replace(/\/+$/, ''));
    this.names = new Set(clean.filter((p) => !p.includes('/')).map((p) => p.toLowerCase()));
    this.anchored = clean.filter((p) => p.includes('/')).map((p) => p.toLowerCase());
  }

  /** Lets read-only calls read this exact regular file (a real path), wherever it is; anything else is refused. */
  grantRead(realPath: string): void {
    if (!statSync(realPath, { throwIfNoEntry: false })?.isFile())
      throw new Error(`grantRead takes one existing regular file; ${realPath} is not one`);
    this.readable.add(realPath);
  }

  /** The protected path a path inside `root` is under, if any. */
  private protectedUnder(path: string, root: string): string | undefined {
    const rel = relative(root, path).toLowerCase();
    const parts = rel.split(sep);
    const name = parts.find((part) => this.names.has(part));
    if (name) return name;
    return this.anchored.find((p) => rel === p || rel.startsWith(`${p}${sep}`));
  }

  judge(request: PermissionRequest): PermissionDecision | undefined {
    if (request.subjects?.kind !== 'path' || request.sessionMode === 'danger-full-access') return undefined;
    for (const path of request.subjects.values) {
      const root = request.roots.find((r) => isInside(path, r));
      if (!root) {
        if (request.mode === 'read-only' && this.readable.has(path)) continue;
        return { decision: 'ask', reason: `${path} is outside the workspace (${request.roots.join(', ')})` };
      }
      if (request.mode === 'read-only') continue;
      const hit = this.protectedUnder(path, root);
      if (hit)
        return { decision: 'ask', reason: `${path} is protected: writing under ${hit} needs approval` };
    }
    return undefined;
  }
}
