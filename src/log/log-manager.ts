// Every partition log of this broker, their shared WAL and uploader, and the byte bound on the
// in-memory tail. Built at start from metadata (log start offsets, the end of uploaded data) plus a
// replay of the WAL (durable data not yet uploaded).
import type { Logger } from '../common/logger.ts';
import { assert } from '../common/errors.ts';
import type { MetadataStore, ObjectRange, PartitionRecord, TopicRecord } from '../metadata/store.ts';
import type { ReplayedEntry } from '../storage/wal/index.ts';
import { PartitionLog } from './partition-log.ts';
import { LeaderEpochCache } from './leader-epochs.ts';
import type { ColdReader, DurableSink, LogShared, TailEntry, WalAppender } from './partition-log.ts';

/** What the logs write to and read from: the WAL, the uploader, object reads, and admission of new data. */
export interface LogIo {
  wal: WalAppender;
  sink: DurableSink;
  cold: ColdReader & { invalidate(topicId: string, partition: number): void };
  /** See LogShared.admit: an error while new data may not be written (upload backlog at its bound). */
  admit?: () => Error | null;
}
import { topicSettings } from './topic-settings.ts';
import type { TopicSettings } from './topic-settings.ts';
import { RECORD_BATCH_OVERHEAD, batchBaseOffset, batchLastOffset, batchMaxTimestamp, batchPartitionLeaderEpoch, batchSizeAt } from '../protocol/records/index.ts';
import { ProducerState } from './producer-state.ts';
import type { ProducerSnapshot } from '../metadata/store.ts';

export interface LogManagerOptions {
  tailCacheBytesMax: number;
  log: Logger;
}

const key = (topicId: string, partition: number) => `${topicId}:${partition}`;

export class LogManager {
  private readonly logs = new Map<string, PartitionLog>();
  private readonly topicLogs = new Map<string, PartitionLog[]>();
  private readonly opts: LogManagerOptions;
  private shared!: LogShared;
  private store!: MetadataStore;
  private cold!: ColdReader & { invalidate(topicId: string, partition: number): void };
  /** Tail entries in the order they became durable, for eviction across partitions. Slots below
   *  tailQueueHead are emptied as they go: an evicted entry's data is often a view of a whole fetch
   *  or produce buffer, and a kept reference would hold all of it. */
  private tailQueue: ({ entry: TailEntry; log: PartitionLog } | null)[] = [];
  private tailQueueHead = 0;
  tailBytes = 0;

  constructor(opts: LogManagerOptions) {
    this.opts = opts;
  }

  /** Loads every partition from metadata, then replays WAL entries that were not uploaded yet. */
  async open(store: MetadataStore, io: LogIo, replay: ReplayedEntry[]): Promise<void> {
    const { wal, sink, cold } = io;
    this.shared = {
      wal,
      sink,
      cold,
      admit: io.admit ?? (() => null),
      tailAdded: (entry, log) => this.tailAdded(entry, log),
      leaderEpochCheckpoint: (topicId, partition) => this.leaderEpochCheckpoint(topicId, partition),
    };
    this.store = store;
    this.cold = cold;
    const topics = new Map((await store.topics()).map((t) => [t.topicId, t]));
    const histories = new Map((await store.leaderEpochHistories()).map((h) => [key(h.topicId, h.partitionIndex), h.entries]));
    for (const p of await store.allPartitions()) {
      const topic = topics.get(p.topicId);
      if (!topic) continue;
      const ranges = await store.objectRanges(p.topicId, p.partitionIndex);
      const uploadedEnd = ranges.length > 0 ? ranges[ranges.length - 1]!.endOffset : 0;
      const next = Math.max(uploadedEnd, p.logStartOffset);
      const maxTimestamp = ranges.reduce((m, r) => Math.max(m, r.maxTimestamp), -1);
      const history = histories.get(key(p.topicId, p.partitionIndex));
      const start = { logStartOffset: p.logStartOffset, nextOffset: next, leaderEpoch: p.leaderEpoch, maxTimestamp, label: `${topic.name}-${p.partitionIndex}`, leaderEpochs: history };
      const log = new PartitionLog(p.topicId, p.partitionIndex, start, topicSettings(topic.configs), this.shared);
      // Data uploaded before leader-epoch histories were kept: rebuilt once from its batch headers.
      if (history === undefined && uploadedEnd > p.logStartOffset) await this.rebuildLeaderEpochs(log, ranges);
      this.add(log);
    }
    for (const snap of await store.producerSnapshots()) {
      const log = this.logs.get(key(snap.topicId, snap.partitionIndex));
      if (!log) continue;
      log.restoreProducers(ProducerState.fromJSON(snap.state));
    }
    let replayed = 0;
    for (const e of applyTruncationMarkers(replay)) {
      const log = this.logs.get(key(e.topicId, e.partition));
      // Entries of deleted topics, and entries already in committed objects, are skipped.
      if (!log || e.endOffset <= log.highWatermark) continue;
      if (e.baseOffset < log.highWatermark) {
        // Only a mirror's log is ever cut (truncateTo uploads first): its WAL may still hold data
        // from before the cut that is partly uploaded. The part past the uploaded end comes back
        // and the mirror fetcher checks it against the source again.
        const rest = batchesFrom(e.data, log.highWatermark);
        if (rest.length === 0) continue;
        e.data = rest;
        e.baseOffset = log.highWatermark;
      }
      log.replay(e, e.position);
      replayed++;
    }
    this.opts.log.info('partition logs loaded', { partitions: this.logs.size, walEntriesReplayed: replayed });
  }

