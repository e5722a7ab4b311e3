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
