import { closest, distance } from 'fastest-levenshtein';
import {
  findNodeAtLocation,
  getNodeValue,
  type Node as JsonNode,
  type ParseError,
  parseTree,
  printParseErrorCode,
} from 'jsonc-parser';
import type { z } from 'zod';
import { type ErrorCode, ErrorCodes, IcodeError, type SourceLocation } from './errors.ts';

/** A parsed JSON file that still knows where each key was written, so errors can point at a line. */
export interface JsonDocument {
  file: string;
  text: string;
  value: unknown;
  locate(path: readonly PropertyKey[]): SourceLocation;
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

const SYNTAX_HINTS: Record<string, string> = {
  CommaExpected: 'a comma is missing between two entries',
  ColonExpected: 'a colon is missing after a key',
  PropertyNameExpected: 'a key in double quotes is expected (is there a trailing comma?)',
  ValueExpected: 'a value is expected (is there a trailing comma?)',
  CloseBraceExpected: 'a closing } is missing',
  CloseBracketExpected: 'a closing ] is missing',
  EndOfFileExpected: 'there is text after the end of the JSON value',
  InvalidSymbol: 'this is not valid JSON (keys and strings need double quotes)',
  UnexpectedEndOfString: 'a string is not closed',
  UnexpectedEndOfComment: 'a comment is not closed',
};

/**
 * Parses JSON (comments allowed, as in VS Code settings) and fails with the file, line and column of the
 * first syntax error. Plain JSON takes the native parser; the syntax tree that locates keys is built only
 * when something asks where a key is (an error, a warning), since most reads of most files never do.
 */
export function parseJsonDocument(text: string, file: string, code: ErrorCode): JsonDocument {
  let value: unknown;
  let root: JsonNode | undefined;
  const tree = (): JsonNode => {
    if (root) return root;
    const errors: ParseError[] = [];
    const parsed = parseTree(text, errors, { allowTrailingComma: false, disallowComments: false });
    const first = errors[0];
    if (first || !parsed) {
      const at = lineColumn(text, first?.offset ?? 0);
      const name = first ? printParseErrorCode(first.error) : 'ValueExpected';
      const fix = 'fix the JSON syntax at that line (a JSON validator or your editor will show it too)';
      throw new IcodeError(code, `malformed JSON: ${SYNTAX_HINTS[name] ?? name}`, fix, { file, ...at });
    }
    root = parsed;
    return root;
  };
  try {
    value = JSON.parse(text);
  } catch {
    // Comments, or a syntax error the tree names with its line.
    value = getNodeValue(tree());
  }
  return {
    file,
    text,
    value,
    locate(path) {
      const segments = path.filter((p): p is string | number => typeof p !== 'symbol');
      const top = tree();
      // Walk up to the deepest existing node so a missing key points at its parent object.
      for (let n = segments.length; n >= 0; n--) {
        const node = findNodeAtLocation(top, segments.slice(0, n));
        if (node) {
          const offset = node.parent?.type === 'property' ? node.parent.offset : node.offset;
          return { file, ...lineColumn(text, offset), key: segments.join('.') || undefined };
        }
      }
      return { file, key: segments.join('.') || undefined };
    },
  };
}

/** A problem found while validating a document, located at the key that caused it. */
export interface Problem {
  message: string;
  location: SourceLocation;
}

export interface Validated<T> {
  value: T | undefined;
  errors: Problem[];
  warnings: Problem[];
}

type AnySchema = z.ZodType;
interface SchemaDef {
  type: string;
  shape?: Record<string, AnySchema>;
  innerType?: AnySchema;
  valueType?: AnySchema;
  element?: AnySchema;
}
const defOf = (s: AnySchema): SchemaDef => (s as unknown as { _zod: { def: SchemaDef } })._zod.def;

/** The keys a schema accepts at a path, for "did you mean" suggestions. */
function knownKeysAt(schema: AnySchema, path: readonly PropertyKey[]): string[] {
  let s: AnySchema | undefined = schema;
  let i = 0;
  while (s) {
    const def = defOf(s);
    if (def.innerType) s = def.innerType;
    else if (i === path.length) return def.shape ? Object.keys(def.shape) : [];
    else if (def.shape) s = def.shape[String(path[i++])];
    else if (def.valueType ?? def.element) {
      s = def.valueType ?? def.element;
      i++;
    } else return [];
  }
  return [];
}

function deleteAt(value: unknown, path: readonly PropertyKey[], key: string): void {
  let v = value as Record<PropertyKey, unknown> | undefined;
  for (const p of path) v = v?.[p] as Record<PropertyKey, unknown> | undefined;
  if (v && typeof v === 'object') delete v[key];
}

/**
 * Validates a document against a strict schema. Unknown keys are warnings (with a suggestion) and are
 * dropped; every other mismatch is an error located at its key.
 */
export function validateDocument<S extends AnySchema>(
  doc: JsonDocument,
  schema: S,
  value: unknown = structuredClone(doc.value),
): Validated<z.output<S>> {
  const warnings: Problem[] = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    // One-shot validation: zod's compiled fast path costs more to build than it saves here.
    const result = schema.safeParse(value, { jitless: true });
    if (result.success) {
      const at = (p: Problem) => (p.location.line ?? 0) * 1e6 + (p.location.column ?? 0);
      return { value: result.data, errors: [], warnings: warnings.sort((a, b) => at(a) - at(b)) };
    }
    const unknown = result.error.issues.filter((i) => i.code === 'unrecognized_keys');
    const errors = result.error.issues
      .filter((i) => i.code !== 'unrecognized_keys')
      .map((i) => ({ message: i.message, location: doc.locate(i.path) }));
    if (errors.length) return { value: undefined, errors, warnings };
    for (const issue of unknown) {
      const known = knownKeysAt(schema, issue.path);
      for (const key of (issue as { keys: string[] }).keys) {
        warnings.push({
          message: `unknown key "${key}"${didYouMean(key, known)}`,
          location: doc.locate([...issue.path, key]),
        });
        deleteAt(value, issue.path, key);
      }
    }
  }
  return {
    value: undefined,
    errors: [{ message: 'could not validate', location: { file: doc.file } }],
    warnings,
  };
}

