import type { Word } from './words.ts';

/**
 * What one simple command does, judged from its name and arguments:
 * - `read`: on the read-only list, with no flag that writes or runs something;
 * - `write`: changes files or runs programs (anything not known to be read-only);
 * - `dangerous`: destructive or escalating; always needs approval, whatever the mode or rules.
 */
export type Effect = 'read' | 'write' | 'dangerous';

export interface Judgement {
  effect: Effect;
  reasons: string[];
  /** Path arguments the command reads or writes (resolved and checked by the caller). */
  reads: Word[];
  writes: Word[];
  /** Commands it runs: wrappers (`timeout 5 cmd`), `xargs cmd`, `find -exec cmd ;`. */
  runs: Word[][];
  /** Shell code it runs: `bash -c '…'`, `eval …`. Undefined value: only known at run time. */
  scripts: Word[];
  /** `cd DIR`: the new working directory for the commands after it. */
  cd?: Word;
  /** The arguments are not paths (echo, printf, date…), so run-time values in them are harmless. */
  noPaths?: boolean;
  /** Runs the script it reads on stdin (`bash` with no arguments, as in `curl … | sh`). */
  readsScript?: boolean;
}

const judgement = (effect: Effect, reasons: string[] = []): Judgement => ({
  effect,
  reasons,
  reads: [],
  writes: [],
  runs: [],
  scripts: [],
});

/** Commands whose arguments are not paths and that change nothing. */
const INERT = new Set(
  'echo printf pwd whoami id uname hostname date which type seq sleep true false basename dirname printenv nproc free uptime locale ps test [ [[ :'.split(
    ' ',
  ),
);

/** Commands that only read the paths they are given (flags that write are checked below). */
const READERS = new Set(
  'cat head tail wc ls stat file du df tree cut tr diff cmp nl tac rev od hexdump xxd md5sum sha1sum sha256sum sha512sum realpath readlink column comm join paste fold fmt strings jq less more grep egrep fgrep rg sed sort uniq find awk tar git'.split(
    ' ',
  ),
);

const SHELLS = new Set(['bash', 'sh', 'zsh', 'dash', 'ksh', 'fish']);
const SYSTEM_DIRS = ['/bin/', '/usr/bin/', '/usr/local/bin/', '/sbin/', '/usr/sbin/'];
const DESTROYERS = /^(mkfs(\..+)?|mkswap|wipefs|fdisk|sfdisk|parted|shutdown|reboot|halt|poweroff|init)$/;

/** The program a command name runs, for judging: `/usr/bin/rm` is rm; `./rm` is a local program. */
export function programName(name: string): string {
  const system = SYSTEM_DIRS.find((dir) => name.startsWith(dir));
  return system ? name.slice(system.length) : name;
}

const isFlag = (w: Word) => w.value?.startsWith('-') && w.value !== '-';
const values = (words: Word[]) => words.map((w) => w.value);

/** Positional (non-flag) arguments, honouring `--`. */
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

/** Skips a wrapper's own options; `withValue` lists options that take the next word as their value. */
function afterOptions(args: Word[], withValue: string[], leadingOperands = 0): Word[] | undefined {
  let i = 0;
  while (i < args.length && isFlag(args[i]!)) {
    const flag = args[i]!.value!;
    i += flag === '--' ? 1 : withValue.includes(flag) ? 2 : 1;
    if (flag === '--') break;
  }
  i += leadingOperands;
  return i < args.length ? args.slice(i) : undefined;
}

