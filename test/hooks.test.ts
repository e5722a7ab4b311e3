import { join } from 'node:path';
import { AsyncSeriesBailHook, AsyncSeriesHook, AsyncSeriesWaterfallHook, SyncHook } from 'tapable';
import { describe, expect, test } from 'vitest';
import { createHooks, HOOK_INFO, HOOK_NAMES } from '../kernel/index.ts';
import { boot, makeWorld, write, writePlugin } from './helpers.ts';

const KIND_CONSTRUCTORS = {
  sync: SyncHook,
  series: AsyncSeriesHook,
  bail: AsyncSeriesBailHook,
  waterfall: AsyncSeriesWaterfallHook,
};

describe('kernel hooks', () => {
  test('every hook is declared once with the kind the facade assumes', () => {
    const hooks = createHooks();
    expect(Object.isFrozen(hooks)).toBe(true);
    expect(Object.keys(hooks).sort()).toEqual([...HOOK_NAMES].sort());
    for (const name of HOOK_NAMES) {
      expect((hooks[name] as unknown as { constructor: unknown }).constructor, name).toBe(
        KIND_CONSTRUCTORS[HOOK_INFO[name].kind],
      );
    }
  });

  test('a tap that throws is attributed, recorded as degraded, and the waterfall goes on with the value', async () => {
    const w = makeWorld();
    const hooks = { hooks: ['afterToolCall'] };
    const thrower = writePlugin(w, {
      name: 'thrower',
      contributes: hooks,
      code: `export default { activate(ctx) { ctx.hooks.afterToolCall.tap(() => { throw new Error('oops'); }); } };`,
    });
    const marker = writePlugin(w, {
      name: 'marker',
      contributes: hooks,
      code: `export default { activate(ctx) { ctx.hooks.afterToolCall.tap((r) => ({ ...r, content: r.content + ' [seen]' })); } };`,
    });
    const lines: string[] = [];
    write(join(w.project, 'a.txt'), 'hello\n');
    const { kernel } = await boot(w, {
      plugins: [{ name: 'thrower', path: thrower }, { name: 'marker', path: marker }, 'file-tools'],
      log: (l) => lines.push(l),
    });
    const result = await kernel.callTool({ id: 't1', name: 'read_file', input: { path: 'a.txt' } });
    expect(result.isError).toBe(false);
    expect(result.content).toBe('     1\thello [seen]');
    const thrown = kernel.host.statuses().find((p) => p.name === 'thrower')!;
    expect(thrown).toMatchObject({
      state: 'degraded',
      reason: 'plugin "thrower" failed in hook afterToolCall: oops',
    });
    expect(lines).toContain('[error] thrower: plugin "thrower" failed in hook afterToolCall: oops');
  });

  test('a permission tap that throws fails closed: the call is denied', async () => {
    const w = makeWorld();
    const evil = writePlugin(w, {
      name: 'flaky-guard',
      contributes: { hooks: ['permissionRequest'] },
      code: `export default { activate(ctx) { ctx.hooks.permissionRequest.tap(() => { throw new Error('guard crashed'); }); } };`,
    });
    write(join(w.project, 'a.txt'), 'hello\n');
    const { kernel } = await boot(w, { plugins: [{ name: 'flaky-guard', path: evil }, 'file-tools'] });
    const result = await kernel.callTool({ id: 't1', name: 'read_file', input: { path: 'a.txt' } });
    expect(result.isError).toBe(true);
    expect(result.content).toContain('plugin "flaky-guard" failed in hook permissionRequest: guard crashed');
  });

  test('tapping a hook the manifest does not declare fails the plugin', async () => {
    const w = makeWorld();
    const p = writePlugin(w, {
      name: 'undeclared',
      code: 'export default { activate(ctx) { ctx.hooks.ready.tap(() => {}); } };',
    });
    const { status } = await boot(w, { plugins: [{ name: 'undeclared', path: p }] });
    expect(status('undeclared')).toMatchObject({
      state: 'failed',
      code: 'ICODE_ERR_UNDECLARED_CONTRIBUTION',
    });
  });

  test('the facade can tap but not call, and taps are named after the plugin', async () => {
    const w = makeWorld();
    const p = writePlugin(w, {
      name: 'peek',
      contributes: { hooks: ['ready'] },
      code: `export default { activate(ctx) {
        if ('promise' in ctx.hooks.ready || 'call' in ctx.hooks.ready) throw new Error('facade exposes call');
        ctx.hooks.ready.tap(() => {});
      } };`,
    });
    const { kernel, status } = await boot(w, { plugins: [{ name: 'peek', path: p }] });
    expect(status('peek').state).toBe('active');
    expect(kernel.hooks.ready.taps.map((t) => t.name)).toEqual(['peek']);
  });

  test('a plugin can switch off one of its hooks by config', async () => {
    const w = makeWorld();
    const p = writePlugin(w, {
      name: 'tagger',
      contributes: { hooks: ['afterToolCall'] },
      code: `export default { activate(ctx) { ctx.hooks.afterToolCall.tap((r) => ({ ...r, content: 'tagged' })); } };`,
    });
    write(join(w.project, 'a.txt'), 'x');
    const { kernel } = await boot(w, {
      plugins: [{ name: 'tagger', path: p }, 'file-tools'],
      config: { plugins: { tagger: { hooks: { afterToolCall: false } } } },
    });
    const result = await kernel.callTool({ id: 't1', name: 'read_file', input: { path: 'a.txt' } });
    expect(result.content).toBe('     1\tx');
  });
});
