// Reads partition data that has left memory: finds the object ranges for an offset through a cached
// copy of the object index, and reads their bytes in fixed-size blocks through a bounded LRU block
// cache (ranged GETs), returning whole batches as views of cached blocks where they fit in one.
import type { MetadataStore, NewObjectRange, ObjectRange } from '../metadata/store.ts';
import type { ObjectStore } from './objects/object-store.ts';
import { StraitError } from '../common/errors.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';

/** Header bytes needed to know a batch's size and offsets. */
const HEADER_BYTES = 61;
/** Loads of one partition's index before an answer is used uncached (the index kept changing). */
const indexLoadAttemptsMax = 4;

export interface ObjectReaderOptions {
  objects: ObjectStore;
  store: MetadataStore;
  blockBytes: number;
  blockCacheBytesMax: number;
  /**
   * A read of batches (`read`, what fetches use) that takes longer fails with a retriable
   * KAFKA_STORAGE_ERROR; the object reads under way go on and fill the block cache for the retry.
   * An object store that hangs without failing (frozen, black-holed) would otherwise keep a fetch
   * waiting past the client's request timeout. 0: no bound.
   */
  readTimeoutMs?: number;
}

export class ObjectReader {
  private readonly opts: ObjectReaderOptions;
  private readonly index = new Map<string, ObjectRange[]>();
  /** Index loads under way, by partition; `stale` once the index changed after the load began. */
  private readonly loads = new Map<string, { ranges: Promise<ObjectRange[]>; stale: boolean }>();
  private readonly blocks = new Map<string, { data: Promise<Buffer>; sizeBytes: number }>();
  /** Bytes of blocks held (or being read) now; at most blockCacheBytesMax once reads settle. */
  blockCacheBytes = 0;
  stats = { blockHits: 0, blockMisses: 0 };

  constructor(opts: ObjectReaderOptions) {
    this.opts = opts;
  }

  /**
   * A partition's ranges, from the cache or loaded into it. The store answers some time after it
   * read (PostgreSQL: as of the statement's start), so an answer may predate an upload or an
   * invalidation that happened while it was on its way: such a load is marked stale by addRanges or
   * invalidate and is done again, rather than caching what the index no longer is. Concurrent
   * misses of one partition share one load.
   */
  private async rangesOf(topicId: string, partition: number): Promise<ObjectRange[]> {
    const k = `${topicId}:${partition}`;
    for (let attempt = 1; ; attempt++) {
      const cached = this.index.get(k);
      if (cached) return cached;
      let load = this.loads.get(k);
      if (!load) {
        load = { ranges: this.opts.store.objectRanges(topicId, partition), stale: false };
        this.loads.set(k, load);
      }
      let ranges: ObjectRange[];
      try {
        ranges = await load.ranges;
      } catch (err) {
        if (this.loads.get(k) === load) this.loads.delete(k);
        throw err;
      }
      if (!load.stale) {
        // The first waiter to get here installs the answer; the load stays registered until then,
        // so a change reported between the store's answer and this line still marks it stale.
        if (this.loads.get(k) === load) this.loads.delete(k);
        if (!this.index.has(k)) this.index.set(k, ranges);
        return this.index.get(k)!;
      }
      // The index changed while this answer was on its way; a partition changing faster than it
      // loads gets the latest answer uncached.
      if (attempt >= indexLoadAttemptsMax) return ranges;
    }
  }

  /** The index of `k` changed: a load under way may have read it before the change. */
  private changed(k: string): void {
    const load = this.loads.get(k);
    if (load) {
      load.stale = true;
      this.loads.delete(k);
    }
  }

  /** Adds freshly committed ranges to partitions whose index is already cached. A range already
   *  there (a load that ran after the commit found it) is not added again. */
  addRanges(ranges: (NewObjectRange & { objectId: number; objectKey: string })[]): void {
    for (const r of ranges) {
      const k = `${r.topicId}:${r.partitionIndex}`;
      this.changed(k);
      const list = this.index.get(k);
      if (!list) continue;
      // Ranges are in offset order and new ones come last: look back only over those not below it.
      let present = false;
      for (let i = list.length - 1; i >= 0 && list[i]!.baseOffset >= r.baseOffset; i--) {
        if (list[i]!.baseOffset === r.baseOffset && list[i]!.objectId === r.objectId) present = true;
      }
      if (!present) list.push({ ...r });
    }
  }

  /** Forgets a partition's cached index (after retention, compaction or deletion changed it). */
  invalidate(topicId: string, partition: number): void {
    const k = `${topicId}:${partition}`;
    this.index.delete(k);
    this.changed(k);
  }

  async ranges(topicId: string, partition: number): Promise<ObjectRange[]> {
    return this.rangesOf(topicId, partition);
  }

