import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { render } from 'ink-testing-library';
import { describe, expect, test } from 'vitest';
import type { PermissionAnswer, PermissionRequest } from '../../sdk/index.ts';
import { attachMentions, completePath, PermissionDialog, PromptInput } from './app.tsx';
import { applyEffect, shortcut, withShellContext } from './conversation.ts';
import { colourDiff, renderMarkdown, splitComplete } from './markdown.ts';

// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes are what is being removed
const ESCAPES = /\u001B\[\d+m/g;
const tick = () => new Promise((r) => setTimeout(r, 30));
const ENTER = '\r';
const UP = '\u001B[A';

describe('markdown', () => {
  test('finished blocks split off; an open code fence keeps its blank lines in the tail', () => {
    expect(splitComplete('# T\n\nHello')).toEqual({ done: '# T\n\n', rest: 'Hello' });
    expect(splitComplete('```js\na\n\nb')).toEqual({ done: '', rest: '```js\na\n\nb' });
    expect(splitComplete('```js\na\n\nb\n```\nafter')).toEqual({
      done: '```js\na\n\nb\n```\n',
      rest: 'after',
    });
  });
  test('renders headings, emphasis, lists, tasks, code and links as terminal text', () => {
    const out = renderMarkdown(
      '## Title\n\nSome **bold** and `code`, [docs](https://x.dev).\n\n1. a\n2. b\n\n- [x] done\n\n```sh\nls\n```',
    );
    expect(out).toContain('Title');
    expect(out).toContain('Some bold and code, docs (https://x.dev).');
    expect(out).toContain('1. a\n2. b');
    expect(out).toContain('☒ done');
    expect(out).toMatch(/│ ls/);
    expect(out).not.toContain('**');
  });
  test('a diff keeps its text (colour only adds escapes)', () => {
    expect(colourDiff('--- a\n+++ a\n@@ -1 +1 @@\n-x\n+y').replace(ESCAPES, '')).toBe(
      '--- a\n+++ a\n@@ -1 +1 @@\n-x\n+y',
    );
  });
});

describe('@file mentions', () => {
  test('attach files inside the workspace only; symlinks out and missing files stay text', () => {
    const root = mkdtempSync(join(tmpdir(), 'icode-mention-'));
    mkdirSync(join(root, 'src'));
    writeFileSync(join(root, 'src', 'a.ts'), 'export const a = 1;\n');
    symlinkSync('/etc/hostname', join(root, 'out'));
    const r = attachMentions('Look at @src/a.ts and @out and @nope.ts', root, [root]);
    expect(r.attached).toEqual([join(root, 'src', 'a.ts')]);
    expect(r.text).toContain('<file path="src/a.ts">\nexport const a = 1;\n\n</file>');
    expect(r.text).not.toContain('<file path="out">');
    expect(completePath('sr', root)).toEqual(['src/']);
    expect(completePath('src/', root)).toEqual(['src/a.ts']);
  });
});

describe('PromptInput', () => {
  test('Enter submits; a trailing backslash continues on a new line; ↑ brings back history', async () => {
    const sent: string[] = [];
    const ui = render(
      <PromptInput
        active
        history={['earlier prompt']}
        onSubmit={(t) => sent.push(t)}
        complete={async () => []}
        onCtrlC={() => {}}
      />,
    );
    ui.stdin.write('first line\\');
    await tick();
    ui.stdin.write(ENTER);
    await tick();
    ui.stdin.write('second');
    await tick();
    expect(ui.lastFrame()).toContain('first line');
    ui.stdin.write(ENTER);
    await tick();
    expect(sent).toEqual(['first line\nsecond']);
    ui.stdin.write(UP);
    await tick();
    expect(ui.lastFrame()).toContain('earlier prompt');
    ui.unmount();
  });
  test('keys that arrive in one chunk on a busy machine are applied one by one, never inserted as text', async () => {
    const sent: string[] = [];
    const ui = render(
      <PromptInput
        active
        history={[]}
        onSubmit={(t) => sent.push(t)}
        complete={async () => []}
        onCtrlC={() => {}}
      />,
    );
    ui.stdin.write('hello world');
    await tick();
    // Three backspaces together, then Ctrl-U and more text with Enter, each as one chunk.
    ui.stdin.write('\u007F\u007F\u007F');
    await tick();
    expect(ui.lastFrame()).toContain('> hello wo');
    expect(ui.lastFrame()).not.toContain('hello wor');
    ui.stdin.write('\u0015again\u007Fn\r');
    await tick();
    expect(sent).toEqual(['again']);
    ui.unmount();
  });
  test('Tab completes a single candidate and lists several', async () => {
    const ui = render(
      <PromptInput
        active
        history={[]}
        onSubmit={() => {}}
        complete={async (before) => (before === '/he' ? ['help'] : ['alpha', 'beta'])}
        onCtrlC={() => {}}
      />,
    );
    ui.stdin.write('/he');
    await tick();
    ui.stdin.write('\t');
    await tick();
    expect(ui.lastFrame()).toContain('/help');
    ui.stdin.write('x');
    await tick();
    ui.stdin.write('\t');
    await tick();
    expect(ui.lastFrame()).toContain('alpha  beta');
    ui.unmount();
  });
});

describe('PermissionDialog', () => {
  const request: PermissionRequest = {
    tool: 'edit_file',
    input: { path: 'a.ts', old_string: 'a = 1', new_string: 'a = 2' },
    mode: 'workspace-write',
    subjects: { kind: 'path', values: ['/p/a.ts'] },
    cwd: '/p',
    roots: ['/p'],
    sessionMode: 'prompt',
  };
  const dialog = (onAnswer: (a: PermissionAnswer) => void, saved: string[][] = []) =>
    render(
      <PermissionDialog
        ask={{
          request,
          decision: { decision: 'ask', reason: 'edit_file needs workspace-write' },
          resolve: onAnswer,
          rules: ['edit_file(/p/a.ts)'],
          allowAlways: (rules) => {
            saved.push(rules);
            return '/p/.icode/settings.local.json';
          },
        }}
        onDone={() => {}}
      />,
    );

  test('shows the change as a diff; deny asks for a reason that goes to the model', async () => {
    let answer: PermissionAnswer | undefined;
    const ui = dialog((a) => {
      answer = a;
    });
    expect(ui.lastFrame()).toContain('-a = 1');
    expect(ui.lastFrame()).toContain('+a = 2');
    ui.stdin.write('3');
    await tick();
    ui.stdin.write('use const instead');
    await tick();
    ui.stdin.write(ENTER);
    await tick();
    expect(answer).toEqual({ decision: 'deny', reason: 'denied by the user: use const instead' });
    ui.unmount();
  });
  test('allow always saves the rules and tells the gate to hold them', async () => {
    let answer: PermissionAnswer | undefined;
    const saved: string[][] = [];
    const ui = dialog((a) => {
      answer = a;
    }, saved);
    ui.stdin.write('\u001B[B'); // ↓ to "Allow always"
    await tick();
    ui.stdin.write(ENTER);
    await tick();
    expect(saved).toEqual([['edit_file(/p/a.ts)']]);
    expect(answer).toMatchObject({ decision: 'allow', remember: ['edit_file(/p/a.ts)'] });
    ui.unmount();
  });
});

describe('a command effect on the conversation (the UI and plain mode share it)', () => {
  const now = { session: 's1', model: 'sonnet', mode: 'prompt' as const };
  test('clear and resume end the session they leave, with the reason; model and mode change only those', () => {
    expect(applyEffect(now, { type: 'clear' })).toEqual({
      next: { model: 'sonnet', mode: 'prompt' },
      exit: false,
      ends: { id: 's1', reason: 'clear' },
    });
    expect(applyEffect(now, { type: 'resume', id: 's2' })).toEqual({
      next: { ...now, session: 's2' },
      exit: false,
      ends: { id: 's1', reason: 'other' },
    });
    expect(applyEffect(now, { type: 'resume', id: 's1' }).ends).toBeUndefined();
    expect(applyEffect({ model: 'm', mode: 'plan' }, { type: 'clear' }).ends).toBeUndefined();
    expect(applyEffect(now, { type: 'model', model: 'opus' }).next).toEqual({ ...now, model: 'opus' });
    expect(applyEffect(now, { type: 'mode', mode: 'plan' }).next).toEqual({ ...now, mode: 'plan' });
    expect(applyEffect(now, { type: 'exit' })).toEqual({ next: now, exit: true });
    expect(applyEffect(now, undefined)).toEqual({ next: now, exit: false });
  });
});

describe('prompt shortcuts', () => {
  test('! runs a command, # saves a one-line note; anything else is a prompt', () => {
    expect(shortcut('! npm test')).toEqual({ kind: 'shell', command: 'npm test' });
    expect(shortcut('!ls -la')).toEqual({ kind: 'shell', command: 'ls -la' });
    expect(shortcut('# use pnpm')).toEqual({ kind: 'memory', note: 'use pnpm' });
    expect(shortcut('# Heading\n\nA pasted document')).toBeUndefined();
    expect(shortcut('#!/bin/sh')).toBeUndefined();
    expect(shortcut('!')).toBeUndefined();
    expect(shortcut('fix #12')).toBeUndefined();
  });
  test('commands run since the last prompt go in front of it, once', () => {
    expect(withShellContext('why?', [])).toBe('why?');
    expect(withShellContext('why?', [{ command: 'npm test', output: '1 failed' }])).toBe(
      'I ran this in the shell myself:\n\n```\n$ npm test\n1 failed\n```\n\nwhy?',
    );
  });
});
