// One partition's log: offsets (log start, next, high watermark), the checks each produced batch
// must pass, offset assignment by patching batch headers in place, and the tail of recent batches
// served to fetches from memory. Older data is read from object storage through a ColdReader.
//
// Offsets are JS numbers: Kafka offsets are int64, but a log would need 2^53 records to leave the
// safe-integer range; appends assert it.
import { ErrorCode } from '../protocol/generated/errors.ts';
import { assert } from '../common/errors.ts';
import type { WalEntry, WalPosition } from '../storage/wal/index.ts';
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
import type { AbortedTxn, ProducerStateView } from './producer-state.ts';
import { LeaderEpochCache } from './leader-epochs.ts';
import type { EpochEntry, LeaderEpochCheckpoint } from './leader-epochs.ts';

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
  /** Told once the log moved a partition's end back after a failed append (Wal.rolledBack). */
  rolledBack?(topicId: string, partition: number): void;
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
  /**
   * Admission of new data: an error (with a `kafkaError`) while it may not be written now, e.g. the
   * upload backlog is at its bound. Asked before offsets are assigned, so a refusal changes nothing
   * and appends already on their way to the WAL are unaffected. Transaction markers are always let
   * through: they are tiny and end transactions that would otherwise pin the last stable offset.
   */
  admit(): Error | null;
  /** Called when a tail entry is added, so the manager can keep the tail within its byte bound. */
  tailAdded(entry: TailEntry, log: PartitionLog): void;
  /** Where a partition's leader-epoch history is stored (absent: kept in memory only). */
  leaderEpochCheckpoint?(topicId: string, partition: number): LeaderEpochCheckpoint;
}

/** How a partition is fed while it mirrors another cluster's partition (see link/). */
export interface MirrorForwarder {
  forward(records: Buffer, o: { acks: number; timeoutMs: number; transactionalId: string | null }): Promise<AppendOutcome | null>;
}

/** An append written to the WAL but not yet durable. */
interface Flight {
  baseOffset: number;
  endOffset: number;
  data: Buffer;
  /** Set when an earlier append of this partition failed: this one cannot stand either (its offsets
   *  follow the failed ones), and the log end has already been moved back past it. */
  doomed: boolean;
  durable: Promise<boolean>;
}

export interface PartitionStart {
  logStartOffset: number;
  /** End of the uploaded data (the next offset before the WAL replay). */
  nextOffset: number;
  leaderEpoch: number;
  /** Largest batch timestamp in uploaded data, or -1. */
  maxTimestamp?: number;
  /** "topic-partition", as Kafka names a partition in messages. */
  label?: string;
  /** The saved leader-epoch history; entries past the uploaded end come back with the WAL replay. */
  leaderEpochs?: readonly EpochEntry[];
}

const refusal = (errorCode: number, errorMessage: string | null, recordErrors: AppendOutcome['recordErrors'] = []): AppendOutcome => ({
  errorCode,
  errorMessage,
  baseOffset: -1,
  logAppendTimeMs: -1,
  logStartOffset: -1,
  recordErrors,
});

/**
 * One partition's log. Its state (offsets, producer state, the tail, whether it is a mirror) is
 * changed only through the transitions below, each of which is atomic with respect to appends:
 * appends assign offsets synchronously, and the transitions that rewrite the log end (truncation,
 * reset) run through `exclusive`, which waits for appends in flight and holds new ones back.
 */