  /**
   * Reads every uploaded batch of the partition for its leader epoch. All or nothing: if object
   * storage cannot be read now, the start goes on without a history (OffsetForLeaderEpoch answers
   * -1 for old epochs) and the next start tries again, as long as no new data has saved one.
   */
  private async rebuildLeaderEpochs(log: PartitionLog, ranges: ObjectRange[]): Promise<void> {
    const history = new LeaderEpochCache(null);
    try {
      for (const r of ranges) {
        if (r.endOffset <= log.logStartOffset) continue;
        for (const b of await this.cold.readRange(r)) {
          for (let pos = 0; pos + RECORD_BATCH_OVERHEAD <= b.length; pos += batchSizeAt(b, pos)) history.assign(batchPartitionLeaderEpoch(b, pos), batchBaseOffset(b, pos));
        }
      }
    } catch (err) {
      this.opts.log.warn('cannot rebuild the leader-epoch history from uploaded data now', { partition: log.label, err: err as Error });
      return;
    }
    log.rebuildLeaderEpochs(history.entries);
  }

  /** A partition's leader-epoch history goes to the metadata store (Kafka's leader-epoch-checkpoint). */
  private leaderEpochCheckpoint(topicId: string, partition: number) {
    return {
      write: async (entries: readonly { epoch: number; startOffset: number }[]) => {
        try {
          await this.store.saveLeaderEpochs({ topicId, partitionIndex: partition, entries: entries.map((e) => ({ ...e })) });
        } catch (err) {
          this.opts.log.warn('saving the leader-epoch history failed; the next change saves it whole', { topicId, partition, err: err as Error });
          throw err;
        }
      },
    };
  }

  private add(log: PartitionLog): void {
    this.logs.set(key(log.topicId, log.partition), log);
    const list = this.topicLogs.get(log.topicId) ?? [];
    list[log.partition] = log;
    this.topicLogs.set(log.topicId, list);
  }

  get(topicId: string, partition: number): PartitionLog | undefined {
    return this.logs.get(key(topicId, partition));
  }

  partitionsOf(topicId: string): PartitionLog[] {
    return this.topicLogs.get(topicId) ?? [];
  }

  /** Why clients may not change the topic (it is a mirror fed by a link), or null. */
  mirrorReason(topicId: string): string | null {
    return this.partitionsOf(topicId)[0]?.mirrorOf ?? null;
  }

  all(): IterableIterator<PartitionLog> {
    return this.logs.values();
  }

