// One partition's log: offsets (log start, next, high watermark), the checks each produced batch
// must pass, offset assignment by patching batch headers in place, and the tail of recent batches
// served to fetches from memory. Older data is read from object storage through a ColdReader.
//
// Offsets are JS numbers: Kafka offsets are int64, but a log would need 2^53 records to leave the
// safe-integer range; appends assert it.
import { ErrorCode } from '../protocol/generated/errors.ts';
import { assert } from '../common/errors.ts';
import type { WalEntry, WalPosition } from '../storage/wal/file-wal.ts';
import {
  ATTR_CONTROL,
  RECORD_BATCH_OVERHEAD,
  batchAttributes,
  batchLastOffset,
  batchMaxTimestamp,
  batchPartitionLeaderEpoch,
  batchSizeAt,
  readBatchRecords,
  batchBaseOffset,
  buildEndTxnMarkerBatch,
  verifyCrc,
} from '../protocol/records/index.ts';
import type { TopicSettings } from './topic-settings.ts';
import type { ObjectRange } from '../metadata/store.ts';
import { checkBatches, assignOffsets } from './append-checks.ts';
import { ProducerState } from './producer-state.ts';
import type { AbortedTxn } from './producer-state.ts';

export interface AppendOutcome {
  errorCode: number;
  errorMessage: string | null;
  baseOffset: number;
  /** -1 unless the topic uses LogAppendTime. */
  logAppendTimeMs: number;
  logStartOffset: number;
  recordErrors: { batchIndex: number; message: string }[];
}

export interface ReadOutcome {
  errorCode: number;
  highWatermark: number;
  lastStableOffset: number;
  /** For read_committed reads: aborted transactions overlapping the batches returned. */
  abortedTransactions: AbortedTxn[] | null;
  logStartOffset: number;
  /** Whole batches, as views of stored bytes. */
  batches: Buffer[];
  bytes: number;
}

/** Reads batches at or after `offset` from object storage (offsets below the in-memory tail). */
export interface ColdReader {
  read(topicId: string, partition: number, offset: number, maxBytes: number, minOneBatch: boolean): Promise<Buffer[]>;
  ranges(topicId: string, partition: number): Promise<ObjectRange[]>;
  readRange(range: ObjectRange): Promise<Buffer[]>;
}

/** Where durable data goes once it is in the WAL (the uploader). */
export interface DurableSink {
  onDurable(entry: TailEntry, position: WalPosition): void;
  /** Uploads everything durable so far (before a truncation rewrites what is uploaded). */
  flush(): Promise<void>;
}

export interface WalAppender {
  append(e: WalEntry): Promise<WalPosition>;
}

export interface TailEntry {
  topicId: string;
  partition: number;
  baseOffset: number;
  endOffset: number;
  data: Buffer;
  maxTimestamp: number;
  /** Set once the entry is in a committed object; the tail may then drop it. */
  uploaded: boolean;
  /** For the first batches of an entry cut by a truncation: the entry they came from, which the tail
   *  eviction knows. (A truncation uploads everything first, so both are uploaded already.) */
  origin?: TailEntry;
}

export interface LogShared {
  wal: WalAppender;
  sink: DurableSink;
  cold: ColdReader;
  /** Called when a tail entry is added, so the manager can keep the tail within its byte bound. */
  tailAdded(entry: TailEntry, log: PartitionLog): void;
}

