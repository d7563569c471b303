// Committed offsets: the in-memory view every OffsetFetch reads, and the writer that makes commits
// durable in the metadata store before they become visible. Commits arriving in the same turn of
// the event loop (from any group) share one store transaction, so one fsync covers many commits.
import type { CommittedOffsetRecord, MetadataStore } from '../metadata/store.ts';
import { Deferred } from './timers.ts';

export interface OffsetAndMetadata {
  committedOffset: number;
  leaderEpoch: number;
  metadata: string;
  commitTimestampMs: number;
  /** Only commits of OffsetCommit v2-v4 with a retention time carry it (the old expiry rule). */
  expireTimestampMs: number | null;
}

type TopicOffsets = Map<number, OffsetAndMetadata>;

export class CommittedOffsets {
  private readonly byGroup = new Map<string, Map<string, TopicOffsets>>();

  load(records: CommittedOffsetRecord[]): void {
    this.byGroup.clear();
    for (const r of records) {
      this.set(r.groupId, r.topic, r.partitionIndex, {
        committedOffset: r.committedOffset,
        leaderEpoch: r.leaderEpoch,
        metadata: r.metadata ?? '',
        commitTimestampMs: r.commitTimestampMs,
        expireTimestampMs: r.expireTimestampMs,
      });
    }
  }

  get(groupId: string, topic: string, partition: number): OffsetAndMetadata | undefined {
    return this.byGroup.get(groupId)?.get(topic)?.get(partition);
  }

  /** topic → partition → offset of one group, or undefined when it has none. */
  group(groupId: string): ReadonlyMap<string, ReadonlyMap<number, OffsetAndMetadata>> | undefined {
    return this.byGroup.get(groupId);
  }

  groupIds(): string[] {
    return [...this.byGroup.keys()];
  }

  has(groupId: string): boolean {
    return this.byGroup.has(groupId);
  }

  set(groupId: string, topic: string, partition: number, o: OffsetAndMetadata): void {
    let topics = this.byGroup.get(groupId);
    if (!topics) this.byGroup.set(groupId, (topics = new Map()));
    let parts = topics.get(topic);
    if (!parts) topics.set(topic, (parts = new Map()));
    parts.set(partition, o);
  }

  delete(groupId: string, topic: string, partition: number): boolean {
    const topics = this.byGroup.get(groupId);
    const parts = topics?.get(topic);
    if (!topics || !parts || !parts.delete(partition)) return false;
    if (parts.size === 0) topics.delete(topic);
    if (topics.size === 0) this.byGroup.delete(groupId);
    return true;
  }

  deleteGroup(groupId: string): void {
    this.byGroup.delete(groupId);
  }

  /** Drops a topic's offsets from every group; returns the groups that had some. */
  deleteTopic(topic: string): string[] {
    const touched: string[] = [];
    for (const [groupId, topics] of this.byGroup) {
      if (topics.delete(topic)) {
        touched.push(groupId);
        if (topics.size === 0) this.byGroup.delete(groupId);
      }
    }
    return touched;
  }
}

/** Upper bound on offsets written in one store transaction. */
const OFFSET_BATCH_RECORDS_MAX = 10_000;

export class OffsetWriter {
  private readonly store: MetadataStore;
  private queue: { records: CommittedOffsetRecord[]; done: Deferred<Error | null> }[] = [];
  private scheduled = false;

  constructor(store: MetadataStore) {
    this.store = store;
  }

  /** Resolves once the records are durable; rejects with the store's error otherwise. */
  async write(records: CommittedOffsetRecord[]): Promise<void> {
    const done = new Deferred<Error | null>();
    this.queue.push({ records, done });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
    const err = await done.promise;
    if (err) throw err;
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch: typeof this.queue = [];
      let n = 0;
      while (this.queue.length > 0 && (batch.length === 0 || n + this.queue[0]!.records.length <= OFFSET_BATCH_RECORDS_MAX)) {
        const next = this.queue.shift()!;
        n += next.records.length;
        batch.push(next);
      }
      let err: Error | null = null;
      try {
        await this.store.commitOffsets(batch.flatMap((b) => b.records));
      } catch (e) {
        err = e as Error;
      }
      for (const b of batch) b.done.resolve(err);
    }
    this.scheduled = false;
  }
}
