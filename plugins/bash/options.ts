import type { Word } from './words.ts';

/**
 * What an option (or its value) does, for judging:
 * - `read` / `write`: its value is a path the program reads / writes;
 * - `dir`: its value is the folder the program works in (`env -C`, `git -C`, `tar -C`);
 * - `exec`: it runs a program or code (`--compress-program`, `--checkpoint-action`, `-O` of git grep);
 * - `writes`: the option makes the program write files (its operands, `sed -i`);
 * - `network`: it reaches the network; `dangerous`: destructive or irreversible;
 * - `plain`: a value that is not a path (a count, a pattern).
 */
export type OptionKind = 'read' | 'write' | 'dir' | 'exec' | 'writes' | 'network' | 'dangerous' | 'plain';

export interface OptionSpec {
  /** Takes a value: `required` (next word or glued), `optional` (only glued: `-i.bak`, `--in-place=.bak`). */
  value?: 'required' | 'optional';
  kind?: OptionKind;
  /** Why it matters, for the reason shown to the user. */
  why?: string;
}

export interface CommandOptions {
  /** Short options by letter. */
  short?: Record<string, OptionSpec>;
  /** Long options by name (without `--`): GNU accepts any unambiguous prefix, so this parser does too. */
  long?: Record<string, OptionSpec>;
  /**
   * An option this table does not know: `ok` for programs with no dangerous option families (it is at
   * worst an error), `ask` for those with one (an unknown option may be a spelling the table misses).
   */
  unknown: 'ok' | 'ask';
  /** Options may follow operands (GNU permutation); false for programs that stop at the first operand. */
  permute?: boolean;
  /** Long options with a single dash (`find -name`, `java -jar`) are not parsed here. */
  singleDashLong?: boolean;
}

export interface ParsedOption {
  name: string;
  spec: OptionSpec;
  value?: Word;
  raw: Word;
}

export interface ParsedArgs {
  options: ParsedOption[];
  operands: Word[];
  /** Options that are not in the table, or abbreviations that fit more than one. */
  unknown: Word[];
  ambiguous: Word[];
}

const word = (value: string, raw: string): Word => ({ value, raw });

/** Finds a long option by exact name or unique prefix, the way getopt_long does. */
export function findLong(
  table: Record<string, OptionSpec>,
  name: string,
): { name: string; spec: OptionSpec } | 'ambiguous' | undefined {
  if (Object.hasOwn(table, name)) return { name, spec: table[name]! };
  const hits = Object.keys(table).filter((k) => k.startsWith(name));
  if (hits.length === 1) return { name: hits[0]!, spec: table[hits[0]!]! };
  // Several names that are all spellings of one option (no-pager / no-pager-x) are still ambiguous to getopt.
  return hits.length ? 'ambiguous' : undefined;
}

/**
 * Parses arguments the way GNU getopt_long does: short options bundled (`-fu`) and glued to their value
 * (`-ofile`, `-O'cmd'`), long options with `=` or a separate value, any unique prefix of a long name
 * (`--outp=` is `--output=`), `--` ending options, and operands anywhere unless `permute` is false.
 * A word whose value is only known at run time may be any option: it goes to `unknown`.
 */
export function parseOptions(spec: CommandOptions, args: readonly Word[]): ParsedArgs {
  const out: ParsedArgs = { options: [], operands: [], unknown: [], ambiguous: [] };
  const permute = spec.permute ?? true;
  let i = 0;
  let done = false;
  while (i < args.length) {
    const w = args[i++]!;
    const v = w.value;
    if (done || v === undefined || v === '-' || !v.startsWith('-')) {
      if (v === undefined && !done && w.pattern === undefined) out.unknown.push(w);
      out.operands.push(w);
      if (!permute && !done) done = true;
      continue;
    }
    if (v === '--') {
      done = true;
      continue;
    }
    if (v.startsWith('--') || (spec.singleDashLong && v.length > 2)) {
      const body = v.slice(v.startsWith('--') ? 2 : 1);
      const eq = body.indexOf('=');
      const name = eq === -1 ? body : body.slice(0, eq);
      const found = findLong(spec.long ?? {}, name);
      if (found === 'ambiguous') {
        out.ambiguous.push(w);
        continue;
      }
      if (!found) {
        out.unknown.push(w);
        continue;
      }
      let value: Word | undefined;
      if (eq !== -1) value = word(body.slice(eq + 1), w.raw);
      else if (found.spec.value === 'required') value = args[i++] ?? word('', '');
      out.options.push({ name: found.name, spec: found.spec, raw: w, ...(value ? { value } : {}) });
      continue;
    }
    // A bundle of short options: each letter an option until one takes the rest as its value.
    for (let k = 1; k < v.length; k++) {
      const letter = v[k]!;
      const s = spec.short?.[letter];
      if (!s) {
        out.unknown.push(word(`-${letter}`, w.raw));
        continue;
      }
      if (s.value) {
        const rest = v.slice(k + 1);
        const value = rest
          ? word(rest, w.raw)
          : s.value === 'required'
            ? (args[i++] ?? word('', ''))
            : undefined;
        out.options.push({ name: letter, spec: s, raw: w, ...(value ? { value } : {}) });
        break;
      }
      out.options.push({ name: letter, spec: s, raw: w });
    }
  }
  return out;
}