export class PartitionLog {
  readonly topicId: string;
  readonly partition: number;
  leaderEpoch: number;
  logStartOffset: number;
  /** Next offset to assign. */
  nextOffset: number;
  /** Offsets below this are durable and visible to fetches. */
  highWatermark: number;
  settings: TopicSettings;
  /** "topic-partition", as Kafka names a partition in messages. */
  label: string;
  /** Durable entries still in memory, contiguous, ending at the high watermark. */
  tail: TailEntry[] = [];
  private readonly shared: LogShared;
  private waiters = new Set<() => void>();
  /** Maximum batch timestamp seen. */
  maxTimestamp = -1;
  /** Idempotent producer state including appends still on their way to disk. */
  producers = new ProducerState();
  /** Producer state of durable data: open transactions (the last stable offset) and aborted ones. */
  durableProducers = new ProducerState();
  /** Producer state as of the end of uploaded data: the baseline saved with each upload. */
  uploadedProducers = new ProducerState();
  /**
   * Set while the partition is a mirror fed by a link: clients may not write (the reason is their
   * error message) and local retention and cleaning leave it alone, since its head follows the source.
   */
  mirrorOf: string | null = null;
  /** Set on a mirror whose link forwards writes to the source (see link/write-forwarder.ts). */
  forwarder: { forward(records: Buffer, o: { acks: number; timeoutMs: number; transactionalId: string | null }): Promise<AppendOutcome | null> } | null = null;
  /** Appends written to the WAL but not yet durable, oldest first. */
  private inflight: { endOffset: number; durable: Promise<boolean> }[] = [];

  constructor(topicId: string, partition: number, start: { logStartOffset: number; nextOffset: number; leaderEpoch: number }, settings: TopicSettings, shared: LogShared) {
    this.topicId = topicId;
    this.partition = partition;
    this.logStartOffset = start.logStartOffset;
    this.nextOffset = start.nextOffset;
    this.highWatermark = start.nextOffset;
    this.leaderEpoch = start.leaderEpoch;
    this.settings = settings;
    this.shared = shared;
    this.label = `${topicId}-${partition}`;
  }

  /** Validates, assigns offsets, writes to the WAL; resolves once durable (or failed). */
  async append(records: Buffer, nowMs: number): Promise<AppendOutcome> {
    if (this.mirrorOf !== null) {
      return { errorCode: ErrorCode.POLICY_VIOLATION, errorMessage: this.mirrorOf, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [] };
    }
    const check = checkBatches(records, this.settings, nowMs, this.label);
    if (check.errorCode !== ErrorCode.NONE) {
      return { errorCode: check.errorCode, errorMessage: check.message, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: check.recordErrors };
    }
    const sequence = this.producers.check(records, check.batches);
    if (sequence.kind === 'error') {
      return { errorCode: sequence.errorCode, errorMessage: sequence.message, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [] };
    }
    if (sequence.kind === 'duplicate') return this.answerDuplicate(sequence.firstOffset, sequence.lastOffset);
    return this.write(records, check.batches, check.maxTimestamp, nowMs);
  }

  /** Assigns offsets to checked batches, writes them to the WAL and makes them visible once durable. */
  private async write(records: Buffer, positions: number[], maxTimestamp: number, nowMs: number): Promise<AppendOutcome> {
    const baseOffset = this.nextOffset;
    const logAppendTime = this.settings.logAppendTime ? nowMs : -1;
    const endOffset = assignOffsets(records, positions, baseOffset, this.leaderEpoch, logAppendTime);
    assert(Number.isSafeInteger(endOffset), `offset ${endOffset} past 2^53`);
    const outcome = await this.persist(records, baseOffset, endOffset, logAppendTime >= 0 ? logAppendTime : maxTimestamp >= 0 ? maxTimestamp : nowMs);
    return outcome.errorCode === ErrorCode.NONE ? { ...outcome, logAppendTimeMs: logAppendTime } : outcome;
  }

