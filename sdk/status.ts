import type { PluginStatus } from '../kernel/types.ts';

const MARK: Record<PluginStatus['state'], string> = {
  active: 'ok',
  degraded: '!!',
  failed: 'XX',
  disabled: '--',
};

export interface PluginLinesOptions {
  /**
   * The plugins were checked from their manifests only and no plugin code ran (`icode plugins list`): a
   * plugin that passed is shown `enabled, not activated`, never `active`, since its activation may still fail.
   */
  inspected?: boolean;
}

/**
 * The plugins as `icode doctor` shows them — a mark, name and version, state, and under it the reason and
 * the fix — so `/doctor` and `/plugins` in a session read the same.
 *
 * @example
 * ```ts
 * // In a command of a plugin: `/plugins` prints the harness's plugins.
 * const plugins = (ctx: { plugins(): PluginStatus[] }) => pluginLines(ctx.plugins()).join('\n');
 * ```
 */
export function pluginLines(
  plugins: readonly PluginStatus[],
  { inspected = false }: PluginLinesOptions = {},
): string[] {
  const width = Math.max(10, ...plugins.map((p) => `${p.name} ${p.version}`.length));
  return plugins.flatMap((p) => {
    const waiting = p.state === 'active' && !p.activated;
    const lazy = p.activation === 'lazy' && waiting;
    const [mark, label] =
      inspected && waiting
        ? ['..', `enabled, not activated${lazy ? ' (lazy)' : ''}`]
        : [MARK[p.state], `${p.state}${lazy ? ' (lazy, loads on first use)' : ''}`];
    const head = `  ${mark} ${`${p.name} ${p.version}`.padEnd(width)}  ${label}`;
    const lines = [p.code ? `${head} ${p.code}` : head];
    if (p.reason) lines.push(`       ${p.reason}`);
    if (p.fix) lines.push(`       fix: ${p.fix}`);
    return lines;
  });
}
