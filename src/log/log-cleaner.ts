// Log compaction for topics whose cleanup.policy includes compact: Kafka's log cleaner (LogCleaner,
// LogCleanerManager, MemoryRecords.filterTo), with KIP-534 delete horizons and KIP-98 transaction
// markers, over object ranges instead of segments.
//
// What may be cleaned. Only uploaded data: the durable tail not yet in an object is the active
// segment. A partition's ranges start with a clean prefix (ranges an earlier pass wrote, flagged
// `cleaned`; its end is Kafka's cleaner checkpoint), then dirty ranges. The cleanable dirty part ends
// at the first range that holds the last stable offset, the end of uploaded data, or (with
// min.compaction.lag.ms) the first dirty range holding a record newer than now - lag.
//
// When. A partition is cleaned when cleanable dirty bytes / (clean + cleanable dirty bytes) is above
// min.cleanable.dirty.ratio (strictly, as in Kafka), or when a dirty range's first batch is older
// than max.compaction.lag.ms. A tombstone past its delete horizon alone does not start a pass (nor
// in Kafka); the next pass removes it.
//
// A pass. (1) A map of key → last offset is built over the cleanable dirty part, skipping batches of
// aborted transactions; it is bounded (offsetMapBytesMax), and when full the pass cleans only up to
// the batch it reached, as Kafka does when its dedupe buffer fills. (2) Every range from the log
// start to there is rewritten through Kafka's filter (below). (3) The result is written as a new
// per-partition object (a second one only past objectBytesTarget), swapped in with replaceRanges,
// and the reader's index is dropped. The old objects become garbage for the garbage collector.
//
// The filter, per batch, as Kafka's cleaner applies it:
// - A record is kept when its offset is past the map, or it is the last one for its key and either
//   has a value or is a tombstone whose batch has no delete horizon yet or one still in the future.
//   Records without a key are dropped (produce refuses them; mirrored data may hold some).
// - Batches of aborted transactions are dropped. A COMMIT/ABORT marker whose transaction has no data
//   left in the log gets a delete horizon and is dropped once that has passed; other markers stay.
// - A batch that keeps a tombstone (or such a marker) and has no delete horizon is rewritten with one
//   (now + delete.retention.ms, KIP-534). A batch that keeps all its records otherwise stays byte
//   for byte; one that loses records is rebuilt with the same base offset, last offset delta,
//   producer id/epoch, base sequence, codec, timestamp type and partition leader epoch.
// - A batch that loses all its records is dropped, except an empty header is kept for the last
//   batch of each producer in the producer state (its sequence and epoch survive a rebuild of that
//   state from the log) and for the batch that ends where this pass ends (the last offset stays).
//   Producers expire after producer.id.expiration.ms (not while a transaction of theirs is open);
//   until then every producer in the state counts.
import type { Logger } from '../common/logger.ts';
import type { MetadataStore, NewObjectRange, ObjectRange } from '../metadata/store.ts';
import type { ObjectWriter } from '../storage/object-writer.ts';
import {
  CONTROL_TYPE_ABORT,
  CONTROL_TYPE_COMMIT,
  NO_TIMESTAMP,
  batchBaseOffset,
  batchMaxTimestamp,
  buildBatch,
  decodeControlRecordKey,
  hasDeleteHorizon,
  isControl,
  isTransactional,
  readBatchHeader,
  readBatchRecords,
  timestampTypeOf,
} from '../protocol/records/index.ts';
import type { BatchHeader, DecodedBatch, KafkaRecord } from '../protocol/records/index.ts';
import type { LogManager } from './log-manager.ts';
import type { ColdReader, PartitionLog } from './partition-log.ts';
import type { AbortedTxn } from './producer-state.ts';

/** Kafka's log.cleaner.dedupe.buffer.size default. */
export const OFFSET_MAP_BYTES_MAX_DEFAULT = 128 * 1024 * 1024;
/** What one map entry costs beyond its key bytes (Map slot, string header, number), roughly. */
const MAP_ENTRY_OVERHEAD_BYTES = 64;

export interface CleanerReader extends ColdReader {
  invalidate(topicId: string, partition: number): void;
}

