import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import { listOf, parseFrontmatter } from '../../sdk/index.ts';

/** A command written as markdown: `.icode/commands/NAME.md` (or `sub/NAME.md` → `/sub:NAME`). */
export interface CustomCommand {
  name: string;
  description: string;
  argumentHint?: string;
  allowedTools: string[];
  model?: string;
  body: string;
  file: string;
  /** Where it comes from, for lists: `project`, `user`, `plugin NAME`. */
  scope: string;
}

/**
 * Reads the command files of a folder (recursively), or one command file; problems are collected, one
 * bad file skips only itself.
 */
export function loadCommands(path: string, scope: string, problems: string[]): CustomCommand[] {
  if (!existsSync(path)) return [];
  const single = statSync(path).isFile();
  const dir = single ? dirname(path) : path;
  const out: CustomCommand[] = [];
  const walk = (folder: string) => {
    for (const entry of single ? [basename(path)] : readdirSync(folder).sort()) {
      const file = join(folder, entry);
      if (statSync(file).isDirectory()) walk(file);
      else if (entry.endsWith('.md')) {
        const name = relative(dir, file).slice(0, -3).split(sep).join(':');
        if (!/^[a-zA-Z0-9_:-]+$/.test(name)) {
          problems.push(`${file}: a command name may only have letters, digits, _ and - (rename the file)`);
          continue;
        }
        try {
          const { data, body } = parseFrontmatter(readFileSync(file, 'utf8'), file);
          out.push({
            name,
            description:
              typeof data.description === 'string'
                ? data.description
                : (body.trim().split('\n')[0] ?? '').slice(0, 80) || `${scope} command`,
            ...(typeof data['argument-hint'] === 'string' ? { argumentHint: data['argument-hint'] } : {}),
            allowedTools: listOf(data['allowed-tools']),
            ...(typeof data.model === 'string' ? { model: data.model } : {}),
            body,
            file,
            scope,
          });
        } catch (error) {
          problems.push(error instanceof Error ? error.message : String(error));
        }
      }
    }
  };
  walk(dir);
  return out;
}

/**
 * Fills a command's text: `$ARGUMENTS` is everything after the command, `$1`…`$9` its words (quotes group
 * words). Text without any placeholder gets the arguments appended, so they are never lost.
 */
export function expand(body: string, args: string): string {
  const words = [...args.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
  let used = false;
  const text = body.replace(/\$ARGUMENTS|\$([1-9])/g, (_, n: string | undefined) => {
    used = true;
    return n ? (words[Number(n) - 1] ?? '') : args;
  });
  return used || !args.trim() ? text : `${text.trimEnd()}\n\n${args}`;
}
