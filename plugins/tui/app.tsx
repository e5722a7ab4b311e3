import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import chalk from 'chalk';
import { Box, render, Static, Text, useApp, useInput, useStdin } from 'ink';
import { useCallback, useEffect, useRef, useState } from 'react';
import { isInside, resolveReal } from '../../kernel/paths.ts';
import { parseSlashCommand } from '../../kernel/registries.ts';
import type {
  CommandContext,
  CommandOutcome,
  PermissionAnswer,
  PermissionDecision,
  PermissionMode,
  PermissionRequest,
  PluginStatus,
  SessionEvent,
  SessionService,
  Usage,
} from '../../sdk/index.ts';
import { pickAnswer } from '../../sdk/index.ts';
import { applyEffect, contentText, shortcut, withShellContext } from './conversation.ts';
import { colourDiff, loadHighlighter, renderMarkdown, splitComplete } from './markdown.ts';

/** The terminal's bracketed paste mode: pasted text arrives between marks (see PromptInput). */
const PASTE_ON = '\u001B[?2004h';
const PASTE_OFF = '\u001B[?2004l';

/** What the UI needs from the harness; the tui plugin fills it from its context. */
export interface UiHost {
  session: SessionService;
  commands: {
    list(): Array<{ name: string; description: string }>;
    run(name: string, args: string, ctx: CommandContext): Promise<CommandOutcome>;
    complete(name: string, partial: string, ctx: CommandContext): Promise<string[]>;
  };
  plugins(): PluginStatus[];
  /** Where permission asks come from: the plugin's permissionPrompt tap hands them to the UI. */
  onPermission(
    ask:
      | ((request: PermissionRequest, decision: PermissionDecision) => Promise<PermissionAnswer>)
      | undefined,
  ): void;
  /** Rules to write for "allow always", and where they went. */
  allowAlways(rules: string[]): string;
  suggestedRules(request: PermissionRequest): string[];
  /** Where AskUserQuestion comes from while the UI is up. */
  onQuestion(
    ask:
      | ((q: { question: string; options: string[]; multiSelect: boolean }) => Promise<string | undefined>)
      | undefined,
  ): void;
  addRules(rules: string[]): void;
  /** Opens a file in the user's editor ($VISUAL, $EDITOR, else vi) on this terminal; returns when it exits. */
  editFile(file: string): { ok: boolean; message: string };
  /** `! command`: runs it through the bash tool (the gate and sandbox apply) for the user. */
  shell(
    command: string,
    mode: PermissionMode,
    signal: AbortSignal,
  ): Promise<{ output: string; isError: boolean }>;
  cwd: string;
  roots: readonly string[];
  historyFile: string;
  model: string;
  mode: PermissionMode;
  resume?: string;
  version: string;
}

type NewItem =
  | { kind: 'banner'; text: string }
  | { kind: 'user'; text: string }
  | { kind: 'markdown'; text: string }
  | { kind: 'tool'; name: string; arg: string; ok: boolean; ms: number; output: string }
  | { kind: 'info'; text: string; error?: boolean };
type Item = NewItem & { id: number };

interface Running {
  id: string;
  name: string;
  arg: string;
  started: number;
}

export interface Ask {
  request: PermissionRequest;
  decision: PermissionDecision;
  resolve(answer: PermissionAnswer): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** The argument of a tool call worth showing on its line: the command, path, pattern or url. */
export function keyArgument(input: unknown): string {
  if (!input || typeof input !== 'object') return '';
  const o = input as Record<string, unknown>;
  for (const k of [
    'command',
    'path',
    'file_path',
    'notebook_path',
    'pattern',
    'url',
    'query',
    'action',
    'message',
    'question',
    'skill',
    'description',
  ]) {
    if (typeof o[k] === 'string') {
      const v = (o[k] as string).replace(/\s+/g, ' ');
      return v.length > 60 ? `${v.slice(0, 59)}…` : v;
    }
  }
  return '';
}

const outputText = (output: SessionEvent & { type: 'tool_result' }) => contentText(output.output);

/** A tool result folded to a few lines, coloured when it is a diff. */
function folded(output: string): string {
  const all = output.replace(/\s+$/, '').split('\n');
  // An edit's diff is what the user needs to see; other output is folded to its first lines.
  const lines = /^(---|\+\+\+|@@) /m.test(output) ? 16 : 3;
  const shown = all.slice(0, lines).join('\n');
  const more =
    all.length > lines
      ? chalk.dim(`\n… ${all.length - lines} more lines (ctrl+o shows the last result in full)`)
      : '';
  return (/^(---|\+\+\+|@@) /m.test(shown) ? colourDiff(shown) : shown) + more;
}

function loadHistory(file: string): string[] {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as string[]).filter((s) => typeof s === 'string');
  } catch {
    return [];
  }
}

