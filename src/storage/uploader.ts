// Moves durable WAL data into object storage: entries accumulate in WAL order until there are
// enough bytes or they are old enough, then become one object holding many partitions' batches
// (each partition's batches contiguous), whose ranges are committed to metadata before the WAL is
// trimmed. One upload at a time keeps the uploaded prefix of the WAL contiguous.
import type { Logger } from '../common/logger.ts';
import { FencedError } from '../metadata/store.ts';
import type { FencedPartition, LeaderFence, MetadataStore, NewObjectRange, ProducerSnapshot } from '../metadata/store.ts';
import { backoffDelayMs } from './object-writer.ts';
import type { ObjectWriter } from './object-writer.ts';
import type { WalPosition } from './wal/index.ts';

/** What the uploader needs of a durable entry; `uploaded` is set once its object is committed. */
export interface UploadItem {
  topicId: string;
  partition: number;
  baseOffset: number;
  endOffset: number;
  data: Buffer;
  maxTimestamp: number;
  uploaded: boolean;
}

export interface UploaderOptions {
  /** Names, puts and counts the `data` objects (and applies the key prefix). */
  writer: ObjectWriter;
  store: MetadataStore;
  trimWal(upTo: WalPosition): Promise<unknown>;
  /** Producer state at the end of each partition's part of an upload, saved with it; `commit`
   *  is called once the object is committed, so the state can become the partition's baseline. */
  producerSnapshots?(items: UploadItem[]): { snapshots: ProducerSnapshot[]; commit(): void };
  /** Told about committed ranges so readers find them without asking metadata. */
  onCommitted(ranges: (NewObjectRange & { objectId: number; objectKey: string })[]): void;
  uploadBytesMax: number;
  uploadIntervalMs: number;
  log: Logger;
  /**
   * Who must still lead the partitions of an upload for its commit to stand (this broker, at each
   * log's current leader epoch). A fenced commit writes nothing; `onFenced` then answers which of
   * the partitions another broker really leads now: their items are dropped here (the new leader
   * replays them from the committed WAL). Others (a transient mismatch) are retried.
   */
  fence?(items: UploadItem[]): LeaderFence;
  onFenced?(partitions: FencedPartition[]): Promise<FencedPartition[]>;
}

export class Uploader {
  private readonly opts: UploaderOptions;
  private pending: { item: UploadItem; position: WalPosition }[] = [];
  private oldestMs = 0;
  private uploading: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  pendingBytes = 0;
  stats = { objects: 0, bytes: 0, failures: 0, fenced: 0 };

  constructor(opts: UploaderOptions) {
    this.opts = opts;
  }

  start(): void {
    this.timer = setInterval(() => this.maybeUpload(), Math.max(10, Math.floor(this.opts.uploadIntervalMs / 4)));
    this.timer.unref();
  }

  onDurable(item: UploadItem, position: WalPosition): void {
    if (this.pending.length === 0) this.oldestMs = Date.now();
    this.pending.push({ item, position });
    this.pendingBytes += item.data.length;
    if (this.pendingBytes >= this.opts.uploadBytesMax) this.maybeUpload();
  }

  private maybeUpload(): void {
    if (this.uploading || this.closed || this.pending.length === 0) return;
    if (this.pendingBytes < this.opts.uploadBytesMax && Date.now() - this.oldestMs < this.opts.uploadIntervalMs) return;
    this.uploading = this.uploadNext().finally(() => {
      this.uploading = null;
      this.maybeUpload();
    });
  }

  /** Uploads everything pending now (tests and shutdown use it to avoid waiting for the timer). */
  async flush(): Promise<void> {
    while (this.uploading) await this.uploading;
    while (this.pending.length > 0 && !this.closed) {
      this.uploading = this.uploadNext();
      await this.uploading;
      this.uploading = null;
    }
  }

