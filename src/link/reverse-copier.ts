// The reverse copier: rollback after promotion. Once a mirror topic is promoted, clients write to
// Strait; to move them back, this copies everything written to Strait after the promotion point to
// the same topic on the source Kafka cluster, batch by batch in Strait's order, so that Kafka
// assigns the same offsets, and copies consumer-group offsets back so consumers resume on Kafka
// where they stopped on Strait.
//
// What stays identical and what cannot:
// - Plain batches (no producer id) and batches of producers Kafka already knows in the partition
//   (DescribeProducers, KIP-664: a producer that wrote to Kafka before it moved) go as they are:
//   same bytes (but for the partition leader epoch, each cluster's own), same offsets. Kafka
//   continues such a producer's sequence, so it can move back and keep its producer id.
// - Idempotent batches of producers Kafka does not know (ids Strait handed out after promotion) go
//   with the same records at the same offsets, but without producer id. Copied as they are, they
//   would plant Strait's ids in Kafka's producer state, and Kafka hands out ids from its own
//   counter: a new producer on Kafka that drew the same id would have its first writes refused
//   (OUT_OF_ORDER_SEQUENCE_NUMBER). The same fallback applies when Kafka refuses a known
//   producer's batch for its sequence or epoch.
// - Transaction markers cannot be produced, and aborted records must not reach Kafka as plain
//   data: only committed transactional records are copied, re-encoded as plain batches (same keys,
//   values, headers and timestamps). From the first marker on, Kafka offsets are lower than
//   Strait's. The offset map (first Strait offset → Kafka offset of each run of copied records)
//   says where every record went, and group offsets are translated through it.
//
// Order: Kafka refuses more than one batch per partition in a produce request, and without
// idempotence only one request in flight keeps the order (max.in.flight.requests=1). So each
// partition has one produce in flight; reading and re-encoding the next batches from Strait
// overlaps it (up to readAheadBytesMax), and the partitions' produces share requests (one batch of
// each partition that has one ready; see produce-batcher.ts).
//
// Outages: a produce whose answer is lost may or may not have been written. Before every retry
// (and on start) the copier reconciles with Kafka's log: what lies past the next expected Kafka
// offset must be this copier's own copy of the next batches (then it is adopted, which also lets a
// copier started again with the same promotion offsets continue), anything else stops the
// partition with an error, since offsets could no longer match.
import type { Logger } from '../common/logger.ts';
import { StraitError } from '../common/errors.ts';
import type { GroupCoordinator } from '../coordinator/group-coordinator.ts';
import type { LogManager } from '../log/log-manager.ts';
import type { PartitionLog } from '../log/partition-log.ts';
import type { AbortedTxn } from '../log/producer-state.ts';
import type { TopicRecord } from '../metadata/store.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { DescribeProducersResponse } from '../protocol/generated/describe-producers-response.ts';
import type { OffsetCommitResponse } from '../protocol/generated/offset-commit-response.ts';
import {
  ATTR_CONTROL,
  ATTR_TIMESTAMP_TYPE,
  ATTR_TRANSACTIONAL,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  CONTROL_TYPE_ABORT,
  NO_PARTITION_LEADER_EPOCH,
  PARTITION_LEADER_EPOCH_OFFSET,
  RECORDS_OFFSET,
  RECORD_BATCH_OVERHEAD,
  batchAttributes,
  batchBaseOffset,
  batchBaseSequence,
  batchBaseTimestamp,
  batchLastOffset,
  batchLastOffsetDelta,
  batchProducerId,
  batchRecordCount,
  batchSizeAt,
  buildBatch,
  compressionOf,
  decodeControlRecordKey,
  readBatchRecords,
  writeCrc,
  writeInt64,
} from '../protocol/records/index.ts';
import type { KafkaRecord } from '../protocol/records/index.ts';
import { ApiKey, KafkaClientError } from './client/index.ts';
import type { KafkaClient } from './client/index.ts';
import { ProduceBatcher } from './produce-batcher.ts';

export interface ReverseCopierOptions {
  /** The link whose promoted topic this copies back (for logs and status). */
  linkName: string;
  /** A client of the source cluster; the copier never closes it. */
  client: KafkaClient;
  logs: LogManager;
  /** The promoted topic on Strait; Kafka's topic has the same name. */
  topic: TopicRecord;
  /** Per partition, the promotion end offset: where copying starts (the promotion report's endOffset). */
  fromOffsets: ReadonlyMap<number, number>;
  groups: GroupCoordinator;
  /** Groups whose committed offsets are copied back. */
  acceptGroup: (groupId: string) => boolean;
  log: Logger;
  groupSyncIntervalMs: number;
  /** Bytes read (and re-encoded) from Strait ahead of the produce in flight, per partition. */
  readAheadBytesMax?: number;
}

/** How a Strait batch reached Kafka. */
export type CopyKind =
  /** The same bytes. */
  | 'identical'
  /** The same records at the same offsets, without producer id (see the file comment). */
  | 'without-producer-id'
  /** Committed records of a transaction, as a plain batch. */
  | 'committed-transaction'
  /** A batch with offset gaps (compacted on Strait), its records renumbered without gaps. */
  | 'renumbered';

export interface ReversePartitionStatus {
  partition: number;
  /** copying · caught-up · retrying (error shown, retried with backoff) · stopped (for good: error says why). */
  state: 'starting' | 'copying' | 'caught-up' | 'retrying' | 'stopped';
  /** Where copying started (the promotion end offset). */
  fromOffset: number;
  /** Next Strait offset to copy: everything below is on Kafka, or was skipped (markers, aborted records). */
  nextOffset: number;
  /** The Kafka offset the next copied record gets. */
  kafkaNextOffset: number;
  /** Strait's log end offset (high watermark) now. */
  targetEndOffset: number;
  lagRecords: number;
  error: string | null;
  batchesCopied: Record<CopyKind, number>;
  recordsCopied: number;
  /** Strait offsets never copied: transaction markers and aborted records. */
  offsetsSkipped: number;
  /** Runs of copied records whose Kafka offset differs from their Strait offset, latest last (at most 100). */
  offsetMap: { straitOffset: number; kafkaOffset: number; records: number }[];
  /** How many such runs there are in all. */
  offsetMapEntries: number;
  /** Why offsets or bytes differ, once per cause. */
  notes: string[];
}