/** Files and folders completing `@partial`, relative to the working folder. */
export function completePath(partial: string, cwd: string): string[] {
  const dir = partial.includes('/') ? partial.slice(0, partial.lastIndexOf('/') + 1) : '';
  const prefix = partial.slice(dir.length);
  try {
    return readdirSync(resolve(cwd, dir || '.'), { withFileTypes: true })
      .filter(
        (e) =>
          e.name.startsWith(prefix) &&
          (prefix.startsWith('.') || !e.name.startsWith('.')) &&
          e.name !== 'node_modules',
      )
      .map((e) => `${dir}${e.name}${e.isDirectory() ? '/' : ''}`)
      .sort()
      .slice(0, 50);
  } catch {
    return [];
  }
}

/** `@path` mentions become attached files (inside the workspace only), appended to the prompt. */
export function attachMentions(
  prompt: string,
  cwd: string,
  roots: readonly string[],
): { text: string; attached: string[] } {
  const attached: string[] = [];
  const blocks: string[] = [];
  for (const m of prompt.matchAll(/(?:^|\s)@([^\s]+)/g)) {
    // Symlinks resolved before the check: a link in the workspace to a file outside is not attached.
    const file = resolveReal(m[1]!, cwd);
    const inside = roots.some((r) => isInside(file, r));
    if (!inside || !existsSync(file) || !statSync(file).isFile() || attached.includes(file)) continue;
    const text = readFileSync(file, 'utf8');
    attached.push(file);
    blocks.push(
      `<file path="${relative(cwd, file)}">\n${text.length > 100_000 ? `${text.slice(0, 100_000)}\n[cut at 100,000 characters]` : text}\n</file>`,
    );
  }
  return { text: blocks.length ? `${prompt}\n\n${blocks.join('\n\n')}` : prompt, attached };
}

