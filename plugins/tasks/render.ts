import type { TaskRecord } from '../../sdk/index.ts';

/** One line per task: id, status, description, error. */
export function renderTasks(tasks: TaskRecord[]): string {
  if (!tasks.length) return 'No tasks.';
  return tasks
    .map((t) => `${t.id}  ${t.status.padEnd(11)} ${t.description}${t.error ? `  (${t.error})` : ''}`)
    .join('\n');
}