export interface ReverseGroupStatus {
  groupId: string;
  /**
   * pending: some offsets wait for their records to be copied · synced · active-on-kafka: the group
   * has members on Kafka (or someone else committed there), so Kafka is authoritative and it is no
   * longer copied · error.
   */
  state: 'pending' | 'synced' | 'active-on-kafka' | 'error';
  offsetsCopied: number;
  /** Partitions whose Strait offset lies past what has been copied yet. */
  heldBack: number;
  error: string | null;
  lastSyncMs: number;
}

export interface ReverseCopierStatus {
  link: string;
  topic: string;
  state: 'created' | 'running' | 'stopped';
  /** True while every copied record sits at its Strait offset on Kafka. */
  offsetsIdentical: boolean;
  partitions: ReversePartitionStatus[];
  groups: ReverseGroupStatus[];
}

const READ_BYTES_MAX = 1 << 20;
/** Bytes of Kafka's log checked per fetch when adopting batches already copied (after a restart). */
const RECONCILE_FETCH_BYTES = 4 << 20;
const READ_AHEAD_BYTES_MAX_DEFAULT = 4 << 20;
const PRODUCE_TIMEOUT_MS = 30_000;
/** Other calls to Kafka: short, so an outage shows in the status within seconds. */
const KAFKA_CALL_TIMEOUT_MS = 10_000;
const RETRY_BACKOFF_MS = 500;
const RETRY_BACKOFF_MS_MAX = 5_000;
/** Wakes an idle partition even if no data notification came (a missed wake-up costs this much). */
const IDLE_WAKE_MS = 1_000;
/** Runs of the offset map kept per partition; older ones are dropped (their groups cannot be translated). */
const OFFSET_MAP_ENTRIES_MAX = 100_000;
const STATUS_OFFSET_MAP_MAX = 100;
const NOTES_MAX = 20;

/** Kafka refused an idempotent batch for its producer state: it is not in the log. */
const PRODUCER_STATE_ERRORS = new Set<number>([ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, ErrorCode.UNKNOWN_PRODUCER_ID, ErrorCode.INVALID_PRODUCER_EPOCH]);
/** OffsetCommit answers meaning the group has members on Kafka. */
const GROUP_ACTIVE_ERRORS = new Set<number>([
  ErrorCode.UNKNOWN_MEMBER_ID,
  ErrorCode.ILLEGAL_GENERATION,
  ErrorCode.REBALANCE_IN_PROGRESS,
  ErrorCode.STALE_MEMBER_EPOCH,
  ErrorCode.FENCED_INSTANCE_ID,
]);

class Stopped extends Error {}

/** One Strait batch, planned: what goes to Kafka (or nothing), and which Strait offsets it covers. */
interface Planned {
  straitBase: number;
  /** Strait offset after the batch. */
  straitEnd: number;
  kind: CopyKind | 'skip';
  /** Bytes for Kafka; null for skipped batches. */
  records: Buffer | null;
  /** Strait offsets of the records, in order, for re-encoded batches; null: straitBase.. contiguously. */
  recordOffsets: number[] | null;
  /** Offsets the batch takes on Kafka (lastOffsetDelta + 1). */
  span: number;
  producerId: number;
  /** Records in the Strait batch. (The batch itself is not kept: it is often a view of a much
   *  larger buffer, which the read-ahead would keep alive.) */
  recordCount: number;
}

/** A run of copied records: Strait offsets straitOffset.. went to kafkaOffset.. one by one. */
interface Run {
  straitOffset: number;
  kafkaOffset: number;
  records: number;
}

const noCopies = (): Record<CopyKind, number> => ({ identical: 0, 'without-producer-id': 0, 'committed-transaction': 0, renumbered: 0 });

/** Copies one partition. */
class PartitionCopier {
  readonly partition: number;
  readonly fromOffset: number;
  state: ReversePartitionStatus['state'] = 'starting';
  error: string | null = null;
  /** Set when the partition stopped for good. */
  fatal = false;
  /** Strait offset up to which everything is on Kafka or skipped. */
  copiedOffset: number;
  kafkaNext: number;
  private planOffset: number;
  private readonly ready: Planned[] = [];
  private readyBytes = 0;
  private planning: Promise<void> | null = null;
  /** What the last read from Strait failed with, for the copy loop to report and retry. */
  private planError: unknown = null;
  /** Strait's last stable offset when it was last read: data past it wakes the copy loop. */
  private plannedUpTo = -1;
  private readonly runs: Run[] = [];
  /** Strait offsets below this have no runs any more (dropped past OFFSET_MAP_ENTRIES_MAX). */
  private runsFrom: number;
  /** Aborted transactions not reached yet, by first offset; producers whose aborted transaction is under way. */
  private abortedAhead: AbortedTxn[] = [];
  /** Aborted transactions already queued (producer id:first offset → marker offset), so a later read does not queue them twice. */
  private readonly abortedSeen = new Map<string, number>();
  private readonly abortedProducers = new Set<number>();
  /** Producer ids Kafka has state for in this partition; null until asked. */
  private knownProducers: Set<number> | null = null;
  private failures = 0;
  private needsReconcile = true;
  readonly copies = noCopies();
  recordsCopied = 0;
  offsetsSkipped = 0;
  readonly notes: string[] = [];
  private wakeUp: (() => void) | null = null;
  private readonly c: ReverseCopier;

  constructor(c: ReverseCopier, partition: number, fromOffset: number) {
    this.c = c;
    this.partition = partition;
    this.fromOffset = fromOffset;
    this.copiedOffset = fromOffset;
    this.kafkaNext = fromOffset;
    this.planOffset = fromOffset;
    this.runsFrom = fromOffset;
  }

