import * as z from 'zod';
import {
  approvedTarget,
  checkedTarget,
  definePlugin,
  defineTool,
  findCell,
  newCell,
  parseNotebook,
  readText,
  replaceCell,
  serializeNotebook,
  statTarget,
  writeAtomic,
} from '../../sdk/index.ts';

export default definePlugin({
  config: z.strictObject({}),
  activate(ctx) {
    ctx.tools.register(
      defineTool({
        name: 'NotebookEdit',
        coveredBy: ['Edit'],
        description:
          'Edit a Jupyter notebook (.ipynb) cell by its id (read_file shows each cell with its id): replace its source, insert a new cell after it (or first, without cell_id), or delete it. The notebook stays valid nbformat with its metadata; a replaced code cell loses its stale outputs.',
        input: z.object({
          notebook_path: z.string().min(1).describe('The .ipynb file'),
          cell_id: z.string().optional().describe('The cell to edit (insert: the cell to insert after)'),
          new_source: z.string().default('').describe('The cell source (replace, insert)'),
          cell_type: z.enum(['code', 'markdown']).optional().describe('Type of the new or replaced cell'),
          edit_mode: z.enum(['replace', 'insert', 'delete']).default('replace'),
        }),
        mode: 'workspace-write',
        subjects: async ({ notebook_path }, tctx) => ({
          kind: 'path',
          values: [await checkedTarget(notebook_path, tctx.cwd)],
        }),
        async execute({ notebook_path, cell_id, new_source, cell_type, edit_mode }, tctx) {
          if (!notebook_path.endsWith('.ipynb')) throw new Error(`${notebook_path} is not a .ipynb notebook`);
          const file = approvedTarget(notebook_path, tctx.cwd, tctx.judged);
          const info = await statTarget(file, notebook_path);
          if (!info) throw new Error(`${notebook_path} does not exist (create it with write_file first)`);
          const nb = parseNotebook(await readText(file, notebook_path, info), notebook_path);
          let said: string;
          if (edit_mode === 'insert') {
            const at = cell_id === undefined ? 0 : findCell(nb, cell_id) + 1;
            const cell = newCell(nb, cell_type ?? 'code', new_source);
            nb.cells.splice(at, 0, cell);
            said = `Inserted ${cell.cell_type} cell ${cell.id ?? `cell-${at}`} at position ${at + 1}`;
          } else {
            if (cell_id === undefined) throw new Error(`${edit_mode} needs cell_id`);
            const i = findCell(nb, cell_id);
            if (edit_mode === 'delete') {
              nb.cells.splice(i, 1);
              said = `Deleted cell ${cell_id}`;
            } else {
              replaceCell(nb, i, new_source, cell_type);
              said = `Replaced cell ${cell_id}`;
            }
          }
          await writeAtomic(file, notebook_path, serializeNotebook(nb));
          return `${said} in ${notebook_path} (${nb.cells.length} cells).`;
        },
      }),
    );
  },
});
