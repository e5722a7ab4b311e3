import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { type MessageParam, projectSlug, type SessionSummary, type UnlockReport } from '../../sdk/index.ts';
import { acquireLock, describeHolder, judge, readLock } from '../../sdk/lock.ts';

type Line =
  | { type: 'session'; id: string; cwd: string; model: string; created_at: string }
  | { type: 'message'; message: MessageParam; at: string }
  | { type: 'result'; at: string; [key: string]: unknown }
  /** The conversation from here on is these messages (a summary and the turns kept after it). */
  | { type: 'compaction'; messages: MessageParam[]; at: string; [key: string]: unknown }
  /** These tool calls are about to run: on resume, one left without a result may have run. */
  | { type: 'tool_start'; ids: string[]; at: string };

const ID = /^[A-Za-z0-9-]+$/;

/** A session file could not be written (a full disk, a lost mount); the file keeps its whole lines. */
export class SessionWriteError extends Error {
  constructor(
    readonly file: string,
    cause: unknown,
    what = 'the session file',
  ) {
    super(`cannot write ${what} ${file}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}

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

/**
 * Sessions as append-only JSONL files under `~/.icode/projects/<project>/<id>.jsonl`: one line per
 * message, written as soon as the message is complete, so a crash loses at most the one in flight. A
 * line cut short (a crash, a full disk) is set aside when the session is next opened, so what is appended
 * then starts on a line of its own; a write that fails is undone, so the file only ever holds whole lines.
 */
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
    if (!ID.test(id)) throw new Error(`"${id}" is not a session id`);
    return join(this.dir, `${id}.jsonl`);
  }

  /**
   * The session files of this folder with their modification times: regular files named `<id>.jsonl`.
   * Anything else (notes, folders, set-aside partial lines, locks, a file that vanished) is not a session.
   */
  private files(): Array<{ id: string; file: string; mtime: Date; birthtime: Date }> {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names.flatMap((name) => {
      const id = name.slice(0, -'.jsonl'.length);
      if (!name.endsWith('.jsonl') || !ID.test(id)) return [];
      const file = join(this.dir, name);
      try {
        const stat = statSync(file);
        return stat.isFile() ? [{ id, file, mtime: stat.mtime, birthtime: stat.birthtime }] : [];
      } catch {
        return [];
      }
    });
  }

  /** This project's sessions, newest first; a file with no session in it is left out. */
  list(): SessionSummary[] {
    return this.files()
      .flatMap((f) => {
        try {
          const summary = this.summary(f);
          return summary ? [summary] : [];
        } catch {
          return []; // unreadable
        }
      })
      .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  }

  private summary(f: { id: string; file: string; mtime: Date; birthtime: Date }): SessionSummary | undefined {
    const lines = this.read(f.id);
    const head = lines.find((l) => l.type === 'session');
    const messages = lines.filter((l): l is Extract<Line, { type: 'message' }> => l.type === 'message');
    if (!head && !messages.length) return undefined;
    const first = messages.find((m) => m.message?.role === 'user')?.message.content;
    return {
      id: f.id,
      file: f.file,
      createdAt: head?.type === 'session' ? head.created_at : f.birthtime.toISOString(),
      updatedAt: f.mtime.toISOString(),
      messages: messages.length,
      firstPrompt: typeof first === 'string' ? first.slice(0, 80) : '',
    };
  }

  private read(id: string): Line[] {
    const text = readFileSync(this.file(id), 'utf8');
    // A line cut short by a crash is skipped; everything before it is kept.
    return text.split('\n').flatMap((line) => {
      try {
        const parsed = line ? (JSON.parse(line) as Line) : undefined;
        return parsed && typeof parsed === 'object' && typeof parsed.type === 'string' ? [parsed] : [];
      } catch {
        return [];
      }
    });
  }

  /**
   * The messages of a session, repaired so the API accepts them: a tool_use left without results gets one,
   * saying whether the tool was started (it may have run) or not.
   */
  messages(id: string): MessageParam[] {
    if (!existsSync(this.file(id)))
      throw new Error(`no session ${id} in this project (see: icode sessions list)`);
    const out: MessageParam[] = [];
    const started = new Set<string>();
    for (const line of this.read(id)) {
      if (line.type === 'compaction' && Array.isArray(line.messages)) {
        out.splice(0, out.length, ...line.messages);
        continue;
      }
      if (line.type === 'tool_start' && Array.isArray(line.ids)) {
        for (const use of line.ids) started.add(String(use));
        continue;
      }
      if (line.type !== 'message' || !line.message) continue;
      const previous = out.at(-1);
      const pending =
        previous?.role === 'assistant' && Array.isArray(previous.content)
          ? previous.content.filter((b) => b.type === 'tool_use')
          : [];
      const answered =
        line.message.role === 'user' &&
        Array.isArray(line.message.content) &&
        line.message.content.some((b) => b.type === 'tool_result');
      if (pending.length && !answered) out.push(interrupted(pending, started));
      out.push(line.message);
    }
    const last = out.at(-1);
    if (last?.role === 'assistant' && Array.isArray(last.content)) {
      const pending = last.content.filter((b) => b.type === 'tool_use');
      if (pending.length) out.push(interrupted(pending, started));
    }
    return out;
  }

  /**
   * The most recently written session (--continue): newest by file time whose first bytes are a session
   * header, so a stray or garbage `<id>.jsonl` is passed over; no session is parsed.
   */
  latest(): string | undefined {
    const newest = this.files().sort((a, b) => b.mtime.getTime() - a.mtime.getTime());
    return newest.find((f) => startsAsSession(f.file))?.id;
  }

  /**
   * Takes the session's lock for this process (a second process gets an error naming the holder), sets a
   * line cut short aside, and returns the writer. Fails with a {@link SessionWriteError} when the disk
   * refuses, holding no lock then.
   */
  open(id: string, header: { cwd: string; model: string }): SessionWriter {
    const file = this.file(id);
    const lock = `${file}.lock`;
    let release: () => void;
    try {
      mkdirSync(this.dir, { recursive: true });
    } catch (error) {
      throw new SessionWriteError(this.dir, error, 'the sessions folder');
    }
    try {
      release = acquireLock(lock, id);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code) throw new SessionWriteError(lock, error, 'the session lock');
      throw error;
    }
    let size = 0;
    let failure: SessionWriteError | undefined;
    const append = (line: Line) => {
      if (failure) throw failure;
      const data = `${this.redact(JSON.stringify(line))}\n`;
      try {
        appendFileSync(file, data);
        size += Buffer.byteLength(data);
      } catch (error) {
        // Part of the line may be on disk: cut it off, so the file ends with the last whole line.
        try {
          truncateSync(file, size);
        } catch {}
        failure = new SessionWriteError(file, error);
        throw failure;
      }
    };
    try {
      size = repair(file);
      if (size === 0) append({ type: 'session', id, ...header, created_at: new Date().toISOString() });
    } catch (error) {
      release();
      throw error instanceof SessionWriteError ? error : new SessionWriteError(file, error);
    }
    const at = () => new Date().toISOString();
    return {
      message: (message) => append({ type: 'message', message, at: at() }),
      toolStart: (ids) => append({ type: 'tool_start', ids, at: at() }),
      result: (result) => append({ type: 'result', at: at(), ...result }),
      compaction: (messages, info) => append({ type: 'compaction', ...info, messages, at: at() }),
      close: release,
    };
  }

  /**
   * Removes a session's lock (`icode sessions unlock`): one whose holder is gone, or held from another host
   * (the person says it is gone). A holder still running on this host keeps it unless `force`.
   */
  unlock(id: string, { force = false }: { force?: boolean } = {}): UnlockReport {
    const lock = `${this.file(id)}.lock`;
    const found = readLock(lock);
    if (!found) {
      if (!existsSync(this.file(id)))
        throw new Error(`no session ${id} in this project (see: icode sessions list)`);
      return { id, removed: false, message: `session ${id} is not locked` };
    }
    const verdict = judge(found.holder);
    const whose = found.holder ? describeHolder(found.holder) : 'an unreadable lock';
    const base = {
      id,
      state: verdict.state,
      ...(found.holder ? { holder: found.holder } : {}),
      ...(verdict.state === 'stale' ? { reason: verdict.reason } : {}),
    };
    if (verdict.state === 'live' && !force)
      return {
        ...base,
        removed: false,
        message: `session ${id} is held by icode ${whose}, which is still running on this host: end it first, or remove the lock anyway with --force`,
      };
    rmSync(lock, { force: true });
    const why =
      verdict.state === 'stale'
        ? ` (${verdict.reason})`
        : verdict.state === 'live'
          ? ' (still running: removed because of --force)'
          : ' (on another host: not checked)';
    return { ...base, removed: true, message: `removed the lock of session ${id}, held by ${whose}${why}` };
  }
}

export interface SessionWriter {
  message(message: MessageParam): void;
  /** Records that these tool calls start now, before they run. */
  toolStart(ids: string[]): void;
  result(result: Record<string, unknown>): void;
  compaction(messages: MessageParam[], info: Record<string, unknown>): void;
  /** Releases the lock; never throws. */
  close(): void;
}

/**
 * Makes a session file end with a whole line before anything is appended: a last line cut short (a crash
 * mid-write, a full disk) is copied to `<file>.partial-<time>` and cut off; a whole one missing only its
 * newline gets it. Returns the file's size afterwards (0 for a new or empty file).
 */
function repair(file: string): number {
  let text: Buffer;
  try {
    text = readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  if (!text.length || text.at(-1) === 0x0a) return text.length;
  const end = text.lastIndexOf(0x0a) + 1;
  const tail = text.subarray(end);
  if (wholeLine(tail.toString('utf8'))) {
    appendFileSync(file, '\n');
    return text.length + 1;
  }
  writeFileSync(`${file}.partial-${new Date().toISOString().replace(/[:.]/g, '-')}`, tail, { flag: 'wx' });
  truncateSync(file, end);
  return end;
}

function wholeLine(text: string): boolean {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null;
  } catch {
    return false;
  }
}

const STARTED =
  'Interrupted — this tool was started and may have run; check its effects before repeating it.';
const NOT_RUN = 'Interrupted: the session ended before this tool ran.';

function interrupted(uses: Array<Record<string, unknown>>, started: ReadonlySet<string>): MessageParam {
  return {
    role: 'user',
    content: uses.map((u) => ({
      type: 'tool_result',
      tool_use_id: String(u.id),
      content: started.has(String(u.id)) ? STARTED : NOT_RUN,
      is_error: true,
    })),
  };
}

const HEADER = '{"type":"session"';

/** True when the file begins with a session header line (16 bytes read, nothing parsed). */
function startsAsSession(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const head = Buffer.alloc(HEADER.length);
    return readSync(fd, head, 0, head.length, 0) === head.length && head.toString('utf8') === HEADER;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