  private get topic(): string {
    return this.c.topicName;
  }

  get label(): string {
    return `${this.topic}-${this.partition}`;
  }

  /** The Strait log, looked up each time: a deleted topic has none. */
  log(): PartitionLog {
    const log = this.c.o.logs.get(this.c.o.topic.topicId, this.partition);
    if (!log) throw this.stop(`the Strait partition ${this.label} no longer exists`);
    return log;
  }

  async run(): Promise<void> {
    while (!this.c.stopped && !this.fatal) {
      try {
        if (this.knownProducers === null) this.knownProducers = await this.describeProducers();
        if (this.needsReconcile) {
          await this.reconcile();
          this.needsReconcile = false;
        }
        const item = await this.next();
        if (!item) {
          this.state = 'caught-up';
          this.ok();
          await this.waitForData();
          continue;
        }
        this.state = 'copying';
        this.readAhead();
        await this.copy(item);
        this.ok();
      } catch (err) {
        if (err instanceof Stopped || this.c.stopped || this.fatal) break;
        this.fail(err);
        // The outcome of the last produce is unknown: look at Kafka's log before sending again.
        this.needsReconcile = true;
        await this.c.sleep(Math.min(RETRY_BACKOFF_MS_MAX, RETRY_BACKOFF_MS * 2 ** Math.min(this.failures - 1, 10)));
      }
    }
    if (this.fatal) this.state = 'stopped';
  }

  /** Stops this partition for good; returns an error to throw. */
  stop(message: string): Stopped {
    if (!this.fatal) {
      this.fatal = true;
      this.error = message;
      this.state = 'stopped';
      this.c.o.log.error('reverse copy of a partition stopped', { link: this.c.o.linkName, topic: this.topic, partition: this.partition, error: message });
    }
    return new Stopped(message);
  }

  private ok(): void {
    this.failures = 0;
    this.error = null;
  }

  private fail(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.failures++;
    this.state = 'retrying';
    if (message !== this.error) this.c.o.log.warn('reverse copy failed, retrying', { link: this.c.o.linkName, topic: this.topic, partition: this.partition, error: message });
    this.error = message;
  }

  note(text: string): void {
    if (this.notes.includes(text) || this.notes.length >= NOTES_MAX) return;
    this.notes.push(text);
    this.c.o.log.info('reverse copy note', { link: this.c.o.linkName, topic: this.topic, partition: this.partition, note: text });
  }

  wake(): void {
    this.wakeUp?.();
  }

