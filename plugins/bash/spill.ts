import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';

// The head gets the larger share: a command says what it is doing first, and how it ended last.
const HEAD_SHARE = 0.6;
const READ_CHUNK = 1024 * 1024;

function countNewlines(bytes: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 10) n++;
  return n;
}

// Cuts fall on byte counts; these move them to whole UTF-8 characters, so no half character is shown.
function withoutPartialEnd(bytes: Buffer): Buffer {
  for (let back = 1; back <= Math.min(4, bytes.length); back++) {
    const byte = bytes[bytes.length - back]!;
    if ((byte & 0xc0) === 0x80) continue;
    const needs = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needs > back ? bytes.subarray(0, bytes.length - back) : bytes;
  }
  return bytes;
}

function withoutPartialStart(bytes: Buffer): Buffer {
  let start = 0;
  while (start < Math.min(3, bytes.length) && (bytes[start]! & 0xc0) === 0x80) start++;
  return bytes.subarray(start);
}

/** What the model is shown of an output too long to show whole. */
export interface Cut {
  /** Bytes and lines left out between head and tail. */
  bytes: number;
  lines: number;
}

/**
 * The head and tail of an output of any length, and its true size and line count: memory holds at most
 * `keepBytes` (plus the chunk being added), however much goes through.
 */
export class HeadAndTail {
  bytes = 0;
  newlines = 0;
  endsWithNewline = false;
  private readonly headBytes: number;
  private readonly tailBytes: number;
  private head: Buffer[] = [];
  private headLength = 0;
  private tail: Buffer[] = [];
  private tailLength = 0;
  // Everything, for as long as everything is no more than keepBytes.
  private whole: Buffer[] | undefined = [];

  constructor(private readonly keepBytes: number) {
    this.headBytes = Math.floor(keepBytes * HEAD_SHARE);
    this.tailBytes = keepBytes - this.headBytes;
  }

  /** Lines as an editor counts them: a last line without a newline counts too. */
  get lines(): number {
    return this.newlines + (this.bytes > 0 && !this.endsWithNewline ? 1 : 0);
  }

  add(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.bytes += chunk.length;
    this.newlines += countNewlines(chunk);
    this.endsWithNewline = chunk[chunk.length - 1] === 10;
    if (this.whole && this.bytes <= this.keepBytes) this.whole.push(chunk);
    else this.whole = undefined;
    if (this.headLength < this.headBytes) {
      // Copied: a slice would keep the whole chunk it came from alive.
      const part = Buffer.from(chunk.subarray(0, this.headBytes - this.headLength));
      this.head.push(part);
      this.headLength += part.length;
    }
    this.tail.push(chunk);
    this.tailLength += chunk.length;
    while (this.tail.length > 1 && this.tailLength - this.tail[0]!.length >= this.tailBytes)
      this.tailLength -= this.tail.shift()!.length;
  }

  /** The whole text when it fits, else its head and tail and what was cut between them. */
  sample(): { text: string; cut?: undefined } | { head: string; tail: string; cut: Cut } {
    if (this.whole) return { text: Buffer.concat(this.whole).toString('utf8') };
    const head = withoutPartialEnd(Buffer.concat(this.head));
    const tailAll = Buffer.concat(this.tail);
    const tail = withoutPartialStart(tailAll.subarray(Math.max(0, tailAll.length - this.tailBytes)));
    return {
      head: head.toString('utf8'),
      tail: tail.toString('utf8'),
      cut: {
        bytes: this.bytes - head.length - tail.length,
        lines: this.newlines - countNewlines(head) - countNewlines(tail),
      },
    };
  }

  /**
   * The text for the model: whole, or head, a line saying what was cut and where the whole is (`whole`
   * names the file and what it holds), and tail.
   */
  render(whole: string): string {
    const s = this.sample();
    if (s.cut === undefined) return s.text;
    return `${s.head}\n[… ${s.cut.bytes} bytes (${s.cut.lines} lines) cut; ${whole} …]\n${s.tail}`;
  }
}