/** The last turns of a resumed session, so the user sees where it stands. */
function earlier(session: SessionService, id: string): NewItem[] {
  return session
    .messages(id)
    .flatMap((m) =>
      (typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content)
        .filter((b) => b.type === 'text' && typeof b.text === 'string' && b.text.trim())
        .map(
          (b): NewItem =>
            m.role === 'user'
              ? { kind: 'user', text: String(b.text) }
              : { kind: 'markdown', text: String(b.text) },
        ),
    )
    .slice(-6);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL = /[\u0000-\u0009\u000B-\u001F\u007F]/;

/** The prompt editor: multi-line (a line ending in \ continues), history on ↑/↓, Tab completion. */
export function PromptInput(props: {
  active: boolean;
  history: string[];
  onSubmit(text: string): void;
  complete(text: string): Promise<string[]>;
  onCtrlC(hasText: boolean): void;
}) {
  // Keys can arrive faster than React renders (typed text, then Enter, in one tick): the text lives in a
  // ref that every key sees at once; state only triggers the render.
  const edit = useRef({ text: '', cursor: 0 });
  const [, rerender] = useState(0);
  const [browse, setBrowse] = useState(-1);
  const [choices, setChoices] = useState<string[]>([]);
  const set = (t: string, c = t.length) => {
    edit.current = { text: t, cursor: Math.max(0, Math.min(c, t.length)) };
    rerender((n) => n + 1);
  };
  const setCursor = (c: number) => set(edit.current.text, c);
  // Bracketed paste (the terminal marks a paste with ESC[200~ … ESC[201~): everything between the marks is
  // text, its line breaks included, so a pasted line ending in a newline is not sent by itself.
  const pasting = useRef(false);
  useInput(
    (input, key) => {
      const { text, cursor } = edit.current;
      if (input === '[200~' || input === '\u001B[200~') {
        pasting.current = true;
        return;
      }
      if (input === '[201~' || input === '\u001B[201~') {
        pasting.current = false;
        return;
      }
      if (pasting.current) {
        const chunk = key.return ? '\n' : input.replace(/\r\n?/g, '\n');
        return set(text.slice(0, cursor) + chunk + text.slice(cursor), cursor + chunk.length);
      }
      // Keys that arrive together on a busy machine come as one chunk ("\x15\x7f\x7f"): each is applied
      // in turn, and a control character is never taken for text.
      if (!key.ctrl && !key.meta && input.length > 1 && CONTROL.test(input)) {
        let t = text;
        let c = cursor;
        for (const [i, ch] of [...input].entries()) {
          if (ch === '\u007F' || ch === '\b') {
            if (c > 0) [t, c] = [t.slice(0, c - 1) + t.slice(c), c - 1];
          } else if (ch === '\u0015') [t, c] = [t.slice(c), 0];
          else if (ch === '\u0001') c = 0;
          else if (ch === '\u0005') c = t.length;
          else if (ch === '\r' || ch === '\n') {
            if (i === input.length - 1 && t.trim() && !t.endsWith('\\')) {
              props.onSubmit(t);
              setBrowse(-1);
              setChoices([]);
              return set('');
            }
            [t, c] = [`${t.slice(0, c)}\n${t.slice(c)}`, c + 1];
          } else if (!CONTROL.test(ch)) [t, c] = [t.slice(0, c) + ch + t.slice(c), c + ch.length];
        }
        return set(t, c);
      }
      if (key.ctrl && input === 'c') {
        props.onCtrlC(text.length > 0);
        set('');
        return;
      }
      if (key.return) {
        if (text.endsWith('\\')) return set(`${text.slice(0, -1)}\n`);
        if (key.meta || key.shift) return set(`${text.slice(0, cursor)}\n${text.slice(cursor)}`, cursor + 1);
        if (!text.trim()) return;
        props.onSubmit(text);
        setBrowse(-1);
        setChoices([]);
        return set('');
      }
      if (key.tab) {
        void props.complete(text.slice(0, cursor)).then((found) => {
          if (found.length === 1) {
            const word = /\S*$/.exec(text.slice(0, cursor))![0];
            const before = text.slice(0, cursor - word.length);
            const done = word.startsWith('@')
              ? `@${found[0]}`
              : word.startsWith('/') && !before
                ? `/${found[0]} `
                : found[0]!;
            set(before + done + text.slice(cursor), (before + done).length);
            setChoices([]);
          } else setChoices(found);
        });
        return;
      }
      if (key.upArrow && !text.includes('\n')) {
        const next = Math.min(browse + 1, props.history.length - 1);
        if (next >= 0) {
          setBrowse(next);
          set(props.history[props.history.length - 1 - next]!);
        }
        return;
      }
      if (key.downArrow && !text.includes('\n')) {
        const next = browse - 1;
        setBrowse(Math.max(-1, next));
        set(next < 0 ? '' : props.history[props.history.length - 1 - next]!);
        return;
      }
      if (key.leftArrow) return setCursor(Math.max(0, cursor - 1));
      if (key.rightArrow) return setCursor(Math.min(text.length, cursor + 1));
      if (key.home || (key.ctrl && input === 'a')) return setCursor(0);
      if (key.end || (key.ctrl && input === 'e')) return setCursor(text.length);
      if (key.ctrl && input === 'u') return set(text.slice(cursor), 0);
      if (key.backspace || key.delete) {
        if (cursor > 0) set(text.slice(0, cursor - 1) + text.slice(cursor), cursor - 1);
        return;
      }
      if (key.ctrl || key.meta || key.escape || !input) return;
      // Typed or pasted text. A paste arrives as one chunk and keeps its line breaks; a chunk whose only
      // line break ends it is typing that outran the terminal (text, then Enter): it is submitted.
      if (/^[^\r\n]+\r$/.test(input)) {
        const full = text.slice(0, cursor) + input.slice(0, -1) + text.slice(cursor);
        if (!full.endsWith('\\')) {
          props.onSubmit(full);
          setBrowse(-1);
          setChoices([]);
          return set('');
        }
      }
      const chunk = input.replace(/\r\n?/g, '\n');
      set(text.slice(0, cursor) + chunk + text.slice(cursor), cursor + chunk.length);
      if (choices.length) setChoices([]);
    },
    { isActive: props.active },
  );
  const { text, cursor } = edit.current;
  const before = text.slice(0, cursor);
  const at = text.slice(cursor, cursor + 1);
  const after = text.slice(cursor + 1);
  return (
    <Box flexDirection="column">
      <Box borderStyle="round" borderColor={props.active ? 'cyan' : 'gray'} paddingX={1}>
        <Text>
          {chalk.cyan('> ')}
          {before}
          {props.active ? chalk.inverse(at === '' || at === '\n' ? ' ' : at) : at}
          {at === '\n' ? '\n' : ''}
          {after}
        </Text>
      </Box>
      {choices.length > 0 && <Text dimColor>{choices.slice(0, 12).join('  ')}</Text>}
    </Box>
  );
}

export function PermissionDialog({ ask, onDone }: { ask: AskWithRules; onDone(note?: string): void }) {
  // Keys can come faster than renders (a paste, a busy machine): each key reads what the keys before it
  // left, not what the last render saw, so "3" then a reason, or ↓ then Enter, do what was typed.
  const [choice, setChoiceState] = useState(0);
  const [reason, setReasonState] = useState<string | undefined>(undefined);
  const now = useRef({ choice: 0, reason: undefined as string | undefined });
  const setChoice = (next: (c: number) => number) => {
    now.current.choice = next(now.current.choice);
    setChoiceState(now.current.choice);
  };
  const setReason = (next: string | undefined) => {
    now.current.reason = next;
    setReasonState(next);
  };
  const rules = ask.request.subjects ? ask.rules : [ask.request.tool];
  const answer = (a: PermissionAnswer, note?: string) => {
    ask.resolve(a);
    onDone(note);
  };
  useInput((input, key) => {
    const { reason } = now.current;
    if (reason !== undefined) {
      if (key.return)
        return answer({
          decision: 'deny',
          reason: reason.trim() ? `denied by the user: ${reason.trim()}` : 'denied by the user',
        });
      if (key.escape) return answer({ decision: 'deny', reason: 'denied by the user' });
      if (key.backspace || key.delete) return setReason(reason.slice(0, -1));
      if (!key.ctrl && !key.meta && input) setReason(reason + input);
      return;
    }
    const pick = (n: number) => {
      if (n === 0) answer({ decision: 'allow', reason: 'allowed once by the user' });
      else if (n === 1) {
        const where = ask.allowAlways(rules);
        answer(
          {
            decision: 'allow',
            reason: `always allowed (${rules.join(', ')} saved to ${where})`,
            remember: rules,
          },
          `Always allowed: ${rules.join(', ')} (saved to ${where})`,
        );
      } else setReason('');
    };
    if (key.upArrow) setChoice((c) => (c + 2) % 3);
    else if (key.downArrow || key.tab) setChoice((c) => (c + 1) % 3);
    else if (key.return) pick(now.current.choice);
    else if (input === '1' || input === 'y') pick(0);
    else if (input === '2' || input === 'a') pick(1);
    else if (input === '3' || input === 'n') pick(2);
    else if (key.escape) answer({ decision: 'deny', reason: 'denied by the user' });
  });
  const input = ask.request.input as Record<string, unknown>;
  const preview =
    typeof input?.old_string === 'string' && typeof input.new_string === 'string'
      ? colourDiff(
          [
            ...String(input.old_string)
              .split('\n')
              .map((l) => `-${l}`),
            ...String(input.new_string)
              .split('\n')
              .map((l) => `+${l}`),
          ]
            .slice(0, 20)
            .join('\n'),
        )
      : typeof input?.content === 'string'
        ? colourDiff(
            String(input.content)
              .split('\n')
              .slice(0, 12)
              .map((l) => `+${l}`)
              .join('\n'),
          )
        : undefined;
  const options = [
    'Allow once',
    `Allow always (${rules.join(', ')} → .icode/settings.local.json)`,
    'Deny, and tell the model why',
  ];
  return (
    <Box flexDirection="column" borderStyle="round" borderColor="yellow" paddingX={1}>
      <Text bold>
        {ask.request.tool} wants to {ask.request.mode === 'read-only' ? 'read' : 'run or change'}:{' '}
        {ask.request.subjects?.values.join(', ') || keyArgument(ask.request.input)}
      </Text>
      <Text dimColor>{ask.decision.reason}</Text>
      {preview && <Text>{preview}</Text>}
      {reason === undefined ? (
        options.map((o, i) => (
          <Text key={o} {...(i === choice ? { color: 'cyan' } : {})}>
            {i === choice ? '❯ ' : '  '}
            {i + 1}. {o}
          </Text>
        ))
      ) : (
        <Text>
          Reason for the model (Enter to send, Esc for none): {reason}
          {chalk.inverse(' ')}
        </Text>
      )}
    </Box>
  );
}

interface QuestionAsk {
  question: string;
  options: string[];
  multiSelect: boolean;
  resolve(answer: string | undefined): void;
}

/** AskUserQuestion: a number picks an option (several, comma-separated, when allowed); text is its own answer. */
export function QuestionDialog({
  ask,
  onDone,
}: {
  ask: QuestionAsk;
  onDone(answer: string | undefined): void;
}) {
  const [text, setText] = useState('');
  useInput((input, key) => {
    if (key.escape) return onDone(undefined);
    if (key.return) {
      return onDone(pickAnswer(text, ask.options));
    }
    if (!text && !ask.multiSelect && /^[1-9]$/.test(input) && ask.options[Number(input) - 1])
      return onDone(ask.options[Number(input) - 1]);
    if (key.backspace || key.delete) return setText(text.slice(0, -1));
    if (!key.ctrl && !key.meta && input) setText(text + input);
  });
  return (
    <Box flexDirection="column" borderStyle="round" borderColor="magenta" paddingX={1}>
      <Text bold>{ask.question}</Text>
      {ask.options.map((o, i) => (
        <Text key={o}>
          {i + 1}. {o}
        </Text>
      ))}
      <Text dimColor>
        {ask.options.length ? (ask.multiSelect ? 'Numbers separated by commas, or' : 'A number, or') : ''}{' '}
        your own answer; Enter sends, Esc skips
      </Text>
      <Text>
        {chalk.cyan('> ')}
        {text}
        {chalk.inverse(' ')}
      </Text>
    </Box>
  );
}

export interface AskWithRules extends Ask {
  rules: string[];
  allowAlways(rules: string[]): string;
}

export function App({ host, onExit }: { host: UiHost; onExit(code: number, session?: string): void }) {
  const { exit } = useApp();
  const { setRawMode } = useStdin();
  const nextId = useRef(0);
  const [items, setItems] = useState<Item[]>(() => [
    {
      id: nextId.current++,
      kind: 'banner',
      text: `${chalk.bold('icode')} ${host.version} · ${host.cwd}\n${chalk.dim('/help for commands · @ attaches a file · ! runs a command · # saves a note\nEsc interrupts · Ctrl-C twice exits')}`,
    },
    // A resumed session shows its last turns in the first frame.
    ...(host.resume ? earlier(host.session, host.resume) : []).map((item) => ({
      ...item,
      id: nextId.current++,
    })),
  ]);
  const [live, setLive] = useState('');
  const [running, setRunning] = useState<Running[]>([]);
  const [busy, setBusy] = useState<number | undefined>(undefined);
  const [frame, setFrame] = useState(0);
  const [ask, setAsk] = useState<AskWithRules | undefined>(undefined);
  const [question, setQuestion] = useState<QuestionAsk | undefined>(undefined);
  const [model, setModel] = useState(host.model);
  const [mode, setMode] = useState<PermissionMode>(host.mode);
  const [usage, setUsage] = useState<Usage | undefined>(undefined);
  const [cost, setCost] = useState(0);
  const [todos, setTodos] = useState<Array<{ content?: string; status?: string }>>([]);
  const [history, setHistory] = useState<string[]>(() => loadHistory(host.historyFile));
  const [warnCtrlC, setWarnCtrlC] = useState(false);
  const sessionId = useRef<string | undefined>(host.resume);
  const controller = useRef<AbortController | undefined>(undefined);
  const lastOutput = useRef('');
  /** What the user ran with `!` since the last prompt: it goes to the model with the next one. */
  const ranShell = useRef<Array<{ command: string; output: string }>>([]);
  const streamed = useRef('');

  const add = useCallback((item: NewItem) => {
    setItems((list) => [...list, { ...item, id: nextId.current++ }]);
  }, []);
  const flush = useCallback(() => {
    if (streamed.current.trim()) add({ kind: 'markdown', text: streamed.current });
    streamed.current = '';
    setLive('');
  }, [add]);

  const showEarlier = useCallback(
    (id: string) => {
      for (const item of earlier(host.session, id)) add(item);
    },
    [add, host],
  );

  useEffect(() => {
    const t = setTimeout(() => void loadHighlighter().catch(() => {}), 50);
    return () => clearTimeout(t);
  }, []);

  useEffect(() => {
    if (busy === undefined) return;
    const t = setInterval(() => setFrame((f) => f + 1), 100);
    return () => clearInterval(t);
  }, [busy]);

  useEffect(() => {
    host.onPermission(
      (request, decision) =>
        new Promise<PermissionAnswer>((resolve) => {
          setAsk({
            request,
            decision,
            resolve,
            rules: host.suggestedRules(request),
            allowAlways: (rules) => host.allowAlways(rules),
          });
        }),
    );
    host.onQuestion((q) => new Promise((resolve) => setQuestion({ ...q, resolve })));
    return () => {
      host.onPermission(undefined);
      host.onQuestion(undefined);
    };
  }, [host]);

  const leave = useCallback(
    (code = 0) => {
      controller.current?.abort(new Error('interrupted'));
      onExit(code, sessionId.current);
      exit();
    },
    [exit, onExit],
  );

  const onEvent = useCallback(
    (event: SessionEvent) => {
      switch (event.type) {
        case 'session_start':
          sessionId.current = event.session_id;
          break;
        case 'text_delta': {
          streamed.current += event.text;
          const { done, rest } = splitComplete(streamed.current);
          if (done) {
            add({ kind: 'markdown', text: done });
            streamed.current = rest;
          }
          setLive(streamed.current);
          break;
        }
        case 'tool_use':
          flush();
          setRunning((r) => [
            ...r,
            { id: event.id, name: event.name, arg: keyArgument(event.input), started: Date.now() },
          ]);
          break;
        case 'tool_result': {
          const text = outputText(event);
          lastOutput.current = text;
          setRunning((r) => {
            const started = r.find((x) => x.id === event.tool_use_id);
            add({
              kind: 'tool',
              name: event.tool_name,
              arg: started?.arg ?? '',
              ok: !event.is_error,
              ms: started ? Date.now() - started.started : 0,
              output: text,
            });
            return r.filter((x) => x.id !== event.tool_use_id);
          });
          break;
        }
        case 'retry':
          add({ kind: 'info', text: `retrying (${event.reason}) in ${(event.delay_ms / 1000).toFixed(1)}s` });
          break;
        case 'compaction':
          add({
            kind: 'info',
            text: `compacted ${event.messages_before} messages into ${event.messages_after}`,
          });
          break;
        case 'todos':
          setTodos(event.todos as typeof todos);
          break;
        case 'notice':
          flush();
          add({ kind: 'markdown', text: event.text });
          break;
        case 'mode':
          setMode(event.mode);
          add({ kind: 'info', text: `Permission mode: ${event.mode}` });
          break;
        case 'result':
          flush();
          setUsage((u) => ({
            input_tokens: (u?.input_tokens ?? 0) + event.usage.input_tokens,
            output_tokens: (u?.output_tokens ?? 0) + event.usage.output_tokens,
            cache_read_input_tokens:
              (u?.cache_read_input_tokens ?? 0) + (event.usage.cache_read_input_tokens ?? 0),
            cache_creation_input_tokens:
              (u?.cache_creation_input_tokens ?? 0) + (event.usage.cache_creation_input_tokens ?? 0),
          }));
          setCost((c) => c + event.total_cost_usd);
          if (event.stop_reason === 'interrupted')
            add({ kind: 'info', text: 'Interrupted. The session is saved; type to continue.' });
          else if (event.is_error) add({ kind: 'info', text: event.error ?? 'the turn failed', error: true });
          break;
      }
    },
    [add, flush],
  );

  const ask_ = useCallback(
    async (asked: string, opts: { model?: string; allowedTools?: string[] } = {}) => {
      const prompt = withShellContext(asked, ranShell.current.splice(0));
      const ctl = new AbortController();
      controller.current = ctl;
      setBusy(Date.now());
      if (opts.allowedTools?.length) host.addRules(opts.allowedTools);
      try {
        await host.session.run({
          prompt,
          model: opts.model ?? model,
          permissionMode: mode,
          interactive: true,
          // One run per prompt: the session's SessionEnd waits for /clear, /resume or leaving the UI.
          keepOpen: true,
          signal: ctl.signal,
          onEvent,
          ...(sessionId.current ? { resume: sessionId.current } : {}),
        });
      } catch (error) {
        add({ kind: 'info', text: error instanceof Error ? error.message : String(error), error: true });
      } finally {
        flush();
        setRunning([]);
        setBusy(undefined);
        controller.current = undefined;
      }
    },
    [add, flush, host, mode, model, onEvent],
  );

  const commandContext = (): CommandContext => ({
    cwd: host.cwd,
    session: {
      ...(sessionId.current ? { id: sessionId.current } : {}),
      model,
      permissionMode: mode,
      ...(usage ? { usage } : {}),
      costUsd: cost,
    },
  });

  const submit = async (raw: string) => {
    const text = raw.trim();
    setHistory((h) => {
      const next = [...h.filter((x) => x !== text), text].slice(-500);
      try {
        mkdirSync(dirname(host.historyFile), { recursive: true });
        writeFileSync(host.historyFile, JSON.stringify(next));
      } catch {
        // History is a convenience; a read-only home must not stop the session.
      }
      return next;
    });
    add({ kind: 'user', text });
    const slash = parseSlashCommand(text);
    if (slash && host.commands.list().some((c) => c.name === slash.name)) {
      const outcome = await host.commands.run(slash.name, slash.args, commandContext());
      if (outcome.output) add({ kind: 'info', text: outcome.output, error: outcome.isError });
      const effect = outcome.effect;
      const { next, exit, ends } = applyEffect(
        { ...(sessionId.current ? { session: sessionId.current } : {}), model, mode },
        effect,
      );
      if (exit) return leave(0);
      if (ends) await host.session.end(ends.id, ends.reason);
      sessionId.current = next.session;
      setModel(next.model);
      setMode(next.mode);
      // What only the screen shows: a fresh status line, or the resumed session's last turns.
      if (effect?.type === 'clear') {
        setUsage(undefined);
        setCost(0);
        setTodos([]);
        add({ kind: 'info', text: 'New conversation.' });
      }
      if (effect?.type === 'resume') showEarlier(effect.id);
      if (effect?.type === 'edit') {
        // The editor gets the terminal as it expects it: cooked, without bracketed paste.
        setRawMode(false);
        process.stdout.write(PASTE_OFF);
        const edited = host.editFile(effect.file);
        process.stdout.write(PASTE_ON);
        setRawMode(true);
        add({ kind: 'info', text: edited.message, error: !edited.ok });
      }
      if (outcome.prompt && !outcome.isError)
        await ask_(outcome.prompt, {
          ...(outcome.model ? { model: outcome.model } : {}),
          ...(outcome.allowedTools ? { allowedTools: outcome.allowedTools } : {}),
        });
      return;
    }
    const cut = shortcut(text);
    if (cut?.kind === 'shell') {
      const started = Date.now();
      // Esc stops it, as it stops the model.
      const ctl = new AbortController();
      controller.current = ctl;
      setBusy(started);
      setRunning([{ id: 'user-shell', name: 'bash', arg: cut.command, started }]);
      try {
        const r = await host.shell(cut.command, mode, ctl.signal);
        add({
          kind: 'tool',
          name: 'bash',
          arg: cut.command,
          ok: !r.isError,
          ms: Date.now() - started,
          output: r.output,
        });
        lastOutput.current = r.output;
        ranShell.current.push({ command: cut.command, output: r.output });
      } finally {
        setBusy(undefined);
        setRunning([]);
        controller.current = undefined;
      }
      return;
    }
    if (cut?.kind === 'memory') {
      const outcome = await host.commands.run('memory', `add ${cut.note}`, commandContext());
      if (outcome.output) add({ kind: 'info', text: outcome.output, error: outcome.isError });
      return;
    }
    const { text: prompt, attached } = attachMentions(text, host.cwd, host.roots);
    if (attached.length)
      add({ kind: 'info', text: `attached ${attached.map((f) => relative(host.cwd, f)).join(', ')}` });
    await ask_(prompt);
  };

  const complete = async (before: string): Promise<string[]> => {
    const word = /\S*$/.exec(before)![0];
    if (word.startsWith('@')) return completePath(word.slice(1), host.cwd);
    if (word.startsWith('/') && word === before.trimStart())
      return host.commands
        .list()
        .map((c) => c.name)
        .filter((n) => n.startsWith(word.slice(1)))
        .sort();
    const cmd = /^\/([a-zA-Z0-9_:-]+)\s+(.*)$/.exec(before);
    if (cmd) {
      const options = await host.commands.complete(cmd[1]!, cmd[2]!, commandContext());
      return options.filter((o) => o.startsWith(cmd[2]!)).map((o) => o.slice(cmd[2]!.length - word.length));
    }
    return [];
  };

  const lastCtrlC = useRef(0);
  const onCtrlC = useCallback(
    (hasText: boolean) => {
      if (busy !== undefined) {
        controller.current?.abort(new Error('interrupted'));
        return;
      }
      if (hasText) return;
      const now = Date.now();
      if (now - lastCtrlC.current < 2000) return leave(0);
      lastCtrlC.current = now;
      setWarnCtrlC(true);
      setTimeout(() => setWarnCtrlC(false), 2000);
    },
    [busy, leave],
  );

  useInput((input, key) => {
    if (key.escape && busy !== undefined && !ask && !question)
      controller.current?.abort(new Error('interrupted'));
    if (key.ctrl && input === 'o' && lastOutput.current) add({ kind: 'info', text: lastOutput.current });
    if (key.ctrl && input === 'c' && (busy !== undefined || ask)) onCtrlC(false);
  });

  const degraded = host.plugins().filter((p) => p.state === 'degraded' || p.state === 'failed');
  const tokens = usage ? usage.input_tokens + usage.output_tokens : 0;
  const status = [
    model,
    mode,
    `${tokens.toLocaleString('en-US')} tokens`,
    `$${cost.toFixed(4)}`,
    ...(degraded.length
      ? [chalk.yellow(`${degraded.map((p) => p.name).join(', ')} degraded (/doctor)`)]
      : []),
  ].join(' · ');

  return (
    <Box flexDirection="column">
      <Static items={items}>{(item) => <ItemView key={item.id} item={item} />}</Static>
      {live && <Text>{renderMarkdown(live)}</Text>}
      {running.map((r) => (
        <Text key={r.id}>
          {chalk.yellow('●')} {chalk.bold(r.name)} {chalk.dim(r.arg)}{' '}
          {chalk.dim(`${((Date.now() - r.started) / 1000).toFixed(1)}s`)}
        </Text>
      ))}
      {todos.length > 0 && (
        <Box flexDirection="column" marginTop={1}>
          {todos.map((t) => (
            <Text key={`${t.content}`} dimColor={t.status === 'completed'}>
              {t.status === 'completed' ? '☒' : t.status === 'in_progress' ? '◐' : '☐'} {t.content}
            </Text>
          ))}
        </Box>
      )}
      {busy !== undefined && !ask && !question && (
        <Text color="cyan">
          {FRAMES[frame % FRAMES.length]} {running.length ? 'running tools' : 'thinking'}…{' '}
          {((Date.now() - busy) / 1000).toFixed(0)}s {chalk.dim('(esc to interrupt)')}
        </Text>
      )}
      {question && (
        <QuestionDialog
          ask={question}
          onDone={(answer) => {
            question.resolve(answer);
            setQuestion(undefined);
            add({ kind: 'info', text: `${question.question} → ${answer ?? '(no answer)'}` });
          }}
        />
      )}
      {ask && (
        <PermissionDialog
          ask={ask}
          onDone={(note) => {
            setAsk(undefined);
            if (note) add({ kind: 'info', text: note });
          }}
        />
      )}
      <PromptInput
        active={busy === undefined && !ask && !question}
        history={history}
        onSubmit={(t) => void submit(t)}
        complete={complete}
        onCtrlC={onCtrlC}
      />
      <Text dimColor>{warnCtrlC ? 'Press Ctrl-C again to exit' : status}</Text>
    </Box>
  );
}

function ItemView({ item }: { item: Item }) {
  switch (item.kind) {
    case 'banner':
      return <Text>{item.text}</Text>;
    case 'user':
      return (
        <Box marginTop={1}>
          <Text>{chalk.dim(`> ${item.text.replace(/\n/g, '\n  ')}`)}</Text>
        </Box>
      );
    case 'markdown':
      return (
        <Box marginBottom={1}>
          <Text>{renderMarkdown(item.text)}</Text>
        </Box>
      );
    case 'tool':
      return (
        <Box flexDirection="column">
          <Text>
            {item.ok ? chalk.green('●') : chalk.red('●')} {chalk.bold(item.name)} {chalk.dim(item.arg)}{' '}
            {chalk.dim(`${(item.ms / 1000).toFixed(1)}s`)}
          </Text>
          <Box paddingLeft={2}>
            <Text>
              {chalk.dim('⎿ ')}
              {item.ok ? folded(item.output) : chalk.red(folded(item.output))}
            </Text>
          </Box>
        </Box>
      );
    case 'info':
      return <Text color={item.error ? 'red' : 'gray'}>{item.text}</Text>;
  }
}

/** Mounts the UI on the terminal; resolves with the exit code when the user leaves. */
export async function runUi(host: UiHost): Promise<number> {
  let code = 0;
  let session: string | undefined;
  const instance = render(
    <App
      host={host}
      onExit={(c, id) => {
        code = c;
        session = id;
      }}
    />,
    { exitOnCtrlC: false, patchConsole: false },
  );
  const bracketed = process.stdout.isTTY;
  if (bracketed) process.stdout.write(PASTE_ON);
  try {
    await instance.waitUntilExit();
  } finally {
    if (bracketed) process.stdout.write(PASTE_OFF);
  }
  if (session) await host.session.end(session, 'prompt_input_exit');
  return code;
}
