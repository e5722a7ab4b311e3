import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import fg from 'fast-glob';
import { isInside, resolveReal } from '../../sdk/index.ts';
import { type Cover, type Effect, judgeCommand, programName } from './commands.ts';
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
  /** Per command: the shortest rule prefix that may allow it (see PermissionSubjects.covers). */
  covers: Array<string | undefined>;
  /** Why it asks (empty unless decision is ask). */
  needs: string[];
  /** Files it reads and writes, resolved: `Read(...)` and `Edit(...)` rules judge them. */
  reads: string[];
  /** Folders it reads every file under (`grep -r`, `rg`). */
  recursiveReads: string[];
  writes: string[];
  /** Why it needs the network (empty: it does not, as far as the gate can tell). */
  network: string[];
  /** The commands (indexes into `commands`) whose needs a rule must answer; the others the mode decides. */
  asking: number[];
  /** The commands that need the network. */
  networkAt: number[];
  /** Protected paths it changes by design (`.git` for `git commit`), relative to a workspace root. */
  unlocks: string[];
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
const WRITABLE_DEVICES = /^\/dev\/(null|stdout|stderr|tty|fd\/[0-2])$/;
const READABLE_DEVICES = /^\/dev\/(null|stdin|zero|urandom|random|tty|fd\/\d+)$/;
const RANK: Record<Effect, number> = { read: 0, write: 1, dangerous: 2 };
const MAX_DEPTH = 8;

/** Where commands run: one folder, several (after a `cd` that may not have happened), or unknown. */
type Cwd = string[] | undefined;

class Analysis {
  effect: Effect = 'read';
  readonly reasons = new Set<string>();
  readonly askReasons = new Set<string>();
  readonly denyReasons = new Set<string>();
  readonly commands: string[] = [];
  readonly covers: Array<string | undefined> = [];
  readonly reads = new Set<string>();
  readonly recursiveReads = new Set<string>();
  readonly writes = new Set<string>();
  readonly network = new Set<string>();
  readonly unlocks = new Set<string>();
  /** An ask that no command's rule can answer (the line could not be parsed, say). */
  untied = false;
  /** The commands whose asks a rule must answer; the rest are left to the mode. */
  readonly asking = new Set<number>();
  /** The commands that need the network. */
  readonly networkAt = new Set<number>();
  /** Whether a git command changes .git, and whether anything else on the line runs or writes. */
  gitWrites = false;
  otherWrites = false;
  cdpath = false;
  /** Variables set in this line to plain values (`n=3`, a loop over known words): safe in arithmetic. */
  readonly staticVars = new Set<string>();
  readonly home: string;

  constructor(readonly options: AnalyzeOptions) {
    this.home = options.home ?? homedir();
  }

  raise(effect: Effect, reasons: string[], index?: number): void {
    if (effect === 'dangerous') {
      if (index === undefined) this.untied = true;
      else this.asking.add(index);
    }
    if (RANK[effect] > RANK[this.effect]) this.effect = effect;
    for (const r of reasons) (effect === 'dangerous' ? this.askReasons : this.reasons).add(r);
  }

  /** An ask tied to the command being judged (`index`), or to the whole line. */
  ask(reason: string, index?: number): void {
    this.askReasons.add(reason);
    if (index === undefined) this.untied = true;
    else {
      this.covers[index] = this.commands[index];
      this.asking.add(index);
    }
  }

  private resolveAll(word: Word, cwd: Cwd): string[] | undefined {
    if (word.value === undefined) return undefined;
    // A quoted ~ is a file named ~; ~+ is the working folder; ~- the previous one (unknown here).
    const tilde = word.raw.startsWith('~');
    let value = tilde || !word.value.startsWith('~') ? word.value : `./${word.value}`;
    if (tilde && /^~-(\/|$)/.test(value)) return undefined;
    if (tilde && /^~\+(\/|$)/.test(value)) value = `.${value.slice(2)}`;
    const absolute = value.startsWith('/') || value === '~' || value.startsWith('~/');
    if (!cwd && !absolute) return undefined;
    try {
      return (absolute ? ['/'] : cwd!).map((c) => resolveReal(value, c, this.home));
    } catch {
      return undefined;
    }
  }

