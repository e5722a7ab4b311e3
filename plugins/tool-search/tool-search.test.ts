import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { bootTestKernel } from '../../sdk/testing.ts';
import { builtinPlugins, write } from '../../test/helpers.ts';
import { deferredListing, LISTING_CHARS, selectedNames } from './search.ts';

/** A plugin given by path (as an installed one is not built in) with `count` tools of a long description. */
function manyTools(count: number, name = (i: number) => `many_${i}`): string {
  const dir = mkdtempSync(join(tmpdir(), 'icode-many-tools-'));
  const names = Array.from({ length: count }, (_, i) => name(i));
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

test('at the default budget, ten tools of a few hundred characters each are sent as they are', async () => {
  const h = await bootTestKernel({
    include: ['file-tools', 'tool-search'],
    plugins: [manyTools(10)],
    builtins: builtinPlugins,
  });
  const names = (await h.kernel.tools.definitions()).map((d) => d.name);
  expect(names).toEqual(expect.arrayContaining(['many_0', 'many_9', 'read_file']));
  expect(names).not.toContain('ToolSearch');
  await h.shutdown();
});

test('at the default budget, two hundred tools are deferred, and the listing stays within its size', async () => {
  const h = await bootTestKernel({
    include: ['file-tools', 'tool-search'],
    plugins: [manyTools(200, (i) => `plugin${i}DoesThings`)],
    builtins: builtinPlugins,
  });
  const defs = await h.kernel.tools.definitions();
  expect(defs.map((d) => d.name).sort()).toEqual(['ToolSearch', 'edit_file', 'read_file', 'write_file']);
  const listing = defs
    .find((d) => d.name === 'ToolSearch')!
    .description.split('\n')
    .pop()!;
  expect(listing.length).toBeLessThan(LISTING_CHARS + 120);
  expect(listing).toMatch(/^Deferred tools \(200\): plugin0DoesThings, plugin1DoesThings, /);
  expect(listing).toMatch(/, and \d+ more: find them by keyword/);
  // Not named, still found by keyword and callable.
  const found = await h.callTool('ToolSearch', { query: 'plugin199DoesThings' });
  expect(found.content).toContain('Loaded 1 tool');
  expect((await h.callTool('plugin199DoesThings', { text: 'hi' })).content).toBe(
    'plugin199DoesThings got hi',
  );
  await h.shutdown();
});

test('the deferred listing names every tool while it fits, then writes a family once, then counts the rest', () => {
  expect(deferredListing(['a_x', 'a_y', 'b'])).toBe('Deferred tools (3): a_x, a_y, b');
  const family = (n: number) => Array.from({ length: n }, (_, i) => `mcp__github__tool_${i}`);
  expect(deferredListing([...family(50), 'lint'], 500)).toMatch(
    /^Deferred tools \(51\): mcp__github__\{tool_0,tool_1,.*,tool_49\}, lint \(a\{b,c\} stands for ab and ac\)$/,
  );
  expect(deferredListing([...family(300), 'lint'], 400)).toMatch(
    /^Deferred tools \(301\): mcp__github__\{tool_0,tool_1,.*\}, and \d+ more: find them by keyword/,
  );
  const cut = deferredListing(
    Array.from({ length: 100 }, (_, i) => `tool${i}`),
    100,
  );
  expect(cut).toMatch(/^Deferred tools \(100\): tool0, tool1, .*, and \d+ more: find them by keyword/);
  const named = cut.split(': ')[1]!.split(', and')[0]!.split(', ').length;
  expect(cut).toContain(`and ${100 - named} more`);
});

test('select: takes names as the listing writes them, a{b,c} included', () => {
  expect(selectedNames('mcp__github__{create_issue, list_pulls},lint')).toEqual([
    'mcp__github__create_issue',
    'mcp__github__list_pulls',
    'lint',
  ]);
});
