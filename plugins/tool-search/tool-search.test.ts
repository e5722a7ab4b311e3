import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { bootTestKernel } from '../../sdk/testing.ts';
import { write } from '../../test/helpers.ts';
import { builtinPlugins } from '../index.ts';

/** A plugin given by path (as an installed one is not built in) with `count` tools of a long description. */
function manyTools(count: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'icode-many-tools-'));
  const names = Array.from({ length: count }, (_, i) => `many_${i}`);
  write(join(dir, 'plugin.json'), {
    name: 'many',
    version: '1.0.0',
    main: 'index.mjs',
    engines: { icode: '^0.1.0' },
    contributes: { tools: names.map((name) => ({ name, mode: 'read-only' })) },
  });
  write(
    join(dir, 'index.mjs'),
    `export default { activate(ctx) {
  for (const name of ${JSON.stringify(names)})
    ctx.tools.register({
      name,
      description: name + ' does one of many things: ' + 'a long explanation of it. '.repeat(20),
      input: { safeParse: (data) => ({ success: true, data }) },
      inputSchema: { type: 'object', properties: { text: { type: 'string' } } },
      mode: 'read-only',
      execute: ({ text }) => name + ' got ' + text,
    });
} };
`,
  );
  return dir;
}

test("an installed plugin's tools beyond the budget are sent by name only; ToolSearch loads them; built-in tools are always sent", async () => {
  const h = await bootTestKernel({
    include: ['file-tools', 'tool-search'],
    plugins: [manyTools(40)],
    builtins: builtinPlugins,
    settings: { plugins: { 'tool-search': { config: { budgetTokens: 500 } } } },
  });
  let names = (await h.kernel.tools.definitions()).map((d) => d.name);
  expect(names).toEqual(expect.arrayContaining(['read_file', 'write_file', 'ToolSearch']));
  expect(names.some((n) => n.startsWith('many_'))).toBe(false);
  const search = (await h.kernel.tools.definitions()).find((d) => d.name === 'ToolSearch')!;
  expect(search.description).toContain('Deferred tools (40)');
  const loaded = await h.callTool('ToolSearch', { query: 'select:many_7' });
  expect(loaded.content).toContain('many_7');
  names = (await h.kernel.tools.definitions()).map((d) => d.name);
  expect(names).toContain('many_7');
  expect(names).not.toContain('many_8');
  // A deferred tool can be called all the same; deferring only keeps its schema out of the request.
  expect((await h.callTool('many_8', { text: 'hi' })).content).toBe('many_8 got hi');
  await h.shutdown();
});

test('under the budget every tool is sent and ToolSearch is not', async () => {
  const h = await bootTestKernel({
    include: ['file-tools', 'tool-search'],
    plugins: [manyTools(2)],
    builtins: builtinPlugins,
  });
  const names = (await h.kernel.tools.definitions()).map((d) => d.name);
  expect(names).toEqual(expect.arrayContaining(['many_0', 'many_1', 'read_file']));
  expect(names).not.toContain('ToolSearch');
  await h.shutdown();
});
