import type { BootReport, LayerReport, Problem, ResolvedConfig } from '../kernel/index.ts';
import { formatProblem } from '../kernel/index.ts';
import type { HarnessProblem } from '../kernel/plugin-checks.ts';
import { settingLines } from '../sdk/settings.ts';
import { pluginLines } from '../sdk/status.ts';

export function renderLayers(layers: LayerReport[]): string[] {
  return layers.map((l) => `  ${l.name.padEnd(9)} ${l.file ?? 'built in'}${l.found ? '' : ' (not found)'}`);
}

export function renderWarnings(warnings: Problem[]): string[] {
  return warnings.map((w) => `  ${formatProblem(w)}`);
}

/** Problems of the harness as a whole, drawn like a failed plugin: the code, then the fix under it. */
export function renderProblems(problems: readonly HarnessProblem[]): string[] {
  return problems.flatMap((p) => [`  XX harness: ${p.message} ${p.code}`, `       fix: ${p.fix}`]);
}

export interface EnvironmentCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export function renderDoctor(
  version: string,
  report: BootReport | undefined,
  config: ResolvedConfig | undefined,
  configError: string | undefined,
  env: EnvironmentCheck[],
): string {
  const out = [`icode ${version}`];
  if (report) {
    out.push(
      '',
      `Harness "${report.manifest.name}" (${report.manifest.file})`,
      ...pluginLines(report.plugins),
      ...renderProblems(report.problems),
    );
  }
  if (configError)
    out.push('', 'Cannot boot (plugins were not started)', `  ${configError.replace(/\n/g, '\n  ')}`);
  if (config) out.push('', 'Config files (later wins)', ...renderLayers(config.layers));
  if (report?.warnings.length) out.push('', 'Warnings', ...renderWarnings(report.warnings));
  out.push('', 'Environment', ...env.map((c) => `  ${c.ok ? 'ok' : 'XX'} ${c.name.padEnd(10)} ${c.detail}`));
  return `${out.join('\n')}\n`;
}

/** Flattens settings into `key = value  (layer)` lines for `icode config show`. */
export function renderConfig(config: ResolvedConfig): string {
  const lines = settingLines(config.settings, config.origins, (key) =>
    /^permissions\.(allow|ask|deny)$/.test(key),
  );
  lines.push('', 'permission rules (deny beats ask beats allow, from any layer):');
  if (!config.rules.length) lines.push('  (none)');
  for (const r of config.rules)
    lines.push(`  ${r.effect.padEnd(5)} ${r.rule}  (${r.layer}${r.file ? `: ${r.file}` : ''})`);
  return `${lines.join('\n')}\n`;
}
