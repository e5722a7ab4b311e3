import chalk from 'chalk';
import { marked, type Token, type Tokens } from 'marked';

/** Inline markdown (bold, italics, code, links) as terminal text. */
function inline(tokens: Token[] | undefined): string {
  return (tokens ?? [])
    .map((t) => {
      switch (t.type) {
        case 'strong':
          return chalk.bold(inline((t as Tokens.Strong).tokens));
        case 'em':
          return chalk.italic(inline((t as Tokens.Em).tokens));
        case 'codespan':
          return chalk.cyan((t as Tokens.Codespan).text);
        case 'del':
          return chalk.strikethrough(inline((t as Tokens.Del).tokens));
        case 'link': {
          const l = t as Tokens.Link;
          const text = inline(l.tokens);
          return text === l.href ? chalk.blue.underline(l.href) : `${text} (${chalk.blue.underline(l.href)})`;
        }
        case 'br':
          return '\n';
        case 'text': {
          const x = t as Tokens.Text;
          return x.tokens ? inline(x.tokens) : decode(x.text);
        }
        case 'escape':
          return (t as Tokens.Escape).text;
        case 'checkbox':
          return '';
        default:
          return 'raw' in t ? String(t.raw) : '';
      }
    })
    .join('');
}

const decode = (s: string) =>
  s.replace(
    /&(amp|lt|gt|quot|#39);/g,
    (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e]!,
  );

let highlighter:
  | { highlight(code: string, options: object): string; supportsLanguage(name: string): boolean }
  | undefined;
/**
 * Loads the syntax highlighter (highlight.js with all its languages: the biggest part of the UI's start-up)
 * after the prompt is up; code blocks printed before it is there are plain.
 */
export async function loadHighlighter(): Promise<void> {
  if (highlighter) return;
  const { highlight, supportsLanguage } = await import('cli-highlight');
  highlighter = { highlight, supportsLanguage };
}

/** A fenced code block, highlighted when its language is known. */
function code(text: string, lang: string | undefined): string {
  const language = lang?.split(/\s/)[0];
  let body = text;
  if (chalk.level > 0 && highlighter) {
    try {
      body = highlighter.highlight(
        text,
        language && highlighter.supportsLanguage(language) ? { language } : { ignoreIllegals: true },
      );
    } catch {
      body = text;
    }
  }
  // A gutter, not indentation: terminal text wrapping would eat leading spaces.
  return body
    .split('\n')
    .map((line) => `${chalk.dim('│')} ${line}`)
    .join('\n');
}

function block(t: Token, depth = 0): string {
  switch (t.type) {
    case 'heading': {
      const h = t as Tokens.Heading;
      const text = inline(h.tokens);
      return h.depth <= 2 ? chalk.bold.underline(text) : chalk.bold(text);
    }
    case 'paragraph':
      return inline((t as Tokens.Paragraph).tokens);
    case 'code':
      return code((t as Tokens.Code).text, (t as Tokens.Code).lang);
    case 'list': {
      const l = t as Tokens.List;
      const start = typeof l.start === 'number' ? l.start : 1;
      return l.items
        .map((item, i) => {
          const bullet = l.ordered ? `${start + i}.` : item.task ? (item.checked ? '☒' : '☐') : '•';
          const body = item.tokens
            .filter((c) => (c.type as string) !== 'checkbox')
            .map((c) =>
              c.type === 'list'
                ? `\n${block(c, depth + 1)}`
                : c.type === 'text'
                  ? inline((c as Tokens.Text).tokens ?? [c])
                  : block(c, depth + 1),
            )
            .join('');
          return `${'  '.repeat(depth)}${bullet} ${body}`;
        })
        .join('\n');
    }
    case 'blockquote':
      return (t as Tokens.Blockquote).tokens
        .map((c) => block(c, depth))
        .join('\n')
        .split('\n')
        .map((line) => chalk.dim(`│ ${line}`))
        .join('\n');
    case 'hr':
      return chalk.dim('─'.repeat(40));
    case 'space':
      return '';
    case 'table': {
      const tb = t as Tokens.Table;
      const rows = [
        tb.header.map((c) => inline(c.tokens)),
        ...tb.rows.map((r) => r.map((c) => inline(c.tokens))),
      ];
      return rows.map((r, i) => (i === 0 ? chalk.bold(r.join(' │ ')) : r.join(' │ '))).join('\n');
    }
    default:
      return 'raw' in t ? String(t.raw).trimEnd() : '';
  }
}

/** Markdown as terminal text (ANSI styles; plain when colour is off). */
export function renderMarkdown(text: string): string {
  return marked
    .lexer(text)
    .map((t) => block(t))
    .filter((s, i, all) => s !== '' || (i > 0 && all[i - 1] !== ''))
    .join('\n\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * Splits streamed markdown into the blocks that are complete (they will not change: a blank line ends them
 * outside a code fence) and the tail still being written. Complete blocks are printed once and never
 * re-rendered.
 */
export function splitComplete(text: string): { done: string; rest: string } {
  let fence = false;
  let cut = 0;
  let offset = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length - 1; i++) {
    const line = lines[i]!;
    offset += line.length + 1;
    if (/^\s*(```|~~~)/.test(line)) {
      fence = !fence;
      if (!fence) cut = offset; // a closed fence ends a block
    } else if (!fence && line.trim() === '' && i > 0) cut = offset;
  }
  return { done: text.slice(0, cut), rest: text.slice(cut) };
}

/** A unified diff with + lines green and - lines red (headers dim). */
export function colourDiff(text: string): string {
  return text
    .split('\n')
    .map((line) =>
      line.startsWith('+++') || line.startsWith('---') || line.startsWith('@@')
        ? chalk.dim(line)
        : line.startsWith('+')
          ? chalk.green(line)
          : line.startsWith('-')
            ? chalk.red(line)
            : line,
    )
    .join('\n');
}