  /**
   * Appends batches that already carry their offsets, byte for byte (a mirror of another cluster's
   * partition). Offsets must rise from the log end; gaps (compacted source data, transaction
   * markers elsewhere) are kept. The batches' CRCs are verified, nothing in them is changed. An
   * empty log whose start offset lies inside the first batch (the source deleted records up to the
   * middle of a batch) takes that whole batch, as a Kafka follower does.
   */
  async appendAtOffsets(records: Buffer, nowMs: number): Promise<AppendOutcome> {
    let first = -1;
    let end = this.nextOffset;
    let maxTimestamp = -1;
    const empty = this.nextOffset === this.logStartOffset && this.highWatermark === this.nextOffset && this.inflight.length === 0;
    try {
      for (let pos = 0; pos < records.length; ) {
        const size = batchSizeAt(records, pos);
        const base = batchBaseOffset(records, pos);
        const straddles = pos === 0 && empty && batchLastOffset(records, pos) >= end;
        if (base < end && !straddles) throw new Error(`batch at offset ${base} is below the log end ${end}`);
        if (!verifyCrc(records, pos, size)) throw new Error(`batch at offset ${base} is corrupt`);
        if (first < 0) first = Math.max(base, end);
        end = batchLastOffset(records, pos) + 1;
        maxTimestamp = Math.max(maxTimestamp, batchMaxTimestamp(records, pos));
        pos += size;
      }
    } catch (err) {
      return { errorCode: ErrorCode.CORRUPT_MESSAGE, errorMessage: (err as Error).message, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [] };
    }
    if (first < 0) return { errorCode: ErrorCode.NONE, errorMessage: null, baseOffset: this.nextOffset, logAppendTimeMs: -1, logStartOffset: this.logStartOffset, recordErrors: [] };
    return this.persist(records, first, end, maxTimestamp >= 0 ? maxTimestamp : nowMs);
  }

  /** Writes batches with assigned offsets to the WAL and makes them visible once durable. */
  private async persist(records: Buffer, baseOffset: number, endOffset: number, maxTimestamp: number): Promise<AppendOutcome> {
    this.nextOffset = endOffset;
    this.producers.apply(records);
    const entry: TailEntry = { topicId: this.topicId, partition: this.partition, baseOffset, endOffset, data: records, maxTimestamp, uploaded: false };
    let settle!: (ok: boolean) => void;
    const flight = { endOffset, durable: new Promise<boolean>((r) => (settle = r)) };
    this.inflight.push(flight);
    let position: WalPosition;
    try {
      position = await this.shared.wal.append({ topicId: this.topicId, partition: this.partition, baseOffset, endOffset, data: records });
    } catch (err) {
      // Nothing after the failed write is durable either (the WAL failed the whole queue): the next
      // append starts again right after the last durable offset, with the producer state of then.
      this.nextOffset = this.highWatermark;
      this.producers = this.durableProducers.clone();
      this.settleInflight(flight, false, settle);
      const code = (err as { kafkaError?: number }).kafkaError ?? ErrorCode.KAFKA_STORAGE_ERROR;
      return { errorCode: code, errorMessage: (err as Error).message, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [] };
    }
    this.addDurable(entry, position);
    this.settleInflight(flight, true, settle);
    return { errorCode: ErrorCode.NONE, errorMessage: null, baseOffset, logAppendTimeMs: -1, logStartOffset: this.logStartOffset, recordErrors: [] };
  }

  private settleInflight(flight: { endOffset: number }, ok: boolean, settle: (ok: boolean) => void): void {
    const i = this.inflight.indexOf(flight as (typeof this.inflight)[number]);
    if (i >= 0) this.inflight.splice(i, 1);
    settle(ok);
  }

  /** A retried batch: answer with where it went, once that is durable (KIP-98). */
  private async answerDuplicate(firstOffset: number, lastOffset: number): Promise<AppendOutcome> {
    if (lastOffset >= this.highWatermark) {
      const original = this.inflight.find((f) => f.endOffset > lastOffset);
      if (!original || !(await original.durable)) {
        return { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, errorMessage: 'The original write of this retried batch failed', baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [] };
      }
    }
    return { errorCode: ErrorCode.NONE, errorMessage: null, baseOffset: firstOffset, logAppendTimeMs: -1, logStartOffset: this.logStartOffset, recordErrors: [] };
  }

  /** Offsets below this hold no open transaction: read_committed consumers read up to here. */
  get lastStableOffset(): number {
    const open = this.durableProducers.firstOpenTxnOffset();
    return open >= 0 && open < this.highWatermark ? open : this.highWatermark;
  }

  /**
   * Appends a transaction marker (COMMIT or ABORT) for a producer, as the transaction coordinator
   * does when a transaction ends. Resolves with the marker's offset once it is durable.
   */
  async appendMarker(producerId: number, producerEpoch: number, coordinatorEpoch: number, commit: boolean, nowMs: number): Promise<AppendOutcome> {
    const marker = buildEndTxnMarkerBatch({ commit, coordinatorEpoch, producerId, producerEpoch, timestamp: nowMs });
    return this.write(marker, [0], -1, nowMs);
  }