export interface SpillOptions {
  /**
   * The file that gets the whole output once it outgrows `keepBytes`: created then (with its folder),
   * readable only by the user.
   */
  file: string;
  keepBytes: number;
  /** Write the file from the first byte, appending to what it holds (a background command's log). */
  eager?: boolean;
  /** Bytes after which output is no longer taken and `onLimit` runs (the caller kills the command). */
  maxBytes?: number;
  onLimit?: () => void;
}

/**
 * Where a command's output goes: its head and tail stay in memory ({@link HeadAndTail}); the whole
 * streams to a file once it is longer than that. Writes to the file pace the pipes (backpressure), so
 * memory stays bounded however fast the command prints. It never fails: a file that cannot be written is
 * reported in `saveError` and the output goes on to head and tail only, so the command is never blocked.
 */
export class OutputSpill extends Writable {
  readonly kept: HeadAndTail;
  /** Set once the whole output goes to the file. */
  saved = false;
  saveError: string | undefined;
  limited = false;
  private handle: FileHandle | undefined;
  private early: Buffer[] = [];

  constructor(private readonly options: SpillOptions) {
    super({ highWaterMark: 256 * 1024 });
    this.kept = new HeadAndTail(options.keepBytes);
  }

  get file(): string {
    return this.options.file;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.take(chunk).then(() => done(), done);
  }

  override _final(done: (error?: Error | null) => void): void {
    const handle = this.handle;
    this.handle = undefined;
    Promise.resolve(handle?.close()).then(
      () => done(),
      () => done(),
    );
  }

  private async take(input: Buffer): Promise<void> {
    if (this.limited) return;
    let chunk = input;
    const { maxBytes } = this.options;
    if (maxBytes !== undefined && this.kept.bytes + chunk.length > maxBytes) {
      chunk = chunk.subarray(0, maxBytes - this.kept.bytes);
      this.limited = true;
      this.options.onLimit?.();
    }
    this.kept.add(chunk);
    if (this.saveError) return;
    if (!this.saved && !this.options.eager && this.kept.bytes <= this.options.keepBytes) {
      this.early.push(chunk);
      return;
    }
    try {
      if (!this.saved) {
        this.saved = true;
        await mkdir(dirname(this.options.file), { recursive: true, mode: 0o700 });
        // 'wx': a name that exists already is someone else's file, never overwritten.
        this.handle = await open(this.options.file, this.options.eager ? 'a' : 'wx', 0o600);
        // writeFile, not write: it writes until all is written, where a write may write part.
        for (const part of this.early) await this.handle.writeFile(part);
        this.early = [];
      }
      await this.handle!.writeFile(chunk);
    } catch (error) {
      this.saveError = (error as Error).message;
      this.early = [];
      await this.handle?.close().catch(() => {});
      this.handle = undefined;
    }
  }

  /** The text for the model ({@link HeadAndTail.render}), naming the file when the whole is there. */
  render(): string {
    const whole = this.saveError
      ? `the whole output (${this.kept.bytes} bytes, ${this.kept.lines} lines) could not be saved: ${this.saveError}`
      : `the whole output is in ${this.file} (${this.kept.bytes} bytes, ${this.kept.lines} lines; read_file pages through it with offset and limit)`;
    return this.kept.render(whole);
  }
}

/** Head and tail of the bytes `start` to `end` of a file, read a chunk at a time. */
export async function sampleFile(file: string, start: number, end: number, keepBytes: number) {
  const kept = new HeadAndTail(keepBytes);
  const handle = await open(file, 'r');
  try {
    for (let at = start; at < end; ) {
      const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK, end - at));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, at);
      if (bytesRead === 0) break;
      kept.add(chunk.subarray(0, bytesRead));
      at += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return kept;
}