export interface LogCleanerOptions {
  /** Writes the `cleaned` objects (one attempt: a failed pass is retried by the next run, and an
   *  object it put but did not commit is an orphan for the garbage collector). */
  writer: ObjectWriter;
  store: MetadataStore;
  reader: CleanerReader;
  /** A pass starts a further object once the one it writes has this many bytes. */
  objectBytesTarget: number;
  /** Bound on the key → offset map of one pass (default OFFSET_MAP_BYTES_MAX_DEFAULT). */
  offsetMapBytesMax?: number;
  log: Logger;
  /** The clock (default Date.now). */
  now?: () => number;
}

export interface CleanerStats {
  partitionsCleaned: number;
  /** Passes that stopped because retention, object compaction or a deletion changed the ranges. */
  passesAborted: number;
  partitionsFailed: number;
  bytesRead: number;
  bytesWritten: number;
  recordsRead: number;
  recordsRetained: number;
}

export interface PartitionCleanResult {
  /** Offsets [firstDirtyOffset, cleanedEndOffset) were deduplicated; all below the end is clean now. */
  firstDirtyOffset: number;
  cleanedEndOffset: number;
  aborted: boolean;
  objects: number;
  bytesRead: number;
  bytesWritten: number;
  recordsRead: number;
  recordsRetained: number;
}

const emptyStats = (): CleanerStats => ({ partitionsCleaned: 0, passesAborted: 0, partitionsFailed: 0, bytesRead: 0, bytesWritten: 0, recordsRead: 0, recordsRetained: 0 });

/** One cleaner run over every compacted partition of this broker (the background job). */
export async function cleanLogs(logs: LogManager, o: LogCleanerOptions): Promise<CleanerStats> {
  const stats = emptyStats();
  for (const p of [...logs.all()]) {
    if (!p.settings.compacted) continue;
    // A mirror's head follows its source; its own policies apply once it is promoted.
    if (p.mirrorOf !== null) continue;
    try {
      const r = await cleanPartition(p, o);
      if (!r) continue;
      if (r.aborted) stats.passesAborted++;
      else stats.partitionsCleaned++;
      stats.bytesRead += r.bytesRead;
      stats.bytesWritten += r.bytesWritten;
      stats.recordsRead += r.recordsRead;
      stats.recordsRetained += r.recordsRetained;
    } catch (err) {
      stats.partitionsFailed++;
      o.log.warn('log cleaning failed; will retry', { topicId: p.topicId, partition: p.partition, err: err as Error });
    }
  }
  return stats;
}

/** Where a partition's cleanable part is, and whether it is due. */
interface CleaningPlan {
  /** The partition's ranges that end above the log start offset, in offset order. */
  ranges: ObjectRange[];
  /** Index of the first dirty range. */
  firstDirty: number;
  /** Index of the first range this pass leaves alone (ranges.length: none). */
  firstUncleanable: number;
  cleanBytes: number;
  cleanableBytes: number;
  /** A dirty range is older than max.compaction.lag.ms. */
  compactionOverdue: boolean;
}

/** Cleans one partition if it is due; null when it is not (or is not compacted). */
export async function cleanPartition(p: PartitionLog, o: LogCleanerOptions): Promise<PartitionCleanResult | null> {
  if (!p.settings.compacted) return null;
  const nowMs = (o.now ?? Date.now)();
  const plan = await planCleaning(p, nowMs, o.reader);
  if (!plan || !isDue(p, plan)) return null;
  return runPass(p, plan, nowMs, o);
}

async function planCleaning(p: PartitionLog, nowMs: number, reader: CleanerReader): Promise<CleaningPlan | null> {
  const ranges = (await reader.ranges(p.topicId, p.partition)).filter((r) => r.endOffset > p.logStartOffset);
  if (ranges.length === 0) return null;
  let firstDirty = 0;
  while (firstDirty < ranges.length && ranges[firstDirty]!.cleaned === true) firstDirty++;
  // The first dirty range holding something an open transaction may still abort (Kafka cleans below
  // the last stable offset only), or a record newer than min.compaction.lag.ms allows.
  const lastStable = p.lastStableOffset;
  const { minCompactionLagMs, maxCompactionLagMs } = p.settings;
  let firstUncleanable = firstDirty;
  while (firstUncleanable < ranges.length) {
    const r = ranges[firstUncleanable]!;
    if (r.endOffset > lastStable || (minCompactionLagMs > 0 && r.maxTimestamp > nowMs - minCompactionLagMs)) break;
    firstUncleanable++;
  }
  let cleanBytes = 0;
  let cleanableBytes = 0;
  for (let i = 0; i < firstUncleanable; i++) {
    if (i < firstDirty) cleanBytes += ranges[i]!.sizeBytes;
    else cleanableBytes += ranges[i]!.sizeBytes;
  }
  const plan: CleaningPlan = { ranges, firstDirty, firstUncleanable, cleanBytes, cleanableBytes, compactionOverdue: false };
  if (cleanableBytes > 0 && !ratioReached(p, plan)) plan.compactionOverdue = await overdue(p, ranges.slice(firstDirty), nowMs - Math.max(maxCompactionLagMs, 0), reader);
  return plan;
}

