import { homedir } from 'node:os';
import { join } from 'node:path';
import { isInside, resolveReal } from '../../sdk/index.ts';
import { type Effect, judgeCommand, programName } from './commands.ts';
import { bashParser, type SyntaxNode } from './parser.ts';
import { toWord, type Word } from './words.ts';

/** What the validator concluded about a whole command line. */
export interface BashVerdict {
  /** deny: refused outright; ask: needs approval whatever the mode; allow: the permission mode decides. */
  decision: 'allow' | 'ask' | 'deny';
  /** Every command is read-only and nothing is written: runs in read-only mode without approval. */
  readOnly: boolean;
  /** Why it is not read-only, why it asks, why it is refused. */
  reasons: string[];
  /** Each simple command as text (wrappers unwrapped), what `Bash(…)` rules are matched against. */
  commands: string[];
}

export interface AnalyzeOptions {
  cwd: string;
  roots: string[];
  /** Paths, relative to each root, that need approval before anything writes there. */
  protectedPaths: string[];
  home?: string;
}

// Characters that make a command read differently from what runs: zero-width and bidi controls, and a
// carriage return, which lets a terminal hide what comes before it.
const INVISIBLE = /[\r\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;
const WRITABLE_DEVICES = /^\/dev\/(null|stdout|stderr|tty|fd\/\d+)$/;
const RANK: Record<Effect, number> = { read: 0, write: 1, dangerous: 2 };
const MAX_DEPTH = 8;

class Analysis {
  effect: Effect = 'read';
  readonly reasons = new Set<string>();
  readonly askReasons = new Set<string>();
  readonly denyReasons = new Set<string>();
  readonly commands: string[] = [];
  private readonly home: string;

  constructor(private readonly options: AnalyzeOptions) {
    this.home = options.home ?? homedir();
  }

  raise(effect: Effect, reasons: string[]): void {
    if (RANK[effect] > RANK[this.effect]) this.effect = effect;
    for (const r of reasons) (effect === 'dangerous' ? this.askReasons : this.reasons).add(r);
  }

  ask(reason: string): void {
    this.askReasons.add(reason);
  }

  private resolve(word: Word, cwd: string): string | undefined {
    if (word.value === undefined) return undefined;
    try {
      return resolveReal(word.value, cwd, this.home);
    } catch {
      return undefined;
    }
  }

  /** Checks a path a command reads or writes: inside the workspace, and not protected when written. */
  checkPath(word: Word, cwd: string, write: boolean, why: string): void {
    if (word.pattern !== undefined) word = { value: globBase(word.pattern), raw: word.raw };
    if (word.value === undefined) {
      this.ask(`${why} ${word.raw} is only known at run time`);
      return;
    }
    if (write && WRITABLE_DEVICES.test(word.value)) return;
    const path = this.resolve(word, cwd);
    if (!path) {
      this.ask(`${why} ${word.raw} cannot be resolved`);
      return;
    }
    if (!this.options.roots.some((root) => isInside(path, root))) {
      this.ask(`${why} ${word.raw} is outside the workspace (${path})`);
      return;
    }
    if (!write) return;
    const hit = this.options.roots
      .flatMap((root) => this.options.protectedPaths.map((p) => join(root, p)))
      .find((p) => isInside(path, p));
    if (hit) this.ask(`${why} ${word.raw} writes under ${hit}, which is protected`);
  }

  /** A recursive rm/chmod/chown of /, the home folder, a workspace root or a folder above one. */
  checkDestructive(target: Word, cwd: string, name: string): void {
    const path = this.resolve(
      target.pattern !== undefined ? { value: globBase(target.pattern), raw: target.raw } : target,
      cwd,
    );
    if (!path) return;
    const precious = ['/', this.home, ...this.options.roots];
    if (precious.some((p) => isInside(p, path)))
      this.raise('dangerous', [
        `${name} -r of ${target.raw} (${path}) would destroy the workspace, the home folder or the system`,
      ]);
  }
}

/** The folder a glob pattern can reach: everything before its first wildcard, up to the last slash. */
function globBase(pattern: string): string {
  const wild = pattern.search(/[*?[]/);
  const head = wild === -1 ? pattern : pattern.slice(0, wild);
  const slash = head.lastIndexOf('/');
  return slash === -1 ? '.' : head.slice(0, slash) || '/';
}

interface Scope {
  cwd: string;
  depth: number;
}

function isNamed(n: SyntaxNode | null): n is SyntaxNode {
  return Boolean(n?.isNamed);
}

/** Judges one simple command (`name args…`) and whatever it runs in turn. */
async function judgeArgv(a: Analysis, argv: Word[], scope: Scope, inPipe: boolean): Promise<void> {
  const [name, ...args] = argv;
  if (!name) return;
  const text = argv.map((w) => w.value ?? w.raw).join(' ');
  a.commands.push(text);
  if (name.value === undefined) {
    a.ask(`the command name ${name.raw} is only known at run time`);
    a.raise('write', [`${name.raw} is computed at run time`]);
    return;
  }
  if (/[^\x21-\x7e]/.test(name.value)) {
    a.denyReasons.add(
      `the command name ${JSON.stringify(name.value)} has spaces, control or non-ASCII characters (look-alike letters?)`,
    );
    return;
  }
  const j = judgeCommand(name, args);
  a.raise(j.effect, j.reasons);
  if (
    j.effect === 'read' &&
    !j.noPaths &&
    args.some((w) => w.value === undefined && w.pattern === undefined) &&
    !j.runs.length
  )
    a.ask(`${programName(name.value)} has arguments only known at run time`);
  if (j.readsScript && inPipe)
    a.raise('dangerous', [`a pipe into ${name.value} runs whatever the previous command prints`]);
  if (!name.value.includes('/') || name.value.startsWith('/')) {
    // A program by path is checked like any path; a bare name is looked up in PATH.
  } else {
    a.checkPath(name, scope.cwd, false, 'the program');
  }
  const write = j.effect !== 'read';
  for (const w of j.reads) a.checkPath(w, scope.cwd, write, programName(name.value));
  for (const w of j.writes) a.checkPath(w, scope.cwd, true, programName(name.value));
  if ('recursive' in j && j.recursive)
    for (const w of j.writes) a.checkDestructive(w, scope.cwd, programName(name.value));
  if (j.cd) {
    a.checkPath(j.cd, scope.cwd, false, 'cd to');
    if (j.cd.value !== undefined) scope.cwd = resolveReal(j.cd.value, scope.cwd);
  }
  for (const inner of j.runs) await judgeArgv(a, inner, scope, inPipe);
  for (const script of j.scripts) {
    if (script.value === undefined) {
      a.ask(`the shell code ${script.raw} is only known at run time`);
      a.raise('write', ['runs shell code computed at run time']);
    } else if (scope.depth >= MAX_DEPTH) {
      a.ask('shell code nested too deeply to judge');
    } else {
      await analyzeSource(a, script.value, { cwd: scope.cwd, depth: scope.depth + 1 });
    }
  }
}

const SUBSHELL_TYPES = new Set(['subshell', 'command_substitution', 'process_substitution']);

async function walk(a: Analysis, node: SyntaxNode, scope: Scope, inPipe: boolean): Promise<void> {
  switch (node.type) {
    case 'command': {
      const words: Word[] = [];
      for (const child of node.namedChildren) {
        if (!isNamed(child)) continue;
        if (child.type === 'variable_assignment') {
          a.raise('write', ['the command sets environment variables for what it runs']);
          for (const sub of child.namedChildren) if (isNamed(sub)) await walk(a, sub, scope, inPipe);
          continue;
        }
        if (child.type === 'command_name' || words.length) words.push(toWord(child));
        // Substitutions inside the name and arguments run first: judge them too.
        await walkExpansions(a, child, scope);
      }
      await judgeArgv(a, words, scope, inPipe);
      return;
    }
    case 'file_redirect': {
      const op = node.children.find((c) => c && !c.isNamed)?.type ?? '>';
      const dest = node.childForFieldName('destination');
      if (!dest) return;
      if (/&$/.test(op) && (dest.type === 'number' || dest.text === '-')) return; // 2>&1, >&-
      await walkExpansions(a, dest, scope);
      const writes = op.includes('>');
      if (writes && !WRITABLE_DEVICES.test(toWord(dest).value ?? ''))
        a.raise('write', ['the command redirects output to a file']);
      a.checkPath(toWord(dest), scope.cwd, writes, writes ? 'output to' : 'input from');
      return;
    }
    case 'declaration_command':
    case 'variable_assignment':
    case 'unset_command':
      // export PATH=…, X=1, unset …: later commands in this shell may run something else than they say.
      a.raise('write', ['the command line sets shell variables (PATH, IFS…) for what runs after it']);
      for (const child of node.namedChildren) if (isNamed(child)) await walkExpansions(a, child, scope);
      return;
    case 'heredoc_redirect':
    case 'herestring_redirect':
      for (const child of node.namedChildren) if (isNamed(child)) await walkExpansions(a, child, scope);
      return;
    case 'pipeline': {
      for (const child of node.namedChildren) if (isNamed(child)) await walk(a, child, { ...scope }, true);
      return;
    }
    case 'function_definition': {
      const name = node.childForFieldName('name')?.text;
      const body = node.childForFieldName('body');
      if (name && body && body.descendantsOfType('command_name').some((c) => c?.text === name))
        a.raise('dangerous', [`the function ${name} calls itself (a fork bomb?)`]);
      if (body) await walk(a, body, { ...scope }, inPipe);
      return;
    }
    default: {
      const child = SUBSHELL_TYPES.has(node.type) ? { ...scope } : scope;
      for (const c of node.namedChildren) if (isNamed(c)) await walk(a, c, child, inPipe);
    }
  }
}

/** Finds `$(…)`, backticks and `<(…)` inside a word and judges what they run. */
async function walkExpansions(a: Analysis, node: SyntaxNode, scope: Scope): Promise<void> {
  if (SUBSHELL_TYPES.has(node.type)) {
    await walk(a, node, { ...scope }, false);
    return;
  }
  for (const child of node.namedChildren) if (isNamed(child)) await walkExpansions(a, child, scope);
}

async function analyzeSource(a: Analysis, source: string, scope: Scope): Promise<void> {
  if (INVISIBLE.test(source)) {
    a.denyReasons.add(
      'the command contains invisible characters or a carriage return, which can hide what it runs',
    );
    return;
  }
  const tree = (await bashParser()).parse(source);
  if (!tree) {
    a.ask('the command could not be parsed');
    return;
  }
  try {
    if (tree.rootNode.hasError) {
      a.ask('the command could not be parsed as bash, so it cannot be judged');
      a.raise('write', ['unparseable']);
      return;
    }
    await walk(a, tree.rootNode, scope, false);
  } finally {
    tree.delete();
  }
}

/**
 * Judges a bash command line before it runs: parses it with the bash grammar and judges every simple
 * command in it (lists, pipelines, subshells, `$(…)`, backticks, `<(…)`, here-docs, function bodies), after
 * unwrapping wrappers (`timeout`, `env`, `xargs`, `sudo`, `bash -c '…'`, `find -exec`). Paths in arguments,
 * redirections and `cd` are resolved (symlinks too) against the working directory as it changes.
 */
export async function analyzeBash(command: string, options: AnalyzeOptions): Promise<BashVerdict> {
  const a = new Analysis(options);
  if (!command.trim()) a.denyReasons.add('the command is empty');
  else await analyzeSource(a, command, { cwd: options.cwd, depth: 0 });
  if (a.denyReasons.size)
    return { decision: 'deny', readOnly: false, reasons: [...a.denyReasons], commands: a.commands };
  const readOnly = a.effect === 'read' && a.askReasons.size === 0;
  const reasons = [...a.askReasons, ...(readOnly ? [] : [...a.reasons])];
  return {
    decision: a.askReasons.size || a.effect === 'dangerous' ? 'ask' : 'allow',
    readOnly,
    reasons: readOnly ? ['every command is read-only'] : reasons,
    commands: a.commands,
  };
}
