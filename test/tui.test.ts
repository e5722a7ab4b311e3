import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { makeWorld, runCli } from './helpers.ts';
import { hasProgram } from './programs.ts';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'dist', 'icode.cjs');
const exec = promisify(execFile);
// biome-ignore lint/suspicious/noControlCharactersInRegex: a colour escape is what must not appear
const COLOUR = /\u001B\[(3|9)[0-7](;\d+)*m/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: styles are stripped to measure the width
const SGR = /\u001B\[[\d;]*m/g;

// A paragraph four lines long at 80 columns: the UI must wrap it between words (the terminal would cut one).
const WORDS = Array.from({ length: 40 }, (_, i) => `alpha${String(i).padStart(2, '0')}`);

/** Scenarios for the UI: a reply, a bash call that needs approval, and a reply slow enough to interrupt. */
function scenarios(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const write = (name: string, steps: unknown[]) =>
    writeFileSync(join(dir, `${name}.json`), JSON.stringify({ name, steps }));
  write('ui_hello', [
    {
      content: [
        {
          type: 'text',
          deltas: [
            '# Plan\n\n',
            'Hello **there**.\n\n',
            `${WORDS.join(' ')}\n\n`,
            '```js\nconst x = 1;\n```\n',
            '\n- one\n- two',
          ],
        },
      ],
    },
  ]);
  write('ui_bash', [
    { content: [{ type: 'tool_use', name: 'bash', input: { command: 'touch made.txt' } }] },
    { content: [{ type: 'text', text: 'Made it: {{tool_results}}' }] },
  ]);
  write('ui_ask', [
    {
      content: [
        {
          type: 'tool_use',
          name: 'AskUserQuestion',
          input: { question: 'Which database?', options: ['Postgres', 'SQLite'] },
        },
      ],
    },
    { content: [{ type: 'text', text: 'Noted: {{tool_results}}' }] },
  ]);
  write('ui_long', [
    { content: [{ type: 'tool_use', name: 'bash', input: { command: 'seq 7001 7030' } }] },
    { content: [{ type: 'text', text: 'Counted.' }] },
  ]);
  write('ui_slow', [
    { delayMs: 300, content: [{ type: 'text', deltas: Array.from({ length: 40 }, (_, i) => `word${i} `) }] },
  ]);
  return dir;
}

describe.skipIf(!hasProgram('tmux', 'the terminal UI tests'))(
  'the terminal UI in tmux, on the mock API',
  () => {
    const tmux = (...args: string[]) => exec('tmux', args);
    const screen = async (s: string) => (await tmux('capture-pane', '-pt', s)).stdout;
    const waitFor = async (s: string, text: string | RegExp, tries = 100) => {
      for (let i = 0; i < tries; i++) {
        const now = await screen(s);
        if (typeof text === 'string' ? now.includes(text) : text.test(now)) return now;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`"${text}" never appeared; the screen:\n${await screen(s)}`);
    };

    test('type a prompt and see streamed markdown, approve a dialog, run a command, interrupt with Esc, exit with Ctrl-C twice', async () => {
      const w = makeWorld();
      const dir = scenarios(join(w.root, 'scenarios'));
      const s = `icode-tui-${process.pid}`;
      // CI=true: the UI must draw every frame even where CI is set (ink would draw only the last one).
      // An "editor" that appends a line to the file it is given, as a person would type one.
      const editor = join(w.root, 'editor.sh');
      writeFileSync(editor, '#!/bin/sh\necho "- written in the editor" >> "$1"\n', { mode: 0o755 });
      const command = `EDITOR=${editor} CI=true HOME=${w.home} ICODE_CONFIG_DIR=${w.userDir} NO_COLOR=1 ${process.execPath} ${bin} --mock --mock-scenarios ${dir}; echo EXIT=$?; sleep 30`;
      await tmux('new-session', '-d', '-s', s, '-x', '80', '-y', '40', '-c', w.project, command);
      try {
        await waitFor(s, 'Ctrl-C twice exits');
        // A bracketed paste keeps its line breaks, even a final one: nothing is sent until Enter.
        await tmux(
          'send-keys',
          '-t',
          s,
          '-l',
          '\u001B[200~first pasted line\rsecond pasted line\r\u001B[201~',
        );
        const pasted = await waitFor(s, 'second pasted line');
        expect(pasted).toContain('│ > first pasted line');
        expect(pasted).not.toContain('\n> first pasted line');
        await tmux('send-keys', '-t', s, 'C-u');
        for (let i = 0; i < 40; i++) await tmux('send-keys', '-t', s, 'BSpace');
        await waitFor(s, /│ > +│/);

        await tmux('send-keys', '-t', s, '-l', 'Greet me PARITY_SCENARIO:ui_hello');
        await tmux('send-keys', '-t', s, 'Enter');
        // Markdown is rendered: the heading and bold lose their marks, the list gets bullets, code a gutter.
        let now = await waitFor(s, '• two');
        expect(now).toContain('Hello there.');
        expect(now).not.toContain('**there**');
        expect(now).toMatch(/^│ const x = 1;$/m);
        expect(now).toMatch(/^Plan$/m);

        await tmux('send-keys', '-t', s, '-l', 'Make a file PARITY_SCENARIO:ui_bash');
        await tmux('send-keys', '-t', s, 'Enter');
        now = await waitFor(s, '1. Allow once');
        expect(now).toContain('bash wants to run or change: touch made.txt');
        expect(now).toContain('2. Allow always (bash(touch:*)');
        await tmux('send-keys', '-t', s, '2');
        now = await waitFor(s, 'Made it: (no output)');
        expect(now).toMatch(/● bash touch made\.txt \d+\.\ds/);
        expect(existsSync(join(w.project, 'made.txt'))).toBe(true);
        expect(JSON.parse(readFileSync(join(w.project, '.icode', 'settings.local.json'), 'utf8'))).toEqual({
          permissions: { allow: ['bash(touch:*)'] },
        });
        expect(now).toContain('Always allowed: bash(touch:*)');

        // NO_COLOR: no colour escapes anywhere on the screen (styles like inverse for the cursor may stay).
        const raw = (await tmux('capture-pane', '-ept', s, '-S', '-200')).stdout;
        expect(raw).not.toMatch(COLOUR);
        // 80 columns: the UI laid out for this width, so the terminal never had to wrap a line itself —
        // every word of the long paragraph is whole, and the prompt box's top border ends on its own line.
        const plain = raw.replace(SGR, '');
        for (const word of WORDS) expect(plain).toMatch(new RegExp(`(^|\\s)${word}(\\s|$)`, 'm'));
        expect(plain).toMatch(/^╭─+╮$/m);

        await tmux('send-keys', '-t', s, '-l', '/cost');
        await tmux('send-keys', '-t', s, 'Enter');
        now = await waitFor(s, /Input \d+ tokens, output \d+/);

        // `! command` runs it for the user; `# note` goes to AGENTS.md. The shell output rides with the next prompt.
        await tmux('send-keys', '-t', s, '-l', '! echo shell-said-hi');
        await tmux('send-keys', '-t', s, 'Enter');
        now = await waitFor(s, /● bash echo shell-said-hi \d+\.\ds\n\s+⎿ shell-said-hi/);
        // Esc stops a command run this way, as it stops the model.
        await tmux('send-keys', '-t', s, '-l', '! sleep 30');
        await tmux('send-keys', '-t', s, 'Enter');
        await waitFor(s, 'running tools');
        await tmux('send-keys', '-t', s, 'Escape');
        await waitFor(s, 'interrupted by the user; the command and its children were killed');
        await tmux('send-keys', '-t', s, '-l', '# Always run the linter');
        await tmux('send-keys', '-t', s, 'Enter');
        await waitFor(s, 'AGENTS.md');
        expect(readFileSync(join(w.project, 'AGENTS.md'), 'utf8')).toContain('Always run the linter');
        // /memory edit opens the file in $EDITOR on this terminal, and the UI carries on after it.
        await tmux('send-keys', '-t', s, '-l', '/memory edit');
        await tmux('send-keys', '-t', s, 'Enter');
        await waitFor(s, 'Edited ');
        expect(readFileSync(join(w.project, 'AGENTS.md'), 'utf8')).toContain('- written in the editor');

        // AskUserQuestion is a dialog; a number picks an option.
        await tmux('send-keys', '-t', s, '-l', 'Pick one PARITY_SCENARIO:ui_ask');
        await tmux('send-keys', '-t', s, 'Enter');
        now = await waitFor(s, '2. SQLite');
        expect(now).toContain('Which database?');
        await tmux('send-keys', '-t', s, '2');
        await waitFor(s, 'Noted: The user answered: SQLite');

        // A long result is folded to its first lines; Ctrl-O prints the last result whole.
        await tmux('send-keys', '-t', s, '-l', 'Count PARITY_SCENARIO:ui_long');
        await tmux('send-keys', '-t', s, 'Enter');
        now = await waitFor(s, 'Counted.');
        expect(now).toContain('… 27 more lines (ctrl+o shows the last result in full)');
        expect(now).toContain('7003');
        expect(now).not.toMatch(/^\s*7030\s*$/m);
        await tmux('send-keys', '-t', s, 'C-o');
        now = await waitFor(s, /^\s*7030\s*$/m);
        expect(now).toMatch(/^\s*7029\s*$/m);

        await tmux('send-keys', '-t', s, '-l', 'Go slowly PARITY_SCENARIO:ui_slow');
        await tmux('send-keys', '-t', s, 'Enter');
        await waitFor(s, 'esc to interrupt');
        await waitFor(s, 'word2');
        await tmux('send-keys', '-t', s, 'Escape');
        now = await waitFor(s, 'Interrupted. The session is saved');
        expect(now).not.toContain('word39');

        await tmux('send-keys', '-t', s, 'C-c');
        await waitFor(s, 'Press Ctrl-C again to exit');
        await tmux('send-keys', '-t', s, 'C-c');
        await waitFor(s, 'EXIT=0');
        // One session, saved with every prompt of the conversation.
        const sessions = join(w.userDir, 'projects');
        const folder = join(sessions, readdirSync(sessions)[0]!);
        const files = readdirSync(folder).filter((f) => f.endsWith('.jsonl'));
        expect(files).toHaveLength(1);
        const log = readFileSync(join(folder, files[0]!), 'utf8');
        for (const p of [
          'PARITY_SCENARIO:ui_hello',
          'PARITY_SCENARIO:ui_bash',
          'PARITY_SCENARIO:ui_ask',
          'PARITY_SCENARIO:ui_slow',
          // The prompt after `! echo …` carries its output.
          'I ran this in the shell myself',
          '$ echo shell-said-hi\\nshell-said-hi',
        ])
          expect(log).toContain(p);
        // The history is kept for the next start.
        expect(readdirSync(join(w.userDir, 'history'))).toHaveLength(1);

        // --continue opens the UI on that session and shows where it stands.
        await tmux('kill-session', '-t', s);
        await tmux(
          'new-session',
          '-d',
          '-s',
          s,
          '-x',
          '80',
          '-y',
          '40',
          '-c',
          w.project,
          command.replace('--mock ', '--continue --mock '),
        );
        now = await waitFor(s, 'Ctrl-C twice exits');
        expect(now).toContain('> Count PARITY_SCENARIO:ui_long');
        expect(now).toContain('Counted.');
        await tmux('send-keys', '-t', s, 'Up');
        await waitFor(s, '│ > Go slowly PARITY_SCENARIO:ui_slow');
      } finally {
        await tmux('kill-session', '-t', s).catch(() => {});
      }
    }, 60_000);
  },
);

test('without a terminal on stdout the UI falls back to plain lines: prompts and commands from stdin', async () => {
  const w = makeWorld();
  const dir = scenarios(join(w.root, 'scenarios'));
  const r = await runCli(['--mock', '--mock-scenarios', dir], {
    world: w,
    stdin:
      'Greet me PARITY_SCENARIO:ui_hello\n/status\n! echo plain-shell\n# Plain note\nMake a file PARITY_SCENARIO:ui_bash\n',
  });
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('Hello **there**.');
  expect(r.stdout).toMatch(/Session: [0-9a-f-]{36}/);
  // Nobody can answer a permission ask here: it is denied with the reason, and the session goes on.
  expect(r.stdout).toContain('✗ Permission denied');
  expect(existsSync(join(w.project, 'made.txt'))).toBe(false);
  // The shortcuts work here too.
  expect(r.stdout).toMatch(/^plain-shell$/m);
  expect(readFileSync(join(w.project, 'AGENTS.md'), 'utf8')).toContain('Plain note');
});
