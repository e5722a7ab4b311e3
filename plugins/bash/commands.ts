import { type CommandOptions, findLong, type OptionSpec, type ParsedArgs, parseOptions } from './options.ts';
import { GIT_GLOBAL, SPECS } from './specs.ts';
import type { Word } from './words.ts';

/**
 * What one simple command does, judged from its name and arguments:
 * - `read`: on the read-only list, with no option that writes or runs something;
 * - `write`: changes files or runs programs (anything not known to be read-only);
 * - `dangerous`: destructive, escalating or running hidden code; always needs approval.
 */
export type Effect = 'read' | 'write' | 'dangerous';

/** How far a permission rule's prefix must reach to allow what this command asks for. */
export type Cover = 'name' | 'sub' | 'all';

export interface Judgement {
  effect: Effect;
  reasons: string[];
  /** Path arguments the command reads or writes (resolved and checked by the caller). */
  reads: Word[];
  writes: Word[];
  /** Commands it runs: wrappers (`timeout 5 cmd`), `xargs cmd`, `find -exec cmd ;`. */
  runs: Word[][];
  /** The folder those commands run in, when the wrapper changes it (`env -C dir cmd`). */
  runsIn?: Word;
  /** Shell code it runs: `bash -c '…'`, `eval …`, `trap '…'`. Undefined value: only known at run time. */
  scripts: Word[];
  /** `cd DIR`: the new working directory for the commands after it; `unknown`: cannot be told. */
  cd?: Word | 'unknown';
  /** The arguments are not paths (echo, printf, date…), so run-time values in them are harmless. */
  noPaths?: boolean;
  /** Runs the script it reads on stdin (`bash` with no arguments, as in `curl … | sh`). */
  readsScript?: boolean;
  /** Why it needs the network (sandboxed commands have none unless approved). */
  network?: string;
  /** Protected paths it changes by design (`git commit` changes `.git`), relative to the repository root. */
  unlocks?: string[];
  /** How far an allow rule's prefix must reach to allow its asks (network, danger): default the name. */
  cover?: Cover;
  /** Variable names it assigns (`printf -v`, `read`): a subscript in one is evaluated as arithmetic. */
  assigns?: Word[];
  /** Words bash evaluates as arithmetic (`test`'s -eq operands, `let`). */
  arithmetic?: Word[];
  /** Why it is dangerous (the asks), apart from the other reasons. */
  dangers?: string[];
  /** Folders whose every file it reads (`grep -r`, `rg`, `git grep --untracked`). */
  recursiveReads?: Word[];
  /** A program icode does not know: a protected path among its arguments asks, as it may write there. */
  namesProtected?: boolean;
  recursive?: boolean;
}

const judgement = (effect: Effect, reasons: string[] = []): Judgement => ({
  effect,
  reasons,
  reads: [],
  writes: [],
  runs: [],
  scripts: [],
});

const dangerous = (why: string, cover: Cover = 'all'): Judgement => ({
  ...judgement('dangerous'),
  dangers: [why],
  cover,
});

/** Commands whose arguments are not paths and that change nothing. */
const INERT = new Set(
  'pwd whoami id uname which type seq sleep true false basename dirname printenv nproc free uptime locale : tty groups arch logname tr'.split(
    ' ',
  ),
);

/** Commands that only read the paths they are given, once their options are judged. */
const READERS = new Set(
  'cat tac nl head tail wc cut paste fold fmt rev strings comm join cmp od hexdump base64 expand unexpand column md5sum sha1sum sha256sum sha512sum realpath readlink ls stat file du df tree diff jq'.split(
    ' ',
  ),
);

const SHELLS = new Set(['bash', 'sh', 'zsh', 'dash', 'ksh', 'fish']);
/** Interpreters that run the program they read on stdin when given none. */
const INTERPRETERS = new Set([
  'python',
  'python3',
  'node',
  'perl',
  'ruby',
  'php',
  'lua',
  'Rscript',
  'deno',
  'bun',
]);
const SYSTEM_DIRS = ['/bin/', '/usr/bin/', '/usr/local/bin/', '/sbin/', '/usr/sbin/'];
const DESTROYERS =
  /^(mkfs(\..+)?|mkswap|wipefs|fdisk|sfdisk|parted|shutdown|reboot|halt|poweroff|init|mount|umount|swapon|swapoff|insmod|rmmod|modprobe|kexec|sysctl|iptables|nft|crontab|at|batch|systemctl|service|launchctl|useradd|usermod|passwd|chpasswd|visudo)$/;
/** Programs whose job is the network: they ask, naming the command, since sandboxed commands have none. */
const NETWORK = new Set(
  'curl wget nc ncat netcat socat ssh scp sftp rsync ftp telnet ping dig nslookup host whois aria2c httpie http https'.split(
    ' ',
  ),
);
/** Package managers' subcommands that download. */
const NETWORK_SUBCOMMANDS: Record<string, Set<string>> = {
  npm: new Set(
    'install i ci add update up upgrade outdated publish view info show audit login adduser whoami search pack dist-tag deprecate owner star exec x create init doctor ping token unpublish'.split(
      ' ',
    ),
  ),
  npx: new Set(['*']),
  pnpm: new Set('install i add update up outdated publish audit dlx create fetch import'.split(' ')),
  yarn: new Set('install add upgrade up outdated publish audit dlx create npm info set'.split(' ')),
  bun: new Set('install i add update x create upgrade publish'.split(' ')),
  pip: new Set('install download search index'.split(' ')),
  pip3: new Set('install download search index'.split(' ')),
  pipx: new Set(['install', 'run', 'upgrade', 'inject']),
  uv: new Set(['add', 'sync', 'pip', 'tool', 'lock', 'venv', 'python', 'run']),
  poetry: new Set(['install', 'add', 'update', 'lock', 'publish']),
  cargo: new Set(['install', 'fetch', 'update', 'publish', 'search', 'add', 'login', 'yank', 'owner']),
  go: new Set(['get', 'install', 'mod']),
  gem: new Set(['install', 'update', 'push', 'fetch']),
  bundle: new Set(['install', 'update', 'add']),
  composer: new Set(['install', 'require', 'update', 'create-project']),
  apt: new Set(['install', 'update', 'upgrade', 'full-upgrade', 'dist-upgrade', 'download']),
  'apt-get': new Set(['install', 'update', 'upgrade', 'dist-upgrade', 'download', 'source']),
  brew: new Set(['install', 'update', 'upgrade', 'fetch', 'tap']),
  docker: new Set(['pull', 'push', 'login', 'build', 'run', 'search']),
  gh: new Set(['*']),
};

/** The program a command name runs, for judging: `/usr/bin/rm` is rm; `./rm` is a local program. */
export function programName(name: string): string {
  const system = SYSTEM_DIRS.find((dir) => name.startsWith(dir));
  return system ? name.slice(system.length) : name;
}

const isFlag = (w: Word) => w.value?.startsWith('-') && w.value !== '-';
const values = (words: Word[]) => words.map((w) => w.value);

/** Positional (non-flag) arguments, honouring `--`, for programs without an option table. */
function positionals(args: Word[]): Word[] {
  const out: Word[] = [];
  let flagsDone = false;
  for (const w of args) {
    if (!flagsDone && w.value === '--') {
      flagsDone = true;
      continue;
    }
    if (flagsDone || !isFlag(w)) out.push(w);
  }
  return out;
}

/**
 * Values glued to options a table does not know (`--config=/etc/x`, `-o/tmp/y`) that look like paths:
 * checked as paths the program reads, so an unknown option cannot carry a path past the gate.
 */
function gluedPaths(args: Word[]): Word[] {
  const out: Word[] = [];
  for (const w of args) {
    const v = w.value;
    if (!v?.startsWith('-')) continue;
    const eq = v.indexOf('=');
    const value =
      eq !== -1 ? v.slice(eq + 1) : /^-[a-zA-Z]./.test(v) && !v.startsWith('--') ? v.slice(2) : '';
    if (/^(~|\/|\.\.?\/|\.\.$)/.test(value)) out.push({ value, raw: w.raw });
  }
  return out;
}

