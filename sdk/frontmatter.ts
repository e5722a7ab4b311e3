import { createRequire } from 'node:module';

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
