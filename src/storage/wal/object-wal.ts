// The object WAL (wal.kind=object): appends are collected for wal.object.flush.ms or up to
// wal.object.flush.bytes, written as one object (many partitions, each partition's entries
// contiguous), then recorded by one metadata commit that holds only while every partition in it
// still has this broker as leader at the entry's leader epoch. An append is durable (and the
// produce acknowledged) once that commit is done, so the broker keeps no state of its own: any
// broker that claims the partitions (bumping their epoch) reads the committed WAL objects back,
// and a broker that lost them (a zombie) has its commit refused and acknowledges nothing.
//
// Flushes overlap: up to wal.object.inflight.max PUTs run at once, but commits go one at a time
// in flush order, so appends complete in order (the Wal contract). A PUT or commit that fails is
// retried with backoff while appends wait (the key makes a retried commit idempotent); admission
// (pendingBytes) refuses new data with a retriable error meanwhile. Entries of a partition another
// broker now leads fail with NOT_LEADER_OR_FOLLOWER, and so does every later entry of it in flight.
//
// Uploaded WAL parts are deleted by the upload's own metadata commit (commitObject); a WAL object
// whose parts are all gone is garbage the collector deletes. trim() has nothing left to do.
import type { Logger } from '../../common/logger.ts';
import type { FencedPartition, MetadataStore, WalRange } from '../../metadata/index.ts';
import { FencedError } from '../../metadata/index.ts';
import type { ObjectWriter } from '../object-writer.ts';
import { KEY_FRESH_MS, objectKeyCreatedMs } from '../object-writer.ts';
import { WalWriteError } from './wal.ts';
import type { ReplayedEntry, Wal, WalEntry, WalPosition, WalStats } from './wal.ts';

export interface ObjectWalOptions {
  /** Writes the WAL objects (kind 'wal'), naming their keys and counting PUTs. */
  writer: ObjectWriter;
  store: MetadataStore;
  nodeId: number;
  /** This broker run's incarnation (see BrokerIncarnation): commits stand only while it leads. */
  incarnation: number;
  flushMs: number;
  flushBytes: number;
  inflightMax: number;
  log: Logger;
  /** Told when commits were refused because another broker leads these partitions now. */
  onFenced?(partitions: FencedPartition[]): void;
  /** Backoff between attempts of a failed PUT or commit (defaults 50 ms doubling to 2 s). */
  retryBaseMs?: number;
  retryMaxMs?: number;
}

interface Pending {
  entry: WalEntry;
  bytes: number;
  resolve: (p: WalPosition) => void;
  reject: (e: Error) => void;
  settled: boolean;
}

interface Flush {
  /** In append order (the order they complete in). */
  items: Pending[];
  /** In object order: each partition's entries contiguous. */
  laid: Pending[];
  /** The object's bytes: the data of `laid`, in that order. */
  parts: Buffer[];
  bytes: number;
  /** Resolves once the object is written (or the WAL closed). */
  written: Promise<string | null>;
}

const pkey = (topicId: string, partition: number) => `${topicId}:${partition}`;

export class ObjectWal implements Wal {
  readonly kind = 'object' as const;
  private readonly o: ObjectWalOptions;
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private inflightBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Flushes whose PUT started, in order; the first one is the next to commit. */
  private flushes: Flush[] = [];
  private committing = false;
  private closed = false;
  /** Once closed, failing PUTs and commits are retried until then. */
  private closeDeadline = Infinity;
  private idle: (() => void)[] = [];
  /**
   * Partitions whose entry at `from` failed. The log then moves the partition's end back to `from`,
   * so an append of it beyond `from` was made before it heard of the failure and must fail too; the
   * log's rolledBack() (or a first append at or below `from`) shows it has heard, and clears the mark.
   */
  private failedParts = new Map<string, { err: Error; from: number }>();
  /** What the writer does not count already (it counts the WAL objects' PUTs, failures and bytes). */
  private readonly counts = { entries: 0, commitFailures: 0, fenced: 0, commitMsTotal: 0 };

  constructor(o: ObjectWalOptions) {
    this.o = o;
  }