  private waitForData(): Promise<void> {
    const log = this.log();
    // Data that came after the last read and before this wait would wake nobody.
    if (log.lastStableOffset > this.plannedUpTo) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        cancel();
        clearTimeout(timer);
        this.wakeUp = null;
        resolve();
      };
      const cancel = log.onData(done);
      const timer = setTimeout(done, IDLE_WAKE_MS);
      this.wakeUp = done;
    });
  }

  // --- Kafka's side ------------------------------------------------------------------------------

  /** Producer ids Kafka keeps state for in this partition (KIP-664); none when Kafka cannot say. */
  private async describeProducers(): Promise<Set<number>> {
    const md = await this.c.guard(this.c.o.client.metadata({ topics: [this.topic], timeoutMs: KAFKA_CALL_TIMEOUT_MS }));
    const leader = md.topics.get(this.topic)?.partitions[this.partition]?.leaderId ?? -1;
    if (leader < 0) throw new StraitError('STRAIT_REVERSE_NO_LEADER', `Kafka has no leader for ${this.label} (is the topic there, with this many partitions?)`);
    let response: DescribeProducersResponse;
    try {
      ({ response } = await this.c.guard(
        this.c.o.client.sendRequest<DescribeProducersResponse>({ nodeId: leader }, ApiKey.DescribeProducers, () => ({ topics: [{ name: this.topic, partitionIndexes: [this.partition] }] }), { timeoutMs: KAFKA_CALL_TIMEOUT_MS }),
      ));
    } catch (err) {
      if (err instanceof KafkaClientError && err.code === 'STRAIT_LINK_UNSUPPORTED_VERSION') {
        this.note('Kafka does not describe producers (DescribeProducers, KIP-664): idempotent batches are copied without producer id');
        return new Set();
      }
      throw err;
    }
    const p = response.topics[0]?.partitions.find((x) => x.partitionIndex === this.partition);
    if (!p) throw new StraitError('STRAIT_REVERSE_KAFKA', `DescribeProducers answered without ${this.label}`);
    if (p.errorCode !== ErrorCode.NONE) throw new KafkaClientError('STRAIT_LINK_KAFKA_ERROR', `DescribeProducers of ${this.label}: ${p.errorMessage ?? `error ${p.errorCode}`}`, p.errorCode);
    return new Set(p.activeProducers.map((x) => Number(x.producerId)));
  }

  /**
   * Makes kafkaNext agree with Kafka's log end. Past it there may only be this copier's own copy of
   * the next batches (a produce whose answer was lost; a copier started again): adopted batch by
   * batch. Anything else means someone else wrote to Kafka, and offsets could no longer match.
   */
  private async reconcile(): Promise<void> {
    const { client } = this.c.o;
    const [end] = await this.c.guard(client.listOffsets([{ topic: this.topic, partition: this.partition, spec: 'latest' }], { timeoutMs: KAFKA_CALL_TIMEOUT_MS }));
    if (end!.error) throw end!.error;
    const kafkaEnd = end!.offset;
    if (kafkaEnd < this.kafkaNext) {
      throw this.stop(
        `Kafka's log of ${this.label} ends at ${kafkaEnd}, before ${this.kafkaNext} where the next copied record belongs` +
          (this.kafkaNext === this.fromOffset ? ' (the promotion point): Kafka lost records, or transactions aborted at promotion left markers only on Strait' : ': Kafka lost records'),
      );
    }
    const adoptedFrom = this.kafkaNext;
    while (this.kafkaNext < kafkaEnd) {
      const first = await this.next();
      const foreign = () =>
        `Kafka's ${this.label} holds records at ${this.kafkaNext}..${kafkaEnd - 1} that this copier did not write (written to Kafka after promotion?): copying them would give different offsets, so nothing more is copied to this partition`;
      if (!first) throw this.stop(foreign());
      // Many batches per fetch: after a restart everything copied since the promotion is checked.
      const bytes = Math.max(RECONCILE_FETCH_BYTES, first.records!.length + 4096);
      const [r] = await this.c.guard(
        client.fetch([{ topic: this.topic, partition: this.partition, offset: this.kafkaNext }], { maxWaitMs: 0, partitionMaxBytes: bytes, maxBytes: bytes, timeoutMs: KAFKA_CALL_TIMEOUT_MS }),
      );
      if (r!.error) throw r!.error;
      if (r!.batches.length === 0) {
        if (r!.partialBytes > 0) throw this.stop(foreign());
        throw new StraitError('STRAIT_REVERSE_KAFKA', `Kafka returned no batch of ${this.label} at ${this.kafkaNext} although its log ends at ${kafkaEnd}`);
      }
      for (const b of r!.batches) {
        if (this.kafkaNext >= kafkaEnd) break;
        const item = await this.next();
        if (!item) throw this.stop(foreign());
        const theirs = r!.records.subarray(b.position, b.position + b.size);
        if (b.baseOffset !== this.kafkaNext || !this.isOurs(theirs, item)) throw this.stop(foreign());
        this.landed(item, b.baseOffset);
      }
    }
    if (this.kafkaNext > adoptedFrom) {
      this.c.o.log.info('reverse copy found its own batches already on Kafka and goes on after them', {
        link: this.c.o.linkName,
        topic: this.topic,
        partition: this.partition,
        kafkaFrom: adoptedFrom,
        kafkaTo: this.kafkaNext,
        straitNext: this.copiedOffset,
      });
    }
  }

  /** Whether Kafka's batch is what this copier sends for `item` (or its fallback without producer id). */
  private isOurs(theirs: Buffer, item: Planned): boolean {
    if (sameBatch(theirs, item.records!)) return true;
    return item.kind === 'identical' && item.producerId >= 0 && sameBatch(theirs, withoutProducerIdBytes(item.records!));
  }

  private async copy(item: Planned): Promise<void> {
    const out = await this.c.guard(this.c.producer.produce({ topic: this.topic, partition: this.partition, records: item.records! }));
    const err = out.error;
    if (!err) {
      this.landed(item, out.baseOffset);
      return;
    }
    if (item.kind === 'identical' && item.producerId >= 0 && PRODUCER_STATE_ERRORS.has(err.kafkaError)) {
      // Refused for the producer's state: not in Kafka's log. The same records go again without
      // producer id (same offsets), and so do the producer's later batches.
      this.knownProducers?.delete(item.producerId);
      this.withoutProducerId(item);
      this.note(`Kafka refused batches of producer ${item.producerId} (${err.errorName}), first at Strait offset ${item.straitBase}: they are copied without producer id`);
      return;
    }
    throw err;
  }

  /** A batch is on Kafka at kafkaBase: move on, and map its records. */
  private landed(item: Planned, kafkaBase: number): void {
    const head = this.ready.shift();
    if (head !== item) throw new Error(`assertion failed: landed batch at ${item.straitBase} is not the head of ${this.label}'s queue`);
    this.readyBytes -= item.records!.length;
    const expected = this.kafkaNext;
    if (kafkaBase !== expected) {
      this.note(`Kafka put the batch of Strait offset ${item.straitBase} at ${kafkaBase}, not ${expected}: something else wrote to Kafka's ${this.label}; later offsets differ (see the offset map)`);
    }
    if (item.recordOffsets === null) this.map(item.straitBase, kafkaBase, item.span);
    else item.recordOffsets.forEach((s, i) => this.map(s, kafkaBase + i, 1));
    this.kafkaNext = kafkaBase + item.span;
    this.copiedOffset = item.straitEnd;
    this.copies[item.kind as CopyKind]++;
    this.recordsCopied += item.recordOffsets?.length ?? item.recordCount;
    this.skipLeading();
  }

  private map(straitOffset: number, kafkaOffset: number, records: number): void {
    const last = this.runs[this.runs.length - 1];
    if (last && last.straitOffset + last.records === straitOffset && last.kafkaOffset + last.records === kafkaOffset) {
      last.records += records;
      return;
    }
    this.runs.push({ straitOffset, kafkaOffset, records });
    if (this.runs.length > OFFSET_MAP_ENTRIES_MAX) {
      const dropped = this.runs.shift()!;
      this.runsFrom = dropped.straitOffset + dropped.records;
    }
  }

  /**
   * Where a consumer at Strait offset `offset` (the next record it reads) continues on Kafka: the
   * Kafka offset of the first copied record at or after it. Null while records below it are not
   * all copied yet, or when the offset map no longer reaches back that far.
   */
  kafkaOffset(offset: number): number | null {
    if (offset <= this.fromOffset) return offset;
    if (offset > this.copiedOffset || offset < this.runsFrom) return null;
    // First run that ends after offset.
    let lo = 0;
    let hi = this.runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const r = this.runs[mid]!;
      if (r.straitOffset + r.records <= offset) lo = mid + 1;
      else hi = mid;
    }
    const r = this.runs[lo];
    if (!r) return this.kafkaNext;
    return offset >= r.straitOffset ? r.kafkaOffset + (offset - r.straitOffset) : r.kafkaOffset;
  }

  // --- Strait's side -----------------------------------------------------------------------------

  /** The next batch to produce, after skipping markers and aborted batches; null when none is readable yet. */
  private async next(): Promise<Planned | null> {
    this.skipLeading();
    while (this.ready.length === 0) {
      const before = this.planOffset;
      this.readAhead();
      await this.planning;
      if (this.fatal) throw new Stopped(this.error ?? 'stopped');
      if (this.planError !== null) {
        const err = this.planError;
        this.planError = null;
        throw err;
      }
      this.skipLeading();
      if (this.ready.length === 0 && this.planOffset === before) return null;
    }
    return this.ready[0]!;
  }

  /** Batches that copy nothing (markers, aborted records) count as copied once they reach the head. */
  private skipLeading(): void {
    while (this.ready[0]?.kind === 'skip') {
      const s = this.ready.shift()!;
      this.offsetsSkipped += s.straitEnd - s.straitBase;
      this.copiedOffset = s.straitEnd;
    }
  }

  /** Starts reading the next batches from Strait unless a read is under way or enough is queued. */
  private readAhead(): void {
    if (this.planning || this.readyBytes >= (this.c.o.readAheadBytesMax ?? READ_AHEAD_BYTES_MAX_DEFAULT)) return;
    this.planning = this.plan()
      .catch((err: unknown) => {
        if (!(err instanceof Stopped)) this.planError = err;
      })
      .finally(() => {
        this.planning = null;
      });
  }

  /** Reads committed batches (read_committed: below the last stable offset) and plans each. */
  private async plan(): Promise<void> {
    const log = this.log();
    this.plannedUpTo = log.lastStableOffset;
    if (this.planOffset >= this.plannedUpTo) return;
    const r = await this.c.guard(log.read(this.planOffset, READ_BYTES_MAX, true, true));
    if (r.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
      throw this.stop(
        this.planOffset < r.logStartOffset
          ? `Strait deleted offsets ${this.planOffset}..${r.logStartOffset - 1} of ${this.label} (retention or DeleteRecords) before they were copied`
          : `Strait's log of ${this.label} ends at ${r.highWatermark}, before ${this.planOffset} (truncated)`,
      );
    }
    if (r.errorCode !== ErrorCode.NONE) throw new StraitError('STRAIT_REVERSE_READ', `reading ${this.label} at ${this.planOffset} failed: error ${r.errorCode}`);
    for (const a of r.abortedTransactions ?? []) {
      const key = `${a.producerId}:${a.firstOffset}`;
      if (a.lastOffset < this.planOffset || this.abortedSeen.has(key)) continue;
      this.abortedSeen.set(key, a.lastOffset);
      this.abortedAhead.push(a);
    }
    this.abortedAhead.sort((x, y) => x.firstOffset - y.firstOffset);
    for (const view of r.batches) {
      for (let pos = 0; pos + RECORD_BATCH_OVERHEAD <= view.length; ) {
        const size = batchSizeAt(view, pos);
        this.planBatch(view.subarray(pos, pos + size));
        pos += size;
      }
    }
    // A transaction whose marker is behind the read position is never returned again.
    for (const [key, markerOffset] of this.abortedSeen) if (markerOffset < this.planOffset) this.abortedSeen.delete(key);
  }

  private planBatch(batch: Buffer): void {
    const base = batchBaseOffset(batch, 0);
    const last = batchLastOffset(batch, 0);
    if (last < this.planOffset) return;
    if (base < this.planOffset) throw this.stop(`a batch of ${this.label} spans ${base}..${last}, across the copy position ${this.planOffset}`);
    const attributes = batchAttributes(batch, 0);
    const producerId = batchProducerId(batch, 0);
    // As a read_committed consumer does: a producer's transaction is aborted from its first offset
    // to its ABORT marker.
    while (this.abortedAhead.length > 0 && this.abortedAhead[0]!.firstOffset <= last) this.abortedProducers.add(this.abortedAhead.shift()!.producerId);
    const item: Planned = { straitBase: base, straitEnd: last + 1, kind: 'identical', records: null, recordOffsets: null, span: last - base + 1, producerId, recordCount: batchRecordCount(batch, 0) };
    if (attributes & ATTR_CONTROL) {
      if (this.abortedProducers.has(producerId) && isAbortMarker(batch)) this.abortedProducers.delete(producerId);
      this.push({ ...item, kind: 'skip', records: null });
    } else if (attributes & ATTR_TRANSACTIONAL) {
      if (this.abortedProducers.has(producerId)) this.push({ ...item, kind: 'skip', records: null });
      else {
        this.push(this.reencoded(item, batch, 'committed-transaction'));
        this.note('transactional records are copied as plain batches, committed ones only, without markers: from the first transaction on, Kafka offsets are lower than Strait\'s (see the offset map)');
      }
    } else if (batchRecordCount(batch, 0) !== batchLastOffsetDelta(batch, 0) + 1) {
      this.push(this.reencoded(item, batch, 'renumbered'));
      this.note('batches with offset gaps (compacted on Strait) are copied with their records renumbered: later Kafka offsets are lower than Strait\'s (see the offset map)');
    } else if (producerId >= 0 && !this.knownProducers?.has(producerId)) {
      this.push({ ...item, kind: 'without-producer-id', records: withoutProducerIdBytes(batch) });
      this.note('idempotent batches of producers Kafka does not know in this partition (ids handed out by Strait) are copied without producer id: same records and offsets, a different batch header');
    } else {
      this.push({ ...item, records: asProduced(batch) });
    }
    this.planOffset = last + 1;
  }

  private reencoded(item: Planned, batch: Buffer, kind: CopyKind): Planned {
    const { records, offsets } = reencode(batch);
    if (offsets.length === 0) return { ...item, kind: 'skip', records: null };
    return { ...item, kind, records, recordOffsets: isContiguous(offsets, item.straitBase) ? null : offsets, span: offsets.length };
  }

  /** Turns the queue's head (an identical idempotent batch Kafka refused) into its copy without producer id. */
  private withoutProducerId(item: Planned): void {
    const again: Planned = { ...item, kind: 'without-producer-id', records: withoutProducerIdBytes(item.records!) };
    this.readyBytes += again.records!.length - item.records!.length;
    this.ready[0] = again;
    this.skipLeading();
  }

  private push(item: Planned): void {
    this.ready.push(item);
    this.readyBytes += item.records?.length ?? 0;
  }

  status(): ReversePartitionStatus {
    let targetEndOffset = -1;
    try {
      targetEndOffset = this.log().highWatermark;
    } catch {
      // The topic is gone; the error says so.
    }
    const differing = this.runs.filter((r) => r.straitOffset !== r.kafkaOffset);
    return {
      partition: this.partition,
      state: this.state,
      fromOffset: this.fromOffset,
      nextOffset: this.copiedOffset,
      kafkaNextOffset: this.kafkaNext,
      targetEndOffset,
      lagRecords: Math.max(0, targetEndOffset - this.copiedOffset),
      error: this.error,
      batchesCopied: { ...this.copies },
      recordsCopied: this.recordsCopied,
      offsetsSkipped: this.offsetsSkipped,
      offsetMap: differing.slice(-STATUS_OFFSET_MAP_MAX).map((r) => ({ ...r })),
      offsetMapEntries: differing.length,
      notes: [...this.notes],
    };
  }
}

