import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { definePlugin, defineTool } from '../../sdk/index.ts';

const Todo = z.object({
  content: z.string().min(1).describe('What to do, imperative: "Run the tests"'),
  activeForm: z.string().min(1).describe('The same while it is being done: "Running the tests"'),
  status: z.enum(['pending', 'in_progress', 'completed']),
});
export type TodoItem = z.output<typeof Todo>;

/** The `todos` service: a session's list, for the terminal UI and `/todos`. */
export interface TodosService {
  get(sessionId: string): TodoItem[];
}
declare module '../../kernel/registries.ts' {
  interface Services {
    todos: TodosService;
  }
}

const MARK = { pending: '[ ]', in_progress: '[~]', completed: '[x]' } as const;
export const renderTodos = (todos: TodoItem[]) =>
  todos.length
    ? todos
        .map((t) => `${MARK[t.status]} ${t.status === 'in_progress' ? t.activeForm : t.content}`)
        .join('\n')
    : 'No todos.';

export default definePlugin({
  activate(ctx) {
    // One file per session beside the user's sessions, so `--continue` and `--resume` find the list again.
    const dir = join(ctx.userDir, 'todos');
    const file = (id: string) => join(dir, `${id.replace(/[^a-zA-Z0-9_-]/g, '_')}.json`);
    const get = (id: string): TodoItem[] => {
      try {
        return z.array(Todo).parse(JSON.parse(readFileSync(file(id), 'utf8')));
      } catch {
        return [];
      }
    };
    ctx.tools.register(
      defineTool({
        name: 'TodoWrite',
        description:
          'Write the todo list for this session (the whole list each time): use it to plan and track multi-step work. Keep exactly one item in_progress while working; mark items completed as soon as they are done.',
        input: z.object({ todos: z.array(Todo) }),
        mode: 'read-only',
        execute({ todos }, t) {
          const inProgress = todos.filter((x) => x.status === 'in_progress').length;
          if (inProgress > 1) throw new Error(`${inProgress} items are in_progress; keep one at a time`);
          mkdirSync(dir, { recursive: true });
          writeFileSync(file(t.sessionId ?? 'default'), JSON.stringify(todos, null, 2));
          const done = todos.filter((x) => x.status === 'completed').length;
          return `Todo list updated (${done}/${todos.length} done):\n${renderTodos(todos)}`;
        },
      }),
    );
    ctx.services.provide('todos', { get });
    ctx.commands.register({
      name: 'todos',
      description: "The session's todo list",
      // The session it is typed in (the UI's, a headless run's), or the one named.
      run: (args, c) => renderTodos(get(args.trim() || c.session?.id || 'default')),
    });
  },
});
