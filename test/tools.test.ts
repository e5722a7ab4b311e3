import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { bootTestKernel } from '../sdk/testing.ts';
import { boot, makeWorld, writePlugin } from './helpers.ts';

const probe = join(import.meta.dirname, 'fixtures', 'probe-tools');

describe('the tool call contract', () => {
  test('input that does not match the schema becomes an is_error result saying what to fix', async () => {
    const w = makeWorld();
    const { kernel } = await boot(w, { plugins: ['file-tools'] });
    const r = await kernel.callTool({ id: 'toolu_1', name: 'read_file', input: { path: 42, limit: -1 } });
    expect(r).toMatchObject({ toolUseId: 'toolu_1', toolName: 'read_file', isError: true });
    expect(r.content).toContain('Invalid input for read_file');
    expect(r.content).toContain('path');
    expect(r.content).toContain('limit');
  });

  test('a tool that throws becomes an is_error result, never an exception', async () => {
    const w = makeWorld();
    const { kernel } = await boot(w, { plugins: ['file-tools'] });
    const r = await kernel.callTool({ id: 'toolu_2', name: 'read_file', input: { path: 'missing.txt' } });
    expect(r.isError).toBe(true);
    expect(r.content).toBe('Error: missing.txt does not exist');
  });

  test('an unknown tool is an is_error result listing the tools there are', async () => {
    const w = makeWorld();
    const { kernel } = await boot(w, { plugins: ['file-tools'] });
    const r = await kernel.callTool({ id: 'toolu_3', name: 'teleport', input: {} });
    expect(r).toMatchObject({
      isError: true,
      content: 'Unknown tool "teleport". Available tools: read_file, write_file, edit_file',
    });
  });

  test('a second plugin registering a taken tool name is failed with ICODE_ERR_DUPLICATE_NAME', async () => {
    const w = makeWorld();
    const copycat = writePlugin(w, {
      name: 'copycat',
      contributes: { tools: [{ name: 'read_file' }] },
      code: `export default { activate(ctx) { ctx.tools.register({ name: 'read_file', description: '', input: {}, mode: 'read-only', execute: () => '' }); } };`,
    });
    const { status, kernel } = await boot(w, { plugins: ['file-tools', { name: 'copycat', path: copycat }] });
    expect(status('copycat')).toMatchObject({ state: 'failed', code: 'ICODE_ERR_DUPLICATE_NAME' });
    expect(status('copycat').reason).toContain('already registered by plugin "file-tools"');
    expect(kernel.tools.owner('read_file')).toBe('file-tools');
  });

  test('tool definitions carry the JSON Schema generated from the zod input', async () => {
    const w = makeWorld();
    const { kernel } = await boot(w, { plugins: ['file-tools'] });
    const defs = await kernel.tools.definitions();
    const read = defs.find((d) => d.name === 'read_file')!;
    expect(read.input_schema).toMatchObject({
      type: 'object',
      properties: { path: { type: 'string' }, offset: { type: 'integer', minimum: 1 } },
      required: ['path'],
    });
    expect(read.input_schema).not.toHaveProperty('$schema');
  });

  test('config can switch off one tool of a plugin', async () => {
    const w = makeWorld();
    const { kernel } = await boot(w, {
      plugins: ['file-tools', { name: 'probe-tools', path: probe }],
      config: { plugins: { 'file-tools': { tools: { edit_file: false } } } },
    });
    expect((await kernel.tools.definitions()).map((d) => d.name)).not.toContain('edit_file');
    const r = await kernel.callTool({
      id: 't',
      name: 'edit_file',
      input: { path: 'a', old_string: '', new_string: 'x' },
    });
    expect(r.content).toContain('switched off in config');
  });

  test('a beforeToolCall tap can answer a call in place of the tool', async () => {
    const w = makeWorld();
    const cache = writePlugin(w, {
      name: 'cache',
      contributes: { hooks: ['beforeToolCall'] },
      code: `export default { activate(ctx) { ctx.hooks.beforeToolCall.tap((call) => ({ toolUseId: call.id, toolName: call.name, content: 'cached', isError: false })); } };`,
    });
    const { kernel } = await boot(w, { plugins: ['file-tools', { name: 'cache', path: cache }] });
    const r = await kernel.callTool({ id: 't', name: 'read_file', input: { path: 'nope' } });
    expect(r.content).toBe('cached');
  });
});

describe('services', () => {
  test('a service of a lazy plugin activates it on first request; a missing one is a clear error', async () => {
    const w = makeWorld();
    const provider = writePlugin(w, {
      name: 'clock',
      activation: 'lazy',
      contributes: { services: ['clock'] },
      code: `export default { activate(ctx) { ctx.services.provide('clock', { now: () => 42 }); } };`,
    });
    const { kernel, status } = await boot(w, { plugins: [{ name: 'clock', path: provider }] });
    expect(status('clock').activated).toBe(false);
    const clock = (await kernel.services.get('clock')) as { now(): number };
    expect(clock.now()).toBe(42);
    await expect(kernel.services.get('model')).rejects.toMatchObject({ code: 'ICODE_ERR_SERVICE_MISSING' });
  });
});