  /** A new topic (or new partitions of one) start empty at offset 0. */
  ensureTopic(topic: TopicRecord, leaderEpoch = 0): void {
    const settings = topicSettings(topic.configs);
    for (let p = 0; p < topic.partitionCount; p++) {
      if (this.logs.has(key(topic.topicId, p))) continue;
      this.add(new PartitionLog(topic.topicId, p, { logStartOffset: 0, nextOffset: 0, leaderEpoch, label: `${topic.name}-${p}` }, settings, this.shared));
    }
  }

  updateSettings(topicId: string, configs: Record<string, string>): TopicSettings {
    const settings = topicSettings(configs);
    for (const log of this.partitionsOf(topicId)) log.updateSettings(settings);
    return settings;
  }

  dropTopic(topicId: string): void {
    for (const log of this.partitionsOf(topicId)) {
      this.logs.delete(key(topicId, log.partition));
      log.close();
    }
    this.topicLogs.delete(topicId);
  }

  /**
   * Partitions another broker claimed (this one's commits for them were fenced, or the leadership
   * check saw it): their logs stop taking appends and serving reads. Returns how many changed.
   */
  relinquish(partitions: { topicId: string; partitionIndex: number; leaderId: number }[]): number {
    let n = 0;
    for (const p of partitions) {
      const log = this.logs.get(key(p.topicId, p.partitionIndex));
      if (!log || log.ledBy !== null) continue;
      log.relinquish(p.leaderId);
      n++;
    }
    if (n > 0) this.opts.log.warn('partitions are led by another broker now; this broker stops serving them', { partitions: n, leaders: [...new Set(partitions.map((p) => p.leaderId))] });
    return n;
  }

  /**
   * How this broker sees a topic's partitions (Metadata, DescribeTopicPartitions): from memory, so a
   * metadata store that is slow or down does not stop clients from finding leaders. A partition
   * another broker claimed names that broker.
   */
  partitionRecords(topicId: string, nodeId: number): PartitionRecord[] {
    return this.partitionsOf(topicId)
      .filter((log) => log !== undefined)
      .map((log) => ({ topicId, partitionIndex: log.partition, leaderId: log.ledBy ?? nodeId, leaderEpoch: log.leaderEpoch, logStartOffset: log.logStartOffset }));
  }

  /** Each partition's current leader epoch, once per partition of `items` (an upload's fence). */
  leaderEpochsOf(items: { topicId: string; partition: number }[]): { topicId: string; partitionIndex: number; leaderEpoch: number }[] {
    const out = new Map<string, { topicId: string; partitionIndex: number; leaderEpoch: number }>();
    for (const it of items) {
      const k = key(it.topicId, it.partition);
      if (out.has(k)) continue;
      const log = this.logs.get(k);
      if (log) out.set(k, { topicId: it.topicId, partitionIndex: it.partition, leaderEpoch: log.leaderEpoch });
    }
    return [...out.values()];
  }

  /** Moves a partition's log start offset forward (DeleteRecords, retention); returns the new one. */
  async advanceLogStartOffset(log: PartitionLog, offset: number): Promise<number> {
    if (offset <= log.logStartOffset) return log.logStartOffset;
    const start = await this.store.advanceLogStartOffset(log.topicId, log.partition, offset);
    log.moveLogStart(start);
    this.cold.invalidate(log.topicId, log.partition);
    return log.logStartOffset;
  }

