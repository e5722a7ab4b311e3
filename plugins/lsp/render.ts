import type { ServerState } from './client.ts';

/** A language server as `icode doctor` and `/lsp` show it. */
export interface LspServerStatus {
  name: string;
  extensions: string[];
  /** not-installed: its binary is not on PATH (the fix is `install`). */
  state: ServerState | 'not-installed';
  command: string;
  install: string;
  pid?: number;
  restarts: number;
  error?: string;
}

/** Each server's state, languages, process and last error, as `icode doctor` and `/lsp` show them. */
export function renderLspStatus(list: LspServerStatus[]): string {
  return list
    .map((s) => {
      const head = `${s.name} (.${s.extensions.join(' .')}): ${s.state}${s.pid ? ` pid ${s.pid}` : ''}${s.restarts ? `, ${s.restarts} restart${s.restarts === 1 ? '' : 's'}` : ''}`;
      if (s.state === 'not-installed') return `${head} — install: ${s.install}`;
      return `${head}\n  ${s.command}${s.error ? `\n  last error: ${s.error}` : ''}`;
    })
    .join('\n');
}
