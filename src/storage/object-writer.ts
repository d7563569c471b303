// The one way objects get written: the uploader (WAL data → data objects), the object compactor,
// the log cleaner and the object WAL all name their keys, apply the key prefix, PUT and commit
// through an ObjectWriter, so the conditional-put and retry rules and the counters live in one place.
//
// A write is a PUT of new, randomly named key with if-none-match, then the caller's metadata commit.
// When a PUT's answer is lost (a timeout after the store stored it), the retry of that same key sees
// ObjectExistsError: that is our own earlier attempt having landed, so the write goes on to the commit.
// A write that stops before its commit succeeds (the caller gave up or closed, or the process died)
// leaves an object metadata never heard of; the garbage collector's orphan sweep deletes it once it
// is old enough, which is why every key starts with its creation time (objectKeyCreatedMs).
import { randomBytes } from 'node:crypto';
import type { Logger } from '../common/logger.ts';
import type { ObjectStore } from './objects/object-store.ts';
import { ObjectExistsError } from './objects/object-store.ts';

/** What an object holds; the first part of its key (after the prefix). */
export type ObjectKind = 'data' | 'compacted' | 'cleaned' | 'wal';

/** Kinds whose uncommitted objects the garbage collector sweeps: every kind, since WAL objects are
 *  in the metadata's object table (hasObject) from their commit on, like the others. */
export const ORPHAN_SWEPT_KINDS: readonly ObjectKind[] = ['data', 'compacted', 'cleaned', 'wal'];

/** Base-36 digits of the creation time in a key (objectKeyCreatedMs reads 9): they cover every
 *  millisecond until the year 5188. */
const KEY_TIME_DIGITS = 9;
const KEY_RANDOM_BYTES = 6;

/** Creation time encoded in an object key of one of the given kinds, or null for a key of another
 *  shape (those are left alone by the orphan sweep). */
export function objectKeyCreatedMs(key: string, kinds: readonly ObjectKind[] = ORPHAN_SWEPT_KINDS): number | null {
  const slash = key.lastIndexOf('/');
  if (slash < 0) return null;
  const kindStart = key.lastIndexOf('/', slash - 1) + 1;
  if (!kinds.includes(key.slice(kindStart, slash) as ObjectKind)) return null;
  const m = /^([0-9a-z]{9})-/.exec(key.slice(slash + 1));
  if (!m) return null;
  const ms = parseInt(m[1]!, 36);
  return Number.isSafeInteger(ms) ? ms : null;
}

export interface ObjectWriterOptions {
  objects: ObjectStore;
  nodeId: number;
  /** Put in front of every key, of every kind (e.g. "cluster-a/"); empty for none. */
  keyPrefix?: string;
  log: Logger;
  /** The clock keys are named by (default Date.now). */
  now?: () => number;
}

/** How a write retries a failed PUT or commit; without one a write makes a single attempt and throws. */
export interface ObjectWriteRetry {
  /** Another attempt is made only while this says so; when it stops, write() resolves null. */
  active(): boolean;
  /** Wait before retry `attempt` (0 for the first retry), in ms. */
  delayMs(attempt: number): number;
  /** Told about each failed attempt before the wait. */
  onFailure?(err: Error, key: string, attempt: number, delayMs: number): void;
}

/**
 * A write whose commit keeps failing goes on under a fresh key once its key is this old: the orphan
 * sweep deletes uncommitted objects an hour after their key's time (ORPHAN_GRACE_MS_MIN), and must
 * never delete one whose commit lands late. Half the grace leaves room for clocks that differ.
 */
export const KEY_FRESH_MS = 30 * 60 * 1000;

/** Bounded exponential backoff: 100 ms doubling up to 5 s (the uploader's schedule). */
export const backoffDelayMs = (attempt: number): number => Math.min(5000, 100 * 2 ** Math.min(attempt, 6));

export interface ObjectWrite<T> {
  kind: ObjectKind;
  /** The object's bytes, written in order without concatenating them. */
  parts: Buffer[];
  /** Records the object in metadata; runs once per attempt until it resolves, and only after the
   *  object is in the store. */
  commit(key: string): Promise<T>;
  retry?: ObjectWriteRetry;
}

export interface WrittenObject<T> {
  key: string;
  /** What the commit returned. */
  committed: T;
}

export interface ObjectWriterStats {
  /** Objects written and committed, and their bytes. */
  objects: number;
  bytes: number;
  /** PUT requests sent (retries included): with bytes, PUTs per GB. */
  puts: number;
  /** Failed attempts (a PUT or a commit that threw). */
  failures: number;
  /** Committed objects a caller threw away again (a compaction that lost its race). */
  discarded: number;
}

