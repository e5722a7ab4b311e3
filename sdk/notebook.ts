import { randomBytes } from 'node:crypto';

/** The parts of an nbformat 4 notebook icode reads and edits; everything else is kept as it was. */
export interface Cell {
  cell_type: 'code' | 'markdown' | 'raw';
  id?: string;
  source: string | string[];
  metadata: Record<string, unknown>;
  outputs?: Array<Record<string, unknown>>;
  execution_count?: number | null;
  [key: string]: unknown;
}
export interface Notebook {
  cells: Cell[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
  [key: string]: unknown;
}

export function parseNotebook(text: string, shown: string): Notebook {
  let nb: Notebook;
  try {
    nb = JSON.parse(text) as Notebook;
  } catch (error) {
    throw new Error(`${shown} is not valid JSON: ${error instanceof Error ? error.message : error}`);
  }
  if (!nb || !Array.isArray(nb.cells) || typeof nb.nbformat !== 'number')
    throw new Error(`${shown} is not a Jupyter notebook (no cells or nbformat)`);
  if (nb.nbformat !== 4) throw new Error(`${shown} is nbformat ${nb.nbformat}; only nbformat 4 is supported`);
  return nb;
}

const joined = (s: string | string[] | undefined) => (Array.isArray(s) ? s.join('') : (s ?? ''));
/** nbformat stores source as lines, each keeping its newline. */
const lines = (text: string) => text.split(/(?<=\n)/);

/** A cell's id, or `cell-N` (its 0-based index) for notebooks from before cell ids. */
export const cellId = (cell: Cell, index: number) => cell.id ?? `cell-${index}`;

export function findCell(nb: Notebook, id: string): number {
  const i = nb.cells.findIndex((c, n) => cellId(c, n) === id);
  if (i === -1)
    throw new Error(`no cell "${id}"; cells: ${nb.cells.map((c, n) => cellId(c, n)).join(', ') || 'none'}`);
  return i;
}

export function newCell(nb: Notebook, type: 'code' | 'markdown', source: string): Cell {
  const cell: Cell =
    type === 'code'
      ? { cell_type: 'code', metadata: {}, source: lines(source), outputs: [], execution_count: null }
      : { cell_type: 'markdown', metadata: {}, source: lines(source) };
  // Cell ids exist from nbformat 4.5 on; a notebook without them stays without.
  if (nb.nbformat_minor >= 5) cell.id = randomBytes(4).toString('hex');
  return { ...(cell.id ? { id: cell.id } : {}), ...cell };
}

/** Replaces a cell's source (and type); a code cell's outputs are cleared, as they no longer match. */
export function replaceCell(nb: Notebook, index: number, source: string, type?: 'code' | 'markdown'): void {
  const old = nb.cells[index]!;
  const to =
    type ?? (old.cell_type === 'code' ? 'code' : old.cell_type === 'markdown' ? 'markdown' : undefined);
  if (to && to !== old.cell_type) {
    const fresh = newCell(nb, to, source);
    nb.cells[index] = { ...fresh, ...(old.id ? { id: old.id } : {}), metadata: old.metadata };
    return;
  }
  old.source = lines(source);
  if (old.cell_type === 'code') {
    old.outputs = [];
    old.execution_count = null;
  }
}

/** The notebook as text for the model: each cell with its id and type, its source and its outputs. */
export function renderNotebook(nb: Notebook): string {
  const language = String(
    (nb.metadata.kernelspec as { language?: string } | undefined)?.language ??
      (nb.metadata.language_info as { name?: string } | undefined)?.name ??
      '',
  );
  const out = [`Jupyter notebook, ${nb.cells.length} cells${language ? `, ${language}` : ''}`];
  nb.cells.forEach((cell, i) => {
    out.push(
      '',
      `[cell ${cellId(cell, i)}] ${cell.cell_type}${cell.execution_count ? ` (execution ${cell.execution_count})` : ''}`,
      joined(cell.source),
    );
    for (const o of cell.outputs ?? []) {
      const data = o.data as Record<string, unknown> | undefined;
      if (o.output_type === 'stream') out.push(`[output ${String(o.name)}]`, joined(o.text as string[]));
      else if (o.output_type === 'error') out.push(`[error] ${String(o.ename)}: ${String(o.evalue)}`);
      else if (data) {
        const text = data['text/plain'];
        const images = Object.keys(data).filter((k) => k.startsWith('image/'));
        if (text !== undefined) out.push(`[output]`, joined(text as string[]));
        if (images.length) out.push(`[output: ${images.join(', ')} not shown]`);
      }
    }
  });
  return out.join('\n');
}

/** Jupyter's own layout: one-space indentation and a final newline. */
export const serializeNotebook = (nb: Notebook) => `${JSON.stringify(nb, null, 1)}\n`;
