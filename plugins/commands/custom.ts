import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, sep } from 'node:path';

/** A command written as markdown: `.icode/commands/NAME.md` (or `sub/NAME.md` → `/sub:NAME`). */
export interface CustomCommand {
  name: string;
  description: string;
  argumentHint?: string;
  allowedTools: string[];
  model?: string;
  body: string;
  file: string;
  scope: 'project' | 'user';
}

/** Splits `---\nyaml\n---\nbody`; a file without frontmatter is all body. Throws with the file on bad YAML. */
export function parseFrontmatter(
  text: string,
  file: string,
): { data: Record<string, unknown>; body: string } {
  const match = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?([\s\S]*)$/.exec(text);
  if (!match) return { data: {}, body: text };
  let data: unknown;
  try {
    // js-yaml loads with the first file that has frontmatter, not at every start.
    data = (createRequire(import.meta.url)('js-yaml') as typeof import('js-yaml')).load(match[1]!);
  } catch (error) {
    // js-yaml's mark is 0-based within the frontmatter, which starts on the file's second line.
    const e = error as { reason?: string; mark?: { line: number; column: number }; message?: string };
    const where = e.mark ? `${file}:${e.mark.line + 2}:${e.mark.column + 1}` : file;
    throw new Error(`${where}: invalid frontmatter: ${e.reason ?? e.message?.split('\n')[0] ?? error}`);
  }
  if (data !== undefined && data !== null && (typeof data !== 'object' || Array.isArray(data)))
    throw new Error(`${file}: the frontmatter must be key: value lines`);
  return { data: (data ?? {}) as Record<string, unknown>, body: match[2]! };
}

/** A frontmatter list: YAML array, or one string separated by commas or spaces (not inside `( )`). */
export const listOf = (v: unknown): string[] =>
  Array.isArray(v)
    ? v.map(String)
    : typeof v === 'string'
      ? v.split(/,\s*|\s+(?![^(]*\))/).filter(Boolean)
      : [];

/** Reads the command files of a folder (recursively); problems are collected, one bad file skips only itself. */
export function loadCommands(dir: string, scope: 'project' | 'user', problems: string[]): CustomCommand[] {
  if (!existsSync(dir)) return [];
  const out: CustomCommand[] = [];
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder).sort()) {
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
