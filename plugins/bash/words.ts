import type { SyntaxNode } from './parser.ts';

/**
 * One shell word after quote removal: `value` is what the program will receive when that is known before
 * the command runs; undefined when it depends on the run (a variable, `$(…)`, a glob, arithmetic).
 */
export interface Word {
  value: string | undefined;
  raw: string;
  /** A static word with unquoted glob characters (`src/*.ts`): the files it can name lie under its prefix. */
  pattern?: string;
}

const ANSI_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  e: '\x1b',
  E: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '?': '?',
};

/** Decodes the body of a `$'…'` string the way bash does (the subset that names characters). */
function decodeAnsiC(body: string): string {
  return body.replace(
    /\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[0-7]{1,3}|c.|.)/gs,
    (_, esc: string) => {
      if (/^[xuU]/.test(esc)) return String.fromCodePoint(Number.parseInt(esc.slice(1), 16));
      if (/^[0-7]/.test(esc)) return String.fromCharCode(Number.parseInt(esc, 8));
      if (esc.startsWith('c')) return String.fromCharCode(esc.charCodeAt(1) & 31);
      return ANSI_ESCAPES[esc] ?? `\\${esc}`;
    },
  );
}

/** Removes backslash escapes from an unquoted word (`r\m` is `rm`; a backslash-newline vanishes). */
function unescapeBare(text: string): string {
  return text.replace(/\\\n/g, '').replace(/\\(.)/gs, '$1');
}

// Unquoted characters that make the shell expand a word at run time: globs, brace expansion, `~user`.
const BARE_EXPANSION = /(?<!\\)[*?[{]|^~(?![/+-]|$)|^~[+-][^/]/;

/** The value of a word node, or undefined when it is only known at run time. */
export function wordValue(node: SyntaxNode): string | undefined {
  switch (node.type) {
    case 'word':
    case 'command_name':
      if (node.type === 'command_name') {
        const inner = node.namedChildren[0];
        return inner ? wordValue(inner) : undefined;
      }
      if (BARE_EXPANSION.test(node.text)) return undefined;
      return unescapeBare(node.text);
    case 'number':
      return node.text;
    case 'raw_string':
      return node.text.slice(1, -1);
    case 'ansi_c_string':
      return decodeAnsiC(node.text.slice(2, -1));
    case 'string': {
      // "…": static only when every part is plain text; \" \\ \$ \` are the escapes that count inside.
      let out = '';
      for (const child of node.namedChildren) {
        if (!child) continue;
        if (child.type !== 'string_content') return undefined;
        out += child.text.replace(/\\([\\"$`\n])/g, (_, c: string) => (c === '\n' ? '' : c));
      }
      return out;
    }
    case 'concatenation': {
      let out = '';
      for (const child of node.namedChildren) {
        if (!child) continue;
        const part = wordValue(child);
        if (part === undefined) return undefined;
        out += part;
      }
      return out;
    }
    default:
      return undefined;
  }
}

const GLOB_ONLY = /^(?:[^$`\\'"{}~]|\\.)*$/;

export function toWord(node: SyntaxNode): Word {
  const value = wordValue(node);
  if (value === undefined && node.type === 'word' && GLOB_ONLY.test(node.text))
    return { value, raw: node.text, pattern: unescapeBare(node.text) };
  return { value, raw: node.text };
}