  /**
   * Cuts a mirror partition's log back to `offset` (its source diverged: an unclean leader election
   * there). Everything durable is uploaded first, so the cut is a metadata change: ranges past the
   * offset are dropped, the one holding it is shortened. Returns the offset the log now ends at (the
   * start of the batch holding `offset`).
   *
   * Crash safety, in this order: (1) a truncation marker in the WAL, so a replay drops what came
   * before it at or past the cut (a crash after it alone leaves the uploaded log whole, and the
   * mirror fetcher finds the divergence again); (2) one metadata transaction that cuts the ranges
   * and saves the producer state of the batches kept (aborted transactions, idempotence), since
   * nothing else would rewrite it before the next upload; (3) memory. Runs with no append in flight.
   */
  async truncateTo(log: PartitionLog, offset: number): Promise<number> {
    if (offset >= log.highWatermark) return log.highWatermark;
    if (offset <= log.logStartOffset) return this.resetTo(log, log.logStartOffset, true);
    return log.exclusive(async () => {
      if (offset >= log.highWatermark) return log.highWatermark;
      await this.shared.sink.flush();
      const ranges = await this.store.objectRanges(log.topicId, log.partition);
      let cut: { objectId: number; baseOffset: number; keepBytes: number; maxTimestamp: number } | null = null;
      let end = offset;
      const holding = ranges.find((r) => r.baseOffset < offset && r.endOffset > offset);
      if (holding) {
        let keep = 0;
        let maxTs = -1;
        let lastEnd = holding.baseOffset;
        for (const buf of await this.cold.readRange(holding)) {
          for (let pos = 0; pos + RECORD_BATCH_OVERHEAD <= buf.length; pos += batchSizeAt(buf, pos)) {
            if (batchLastOffset(buf, pos) >= offset) break;
            keep += batchSizeAt(buf, pos);
            maxTs = Math.max(maxTs, batchMaxTimestamp(buf, pos));
            lastEnd = batchLastOffset(buf, pos) + 1;
          }
        }
        end = lastEnd;
        cut = keep > 0 ? { objectId: holding.objectId, baseOffset: holding.baseOffset, keepBytes: keep, maxTimestamp: maxTs } : null;
      }
      const producers = await this.producersBelow(log, end);
      await this.shared.wal.append({ topicId: log.topicId, partition: log.partition, baseOffset: end, endOffset: end, data: Buffer.alloc(0), leaderEpoch: log.leaderEpoch });
      const snapshot = { topicId: log.topicId, partitionIndex: log.partition, endOffset: end, state: producers.toJSON() };
      await this.store.truncateRanges(log.topicId, log.partition, end, cut, snapshot);
      this.cold.invalidate(log.topicId, log.partition);
      log.truncateTail(end, producers);
      return end;
    });
  }

  /**
   * Empties a partition and starts it at `offset` (a mirror that fell behind the source's log start,
   * or a new mirror of a source whose head was deleted), as a Kafka follower's truncateFullyAndStartAt.
   * The WAL marker goes first, as for truncateTo.
   */
  async resetTo(log: PartitionLog, offset: number, truncating = false): Promise<number> {
    if (!truncating && log.highWatermark >= offset) return this.advanceLogStartOffset(log, offset);
    return log.exclusive(async () => {
      await this.shared.sink.flush();
      await this.shared.wal.append({ topicId: log.topicId, partition: log.partition, baseOffset: offset, endOffset: offset, data: Buffer.alloc(0), leaderEpoch: log.leaderEpoch });
      await this.store.resetPartition(log.topicId, log.partition, offset);
      this.cold.invalidate(log.topicId, log.partition);
      log.resetTo(offset);
      return offset;
    });
  }

  /** Leader epoch of the log's last batch, or -1 when the log holds none. */
  async lastBatchEpoch(log: PartitionLog): Promise<number> {
    let bufs: Buffer[] = [];
    if (log.tail.length > 0) bufs = [log.tail[log.tail.length - 1]!.data];
    else {
      const last = (await this.cold.ranges(log.topicId, log.partition)).at(-1);
      if (last && last.endOffset > log.logStartOffset) bufs = await this.cold.readRange(last);
    }
    let epoch = -1;
    for (const b of bufs) for (let pos = 0; pos + RECORD_BATCH_OVERHEAD <= b.length; pos += batchSizeAt(b, pos)) epoch = batchPartitionLeaderEpoch(b, pos);
    return epoch;
  }

  /**
   * Producer state from every batch header of the log below `end` (rare: a truncation). Reads 8 MiB
   * at a time and yields to the event loop between reads, so a long log does not stall other work.
   */
  private async producersBelow(log: PartitionLog, end: number): Promise<ProducerState> {
    const state = new ProducerState();
    let offset = log.logStartOffset;
    while (offset < end) {
      const r = await log.read(offset, 8 * 1024 * 1024, true);
      if (r.batches.length === 0) break;
      for (const b of r.batches) {
        for (let pos = 0; pos + RECORD_BATCH_OVERHEAD <= b.length; pos += batchSizeAt(b, pos)) {
          if (batchBaseOffset(b, pos) >= end) return state;
          state.apply(b.subarray(pos, pos + batchSizeAt(b, pos)));
          offset = batchLastOffset(b, pos) + 1;
        }
      }
      await new Promise<void>((r) => setImmediate(r));
    }
    return state;
  }