  private async uploadNext(): Promise<void> {
    let bytes = 0;
    let n = 0;
    while (n < this.pending.length && (n === 0 || bytes + this.pending[n]!.item.data.length <= this.opts.uploadBytesMax)) {
      bytes += this.pending[n++]!.item.data.length;
    }
    const taken = this.pending.slice(0, n);
    // Group by partition, keeping offset order inside each partition.
    const groups = new Map<string, UploadItem[]>();
    for (const { item } of taken) {
      const k = `${item.topicId}:${item.partition}`;
      const g = groups.get(k);
      if (g) g.push(item);
      else groups.set(k, [item]);
    }
    const parts: Buffer[] = [];
    const ranges: NewObjectRange[] = [];
    let position = 0;
    for (const items of groups.values()) {
      const first = items[0]!;
      let size = 0;
      let maxTimestamp = -1;
      for (const it of items) {
        parts.push(it.data);
        size += it.data.length;
        if (it.maxTimestamp > maxTimestamp) maxTimestamp = it.maxTimestamp;
      }
      ranges.push({ topicId: first.topicId, partitionIndex: first.partition, baseOffset: first.baseOffset, endOffset: items[items.length - 1]!.endOffset, position, sizeBytes: size, maxTimestamp });
      position += size;
    }
    const producers = this.opts.producerSnapshots?.(taken.map((t) => t.item));
    // Retried until it succeeds or the uploader closes; an object put but not committed by then
    // is an orphan for the garbage collector.
    const fence = this.opts.fence?.(taken.map((t) => t.item));
    const written = await this.opts.writer.write({
      kind: 'data',
      parts,
      commit: async (key) => {
        try {
          return await this.opts.store.commitObject(key, position, ranges, producers?.snapshots, fence);
        } catch (err) {
          if (err instanceof FencedError) return err;
          throw err;
        }
      },
      retry: {
        active: () => !this.closed,
        delayMs: backoffDelayMs,
        onFailure: (err, key, attempt, delayMs) => {
          this.stats.failures++;
          this.opts.log.warn('upload failed; retrying', { key, attempt, delayMs, err });
        },
      },
    });
    if (!written) return;
    if (written.committed instanceof FencedError) {
      // Nothing refers to the object: it goes now rather than with the orphan sweep.
      await this.opts.writer.discard(written.key, 'data');
      await this.dropFenced(written.committed.partitions);
      return;
    }
    const { key, committed: objectId } = written;
    producers?.commit();
    for (const { item } of taken) item.uploaded = true;
    this.pending.splice(0, n);
    this.pendingBytes -= bytes;
    if (this.pending.length > 0) this.oldestMs = Date.now();
    this.stats.objects++;
    this.stats.bytes += position;
    this.opts.onCommitted(ranges.map((r) => ({ ...r, objectId, objectKey: key })));
    try {
      await this.opts.trimWal(taken[taken.length - 1]!.position);
    } catch (err) {
      this.opts.log.warn('WAL trim failed', { err: err as Error });
    }
  }

  /** After a fenced commit: items of partitions another broker leads now go; the rest waits a moment. */
  private async dropFenced(fenced: FencedPartition[]): Promise<void> {
    this.stats.fenced++;
    let elsewhere: FencedPartition[] = [];
    try {
      elsewhere = (await this.opts.onFenced?.(fenced)) ?? [];
    } catch (err) {
      this.opts.log.warn('could not tell who leads fenced partitions; the upload is retried', { err: err as Error });
    }
    const gone = new Set(elsewhere.map((p) => `${p.topicId}:${p.partitionIndex}`));
    const kept = this.pending.filter(({ item }) => !gone.has(`${item.topicId}:${item.partition}`));
    const dropped = this.pending.length - kept.length;
    for (const { item } of this.pending) if (gone.has(`${item.topicId}:${item.partition}`)) this.pendingBytes -= item.data.length;
    this.pending = kept;
    if (dropped > 0) this.opts.log.warn('upload dropped data of partitions another broker leads now', { partitions: gone.size, items: dropped });
    else await new Promise((r) => setTimeout(r, 200));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.uploading;
  }
}
