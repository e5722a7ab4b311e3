import type { ServerStatus } from './connection.ts';
import type { ConfigProblem } from './servers.ts';

/**
 * Mistakes in the configuration first (a broken .mcp.json must not read as "no servers"), then each
 * server's state, tools, prompts, last error and stderr tail, as `icode mcp list` and `/mcp` show.
 */
export function renderStatus(servers: ServerStatus[], problems: ConfigProblem[] = []): string {
  const errors = problems.map((p) => `MCP configuration error: ${p.at}: ${p.message}\n  fix: ${p.fix}`);
  if (!servers.length)
    return errors.length
      ? errors.join('\n')
      : 'No MCP servers configured (mcpServers in settings, or .mcp.json in the project).';
  const listed = servers.map((s) => {
    const lines = [
      `${s.name} (${s.transport}, ${s.source}): ${s.state}${s.tools.length ? `, ${s.tools.length} tools` : ''}`,
    ];
    if (s.tools.length) lines.push(`  tools: ${s.tools.join(', ')}`);
    if (s.prompts.length)
      lines.push(`  prompts: ${s.prompts.map((p) => `/mcp__${s.name}__${p}`).join(', ')}`);
    if (s.error) lines.push(`  error: ${s.error}`);
    if (s.stderr) lines.push(`  stderr: ${s.stderr.split('\n').join('\n          ')}`);
    return lines.join('\n');
  });
  return [...errors, ...listed].join('\n');
}