  /** Producer state at the end of each partition's part of an upload (see Uploader). */
  producerSnapshots(items: TailEntry[]): { snapshots: ProducerSnapshot[]; commit(): void } {
    const next = new Map<PartitionLog, { state: ProducerState; endOffset: number }>();
    for (const it of items) {
      const log = this.logs.get(key(it.topicId, it.partition));
      if (!log) continue;
      let n = next.get(log);
      if (!n) {
        n = { state: log.uploadedProducerState(), endOffset: it.endOffset };
        next.set(log, n);
      }
      n.state.apply(it.data);
      n.endOffset = it.endOffset;
    }
    return {
      snapshots: [...next].map(([log, n]) => ({ topicId: log.topicId, partitionIndex: log.partition, endOffset: n.endOffset, state: n.state.toJSON() })),
      commit: () => {
        for (const [log, n] of next) log.commitUploadedProducers(n.state);
      },
    };
  }

  /** Bytes a partition holds: committed ranges plus durable data not uploaded yet. */
  async sizeBytes(log: PartitionLog): Promise<number> {
    const ranges = await this.cold.ranges(log.topicId, log.partition);
    let n = 0;
    for (const r of ranges) if (r.endOffset > log.logStartOffset) n += r.sizeBytes;
    for (const e of log.tail) if (!e.uploaded) n += e.data.length;
    return n;
  }

  private tailAdded(entry: TailEntry, log: PartitionLog): void {
    this.tailQueue.push({ entry, log });
    this.tailBytes += entry.data.length;
    this.evict();
  }

  /** Keeps the tail within its bound by dropping the oldest uploaded entries, across partitions. */
  evict(): void {
    while (this.tailBytes > this.opts.tailCacheBytesMax && this.tailQueueHead < this.tailQueue.length) {
      const { entry, log } = this.tailQueue[this.tailQueueHead]!;
      if (!entry.uploaded) break;
      log.dropUploadedHead(entry);
      this.tailBytes -= entry.data.length;
      this.tailQueue[this.tailQueueHead++] = null;
    }
    if (this.tailQueueHead > 4096 && this.tailQueueHead * 2 > this.tailQueue.length) {
      this.tailQueue = this.tailQueue.slice(this.tailQueueHead);
      this.tailQueueHead = 0;
    }
  }
}

/**
 * A WAL entry without data is a truncation marker (LogManager.truncateTo): entries of the same
 * partition written before it are cut to the batches below its offset. Markers themselves go.
 */
export function applyTruncationMarkers(replay: ReplayedEntry[]): ReplayedEntry[] {
  const limit = new Map<string, number>();
  const out: ReplayedEntry[] = [];
  for (let i = replay.length - 1; i >= 0; i--) {
    const e = replay[i]!;
    const k = key(e.topicId, e.partition);
    if (e.data.length === 0) {
      limit.set(k, Math.min(limit.get(k) ?? Infinity, e.baseOffset));
      continue;
    }
    const cut = limit.get(k);
    if (cut === undefined || e.endOffset <= cut) out.push(e);
    else if (e.baseOffset < cut) {
      let pos = 0;
      while (pos + RECORD_BATCH_OVERHEAD <= e.data.length && batchLastOffset(e.data, pos) < cut) pos += batchSizeAt(e.data, pos);
      if (pos > 0) out.push({ ...e, data: e.data.subarray(0, pos), endOffset: cut });
    }
  }
  return out.reverse();
}

/** The batches of `data` that end at or after `offset`. */
function batchesFrom(data: Buffer, offset: number): Buffer {
  let pos = 0;
  while (pos + RECORD_BATCH_OVERHEAD <= data.length && batchLastOffset(data, pos) < offset) pos += batchSizeAt(data, pos);
  return data.subarray(pos);
}