  async read(topicId: string, partition: number, offset: number, maxBytes: number, minOneBatch: boolean): Promise<Buffer[]> {
    const timeoutMs = this.opts.readTimeoutMs ?? 0;
    const reading = this.readBatches(topicId, partition, offset, maxBytes, minOneBatch);
    if (timeoutMs <= 0) return reading;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StraitError('STRAIT_OBJECT_READ_TIMEOUT', `object storage did not answer a read of ${topicId}-${partition} at offset ${offset} within ${timeoutMs} ms (object.store.read.timeout.ms)`, ErrorCode.KAFKA_STORAGE_ERROR)),
        timeoutMs,
      );
    });
    reading.catch(() => undefined); // answered late: its error, if any, is nobody's now
    try {
      return await Promise.race([reading, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async readBatches(topicId: string, partition: number, offset: number, maxBytes: number, minOneBatch: boolean): Promise<Buffer[]> {
    const ranges = await this.rangesOf(topicId, partition);
    let lo = 0;
    let hi = ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ranges[mid]!.endOffset <= offset) lo = mid + 1;
      else hi = mid;
    }
    const out: Buffer[] = [];
    let used = 0;
    for (let i = lo; i < ranges.length; i++) {
      const r = ranges[i]!;
      let pos = 0;
      while (pos + HEADER_BYTES <= r.sizeBytes) {
        const header = await this.bytes(r.objectKey, r.position + pos, HEADER_BYTES, r.position + r.sizeBytes);
        const size = 12 + header.readInt32BE(8);
        const last = Number(header.readBigInt64BE(0)) + header.readInt32BE(23);
        if (last >= offset) {
          if (used + size > maxBytes && !(minOneBatch && out.length === 0)) return out;
          out.push(await this.bytes(r.objectKey, r.position + pos, size, r.position + r.sizeBytes));
          used += size;
        }
        pos += size;
      }
    }
    return out;
  }

  /** Every batch of one range, as views. */
  async readRange(r: ObjectRange): Promise<Buffer[]> {
    const out: Buffer[] = [];
    const all = await this.bytes(r.objectKey, r.position, r.sizeBytes);
    for (let pos = 0; pos + HEADER_BYTES <= all.length; ) {
      const size = 12 + all.readInt32BE(pos + 8);
      out.push(all.subarray(pos, pos + size));
      pos += size;
    }
    return out;
  }

  /** Bytes [start, start+length) of an object, from cached blocks. Reading on towards `readAheadEnd`
   *  (the end of the range being scanned) starts fetching the next block before it is needed. */
  private async bytes(key: string, start: number, length: number, readAheadEnd = 0): Promise<Buffer> {
    const bs = this.opts.blockBytes;
    const first = Math.floor(start / bs);
    const last = Math.floor((start + length - 1) / bs);
    if ((last + 1) * bs < readAheadEnd) void this.block(key, last + 1).catch(() => {});
    if (first === last) {
      const block = await this.block(key, first);
      const from = start - first * bs;
      if (from + length > block.length) throw new Error(`object ${key} is shorter than its index says (${first * bs + block.length} < ${start + length})`);
      return block.subarray(from, from + length);
    }
    const parts: Buffer[] = [];
    for (let b = first; b <= last; b++) parts.push(await this.block(key, b));
    const joined = Buffer.concat(parts);
    const from = start - first * bs;
    if (from + length > joined.length) throw new Error(`object ${key} is shorter than its index says`);
    return joined.subarray(from, from + length);
  }

  private block(key: string, index: number): Promise<Buffer> {
    const k = `${key}#${index}`;
    const hit = this.blocks.get(k);
    if (hit) {
      this.stats.blockHits++;
      // Refresh its place in the LRU order.
      this.blocks.delete(k);
      this.blocks.set(k, hit);
      return hit.data;
    }
    this.stats.blockMisses++;
    const bs = this.opts.blockBytes;
    const entry = { data: this.opts.objects.get(key, { start: index * bs, end: (index + 1) * bs }), sizeBytes: 0 };
    this.blocks.set(k, entry);
    entry.data.then(
      (buf) => {
        if (this.blocks.get(k) !== entry) return;
        entry.sizeBytes = buf.length;
        this.blockCacheBytes += buf.length;
        this.evict();
      },
      () => {
        if (this.blocks.get(k) === entry) this.blocks.delete(k);
      },
    );
    return entry.data;
  }

  /** Drops least recently used blocks (loaded ones only) until the cache is within its bound. */
  private evict(): void {
    for (const [k, e] of this.blocks) {
      if (this.blockCacheBytes <= this.opts.blockCacheBytesMax) break;
      if (e.sizeBytes === 0) continue;
      this.blocks.delete(k);
      this.blockCacheBytes -= e.sizeBytes;
    }
  }
}
