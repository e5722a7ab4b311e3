import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { bootTestKernel } from '../../sdk/testing.ts';
import { hasNbformat } from '../../test/programs.ts';
import { builtinPlugins } from '../index.ts';

const NOTEBOOK = {
  cells: [
    { cell_type: 'markdown', id: 'intro', metadata: {}, source: ['# Sales\n', 'Monthly totals.'] },
    {
      cell_type: 'code',
      id: 'load',
      metadata: { tags: ['setup'] },
      execution_count: 3,
      source: ['total = sum([1, 2, 3])\n', 'print(total)'],
      outputs: [
        { output_type: 'stream', name: 'stdout', text: ['6\n'] },
        {
          output_type: 'execute_result',
          execution_count: 3,
          metadata: {},
          data: { 'text/plain': ['6'], 'image/png': 'iVBOR' },
        },
      ],
    },
  ],
  metadata: {
    kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' },
    custom: { keep: true },
  },
  nbformat: 4,
  nbformat_minor: 5,
};

// The reference validator: nbformat itself (Python). .ci/run installs it.
const validate = (file: string) =>
  execFileSync(
    'python3',
    [
      '-c',
      'import nbformat, sys; nbformat.validate(nbformat.read(sys.argv[1], as_version=4)); print("valid")',
      file,
    ],
    {
      encoding: 'utf8',
    },
  ).trim();

const nbformat = hasNbformat('the notebook tests (nbformat, the reference validator)');

test.skipIf(!nbformat)(
  'read_file shows a notebook cell by cell; NotebookEdit replaces, inserts and deletes cells and keeps valid nbformat',
  async () => {
    const h = await bootTestKernel({
      include: ['workspace-guard', 'file-tools', 'notebook'],
      builtins: builtinPlugins,
      mode: 'workspace-write',
      files: { 'sales.ipynb': JSON.stringify(NOTEBOOK, null, 1) },
    });
    const file = join(h.project, 'sales.ipynb');
    expect(validate(file)).toBe('valid');
    const shown = (await h.callTool('read_file', { path: 'sales.ipynb' })).content;
    expect(shown).toBe(
      'Jupyter notebook, 2 cells, python\n\n[cell intro] markdown\n# Sales\nMonthly totals.\n\n[cell load] code (execution 3)\ntotal = sum([1, 2, 3])\nprint(total)\n[output stdout]\n6\n\n[output]\n6\n[output: image/png not shown]',
    );

    const edit = (input: Record<string, unknown>) =>
      h.callTool('NotebookEdit', { notebook_path: 'sales.ipynb', ...input });
    expect(
      (await edit({ cell_id: 'load', new_source: 'total = sum([1, 2, 3, 4])\nprint(total)' })).content,
    ).toBe('Replaced cell load in sales.ipynb (2 cells).');
    const inserted = await edit({
      edit_mode: 'insert',
      cell_id: 'load',
      cell_type: 'markdown',
      new_source: 'Done.',
    });
    expect(inserted.content).toMatch(
      /^Inserted markdown cell [0-9a-f]{8} at position 3 in sales\.ipynb \(3 cells\)\.$/,
    );
    expect((await edit({ edit_mode: 'delete', cell_id: 'intro' })).content).toBe(
      'Deleted cell intro in sales.ipynb (2 cells).',
    );
    expect(validate(file)).toBe('valid');
    const after = JSON.parse(readFileSync(file, 'utf8'));
    expect(after.metadata).toEqual(NOTEBOOK.metadata);
    expect(after.cells[0]).toMatchObject({
      id: 'load',
      metadata: { tags: ['setup'] },
      source: ['total = sum([1, 2, 3, 4])\n', 'print(total)'],
      outputs: [],
      execution_count: null,
    });
    expect(after.cells[1]).toMatchObject({ cell_type: 'markdown', source: ['Done.'] });

    const missing = await edit({ cell_id: 'nope', new_source: 'x' });
    expect(missing.isError).toBe(true);
    expect(missing.content).toContain('no cell "nope"; cells: load,');
    await h.shutdown();
  },
);

test('a file that is not a notebook is refused and left alone', async () => {
  const h = await bootTestKernel({
    include: ['workspace-guard', 'file-tools', 'notebook'],
    builtins: builtinPlugins,
    mode: 'workspace-write',
    files: { 'broken.ipynb': '{ "cells": [' },
  });
  const r = await h.callTool('NotebookEdit', {
    notebook_path: 'broken.ipynb',
    cell_id: 'a',
    new_source: 'x',
  });
  expect(r.isError).toBe(true);
  expect(r.content).toContain('broken.ipynb is not valid JSON');
  expect(readFileSync(join(h.project, 'broken.ipynb'), 'utf8')).toBe('{ "cells": [');
  await h.shutdown();
});
