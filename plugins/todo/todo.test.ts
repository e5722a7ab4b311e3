import { expect, test } from 'vitest';
import { bootTestKernel } from '../../sdk/testing.ts';
import { builtinPlugins } from '../index.ts';

const todos = [
  { content: 'Read the code', activeForm: 'Reading the code', status: 'completed' },
  { content: 'Fix the bug', activeForm: 'Fixing the bug', status: 'in_progress' },
  { content: 'Run the tests', activeForm: 'Running the tests', status: 'pending' },
];

test("TodoWrite keeps the session's list, and a later run of that session (--continue) finds it again", async () => {
  const h = await bootTestKernel({ include: ['todo'], builtins: builtinPlugins });
  const r = await h.kernel.callTool(
    { id: 't1', name: 'TodoWrite', input: { todos } },
    { sessionId: 'session-1' },
  );
  expect(r.content).toBe(
    'Todo list updated (1/3 done):\n[x] Read the code\n[~] Fixing the bug\n[ ] Run the tests',
  );
  await h.shutdown();
  const next = await bootTestKernel({ include: ['todo'], builtins: builtinPlugins, reuse: h });
  expect((await next.kernel.services.get('todos')).get('session-1')).toEqual(todos);
  expect((await next.kernel.services.get('todos')).get('another')).toEqual([]);
  expect((await next.kernel.commands.run('todos', 'session-1', { cwd: next.project })).output).toContain(
    '[~] Fixing the bug',
  );
});

test('two items in progress, or a bad status, are errors the model can fix', async () => {
  const h = await bootTestKernel({ include: ['todo'], builtins: builtinPlugins });
  const two = todos.map((t) => ({ ...t, status: 'in_progress' }));
  expect((await h.callTool('TodoWrite', { todos: two })).content).toContain('3 items are in_progress');
  const bad = await h.callTool('TodoWrite', { todos: [{ ...todos[0], status: 'doing' }] });
  expect(bad).toMatchObject({ isError: true });
  expect(bad.content).toContain('Invalid input for TodoWrite');
});

test("on --resume the list comes back with the session: a todos line in stream-json, and /todos shows the resumed session's", async () => {
  const { makeWorld, mockTurn, runCli, write } = await import('../../test/helpers.ts');
  const { join } = await import('node:path');
  const w = makeWorld();
  const first = await mockTurn(w, [
    { content: [{ type: 'tool_use', name: 'TodoWrite', input: { todos } }] },
    { content: [{ type: 'text', text: 'Planned.' }] },
  ]);
  expect(first.is_error).toBe(false);
  const id = (first as unknown as { session_id: string }).session_id;
  const dir = join(w.root, 'again');
  write(join(dir, 'again.json'), { name: 'again', steps: [{ content: [{ type: 'text', text: 'Back.' }] }] });
  const resumed = await runCli(
    [
      '-p',
      '--mock',
      '--mock-scenarios',
      dir,
      '--resume',
      id,
      '--output-format',
      'stream-json',
      'PARITY_SCENARIO:again',
    ],
    { world: w },
  );
  const lines = resumed.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; event?: string; todos?: unknown });
  expect(lines.find((l) => l.type === 'icode' && l.event === 'todos')?.todos).toEqual(todos);
  const shown = await runCli(['-p', '--mock', '--resume', id, '/todos'], { world: w });
  expect(shown.stdout).toContain('[~] Fixing the bug');
}, 60_000);