const ratioReached = (p: PartitionLog, plan: CleaningPlan): boolean =>
  plan.cleanableBytes / (plan.cleanBytes + plan.cleanableBytes) > p.settings.minCleanableDirtyRatio;

function isDue(p: PartitionLog, plan: CleaningPlan): boolean {
  if (plan.cleanBytes + plan.cleanableBytes === 0 || plan.cleanableBytes === 0) return false;
  return plan.compactionOverdue || ratioReached(p, plan);
}

/**
 * Whether some dirty range's first batch is older than cleanUntilMs (Kafka compares the first
 * batch's max timestamp of each dirty segment, ignoring those without a timestamp).
 */
async function overdue(p: PartitionLog, dirty: ObjectRange[], cleanUntilMs: number, reader: CleanerReader): Promise<boolean> {
  if (cleanUntilMs <= 0) return false;
  for (const r of dirty) {
    if (r.sizeBytes === 0) continue;
    const first = (await reader.read(p.topicId, p.partition, r.baseOffset, 1, true))[0];
    if (!first || batchBaseOffset(first, 0) >= r.endOffset) continue;
    const ts = batchMaxTimestamp(first, 0);
    if (ts > 0 && ts < cleanUntilMs) return true;
  }
  return false;
}

// ---- the key → offset map ---------------------------------------------------------------------------

class OffsetMap {
  private readonly offsets = new Map<string, number>();
  private readonly bytesMax: number;
  bytes = 0;
  /** Records above this offset were not looked at: the filter keeps them. */
  latestOffset = -1;

  constructor(bytesMax: number) {
    this.bytesMax = bytesMax;
  }

  get full(): boolean {
    return this.bytes >= this.bytesMax;
  }

  put(key: Buffer, offset: number): void {
    // latin1 maps bytes to chars one to one, so distinct keys stay distinct.
    const k = key.toString('latin1');
    if (!this.offsets.has(k)) this.bytes += k.length + MAP_ENTRY_OVERHEAD_BYTES;
    this.offsets.set(k, offset);
  }

  /** The last offset of key, or -1. */
  get(key: Buffer): number {
    return this.offsets.get(key.toString('latin1')) ?? -1;
  }
}

// ---- transactions -----------------------------------------------------------------------------------

/**
 * Tracks transactions while batches are read in offset order, to tell which data batches belong to
 * aborted transactions and which markers no longer guard any data (Kafka's CleanedTransactionMetadata).
 * `aborted` are the partition's aborted transactions that overlap what will be read.
 */
class TransactionTracker {
  private readonly aborted: AbortedTxn[];
  private next = 0;
  /** Aborted transactions that have begun, by producer id, and whether one of their batches was read. */
  private readonly ongoingAborted = new Map<number, { batchRead: boolean }>();
  /** Producers with a batch of a (not aborted) transaction read since their last marker. */
  private readonly ongoingCommitted = new Set<number>();

  constructor(aborted: AbortedTxn[]) {
    this.aborted = [...aborted].sort((a, b) => a.firstOffset - b.firstOffset);
  }

  private reach(offset: number): void {
    while (this.next < this.aborted.length && this.aborted[this.next]!.firstOffset <= offset) {
      const t = this.aborted[this.next++]!;
      if (!this.ongoingAborted.has(t.producerId)) this.ongoingAborted.set(t.producerId, { batchRead: false });
    }
  }

  /** A data batch; true when it belongs to an aborted transaction. */
  onDataBatch(h: BatchHeader): boolean {
    this.reach(h.baseOffset + h.lastOffsetDelta);
    if (!isTransactional(h.attributes)) return false;
    const a = this.ongoingAborted.get(h.producerId);
    if (a) {
      a.batchRead = true;
      return true;
    }
    this.ongoingCommitted.add(h.producerId);
    return false;
  }