const emptyStats = (): ObjectWriterStats => ({ objects: 0, bytes: 0, puts: 0, failures: 0, discarded: 0 });

export class ObjectWriter {
  private readonly opts: ObjectWriterOptions;
  readonly stats: ObjectWriterStats = emptyStats();
  readonly statsByKind: Record<ObjectKind, ObjectWriterStats> = { data: emptyStats(), compacted: emptyStats(), cleaned: emptyStats(), wal: emptyStats() };

  constructor(opts: ObjectWriterOptions) {
    this.opts = opts;
  }

  get objects(): ObjectStore {
    return this.opts.objects;
  }

  get keyPrefix(): string {
    return this.opts.keyPrefix ?? '';
  }

  /** A new key: `<prefix><kind>/<ms, base 36>-<nodeId>-<random hex>`. */
  newKey(kind: ObjectKind): string {
    const ms = (this.opts.now ?? Date.now)().toString(36).padStart(KEY_TIME_DIGITS, '0');
    return `${this.keyPrefix}${kind}/${ms}-${this.opts.nodeId}-${randomBytes(KEY_RANDOM_BYTES).toString('hex')}`;
  }

  /**
   * PUTs the parts under a new key, then commits. Resolves with the key and what the commit returned,
   * or null when the retry policy stopped before a commit succeeded. Without a retry policy the
   * first failure is thrown.
   */
  write<T>(w: ObjectWrite<T> & { retry?: undefined }): Promise<WrittenObject<T>>;
  write<T>(w: ObjectWrite<T>): Promise<WrittenObject<T> | null>;
  async write<T>(w: ObjectWrite<T>): Promise<WrittenObject<T> | null> {
    let key = this.newKey(w.kind);
    const sizeBytes = w.parts.reduce((n, b) => n + b.length, 0);
    const kindStats = this.statsByKind[w.kind];
    for (let attempt = 0; !w.retry || w.retry.active(); attempt++) {
      try {
        const created = objectKeyCreatedMs(key, [w.kind]);
        if (attempt > 0 && created !== null && (this.opts.now ?? Date.now)() - created > KEY_FRESH_MS) {
          key = this.newKey(w.kind);
          attempt = 0;
        }
        // The object is put again before every commit attempt, so one the orphan sweep took
        // while the commit kept failing is back before metadata refers to it.
        await this.put(key, w.parts, attempt > 0, kindStats);
        const committed = await w.commit(key);
        for (const s of [this.stats, kindStats]) {
          s.objects++;
          s.bytes += sizeBytes;
        }
        return { key, committed };
      } catch (err) {
        this.stats.failures++;
        kindStats.failures++;
        if (!w.retry) throw err;
        const delay = w.retry.delayMs(attempt);
        w.retry.onFailure?.(err as Error, key, attempt, delay);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    return null;
  }

  /** Deletes an object a caller committed and then found it does not need; best effort (the
   *  garbage collector removes it otherwise). */
  async discard(key: string, kind: ObjectKind): Promise<void> {
    this.stats.discarded++;
    this.statsByKind[kind].discarded++;
    await this.opts.objects.delete(key).catch((err: Error) => this.opts.log.debug('could not delete a discarded object; the garbage collector will', { key, err }));
  }

  /**
   * A PUT alone, for a writer that commits separately (the object WAL overlaps PUTs and commits its
   * objects in order): `retried` says an earlier attempt of this key may have landed. Counted like
   * write()'s PUTs; the caller counts the object once it is committed (committed()).
   */
  async putOnly(kind: ObjectKind, key: string, parts: Buffer[], retried: boolean): Promise<void> {
    try {
      await this.put(key, parts, retried, this.statsByKind[kind]);
    } catch (err) {
      this.stats.failures++;
      this.statsByKind[kind].failures++;
      throw err;
    }
  }

  /** Counts an object written with putOnly once its commit is done. */
  committed(kind: ObjectKind, sizeBytes: number): void {
    for (const s of [this.stats, this.statsByKind[kind]]) {
      s.objects++;
      s.bytes += sizeBytes;
    }
  }

  private async put(key: string, parts: Buffer[], retry: boolean, kindStats: ObjectWriterStats): Promise<void> {
    this.stats.puts++;
    kindStats.puts++;
    try {
      await this.opts.objects.put(key, parts, { ifNoneMatch: true });
    } catch (err) {
      // Keys are random per write: an existing object on a retry is this write's own earlier
      // attempt, whose answer was lost. On a first attempt it is an error like any other.
      if (!(err instanceof ObjectExistsError) || !retry) throw err;
    }
  }
}
