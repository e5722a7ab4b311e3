import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { type MessageParam, projectSlug } from '../../sdk/index.ts';

/**
 * Sessions as append-only JSONL files under `~/.icode/projects/<project>/<id>.jsonl`: one line per
 * message, written as soon as the message is complete, so a crash loses at most the one in flight.
 */
export interface SessionSummary {
  id: string;
  file: string;
  createdAt: string;
  updatedAt: string;
  messages: number;
  firstPrompt: string;
}

type Line =
  | { type: 'session'; id: string; cwd: string; model: string; created_at: string }
  | { type: 'message'; message: MessageParam; at: string }
  | { type: 'result'; at: string; [key: string]: unknown }
  /** The conversation from here on is these messages (a summary and the turns kept after it). */
  | { type: 'compaction'; messages: MessageParam[]; at: string; [key: string]: unknown };

/** A project root as a file name (sessions, the UI's prompt history). */

/** Secrets never reach the disk: API keys, bearer tokens, and the values of the credential variables. */
export function redactor(secrets: Array<string | undefined>): (text: string) => string {
  const literal = secrets.filter((s): s is string => Boolean(s && s.length >= 8));
  return (text) => {
    let out = text
      .replace(/sk-ant-[A-Za-z0-9_-]{8,}/g, '[REDACTED]')
      .replace(/\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/g, '$1[REDACTED]');
    for (const s of literal) out = out.split(s).join('[REDACTED]');
    return out;
  };
}

export class SessionStore {
  readonly dir: string;

  constructor(
    userDir: string,
    projectRoot: string,
    private readonly redact: (text: string) => string,
  ) {
    this.dir = join(userDir, 'projects', projectSlug(projectRoot));
  }

  file(id: string): string {
    if (!/^[A-Za-z0-9-]+$/.test(id)) throw new Error(`"${id}" is not a session id`);
    return join(this.dir, `${id}.jsonl`);
  }

  list(): SessionSummary[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.jsonl'))
      .map((f) => this.summary(f.slice(0, -'.jsonl'.length)))
      .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  }

  private summary(id: string): SessionSummary {
    const file = this.file(id);
    const stat = statSync(file);
    const lines = this.read(id);
    const head = lines.find((l) => l.type === 'session');
    const messages = lines.filter((l): l is Extract<Line, { type: 'message' }> => l.type === 'message');
    const first = messages.find((m) => m.message.role === 'user')?.message.content;
    return {
      id,
      file,
      createdAt: head?.type === 'session' ? head.created_at : stat.birthtime.toISOString(),
      updatedAt: stat.mtime.toISOString(),
      messages: messages.length,
      firstPrompt: typeof first === 'string' ? first.slice(0, 80) : '',
    };
  }

  private read(id: string): Line[] {
    const text = readFileSync(this.file(id), 'utf8');
    // A line cut short by a crash is skipped; everything before it is kept.
    return text.split('\n').flatMap((line) => {
      try {
        return line ? [JSON.parse(line) as Line] : [];
      } catch {
        return [];
      }
    });
  }

  /** The messages of a session, repaired so the API accepts them: a tool_use left without results gets one. */
  messages(id: string): MessageParam[] {
    if (!existsSync(this.file(id)))
      throw new Error(`no session ${id} in this project (see: icode sessions list)`);
    const out: MessageParam[] = [];
    for (const line of this.read(id)) {
      if (line.type === 'compaction') {
        out.splice(0, out.length, ...line.messages);
        continue;
      }
      if (line.type !== 'message') continue;
      const previous = out.at(-1);
      const pending =
        previous?.role === 'assistant' && Array.isArray(previous.content)
          ? previous.content.filter((b) => b.type === 'tool_use')
          : [];
      const answered =
        line.message.role === 'user' &&
        Array.isArray(line.message.content) &&
        line.message.content.some((b) => b.type === 'tool_result');
      if (pending.length && !answered) out.push(interrupted(pending));
      out.push(line.message);
    }
    const last = out.at(-1);
    if (last?.role === 'assistant' && Array.isArray(last.content)) {
      const pending = last.content.filter((b) => b.type === 'tool_use');
      if (pending.length) out.push(interrupted(pending));
    }
    return out;
  }

  /** The most recently written session (--continue): file times only, no session is read. */
  latest(): string | undefined {
    if (!existsSync(this.dir)) return undefined;
    let best: { id: string; at: number } | undefined;
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith('.jsonl')) continue;
      const at = statSync(join(this.dir, f)).mtimeMs;
      if (!best || at > best.at) best = { id: f.slice(0, -'.jsonl'.length), at };
    }
    return best?.id;
  }

  /** Takes the session's lock for this process; a second process gets an error naming the holder. */
  open(id: string, header: { cwd: string; model: string }): SessionWriter {
    mkdirSync(this.dir, { recursive: true });
    const file = this.file(id);
    const lock = `${file}.lock`;
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
    } catch {
      const holder = Number(readFileSync(lock, 'utf8'));
      if (holder && holder !== process.pid && alive(holder)) {
        throw new Error(`session ${id} is open in another icode process (pid ${holder})`);
      }
      writeFileSync(lock, String(process.pid)); // the holder is gone: take the lock over
    }
    const append = (line: Line) => appendFileSync(file, `${this.redact(JSON.stringify(line))}\n`);
    if (!existsSync(file) || statSync(file).size === 0) {
      append({ type: 'session', id, ...header, created_at: new Date().toISOString() });
    }
    return {
      message: (message) => append({ type: 'message', message, at: new Date().toISOString() }),
      result: (result) => append({ type: 'result', at: new Date().toISOString(), ...result }),
      compaction: (messages, info) =>
        append({ type: 'compaction', ...info, messages, at: new Date().toISOString() }),
      close: () => rmSync(lock, { force: true }),
    };
  }
}

export interface SessionWriter {
  message(message: MessageParam): void;
  result(result: Record<string, unknown>): void;
  compaction(messages: MessageParam[], info: Record<string, unknown>): void;
  close(): void;
}

function interrupted(uses: Array<Record<string, unknown>>): MessageParam {
  return {
    role: 'user',
    content: uses.map((u) => ({
      type: 'tool_result',
      tool_use_id: String(u.id),
      content: 'Interrupted: the session ended before this tool ran.',
      is_error: true,
    })),
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