  /** A control batch (type null: it has no record left); true when it may be discarded. */
  onControlBatch(h: BatchHeader, type: number | null): boolean {
    this.reach(h.baseOffset + h.lastOffsetDelta);
    if (type === null) return true;
    if (type === CONTROL_TYPE_ABORT) {
      const a = this.ongoingAborted.get(h.producerId);
      this.ongoingAborted.delete(h.producerId);
      // Kept while any batch of its transaction is still in the log, so readers can skip those.
      return !(a && a.batchRead);
    }
    if (type === CONTROL_TYPE_COMMIT) return !this.ongoingCommitted.delete(h.producerId);
    return false;
  }
}

const overlapping = (aborted: readonly AbortedTxn[], from: number, to: number): AbortedTxn[] => aborted.filter((a) => a.lastOffset >= from && a.firstOffset < to);

function controlType(d: DecodedBatch): number | null {
  const first = d.records[0];
  return first ? decodeControlRecordKey(first.key).type : null;
}

// ---- one pass ---------------------------------------------------------------------------------------

interface FilterContext {
  nowMs: number;
  deleteRetentionMs: number;
  map: OffsetMap;
  /** The end of this pass's cleanable part (Kafka's first uncleanable offset). */
  upperBound: number;
  /** Last data offset (or -1) and epoch of every producer in the partition's producer state. */
  producers: Map<number, { lastDataOffset: number; epoch: number }>;
}

interface PassCounters {
  bytesRead: number;
  bytesWritten: number;
  recordsRead: number;
  recordsRetained: number;
}

/** Output of whole old ranges, written as one object. */
interface Group {
  old: ObjectRange[];
  batches: Buffer[];
  bytes: number;
}

async function runPass(p: PartitionLog, plan: CleaningPlan, nowMs: number, o: LogCleanerOptions): Promise<PartitionCleanResult> {
  const { ranges, firstDirty, firstUncleanable } = plan;
  const upperBound = firstUncleanable < ranges.length ? ranges[firstUncleanable]!.baseOffset : ranges[ranges.length - 1]!.endOffset;
  const firstDirtyOffset = ranges[firstDirty]!.baseOffset;
  const aborted = p.durableProducers.aborted;
  const map = new OffsetMap(o.offsetMapBytesMax ?? OFFSET_MAP_BYTES_MAX_DEFAULT);
  const result: PartitionCleanResult = { firstDirtyOffset, cleanedEndOffset: upperBound, aborted: false, objects: 0, bytesRead: 0, bytesWritten: 0, recordsRead: 0, recordsRetained: 0 };
  const tracker = new TransactionTracker(overlapping(aborted, firstDirtyOffset, upperBound));
  const cleanedEnd = await buildOffsetMap(ranges.slice(firstDirty, firstUncleanable), firstDirtyOffset, upperBound, map, tracker, o.reader, result);
  result.cleanedEndOffset = cleanedEnd;
  map.latestOffset = cleanedEnd - 1;

  const producers = new Map<number, { lastDataOffset: number; epoch: number }>();
  for (const e of p.durableProducers.producers.values()) {
    producers.set(e.producerId, { lastDataOffset: e.batches.length > 0 ? e.batches[e.batches.length - 1]!.lastOffset : -1, epoch: e.epoch });
  }
  const ctx: FilterContext = { nowMs, deleteRetentionMs: p.settings.deleteRetentionMs, map, upperBound, producers };
  let rewriteEnd = 0;
  while (rewriteEnd < ranges.length && ranges[rewriteEnd]!.baseOffset < cleanedEnd) rewriteEnd++;
  const rewritten = ranges.slice(0, rewriteEnd);
  const txn = new TransactionTracker(overlapping(aborted, rewritten[0]!.baseOffset, rewritten[rewritten.length - 1]!.endOffset));
  let group: Group = { old: [], batches: [], bytes: 0 };
  for (let i = 0; i < rewritten.length; i++) {
    const r = rewritten[i]!;
    for (const b of await o.reader.readRange(r)) {
      result.bytesRead += b.length;
      const out = cleanBatch(b, ctx, txn, result);
      if (out) {
        group.batches.push(out);
        group.bytes += out.length;
      }
    }
    group.old.push(r);
    if (group.bytes >= o.objectBytesTarget || i === rewritten.length - 1) {
      if (!(await swapIn(p, group, cleanedEnd, o))) {
        result.aborted = true;
        break;
      }
      result.objects++;
      result.bytesWritten += group.bytes;
      dropCleanedTail(p, group.old[group.old.length - 1]!.endOffset);
      group = { old: [], batches: [], bytes: 0 };
    }
  }
  o.log.info(result.aborted ? 'log cleaning pass stopped: the ranges changed meanwhile' : 'cleaned log', {
    topicId: p.topicId,
    partition: p.partition,
    firstDirtyOffset,
    cleanedEndOffset: cleanedEnd,
    objects: result.objects,
    bytesRead: result.bytesRead,
    bytesWritten: result.bytesWritten,
    recordsRead: result.recordsRead,
    recordsRetained: result.recordsRetained,
  });
  return result;
}

