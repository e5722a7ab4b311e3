import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type LayerName, PROJECT_LAYERS } from '../kernel/config.ts';

/**
 * What the user approved of a project's own configuration that runs commands (MCP servers, hooks): by
 * project root and a fingerprint of what was approved, so a repository cannot run anything just by being
 * opened, and editing what was approved asks again. Kept under the user's icode directory, owner-only.
 *
 * @example
 * ```ts
 * const approvals = new ProjectApprovals(ctx.userDir, 'hooks');
 * const print = ProjectApprovals.fingerprint(projectHooks);
 * if (!approvals.approved(ctx.projectRoot, print)) ctx.health.degraded('project hooks not approved', 'icode hooks approve');
 * ```
 */
export class ProjectApprovals {
  private readonly file: string;

  constructor(userDir: string, kind: string) {
    this.file = join(userDir, 'state', `${kind}-approvals.json`);
  }

  /**
   * Whether a settings layer is one a repository can ship: the project's `.icode/settings.json`,
   * `.icode/settings.local.json`, `.claude/settings.json` and `.claude/settings.local.json` alike (a clone
   * can hold any of them). What such a layer switches on that runs commands waits for the user's approval.
   */
  static fromRepository(layer: string | undefined): boolean {
    return PROJECT_LAYERS.has(layer as LayerName);
  }

  static fingerprint(value: unknown): string {
    // Nothing to approve (the usual case) needs no hash, and so no crypto module at start-up.
    if (Array.isArray(value) && value.length === 0) return 'nothing';
    return createHash('sha256').update(JSON.stringify(value)).digest('hex');
  }

  private read(): Record<string, string> {
    try {
      return JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  }

  approved(projectRoot: string, fingerprint: string): boolean {
    return this.read()[projectRoot] === fingerprint;
  }

  approve(projectRoot: string, fingerprint: string): void {
    mkdirSync(dirname(this.file), { recursive: true });
    writeFileSync(this.file, JSON.stringify({ ...this.read(), [projectRoot]: fingerprint }, null, 2), {
      mode: 0o600,
    });
  }
}