/** Applies what a parsed option table says: reads, writes, code, danger, unknown spellings. */
function applyOptions(name: string, spec: CommandOptions, parsed: ParsedArgs, j: Judgement): Judgement {
  for (const o of parsed.options) {
    const s: OptionSpec = o.spec;
    const label = o.raw.value?.startsWith('--') ? `--${o.name}` : `-${o.name}`;
    switch (s.kind) {
      case 'read':
        if (o.value) j.reads.push(o.value);
        break;
      case 'write':
        raise(j, 'write', s.why ? `${name} ${label} ${s.why}` : `${name} ${label} writes a file`);
        if (o.value) j.writes.push(o.value);
        break;
      case 'writes':
        raise(j, 'write', s.why ? `${name} ${label} ${s.why}` : `${name} ${label} writes its files`);
        // A value (a list of files, a backup suffix) is judged as a path too: outside asks.
        if (o.value) j.reads.push(o.value);
        break;
      case 'exec':
        raise(j, 'dangerous', s.why ?? `${name} ${label} runs a program`);
        j.cover = 'all';
        break;
      case 'dangerous':
        raise(j, 'dangerous', s.why ?? `${name} ${label} is destructive`);
        j.cover = 'all';
        break;
      case 'dir':
        if (o.value) j.reads.push(o.value);
        break;
      default:
        break;
    }
  }
  const odd = [...parsed.ambiguous, ...parsed.unknown.filter((w) => w.value !== undefined)];
  if (odd.length && spec.unknown === 'ask') {
    raise(
      j,
      'dangerous',
      `${name} ${odd.map((w) => w.value ?? w.raw).join(' ')}: an option icode does not know for ${name}, which has options that run programs or write files`,
    );
    j.cover = 'all';
  }
  j.reads.push(...gluedPaths(parsed.unknown));
  return j;
}

function raise(j: Judgement, effect: Effect, reason: string): void {
  const rank = { read: 0, write: 1, dangerous: 2 };
  if (rank[effect] > rank[j.effect]) j.effect = effect;
  if (effect !== 'dangerous') j.reasons.push(reason);
  else {
    j.dangers ??= [];
    j.dangers.push(reason);
  }
}

/** The index after a bracket expression starting at `start` (`[]abc]`, `[^]a]`, `[[:alpha:]/]`). */
function bracketEnd(text: string, start: number): number {
  let i = start + 1;
  if (text[i] === '^') i++;
  if (text[i] === ']') i++;
  while (i < text.length && text[i] !== ']') {
    if (text[i] === '[' && /[:.=]/.test(text[i + 1] ?? '')) {
      const close = text.indexOf(`${text[i + 1]}]`, i + 2);
      i = close === -1 ? text.length : close + 2;
    } else i++;
  }
  return i + 1;
}

/** A sed script is read-only when it has no `w`/`W`/`e`/`r`/`R` command and no `s///w` or `s///e` flag. */
export function sedScriptIsReadOnly(script: string): boolean {
  let i = 0;
  const n = script.length;
  // A regex ends at the first unescaped delimiter outside a bracket expression: in `s/[/]/X/` the
  // slash inside [] is a character, as GNU sed reads it.
  const skipRegex = (delim: string) => {
    while (i < n && script[i] !== delim) {
      if (script[i] === '\\') i += 2;
      else if (script[i] === '[') i = bracketEnd(script, i);
      else i++;
    }
    i++;
  };
  while (i < n) {
    const c = script[i]!;
    if (/[\s;{}!,0-9$~+]/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < n && script[i] !== '\n') i++;
      continue;
    }
    if (c === '/' || c === '\\') {
      // An address: /re/ or \cREc
      if (c === '\\') i++;
      const delim = script[i++]!;
      skipRegex(delim);
      while (script[i] === 'I' || script[i] === 'M') i++;
      continue;
    }
    if (c === 's' || c === 'y') {
      const delim = script[i + 1];
      if (!delim || delim === '\n' || delim === '\\') return false;
      i += 2;
      skipRegex(delim);
      skipRegex(delim);
      if (c === 's') {
        const flags = /^[a-zA-Z0-9]*/.exec(script.slice(i))![0];
        if (/[ewWmM]/.test(flags.replace(/[gpiI0-9]/g, '')) || /[ewW]/.test(flags)) return false;
        i += flags.length;
      }
      continue;
    }
    if ('pdDgGhHlnNPqQxz='.includes(c)) {
      i++;
      continue;
    }
    if ('aic'.includes(c)) {
      // Text commands run to the end of the line.
      while (i < n && script[i] !== '\n') i++;
      continue;
    }
    if ('bt:T'.includes(c)) {
      while (i < n && !/[;\n}]/.test(script[i]!)) i++;
      continue;
    }
    return false; // w, W, e, r, R, F, v and anything unknown
  }
  return true;
}

/**
 * The shell commands a sed script's `e COMMAND` runs, to be judged like any other; undefined when it runs
 * text only known at run time (`e` alone and the `s///e` flag run the pattern space, a line of the file).
 */
function sedCommands(script: string): string[] | undefined {
  const out: string[] = [];
  for (const line of script.split('\n')) {
    // An e command: after an address or a separator, `e` then the command to the end of the line.
    for (const m of line.matchAll(/(?:^|[;{}\s\d$/!])e(?:\s+([^\n]*))?$/g)) {
      if (!m[1]?.trim()) return undefined;
      out.push(m[1]);
    }
    if (/s(.).*\1.*\1[a-zA-Z0-9]*e/.test(line)) return undefined;
  }
  return out;
}

/** Files a sed script reads (`r`, `R`) and writes (`w`, `W`, the `s///w` flag): to the end of the line. */
function sedFiles(script: string): { reads: string[]; writes: string[] } {
  const reads: string[] = [];
  const writes: string[] = [];
  for (const line of script.split('\n')) {
    const flag = /s(.)(?:\\.|(?!\1).)*\1(?:\\.|(?!\1).)*\1[gpiImM0-9]*w\s*(.+)$/.exec(line);
    if (flag) {
      writes.push(flag[2]!.trim());
      continue;
    }
    for (const m of line.matchAll(/(?:^|[;{}\s\d$!/IM])([rRwW])\s*([^;}\n]+?)\s*$/g))
      (m[1] === 'r' || m[1] === 'R' ? reads : writes).push(m[2]!);
  }
  return { reads, writes };
}

function judgeSed(args: Word[]): Judgement {
  const spec = SPECS.sed!;
  const parsed = parseOptions(spec, args);
  const j = applyOptions('sed', spec, parsed, judgement('read'));
  const scripts = parsed.options
    .filter((o) => o.name === 'e' || o.name === 'expression')
    .map((o) => o.value!);
  const fromFile = parsed.options.some((o) => o.name === 'f' || o.name === 'file');
  const operands = [...parsed.operands];
  if (!scripts.length && !fromFile) {
    const first = operands.shift();
    if (first) scripts.push(first);
  }
  if (fromFile) raise(j, 'write', 'sed -f runs a script file, which may write files or run commands');
  for (const s of scripts) {
    if (s.value === undefined) continue;
    const files = sedFiles(s.value);
    j.reads.push(...files.reads.map((value) => ({ value, raw: s.raw })));
    j.writes.push(...files.writes.map((value) => ({ value, raw: s.raw })));
  }
  for (const s of scripts) {
    if (s.value === undefined || !sedScriptIsReadOnly(s.value)) {
      raise(j, 'write', `the sed script ${s.raw} can write files or run commands (w, W, e, r)`);
      // Only an exact rule allows it: `Bash(sed:*)` is not a rule for what sed's e command runs.
      j.cover = 'all';
      const runs = s.value === undefined ? undefined : sedCommands(s.value);
      // e alone and s///e run a line of the file as a shell command: code from the workspace, confined like
      // `sh file` — a write, which only an exact rule allows.
      if (runs === undefined)
        raise(j, 'write', `the sed script ${s.raw} runs text of the file as shell commands (e)`);
      else j.scripts.push(...runs.map((code) => ({ value: code, raw: code })));
    }
  }
  if (parsed.options.some((o) => o.spec.kind === 'writes')) j.writes.push(...operands);
  else j.reads.push(...operands);
  return j;
}