export class PartitionLog {
  readonly topicId: string;
  readonly partition: number;
  readonly label: string;
  #leaderEpoch: number;
  #logStartOffset: number;
  /** Next offset to assign. */
  #nextOffset: number;
  /** Offsets below this are durable and visible to fetches. */
  #highWatermark: number;
  #settings: TopicSettings;
  /** Durable entries still in memory, contiguous, ending at the high watermark. */
  #tail: TailEntry[] = [];
  private readonly shared: LogShared;
  private waiters = new Set<() => void>();
  #maxTimestamp: number;
  /** Idempotent producer state including appends still on their way to disk. */
  #producers = new ProducerState();
  /** Producer state of durable data: open transactions (the last stable offset) and aborted ones. */
  #durableProducers = new ProducerState();
  /** Producer state as of the end of uploaded data: the baseline saved with each upload. */
  #uploadedProducers = new ProducerState();
  #mirrorOf: string | null = null;
  #forwarder: MirrorForwarder | null = null;
  /** Appends written to the WAL but not yet durable, oldest first. */
  private inflight: Flight[] = [];
  /** Set while an exclusive transition runs: appends wait for it. */
  private gate: Promise<void> | null = null;
  #closed = false;
  /** Set once another broker leads the partition (it claimed it): appends and reads are refused. */
  #ledBy: number | null = null;
  /** Kafka's LeaderEpochFileCache: fed from durable batches' headers, cut with the log. */
  readonly #leaderEpochs: LeaderEpochCache;

  constructor(topicId: string, partition: number, start: PartitionStart, settings: TopicSettings, shared: LogShared) {
    this.topicId = topicId;
    this.partition = partition;
    this.#logStartOffset = start.logStartOffset;
    this.#nextOffset = start.nextOffset;
    this.#highWatermark = start.nextOffset;
    this.#leaderEpoch = start.leaderEpoch;
    this.#maxTimestamp = start.maxTimestamp ?? -1;
    this.#settings = settings;
    this.shared = shared;
    this.label = start.label ?? `${topicId}-${partition}`;
    this.#leaderEpochs = new LeaderEpochCache(shared.leaderEpochCheckpoint?.(topicId, partition) ?? null, start.leaderEpochs);
    // As Kafka's log loading does: entries for data that never became durable, or left by a crash
    // in the middle of a truncation, go; the replay adds the WAL's epochs back from batch headers.
    this.#leaderEpochs.truncateFromEnd(start.nextOffset);
    this.#leaderEpochs.truncateFromStart(start.logStartOffset);
  }

