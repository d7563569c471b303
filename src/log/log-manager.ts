// Every partition log of this broker, their shared WAL and uploader, and the byte bound on the
// in-memory tail. Built at start from metadata (log start offsets, the end of uploaded data) plus a
// replay of the WAL (durable data not yet uploaded).
import type { Logger } from '../common/logger.ts';
import { assert } from '../common/errors.ts';
import type { MetadataStore, TopicRecord } from '../metadata/store.ts';
import type { ReplayedEntry } from '../storage/wal/file-wal.ts';
import { PartitionLog } from './partition-log.ts';
import type { ColdReader, DurableSink, LogShared, TailEntry, WalAppender } from './partition-log.ts';
import { topicSettings } from './topic-settings.ts';
import type { TopicSettings } from './topic-settings.ts';
import { RECORD_BATCH_OVERHEAD, batchMaxTimestamp, batchSizeAt } from '../protocol/records/index.ts';
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
  /** Tail entries in the order they became durable, for eviction across partitions. */
  private tailQueue: { entry: TailEntry; log: PartitionLog }[] = [];
  private tailQueueHead = 0;
  tailBytes = 0;

  constructor(opts: LogManagerOptions) {
    this.opts = opts;
  }

  /** Loads every partition from metadata, then replays WAL entries that were not uploaded yet. */
  async open(store: MetadataStore, wal: WalAppender, sink: DurableSink, cold: ColdReader & { invalidate(topicId: string, partition: number): void }, replay: ReplayedEntry[]): Promise<void> {
    this.shared = { wal, sink, cold, tailAdded: (entry, log) => this.tailAdded(entry, log) };
    this.store = store;
    this.cold = cold;
    const topics = new Map((await store.topics()).map((t) => [t.topicId, t]));
    for (const p of await store.allPartitions()) {
      const topic = topics.get(p.topicId);
      if (!topic) continue;
      const ranges = await store.objectRanges(p.topicId, p.partitionIndex);
      const uploadedEnd = ranges.length > 0 ? ranges[ranges.length - 1]!.endOffset : 0;
      const next = Math.max(uploadedEnd, p.logStartOffset);
      const log = new PartitionLog(p.topicId, p.partitionIndex, { logStartOffset: p.logStartOffset, nextOffset: next, leaderEpoch: p.leaderEpoch }, topicSettings(topic.configs), this.shared);
      log.maxTimestamp = ranges.reduce((m, r) => Math.max(m, r.maxTimestamp), -1);
      this.add(log, topic.name);
    }
    for (const snap of await store.producerSnapshots()) {
      const log = this.logs.get(key(snap.topicId, snap.partitionIndex));
      if (!log) continue;
      log.uploadedProducers = ProducerState.fromJSON(snap.state);
      log.producers = log.uploadedProducers.clone();
      log.durableProducers = log.uploadedProducers.clone();
    }
    let replayed = 0;
    for (const e of replay) {
      const log = this.logs.get(key(e.topicId, e.partition));
      // Entries of deleted topics, and entries already in committed objects, are skipped.
      if (!log || e.endOffset <= log.highWatermark) continue;
      assert(e.baseOffset >= log.highWatermark, `WAL entry ${e.topicId}:${e.partition}@${e.baseOffset} overlaps uploaded data ending at ${log.highWatermark}`);
      log.producers.apply(e.data);
      log.addDurable({ topicId: e.topicId, partition: e.partition, baseOffset: e.baseOffset, endOffset: e.endOffset, data: e.data, maxTimestamp: maxTimestampOf(e.data), uploaded: false }, e.position);
      replayed++;
    }
    this.opts.log.info('partition logs loaded', { partitions: this.logs.size, walEntriesReplayed: replayed });
  }

  private add(log: PartitionLog, topicName?: string): void {
    if (topicName) log.label = `${topicName}-${log.partition}`;
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

  all(): IterableIterator<PartitionLog> {
    return this.logs.values();
  }

  /** A new topic (or new partitions of one) start empty at offset 0. */
  ensureTopic(topic: TopicRecord, leaderEpoch = 0): void {
    const settings = topicSettings(topic.configs);
    for (let p = 0; p < topic.partitionCount; p++) {
      if (this.logs.has(key(topic.topicId, p))) continue;
      this.add(new PartitionLog(topic.topicId, p, { logStartOffset: 0, nextOffset: 0, leaderEpoch }, settings, this.shared), topic.name);
    }
  }

  updateSettings(topicId: string, configs: Record<string, string>): TopicSettings {
    const settings = topicSettings(configs);
    for (const log of this.partitionsOf(topicId)) log.settings = settings;
    return settings;
  }

  dropTopic(topicId: string): void {
    for (const log of this.partitionsOf(topicId)) {
      this.logs.delete(key(topicId, log.partition));
      log.tail = [];
      log.wake();
    }
    this.topicLogs.delete(topicId);
  }

  /** Moves a partition's log start offset forward (DeleteRecords, retention); returns the new one. */
  async advanceLogStartOffset(log: PartitionLog, offset: number): Promise<number> {
    if (offset <= log.logStartOffset) return log.logStartOffset;
    const start = await this.store.advanceLogStartOffset(log.topicId, log.partition, offset);
    log.logStartOffset = Math.max(log.logStartOffset, start);
    this.cold.invalidate(log.topicId, log.partition);
    log.wake();
    return log.logStartOffset;
  }

  /** Producer state at the end of each partition's part of an upload (see Uploader). */
  producerSnapshots(items: TailEntry[]): { snapshots: ProducerSnapshot[]; commit(): void } {
    const next = new Map<PartitionLog, { state: ProducerState; endOffset: number }>();
    for (const it of items) {
      const log = this.logs.get(key(it.topicId, it.partition));
      if (!log) continue;
      let n = next.get(log);
      if (!n) {
        n = { state: log.uploadedProducers.clone(), endOffset: it.endOffset };
        next.set(log, n);
      }
      n.state.apply(it.data);
      n.endOffset = it.endOffset;
    }
    return {
      snapshots: [...next].map(([log, n]) => ({ topicId: log.topicId, partitionIndex: log.partition, endOffset: n.endOffset, state: n.state.toJSON() })),
      commit: () => {
        for (const [log, n] of next) log.uploadedProducers = n.state;
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
      if (log.tail[0] === entry) log.tail.shift();
      this.tailBytes -= entry.data.length;
      this.tailQueueHead++;
    }
    if (this.tailQueueHead > 4096 && this.tailQueueHead * 2 > this.tailQueue.length) {
      this.tailQueue = this.tailQueue.slice(this.tailQueueHead);
      this.tailQueueHead = 0;
    }
  }
}

function maxTimestampOf(data: Buffer): number {
  let max = -1;
  for (let pos = 0; pos + RECORD_BATCH_OVERHEAD <= data.length; pos += batchSizeAt(data, pos)) {
    const ts = batchMaxTimestamp(data, pos);
    if (ts > max) max = ts;
  }
  return max;
}