function judgeFind(args: Word[]): Judgement {
  const j = judgement('read');
  let i = 0;
  // Options before the start points (-H -L -P -D x -Ox).
  while (i < args.length && /^-(H|L|P|D|O\d*)$/.test(args[i]!.value ?? '')) {
    if (args[i]!.value === '-L')
      raise(j, 'write', 'find -L follows symbolic links, which may lead out of the workspace');
    i += args[i]!.value === '-D' ? 2 : 1;
  }
  while (i < args.length && !/^[-(!]/.test(args[i]!.value ?? '-')) j.reads.push(args[i++]!);
  for (; i < args.length; i++) {
    const v = args[i]!.value;
    if (v === undefined) continue;
    if (['-exec', '-execdir', '-ok', '-okdir'].includes(v)) {
      const end = args.findIndex((w, k) => k > i && (w.value === ';' || w.value === '+'));
      const inner = args.slice(i + 1, end === -1 ? undefined : end);
      // find does not follow symlinks: the {} it passes lie under its start folders.
      const start = j.reads[0] ?? { value: '.', raw: '.' };
      j.runs.push(inner.map((w) => (w.raw.includes('{}') ? start : w)));
      i = end === -1 ? args.length : end;
    } else if (v === '-follow') {
      raise(j, 'write', 'find -follow follows symbolic links, which may lead out of the workspace');
    } else if (v === '-delete') {
      raise(j, 'write', 'find -delete removes files');
      j.cover = 'all';
      // Without a test that picks files, -delete removes everything under the start folders.
      j.recursive = !args.some((w) =>
        /^-(i?name|i?path|i?regex|type|newer|[acm](time|min)|size|empty|perm|user|group|links|inum|samefile|i?wholename|lname)/.test(
          w.value ?? '',
        ),
      );
      j.writes.push(...(j.reads.length ? j.reads : [{ value: '.', raw: '.' }]));
    } else if (['-fprint', '-fprint0', '-fprintf', '-fls'].includes(v)) {
      raise(j, 'write', `find ${v} writes a file`);
      j.cover = 'all';
      if (args[i + 1]) j.writes.push(args[++i]!);
    } else if (
      ['-newer', '-anewer', '-cnewer', '-samefile', '-files0-from'].includes(v) ||
      /^-newer[acmBt]{2}$/.test(v)
    ) {
      if (args[i + 1]) j.reads.push(args[++i]!);
    }
  }
  return j;
}

function judgeSearch(name: string, args: Word[]): Judgement {
  const spec = SPECS[name === 'rg' ? 'rg' : 'grep']!;
  const parsed = parseOptions(spec, args);
  const j = applyOptions(name, spec, parsed, judgement('read'));
  const patternGiven = parsed.options.some((o) => ['e', 'f', 'regexp', 'file'].includes(o.name));
  const listing = name === 'rg' && parsed.options.some((o) => ['files', 'type-list'].includes(o.name));
  const paths = patternGiven || listing ? parsed.operands : parsed.operands.slice(1);
  j.reads.push(...paths);
  // rg always recurses, grep with -r/-R: every file under the folders is read, a denied one among them.
  const recursive =
    name === 'rg' ||
    parsed.options.some((o) => ['r', 'R', 'recursive', 'dereference-recursive'].includes(o.name));
  if (recursive) j.recursiveReads = paths.length ? paths : [{ value: '.', raw: '.' }];
  j.noPaths = false;
  return j;
}

function judgeWithSpec(name: string, args: Word[]): Judgement {
  const spec = SPECS[name]!;
  const files: Word[] = [];
  if (name === 'jq') {
    // --rawfile/--slurpfile NAME FILE and --arg/--argjson NAME VALUE take two words.
    const kept: Word[] = [];
    for (let i = 0; i < args.length; i++) {
      const v = args[i]!.value;
      if (v !== undefined && findTwo(v, ['rawfile', 'slurpfile'])) {
        if (args[i + 2]) files.push(args[i + 2]!);
        i += 2;
      } else if (v !== undefined && findTwo(v, ['arg', 'argjson'])) i += 2;
      else kept.push(args[i]!);
    }
    args = kept;
  }
  const parsed = parseOptions(spec, args);
  const j = applyOptions(name, spec, parsed, judgement('read'));
  const operands = [...parsed.operands];
  if (name === 'jq' && !parsed.options.some((o) => o.name === 'f' || o.name === 'from-file')) {
    // The first operand is the program: not a path; `import`/`include` make it read modules anywhere.
    const program = operands.shift();
    if (program?.value === undefined || /\b(import|include)\b|input_filename|\$__prog/.test(program.value))
      raise(j, 'write', 'the jq program imports modules or is only known at run time');
  }
  j.reads.push(...operands, ...files);
  return j;
}

/** `--rawf` is `--rawfile` for getopt: a long option named by any prefix that only it has. */
function findTwo(word: string, names: string[]): boolean {
  if (!word.startsWith('--') || word.includes('=')) return false;
  const name = word.slice(2);
  return (
    names.some((n) => n === name) ||
    (name.length >= 4 && names.filter((n) => n.startsWith(name)).length === 1)
  );
}

function judgeDate(args: Word[]): Judgement {
  const spec = SPECS.date!;
  const parsed = parseOptions(spec, args);
  const j = applyOptions('date', spec, parsed, judgement('read'));
  // Operands are a format (+%F) or, with -s semantics, a time: not paths.
  if (parsed.operands.some((w) => w.value !== undefined && !w.value.startsWith('+')))
    raise(j, 'dangerous', 'date with a time operand sets the clock');
  j.noPaths = true;
  return j;
}

function judgeTar(args: Word[]): Judgement {
  // Old style: the first word is a bundle of letters without a dash (`tar xzf a.tgz`).
  const first = args[0]?.value;
  const words =
    first && /^[a-zA-Z]+$/.test(first) ? [{ value: `-${first}`, raw: args[0]!.raw }, ...args.slice(1)] : args;
  const spec = SPECS.tar!;
  const parsed = parseOptions(spec, words);
  const j = applyOptions('tar', spec, parsed, judgement('read'));
  const names = new Set(parsed.options.map((o) => o.name));
  const listing = names.has('t') || names.has('list');
  const archive = parsed.options.find((o) => o.name === 'f' || o.name === 'file')?.value;
  if (archive?.value?.includes(':') && !names.has('force-local')) {
    raise(
      j,
      'dangerous',
      `tar -f ${archive.raw} names a remote archive, which tar reaches through a remote shell`,
    );
    j.cover = 'all';
  }
  if (archive && archive.value !== '-')
    (listing ||
    names.has('x') ||
    names.has('extract') ||
    names.has('get') ||
    names.has('d') ||
    names.has('diff') ||
    names.has('compare')
      ? j.reads
      : j.writes
    ).push(archive);
  if (!listing) raise(j, 'write', 'tar creates or extracts files');
  const into = parsed.options.find((o) => o.name === 'C' || o.name === 'directory')?.value;
  if (into && !listing) j.writes.push(into);
  j.reads.push(...parsed.operands);
  return j;
}

const GIT_READ = new Set(
  'status log diff show rev-parse ls-files ls-tree blame annotate grep describe shortlog cat-file merge-base rev-list show-ref for-each-ref whatchanged count-objects version help check-ignore check-attr name-rev var diff-files diff-index diff-tree show-branch range-diff cherry verify-commit verify-tag fsck'.split(
    ' ',
  ),
);
/** The state folders in .git a subcommand works in (a rebase's todo list runs its exec lines). */
const GIT_STATE: Record<string, string[]> = {
  rebase: ['rebase-merge', 'rebase-apply'],
  pull: ['rebase-merge', 'rebase-apply'],
  am: ['rebase-apply'],
  'cherry-pick': ['sequencer'],
  revert: ['sequencer'],
};
const GIT_NETWORK = new Set('fetch pull push clone ls-remote archive send-email request-pull'.split(' '));
/** Options of git subcommands that run programs or write files (git accepts unique abbreviations of them). */
const GIT_SUB_OPTIONS: Record<string, OptionSpec> = {
  output: { value: 'required', kind: 'write', why: 'writes a file' },
  'output-directory': { value: 'required', kind: 'write', why: 'writes files there' },
  'open-files-in-pager': { value: 'optional', kind: 'exec', why: 'git grep -O runs a pager program' },
  'upload-pack': {
    value: 'required',
    kind: 'exec',
    why: 'runs a program on the remote side, locally for local URLs',
  },
  'receive-pack': { value: 'required', kind: 'exec', why: 'runs a program' },
  exec: { value: 'required', kind: 'exec', why: 'runs a program' },
  config: {
    value: 'required',
    kind: 'exec',
    why: 'sets options in the new repository that can run programs',
  },
  extcmd: { value: 'required', kind: 'exec', why: 'runs a program' },
  tool: { value: 'required', kind: 'exec', why: 'runs a diff or merge program' },
  contents: { value: 'required', kind: 'read' },
  'exclude-from': { value: 'required', kind: 'read' },
  'ignore-revs-file': { value: 'required', kind: 'read' },
  file: { value: 'required', kind: 'read' },
  blob: { value: 'required', kind: 'plain' },
  template: { value: 'required', kind: 'read' },
  'separate-git-dir': { value: 'required', kind: 'write', why: 'puts the repository elsewhere' },
};

function gitOption(rest: Word[], names: string[], shorts = ''): Word | undefined {
  for (const w of rest) {
    const v = w.value;
    if (!v?.startsWith('-') || v === '--') continue;
    if (v.startsWith('--')) {
      const name = v.slice(2).split('=')[0]!;
      if (names.some((n) => n === name || (name.length >= 3 && n.startsWith(name)))) return w;
    } else if (shorts && [...v.slice(1)].some((c) => shorts.includes(c))) return w;
  }
  return undefined;
}

function judgeGit(args: Word[]): Judgement {
  const parsed = parseOptions(GIT_GLOBAL, args);
  const j = applyOptions('git', GIT_GLOBAL, parsed, judgement('read'));
  // --exec-path without a value only prints where git's programs are.
  const dirOpt = parsed.options.find((o) => o.name === 'C')?.value;
  if (dirOpt) {
    j.runsIn = dirOpt;
    j.reads.splice(j.reads.indexOf(dirOpt), 1);
    j.cd = dirOpt;
  }
  if (parsed.options.some((o) => o.name === 'git-dir' || o.name === 'work-tree'))
    raise(j, 'write', 'git --git-dir/--work-tree points git at another repository, whose config git obeys');
  const [subWord, ...rest] = parsed.operands;
  if (!subWord) return j;
  if (subWord.value === undefined) {
    raise(j, 'write', 'the git subcommand is computed at run time');
    return j;
  }
  const sub = subWord.value;
  const flags = values(rest).filter((v): v is string => v?.startsWith('-') ?? false);
  const pos = positionals(rest);
  const has = (...names: string[]) =>
    flags.some((f) =>
      names.some(
        (n) =>
          f === n ||
          f.startsWith(`${n}=`) ||
          (n.startsWith('--') && f.length >= 4 && n.startsWith(f.split('=')[0]!)),
      ),
    );
  // Bundled short options, the last possibly glued to its value (`-fu`, `-O'sh -c id'`).
  const short = (letters: string) =>
    flags.some(
      (f) =>
        !f.startsWith('--') &&
        [...(/^-[a-zA-Z]+/.exec(f)?.[0] ?? '').slice(1)].some((c) => letters.includes(c)),
    );
  j.cover = 'sub';
  // Sub-options that run programs or write files, in any abbreviation git accepts.
  for (const w of rest) {
    const v = w.value;
    if (!v?.startsWith('--')) continue;
    const body = v.slice(2);
    const name = body.split('=')[0]!;
    if (!name) continue;
    const found = findLong(GIT_SUB_OPTIONS, name);
    if (found === 'ambiguous') {
      // An abbreviation this table cannot place may be one git can: judged as the options it could be.
      const could = Object.entries(GIT_SUB_OPTIONS).filter(([k]) => k.startsWith(name));
      if (could.some(([, o]) => o.kind === 'exec')) {
        raise(j, 'dangerous', `git ${sub} --${name} may be an option that runs a program`);
        j.cover = 'all';
      }
      continue;
    }
    if (!found) continue;
    const eq = body.indexOf('=');
    const value = eq !== -1 ? { value: body.slice(eq + 1), raw: w.raw } : rest[rest.indexOf(w) + 1];
    if (found.spec.kind === 'exec') {
      if (found.name === 'tool' && !['difftool', 'mergetool'].includes(sub)) continue;
      if (found.name === 'exec' && !['push', 'send-pack', 'archive'].includes(sub)) continue;
      if (found.name === 'config' && sub !== 'clone') continue;
      raise(j, 'dangerous', `git ${sub} --${found.name} ${found.spec.why}`);
      j.cover = 'all';
    } else if (found.spec.kind === 'write' && value) {
      raise(j, 'write', `git ${sub} --${found.name} ${found.spec.why}`);
      j.writes.push(value);
    } else if (found.spec.kind === 'read' && value) j.reads.push(value);
  }
  if (sub === 'cat-file' && has('--batch', '--batch-check', '--batch-command')) {
    // The objects it prints are named on stdin: a committed file a Read rule denies among them, perhaps.
    raise(j, 'write', 'git cat-file --batch prints objects named on its input, which the gate cannot see');
  }
  if (sub === 'grep' && has('--untracked', '--no-index')) j.recursiveReads = [{ value: '.', raw: '.' }];
  if (sub === 'grep' && short('O')) {
    raise(j, 'dangerous', 'git grep -O runs a pager program');
    j.cover = 'all';
  }
  if (sub === 'rebase') {
    // rebase -x CMD runs CMD after each commit: judged as shell code.
    rest.forEach((w, i) => {
      const v = w.value ?? '';
      if (v === '-x' || v === '--exec') j.scripts.push(rest[i + 1] ?? { value: undefined, raw: v });
      else if (v.startsWith('--exec=')) j.scripts.push({ value: v.slice(7), raw: w.raw });
      else if (/^-x./.test(v)) j.scripts.push({ value: v.slice(2), raw: w.raw });
    });
  }
  if ((sub === 'submodule' && pos[0]?.value === 'foreach') || (sub === 'bisect' && pos[0]?.value === 'run'))
    j.scripts.push(joinWords(pos.slice(1)));
  if (sub === 'clone' && short('cu')) {
    raise(j, 'dangerous', 'git clone -c/-u sets options or a program that run code');
    j.cover = 'all';
  }
  if (['fetch', 'pull', 'ls-remote'].includes(sub) && short('u') && sub !== 'pull') {
    raise(j, 'dangerous', `git ${sub} -u runs an upload-pack program`);
    j.cover = 'all';
  }
  if (
    sub === 'filter-branch' ||
    sub === 'difftool' ||
    sub === 'mergetool' ||
    sub === 'instaweb' ||
    sub === 'daemon' ||
    sub === 'credential' ||
    sub === 'web--browse'
  ) {
    raise(j, 'dangerous', `git ${sub} runs programs`);
    j.cover = 'all';
  }
  if (sub === 'help' && short('wim')) raise(j, 'write', 'git help -w/-i/-m starts a browser or viewer');
  if (sub === 'push') {
    const deleting = pos.slice(1).some((w) => w.value?.startsWith(':') || w.value?.startsWith('+'));
    if (
      short('fd') ||
      has('--force', '--force-with-lease', '--force-if-includes', '--mirror', '--delete', '--prune') ||
      deleting
    ) {
      raise(j, 'dangerous', 'git push --force/--delete rewrites or deletes the remote history');
      j.cover = 'all';
    }
  }
  if (sub === 'reset' && has('--hard', '--merge', '--keep')) {
    raise(j, 'dangerous', 'git reset --hard discards uncommitted work');
    j.cover = 'all';
  }
  if (sub === 'clean' && (short('f') || has('--force')) && !(short('n') || has('--dry-run'))) {
    raise(j, 'dangerous', 'git clean -f deletes untracked files');
    j.cover = 'all';
  }
  if ((sub === 'checkout' || sub === 'switch') && (short('f') || has('--force', '--discard-changes'))) {
    raise(j, 'dangerous', `git ${sub} --force discards uncommitted work`);
    j.cover = 'all';
  }
  if (
    sub === 'branch' &&
    (flags.some((f) => /^-[a-zA-Z]*D/.test(f)) || (has('--delete') && (has('--force') || short('f'))))
  ) {
    raise(j, 'dangerous', 'git branch -D deletes a branch that may not be merged');
    j.cover = 'all';
  }
  if (
    (GIT_NETWORK.has(sub) && (sub !== 'archive' || has('--remote'))) ||
    (sub === 'remote' && ['show', 'update', 'prune'].includes(pos[0]?.value ?? '')) ||
    (sub === 'submodule' && ['update', 'sync', 'add'].includes(pos[0]?.value ?? ''))
  )
    j.network = `git ${sub} reaches the remote repository`;
  const readOnly =
    (GIT_READ.has(sub) && !(sub === 'fsck' && has('--lost-found'))) ||
    (sub === 'branch' &&
      (pos.length === 0 ||
        has('--list', '--contains', '--merged', '--no-merged', '--show-current') ||
        short('l')) &&
      !short('dDmMcCu') &&
      !has(
        '--delete',
        '--move',
        '--copy',
        '--set-upstream-to',
        '--unset-upstream',
        '--edit-description',
        '--force',
      )) ||
    (sub === 'tag' &&
      (pos.length === 0 || has('--list', '--contains', '--points-at') || short('l')) &&
      !short('dasfmFuve') &&
      !has('--delete', '--annotate', '--sign', '--force', '--message', '--file', '--edit')) ||
    (sub === 'remote' && (pos.length === 0 || ['get-url'].includes(pos[0]?.value ?? ''))) ||
    (sub === 'stash' && ['list', 'show'].includes(pos[0]?.value ?? '')) ||
    (sub === 'worktree' && pos[0]?.value === 'list') ||
    (sub === 'reflog' && (pos.length === 0 || pos[0]?.value === 'show')) ||
    (sub === 'notes' && ['list', 'show'].includes(pos[0]?.value ?? '')) ||
    (sub === 'clean' && (short('n') || has('--dry-run')) && !short('i') && !has('--interactive')) ||
    (sub === 'config' && isConfigRead(rest));
  if (['commit', 'tag', 'merge', 'notes', 'am'].includes(sub)) {
    // -F FILE (the message), -t FILE (commit's template): files read, wherever they are.
    rest.forEach((w, i) => {
      const m = /^-[a-zA-Z]*?([Ft])(.*)$/.exec(w.value ?? '');
      if (!m || w.value?.startsWith('--') || (m[1] === 't' && sub !== 'commit')) return;
      const value = m[2] ? { value: m[2], raw: w.raw } : rest[i + 1];
      if (value && value.value !== '-') j.reads.push(value);
    });
  }
  if ((sub === 'format-patch' || sub === 'archive') && short('o')) {
    const o = rest.find((w) => /^-[a-zA-Z]*o/.test(w.value ?? ''));
    const target =
      o && o.value!.length > 2
        ? { value: o.value!.replace(/^-[a-zA-Z]*o/, ''), raw: o.raw }
        : o && rest[rest.indexOf(o) + 1];
    if (target) j.writes.push(target);
  }
  if ((sub === 'bundle' && pos[0]?.value === 'create') || (sub === 'worktree' && pos[0]?.value === 'add'))
    j.writes.push(...pos.slice(1, 2));
  if (readOnly) {
    if (j.cover === 'sub') delete j.cover;
    // Revisions read as paths resolve inside the workspace; paths (`--no-index`, `-- file`) are judged as reads.
    if (sub !== 'config') j.reads.push(...pos.filter((w) => w.value !== undefined));
    // REV:path and :path name a file as committed: judged as that file (a Read rule for it holds there too).
    for (const w of pos) {
      const m = /^[^:/]*:(?!\/\/)(.+)$/.exec(w.value ?? '');
      if (m) j.reads.push({ value: m[1]!.replace(/^\.\//, ''), raw: w.raw });
    }
    if (sub === 'config') {
      const file = gitOption(rest, ['file'], 'f');
      if (file)
        j.reads.push(
          file.value === '-f' || file.value === '--file'
            ? (rest[rest.indexOf(file) + 1] ?? file)
            : { value: file.value!.replace(/^--file=|^-f/, ''), raw: file.raw },
        );
      if (has('--global', '--system')) j.reads.push({ value: '~/.gitconfig', raw: '--global' });
    }
    return j;
  }
  if (
    sub === 'config' ||
    (sub === 'remote' &&
      ['add', 'set-url', 'rename', 'remove', 'rm', 'set-head', 'set-branches'].includes(pos[0]?.value ?? ''))
  ) {
    raise(
      j,
      'dangerous',
      `git ${sub} changes the repository's configuration, which can make git run programs`,
    );
    j.cover = 'all';
    j.unlocks = ['.git', '.git/config'];
    if (has('--global', '--system')) j.writes.push({ value: '~/.gitconfig', raw: '--global' });
    return j;
  }
  if (sub === 'ls-remote' || sub === 'archive' || sub === 'request-pull') {
    raise(j, 'write', `git ${sub} writes its output`);
    return j;
  }
  raise(j, 'write', `git ${sub} changes the repository`);
  if (sub !== 'clone') j.unlocks = ['.git', ...(GIT_STATE[sub] ?? []).map((d) => `.git/${d}`)];
  if (sub === 'clone') j.writes.push(...pos.slice(1));
  return j;
}

function isConfigRead(rest: Word[]): boolean {
  const v = values(rest);
  const writes = [
    '--add',
    '--unset',
    '--unset-all',
    '--replace-all',
    '--rename-section',
    '--remove-section',
    '-e',
    '--edit',
    'set',
    'unset',
    'rename-section',
    'remove-section',
    'edit',
  ];
  if (
    v.some((x) => x === undefined || writes.includes(x) || x.startsWith('--add') || x.startsWith('--replace'))
  )
    return false;
  if (v.some((x) => x && (/^--get/.test(x) || x === '--list' || x === '-l' || x === 'get' || x === 'list')))
    return true;
  // `git config name` reads one value; `git config name value` sets it.
  return positionals(rest).length === 1;
}

function judgeRecursiveChange(name: string, args: Word[]): Judgement {
  const recursive = args.some((w) => /^-[a-zA-Z]*[rR]/.test(w.value ?? '') || w.value === '--recursive');
  const j = { ...judgement('write', [`${name} changes files`]), writes: positionals(args) };
  if (name !== 'rm' && name !== 'rmdir' && name !== 'shred') j.writes = positionals(args).slice(1);
  return recursive ? { ...j, recursive: true } : j;
}

/** A variable bash gives no meaning (not PATH, IFS, CDPATH, BASH_ENV…): setting it changes nothing else. */
function plainName(w: Word): boolean {
  return w.value !== undefined && /^[a-z_][a-z0-9_]*$/.test(w.value);
}

/** Names a builtin assigns (`read a b`, `printf -v x`): a subscript in them is arithmetic. */
function assignedNames(name: string, args: Word[]): Word[] {
  const ops = positionals(args);
  switch (name) {
    case 'read':
    case 'mapfile':
    case 'readarray': {
      const out: Word[] = [];
      for (let i = 0; i < args.length; i++) {
        const v = args[i]!.value ?? '';
        if (/^-[a-zA-Z]*[aupdntNiCc]$/.test(v) && v !== '-r' && v !== '-s' && v !== '-e') {
          if (/[a]$/.test(v)) out.push(args[i + 1]!);
          i++;
        } else if (!v.startsWith('-')) out.push(args[i]!);
      }
      return out.filter(Boolean);
    }
    case 'getopts':
      return ops.slice(1, 2);
    case 'unset':
      return ops;
    default:
      return [];
  }
}

/**
 * Judges one simple command: name and arguments after quote removal. Wrappers and shells come back in
 * `runs` and `scripts` for the caller to judge in turn.
 */
export function judgeCommand(nameWord: Word, args: Word[]): Judgement {
  const name = programName(nameWord.value!);
  if (INERT.has(name)) return { ...judgement('read'), noPaths: true };
  const remote = (w: Word) => /^[\w.@-]+:|^rsync:\/\//.test(w.value ?? '');
  if (name === 'rsync' && !args.some(remote) && !args.some((w) => /^(-e|--rsh)/.test(w.value ?? ''))) {
    const pos = positionals(args);
    return { ...judgement('write', ['rsync copies files']), reads: pos.slice(0, -1), writes: pos.slice(-1) };
  }
  if (NETWORK.has(name)) {
    const j = {
      ...judgement('write', [`${name} reaches the network`]),
      network: `${name} reaches the network`,
    };
    j.writes.push(...gluedPaths(args));
    const out = args.findIndex((w) =>
      [
        '-o',
        '--output',
        '-O',
        '--output-document',
        '-K',
        '--config',
        '-T',
        '--upload-file',
        '-d',
        '--data',
        '-F',
        '--form',
        '-e',
        '--rsh',
      ].includes(w.value ?? ''),
    );
    if (out !== -1 && args[out + 1]) {
      const opt = args[out]!.value!;
      if (['-e', '--rsh'].includes(opt))
        Object.assign(j, dangerous(`${name} ${opt} runs a program`), { network: j.network });
      else if (['-o', '--output', '-O', '--output-document'].includes(opt)) j.writes.push(args[out + 1]!);
      else if (
        !args[out + 1]!.value?.startsWith('@') ||
        opt === '-K' ||
        opt === '--config' ||
        opt === '-T' ||
        opt === '--upload-file'
      )
        j.reads.push({ value: (args[out + 1]!.value ?? '').replace(/^@/, ''), raw: args[out + 1]!.raw });
    }
    for (const w of args)
      if (/^-[a-zA-Z]*[dF]?@/.test(w.value ?? '') || /^(@|[^=]+=@)/.test(w.value ?? ''))
        j.reads.push({ value: w.value!.replace(/^.*@/, ''), raw: w.raw });
    if (name === 'rsync' || name === 'scp' || name === 'sftp')
      j.reads.push(...positionals(args).filter((w) => !/^[^/]*:/.test(w.value ?? '')));
    if (
      args.some((w) => /ProxyCommand|LocalCommand|PermitLocalCommand|KnownHostsCommand/i.test(w.value ?? ''))
    )
      return { ...dangerous(`${name} -o ProxyCommand runs a program`), network: j.network };
    j.cover = 'name';
    return j;
  }
  switch (name) {
    case 'echo':
      return { ...judgement('read'), noPaths: true };
    case 'ps':
      // BSD-style `e` shows every process's environment (tokens): outside a sandbox it sees the user's.
      // procps reads `-axeww` as BSD options when they mix: any e but UNIX -e/-ef/-eF/-el/-ely may show them.
      return args.some(
        (w) =>
          w.value === undefined ||
          (w.value.replace(/^-/, '').includes('e') && !/^-e(f|F|l|ly|L|o)?$/.test(w.value)),
      )
        ? { ...judgement('write', ['ps e shows the environment of other processes']), noPaths: true }
        : { ...judgement('read'), noPaths: true };
    case 'printf': {
      const parsed = parseOptions(SPECS.printf!, args);
      const v = parsed.options.find((o) => o.name === 'v')?.value;
      const special = v && !plainName(v);
      return {
        ...judgement(
          special ? 'write' : 'read',
          special ? ['printf -v sets a shell variable bash gives a meaning'] : [],
        ),
        noPaths: true,
        ...(v ? { assigns: [v] } : {}),
      };
    }
    case 'test':
    case '[': {
      const j: Judgement = { ...judgement('read'), noPaths: true, arithmetic: [], assigns: [] };
      args.forEach((w, i) => {
        if (/^-(eq|ne|lt|le|gt|ge)$/.test(w.value ?? ''))
          j.arithmetic!.push(...[args[i - 1], args[i + 1]].filter((x): x is Word => Boolean(x)));
        if ((w.value === '-v' || w.value === '-R') && args[i + 1]) j.assigns!.push(args[i + 1]!);
      });
      return j;
    }
    case 'let': {
      // let x=2*3 sets a plain variable; a subscript or expansion in the expression can run commands.
      const plain = args.every((w) =>
        /^[a-z_][\w]*[-+*/%]?=[\w+*/%() -]*$|^[\w+*/%() <>=!-]+$/.test(w.value ?? w.raw),
      );
      return {
        ...judgement(plain ? 'read' : 'write', plain ? [] : ['let sets shell variables']),
        noPaths: true,
        arithmetic: args,
      };
    }
    case 'read':
    case 'mapfile':
    case 'readarray':
    case 'getopts':
    case 'unset': {
      if (
        (name === 'mapfile' || name === 'readarray') &&
        args.some((w) => /^-[a-zA-Z]*C/.test(w.value ?? ''))
      )
        return dangerous(`${name} -C runs a callback command`);
      const names = assignedNames(name, args);
      const plain = name !== 'unset' && names.every(plainName);
      return {
        ...judgement(plain ? 'read' : 'write', plain ? [] : [`${name} sets shell variables`]),
        noPaths: true,
        assigns: names,
      };
    }
    case 'compgen':
    case 'complete':
    case 'bind':
    case 'fc':
    case 'enable':
    case 'hash':
    case 'alias':
    case 'shopt':
    case 'set':
      if (name === 'set' && !args.length) return { ...judgement('read'), noPaths: true };
      if (
        ['compgen', 'complete', 'bind', 'fc', 'enable'].includes(name) &&
        args.some((w) => /^-[a-zA-Z]*[CFxef]/.test(w.value ?? ''))
      )
        return dangerous(`${name} with this option runs commands`);
      return { ...judgement('write', [`${name} changes how the shell runs what follows`]), noPaths: true };
    case 'hostname':
      return args.length
        ? dangerous('hostname with an argument reads a file or sets the host name')
        : { ...judgement('read'), noPaths: true };
    case 'date':
      return judgeDate(args);
    case 'sed':
      return judgeSed(args);
    case 'find':
      return judgeFind(args);
    case 'grep':
    case 'egrep':
    case 'fgrep':
    case 'rg':
      return judgeSearch(name, args);
    case 'sort':
      return judgeWithSpec('sort', args);
    case 'tar':
      return judgeTar(args);
    case 'git':
      return judgeGit(args);
    case 'awk':
    case 'gawk':
    case 'mawk':
    case 'nawk':
      return judgeAwk(args);
    case 'uniq': {
      const parsed = parseOptions(SPECS.uniq!, args);
      const pos = parsed.operands;
      const j = applyOptions('uniq', SPECS.uniq!, parsed, judgement('read'));
      if (pos.length > 1) {
        raise(j, 'write', 'uniq with two files writes the second');
        j.writes.push(...pos.slice(1));
      }
      j.reads.push(...pos.slice(0, 1));
      return j;
    }
    case 'xxd': {
      const parsed = parseOptions(SPECS.xxd!, args);
      const j = applyOptions('xxd', SPECS.xxd!, parsed, judgement('read'));
      j.reads.push(...parsed.operands.slice(0, 1));
      if (parsed.operands.length > 1) {
        raise(j, 'write', 'xxd with an output file writes it');
        j.writes.push(...parsed.operands.slice(1));
      }
      if (parsed.options.some((o) => o.name === 'r')) raise(j, 'write', 'xxd -r writes binary output');
      return j;
    }
    case 'tee': {
      const files = positionals(args);
      return {
        ...judgement(files.length ? 'write' : 'read', files.length ? ['tee writes files'] : []),
        writes: files,
      };
    }
    case 'cd':
    case 'pushd':
    case 'popd': {
      const ops = positionals(args);
      const target = ops[0];
      if (
        name === 'popd' ||
        target?.value === '-' ||
        /^[+-]\d/.test(target?.value ?? '') ||
        (name === 'pushd' && !target)
      )
        return { ...judgement('read'), cd: 'unknown', noPaths: true };
      return { ...judgement('read'), cd: target ?? { value: '~', raw: '~' }, noPaths: true };
    }
    case 'rm':
    case 'rmdir':
    case 'chmod':
    case 'chown':
    case 'chgrp':
    case 'shred':
      return judgeRecursiveChange(name, args);
    case 'cp':
    case 'mv':
    case 'ln':
    case 'install': {
      const pos = positionals(args);
      const targetDir = args.findIndex(
        (w) =>
          /^-[a-zA-Z]*t/.test(w.value ?? '') ||
          w.value?.startsWith('--target-directory') ||
          w.value?.startsWith('--target'),
      );
      const j = judgement('write', [`${name} writes files`]);
      if (targetDir !== -1) {
        const v = args[targetDir]!.value!;
        const glued = v.startsWith('--') ? v.split('=')[1] : v.replace(/^-[a-zA-Z]*?t/, '');
        const t = glued ? { value: glued, raw: args[targetDir]!.raw } : args[targetDir + 1];
        if (t) j.writes.push(t);
        (name === 'mv' ? j.writes : j.reads).push(...pos.filter((w) => w !== t));
      } else {
        j.writes.push(...pos.slice(-1));
        (name === 'mv' ? j.writes : j.reads).push(...pos.slice(0, -1));
      }
      j.writes.push(...gluedPaths(args));
      if (name === 'ln') {
        // A link to a protected path would let a later write reach it under another name.
        j.namesProtected = true;
      }
      return j;
    }
    case 'touch':
    case 'mkdir':
    case 'truncate':
    case 'split':
    case 'csplit':
    case 'patch':
    case 'unzip':
    case 'gzip':
    case 'gunzip':
    case 'bzip2':
    case 'xz':
    case 'zstd': {
      if (name === 'unzip' && args.some((w) => /^-[a-zA-Z]*[lvtZ]/.test(w.value ?? '')))
        return { ...judgement('read'), reads: positionals(args).slice(0, 1) };
      if (name === 'split' || name === 'csplit') {
        const spec = SPECS[name]!;
        const parsed = parseOptions(spec, args);
        const j = applyOptions(name, spec, parsed, judgement('write', [`${name} writes files`]));
        j.reads.push(...parsed.operands.slice(0, 1));
        if (name === 'split') j.writes.push(...parsed.operands.slice(1, 2));
        return j;
      }
      const pos = positionals(args);
      const j = { ...judgement('write', [`${name} writes files`]), writes: pos, reads: [...pos] };
      if (name === 'patch') {
        j.reads = pos.slice(1);
        j.writes = [...pos.slice(0, 1), ...gluedPaths(args)];
      }
      if (name === 'touch' || name === 'mkdir' || name === 'truncate') j.reads = [];
      return j;
    }
    case 'zip':
      if (
        args.some(
          (w) =>
            /^-[a-zA-Z]*T/.test(w.value ?? '') || w.value?.startsWith('--unzip-command') || w.value === '-TT',
        )
      )
        return dangerous('zip -T/-TT runs a test program');
      return {
        ...judgement('write', ['zip writes an archive']),
        writes: positionals(args).slice(0, 1),
        reads: positionals(args).slice(1),
      };
    case 'dd': {
      const j = judgement('write', ['dd writes raw data']);
      for (const w of args) {
        if (w.value?.startsWith('of=')) {
          if (w.value.startsWith('of=/dev/') && !/^of=\/dev\/(null|stdout|stderr)$/.test(w.value))
            return dangerous('dd to a device overwrites a disk');
          j.writes.push({ value: w.value.slice(3), raw: w.raw });
        } else if (w.value?.startsWith('if=')) j.reads.push({ value: w.value.slice(3), raw: w.raw });
      }
      return j;
    }
    case 'sudo':
    case 'doas':
    case 'su':
    case 'pkexec':
    case 'runuser':
    case 'nsenter':
    case 'unshare':
    case 'chroot':
    case 'capsh':
    case 'setpriv': {
      const inner =
        name === 'sudo' || name === 'doas'
          ? afterOptions(args, ['-u', '-g', '-h', '-p', '-C', '-D', '-r', '-t', '-U'])
          : undefined;
      return { ...dangerous(`${name} runs a command with other privileges`), runs: inner ? [inner] : [] };
    }
    case 'coproc':
      return {
        ...judgement('write', ['coproc runs a command in the background']),
        runs: args.length ? [args] : [],
        noPaths: true,
      };
    case 'timeout':
    case 'nice':
    case 'nohup':
    case 'stdbuf':
    case 'ionice':
    case 'setsid':
    case 'time':
    case 'command':
    case 'exec':
    case 'builtin': {
      const spec = SPECS[name]!;
      const parsed = parseOptions(spec, args);
      const j = applyOptions(name, spec, parsed, judgement('read'));
      if (name === 'command' && parsed.options.some((o) => o.name === 'v' || o.name === 'V'))
        return { ...judgement('read'), noPaths: true };
      j.reads = j.reads.filter((w) => !parsed.operands.includes(w));
      const inner = name === 'timeout' ? parsed.operands.slice(1) : parsed.operands;
      if (inner.length) j.runs.push(inner);
      j.noPaths = true;
      return j;
    }
    case 'env': {
      const spec = SPECS.env!;
      const parsed = parseOptions(spec, args);
      const j = applyOptions('env', spec, parsed, judgement('read'));
      const chdir = parsed.options.find((o) => o.name === 'C' || o.name === 'chdir')?.value;
      if (chdir) {
        j.reads.splice(j.reads.indexOf(chdir), 1);
        j.runsIn = chdir;
      }
      const ops = parsed.operands;
      const at = ops.findIndex((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w.value ?? ''));
      const sets = at === -1 ? ops : ops.slice(0, at);
      // LANG=C, unsetting and clearing change how output looks or take away; anything else may change what runs.
      if (
        sets.some(
          (w) =>
            !/^(LANG|LANGUAGE|LC_[A-Z]+|TZ|NO_COLOR|FORCE_COLOR|CLICOLOR|COLUMNS|TERM)=[\w.:@/+-]*$/.test(
              w.value ?? '',
            ),
        )
      )
        raise(j, 'write', 'env sets variables for the command it runs');
      if (sets.some((w) => /^CDPATH=/.test(w.value ?? ''))) j.cd = 'unknown';
      if (at !== -1) j.runs.push(ops.slice(at));
      j.noPaths = true;
      return j;
    }
    case 'xargs': {
      const spec = SPECS.xargs!;
      const parsed = parseOptions(spec, args);
      const j = applyOptions('xargs', spec, parsed, judgement('read'));
      const replace = parsed.options.find((o) => ['I', 'i', 'replace'].includes(o.name));
      const token = replace ? (replace.value?.value ?? '{}') : undefined;
      const ops = parsed.operands.length ? parsed.operands : [{ value: 'echo', raw: 'echo' }];
      // What xargs adds comes from stdin: unknown words, and with -I every word holding the token is unknown.
      const inner = token
        ? ops.map((w) => (w.value?.includes(token) ? { value: undefined, raw: w.raw } : w))
        : [...ops, { value: undefined, raw: '<stdin>' }];
      j.runs.push(inner);
      j.noPaths = true;
      return j;
    }
    case 'trap': {
      if (!args.length || args.some((w) => w.value === '-l' || w.value === '-p'))
        return { ...judgement('read'), noPaths: true };
      const ops = positionals(args);
      return {
        ...judgement('write', ['trap runs shell code later']),
        scripts: ops.slice(0, 1),
        noPaths: true,
      };
    }
    case 'watch': {
      const code = afterOptions(args, ['-n', '--interval', '-d', '--differences', '-q', '--equexit']);
      return {
        ...judgement('write', ['watch runs shell code again and again']),
        scripts: code ? [joinWords(code)] : [],
        noPaths: true,
      };
    }
    case 'eval':
      return { ...judgement('read'), scripts: [joinWords(args)], noPaths: true };
    case 'source':
    case '.':
      return {
        ...judgement('write', [`${name} runs a script in this shell`]),
        reads: positionals(args).slice(0, 1),
      };
    case 'less':
    case 'more':
    case 'most':
    case 'man':
    case 'vi':
    case 'vim':
    case 'nvim':
    case 'nano':
    case 'emacs':
      return {
        ...judgement('write', [`${name} is interactive and can run commands`]),
        reads: positionals(args),
      };
    default:
      break;
  }
  if (SHELLS.has(name)) return judgeShell(name, args);
  if (name === 'openssl' && ['s_client', 's_server', 'ocsp'].includes(args[0]?.value ?? ''))
    return {
      ...judgement('write', [`openssl ${args[0]!.value} reaches the network`]),
      network: `openssl ${args[0]!.value} reaches the network`,
      cover: 'sub',
    };
  if (INTERPRETERS.has(name)) {
    const module = args.findIndex((w) => w.value === '-m');
    const mod = module !== -1 ? args[module + 1]?.value : undefined;
    if (mod === 'pip' || mod === 'ensurepip' || mod === 'http.server')
      return {
        ...judgement('write', [`${name} -m ${mod} reaches the network`]),
        network: `${name} -m ${mod} reaches the network`,
        cover: 'all',
      };
    const pos = positionals(args);
    const code = args.findIndex(
      (w) =>
        /^-[a-zA-Z]*[ceE]$/.test(w.value ?? '') ||
        w.value === '--eval' ||
        w.value === '-p' ||
        w.value === '--print',
    );
    if (!pos.length && code === -1)
      return { ...judgement('write', [`${name} runs the program it reads on stdin`]), readsScript: true };
    // With inline code, what follows the code is its arguments (files for perl -n): judged as reads.
    const files = code === -1 ? pos.slice(0, 1) : positionals(args.slice(code + 2));
    return { ...judgement('write', [`${name} runs a program`]), reads: files };
  }
  if (DESTROYERS.test(name)) return dangerous(`${name} can destroy data or change the machine`);
  const sub = args.find((w) => !isFlag(w))?.value;
  const net = NETWORK_SUBCOMMANDS[name];
  if (net && (net.has('*') || (sub !== undefined && net.has(sub)))) {
    return {
      ...judgement('write', [`${name} ${sub ?? ''} downloads or publishes`.replace('  ', ' ')]),
      network: `${name}${sub && !net.has('*') ? ` ${sub}` : ''} reaches the network`,
      cover: net.has('*') ? 'name' : 'sub',
      reads: positionals(args).filter((w) => /^(\/|~|\.\.)/.test(w.value ?? '')),
    };
  }
  if (
    name === 'readlink' &&
    !args.some((w) => /^-[a-zA-Z]*[fem]/.test(w.value ?? '') || /^--canonicalize/.test(w.value ?? ''))
  ) {
    // readlink reads the link, not where it points: its folder is what is judged.
    const j = judgeWithSpec(name, args);
    j.reads = j.reads.map((w) =>
      w.value?.includes('/')
        ? { value: w.value.replace(/\/[^/]*\/?$/, '') || '/', raw: w.raw }
        : { value: '.', raw: w.raw },
    );
    return j;
  }
  if (READERS.has(name)) return judgeWithSpec(name, args);
  return {
    ...judgement('write', [`${name} is not on the read-only list`]),
    reads: [...positionals(args), ...gluedPaths(args)],
    namesProtected: true,
  };
}

/**
 * awk: a program that only reads and prints (`{print $1}`) is read-only; one that can run commands
 * (`system()`, `print | "cmd"`, `"cmd" | getline`), write files (`print > f`), read other files
 * (`getline < f`), load code (`@load`, `-f`, `-i`) or call a function by name (gawk's `@f()`, which reaches
 * `system` too) is not. `>` as a comparison counts too: over-blocking
 * `$1 > 5` is the price of never missing `print > "f"`.
 */
function judgeAwk(args: Word[]): Judgement {
  let program: Word | undefined;
  const files: Word[] = [];
  for (let i = 0; i < args.length; i++) {
    const v = args[i]!.value;
    if (program === undefined && v !== undefined && /^-(v|F)$/.test(v)) {
      i++;
      continue;
    }
    if (program === undefined && v !== undefined && /^-[vF]./.test(v)) continue;
    if (program === undefined && v !== undefined && v.startsWith('-') && v !== '-' && v !== '--')
      return { ...judgement('write', [`awk ${v} loads or runs a program file`]), reads: positionals(args) };
    if (program === undefined && v === '--') continue;
    if (program === undefined) program = args[i];
    else if (!/^[A-Za-z_]\w*=/.test(v ?? '')) files.push(args[i]!);
  }
  const code = program?.value;
  if (code === undefined || /system|getline|close|fflush|ENVIRON|PROCINFO|ARGV|ARGC|[@|>]/.test(code))
    return { ...judgement('write', ['awk programs can write files and run commands']), reads: files };
  return { ...judgement('read'), reads: files };
}

/** bash/sh: `-c CODE` runs CODE (the first operand after the options: `bash -c -e 'CMD'` too). */
function judgeShell(name: string, args: Word[]): Judgement {
  let i = 0;
  let command = false;
  let stdin = false;
  for (; i < args.length; i++) {
    const v = args[i]!.value;
    if (v === undefined) return dangerous(`${name} with options only known at run time`);
    if (v === '--') {
      i++;
      break;
    }
    if (/^--(rcfile|init-file)$/.test(v)) return dangerous(`${name} ${v} runs a startup file`);
    if (v.startsWith('--')) continue;
    if (!/^[-+]/.test(v) || v === '-' || v === '+') break;
    if (v.slice(1).includes('c')) command = true;
    if (v.slice(1).includes('s')) stdin = true;
    // -o OPTION and +O shopt take the next word.
    if (/[oO]$/.test(v)) i++;
  }
  const rest = args.slice(i);
  if (command) return { ...judgement('read'), scripts: [rest[0] ?? { value: '', raw: '' }], noPaths: true };
  if (stdin || !rest.length)
    return { ...judgement('write', [`${name} runs the script it reads on stdin`]), readsScript: true };
  return { ...judgement('write', [`${name} runs the script ${rest[0]!.raw}`]), reads: rest.slice(0, 1) };
}

/** Skips a wrapper's own options; `withValue` lists options that take the next word as their value. */
function afterOptions(args: Word[], withValue: string[]): Word[] | undefined {
  let i = 0;
  while (i < args.length && isFlag(args[i]!)) {
    const flag = args[i]!.value!;
    i += flag === '--' ? 1 : withValue.includes(flag) ? 2 : 1;
    if (flag === '--') break;
  }
  return i < args.length ? args.slice(i) : undefined;
}

/** Words joined the way eval and watch join them: unknown when any is. */
function joinWords(words: Word[]): Word {
  return {
    value: words.every((w) => w.value !== undefined) ? values(words).join(' ') : undefined,
    raw: words.map((w) => w.raw).join(' '),
  };
}
