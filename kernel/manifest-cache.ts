import {
  type BigIntStats,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { Problem } from './json.ts';
import { type PluginManifest, PluginManifestSchema, readPluginFolder } from './manifest.ts';

/** Bumped when what an entry holds changes shape; a cache of another format is ignored and rewritten. */
const FORMAT = 1;

interface Entry {
  /** What stat said of plugin.json when it was validated: see {@link stampOf}. */
  stamp: string;
  manifest: PluginManifest;
  warnings: Problem[];
}

interface CacheFile {
  format: number;
  /** The manifest schema the entries were validated against: see {@link schemaFingerprint}. */
  schema: string;
  entries: Record<string, Entry>;
}

export interface ReadManifest {
  manifest: PluginManifest;
  warnings: Problem[];
  file: string;
}

/**
 * Validated `plugin.json` files remembered across starts, in `<userDir>/cache/plugin-manifests.json`, so two
 * hundred installed plugins are not each read, parsed and validated every time icode starts (VS Code keeps
 * its extensions' manifests the same way). An entry is used only while stat says the file is unchanged —
 * size, mtime and ctime to the nanosecond, inode and device: an edit that keeps the size and puts the mtime
 * back still moves the ctime — and only for the schema it was validated against. A file that fails
 * validation is never remembered, so it is reported with its file, line and key on every start. A missing,
 * corrupt or unwritable cache costs only speed.
 */
export class ManifestCache {
  private entries?: Record<string, Entry>;
  private dirty = false;
  private readonly used = new Set<string>();

  constructor(readonly file: string) {}

  /** The cache of the user's icode directory. */
  static of(userDir: string): ManifestCache {
    return new ManifestCache(join(userDir, 'cache', 'plugin-manifests.json'));
  }

  /**
   * The manifest of the plugin in `dir`, from the cache while its plugin.json is unchanged, else read and
   * validated as {@link readPluginFolder} does (throwing the same errors, with file, line and key) and held to
   * `check`, which a remembered entry has passed. Undefined when the folder has no plugin.json.
   */
  read(dir: string, check: (read: ReadManifest) => void = () => {}): ReadManifest | undefined {
    const file = join(dir, 'plugin.json');
    // Taken before stat: an edit after this moment gets a timestamp no older than one clock tick before it.
    const now = Date.now();
    const stat = statSync(file, { bigint: true, throwIfNoEntry: false });
    if (!stat) return undefined;
    const stamp = stampOf(stat);
    const entries = this.load();
    this.used.add(file);
    const hit = entries[file];
    if (hit?.stamp === stamp) return { manifest: hit.manifest, warnings: hit.warnings, file };
    if (hit) {
      delete entries[file];
      this.dirty = true;
    }
    const read = readPluginFolder(dir);
    check(read);
    if (settled(stat, now)) {
      entries[file] = { stamp, manifest: read.manifest, warnings: read.warnings };
      this.dirty = true;
    }
    return read;
  }

  /** Writes the cache if this run changed it, dropping entries whose plugin.json is gone. Never throws. */
  save(): void {
    if (!this.dirty || !this.entries) return;
    this.dirty = false;
    const entries = this.entries;
    for (const file of Object.keys(entries))
      if (!this.used.has(file) && !existsSync(file)) delete entries[file];
    const body: CacheFile = { format: FORMAT, schema: schemaFingerprint(), entries };
    // Under a name of its own, then renamed into place: a reader sees a whole cache, old or new.
    const tmp = `${this.file}.${process.pid}`;
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      writeFileSync(tmp, JSON.stringify(body));
      renameSync(tmp, this.file);
    } catch {
      try {
        rmSync(tmp, { force: true });
      } catch {}
    }
  }

  private load(): Record<string, Entry> {
    if (this.entries) return this.entries;
    let body: Partial<CacheFile> | undefined;
    try {
      body = JSON.parse(readFileSync(this.file, 'utf8')) as Partial<CacheFile>;
    } catch (error) {
      // Missing is the first start; anything else (half a file, not JSON) is rewritten from scratch.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.dirty = true;
    }
    const usable =
      body?.format === FORMAT &&
      body.schema === schemaFingerprint() &&
      body.entries !== null &&
      typeof body.entries === 'object';
    if (body && !usable) this.dirty = true;
    this.entries = Object.create(null) as Record<string, Entry>;
    if (usable) {
      for (const [file, e] of Object.entries(body!.entries!)) {
        if (isEntry(e)) this.entries[file] = e;
        else this.dirty = true;
      }
    }
    return this.entries;
  }
}

function isEntry(e: unknown): e is Entry {
  const x = e as Partial<Entry> | null;
  return (
    typeof x?.stamp === 'string' &&
    typeof x.manifest?.name === 'string' &&
    typeof x.manifest.contributes === 'object' &&
    Array.isArray(x.warnings)
  );
}

/** Everything stat says that an edit changes: any write moves the ctime, whatever it does to the mtime. */
function stampOf(s: BigIntStats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

/**
 * Whether a file's stamp can be trusted to change with its next edit. Filesystem timestamps come from a coarse
 * clock (a tick of up to 10 ms on Linux; whole seconds on some filesystems, seen as nanoseconds all zero), so a
 * file changed in the same tick as it was read could keep its stamp: like git's "racily clean" entries, one
 * written less than a tick before the read is not remembered, and the next start reads it again.
 */
function settled(s: BigIntStats, now: number): boolean {
  const coarse = s.mtimeNs % 1_000_000_000n === 0n && s.ctimeNs % 1_000_000_000n === 0n;
  const tick = coarse ? 2_000 : 50;
  return Number(s.ctimeNs / 1_000_000n) < now - tick && Number(s.mtimeNs / 1_000_000n) < now - tick;
}

let fingerprint: string | undefined;
/**
 * The manifest schema as it is in this build, as text: its structure, defaults, patterns and the source of
 * its refinements (≈ 5 KB). A cache validated by another icode (an upgrade that adds a default or a check) is
 * not used. Kept whole rather than hashed: comparing it costs less than hashing it at every start.
 */
export function schemaFingerprint(): string {
  if (fingerprint) return fingerprint;
  const seen = new WeakSet<object>();
  fingerprint = JSON.stringify(PluginManifestSchema, (_key, value: unknown) => {
    if (typeof value === 'function' || value instanceof RegExp) return String(value);
    if (!value || typeof value !== 'object') return value;
    const def = (value as { _zod?: { def: object } })._zod?.def ?? value;
    if (seen.has(def)) return '[seen]';
    seen.add(def);
    return def;
  });
  return fingerprint;
}