interface GroupState extends ReverseGroupStatus {
  /** Per partition, the Kafka offset this copier last committed. */
  committed: Map<number, number>;
}

export class ReverseCopier {
  readonly o: ReverseCopierOptions;
  readonly topicName: string;
  stopped = false;
  private started = false;
  private readonly partitions = new Map<number, PartitionCopier>();
  private readonly groupStates = new Map<string, GroupState>();
  private running: Promise<unknown>[] = [];
  /** Rejecters of the guard() calls still waiting, called by stop(). */
  private readonly guarded = new Set<() => void>();
  private readonly sleepers = new Set<() => void>();
  /** The partitions' produces, gathered into shared requests. */
  readonly producer: ProduceBatcher;

  constructor(o: ReverseCopierOptions) {
    this.o = o;
    this.topicName = o.topic.name;
    // Retries are the partitions' own, after reconciling: a blind retry of a batch without producer
    // id could write it twice.
    this.producer = new ProduceBatcher((requests) => o.client.produce(requests, { acks: -1, retriesMax: 0, timeoutMs: PRODUCE_TIMEOUT_MS }));
    for (const [p, offset] of [...o.fromOffsets].sort((a, b) => a[0] - b[0])) {
      if (!Number.isSafeInteger(p) || p < 0 || p >= o.topic.partitionCount) throw new StraitError('STRAIT_REVERSE_INVALID', `topic '${o.topic.name}' has no partition ${p}`);
      if (!Number.isSafeInteger(offset) || offset < 0) throw new StraitError('STRAIT_REVERSE_INVALID', `invalid start offset ${offset} for partition ${p}`);
      this.partitions.set(p, new PartitionCopier(this, p, offset));
    }
    if (this.partitions.size === 0) throw new StraitError('STRAIT_REVERSE_INVALID', 'no partition to copy: fromOffsets is empty');
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.o.log.info('reverse copy started', { link: this.o.linkName, topic: this.topicName, fromOffsets: Object.fromEntries(this.o.fromOffsets) });
    this.running = [...[...this.partitions.values()].map((p) => p.run()), this.groupLoop()].map((r) =>
      r.catch((err: unknown) => this.o.log.error('reverse copy stopped on an unexpected error', { link: this.o.linkName, topic: this.topicName, err: err as Error })),
    );
  }

