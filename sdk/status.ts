import type { PluginStatus } from '../kernel/types.ts';

const MARK: Record<PluginStatus['state'], string> = {
  active: 'ok',
  degraded: '!!',
  failed: 'XX',
  disabled: '--',
};

/**
 * The plugins as `icode doctor` shows them — a mark, name and version, state, and under it the reason and
 * the fix — so `/doctor` and `/plugins` in a session read the same.
 */
export function pluginLines(plugins: readonly PluginStatus[]): string[] {
  const width = Math.max(10, ...plugins.map((p) => `${p.name} ${p.version}`.length));
  return plugins.flatMap((p) => {
    const lazy =
      p.activation === 'lazy' && !p.activated && p.state === 'active' ? ' (lazy, loads on first use)' : '';
    const head = `  ${MARK[p.state]} ${`${p.name} ${p.version}`.padEnd(width)}  ${p.state}${lazy}`;
    const lines = [p.code ? `${head} ${p.code}` : head];
    if (p.reason) lines.push(`       ${p.reason}`);
    if (p.fix) lines.push(`       fix: ${p.fix}`);
    return lines;
  });
}
