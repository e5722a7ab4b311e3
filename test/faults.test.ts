import { existsSync, readdirSync, readFileSync, watch } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { makeWorld, runCli, startCli, type World, write, writePlugin } from './helpers.ts';

/**
 * Fault injection with real processes: plugins that throw from timers and reject, tools that never
 * answer, and signals. The run goes on without the faulty plugin, or ends in time with a result.
 */

const BASE = ['anthropic', 'session', 'workspace-guard'].map((name) => ({ name }));

/** A scenario: the model calls `tool` once, then answers with what it got back. */
function scenario(w: World, name: string, tool: string): string {
  const dir = join(w.root, 'scenarios');
  write(join(dir, `${name}.json`), {
    name,
    steps: [
      { content: [{ type: 'tool_use', name: tool, input: {} }] },
      { content: [{ type: 'text', text: 'Got: {{tool_results}}' }] },
    ],
  });
  return dir;
}

/** A plugin with one tool, `<name>_tool`, whose module is `code` around an `execute` body. */
function toolPlugin(w: World, name: string, execute: string, activate = ''): string {
  return writePlugin(w, {
    name,
    contributes: { tools: [{ name: `${name}_tool`, mode: 'read-only' }] },
    code: `import { writeFileSync } from 'node:fs';
export default {
  activate(ctx) {
    ${activate}
    ctx.tools.register({
      name: '${name}_tool',
      description: 'a tool for fault injection',
      input: { safeParse: (v) => ({ success: true, data: v }) },
      inputSchema: { type: 'object' },
      mode: 'read-only',
      execute(input, tctx) { ${execute} },
    });
  },
};
`,
  });
}

function harness(w: World, extra: Array<{ name: string; path: string }>): string {
  return write(join(w.root, 'harness.json'), { name: 'faults', plugins: [...BASE, ...extra] });
}

/** A headless JSON run of the scenario, in the harness `manifest`, on the mock API. */
const cliArgs = (manifest: string, dir: string, scenarioName: string) => [
  '--manifest',
  manifest,
  '--mock',
  '--mock-scenarios',
  dir,
  '-p',
  `go PARITY_SCENARIO:${scenarioName}`,
  '--output-format',
  'json',
];

const run = (w: World, manifest: string, dir: string, scenarioName: string) =>
  runCli(cliArgs(manifest, dir, scenarioName), { world: w });

describe('a plugin cannot take the process down', () => {
  test('a throw from a plugin timer and a stray rejection fail those plugins; the run finishes with its result and says so', async () => {
    const w = makeWorld();
    // The tool answers, then its timer throws; another plugin leaves a rejection nobody awaits.
    const timer = toolPlugin(
      w,
      'timerthrow',
      `return new Promise((resolve) => setTimeout(() => { resolve('answered'); throw new Error('timer boom'); }, 0));`,
    );
    const rejecter = toolPlugin(
      w,
      'rejecter',
      `return 'fine';`,
      `Promise.reject(new Error('stray rejection'));`,
    );
    const manifest = harness(w, [
      { name: 'timerthrow', path: timer },
      { name: 'rejecter', path: rejecter },
    ]);
    const r = await run(w, manifest, scenario(w, 'timer', 'timerthrow_tool'), 'timer');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(result.result).toBe('Got: answered');
    expect(result.plugin_health).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          name: 'timerthrow',
          state: 'failed',
          reason: expect.stringContaining('uncaught exception in plugin "timerthrow": timer boom'),
        }),
        expect.objectContaining({
          name: 'rejecter',
          state: 'failed',
          reason: expect.stringContaining('unhandled rejection in plugin "rejecter": stray rejection'),
        }),
      ]),
    );
    expect(r.stderr).toContain('uncaught exception in plugin "timerthrow": timer boom');
    expect(r.stderr).toContain('unhandled rejection in plugin "rejecter": stray rejection');
  });

  test('a failed plugin is reported headless: a stderr line, the JSON result and the stream-json start event', async () => {
    const w = makeWorld();
    const broken = writePlugin(w, {
      name: 'broken',
      code: `export default { activate() { throw new Error('cannot start here'); } };`,
    });
    const manifest = harness(w, [{ name: 'broken', path: broken }]);
    const dir = join(w.root, 'scenarios');
    write(join(dir, 'hi.json'), { name: 'hi', steps: [{ content: [{ type: 'text', text: 'hello' }] }] });
    const args = ['--manifest', manifest, '--mock', '--mock-scenarios', dir, '-p', 'PARITY_SCENARIO:hi'];
    const json = await runCli([...args, '--output-format', 'json'], { world: w });
    expect(json.code).toBe(0);
    expect(json.stderr).toContain('icode: plugin broken is failed: activate() threw: cannot start here');
    expect(JSON.parse(json.stdout).plugin_health).toEqual([
      expect.objectContaining({ name: 'broken', state: 'failed' }),
    ]);
    const stream = await runCli([...args, '--output-format', 'stream-json'], { world: w });
    const events = stream.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const start = events.find((e) => e.type === 'system' && e.subtype === 'init');
    expect(start.plugin_health).toEqual([expect.objectContaining({ name: 'broken', state: 'failed' })]);
  });
});