  /** Stops copying at once: a produce in flight is left to finish on its own (a later start adopts it). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const reject of [...this.guarded]) reject();
    for (const wake of [...this.sleepers]) wake();
    for (const p of this.partitions.values()) p.wake();
    await Promise.all(this.running);
    this.o.log.info('reverse copy stopped', { link: this.o.linkName, topic: this.topicName });
  }

  status(): ReverseCopierStatus {
    const partitions = [...this.partitions.values()].map((p) => p.status());
    return {
      link: this.o.linkName,
      topic: this.topicName,
      state: this.stopped ? 'stopped' : this.started ? 'running' : 'created',
      offsetsIdentical: partitions.every((p) => p.offsetMapEntries === 0),
      partitions,
      groups: [...this.groupStates.values()].map(({ committed: _, ...g }) => ({ ...g })).sort((a, b) => a.groupId.localeCompare(b.groupId)),
    };
  }

  /** The Kafka offset a consumer at this Strait offset continues from; null when not known yet (see PartitionCopier.kafkaOffset). */
  kafkaOffset(partition: number, straitOffset: number): number | null {
    return this.partitions.get(partition)?.kafkaOffset(straitOffset) ?? null;
  }

  /**
   * Resolves once every partition has copied everything up to Strait's log end as it is now
   * (an open transaction is waited for: its records are only copied once it ends). Rejects when a
   * partition stopped for good, on stop, or after timeoutMs, with the lag.
   */
  async caughtUp(timeoutMs: number): Promise<void> {
    const targets = [...this.partitions.values()].map((p) => ({ p, target: p.log().highWatermark }));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const failed = targets.filter(({ p }) => p.fatal);
      if (failed.length > 0) throw new StraitError('STRAIT_REVERSE_FAILED', failed.map(({ p }) => `${p.label}: ${p.error}`).join('; '));
      if (this.stopped) throw new StraitError('STRAIT_REVERSE_STOPPED', `the reverse copy of '${this.topicName}' was stopped`);
      const behind = targets.filter(({ p, target }) => p.copiedOffset < target);
      if (behind.length === 0) return;
      if (Date.now() >= deadline) {
        const lag = behind.map(({ p, target }) => `${p.label}: ${p.copiedOffset} of ${target}${p.error ? ` (${p.error})` : ''}`).join(', ');
        throw new StraitError('STRAIT_REVERSE_TIMEOUT', `the reverse copy did not catch up within ${timeoutMs} ms: ${lag}`);
      }
      await this.sleep(Math.min(50, Math.max(1, deadline - Date.now())));
    }
  }

  /**
   * Races a promise with stop(): after stop it rejects with Stopped (the promise settles unobserved).
   * Not Promise.race with one long-lived promise: every race leaves a reaction on it that keeps the
   * race's outcome alive until it settles, and the outcomes here are batches read and produced (a
   * copy back of 1 GiB held 3 GiB that way).
   */
  guard<T>(p: Promise<T>): Promise<T> {
    if (this.stopped) {
      p.catch(() => undefined);
      return Promise.reject(new Stopped('stopped'));
    }
    return new Promise<T>((resolve, reject) => {
      const stop = () => reject(new Stopped('stopped'));
      this.guarded.add(stop);
      p.then(
        (v) => {
          this.guarded.delete(stop);
          resolve(v);
        },
        (err: unknown) => {
          this.guarded.delete(stop);
          reject(err);
        },
      );
    });
  }

  /** Sleeps, cut short by stop(). */
  sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  // --- group offsets -----------------------------------------------------------------------------

  private async groupLoop(): Promise<void> {
    while (!this.stopped) {
      await this.sleep(this.o.groupSyncIntervalMs);
      if (this.stopped) break;
      try {
        await this.syncGroups();
      } catch (err) {
        if (err instanceof Stopped || this.stopped) break;
        const message = (err as Error).message;
        for (const g of this.groupStates.values()) if (g.state !== 'active-on-kafka') Object.assign(g, { state: 'error', error: message });
        this.o.log.warn('reverse group offset sync failed', { link: this.o.linkName, topic: this.topicName, err: err as Error });
      }
    }
  }

  /**
   * One pass: Strait's committed offsets of accepted groups for this topic go to Kafka, translated
   * through the offset map, for groups with no members on Kafka, never past what has been copied.
   * A group seen with members on Kafka, or whose Kafka offsets someone else moved since our last
   * commit, is Kafka's from then on and no longer copied (so a consumer that moved back is never
   * sent back in time).
   */
  private async syncGroups(): Promise<void> {
    const { client, groups } = this.o;
    const candidates = groups.offsets
      .groupIds()
      .filter((id) => this.o.acceptGroup(id) && (groups.committed(id)?.get(this.topicName)?.size ?? 0) > 0 && this.groupStates.get(id)?.state !== 'active-on-kafka');
    if (candidates.length === 0) return;
    const now = Date.now();
    const onKafka = new Map((await this.guard(client.listGroups({ timeoutMs: KAFKA_CALL_TIMEOUT_MS }))).map((g) => [g.groupId, g.state]));
    const idle: string[] = [];
    for (const id of candidates) {
      const g = this.group(id);
      g.lastSyncMs = now;
      const state = onKafka.get(id);
      if (state !== undefined && !['empty', 'dead', ''].includes(state.toLowerCase())) this.activeOnKafka(g, `the group has members on Kafka (${state})`);
      else idle.push(id);
    }
    if (idle.length === 0) return;
    const partitions = [...this.partitions.keys()];
    const fetched = await this.guard(client.offsetFetch(idle.map((groupId) => ({ groupId, topics: [{ topic: this.topicName, partitions }] })), { timeoutMs: KAFKA_CALL_TIMEOUT_MS }));
    for (const f of fetched) {
      const g = this.group(f.groupId);
      if (f.error) {
        Object.assign(g, { state: 'error', error: `reading its Kafka offsets: ${f.error.message}` });
        continue;
      }
      const kafkaNow = new Map(f.offsets.filter((o) => o.topic === this.topicName && !o.error).map((o) => [o.partition, o.offset]));
      const commits: { partition: number; offset: number; metadata: string }[] = [];
      let heldBack = 0;
      let movedOnKafka: string | null = null;
      for (const [partition, o] of groups.committed(f.groupId)?.get(this.topicName) ?? new Map()) {
        const pc = this.partitions.get(partition);
        if (!pc) continue;
        const current = kafkaNow.get(partition) ?? -1;
        const ours = g.committed.get(partition);
        if (ours !== undefined && current !== ours) movedOnKafka = `its Kafka offset of partition ${partition} moved to ${current} after this copier committed ${ours}`;
        const k = pc.kafkaOffset(o.committedOffset);
        if (k === null) {
          heldBack++;
          continue;
        }
        if (k === current) g.committed.set(partition, k);
        else commits.push({ partition, offset: k, metadata: o.metadata });
      }
      if (movedOnKafka) {
        this.activeOnKafka(g, movedOnKafka);
        continue;
      }
      g.heldBack = heldBack;
      const refused = commits.length > 0 ? await this.commit(f.groupId, commits) : null;
      if (refused?.active) {
        this.activeOnKafka(g, refused.message);
        continue;
      }
      if (refused) {
        Object.assign(g, { state: 'error', error: refused.message });
        continue;
      }
      for (const c of commits) g.committed.set(c.partition, c.offset);
      g.offsetsCopied += commits.length;
      Object.assign(g, { state: heldBack > 0 ? 'pending' : 'synced', error: null });
    }
  }

  /** A simple OffsetCommit (no generation, no member), as admin tools commit for an empty group. */
  private async commit(groupId: string, commits: { partition: number; offset: number; metadata: string }[]): Promise<{ active: boolean; message: string } | null> {
    const { client } = this.o;
    const coordinator = await this.guard(client.findCoordinator(groupId, 'group', { timeoutMs: KAFKA_CALL_TIMEOUT_MS }));
    const { response } = await this.guard(
      client.sendRequest<OffsetCommitResponse>(
        { nodeId: coordinator.nodeId },
        ApiKey.OffsetCommit,
        () => ({
          groupId,
          generationIdOrMemberEpoch: -1,
          memberId: '',
          groupInstanceId: null,
          retentionTimeMs: -1n,
          topics: [
            {
              name: this.topicName,
              // Leader epoch unknown (-1): Strait's epochs run past Kafka's since promotion, and a
              // consumer given an epoch Kafka never had would doubt its position.
              partitions: commits.map((c) => ({ partitionIndex: c.partition, committedOffset: BigInt(c.offset), committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: c.metadata })),
            },
          ],
        }),
        // v9+ is for members of KIP-848 groups; a commit outside the group needs nothing newer.
        { versionMax: 8, timeoutMs: KAFKA_CALL_TIMEOUT_MS },
      ),
    );
    const errors = response.topics.flatMap((t) => t.partitions).filter((p) => p.errorCode !== ErrorCode.NONE);
    if (errors.length === 0) return null;
    const active = errors.some((e) => GROUP_ACTIVE_ERRORS.has(e.errorCode));
    const names = errors.map((e) => `partition ${e.partitionIndex}: ${new KafkaClientError('STRAIT_LINK_KAFKA_ERROR', '', e.errorCode).errorName}`).join(', ');
    return { active, message: active ? `Kafka refused a commit outside the group (${names}): the group has members on Kafka` : `OffsetCommit on Kafka failed (${names})` };
  }

  private group(groupId: string): GroupState {
    let g = this.groupStates.get(groupId);
    if (!g) {
      g = { groupId, state: 'pending', offsetsCopied: 0, heldBack: 0, error: null, lastSyncMs: 0, committed: new Map() };
      this.groupStates.set(groupId, g);
    }
    return g;
  }

  private activeOnKafka(g: GroupState, why: string): void {
    if (g.state === 'active-on-kafka') return;
    Object.assign(g, { state: 'active-on-kafka', error: null, heldBack: 0 });
    this.o.log.info('group is active on Kafka: its offsets are no longer copied back', { link: this.o.linkName, topic: this.topicName, groupId: g.groupId, why });
  }
}