  /** Checks a path a command reads or writes: inside the workspace, and not protected when written. */
  checkPath(word: Word, cwd: Cwd, write: boolean, why: string, index?: number, record = true): void {
    if (word.pattern !== undefined) {
      // What the glob names now is what bash will pass: each match is judged (a rule may deny one).
      for (const c of cwd ?? [])
        for (const hit of globMatches(word.pattern, c))
          this.checkPath({ value: hit, raw: word.raw }, [c], write, why, index, record);
      word = { value: globBase(word.pattern), raw: word.raw };
    }
    if (word.value === undefined) {
      this.ask(`${why} ${word.raw} is only known at run time`, index);
      return;
    }
    if (write ? WRITABLE_DEVICES.test(word.value) : READABLE_DEVICES.test(word.value)) return;
    const paths = this.resolveAll(word, cwd);
    if (!paths) {
      this.ask(
        cwd
          ? `${why} ${word.raw} cannot be resolved`
          : `${why} ${word.raw} is relative to a working directory only known at run time`,
        index,
      );
      return;
    }
    for (const path of paths) {
      if (record) (write ? this.writes : this.reads).add(path);
      if (!this.options.roots.some((root) => isInside(path, root))) {
        // Another name of a file with several links may be a secret (~/.ssh/id_rsa): the ask says so.
        const info = statSync(path, { throwIfNoEntry: false });
        const links = info?.isFile() ? info.nlink : 1;
        const more =
          links > 1 ? `; it has ${links} hard links, so it may be another file under another name` : '';
        this.ask(`${why} ${word.raw} is outside the workspace (${path})${more}`, index);
        continue;
      }
      if (!write) continue;
      for (const root of this.options.roots)
        for (const rel of this.options.protectedPaths) {
          const p = join(root, rel);
          if (isInside(path, p)) {
            this.ask(`${why} ${word.raw} writes under ${p}, which is protected`, index);
            this.unlocks.add(rel);
          } else if (
            !rel.includes('/') &&
            isInside(path, root) &&
            relative(root, path).split(sep).includes(rel)
          )
            // A nested .icode or .claude is a project's settings too, for whoever starts there next.
            this.ask(`${why} ${word.raw} writes a ${rel} inside the workspace, which is protected`, index);
        }
    }
  }

  /** A recursive rm/chmod/chown of /, the home folder, a workspace root or a folder above one. */
  checkDestructive(target: Word, cwd: Cwd, name: string, index: number): void {
    const word = target.pattern !== undefined ? { value: globBase(target.pattern), raw: target.raw } : target;
    const paths = this.resolveAll(word, cwd) ?? [];
    const precious = ['/', this.home, ...this.options.roots];
    if (paths.some((path) => precious.some((p) => isInside(p, path)))) {
      this.raise(
        'dangerous',
        [`${name} -r of ${target.raw} would destroy the workspace, the home folder or the system`],
        index,
      );
      this.covers[index] = this.commands[index];
    }
  }
}

