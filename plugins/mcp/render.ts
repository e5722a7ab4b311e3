import type { ServerStatus } from './connection.ts';

/** Each server's state, tools, prompts, last error and stderr tail, as `icode mcp list` and `/mcp` show. */
export function renderStatus(servers: ServerStatus[]): string {
  if (!servers.length)
    return 'No MCP servers configured (mcpServers in settings, or .mcp.json in the project).';
  return servers
    .map((s) => {
      const lines = [
        `${s.name} (${s.transport}, ${s.source}): ${s.state}${s.tools.length ? `, ${s.tools.length} tools` : ''}`,
      ];
      if (s.tools.length) lines.push(`  tools: ${s.tools.join(', ')}`);
      if (s.prompts.length)
        lines.push(`  prompts: ${s.prompts.map((p) => `/mcp__${s.name}__${p}`).join(', ')}`);
      if (s.error) lines.push(`  error: ${s.error}`);
      if (s.stderr) lines.push(`  stderr: ${s.stderr.split('\n').join('\n          ')}`);
      return lines.join('\n');
    })
    .join('\n');
}