describe('no tool call can hold a run', () => {
  test('a tool past its timeout (toolTimeouts) is stopped: the model gets an error naming the setting and the run goes on', async () => {
    const w = makeWorld();
    const hang = toolPlugin(w, 'hang', `return new Promise(() => {});`);
    const manifest = harness(w, [{ name: 'hang', path: hang }]);
    write(join(w.project, '.icode', 'settings.json'), { toolTimeouts: { hang_tool: 300 } });
    const r = await run(w, manifest, scenario(w, 'hangs', 'hang_tool'), 'hangs');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.tool_results[0]).toMatchObject({ tool_name: 'hang_tool', is_error: true });
    expect(result.tool_results[0].output).toContain('did not finish within 0.3 s');
    expect(result.tool_results[0].output).toContain('toolTimeouts.hang_tool');
    expect(result.result).toContain('Got:');
  });

  test.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)(
    'one %s ends a run whose tool never answers: every tool_use gets a result, the session is saved, exit %i',
    async (signal, code) => {
      const w = makeWorld();
      const marker = join(w.root, 'called');
      const hang = toolPlugin(
        w,
        'hang',
        `writeFileSync(${JSON.stringify(marker)}, 'x'); return new Promise(() => {});`,
      );
      const manifest = harness(w, [{ name: 'hang', path: hang }]);
      const dir = scenario(w, 'hangs', 'hang_tool');
      const { child, out, exited } = startCli(cliArgs(manifest, dir, 'hangs'), w);
      // The tool has been called: the marker appears.
      await new Promise<void>((resolve) => {
        const watcher = watch(w.root, () => {
          if (existsSync(marker)) {
            watcher.close();
            resolve();
          }
        });
        if (existsSync(marker)) {
          watcher.close();
          resolve();
        }
      });
      child.kill(signal);
      expect(await exited).toBe(code);
      expect(out.stderr).toContain(`icode: ${signal}: stopping the run`);
      const result = JSON.parse(out.stdout);
      expect(result.stop_reason).toBe('interrupted');
      expect(result.tool_results).toEqual([
        expect.objectContaining({
          tool_name: 'hang_tool',
          is_error: true,
          output: expect.stringContaining('Interrupted'),
        }),
      ]);
      // The session file holds the tool_use and its result, and the lock is gone.
      const folder = join(w.userDir, 'projects', readdirSync(join(w.userDir, 'projects'))[0]!);
      const files = readdirSync(folder);
      expect(files.filter((f) => f.endsWith('.lock'))).toEqual([]);
      const log = readFileSync(join(folder, files.find((f) => f.endsWith('.jsonl'))!), 'utf8');
      expect(log).toContain('"tool_result"');
    },
    30_000,
  );
});

