// An icode plugin built only on the SDK: read-only git tools. Each runs git with arguments as an array
// (no shell), the model's values after `--` or checked so they cannot be taken for options, and with
// settings that keep a repository's own config from running programs (fsmonitor, pager, diff drivers).
import { execFile } from 'node:child_process';
import { capOutput, definePlugin, defineTool, resolveReal } from '@icode/sdk';
import * as z from 'zod';

const SAFE = ['-c', 'core.fsmonitor=false', '-c', 'core.pager=cat', '-c', 'diff.external=', '--no-pager'];
const MAX = 30_000;

function git(args, cwd, signal) {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      [...SAFE, ...args],
      {
        cwd,
        signal,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, GIT_OPTIONAL_LOCKS: '0', GIT_TERMINAL_PROMPT: '0' },
      },
      (error, stdout, stderr) => {
        if (error) reject(new Error(String(stderr || error.message).trim()));
        else resolve(capOutput(stdout.trimEnd(), MAX) || '(no output)');
      },
    );
  });
}

/** A revision the model names: never an option, never a path outside. */
const Rev = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^-\s][^\s]*$/, 'a commit, branch or tag (no spaces, not starting with -)');
const pathSubjects = (paths, ctx) => ({
  kind: 'path',
  values: paths.filter(Boolean).map((p) => resolveReal(p, ctx.cwd)),
});

const status = defineTool({
  name: 'GitStatus',
  description: 'The working tree status: branch, staged, unstaged and untracked files.',
  input: z.object({}),
  mode: 'read-only',
  concurrencySafe: true,
  execute: (_, ctx) => git(['status', '--short', '--branch'], ctx.cwd, ctx.signal),
});

const diff = defineTool({
  name: 'GitDiff',
  description:
    'The diff of the working tree (or of staged changes, or against a revision), optionally for one path.',
  input: z.object({
    staged: z.boolean().optional().describe('Staged changes instead of unstaged'),
    rev: Rev.optional().describe('Compare the working tree with this revision'),
    path: z.string().optional(),
  }),
  mode: 'read-only',
  concurrencySafe: true,
  subjects: ({ path }, ctx) => pathSubjects([path ?? '.'], ctx),
  execute: ({ staged, rev, path }, ctx) =>
    git(
      [
        'diff',
        '--no-ext-diff',
        '--no-textconv',
        ...(staged ? ['--cached'] : []),
        ...(rev ? [rev] : []),
        '--',
        ...(path ? [path] : []),
      ],
      ctx.cwd,
      ctx.signal,
    ),
});

const log = defineTool({
  name: 'GitLog',
  description: 'Recent commits (hash, date, author, subject), optionally only those touching a path.',
  input: z.object({ max_count: z.number().int().min(1).max(200).optional(), path: z.string().optional() }),
  mode: 'read-only',
  concurrencySafe: true,
  subjects: ({ path }, ctx) => pathSubjects([path ?? '.'], ctx),
  execute: ({ max_count = 20, path }, ctx) =>
    git(
      [
        'log',
        `--max-count=${max_count}`,
        '--date=short',
        '--format=%h %ad %an %s',
        '--',
        ...(path ? [path] : []),
      ],
      ctx.cwd,
      ctx.signal,
    ),
});

const show = defineTool({
  name: 'GitShow',
  description: 'One commit: its message and diff.',
  input: z.object({ rev: Rev }),
  mode: 'read-only',
  concurrencySafe: true,
  execute: ({ rev }, ctx) =>
    git(['show', '--no-ext-diff', '--no-textconv', '--stat', '--patch', rev, '--'], ctx.cwd, ctx.signal),
});

const blame = defineTool({
  name: 'GitBlame',
  description: 'Who last changed each line of a file (optionally a range of lines).',
  input: z.object({
    path: z.string().min(1),
    start_line: z.number().int().min(1).optional(),
    end_line: z.number().int().min(1).optional(),
  }),
  mode: 'read-only',
  concurrencySafe: true,
  subjects: ({ path }, ctx) => pathSubjects([path], ctx),
  execute: ({ path, start_line, end_line }, ctx) =>
    git(
      ['blame', '--date=short', ...(start_line ? [`-L${start_line},${end_line ?? ''}`] : []), '--', path],
      ctx.cwd,
      ctx.signal,
    ),
});

export default definePlugin({
  activate(ctx) {
    for (const tool of [status, diff, log, show, blame]) ctx.tools.register(tool);
  },
});
