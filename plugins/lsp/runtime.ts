import { pathToFileURL } from 'node:url';
import * as P from 'vscode-languageserver-protocol/node';
import type * as z from 'zod';
import { isInside } from '../../sdk/index.ts';
import { type LanguageServer, toPath } from './client.ts';
import { completionText, hoverText, type Renderer } from './format.ts';
import type { Input } from './index.ts';

// What needs the protocol library; index.ts loads this module with the first request, not at boot.
export { LanguageServer } from './client.ts';
export { Renderer } from './format.ts';

/** Answers one LSP tool call on a server (started if need be). */
export async function answer(
  server: LanguageServer,
  input: z.output<typeof Input>,
  file: string,
  render: Renderer,
  roots: readonly string[],
  waitMs: number,
): Promise<string> {
  const position = (): P.Position => {
    if (input.line === undefined || input.character === undefined)
      throw new Error(`${input.action} needs line and character (1-based)`);
    return { line: input.line - 1, character: input.character - 1 };
  };
  const doc = () => ({ uri: pathToFileURL(file).href });
  if (input.action === 'diagnostics') {
    const items = await server.diagnostics(file, waitMs);
    if (items === undefined)
      return `${server.spec.name} published no diagnostics for ${render.path(file)} within ${waitMs} ms`;
    return items.length ? render.diagnostics(file, items) : `No diagnostics in ${render.path(file)}.`;
  }
  await server.sync(file);
  const at = () => ({ textDocument: doc(), position: position() });
  switch (input.action) {
    case 'hover':
      return hoverText(await server.request(P.HoverRequest.type, at()));
    case 'definition':
      return render.locations(await server.request(P.DefinitionRequest.type, at()), 'No definition found.');
    case 'references':
      return render.locations(
        await server.request(P.ReferencesRequest.type, {
          ...at(),
          context: { includeDeclaration: true },
        }),
        'No references found.',
      );
    case 'completion':
      return completionText(await server.request(P.CompletionRequest.type, at()));
    case 'symbols':
      return render.symbols(
        await server.request(P.DocumentSymbolRequest.type, { textDocument: doc() }),
        `No symbols in ${render.path(file)}.`,
      );
    default: {
      if (!input.query) throw new Error('workspace_symbols needs a query');
      const found = await server.request(P.WorkspaceSymbolRequest.type, { query: input.query });
      // Only what is inside the workspace (servers also index libraries).
      const inside = (found ?? []).filter((s) => {
        const path = toPath(s.location.uri);
        return path !== undefined && roots.some((r) => isInside(path, r));
      });
      return render.symbols(inside as P.SymbolInformation[], `No symbols matching "${input.query}".`);
    }
  }
}

/** The text appended to an edit's result: the errors the change introduced, or undefined when none. */
export function editNote(
  server: LanguageServer,
  file: string,
  before: P.Diagnostic[] | undefined,
  items: P.Diagnostic[],
  render: Renderer,
  max: number,
): string | undefined {
  const errors = items.filter((d) => (d.severity ?? 1) === P.DiagnosticSeverity.Error);
  const fresh = before ? newOnes(errors, before) : errors;
  if (!fresh.length) return undefined;
  const shown = fresh.slice(0, max);
  const more = fresh.length - shown.length;
  return `${server.spec.name} reports ${before ? 'new ' : ''}error${fresh.length === 1 ? '' : 's'} in ${render.path(file)} after this change:\n${render.diagnostics(file, shown)}${more ? `\n… and ${more} more (LSP diagnostics shows all)` : ''}`;
}

/** The errors in `after` that were not in `before` (same message and code; lines move as text is edited). */
function newOnes(after: P.Diagnostic[], before: P.Diagnostic[]): P.Diagnostic[] {
  const key = (d: P.Diagnostic) => `${d.code ?? ''}\0${JSON.stringify(d.message)}`;
  const seen = new Map<string, number>();
  for (const d of before) seen.set(key(d), (seen.get(key(d)) ?? 0) + 1);
  return after.filter((d) => {
    const left = seen.get(key(d)) ?? 0;
    if (left) seen.set(key(d), left - 1);
    return !left;
  });
}