/** A sed script is read-only when it has no `w`/`W`/`e` command and no `s///w` or `s///e` flag. */
export function sedScriptIsReadOnly(script: string): boolean {
  let i = 0;
  const n = script.length;
  const skipRegex = (delim: string) => {
    while (i < n && script[i] !== delim) i += script[i] === '\\' ? 2 : 1;
    i++;
  };
  while (i < n) {
    const c = script[i]!;
    if (/[\s;{}!,0-9$]/.test(c)) {
      i++;
      continue;
    }
    if (c === '/' || c === '\\') {
      // An address: /re/ or \cREc
      if (c === '\\') i++;
      const delim = script[i++]!;
      skipRegex(delim);
      if (script[i] === 'I' || script[i] === 'M') i++;
      continue;
    }
    if (c === 's' || c === 'y') {
      const delim = script[i + 1];
      if (!delim) return false;
      i += 2;
      skipRegex(delim);
      skipRegex(delim);
      if (c === 's') {
        const flags = /^[a-zA-Z0-9]*/.exec(script.slice(i))![0];
        if (/[ewW]/.test(flags)) return false;
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

function judgeSed(args: Word[]): Judgement {
  const j = judgement('read');
  const scripts: Word[] = [];
  const files: Word[] = [];
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    const v = w.value;
    if (v === undefined) {
      files.push(w);
      continue;
    }
    if (v === '-e' || v === '--expression') scripts.push(args[++i] ?? { value: undefined, raw: '' });
    else if (v.startsWith('--expression=')) scripts.push({ value: v.slice(13), raw: w.raw });
    else if (v === '-f' || v === '--file') return judgement('write', ['sed -f runs a script file']);
    else if (v.startsWith('-i') || v.startsWith('--in-place') || (/^-[a-zA-Z]+$/.test(v) && v.includes('i')))
      return {
        ...judgement('write', ['sed -i edits files in place']),
        writes: positionals(args.slice(i + 1)),
      };
    else if (v.startsWith('-')) continue;
    else if (!scripts.length) scripts.push(w);
    else files.push(w);
  }
  for (const s of scripts) {
    if (s.value === undefined || !sedScriptIsReadOnly(s.value))
      return judgement('write', [`the sed script ${s.raw} can write files or run commands (w, W, e)`]);
  }
  j.reads = files;
  return j;
}

function judgeFind(args: Word[]): Judgement {
  const j = judgement('read');
  let i = 0;
  while (i < args.length && !/^[-(!]/.test(args[i]!.value ?? '-')) j.reads.push(args[i++]!);
  for (; i < args.length; i++) {
    const v = args[i]!.value;
    if (v === undefined) continue;
    if (['-exec', '-execdir', '-ok', '-okdir'].includes(v)) {
      const end = args.findIndex((w, k) => k > i && (w.value === ';' || w.value === '+'));
      const inner = args.slice(i + 1, end === -1 ? undefined : end);
      // find does not follow symlinks: the {} it passes lie under its start folders.
      const start = j.reads[0] ?? { value: '.', raw: '.' };
      j.runs.push(inner.map((w) => (w.raw === '{}' ? start : w)));
      i = end === -1 ? args.length : end;
    } else if (v === '-delete') {
      j.effect = 'write';
      j.reasons.push('find -delete removes files');
      j.writes.push(...j.reads);
    } else if (['-fprint', '-fprint0', '-fprintf', '-fls'].includes(v)) {
      j.effect = 'write';
      j.reasons.push(`find ${v} writes a file`);
      if (args[i + 1]) j.writes.push(args[++i]!);
    }
  }
  return j;
}

function judgeSearch(name: string, args: Word[]): Judgement {
  const j = judgement('read');
  let patternGiven = false;
  for (let i = 0; i < args.length; i++) {
    const v = args[i]!.value;
    if (v === undefined) continue;
    if (
      name === 'rg' &&
      (v === '--pre' || v.startsWith('--pre=') || v === '--pre-glob' || v.startsWith('--pre-glob='))
    )
      return judgement('dangerous', ['rg --pre runs a program on every file it searches']);
    if (v === '-e' || v === '--regexp' || v === '-f' || v === '--file') {
      patternGiven = true;
      if (v === '-f' || v === '--file') j.reads.push(args[i + 1] ?? { value: undefined, raw: '' });
      i++;
    } else if (/^--(regexp|file)=/.test(v)) patternGiven = true;
  }
  const pos = positionals(args);
  j.reads.push(...(patternGiven ? pos : pos.slice(1)));
  return j;
}

function judgeSort(args: Word[]): Judgement {
  const j = judgement('read');
  for (let i = 0; i < args.length; i++) {
    const v = args[i]!.value ?? '';
    if (v.startsWith('--compress-program'))
      return judgement('dangerous', ['sort --compress-program runs a program']);
    const out =
      v === '-o' || v === '--output'
        ? args[++i]
        : v.startsWith('--output=')
          ? { value: v.slice(9), raw: v }
          : /^-o./.test(v)
            ? { value: v.slice(2), raw: v }
            : undefined;
    if (out) {
      j.effect = 'write';
      j.reasons.push('sort -o writes a file');
      j.writes.push(out);
    }
  }
  j.reads.push(...positionals(args).filter((w) => !j.writes.includes(w)));
  return j;
}

function judgeTar(args: Word[]): Judgement {
  const all = values(args).join(' ');
  if (
    /--(checkpoint-action|to-command|use-compress-program|info-script|new-volume-script|rsh-command)|(^|\s)-[a-zA-Z]*[IF]/.test(
      all,
    )
  )
    return judgement('dangerous', ['this tar option runs a program']);
  const first = args[0]?.value ?? '';
  const listing = /^-?[a-zA-Z]*t/.test(first) || args.some((w) => w.value === '--list');
  return listing
    ? { ...judgement('read'), reads: positionals(args.slice(1)) }
    : judgement('write', ['tar creates or extracts files']);
}

const GIT_READ = new Set(
  'status log diff show rev-parse ls-files ls-tree blame grep describe shortlog cat-file merge-base rev-list show-ref for-each-ref whatchanged count-objects version help check-ignore name-rev'.split(
    ' ',
  ),
);

function judgeGit(args: Word[]): Judgement {
  let i = 0;
  let cwd: Word | undefined;
  for (; i < args.length && isFlag(args[i]!); i++) {
    const v = args[i]!.value!;
    if (v === '-c' || v.startsWith('--config-env') || v.startsWith('--exec-path') || v === '-c')
      return judgement('dangerous', [
        `git ${v} can set options that run programs (core.fsmonitor, core.sshCommand, …)`,
      ]);
    if (v === '-C') cwd = args[++i];
    else if (v === '--git-dir' || v === '--work-tree' || v === '--namespace') i++;
  }
  if (args[i] && args[i]!.value === undefined)
    return judgement('write', ['the git subcommand is computed at run time']);
  const sub = args[i]?.value ?? '';
  const rest = args.slice(i + 1);
  const flags = values(rest).filter((v): v is string => v?.startsWith('-') ?? false);
  const has = (...names: string[]) => flags.some((f) => names.some((n) => f === n || f.startsWith(`${n}=`)));
  const result = (j: Judgement) => ({ ...j, ...(cwd ? { reads: [...j.reads, cwd] } : {}) });
  if (
    sub === 'push' &&
    (has('-f', '--force', '--force-with-lease', '--mirror', '--delete', '-d') ||
      rest.some((w) => w.value?.startsWith('+')))
  )
    return result(judgement('dangerous', ['git push --force rewrites the remote history']));
  if (sub === 'reset' && has('--hard'))
    return result(judgement('dangerous', ['git reset --hard discards uncommitted work']));
  if (sub === 'clean' && flags.some((f) => /^-[a-zA-Z]*f/.test(f) || f === '--force'))
    return result(judgement('dangerous', ['git clean -f deletes untracked files']));
  const output = rest.find((w) => w.value === '--output' || w.value?.startsWith('--output='));
  if (output) {
    const target =
      output.value === '--output'
        ? rest[rest.indexOf(output) + 1]
        : { value: output.value!.slice(9), raw: output.raw };
    return result({ ...judgement('write', ['git --output writes a file']), writes: target ? [target] : [] });
  }
  if (GIT_READ.has(sub)) {
    if (sub === 'grep' && has('-O', '--open-files-in-pager'))
      return result(judgement('dangerous', ['git grep -O runs a pager program']));
    return result(judgement('read'));
  }
  const pos = positionals(rest).map((w) => w.value);
  const readOnlyForm =
    (sub === 'branch' &&
      (pos.length === 0 || has('--list', '-l')) &&
      !has(
        '-d',
        '-D',
        '-m',
        '-M',
        '-c',
        '-C',
        '--delete',
        '--move',
        '--copy',
        '--set-upstream-to',
        '-u',
        '--unset-upstream',
        '--edit-description',
      )) ||
    (sub === 'tag' &&
      (pos.length === 0 || has('-l', '--list')) &&
      !has('-d', '--delete', '-a', '-s', '-f')) ||
    (sub === 'remote' && (pos.length === 0 || ['show', 'get-url'].includes(pos[0] ?? ''))) ||
    (sub === 'stash' && ['list', 'show'].includes(pos[0] ?? '')) ||
    (sub === 'worktree' && pos[0] === 'list') ||
    (sub === 'reflog' && (pos.length === 0 || pos[0] === 'show')) ||
    (sub === 'config' &&
      has('--get', '--get-all', '--get-regexp', '--list', '-l') &&
      !has('--add', '--unset', '--replace-all', '-e', '--edit'));
  return result(
    readOnlyForm
      ? judgement('read')
      : judgement('write', [`git ${sub || '(no subcommand)'} changes the repository`]),
  );
}

function judgeRecursiveChange(name: string, args: Word[]): Judgement {
  const recursive = args.some((w) => /^-[a-zA-Z]*[rR]/.test(w.value ?? '') || w.value === '--recursive');
  const j = { ...judgement('write', [`${name} changes files`]), writes: positionals(args) };
  if (name !== 'rm' && !recursive) j.writes = positionals(args).slice(1);
  return recursive ? ({ ...j, recursive: true } as Judgement) : j;
}

/**
 * Judges one simple command: name and arguments after quote removal. Wrappers and shells come back in
 * `runs` and `scripts` for the caller to judge in turn.
 */
export function judgeCommand(nameWord: Word, args: Word[]): Judgement & { recursive?: boolean } {
  const name = programName(nameWord.value!);
  if (INERT.has(name)) return { ...judgement('read'), noPaths: true };
  switch (name) {
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
      return judgeSort(args);
    case 'tar':
      return judgeTar(args);
    case 'git':
      return judgeGit(args);
    case 'awk':
      // awk programs can run commands (system(), print | "cmd") and write files (print > f).
      return judgement('write', ['awk programs can write files and run commands']);
    case 'uniq': {
      const pos = positionals(args);
      return pos.length > 1
        ? {
            ...judgement('write', ['uniq with two files writes the second']),
            reads: pos.slice(0, 1),
            writes: pos.slice(1),
          }
        : { ...judgement('read'), reads: pos };
    }
    case 'xxd':
      if (args.some((w) => w.value === '-r' || w.value === '-revert') || positionals(args).length > 1)
        return {
          ...judgement('write', ['xxd with an output file writes it']),
          writes: positionals(args).slice(1),
        };
      return { ...judgement('read'), reads: positionals(args) };
    case 'cd':
      return { ...judgement('read'), cd: positionals(args)[0] ?? { value: '~', raw: '~' } };
    case 'rm':
    case 'rmdir':
    case 'chmod':
    case 'chown':
    case 'chgrp':
    case 'shred':
      return judgeRecursiveChange(name, args);
    case 'dd': {
      const j = judgement('write', ['dd writes raw data']);
      for (const w of args) {
        if (w.value?.startsWith('of=')) {
          if (w.value.startsWith('of=/dev/') && !/^of=\/dev\/(null|stdout|stderr)$/.test(w.value))
            return judgement('dangerous', ['dd to a device overwrites a disk']);
          j.writes.push({ value: w.value.slice(3), raw: w.raw });
        } else if (w.value?.startsWith('if=')) j.reads.push({ value: w.value.slice(3), raw: w.raw });
      }
      return j;
    }
    case 'sudo':
    case 'doas':
    case 'su': {
      const inner =
        name === 'su'
          ? undefined
          : afterOptions(args, ['-u', '-g', '-h', '-p', '-C', '-D', '-r', '-t', '-U']);
      return {
        ...judgement('dangerous', [`${name} runs a command as another user`]),
        runs: inner ? [inner] : [],
      };
    }
    case 'timeout': {
      const inner = afterOptions(args, ['-s', '--signal', '-k', '--kill-after'], 1);
      return { ...judgement('read'), runs: inner ? [inner] : [], noPaths: true };
    }
    case 'trap':
    case 'watch': {
      // trap 'code' SIGNAL and watch [-n N] 'code' run shell code later or again: judge it now.
      if (name === 'trap' && (!args.length || args.some((w) => w.value === '-l' || w.value === '-p')))
        return { ...judgement('read'), noPaths: true };
      const code = name === 'trap' ? args[0] : afterOptions(args, ['-n', '--interval', '-d'])?.[0];
      return {
        ...judgement('write', [`${name} runs shell code`]),
        scripts: code ? [code] : [],
        noPaths: true,
      };
    }
    case 'setsid':
    case 'nice':
    case 'nohup':
    case 'time':
    case 'stdbuf':
    case 'ionice':
    case 'command':
    case 'builtin':
    case 'exec': {
      if (name === 'command' && args.some((w) => w.value === '-v' || w.value === '-V'))
        return { ...judgement('read'), noPaths: true };
      const inner = afterOptions(args, ['-n', '-i', '-o', '-e', '-c', '-a', '-p']);
      return { ...judgement('read'), runs: inner ? [inner] : [], noPaths: true };
    }
    case 'env': {
      if (args.some((w) => w.value === '-S' || w.value?.startsWith('--split-string')))
        return judgement('dangerous', ['env -S runs a command line split from a string']);
      const rest = afterOptions(args, ['-u', '--unset', '-C', '--chdir']);
      const inner = rest?.slice(rest.findIndex((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w.value ?? '')));
      if (!inner || !rest?.some((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w.value ?? '')))
        return { ...judgement('read'), noPaths: true };
      // Setting variables can change what the command does (PATH, LD_PRELOAD, GIT_*): not read-only.
      const sets = rest.length > inner.length;
      return {
        ...judgement(sets ? 'write' : 'read', sets ? ['env sets variables for the command it runs'] : []),
        runs: [inner],
        noPaths: true,
      };
    }
    case 'xargs': {
      const inner = afterOptions(args, [
        '-n',
        '-I',
        '-P',
        '-L',
        '-d',
        '-E',
        '-s',
        '-a',
        '--max-args',
        '--max-procs',
        '--delimiter',
        '--arg-file',
      ]);
      // The arguments xargs adds come from stdin: unknown paths.
      return {
        ...judgement('read'),
        runs: [[...(inner ?? [{ value: 'echo', raw: 'echo' }]), { value: undefined, raw: '<stdin>' }]],
        noPaths: true,
      };
    }
    case 'eval':
      return {
        ...judgement('read'),
        scripts: [
          {
            value: args.every((w) => w.value !== undefined) ? values(args).join(' ') : undefined,
            raw: args.map((w) => w.raw).join(' '),
          },
        ],
        noPaths: true,
      };
    case 'source':
    case '.':
      return {
        ...judgement('write', [`${name} runs a script in this shell`]),
        reads: positionals(args).slice(0, 1),
      };
    default:
      break;
  }
  if (SHELLS.has(name)) {
    const c = args.findIndex((w) => /^-[a-zA-Z]*c$/.test(w.value ?? ''));
    if (c !== -1)
      return { ...judgement('read'), scripts: [args[c + 1] ?? { value: '', raw: '' }], noPaths: true };
    const script = positionals(args)[0];
    if (!script)
      return { ...judgement('write', [`${name} runs the script it reads on stdin`]), readsScript: true };
    return { ...judgement('write', [`${name} runs the script ${script.raw}`]), reads: [script] };
  }
  if (DESTROYERS.test(name)) return judgement('dangerous', [`${name} can destroy data or stop the machine`]);
  if (READERS.has(name)) return { ...judgement('read'), reads: positionals(args) };
  return { ...judgement('write', [`${name} is not on the read-only list`]), reads: positionals(args) };
}