/**
 * Maps each key of the cleanable dirty ranges to its last offset. Returns where the cleaned part
 * ends: upperBound, or the first batch left out once the map was full (at least one batch is mapped).
 */
async function buildOffsetMap(
  dirty: ObjectRange[],
  firstDirtyOffset: number,
  upperBound: number,
  map: OffsetMap,
  txn: TransactionTracker,
  reader: CleanerReader,
  counters: PassCounters,
): Promise<number> {
  let mapped = 0;
  for (const r of dirty) {
    for (const b of await reader.readRange(r)) {
      const h = readBatchHeader(b, 0);
      if (mapped > 0 && map.full) return h.baseOffset;
      counters.bytesRead += b.length;
      if (isControl(h.attributes)) txn.onControlBatch(h, controlType(readBatchRecords(b)));
      else if (!txn.onDataBatch(h)) {
        for (const rec of readBatchRecords(b).records) {
          if (rec.key !== null && rec.offset >= firstDirtyOffset) map.put(rec.key, rec.offset);
        }
      }
      mapped++;
    }
  }
  return upperBound;
}

/** One batch through Kafka's cleaner filter: the batch as it stays (maybe rebuilt), or null when it goes. */
function cleanBatch(b: Buffer, c: FilterContext, txn: TransactionTracker, counters: PassCounters): Buffer | null {
  const h = readBatchHeader(b, 0);
  const control = isControl(h.attributes);
  const lastOffset = h.baseOffset + h.lastOffsetDelta;
  const horizon = hasDeleteHorizon(h.attributes) ? h.baseTimestamp : null;
  let decoded: DecodedBatch | null = null;
  const decode = (): DecodedBatch => (decoded ??= readBatchRecords(b));
  const canDiscard = control ? txn.onControlBatch(h, controlType(decode())) : txn.onDataBatch(h);
  // A marker's records go only once its delete horizon has passed; aborted data goes at once.
  const discardRecords = control ? canDiscard && horizon !== null && horizon <= c.nowMs : canDiscard;
  const retainEmpty = (h.producerId >= 0 && isLastOfProducer(h, lastOffset, control, c)) || lastOffset + 1 === c.upperBound;
  if (discardRecords && !retainEmpty) return null;
  const records = decode().records;
  counters.recordsRead += records.length;
  const kept = discardRecords ? [] : control ? records : records.filter((r) => retainRecord(r, horizon, c));
  counters.recordsRetained += kept.length;
  if (kept.length === 0) return retainEmpty ? emptyBatch(h) : null;
  const needsHorizon = horizon === null && ((canDiscard && control) || kept.some((r) => r.value === null));
  if (kept.length === records.length && !needsHorizon) return b;
  const deleteHorizonMs = needsHorizon ? Math.min(c.nowMs + c.deleteRetentionMs, Number.MAX_SAFE_INTEGER) : horizon;
  return rebuild(h, decode(), kept, deleteHorizonMs);
}

function isLastOfProducer(h: BatchHeader, lastOffset: number, control: boolean, c: FilterContext): boolean {
  const last = c.producers.get(h.producerId);
  if (!last) return false;
  // A producer whose data is all gone keeps the marker carrying its latest epoch (fencing).
  return last.lastDataOffset >= 0 ? lastOffset === last.lastDataOffset : control && h.producerEpoch === last.epoch;
}

function retainRecord(r: KafkaRecord, horizon: number | null, c: FilterContext): boolean {
  if (r.offset > c.map.latestOffset) return true;
  if (r.key === null) return false;
  const isLatest = r.offset >= c.map.get(r.key);
  return isLatest && (r.value !== null || horizon === null || c.nowMs < horizon);
}