describe('slash commands', () => {
  test('a lazy plugin command loads on first run; a switched-off or failing command answers with an error', async () => {
    const w = makeWorld();
    const greet = writePlugin(w, {
      name: 'greet',
      activation: 'lazy',
      contributes: {
        commands: [{ name: 'hello', description: 'Say hello' }, { name: 'fail' }, { name: 'off' }],
      },
      code: `export default { activate(ctx) {
        ctx.commands.register({ name: 'hello', description: 'Say hello', run: (args) => 'hello ' + (args || 'world') });
        ctx.commands.register({ name: 'fail', description: '', run: () => { throw new Error('no network'); } });
        ctx.commands.register({ name: 'off', description: '', run: () => 'should not run' });
      } };`,
    });
    const { kernel, status } = await boot(w, {
      plugins: [{ name: 'greet', path: greet }],
      config: { plugins: { greet: { commands: { off: false } } } },
    });
    expect(kernel.commands.list()).toEqual([
      { name: 'hello', owner: 'greet', description: 'Say hello' },
      { name: 'fail', owner: 'greet', description: '' },
    ]);
    expect(status('greet').activated).toBe(false);
    expect(await kernel.commands.run('hello', 'icode', { cwd: w.project })).toEqual({
      output: 'hello icode',
      isError: false,
    });
    expect(await kernel.commands.run('fail', '', { cwd: w.project })).toEqual({
      output: '/fail failed: no network',
      isError: true,
    });
    const off = await kernel.commands.run('off', '', { cwd: w.project });
    expect(off).toEqual({ output: 'Unknown command /off. Commands: /hello, /fail', isError: true });
  });
});

describe('command tools: plugins in any language', () => {
  const shellTools = join(import.meta.dirname, 'fixtures', 'shell-tools');

  test('a plugin with no code declares tools that run an executable with the input as JSON on stdin', async () => {
    const h = await bootTestKernel({
      plugins: [shellTools],
      mode: 'workspace-write',
      env: { ANTHROPIC_API_KEY: 'sk-secret' },
    });
    expect(h.report.plugins[0]).toMatchObject({ name: 'shell-tools', state: 'active' });
    const defs = await h.kernel.tools.definitions();
    expect(defs.find((d) => d.name === 'shout_sh')?.input_schema).toMatchObject({ required: ['text'] });
    expect((await h.callTool('shout_sh', { text: 'hello' })).content).toBe('{"TEXT":"HELLO"}');
    const where = await h.callTool('where_sh', {});
    expect(where.content).toBe(`cwd=shell-tools project=${h.project} key=[]`);
  });

  test('a failing or slow command is an is_error result; its mode goes through the gate', async () => {
    const h = await bootTestKernel({ plugins: [shellTools], mode: 'read-only' });
    expect(await h.callTool('fail_sh', {})).toMatchObject({
      isError: true,
      content: 'Error: ./fail.sh exited 3: nothing works',
    });
    expect((await h.callTool('slow_sh', {})).content).toContain('timed out after 0.3 s');
    // where_sh declares no permission: workspace-write, refused in read-only mode.
    expect((await h.callTool('where_sh', {})).content).toContain('requires workspace-write');
  });
});

describe("the gate judges where a tool's declared path leads, not how it is written", () => {
  // A third-party tool that declares its path as given (relative, or through a symlink) rather than resolved.
  const rawCat = (w: ReturnType<typeof makeWorld>) =>
    writePlugin(w, {
      name: 'raw-cat',
      contributes: { tools: [{ name: 'raw_cat' }] },
      code: `import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
export default { activate(ctx) { ctx.tools.register({
  name: 'raw_cat', description: 'cat', mode: 'read-only',
  input: { safeParse: (v) => ({ success: true, data: v }) },
  subjects: ({ path }) => ({ kind: 'path', values: [path] }),
  execute: ({ path }, t) => readFileSync(resolve(t.cwd, path), 'utf8'),
}); } };`,
    });

  test('a relative path inside the workspace is inside; one through a symlink out of it is outside', async () => {
    const { mkdirSync, symlinkSync, writeFileSync } = await import('node:fs');
    const w = makeWorld();
    writeFileSync(join(w.project, 'a.txt'), 'inside');
    const outside = join(w.root, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret.txt'), 'hunter2');
    symlinkSync(outside, join(w.project, 'link'));
    const { kernel } = await boot(w, { plugins: [{ name: 'raw-cat', path: rawCat(w) }] });
    const call = (path: string) => kernel.callTool({ id: `t_${path}`, name: 'raw_cat', input: { path } });
    expect(await call('a.txt')).toMatchObject({ isError: false, content: 'inside' });
    for (const path of ['link/secret.txt', join(w.project, 'link', 'secret.txt')]) {
      const r = await call(path);
      expect(r.isError).toBe(true);
      expect(r.content).toContain(`${join(outside, 'secret.txt')} is outside the workspace`);
      expect(r.content).not.toContain('hunter2');
    }
  });
});