/**
 * The known name a mistyped one most likely meant (`file-tool` → `file-tools`, `Read_File` → `read_file`),
 * or undefined when none is close enough to be a plausible typo.
 */
export function nearest(name: string, known: Iterable<string>): string | undefined {
  const candidates = [...new Set(known)].filter((k) => k !== name);
  if (!candidates.length) return undefined;
  const lower = name.toLowerCase();
  const caseOnly = candidates.find((k) => k.toLowerCase() === lower);
  if (caseOnly) return caseOnly;
  const guess = closest(name, candidates);
  const d = distance(lower, guess.toLowerCase());
  // Close for its length (as for keys of a settings file), and not a whole rewrite of a short name.
  return d <= Math.max(2, Math.floor(name.length / 3)) && d < Math.min(name.length, guess.length)
    ? guess
    : undefined;
}

/** `; did you mean "x"?` when a known name is near, else an empty string. */
export function didYouMean(name: string, known: Iterable<string>): string {
  const guess = nearest(name, known);
  return guess ? `; did you mean "${guess}"?` : '';
}

/** Throws the first error of a validation as an IcodeError with its location. */
export function throwIfInvalid<T>(v: Validated<T>, code: ErrorCode, fix: string): T {
  const first = v.errors[0];
  if (first || v.value === undefined) {
    const more = v.errors.length > 1 ? ` (and ${v.errors.length - 1} more)` : '';
    throw new IcodeError(code, `${first?.message ?? 'invalid'}${more}`, fix, first?.location);
  }
  return v.value;
}

/**
 * Reads a JSON file and validates it against a zod schema; a syntax or type error throws an IcodeError
 * naming the file, line, column and key. Unknown keys are errors here too, reported with a suggestion.
 */
export function loadJsonFile<S extends AnySchema>(text: string, file: string, schema: S): z.output<S> {
  const doc = parseJsonDocument(text, file, ErrorCodes.FILE_INVALID);
  const v = validateDocument(doc, schema);
  const errors = [...v.errors, ...v.warnings];
  return throwIfInvalid(
    { ...v, errors, value: errors.length ? undefined : v.value },
    ErrorCodes.FILE_INVALID,
    `correct ${file} at that line`,
  );
}