/** The kept records as the batch they came from, as Kafka's cleaner rebuilds it. */
function rebuild(h: BatchHeader, d: DecodedBatch, kept: KafkaRecord[], deleteHorizonMs: number | null): Buffer {
  return buildBatch({
    baseOffset: h.baseOffset,
    partitionLeaderEpoch: h.partitionLeaderEpoch,
    compression: d.compression,
    timestampType: d.timestampType,
    ...(deleteHorizonMs !== null ? { deleteHorizonMs } : {}),
    // LogAppendTime batches keep the append time (their records read it from maxTimestamp).
    ...(d.timestampType === 'LogAppendTime' ? { maxTimestamp: h.maxTimestamp } : {}),
    producerId: h.producerId,
    producerEpoch: h.producerEpoch,
    baseSequence: h.baseSequence,
    isTransactional: d.isTransactional,
    isControl: d.isControl,
    // The last offset stays, so the producer's last sequence does too.
    lastOffsetDelta: h.lastOffsetDelta,
    records: kept.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp, offsetDelta: r.offset - h.baseOffset, attributes: 0 })),
  });
}

/** A batch header with no records (Kafka's DefaultRecordBatch.writeEmptyHeader). */
function emptyBatch(h: BatchHeader): Buffer {
  return buildBatch({
    baseOffset: h.baseOffset,
    partitionLeaderEpoch: h.partitionLeaderEpoch,
    compression: 'none',
    timestampType: timestampTypeOf(h.attributes),
    baseTimestamp: NO_TIMESTAMP,
    maxTimestamp: h.maxTimestamp,
    producerId: h.producerId,
    producerEpoch: h.producerEpoch,
    baseSequence: h.baseSequence,
    isTransactional: isTransactional(h.attributes),
    isControl: isControl(h.attributes),
    lastOffsetDelta: h.lastOffsetDelta,
    records: [],
  });
}

/**
 * Writes a group's batches as one object and swaps its ranges in for the old ones: one cleaned
 * range, plus a dirty one when the pass ended inside the group's last range (the map was full).
 * False when the old ranges changed meanwhile; the new object is then deleted.
 */
async function swapIn(p: PartitionLog, g: Group, cleanedEnd: number, o: LogCleanerOptions): Promise<boolean> {
  const first = g.old[0]!;
  const last = g.old[g.old.length - 1]!;
  const ranges: NewObjectRange[] = [];
  let position = 0;
  let i = 0;
  for (const [from, to, cleaned] of [
    [first.baseOffset, Math.min(last.endOffset, cleanedEnd), true],
    [cleanedEnd, last.endOffset, false],
  ] as const) {
    if (from >= to) continue;
    let sizeBytes = 0;
    let maxTimestamp = -1;
    for (; i < g.batches.length && batchBaseOffset(g.batches[i]!, 0) < to; i++) {
      sizeBytes += g.batches[i]!.length;
      maxTimestamp = Math.max(maxTimestamp, batchMaxTimestamp(g.batches[i]!, 0));
    }
    // A part whose batches all went needs no range (reads skip the gap), unless the group would be
    // left without any: the index keeps covering the offsets up to the group's end.
    if (sizeBytes === 0 && (ranges.length > 0 || to < last.endOffset)) continue;
    ranges.push({ topicId: p.topicId, partitionIndex: p.partition, baseOffset: from, endOffset: to, position, sizeBytes, maxTimestamp, cleaned });
    position += sizeBytes;
  }
  const { key, committed: id } = await o.writer.write({
    kind: 'cleaned',
    parts: g.batches,
    commit: async (key) => {
      // The swap fails (null) if object compaction or retention changed any of these ranges meanwhile.
      const id = await o.store.replaceRanges(p.topicId, p.partition, g.old, key, position, ranges);
      o.reader.invalidate(p.topicId, p.partition);
      return id;
    },
  });
  if (id === null) {
    await o.writer.discard(key, 'cleaned');
    return false;
  }
  return true;
}

/**
 * Drops uploaded entries the cleaner has rewritten from the front of the in-memory tail, so fetches
 * read the cleaned ranges rather than the old bytes. (The log manager's byte accounting of the
 * tail is unaffected: it counts entries when it evicts them, present or not.)
 */
function dropCleanedTail(p: PartitionLog, cleanedUpTo: number): void {
  p.dropCleanedHead(cleanedUpTo);
}
