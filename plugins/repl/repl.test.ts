import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bootTestKernel, type TestKernel } from '../../sdk/testing.ts';
import { hasProgram } from '../../test/programs.ts';
import { builtinPlugins } from '../index.ts';

const text = (r: { content: unknown }) => String(r.content);
const python = hasProgram('python3', 'the REPL tests of Python');
const sandbox = hasProgram('bwrap', 'the REPL sandbox tests');

describe('REPL', () => {
  let h: TestKernel;
  beforeAll(async () => {
    h = await bootTestKernel({
      include: ['workspace-guard', 'repl'],
      builtins: builtinPlugins,
      mode: 'workspace-write',
      // REPL is allowed: without bubblewrap its code needs full access and would ask; with it, the code
      // runs in the sandbox just the same.
      settings: {
        permissions: { allow: ['REPL'] },
        plugins: { repl: { config: { timeoutMs: 3000, maxOutputChars: 2000 } } },
      },
    });
  });
  afterAll(() => h.shutdown());
  const run = (code: string, language: 'node' | 'python', extra: Record<string, unknown> = {}) =>
    h.callTool('REPL', { code, language, ...extra });

  test.skipIf(!python)(
    'python keeps variables, imports and functions between calls; the last expression is shown',
    async () => {
      expect(text(await run('import math\nx = 41\ndef inc(v):\n    return v + 1', 'python'))).toBe(
        '(no output)',
      );
      expect(text(await run('print("hi")\ninc(x)', 'python'))).toBe('hi\n42');
      expect(text(await run('math.sqrt(16)', 'python'))).toBe('4.0');
      const err = await run('1/0', 'python');
      expect(err.isError).toBe(true);
      expect(text(err)).toContain('ZeroDivisionError: division by zero');
      expect(text(await run('x', 'python'))).toBe('41'); // an error keeps the state
    },
  );

  test('node keeps variables between calls, awaits promises, and shows what was logged', async () => {
    await run('let total = 40; function add(n) { total += n; return total }', 'node');
    expect(text(await run('console.log("adding"); add(2)', 'node'))).toBe('adding\n42');
    expect(text(await run('Promise.resolve(total * 2)', 'node'))).toBe('84');
    expect(text(await run('process.stdout.write("raw\\n"); 1', 'node'))).toBe('raw\n1');
  });

  test('node: top-level await, and what it declares is kept; errors and incomplete code are is_error', async () => {
    expect(text(await run('const answer = await Promise.resolve(41)', 'node'))).toBe('(no output)');
    expect(text(await run('answer + 1', 'node'))).toBe('42');
    expect(text(await run('const got = await (async () => "later")(); got.toUpperCase()', 'node'))).toBe(
      "'LATER'",
    );
    const thrown = await run('throw new TypeError("nope")', 'node');
    expect(thrown.isError).toBe(true);
    expect(text(thrown)).toContain('TypeError: nope');
    const rejected = await run('await Promise.reject(new Error("later no"))', 'node');
    expect(rejected.isError).toBe(true);
    expect(text(rejected)).toContain('Error: later no');
    const open = await run('function half(', 'node');
    expect(open.isError).toBe(true);
    expect(text(open)).toContain('SyntaxError');
    expect(text(await run('answer', 'node'))).toBe('41');
  });

  test.skipIf(!python)(
    'a call past its timeout restarts the interpreter (state lost); huge output is capped',
    async () => {
      await run('kept = 1', 'python');
      const slow = await run('import time\ntime.sleep(5)', 'python', { timeout_ms: 300 });
      expect(slow.isError).toBe(true);
      expect(text(slow)).toContain(
        'timed out after 300 ms; the python interpreter was restarted and its state is lost',
      );
      expect(text(await run('kept', 'python'))).toContain("NameError: name 'kept' is not defined");
      expect(text(await run('print("y" * 10000)', 'python'))).toMatch(/characters \(\d+ lines\) cut/);
    },
  );

  test.skipIf(!sandbox || !python)(
    'code runs in the sandbox: the workspace is writable, the rest of the disk is not',
    async () => {
      expect(
        text(
          await run(
            `open(${JSON.stringify(join(h.project, 'made.txt'))}, 'w').write('ok')\n'done'`,
            'python',
          ),
        ),
      ).toBe("'done'");
      expect(existsSync(join(h.project, 'made.txt'))).toBe(true);
      const outside = await run(
        `open(${JSON.stringify(join(h.home, 'escape.txt'))}, 'w').write('no')`,
        'python',
      );
      // The home folder is a private empty one: what the code writes there is gone with the sandbox.
      expect(existsSync(join(h.home, 'escape.txt'))).toBe(false);
      const system = await run(`open('/usr/escape-${process.pid}.txt', 'w')`, 'python');
      expect(text(system)).toMatch(/Read-only file system/);
      // The write itself succeeded, in the sandbox's own home: it is the host that did not get it.
      expect(outside.isError).toBe(false);
    },
  );
});

test.skipIf(!sandbox)('a Read deny rule holds for REPL code: the denied file is not there', async () => {
  const h = await bootTestKernel({
    include: ['workspace-guard', 'repl'],
    builtins: builtinPlugins,
    mode: 'workspace-write',
    settings: { permissions: { deny: ['Read(./.env)'] } },
    files: { '.env': 'TOKEN=hunter2\n', 'ok.txt': 'fine\n' },
  });
  try {
    const r = await h.callTool('REPL', {
      code: "let secret; try { secret = require('fs').readFileSync('.env', 'utf8') } catch (e) { secret = e.code } secret + '|' + require('fs').readFileSync('ok.txt', 'utf8')",
      language: 'node',
    });
    expect(text(r)).toContain('fine');
    expect(text(r)).not.toContain('hunter2');
  } finally {
    await h.shutdown();
  }
});
