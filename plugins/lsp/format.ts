import { readFileSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import * as P from 'vscode-languageserver-protocol/node';
import { toPath } from './client.ts';

/** Readable names of the numeric kinds the protocol uses. */
const names = (kinds: Record<string, unknown>) =>
  new Map(Object.entries(kinds).map(([name, value]) => [value as number, name]));
const SYMBOL_KINDS = names(P.SymbolKind);
const COMPLETION_KINDS = names(P.CompletionItemKind);
const SEVERITIES = ['', 'error', 'warning', 'info', 'hint'];

/** Renders locations relative to the workspace root, as `path:line:col` with 1-based numbers. */
export class Renderer {
  private readonly lines = new Map<string, string[] | undefined>();

  constructor(private readonly root: string) {}

  path(file: string): string {
    const rel = relative(this.root, file);
    return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
  }

  /** The text of a line of a file (0-based), trimmed; empty when the file cannot be read. */
  line(file: string, line: number): string {
    if (!this.lines.has(file)) {
      try {
        this.lines.set(file, readFileSync(file, 'utf8').split('\n'));
      } catch {
        this.lines.set(file, undefined);
      }
    }
    return (this.lines.get(file)?.[line] ?? '').trim().slice(0, 200);
  }

  at(uri: string, position: P.Position): string {
    const file = toPath(uri);
    return `${file ? this.path(file) : uri}:${position.line + 1}:${position.character + 1}`;
  }

  locations(result: P.Location | P.Location[] | P.LocationLink[] | null, none: string): string {
    const list = (result === null ? [] : Array.isArray(result) ? result : [result]).map((l) =>
      'targetUri' in l ? { uri: l.targetUri, range: l.targetSelectionRange } : l,
    );
    if (!list.length) return none;
    const shown = list.slice(0, 100).map((l) => {
      const file = toPath(l.uri);
      const text = file ? this.line(file, l.range.start.line) : '';
      return `${this.at(l.uri, l.range.start)}${text ? `: ${text}` : ''}`;
    });
    if (list.length > shown.length) shown.push(`… and ${list.length - shown.length} more`);
    return shown.join('\n');
  }

  diagnostics(file: string, items: P.Diagnostic[]): string {
    return items
      .map((d) => {
        const code = d.code !== undefined ? ` ${d.source ?? ''}${d.source ? ' ' : ''}${d.code}` : '';
        return `${this.path(file)}:${d.range.start.line + 1}:${d.range.start.character + 1} ${SEVERITIES[d.severity ?? 1] ?? 'error'}${code}: ${(typeof d.message === 'string' ? d.message : d.message.value).split('\n').join('\n  ')}`;
      })
      .join('\n');
  }

  symbols(
    result: P.DocumentSymbol[] | P.SymbolInformation[] | P.WorkspaceSymbol[] | null,
    none: string,
  ): string {
    if (!result?.length) return none;
    const out: string[] = [];
    const walk = (symbols: P.DocumentSymbol[], depth: number) => {
      for (const s of symbols) {
        out.push(
          `${'  '.repeat(depth)}${SYMBOL_KINDS.get(s.kind) ?? 'Symbol'} ${s.name}${s.detail ? ` ${s.detail}` : ''} (line ${s.selectionRange.start.line + 1})`,
        );
        walk(s.children ?? [], depth + 1);
      }
    };
    if ('selectionRange' in result[0]!) walk(result as P.DocumentSymbol[], 0);
    else
      for (const s of (result as Array<P.SymbolInformation | P.WorkspaceSymbol>).slice(0, 200)) {
        const where =
          'range' in s.location ? this.at(s.location.uri, s.location.range.start) : s.location.uri;
        out.push(
          `${SYMBOL_KINDS.get(s.kind) ?? 'Symbol'} ${s.name}${s.containerName ? ` (in ${s.containerName})` : ''} ${where}`,
        );
      }
    return out.join('\n');
  }
}

export function hoverText(hover: P.Hover | null): string {
  if (!hover) return 'No hover information at this position.';
  const part = (c: P.MarkedString | P.MarkupContent): string =>
    typeof c === 'string' ? c : 'kind' in c ? c.value : `\`\`\`${c.language}\n${c.value}\n\`\`\``;
  const contents = Array.isArray(hover.contents) ? hover.contents.map(part) : [part(hover.contents)];
  return contents.join('\n\n').trim() || 'No hover information at this position.';
}

export function completionText(result: P.CompletionItem[] | P.CompletionList | null, limit = 50): string {
  const items = (Array.isArray(result) ? result : (result?.items ?? []))
    .slice()
    .sort((a, b) => (a.sortText ?? a.label).localeCompare(b.sortText ?? b.label));
  if (!items.length) return 'No completions at this position.';
  const shown = items.slice(0, limit).map((i) => {
    const kind = i.kind ? COMPLETION_KINDS.get(i.kind) : undefined;
    const detail = i.detail ?? i.labelDetails?.detail ?? i.labelDetails?.description;
    return `${i.label}${kind ? ` (${kind})` : ''}${detail ? ` — ${detail.split('\n')[0]}` : ''}`;
  });
  if (items.length > limit) shown.push(`… and ${items.length - limit} more`);
  return shown.join('\n');
}