  /** Makes a durable entry visible: appended in WAL order, so offsets stay contiguous. */
  addDurable(entry: TailEntry, position: WalPosition): void {
    assert(entry.baseOffset >= this.highWatermark, `durable entry at ${entry.baseOffset} below high watermark ${this.highWatermark}`);
    this.tail.push(entry);
    this.durableProducers.apply(entry.data);
    this.highWatermark = entry.endOffset;
    if (this.nextOffset < entry.endOffset) this.nextOffset = entry.endOffset;
    if (entry.maxTimestamp > this.maxTimestamp) this.maxTimestamp = entry.maxTimestamp;
    this.shared.tailAdded(entry, this);
    this.shared.sink.onDurable(entry, position);
    this.wake();
  }

  /** First offset held in memory; reads below it go to object storage. */
  get tailStartOffset(): number {
    return this.tail.length > 0 ? this.tail[0]!.baseOffset : this.highWatermark;
  }

  /** Reads whole batches from `offset`, at most maxBytes unless minOneBatch lets one larger batch through (KIP-74). */
  async read(offset: number, maxBytes: number, minOneBatch: boolean, readCommitted = false): Promise<ReadOutcome> {
    const lastStable = this.lastStableOffset;
    const base = { highWatermark: this.highWatermark, lastStableOffset: lastStable, logStartOffset: this.logStartOffset, abortedTransactions: null as AbortedTxn[] | null };
    if (offset < this.logStartOffset || offset > this.highWatermark) {
      return { ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, batches: [], bytes: 0 };
    }
    if (offset === this.highWatermark) return { ...base, errorCode: ErrorCode.NONE, batches: [], bytes: 0 };
    let batches: Buffer[];
    if (offset >= this.tailStartOffset) batches = this.readTail(offset, maxBytes, minOneBatch);
    else {
      batches = await this.shared.cold.read(this.topicId, this.partition, offset, maxBytes, minOneBatch);
      // Object ranges end where the tail begins: a read that used up the ranges goes on in memory.
      const used = batches.reduce((s, b) => s + b.length, 0);
      const last = batches[batches.length - 1];
      const next = Math.max(last ? batchLastOffset(last, 0) + 1 : offset, this.tailStartOffset);
      if (used < maxBytes && next < this.highWatermark && (last === undefined || batchLastOffset(last, 0) + 1 >= this.tailStartOffset)) {
        batches.push(...this.readTail(next, maxBytes - used, minOneBatch && batches.length === 0));
      }
    }
    if (readCommitted) {
      // Only what no open transaction may still abort: batches that start below the last stable offset.
      batches = cutAt(batches, lastStable);
      const last = batches[batches.length - 1];
      base.abortedTransactions = last ? this.durableProducers.abortedBetween(offset, lastOffsetIn(last)) : [];
    }
    return { ...base, errorCode: ErrorCode.NONE, batches, bytes: batches.reduce((s, b) => s + b.length, 0) };
  }