describe('what the attack on the first version found', () => {
  test('a tool whose result cannot be saved (circular) is an error result the model sees; the run finishes', async () => {
    const w = makeWorld();
    const circ = toolPlugin(w, 'circ', `const a = [{ type: 'text', text: 'x' }]; a[0].self = a; return a;`);
    const manifest = harness(w, [{ name: 'circ', path: circ }]);
    const r = await run(w, manifest, scenario(w, 'circ', 'circ_tool'), 'circ');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.tool_results[0]).toMatchObject({ is_error: true });
    expect(result.tool_results[0].output).toContain('cannot be saved as JSON');
  });

  test('a hook tap that never answers is cut off at its deadline: the plugin is degraded and the run goes on', async () => {
    const w = makeWorld();
    const stuck = writePlugin(w, {
      name: 'stuck',
      manifestText: JSON.stringify({
        name: 'stuck',
        version: '1.0.0',
        main: 'index.mjs',
        engines: { icode: '^0.1.0' },
        hookTimeoutMs: 300,
        contributes: { hooks: ['beforeToolCall'] },
      }),
      code: `export default { activate(ctx) { ctx.hooks.beforeToolCall.tap(() => new Promise(() => {})); } };`,
    });
    const fine = toolPlugin(w, 'fine', `return 'ran';`);
    const manifest = harness(w, [
      { name: 'stuck', path: stuck },
      { name: 'fine', path: fine },
    ]);
    const r = await run(w, manifest, scenario(w, 'stuck', 'fine_tool'), 'stuck');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.result).toBe('Got: ran');
    expect(result.plugin_health).toEqual([
      expect.objectContaining({
        name: 'stuck',
        state: 'degraded',
        reason: expect.stringContaining('within 0.3 s'),
      }),
    ]);
  });

  test('a throw from a tool abort listener, or from its module top-level timer, fails that plugin, never the session', async () => {
    const w = makeWorld();
    const listener = toolPlugin(
      w,
      'listener',
      `tctx.signal.addEventListener('abort', () => { throw new Error('abort listener boom'); }); return new Promise(() => {});`,
    );
    const top = writePlugin(w, {
      name: 'toplevel',
      code: `setTimeout(() => { throw new Error('top-level boom'); }, 0);\nexport default { activate() {} };`,
    });
    const manifest = harness(w, [
      { name: 'listener', path: listener },
      { name: 'toplevel', path: top },
    ]);
    write(join(w.project, '.icode', 'settings.json'), { toolTimeouts: { listener_tool: 200 } });
    const r = await run(w, manifest, scenario(w, 'listens', 'listener_tool'), 'listens');
    expect(r.code).toBe(0);
    const health = JSON.parse(r.stdout).plugin_health as Array<{
      name: string;
      state: string;
      reason: string;
    }>;
    expect(health.map((p) => [p.name, p.state])).toEqual(
      expect.arrayContaining([
        ['listener', 'failed'],
        ['toplevel', 'failed'],
      ]),
    );
    expect(health.find((p) => p.name === 'listener')!.reason).toContain('abort listener boom');
    expect(health.find((p) => p.name === 'toplevel')!.reason).toContain('top-level boom');
    expect(health.map((p) => p.name)).not.toContain('session');
  });

  test('a reader that closes the pipe early (| head) ends the run with 141, failing no plugin', async () => {
    const w = makeWorld();
    const dir = join(w.root, 'scenarios');
    write(join(dir, 'long.json'), {
      name: 'long',
      steps: [{ content: [{ type: 'text', deltas: Array.from({ length: 3000 }, (_, i) => `word${i} `) }] }],
    });
    const { child, out, exited } = startCli(
      ['--mock', '--mock-scenarios', dir, '-p', 'PARITY_SCENARIO:long', '--output-format', 'stream-json'],
      w,
    );
    // Read the first chunk, then close our end, as `head -c` does.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await exited;
    expect(code).toBe(141);
    expect(out.stderr).not.toContain('failed');
    expect(out.stderr).not.toContain('uncaught');
  });
});
