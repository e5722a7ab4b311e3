import { appendFileSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectSlug as slug, type TaskRecord } from '../../sdk/index.ts';

/** Task records of one project under the user's icode directory: one JSON file each, written atomically. */
export class TaskStore {
  readonly dir: string;

  constructor(userDir: string, projectRoot: string) {
    // Named like the project's sessions folder (~/.icode/projects/<slug>).
    this.dir = join(userDir, 'tasks', slug(projectRoot));
  }

  save(task: TaskRecord): void {
    mkdirSync(this.dir, { recursive: true });
    const file = join(this.dir, `${task.id}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(task, null, 2));
    renameSync(`${file}.tmp`, file);
  }

  all(): TaskRecord[] {
    let files: string[] = [];
    try {
      files = readdirSync(this.dir).filter((f) => f.endsWith('.json'));
    } catch {}
    return files
      .flatMap((f) => {
        try {
          return [JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as TaskRecord];
        } catch {
          return [];
        }
      })
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  output(task: TaskRecord, text: string): void {
    mkdirSync(this.dir, { recursive: true });
    appendFileSync(task.outputFile, text);
  }
}

/** True when a process with this pid is alive (a task of another icode still running). */
export { processAlive as alive } from '../../sdk/lock.ts';