  private readTail(offset: number, maxBytes: number, minOneBatch: boolean): Buffer[] {
    const out: Buffer[] = [];
    let used = 0;
    // Binary search for the first entry that ends after offset.
    let lo = 0;
    let hi = this.tail.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.tail[mid]!.endOffset <= offset) lo = mid + 1;
      else hi = mid;
    }
    // Consecutive batches of one entry leave as one view, so a fetch is a few buffers, not one per batch.
    for (let i = lo; i < this.tail.length; i++) {
      const data = this.tail[i]!.data;
      let pos = 0;
      let from = -1;
      while (pos + RECORD_BATCH_OVERHEAD <= data.length) {
        const size = batchSizeAt(data, pos);
        if (batchLastOffset(data, pos) >= offset) {
          if (used + size > maxBytes && !(minOneBatch && used === 0)) {
            if (from >= 0) out.push(data.subarray(from, pos));
            return out;
          }
          if (from < 0) from = pos;
          used += size;
        }
        pos += size;
      }
      if (from >= 0) out.push(data.subarray(from, pos));
    }
    return out;
  }

  /**
   * Drops everything at or after `offset` from memory (the tail) and moves the log end there; the
   * caller has cut uploaded ranges and rebuilt producer state (LogManager.truncateTo).
   */
  cutTail(offset: number): void {
    assert(this.inflight.length === 0, `truncating ${this.label} with appends in flight`);
    const kept: TailEntry[] = [];
    for (const e of this.tail) {
      if (e.endOffset <= offset) kept.push(e);
      else if (e.baseOffset < offset) {
        let pos = 0;
        while (pos + RECORD_BATCH_OVERHEAD <= e.data.length && batchLastOffset(e.data, pos) < offset) pos += batchSizeAt(e.data, pos);
        if (pos > 0) kept.push({ ...e, data: e.data.subarray(0, pos), endOffset: offset, origin: e.origin ?? e });
      }
    }
    this.tail = kept;
    this.nextOffset = offset;
    this.highWatermark = offset;
    this.wake();
  }

  /** Calls fn once the next time data arrives or the log changes; returns a function that cancels. */
  onData(fn: () => void): () => void {
    this.waiters.add(fn);
    return () => this.waiters.delete(fn);
  }

  wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  /**
   * ListOffsets by time: the first record at or after `ts` with a timestamp of at least `ts`, or, for
   * 'max', the first record carrying the largest timestamp. Ranges and tail entries whose max
   * timestamp is too small are skipped whole; only the one batch that holds the answer is decoded.
   */
  async findByTimestamp(ts: number | 'max'): Promise<{ offset: number; timestamp: number; leaderEpoch: number } | null> {
    const ranges = (await this.shared.cold.ranges(this.topicId, this.partition)).filter((r) => r.endOffset > this.logStartOffset && r.baseOffset < this.tailStartOffset);
    const sources: { maxTimestamp: number; batches: () => Promise<Buffer[]> | Buffer[] }[] = [
      ...ranges.map((r) => ({ maxTimestamp: r.maxTimestamp, batches: () => this.shared.cold.readRange(r) })),
      ...this.tail.map((e) => ({ maxTimestamp: e.maxTimestamp, batches: () => [e.data] })),
    ];
    const target = ts === 'max' ? sources.reduce((m, s) => Math.max(m, s.maxTimestamp), -1) : ts;
    if (target < 0 && ts === 'max') return null;
    for (const source of sources) {
      if (source.maxTimestamp < target) continue;
      for (const buf of await source.batches()) {
        for (let pos = 0; pos + RECORD_BATCH_OVERHEAD <= buf.length; pos += batchSizeAt(buf, pos)) {
          if (batchMaxTimestamp(buf, pos) < target || batchAttributes(buf, pos) & ATTR_CONTROL) continue;
          const decoded = readBatchRecords(buf.subarray(pos, pos + batchSizeAt(buf, pos)), { verifyCrc: false });
          for (const rec of decoded.records) {
            if (rec.offset < this.logStartOffset) continue;
            if (ts === 'max' ? rec.timestamp === target : rec.timestamp >= target) {
              return { offset: rec.offset, timestamp: rec.timestamp, leaderEpoch: batchPartitionLeaderEpoch(buf, pos) };
            }
          }
        }
      }
    }
    return null;
  }
}

/** Keeps the batches that start below limit; a view holding several batches is cut between them. */
function cutAt(views: Buffer[], limit: number): Buffer[] {
  const out: Buffer[] = [];
  for (const v of views) {
    let pos = 0;
    while (pos + RECORD_BATCH_OVERHEAD <= v.length && batchBaseOffset(v, pos) < limit) pos += batchSizeAt(v, pos);
    if (pos > 0) out.push(pos === v.length ? v : v.subarray(0, pos));
    if (pos < v.length) break;
  }
  return out;
}

/** Last offset of the last batch in a view of one or more batches. */
function lastOffsetIn(view: Buffer): number {
  let pos = 0;
  let last = -1;
  while (pos + RECORD_BATCH_OVERHEAD <= view.length) {
    last = batchLastOffset(view, pos);
    pos += batchSizeAt(view, pos);
  }
  return last;
}