  /**
   * OffsetForLeaderEpoch (Kafka's UnifiedLog.endOffsetForEpoch): the largest epoch at or below
   * `epoch` and where it ends; the latest epoch ends at the high watermark (what is durable).
   */
  endOffsetForEpoch(epoch: number): { epoch: number; endOffset: number } {
    // A Kafka leader records its epoch at the log end when it becomes leader, so even a partition
    // no batch was written to answers for its epoch. Strait's history is fed from batches: a local
    // partition whose current epoch wrote nothing yet answers as if that entry were there. (Not a
    // mirror: a Kafka follower's history, like a mirror's, holds only what it fetched.)
    if (this.#mirrorOf === null && this.#leaderEpochs.latestEpoch < this.#leaderEpoch) {
      const withLeader = new LeaderEpochCache(null, [...this.#leaderEpochs.entries, { epoch: this.#leaderEpoch, startOffset: this.#nextOffset }]);
      return withLeader.endOffsetFor(epoch, this.#highWatermark);
    }
    return this.#leaderEpochs.endOffsetFor(epoch, this.#highWatermark);
  }

  /** Each leader epoch of the log and its first offset, ascending. */
  get leaderEpochHistory(): readonly EpochEntry[] {
    return this.#leaderEpochs.entries;
  }

  /**
   * On load, for data uploaded before leader-epoch histories were kept: the history read from the
   * batch headers of the uploaded data (once: it is saved, so the next load has it).
   */
  rebuildLeaderEpochs(entries: readonly EpochEntry[]): void {
    assert(this.#tail.length === 0 && this.inflight.length === 0, `rebuilding leader epochs of ${this.label} after data`);
    for (const e of entries) this.#leaderEpochs.assign(e.epoch, Math.max(e.startOffset, this.#logStartOffset));
  }

  /** Records each batch's partitionLeaderEpoch at its base offset (no change for most batches). */
  private learnEpochs(data: Buffer, fromOffset: number): void {
    for (let pos = 0; pos + RECORD_BATCH_OVERHEAD <= data.length; pos += batchSizeAt(data, pos)) {
      this.#leaderEpochs.assign(batchPartitionLeaderEpoch(data, pos), Math.max(batchBaseOffset(data, pos), fromOffset));
    }
  }

  get leaderEpoch(): number {
    return this.#leaderEpoch;
  }
  get logStartOffset(): number {
    return this.#logStartOffset;
  }
  get nextOffset(): number {
    return this.#nextOffset;
  }
  get highWatermark(): number {
    return this.#highWatermark;
  }
  get settings(): TopicSettings {
    return this.#settings;
  }
  get tail(): readonly TailEntry[] {
    return this.#tail;
  }
  /** Maximum batch timestamp seen. */
  get maxTimestamp(): number {
    return this.#maxTimestamp;
  }
  get producers(): ProducerStateView {
    return this.#producers;
  }
  get durableProducers(): ProducerStateView {
    return this.#durableProducers;
  }
  /**
   * Set while the partition is a mirror fed by a link: clients may not write (the reason is their
   * error message) and local retention and cleaning leave it alone, since its head follows the source.
   */
  get mirrorOf(): string | null {
    return this.#mirrorOf;
  }
  get isMirror(): boolean {
    return this.#mirrorOf !== null;
  }
  /** Set on a mirror whose link forwards writes to the source (see link/write-forwarder.ts). */
  get forwarder(): MirrorForwarder | null {
    return this.#forwarder;
  }
  /** Appends on their way to the WAL (for tests and metrics). */
  get inflightCount(): number {
    return this.inflight.length;
  }

  // ---- transitions of the log's own state -------------------------------------------------------

  /** On load: the producer state saved with the last upload (before the WAL replay). */
  restoreProducers(state: ProducerState): void {
    assert(this.#tail.length === 0 && this.inflight.length === 0, `restoring producers of ${this.label} after data`);
    this.#uploadedProducers = state;
    this.#producers = state.clone();
    this.#durableProducers = state.clone();
  }

  /** On load: a WAL entry that was durable but not uploaded yet, in WAL order. */
  replay(entry: { baseOffset: number; endOffset: number; data: Buffer }, position: WalPosition): void {
    assert(this.inflight.length === 0, `replaying into ${this.label} with appends in flight`);
    this.#producers.apply(entry.data);
    this.addDurable({ topicId: this.topicId, partition: this.partition, baseOffset: entry.baseOffset, endOffset: entry.endOffset, data: entry.data, maxTimestamp: maxTimestampOf(entry.data), uploaded: false }, position);
  }

  updateSettings(settings: TopicSettings): void {
    this.#settings = settings;
  }

  /** The topic is gone: the tail is let go and waiting fetches wake to find it missing. */
  close(): void {
    this.#closed = true;
    this.#tail = [];
    this.wake();
  }

  /**
   * Another broker leads the partition now (it claimed it with a newer leader epoch, so this one's
   * commits are fenced): appends and reads answer NOT_LEADER_OR_FOLLOWER, and waiting fetches wake.
   */
  relinquish(leaderId: number): void {
    this.#ledBy = leaderId;
    this.wake();
  }

  /** The broker that leads the partition instead of this one, or null while this one does. */
  get ledBy(): number | null {
    return this.#ledBy;
  }

  /** Moves the log start forward (never back) once metadata holds it (DeleteRecords, retention). */
  moveLogStart(offset: number): void {
    if (offset <= this.#logStartOffset) return;
    this.#logStartOffset = offset;
    this.#durableProducers.pruneAborted(offset);
    this.#leaderEpochs.truncateFromStart(offset);
    this.wake();
  }

  /** Makes the partition a read-only mirror fed by a link (local writes refused with `reason`). */
  becomeMirror(reason: string, forwarder: MirrorForwarder | null): void {
    this.#mirrorOf = reason;
    this.#forwarder = forwarder;
  }

  /** The leader epoch of a mirror follows its source's. */
  setLeaderEpoch(epoch: number): void {
    this.#leaderEpoch = epoch;
  }

  /**
   * Ends mirroring: the partition takes local writes at `leaderEpoch` (above every epoch of the
   * source). Epoch, forwarder and the mirror flag change together, so no append sees half of it;
   * the caller has made the promotion durable first (link-manager). With `abortOpenTransactionsBelow`
   * (the mirror's end when promotion was decided), transactions the source left open (they would hold
   * the last stable offset forever) get ABORT markers as the first batches after promotion, in the
   * same step: their offsets are assigned before any other append can run. Transactions that began
   * at or past that offset are local ones and are left alone, so a promotion finished again (after
   * a crash or a failed marker) never aborts them. Resolves with the markers' outcomes once durable.
   */
  async promote(leaderEpoch: number, o: { abortOpenTransactionsBelow?: number; nowMs?: number } = {}): Promise<AppendOutcome[]> {
    // Not inside a truncation or reset: those rewrite the end the new epoch starts at.
    while (this.gate) await this.gate;
    const nowMs = o.nowMs ?? Date.now();
    this.#leaderEpoch = leaderEpoch;
    // Kafka's makeLeader: the new epoch starts at the log end.
    this.#leaderEpochs.assign(leaderEpoch, this.#nextOffset);
    this.#forwarder = null;
    this.#mirrorOf = null;
    const markers: Promise<AppendOutcome>[] = [];
    const below = o.abortOpenTransactionsBelow;
    if (below !== undefined) {
      for (const e of [...this.#durableProducers.producers.values()]) {
        // Only the source's: a transaction that began at or past the mirror's end is local.
        if (e.txnFirstOffset < 0 || e.txnFirstOffset >= below) continue;
        const marker = buildEndTxnMarkerBatch({ commit: false, coordinatorEpoch: 0, producerId: e.producerId, producerEpoch: e.epoch, timestamp: nowMs });
        markers.push(this.write(marker, [0], -1, nowMs));
      }
    }
    this.wake();
    return Promise.all(markers);
  }

  /** Drops producers idle longer than producer.id.expiration.ms (none with an open transaction). */
  expireProducers(nowMs: number, expirationMs: number): number {
    const n = this.#producers.expire(nowMs, expirationMs);
    this.#durableProducers.expire(nowMs, expirationMs);
    this.#uploadedProducers.expire(nowMs, expirationMs);
    return n;
  }

  /** The producer state at the end of uploaded data, to extend with an upload's batches. */
  uploadedProducerState(): ProducerState {
    return this.#uploadedProducers.clone();
  }

  /** An upload committed: `state` (from uploadedProducerState plus its batches) is the new baseline. */
  commitUploadedProducers(state: ProducerState): void {
    this.#uploadedProducers = state;
  }

  /** Drops the oldest tail entry if it is `entry` (or was cut from it), once it is uploaded. */
  dropUploadedHead(entry: TailEntry): boolean {
    const head = this.#tail[0];
    if (!entry.uploaded || (head !== entry && head?.origin !== entry)) return false;
    this.#tail.shift();
    return true;
  }

  /** Drops uploaded entries the cleaner rewrote from the front of the tail (fetches read the cleaned ranges). */
  dropCleanedHead(cleanedUpTo: number): void {
    while (this.#tail.length > 0 && this.#tail[0]!.uploaded && this.#tail[0]!.endOffset <= cleanedUpTo) this.#tail.shift();
  }

  /**
   * Runs a transition that rewrites the log end (truncation, reset) with no append in flight and
   * none starting until it is done. Used by the log manager, which does the metadata part.
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.gate) await this.gate;
    let open!: () => void;
    this.gate = new Promise<void>((r) => (open = r));
    try {
      while (this.inflight.length > 0) await this.inflight[this.inflight.length - 1]!.durable;
      return await fn();
    } finally {
      this.gate = null;
      open();
    }
  }

  /**
   * Cuts the in-memory log at `offset` and moves the log end there, with the producer state of
   * the batches kept; only inside `exclusive`, after metadata has been cut (LogManager.truncateTo).
   */
  truncateTail(offset: number, producers: ProducerState): void {
    assert(this.gate !== null && this.inflight.length === 0, `truncating ${this.label} outside an exclusive transition`);
    const kept: TailEntry[] = [];
    for (const e of this.#tail) {
      if (e.endOffset <= offset) kept.push(e);
      else if (e.baseOffset < offset) {
        let pos = 0;
        while (pos + RECORD_BATCH_OVERHEAD <= e.data.length && batchLastOffset(e.data, pos) < offset) pos += batchSizeAt(e.data, pos);
        if (pos > 0) kept.push({ ...e, data: e.data.subarray(0, pos), endOffset: offset, origin: e.origin ?? e });
      }
    }
    this.#tail = kept;
    this.#nextOffset = offset;
    this.#highWatermark = offset;
    this.#leaderEpochs.truncateFromEnd(offset);
    this.#producers = producers;
    this.#durableProducers = producers.clone();
    this.#uploadedProducers = producers.clone();
    this.wake();
  }

  /** Empties the log and starts it at `offset`; only inside `exclusive`, after metadata (LogManager.resetTo). */
  resetTo(offset: number): void {
    assert(this.gate !== null && this.inflight.length === 0, `resetting ${this.label} outside an exclusive transition`);
    this.#tail = [];
    this.#logStartOffset = offset;
    this.#nextOffset = offset;
    this.#highWatermark = offset;
    this.#leaderEpochs.clear();
    this.#producers = new ProducerState();
    this.#durableProducers = new ProducerState();
    this.#uploadedProducers = new ProducerState();
    this.wake();
  }

  // ---- appends ----------------------------------------------------------------------------------

  /** Validates, assigns offsets, writes to the WAL; resolves once durable (or failed). */
  async append(records: Buffer, nowMs: number): Promise<AppendOutcome> {
    // Inline, right before the synchronous part: after an await, another exclusive transition may
    // have begun, so the check is repeated until none is under way.
    while (this.gate) await this.gate;
    if (this.#ledBy !== null) return this.notLeader();
    if (this.#mirrorOf !== null) return refusal(ErrorCode.POLICY_VIOLATION, this.#mirrorOf);
    const check = checkBatches(records, this.#settings, nowMs, this.label);
    if (check.errorCode !== ErrorCode.NONE) return refusal(check.errorCode, check.message, check.recordErrors);
    const sequence = this.#producers.check(records, check.batches);
    if (sequence.kind === 'error') return refusal(sequence.errorCode, sequence.message);
    // A retry of a batch already written is answered with where it went, even while new data is refused.
    if (sequence.kind === 'duplicate') return this.answerDuplicate(sequence.firstOffset, sequence.lastOffset);
    const refused = this.shared.admit();
    if (refused) return refusal((refused as { kafkaError?: number }).kafkaError ?? ErrorCode.KAFKA_STORAGE_ERROR, refused.message);
    return this.write(records, check.batches, check.maxTimestamp, nowMs);
  }

  /** Assigns offsets to checked batches, writes them to the WAL and makes them visible once durable. */
  private async write(records: Buffer, positions: number[], maxTimestamp: number, nowMs: number): Promise<AppendOutcome> {
    const baseOffset = this.#nextOffset;
    const logAppendTime = this.#settings.logAppendTime ? nowMs : -1;
    const endOffset = assignOffsets(records, positions, baseOffset, this.#leaderEpoch, logAppendTime);
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
    while (this.gate) await this.gate;
    if (this.#ledBy !== null) return this.notLeader();
    let first = -1;
    let end = this.#nextOffset;
    let maxTimestamp = -1;
    const empty = this.#nextOffset === this.#logStartOffset && this.#highWatermark === this.#nextOffset && this.inflight.length === 0;
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
      return refusal(ErrorCode.CORRUPT_MESSAGE, (err as Error).message);
    }
    if (first < 0) return { errorCode: ErrorCode.NONE, errorMessage: null, baseOffset: this.#nextOffset, logAppendTimeMs: -1, logStartOffset: this.#logStartOffset, recordErrors: [] };
    const refused = this.shared.admit();
    if (refused) return refusal((refused as { kafkaError?: number }).kafkaError ?? ErrorCode.KAFKA_STORAGE_ERROR, refused.message);
    return this.persist(records, first, end, maxTimestamp >= 0 ? maxTimestamp : nowMs);
  }

  /**
   * Writes batches with assigned offsets to the WAL and makes them visible once durable. Offsets
   * and producer state move on at once (the next append follows this one); if the write fails,
   * `rollBack` moves them back to where this append began.
   */
  private async persist(records: Buffer, baseOffset: number, endOffset: number, maxTimestamp: number): Promise<AppendOutcome> {
    assert(baseOffset >= this.#nextOffset, `append at ${baseOffset} below the log end ${this.#nextOffset} of ${this.label}`);
    this.#nextOffset = endOffset;
    this.#producers.apply(records);
    const entry: TailEntry = { topicId: this.topicId, partition: this.partition, baseOffset, endOffset, data: records, maxTimestamp, uploaded: false };
    let settle!: (ok: boolean) => void;
    const flight: Flight = { baseOffset, endOffset, data: records, doomed: false, durable: new Promise<boolean>((r) => (settle = r)) };
    this.inflight.push(flight);
    let position: WalPosition;
    try {
      position = await this.shared.wal.append({ topicId: this.topicId, partition: this.partition, baseOffset, endOffset, data: records, leaderEpoch: this.#leaderEpoch });
    } catch (err) {
      this.rollBack(flight);
      this.settleInflight(flight, false, settle);
      const code = (err as { kafkaError?: number }).kafkaError ?? ErrorCode.KAFKA_STORAGE_ERROR;
      return refusal(code, (err as Error).message);
    }
    // The WAL contract (storage/wal): an append that fails fails every later one, so an append
    // after a failed one never becomes durable; if it did, its offsets may already be reused.
    assert(!flight.doomed, `WAL acknowledged ${this.label} at ${baseOffset} after an earlier append of it failed`);
    if (this.#closed) {
      this.settleInflight(flight, true, settle);
      return refusal(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${this.label} was deleted`);
    }
    this.addDurable(entry, position);
    this.settleInflight(flight, true, settle);
    return { errorCode: ErrorCode.NONE, errorMessage: null, baseOffset, logAppendTimeMs: -1, logStartOffset: this.#logStartOffset, recordErrors: [] };
  }

  /**
   * A WAL write failed: this append and every later one of the partition are lost (the WAL fails
   * everything queued after a failed write), so the log end and producer state go back to where
   * this append began. Appends before it are unaffected: they completed first (the WAL completes
   * in order), and an earlier failure has already moved the end back past this one.
   */
  private rollBack(flight: Flight): void {
    if (flight.doomed) return;
    const i = this.inflight.indexOf(flight);
    assert(i >= 0, `rolling back an append of ${this.label} that is not in flight`);
    for (let j = i; j < this.inflight.length; j++) this.inflight[j]!.doomed = true;
    assert(flight.baseOffset >= this.#highWatermark, `rolling back ${this.label} to ${flight.baseOffset}, below its high watermark ${this.#highWatermark}`);
    this.#nextOffset = flight.baseOffset;
    const producers = this.#durableProducers.clone();
    for (let j = 0; j < i; j++) producers.apply(this.inflight[j]!.data);
    this.#producers = producers;
    this.shared.wal.rolledBack?.(this.topicId, this.partition);
  }

  private settleInflight(flight: Flight, ok: boolean, settle: (ok: boolean) => void): void {
    const i = this.inflight.indexOf(flight);
    if (i >= 0) this.inflight.splice(i, 1);
    settle(ok);
  }

  private notLeader(): AppendOutcome {
    return refusal(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${this.label} is led by broker ${this.#ledBy} now`);
  }

  /** A retried batch: answer with where it went, once that is durable (KIP-98). */
  private async answerDuplicate(firstOffset: number, lastOffset: number): Promise<AppendOutcome> {
    if (lastOffset >= this.#highWatermark) {
      const original = this.inflight.find((f) => !f.doomed && f.baseOffset <= firstOffset && f.endOffset > lastOffset);
      if (!original || !(await original.durable)) return refusal(ErrorCode.KAFKA_STORAGE_ERROR, 'The original write of this retried batch failed');
    }
    return { errorCode: ErrorCode.NONE, errorMessage: null, baseOffset: firstOffset, logAppendTimeMs: -1, logStartOffset: this.#logStartOffset, recordErrors: [] };
  }

  /** Offsets below this hold no open transaction: read_committed consumers read up to here. */
  get lastStableOffset(): number {
    const open = this.#durableProducers.firstOpenTxnOffset();
    return open >= 0 && open < this.#highWatermark ? open : this.#highWatermark;
  }

  /**
   * Appends a transaction marker (COMMIT or ABORT) for a producer, as the transaction coordinator
   * does when a transaction ends. Resolves with the marker's offset once it is durable. A mirror
   * refuses: its markers come from the source, and a local one would make it diverge.
   */
  async appendMarker(producerId: number, producerEpoch: number, coordinatorEpoch: number, commit: boolean, nowMs: number): Promise<AppendOutcome> {
    while (this.gate) await this.gate;
    if (this.#ledBy !== null) return this.notLeader();
    if (this.#mirrorOf !== null) return refusal(ErrorCode.POLICY_VIOLATION, this.#mirrorOf);
    const marker = buildEndTxnMarkerBatch({ commit, coordinatorEpoch, producerId, producerEpoch, timestamp: nowMs });
    return this.write(marker, [0], -1, nowMs);
  }

  /** Makes a durable entry visible: appended in WAL order, so offsets stay contiguous. */
  private addDurable(entry: TailEntry, position: WalPosition): void {
    assert(entry.baseOffset >= this.#highWatermark, `durable entry at ${entry.baseOffset} below high watermark ${this.#highWatermark}`);
    this.#tail.push(entry);
    this.#durableProducers.apply(entry.data);
    // The epoch entry is stored no later than the data is visible; a crash before it is stored
    // loses nothing, since the WAL replay brings the batch headers back through here.
    this.learnEpochs(entry.data, entry.baseOffset);
    this.#highWatermark = entry.endOffset;
    if (this.#nextOffset < entry.endOffset) this.#nextOffset = entry.endOffset;
    if (entry.maxTimestamp > this.#maxTimestamp) this.#maxTimestamp = entry.maxTimestamp;
    this.shared.tailAdded(entry, this);
    this.shared.sink.onDurable(entry, position);
    this.wake();
  }

  /** First offset held in memory; reads below it go to object storage. */
  get tailStartOffset(): number {
    return this.#tail.length > 0 ? this.#tail[0]!.baseOffset : this.#highWatermark;
  }

  /** Reads whole batches from `offset`, at most maxBytes unless minOneBatch lets one larger batch through (KIP-74). */
  async read(offset: number, maxBytes: number, minOneBatch: boolean, readCommitted = false): Promise<ReadOutcome> {
    const lastStable = this.lastStableOffset;
    const base = { highWatermark: this.highWatermark, lastStableOffset: lastStable, logStartOffset: this.logStartOffset, abortedTransactions: null as AbortedTxn[] | null };
    if (this.#ledBy !== null) return { ...base, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, batches: [], bytes: 0 };
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

/** Largest batch timestamp in a run of batches, or -1. */
export function maxTimestampOf(data: Buffer): number {
  let max = -1;
  for (let pos = 0; pos + RECORD_BATCH_OVERHEAD <= data.length; pos += batchSizeAt(data, pos)) {
    const ts = batchMaxTimestamp(data, pos);
    if (ts > max) max = ts;
  }
  return max;
}