/** The files a glob names in a folder now (at most a few hundred; bash would pass them all). */
function globMatches(pattern: string, cwd: string): string[] {
  try {
    // Without globstar, bash reads ** as *: one folder level per path component, as here.
    return fg
      .sync(pattern.replace(/\*\*+/g, '*'), {
        cwd,
        dot: true,
        onlyFiles: false,
        // bash's globs go through symlinked folders: so does the judging.
        followSymbolicLinks: true,
        suppressErrors: true,
      })
      .slice(0, 500);
  } catch {
    return [];
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
  cwd: Cwd;
  depth: number;
  /** Loop variables whose values are known words (`for f in a b`). */
  vars?: Record<string, string[]>;
}

const copy = (scope: Scope): Scope => ({ ...scope, cwd: scope.cwd && [...scope.cwd] });
const merge = (a: Cwd, b: Cwd): Cwd => (a && b ? [...new Set([...a, ...b])] : undefined);

function isNamed(n: SyntaxNode | null): n is SyntaxNode {
  return Boolean(n?.isNamed);
}

function coverText(text: string, cover: Cover | undefined): string | undefined {
  if (!cover) return undefined;
  const words = text.split(' ');
  return cover === 'all' ? text : cover === 'sub' ? words.slice(0, 2).join(' ') : words[0];
}

/** Judges one simple command (`name args…`) and whatever it runs in turn. */
async function judgeArgv(
  a: Analysis,
  argv: Word[],
  scope: Scope,
  inPipe: boolean,
  assigned: string[] = [],
): Promise<void> {
  const [name, ...args] = argv;
  if (!name) return;
  const text = [...assigned, ...argv.map((w) => w.value ?? w.raw)].join(' ');
  const index = a.commands.push(text) - 1;
  a.covers.push(undefined);
  if (name.value === undefined) {
    a.ask(`the command name ${name.raw} is only known at run time`, index);
    a.raise('write', [`${name.raw} is computed at run time`]);
    return;
  }
  if (/[^\x21-\x7e]/.test(name.value)) {
    a.denyReasons.add(
      `the command name ${JSON.stringify(name.value)} has spaces, control or non-ASCII characters (look-alike letters?)`,
    );
    return;
  }
  const program = programName(name.value);
  const j = judgeCommand(name, args);
  a.raise(j.effect === 'dangerous' ? 'write' : j.effect, j.reasons);
  if (j.effect === 'dangerous') a.raise('dangerous', j.dangers?.length ? j.dangers : j.reasons, index);
  a.covers[index] = coverText(text, j.effect === 'dangerous' ? (j.cover ?? 'all') : j.cover);
  if (
    j.effect === 'read' &&
    !j.noPaths &&
    args.some((w) => w.value === undefined && w.pattern === undefined) &&
    !j.runs.length
  )
    a.ask(`${program} has arguments only known at run time`, index);
  if (j.readsScript && inPipe) {
    a.raise('dangerous', [`a pipe into ${name.value} runs whatever the previous command prints`], index);
    a.covers[index] = text;
  }
  if (!scope.cwd && !j.noPaths && !j.cd)
    a.ask(
      `${program} runs in a working directory only known at run time (after cd -, popd, a cd in a loop)`,
      index,
    );
  if (j.network) {
    a.network.add(j.network);
    a.networkAt.add(index);
  }
  // A program icode does not know may write any path it is given: naming a protected path asks.
  if (j.effect !== 'read' && j.namesProtected)
    for (const w of j.reads)
      if (w.value !== undefined) a.checkPath(w, scope.cwd, true, program, index, false);
  for (const u of j.unlocks ?? []) a.unlocks.add(u);
  if (j.unlocks?.includes('.git') && program === 'git') a.gitWrites = true;
  else if (j.effect !== 'read' && program !== 'git') a.otherWrites = true;
  // A program by path outside the workspace (not a system folder) runs code nobody judged.
  if (name.value.includes('/') && programName(name.value) === name.value)
    a.checkPath(name, scope.cwd, false, 'the program', index);
  for (const w of j.reads) a.checkPath(w, scope.cwd, false, program, index);
  for (const w of j.recursiveReads ?? [])
    for (const c of scope.cwd ?? [])
      if (w.value !== undefined) a.recursiveReads.add(resolveReal(w.value, c, a.home));
  for (const w of j.writes) a.checkPath(w, scope.cwd, true, program, index);
  if (j.recursive) for (const w of j.writes) a.checkDestructive(w, scope.cwd, program, index);
  for (const w of j.assigns ?? []) await checkArithmetic(a, w, scope, `${program} assigns ${w.raw}`);
  for (const w of j.arithmetic ?? [])
    await checkArithmetic(a, w, scope, `${program} evaluates ${w.raw} as arithmetic`);
  if (program === 'let')
    for (const w of args) runtimeNames(a, (w.value ?? w.raw).replace(/^[A-Za-z_]\w*[-+*/%]?=/, ''), 'let');
  let innerScope = scope;
  if (j.runsIn) {
    a.checkPath(j.runsIn, scope.cwd, false, `${program} runs in`, index);
    innerScope = { ...scope, cwd: changeDir(a, scope.cwd, j.runsIn) };
  }
  if (program === 'git' && j.effect === 'read')
    for (const dir of innerScope.cwd ?? []) {
      const nested = nestedRepository(dir, a.options.roots);
      if (nested)
        a.raise('write', [
          `git in ${nested}, a repository nested in the workspace, obeys that repository's config (its diff, textconv and filter programs)`,
        ]);
    }
  if (j.cd === 'unknown') scope.cwd = undefined;
  else if (j.cd && program !== 'git') {
    a.checkPath(j.cd, scope.cwd, false, 'cd to', index);
    scope.cwd = changeDir(a, scope.cwd, j.cd);
  }
  for (const inner of j.runs) await judgeArgv(a, inner, copy(innerScope), inPipe);
  for (const script of j.scripts) {
    if (script.value === undefined) {
      a.ask(`the shell code ${script.raw} is only known at run time`, index);
      a.raise('write', ['runs shell code computed at run time']);
    } else if (scope.depth >= MAX_DEPTH) {
      a.ask('shell code nested too deeply to judge', index);
    } else {
      await analyzeSource(a, script.value, { cwd: scope.cwd, depth: scope.depth + 1 });
    }
  }
}

/** The repository git finds from `dir` when it is not a workspace root's own: a nested one. */
function nestedRepository(dir: string, roots: readonly string[]): string | undefined {
  const root = roots.find((r) => isInside(dir, r));
  if (!root) return undefined;
  for (let d = dir; d !== root && isInside(d, root); d = dirname(d))
    if (existsSync(join(d, '.git'))) return d;
  return undefined;
}

/** The folders after `cd DIR`: DIR from each; a DIR that does not exist may fail and leave the old one. */
function changeDir(a: Analysis, cwd: Cwd, dir: Word): Cwd {
  if (dir.value === undefined) return undefined;
  const relative = !dir.value.startsWith('/') && !dir.value.startsWith('~');
  // With CDPATH set, `cd name` may go to a folder named in it rather than one under the working directory.
  if (a.cdpath && relative && !/^\.\.?(\/|$)/.test(dir.value)) return undefined;
  if (!cwd && relative) return undefined;
  const from = relative ? cwd! : ['/'];
  const out: string[] = [];
  for (const c of from) {
    try {
      out.push(resolveReal(dir.value, c, a.home));
    } catch {
      return undefined;
    }
  }
  return out;
}

/**
 * A word bash evaluates as arithmetic or as a variable name (`[[ x -eq y ]]`, `printf -v`, `test -v`):
 * a subscript in it is evaluated, and a command substitution there runs. Its text is judged as shell code.
 */
async function checkArithmetic(a: Analysis, word: Word, scope: Scope, why: string): Promise<void> {
  const v = word.value;
  if (v === undefined) return;
  const code = embeddedCode(v);
  if (!code.length && !/[[`$]/.test(v)) return;
  a.raise('write', [`${why}, which can run commands`]);
  for (const c of code) await analyzeSource(a, c, { cwd: scope.cwd, depth: scope.depth + 1 });
}

/** The command substitutions (`$(…)`, backticks) inside a string that bash will expand later. */
function embeddedCode(text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '$' && text[i + 1] === '(' && text[i + 2] !== '(') {
      let depth = 0;
      let j = i + 1;
      for (; j < text.length; j++) {
        if (text[j] === '(') depth++;
        else if (text[j] === ')' && --depth === 0) break;
      }
      out.push(text.slice(i + 2, j));
      i = j;
    } else if (text[i] === '`') {
      const end = text.indexOf('`', i + 1);
      out.push(text.slice(i + 1, end === -1 ? undefined : end));
      i = end === -1 ? text.length : end;
    }
  }
  return out;
}

const SAFE_VARIABLES =
  /^(LANG|LANGUAGE|LC_[A-Z]+|TZ|NO_COLOR|FORCE_COLOR|CLICOLOR|COLUMNS|TERM)=[\w.:@/+-]*$|^IFS=('')?$/;
const SUBSHELL_TYPES = new Set(['subshell', 'command_substitution', 'process_substitution']);
const LOOPS = new Set(['for_statement', 'c_style_for_statement', 'while_statement']);

/** Text of expansions bash evaluates in ways that run code: prompt expansion, indirection, arithmetic. */
async function checkExpansionText(a: Analysis, node: SyntaxNode, scope: Scope): Promise<void> {
  // Single-quoted text is literal; everything else may expand.
  const text = node.text.replace(/(^|[^$\\])'[^']*'/g, '$1');
  if (/\$\{[^}]*@[PEAKa]/.test(text))
    a.raise('write', ["a prompt expansion (@P) runs the command substitutions in a variable's value"]);
  if (/\$\{!/.test(text))
    a.raise('write', ['an indirect expansion (! before a name) evaluates a name held in a variable']);
  // ${s:offset:length} and ${a[i]}: evaluated as arithmetic, where a subscript can run commands.
  for (const m of text.matchAll(/\$\{#?[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\]|:[^-=?+}][^}]*)/g)) {
    const part = m[1]!;
    if (part.startsWith(':')) runtimeNames(a, part.slice(1), `the offset of ${m[0]}…}`);
    if (/[`$'"[]/.test(part.slice(1))) {
      a.raise('write', [`the expansion ${m[0]}…} evaluates arithmetic that can run commands`]);
      for (const c of embeddedCode(part))
        await analyzeSource(a, c, { cwd: scope.cwd, depth: scope.depth + 1 });
    }
  }
}

async function walk(a: Analysis, node: SyntaxNode, scope: Scope, inPipe: boolean): Promise<void> {
  switch (node.type) {
    case 'command': {
      const words: Word[] = [];
      const assigned: string[] = [];
      const feeds: SyntaxNode[] = [];
      for (const child of node.namedChildren) {
        if (!isNamed(child)) continue;
        if (child.type === 'variable_assignment') {
          // LANG=C ls is ls: locale, time zone and colour change only how output looks.
          if (SAFE_VARIABLES.test(child.text)) continue;
          assigned.push(child.text);
          await assignment(a, child, scope);
          continue;
        }
        if (
          child.type === 'file_redirect' ||
          child.type === 'heredoc_redirect' ||
          child.type === 'herestring_redirect'
        ) {
          if (child.type !== 'file_redirect') feeds.push(child);
          await walk(a, child, scope, inPipe);
          continue;
        }
        // <(cmd) is a pipe the program reads as /dev/fd/N.
        if (child.type === 'process_substitution') words.push({ value: '/dev/fd/63', raw: child.text });
        else if (child.type === 'command_name' || words.length) words.push(toWord(child));
        await checkExpansionText(a, child, scope);
        // Substitutions inside the name and arguments run first: judge them too.
        await walkExpansions(a, child, scope);
      }
      // `LD_PRELOAD=x ls` is not `ls`: the assignments are part of what a rule must match.
      for (const argv of withLoopValues(words, scope)) await judgeArgv(a, argv, scope, inPipe, assigned);
      for (const feed of feeds) await heredocScript(a, node, feed, scope);
      return;
    }
    case 'redirected_statement': {
      const body = node.childForFieldName('body') ?? node.namedChildren[0];
      // Node wrappers are new objects on every access: compare by id.
      const redirects = node.namedChildren.filter((c) => isNamed(c) && c.id !== body?.id) as SyntaxNode[];
      for (const r of redirects) await walk(a, r, scope, inPipe);
      // A shell or interpreter fed a here-document runs it as its program.
      const heredoc = redirects.find(
        (r) => r.type === 'heredoc_redirect' || r.type === 'herestring_redirect',
      );
      if (body) await walk(a, body, scope, inPipe);
      if (heredoc && body?.type === 'command') await heredocScript(a, body, heredoc, scope);
      return;
    }
    case 'file_redirect': {
      const op = node.children.find((c) => c && !c.isNamed)?.type ?? '>';
      const dest = node.childForFieldName('destination') ?? node.namedChildren.at(-1);
      if (!dest || dest.type === 'file_descriptor') return;
      if (/&$/.test(op) && (dest.type === 'number' || /^\d+-?$|^-$/.test(dest.text))) return; // 2>&1, >&-
      await walkExpansions(a, dest, scope);
      const writes = op.includes('>');
      const word = toWord(dest);
      if (writes && !WRITABLE_DEVICES.test(word.value ?? ''))
        a.raise('write', ['the command redirects output to a file']);
      const index = a.commands.length ? a.commands.length - 1 : undefined;
      a.checkPath(word, scope.cwd, writes, writes ? 'output to' : 'input from', index);
      if (op === '<>') a.checkPath(word, scope.cwd, true, 'output to', index);
      return;
    }
    case 'declaration_command':
    case 'variable_assignment':
    case 'unset_command': {
      if (node.type === 'variable_assignment') {
        // n=3 sets a plain shell variable (not exported): harmless unless bash gives the name a meaning
        // (PATH, IFS, CDPATH…) or the value holds brackets or expansions that arithmetic would evaluate.
        const name = (node.childForFieldName('name') ?? node.namedChildren[0])?.text ?? '';
        const value = node.childForFieldName('value');
        const staticValue = value ? toWord(value).value : '';
        const plain =
          /^[a-z_][a-z0-9_]*$/.test(name) && (staticValue === undefined ? true : !/[[`$]/.test(staticValue));
        if (staticValue !== undefined && /^[\w.,:@/+%-]*$/.test(staticValue)) a.staticVars.add(name);
        else a.staticVars.delete(name);
        await assignment(a, node, scope, false, plain);
        return;
      }
      // export PATH=…, unset …: later commands in this shell may run something else than they say.
      a.raise('write', ['the command line sets shell variables (PATH, IFS…) for what runs after it']);
      const integer = node.namedChildren.some((c) => /^-[a-zA-Z]*i/.test(c?.text ?? ''));
      for (const child of node.namedChildren) {
        if (!isNamed(child)) continue;
        if (child.type === 'variable_assignment') await assignment(a, child, scope, integer);
        else {
          await checkArithmetic(
            a,
            toWord(child),
            scope,
            `${node.children[0]?.text ?? 'declare'} names ${child.text}`,
          );
          await walkExpansions(a, child, scope);
        }
      }
      return;
    }
    case 'heredoc_redirect':
    case 'herestring_redirect':
      for (const child of node.namedChildren) {
        if (!isNamed(child)) continue;
        // `cat <<'EOF' > file` and `cat <<EOF | sh`: the grammar nests what follows the here-document's
        // start (a redirection, the rest of a pipeline) inside it.
        if (child.type === 'file_redirect') await walk(a, child, scope, inPipe);
        else if (/statement|pipeline|command|list/.test(child.type)) await walk(a, child, copy(scope), true);
        else if (child.type === 'heredoc_body') {
          // An unquoted here-document expands $(…) and backticks in its body, which the grammar does not
          // always parse (`<<-`): the body's text is judged for them.
          if (!/^<<-?\s*['"\\]/.test(node.text)) {
            await walkExpansions(a, child, scope);
            await textCode(a, child, scope);
          }
        } else await walkExpansions(a, child, scope);
      }
      return;
    case 'test_command':
      await testCommand(a, node, scope);
      return;
    case 'compound_statement':
      // (( … )): arithmetic; { …; }: a group.
      if (node.text.startsWith('((')) await arithmetic(a, node, scope);
      else for (const c of node.namedChildren) if (isNamed(c)) await walk(a, c, scope, inPipe);
      return;
    case 'arithmetic_expansion':
      await arithmetic(a, node, scope);
      return;
    case 'pipeline': {
      for (const child of node.namedChildren) if (isNamed(child)) await walk(a, child, copy(scope), true);
      return;
    }
    case 'list': {
      // a && b, a || b: a runs; b may not, so the folder after is either.
      const [left, right] = node.namedChildren.filter(isNamed);
      if (left) await walk(a, left, scope, inPipe);
      if (right) {
        const branch = copy(scope);
        await walk(a, right, branch, inPipe);
        scope.cwd = merge(scope.cwd, branch.cwd);
      }
      return;
    }
    case 'if_statement':
    case 'case_statement': {
      let after: Cwd = scope.cwd;
      for (const c of node.namedChildren) {
        if (!isNamed(c)) continue;
        const branch = copy(scope);
        await walk(a, c, branch, inPipe);
        after = merge(after, branch.cwd);
      }
      scope.cwd = after;
      return;
    }
    case 'function_definition': {
      const name = node.childForFieldName('name')?.text;
      const body = node.childForFieldName('body');
      if (name && body && body.descendantsOfType('command_name').some((c) => c?.text === name))
        a.raise('dangerous', [`the function ${name} calls itself (a fork bomb?)`]);
      // Called any number of times, from anywhere: a cd inside leaves the folder unknown.
      if (body)
        await walk(a, body, { ...copy(scope), cwd: changesDir(body) ? undefined : scope.cwd }, inPipe);
      if (body && changesDir(body)) scope.cwd = undefined;
      return;
    }
    case 'command_substitution':
      if (node.text.startsWith('`')) {
        // Backticks: bash undoes \` \\ \$ inside and parses the body again, so nested backticks run too.
        const body = node.text.slice(1, -1).replace(/\\([`\\$])/g, '$1');
        await analyzeSource(a, body, { ...copy(scope), depth: scope.depth + 1 });
        return;
      }
      for (const c of node.namedChildren) if (isNamed(c)) await walk(a, c, copy(scope), false);
      return;
    default: {
      if (LOOPS.has(node.type)) {
        // A loop's body runs again from where its last pass left: a cd inside makes the folder unknown.
        const unknown = changesDir(node);
        if (node.type === 'for_statement')
          for (const c of node.namedChildren)
            if (isNamed(c) && c.type !== 'do_group' && c.type !== 'variable_name')
              await checkArithmetic(a, toWord(c), scope, `for assigns ${c.text}`);
        const inner: Scope = { ...copy(scope), cwd: unknown ? undefined : scope.cwd };
        if (node.type === 'for_statement') {
          const name = (
            node.childForFieldName('variable') ?? node.namedChildren.find((c) => c?.type === 'variable_name')
          )?.text;
          const items = node.namedChildren.filter(
            (c) => isNamed(c) && c.type !== 'do_group' && c.type !== 'variable_name',
          ) as SyntaxNode[];
          const words = items.map(toWord);
          // `for f in a b; do cat "$f"; done`: each pass sees a known word.
          if (
            name &&
            words.length &&
            words.length <= 16 &&
            words.every((w) => w.value !== undefined && w.pattern === undefined)
          ) {
            inner.vars = { ...scope.vars, [name]: words.map((w) => w.value!) };
            if (words.every((w) => /^[\w.,:@/+%-]*$/.test(w.value!))) a.staticVars.add(name);
          } else if (name) a.staticVars.delete(name);
        }
        for (const c of node.namedChildren) if (isNamed(c)) await walk(a, c, inner, inPipe);
        if (unknown) scope.cwd = undefined;
        return;
      }
      const child = SUBSHELL_TYPES.has(node.type) ? copy(scope) : scope;
      for (const c of node.namedChildren) if (isNamed(c)) await walk(a, c, child, inPipe);
    }
  }
}

/** The command once per value of a loop variable it uses as a whole word (`"$f"`, `${f}`). */
function withLoopValues(words: Word[], scope: Scope): Word[][] {
  const vars = scope.vars;
  if (!vars) return [words];
  const at = words.findIndex((w) => w.value === undefined && loopVariable(w.raw, vars) !== undefined);
  if (at === -1) return [words];
  const name = loopVariable(words[at]!.raw, vars)!;
  return vars[name]!.flatMap((value) =>
    withLoopValues(
      words.map((w, i) => (i === at ? { value, raw: w.raw } : w)),
      scope,
    ),
  );
}

function loopVariable(raw: string, vars: Record<string, string[]>): string | undefined {
  const m = /^"?\$(?:\{([A-Za-z_]\w*)\}|([A-Za-z_]\w*))"?$/.exec(raw);
  const name = m?.[1] ?? m?.[2];
  return name && Object.hasOwn(vars, name) ? name : undefined;
}

const changesDir = (node: SyntaxNode) =>
  node.descendantsOfType('command_name').some((c) => /^(cd|pushd|popd)$/.test(c?.text ?? ''));

async function assignment(
  a: Analysis,
  node: SyntaxNode,
  scope: Scope,
  integer = false,
  plain = false,
): Promise<void> {
  if (!plain) a.raise('write', ['the command line sets variables for what it runs']);
  const name = node.childForFieldName('name') ?? node.namedChildren[0];
  if (name?.text === 'CDPATH') a.cdpath = true;
  if (name?.type === 'subscript') await arithmetic(a, name, scope);
  const value = node.childForFieldName('value');
  if (integer && value) await checkArithmetic(a, toWord(value), scope, `declare -i evaluates ${value.text}`);
  for (const sub of node.namedChildren) if (isNamed(sub)) await walkExpansions(a, sub, scope);
}

/** `[[ … ]]` and `[ … ]` parsed as a test: -eq and friends evaluate their operands as arithmetic. */
async function testCommand(a: Analysis, node: SyntaxNode, scope: Scope): Promise<void> {
  for (const d of [node, ...node.descendantsOfType(['binary_expression', 'unary_expression'])]) {
    if (!d) continue;
    const op = d.children.find((c) => c?.type === 'test_operator')?.text ?? '';
    const operands = d.namedChildren.filter((c) => isNamed(c) && c.type !== 'test_operator') as SyntaxNode[];
    if (/^-(eq|ne|lt|le|gt|ge)$/.test(op) && node.text.startsWith('[['))
      for (const o of operands) {
        await checkArithmetic(a, toWord(o), scope, `[[ ${op} ]] evaluates ${o.text}`);
        if (toWord(o).value === undefined)
          runtimeNames(a, o.text.replace(/(^|[^$\\])'[^']*'/g, '$1'), `[[ ${op} ]]`);
      }
    if (/^-[vR]$/.test(op))
      for (const o of operands) await checkArithmetic(a, toWord(o), scope, `test ${op} evaluates ${o.text}`);
  }
  for (const c of node.namedChildren)
    if (isNamed(c)) {
      await checkExpansionText(a, c, scope);
      await walkExpansions(a, c, scope);
    }
}

const SPECIAL_VARIABLES =
  /^(\d+|[#?$!*@-]|RANDOM|SRANDOM|LINENO|SECONDS|BASHPID|PPID|EPOCHSECONDS|EPOCHREALTIME|UID|EUID)$/;

/**
 * Arithmetic evaluates a variable's value as an expression in turn, and a subscript there runs commands:
 * `read x < f; echo $((x))` runs what f holds (`a[$(cmd)]`). So arithmetic on a variable whose value the
 * line does not set plainly, or on a command's output, is not read-only.
 */
function runtimeNames(a: Analysis, text: string, where: string): void {
  const assigned = new Set([...text.matchAll(/\b([A-Za-z_]\w*)\s*=\s*-?\d+\b/g)].map((m) => m[1]!));
  const names = [...text.matchAll(/\$\{?#?([A-Za-z_]\w*|[#?$!*@-]|\d+)|\b([A-Za-z_]\w*)\b/g)]
    .map((m) => m[1] ?? m[2]!)
    .filter((n) => !/^\d/.test(n) && !SPECIAL_VARIABLES.test(n) && !a.staticVars.has(n) && !assigned.has(n));
  if (names.length || /\$\((?!\()|`/.test(text))
    a.raise('write', [
      `${where} on ${names[0] ? `$${names[0]}` : "a command's output"}, a value only known at run time, can run code hidden in it`,
    ]);
}

/** `(( … ))`, `$(( … ))`: substitutions run; quoted strings and subscripts may hide more. */
async function arithmetic(a: Analysis, node: SyntaxNode, scope: Scope): Promise<void> {
  for (const c of node.namedChildren) if (isNamed(c)) await walkExpansions(a, c, scope);
  runtimeNames(a, node.text, 'arithmetic');
  for (const s of node.descendantsOfType(['string', 'raw_string', 'subscript'])) {
    if (!s) continue;
    const v = toWord(s).value ?? s.text;
    if (s.type !== 'subscript' || /[`$'"]/.test(v)) {
      a.raise('write', [`arithmetic on ${s.text} can run commands`]);
      for (const c of embeddedCode(v)) await analyzeSource(a, c, { cwd: scope.cwd, depth: scope.depth + 1 });
    }
  }
}

/** `bash <<EOF … EOF`: the here-document is the program. */
async function heredocScript(
  a: Analysis,
  command: SyntaxNode,
  redirect: SyntaxNode,
  scope: Scope,
): Promise<void> {
  const words = command.namedChildren.filter(
    (c): c is SyntaxNode => isNamed(c) && c.type !== 'variable_assignment' && !c.type.endsWith('redirect'),
  );
  const name = words[0] ? toWord(words[0]).value : undefined;
  if (!name) return;
  const program = programName(name);
  const stdinSource =
    (program === '.' || program === 'source') &&
    /^\/dev\/(stdin|fd\/0)$/.test(words[1] ? (toWord(words[1]).value ?? '') : '');
  const shell = stdinSource || ['bash', 'sh', 'zsh', 'dash', 'ksh'].includes(program);
  const interpreter = shell || ['python', 'python3', 'node', 'perl', 'ruby', 'php'].includes(program);
  if (!interpreter || (!stdinSource && words.slice(1).some((w) => !/^-/.test(w.text)))) return;
  const body = redirect.namedChildren.find(
    (c) =>
      c?.type === 'heredoc_body' || c?.type === 'string' || c?.type === 'raw_string' || c?.type === 'word',
  );
  const quoted = /^<<-?\s*['"\\]/.test(redirect.text) || redirect.type === 'herestring_redirect';
  const text = body ? (redirect.type === 'herestring_redirect' ? toWord(body).value : body.text) : '';
  if (!shell) return;
  if (text === undefined || (!quoted && /[`$]/.test(text))) {
    a.ask(`${program} runs a here-document whose text is only known at run time`);
    return;
  }
  await analyzeSource(a, text, { cwd: scope.cwd, depth: scope.depth + 1 });
}

/** Finds `$(…)`, backticks and `<(…)` inside a word and judges what they run. */
async function walkExpansions(a: Analysis, node: SyntaxNode, scope: Scope): Promise<void> {
  if (SUBSHELL_TYPES.has(node.type)) {
    await walk(a, node, copy(scope), false);
    return;
  }
  // ${v#$(cmd)}, ${v,,$(cmd)}: the grammar reads the operand as a pattern, bash expands it first.
  if (node.type === 'expansion') await textCode(a, node, scope);
  if (node.type === 'arithmetic_expansion') {
    await arithmetic(a, node, scope);
    return;
  }
  for (const child of node.namedChildren) if (isNamed(child)) await walkExpansions(a, child, scope);
}

/** Command substitutions in a node's text that the grammar did not parse as such: judged as code. */
async function textCode(a: Analysis, node: SyntaxNode, scope: Scope): Promise<void> {
  if (!/\$\(|`/.test(node.text) || node.descendantsOfType('command_substitution').length) return;
  a.raise('write', [`${node.text.slice(0, 40)} expands a command substitution`]);
  for (const code of embeddedCode(node.text))
    await analyzeSource(a, code, { cwd: scope.cwd, depth: scope.depth + 1 });
}

/**
 * Removes backslash-newline pairs outside single quotes, as bash does before it splits words: `cu\<newline>rl`
 * is `curl`. Here-documents are left alone (a quoted one keeps them).
 */
function joinContinuations(source: string): string {
  if (!source.includes('\\\n') || source.includes('<<')) return source;
  let out = '';
  let quoted = false;
  let double = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '"' && !quoted) double = !double;
    else if (c === "'" && !double) quoted = !quoted;
    if (!quoted && c === '\\' && source[i + 1] === '\n') {
      i++;
      continue;
    }
    if (!quoted && c === '\\') {
      out += c + (source[i + 1] ?? '');
      i++;
      continue;
    }
    out += c;
  }
  return out;
}

async function analyzeSource(a: Analysis, source: string, scope: Scope): Promise<void> {
  if (INVISIBLE.test(source)) {
    a.denyReasons.add(
      'the command contains invisible characters or a carriage return, which can hide what it runs',
    );
    return;
  }
  if (scope.depth > MAX_DEPTH) {
    a.ask('shell code nested too deeply to judge');
    return;
  }
  const tree = (await bashParser()).parse(joinContinuations(source));
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
 * unwrapping wrappers (`timeout`, `env`, `xargs`, `sudo`, `bash -c '…'`, `find -exec`). Options are read
 * the way the program reads them (bundled, glued, abbreviated). Paths in arguments, option values,
 * redirections and `cd` are resolved the way the kernel will (symlinks before `..`) against every folder
 * the command may be in by then.
 */
export async function analyzeBash(command: string, options: AnalyzeOptions): Promise<BashVerdict> {
  const a = new Analysis(options);
  if (!command.trim()) a.denyReasons.add('the command is empty');
  else await analyzeSource(a, command, { cwd: [options.cwd], depth: 0 });
  // git's own writes get .git writable; another program on the same line would get that too.
  if (a.gitWrites && a.otherWrites)
    a.ask(
      'git changes the repository (.git) on a line that also runs other programs, which would be able to change .git too: run git on its own, or approve',
    );
  const base = {
    commands: a.commands,
    reads: [...a.reads],
    recursiveReads: [...a.recursiveReads],
    writes: [...a.writes],
    network: [...a.network],
    unlocks: [...a.unlocks],
  };
  if (a.denyReasons.size)
    return {
      decision: 'deny',
      readOnly: false,
      reasons: [...a.denyReasons],
      needs: [],
      covers: a.commands,
      asking: [],
      networkAt: [],
      ...base,
    };
  const readOnly = a.effect === 'read' && a.askReasons.size === 0 && !a.network.size;
  const reasons = [...a.askReasons, ...(readOnly ? [] : [...a.reasons])];
  const asks = a.askReasons.size > 0 || a.effect === 'dangerous';
  return {
    decision: asks ? 'ask' : 'allow',
    readOnly,
    reasons: readOnly ? ['every command is read-only'] : reasons,
    needs: asks ? [...a.askReasons] : [],
    // An ask no single command answers: only rules that name each command exactly can allow the line.
    covers: a.untied ? [...a.commands] : a.covers,
    asking: a.untied ? a.commands.map((_, i) => i) : [...a.asking],
    networkAt: [...a.networkAt],
    ...base,
  };
}