/**
 * A stored batch as a producer sends it: base offset 0 (Kafka refuses others from clients) and no
 * partition leader epoch. Both lie outside the CRC, which stays valid; Kafka sets them again.
 */
function asProduced(batch: Buffer): Buffer {
  const copy = Buffer.from(batch);
  writeInt64(copy, BASE_OFFSET_OFFSET, 0);
  copy.writeInt32BE(NO_PARTITION_LEADER_EPOCH, PARTITION_LEADER_EPOCH_OFFSET);
  return copy;
}

/**
 * A batch without producer id, as produced (base offset 0, no leader epoch): for a CreateTime batch
 * only the producer fields of the header change, and the CRC with them; its records stay as they
 * are, compressed or not. A LogAppendTime batch is re-encoded (its records take create times).
 */
function withoutProducerIdBytes(batch: Buffer): Buffer {
  if (batchAttributes(batch, 0) & ATTR_TIMESTAMP_TYPE) return reencode(batch).records;
  const copy = asProduced(batch);
  writeInt64(copy, PRODUCER_ID_OFFSET, NO_PRODUCER_ID);
  copy.writeInt16BE(NO_PRODUCER_EPOCH, PRODUCER_EPOCH_OFFSET);
  copy.writeInt32BE(NO_SEQUENCE, BASE_SEQUENCE_OFFSET);
  writeCrc(copy, 0, copy.length);
  return copy;
}

