import { readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { isInside } from '../kernel/paths.ts';

/** The context files a project keeps for agents, from the project root down to the working directory. */
export const CONTEXT_FILES = ['AGENTS.md', 'ICODE.md', 'CLAUDE.md'];

/** The user's own instructions for every project: AGENTS.md in their icode directory (~/.icode). */
export const userMemory = (userDir: string) => join(userDir, 'AGENTS.md');

export function contextFiles(projectRoot: string, cwd: string): Array<{ path: string; text: string }> {
  const dirs: string[] = [];
  for (let dir = cwd; isInside(dir, projectRoot); dir = dirname(dir)) {
    dirs.unshift(dir);
    if (dir === projectRoot || dirname(dir) === dir) break;
  }
  const root = realOf(projectRoot) ?? projectRoot;
  return dirs.flatMap((dir) =>
    CONTEXT_FILES.map((name) => join(dir, name))
      .filter((file) => {
        // A context file is the project's only if it is a file in the project: a command could have made
        // AGENTS.md a link to ~/.ssh/id_rsa, and its text would go to the model with every request.
        const real = realOf(file);
        return real !== undefined && isInside(real, root) && statSync(real).isFile();
      })
      .map((file) => ({ path: relative(projectRoot, file) || file, text: readFileSync(file, 'utf8') })),
  );
}

function realOf(path: string): string | undefined {
  try {
    return realpathSync.native(path);
  } catch {
    return undefined;
  }
}