  get pendingBytes(): number {
    return this.queuedBytes + this.inflightBytes;
  }

  /** flushes and bytes: committed WAL objects; puts and putFailures: PUT attempts (retries included). */
  get stats(): WalStats & { puts: number; putFailures: number; commitFailures: number; fenced: number; commitMsTotal: number } {
    const w = this.o.writer.statsByKind.wal;
    return { flushes: w.objects, bytes: w.bytes, puts: w.puts, putFailures: w.failures, ...this.counts };
  }

  /**
   * Reads back every committed WAL part of the partitions this broker leads, in commit order. A
   * part a replay cannot read (the object store is down) fails the start: acknowledged data must
   * not be skipped.
   */
  async open(): Promise<ReplayedEntry[]> {
    const mine = new Set((await this.o.store.allPartitions()).filter((p) => p.leaderId === this.o.nodeId).map((p) => pkey(p.topicId, p.partitionIndex)));
    // (The claim at start made this incarnation the leader of every partition of this node id.)
    const objects = (await this.o.store.walObjects()).map((w) => ({ ...w, ranges: w.ranges.filter((r) => mine.has(pkey(r.topicId, r.partitionIndex))) })).filter((w) => w.ranges.length > 0);
    const bodies = new Array<Buffer | null>(objects.length).fill(null);
    // A few GETs at once: a takeover reads every WAL object not uploaded yet.
    let next = 0;
    const worker = async () => {
      while (next < objects.length) {
        const i = next++;
        const w = objects[i]!;
        if (w.ranges.every((r) => r.sizeBytes === 0)) continue;
        bodies[i] = await this.withRetry(`reading WAL object ${w.key}`, () => this.o.writer.objects.get(w.key), 8);
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, objects.length) }, worker));
    const out: ReplayedEntry[] = [];
    for (let i = 0; i < objects.length; i++) {
      const w = objects[i]!;
      for (const r of w.ranges) {
        const data = r.sizeBytes === 0 ? Buffer.alloc(0) : bodies[i]!.subarray(r.position, r.position + r.sizeBytes);
        out.push({ topicId: r.topicId, partition: r.partitionIndex, baseOffset: r.baseOffset, endOffset: r.endOffset, data, leaderEpoch: r.leaderEpoch, position: { segment: w.objectId, offset: r.position + r.sizeBytes } });
      }
    }
    this.o.log.info('object WAL opened', { objects: objects.length, entries: out.length, bytes: out.reduce((s, e) => s + e.data.length, 0) });
    return out;
  }

  append(e: WalEntry): Promise<WalPosition> {
    if (this.closed) return Promise.reject(new WalWriteError('WAL is closed'));
    if (this.failedParts.size > 0) {
      const k = pkey(e.topicId, e.partition);
      const failed = this.failedParts.get(k);
      if (failed && e.baseOffset > failed.from) return Promise.reject(failed.err);
      if (failed) this.failedParts.delete(k);
    }
    return new Promise((resolve, reject) => {
      const bytes = e.data.length;
      this.queue.push({ entry: e, bytes, resolve, reject, settled: false });
      this.queuedBytes += bytes;
      if (this.queuedBytes >= this.o.flushBytes) this.cut();
      else this.timer ??= setTimeout(() => this.cut(), this.o.flushMs);
    });
  }

  rolledBack(topicId: string, partition: number): void {
    this.failedParts.delete(pkey(topicId, partition));
  }

  /** Starts a flush of what is queued, if a PUT slot is free (else the next finished flush does). */
  private cut(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.queue.length === 0 || this.flushes.length >= this.o.inflightMax) return;
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || bytes + this.queue[n]!.bytes <= this.o.flushBytes)) bytes += this.queue[n++]!.bytes;
    const items = this.queue.splice(0, n);
    this.queuedBytes -= bytes;
    this.inflightBytes += bytes;
    const { parts, laid } = layout(items);
    this.flushes.push({ items, laid, parts, bytes, written: this.write(parts) });
    void this.commitNext();
    if (this.queue.length > 0) {
      if (this.queuedBytes >= this.o.flushBytes) this.cut();
      else this.timer ??= setTimeout(() => this.cut(), this.o.flushMs);
    }
  }

  /** PUTs the parts under a new key (the writer counts PUTs and their failures); null once closed. */
  private async write(parts: Buffer[]): Promise<string | null> {
    const key = this.o.writer.newKey('wal');
    let attempt = 0;
    try {
      await this.withRetry(`writing WAL object ${key}`, () => this.o.writer.putOnly('wal', key, parts, attempt++ > 0));
    } catch {
      return null;
    }
    return key;
  }

  /** Commits flushes one at a time, in order, as their objects are written. */
  private async commitNext(): Promise<void> {
    if (this.committing) return;
    this.committing = true;
    try {
      while (this.flushes.length > 0) {
        const flush = this.flushes[0]!;
        const key = await flush.written;
        await this.commit(flush, key);
        this.flushes.shift();
        this.inflightBytes -= flush.bytes;
        if (this.queue.length > 0 && this.flushes.length < this.o.inflightMax) this.cut();
      }
    } finally {
      this.committing = false;
    }
    if (this.flushes.length === 0 && this.queue.length === 0) for (const r of this.idle.splice(0)) r();
  }

  private async commit(flush: Flush, key: string | null): Promise<void> {
    // Entries failed meanwhile (an earlier entry of their partition failed) are left out.
    let live = flush.items.filter((p) => !p.settled);
    const closed = () => {
      const err = new WalWriteError('WAL is closed');
      for (const p of live) this.fail(p, err);
    };
    if (key === null) return closed();
    const size = flush.bytes;
    for (;;) {
      live = live.filter((p) => !p.settled);
      if (live.length === 0) return;
      const { ranges, positions } = rangesOf(flush.laid, live);
      const started = performance.now();
      let answer: Awaited<ReturnType<MetadataStore['commitWalObject']>>;
      try {
        answer = await this.withRetry(
          `committing WAL object ${key}`,
          async () => {
            // The orphan sweep deletes uncommitted objects an hour after their key's time: a commit
            // still failing after half of that goes on with the bytes under a fresh key.
            const created = objectKeyCreatedMs(key!, ['wal']);
            if (created !== null && Date.now() - created > KEY_FRESH_MS) {
              const fresh = await this.write(flush.parts);
              if (fresh === null) throw new WalWriteError('WAL is closed');
              key = fresh;
            }
            return this.o.store.commitWalObject(key!, size, { nodeId: this.o.nodeId, incarnation: this.o.incarnation }, ranges);
          },
          Infinity,
          () => this.counts.commitFailures++,
        );
      } catch {
        return closed();
      }
      this.counts.commitMsTotal += performance.now() - started;
      if (answer.fenced === null) {
        this.o.writer.committed('wal', size);
        this.counts.entries += live.length;
        for (const p of live) this.settle(p, null, { segment: answer.objectId, offset: positions.get(p)! });
        return;
      }
      // Another broker leads some partitions now: theirs fail, the rest commit without them.
      this.counts.fenced++;
      const fenced = new Set(answer.fenced.map((f) => pkey(f.topicId, f.partitionIndex)));
      const err = new FencedError(answer.fenced);
      this.o.log.warn('WAL commit fenced: another broker leads these partitions now', { partitions: answer.fenced.length });
      for (const p of live) if (fenced.has(pkey(p.entry.topicId, p.entry.partition))) this.fail(p, err);
      this.o.onFenced?.(answer.fenced);
    }
  }

  /**
   * Fails an entry, and with it every entry of its partition queued or in flight (all made before
   * the failure is reported, so their offsets follow the failed ones), and marks the partition
   * until the log shows it has moved back (see failedParts).
   */
  private fail(p: Pending, err: Error): void {
    const k = pkey(p.entry.topicId, p.entry.partition);
    const mark = this.failedParts.get(k);
    if (!mark || p.entry.baseOffset < mark.from) this.failedParts.set(k, { err, from: p.entry.baseOffset });
    this.settle(p, err);
    for (const f of this.flushes) for (const q of f.items) if (!q.settled && pkey(q.entry.topicId, q.entry.partition) === k) this.settle(q, err);
    for (const q of this.queue) if (!q.settled && pkey(q.entry.topicId, q.entry.partition) === k) this.settle(q, err);
  }

  private settle(p: Pending, err: Error | null, position?: WalPosition): void {
    if (p.settled) return;
    p.settled = true;
    if (err) p.reject(err);
    else p.resolve(position!);
  }

  /** Runs op until it succeeds (or the WAL closes, or `attempts` run out), backing off between tries. */
  private async withRetry<T>(what: string, op: () => Promise<T>, attempts = Infinity, onFailure?: () => void): Promise<T> {
    const base = this.o.retryBaseMs ?? 50;
    const max = this.o.retryMaxMs ?? 2000;
    for (let attempt = 0; ; attempt++) {
      try {
        return await op();
      } catch (err) {
        onFailure?.();
        if (attempt + 1 >= attempts || (this.closed && Date.now() > this.closeDeadline)) throw err;
        const delay = Math.min(max, base * 2 ** Math.min(attempt, 10)) * (0.5 + Math.random() / 2);
        if (attempt === 0 || attempt % 10 === 0) this.o.log.warn(`${what} failed; retrying`, { attempt, delayMs: Math.round(delay), err: err as Error });
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  async trim(_upTo: WalPosition): Promise<number> {
    return 0;
  }

  /**
   * Writes and commits everything appended so far, then refuses appends. A store that does not
   * answer is retried for `timeoutMs` (default 10 s); what is still unwritten then fails (not
   * acknowledged, so nothing is lost).
   */
  async close(timeoutMs = 10_000): Promise<void> {
    this.closed = true;
    this.closeDeadline = Date.now() + timeoutMs;
    while (this.queue.length > 0 || this.flushes.length > 0) {
      if (this.queue.length > 0 && this.flushes.length < this.o.inflightMax) this.cut();
      await new Promise<void>((r) => {
        this.idle.push(r);
        setTimeout(r, 20);
      });
    }
  }
}

/** Each partition's entries contiguous, partitions in order of first appearance. */
function layout(items: Pending[]): { parts: Buffer[]; laid: Pending[] } {
  const groups = new Map<string, Pending[]>();
  for (const p of items) {
    const k = pkey(p.entry.topicId, p.entry.partition);
    const g = groups.get(k);
    if (g) g.push(p);
    else groups.set(k, [p]);
  }
  const parts: Buffer[] = [];
  const laid: Pending[] = [];
  for (const g of groups.values()) {
    for (const p of g) {
      laid.push(p);
      if (p.bytes > 0) parts.push(p.entry.data);
    }
  }
  return { parts, laid };
}

/** The WAL parts of `live` (items in object order) and each entry's end position in the object. */
function rangesOf(items: Pending[], live: Pending[]): { ranges: WalRange[]; positions: Map<Pending, number> } {
  const keep = new Set(live);
  const ranges: WalRange[] = [];
  const positions = new Map<Pending, number>();
  let position = 0;
  let last: WalRange | null = null;
  for (const p of items) {
    const e = p.entry;
    if (keep.has(p)) {
      // One part per run of entries of a partition at one epoch; a marker (no bytes) is its own part.
      const joins = last !== null && last.topicId === e.topicId && last.partitionIndex === e.partition && last.leaderEpoch === (e.leaderEpoch ?? 0) && last.endOffset === e.baseOffset && last.position + last.sizeBytes === position && p.bytes > 0 && last.sizeBytes > 0;
      if (joins) {
        last!.endOffset = e.endOffset;
        last!.sizeBytes += p.bytes;
      } else {
        last = { topicId: e.topicId, partitionIndex: e.partition, baseOffset: e.baseOffset, endOffset: e.endOffset, position, sizeBytes: p.bytes, leaderEpoch: e.leaderEpoch ?? 0 };
        ranges.push(last);
      }
    } else last = null;
    position += p.bytes;
    positions.set(p, position);
  }
  return { ranges, positions };
}