/** The records of a batch as one plain batch (no producer id, no transaction), offsets renumbered from 0. */
function reencode(batch: Buffer): { records: Buffer; offsets: number[] } {
  const d = readBatchRecords(batch);
  const records = buildBatch({
    records: d.records.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp, attributes: r.attributes })),
    compression: d.compression,
    // A LogAppendTime batch's records carry Strait's append time; Kafka keeps them as create times.
    timestampType: 'CreateTime',
  });
  return { records, offsets: d.records.map((r) => r.offset) };
}

function isContiguous(offsets: number[], from: number): boolean {
  return offsets.every((o, i) => o === from + i);
}

function isAbortMarker(batch: Buffer): boolean {
  const [record] = readBatchRecords(batch).records;
  return record !== undefined && decodeControlRecordKey(record.key).type === CONTROL_TYPE_ABORT;
}

/**
 * Whether Kafka's copy of a batch is the batch this copier sent: Kafka rewrites the base offset and
 * partition leader epoch (and, for LogAppendTime topics, the max timestamp and CRC), so the
 * comparison covers what it keeps: the records, their count and offset span, the producer fields.
 */
function sameBatch(theirs: Buffer, ours: Buffer): boolean {
  const sameHeader =
    batchLastOffsetDelta(theirs, 0) === batchLastOffsetDelta(ours, 0) &&
    batchRecordCount(theirs, 0) === batchRecordCount(ours, 0) &&
    batchProducerId(theirs, 0) === batchProducerId(ours, 0) &&
    batchBaseSequence(theirs, 0) === batchBaseSequence(ours, 0);
  if (!sameHeader) return false;
  if (theirs.length === ours.length && batchBaseTimestamp(theirs, 0) === batchBaseTimestamp(ours, 0) && theirs.subarray(RECORDS_OFFSET).equals(ours.subarray(RECORDS_OFFSET))) return true;
  // Kafka compresses again when the topic's compression.type is not 'producer': compare the records.
  if (compressionOf(batchAttributes(theirs, 0)) === compressionOf(batchAttributes(ours, 0))) return false;
  const a = readBatchRecords(theirs).records;
  const b = readBatchRecords(ours).records;
  return a.length === b.length && a.every((r, i) => sameRecord(r, b[i]!));
}

function sameRecord(a: KafkaRecord, b: KafkaRecord): boolean {
  const eq = (x: Buffer | null, y: Buffer | null) => (x === null ? y === null : y !== null && x.equals(y));
  return (
    a.offsetDelta === b.offsetDelta &&
    a.timestamp === b.timestamp &&
    eq(a.key, b.key) &&
    eq(a.value, b.value) &&
    a.headers.length === b.headers.length &&
    a.headers.every((h, i) => h.key === b.headers[i]!.key && eq(h.value, b.headers[i]!.value))
  );
}
