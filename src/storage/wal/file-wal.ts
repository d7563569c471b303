// The file write-ahead log: segment files on local disk, written with group commit (one writev and
// one fdatasync for every append that arrived while the previous flush was on disk), so that a
// produce is acknowledged only once its batches are durable, and many produces share one fsync.
//
// Entry layout (big-endian):
//   u32 length of what follows the crc | u32 CRC-32 of what follows | u8 type (1 = batches)
//   16 B topic id | i32 partition | i64 base offset | i64 end offset (exclusive) | batches
// Every segment starts with a segment-start entry (u32 length | u32 CRC | u8 type 2 | i64 previous
// segment | i64 valid bytes of it): how much of the previous segment stands. A flush that failed
// and could not be cut off leaves rejected entries at the end of its segment, and the log reuses
// their offsets in the next one; this entry is what keeps a replay from bringing them back.
// Recovery reads every segment in order and stops a segment at the first entry that is truncated
// or fails its checksum (a torn write); the last segment is cut back to its last whole entry.
import { open, readdir, mkdir, unlink, readFile, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import type { Logger } from '../../common/logger.ts';
import { assert } from '../../common/errors.ts';
import { WalWriteError } from './wal.ts';
import type { ReplayedEntry, Wal, WalEntry, WalPosition } from './wal.ts';

const ENTRY_HEADER_BYTES = 45;
const TYPE_BATCHES = 1;
const TYPE_SEGMENT_START = 2;
const SEGMENT_START_BYTES = 8 + 1 + 8 + 8;
/** writev takes at most this many buffers per call on Linux (IOV_MAX). */
const IOV_MAX = 1024;

export interface WalOptions {
  dir: string;
  /** A segment is closed and a new one started once it reaches this size. */
  segmentBytesMax: number;
  /** One flush writes at most this much; more waits for the next flush. */
  flushBytesMax: number;
  /** How long a flush may wait for more appends to share its fsync (0: flush at once). */
  flushLingerMs: number;
  log: Logger;
  /** Test hook: returns an error to fail the next write (after writing part of it) or fsync. */
  faults?: (step: 'write' | 'sync') => Error | null;
}

interface Pending {
  parts: Buffer[];
  bytes: number;
  resolve: (p: WalPosition) => void;
  reject: (e: Error) => void;
}

function segmentName(seq: number): string {
  return `${String(seq).padStart(20, '0')}.wal`;
}

function encodeHeader(e: WalEntry): Buffer {
  const h = Buffer.allocUnsafe(ENTRY_HEADER_BYTES);
  h.writeUInt32BE(ENTRY_HEADER_BYTES - 8 + e.data.length, 0);
  h.writeUInt8(TYPE_BATCHES, 8);
  const written = h.write(e.topicId, 9, 16, 'base64url');
  assert(written === 16, `topic id ${e.topicId} is not 16 bytes`);
  h.writeInt32BE(e.partition, 25);
  h.writeBigInt64BE(BigInt(e.baseOffset), 29);
  h.writeBigInt64BE(BigInt(e.endOffset), 37);
  const crc = crc32(e.data, crc32(h.subarray(8)));
  h.writeUInt32BE(crc, 4);
  return h;
}

export class FileWal implements Wal {
  readonly kind = 'file' as const;
  private readonly opts: WalOptions;
  private fh: FileHandle | null = null;
  private segment = 0;
  private segmentBytes = 0;
  private queue: Pending[] = [];
  private queuedBytes = 0;
  /** Bytes handed to the current flush, for pendingBytes. */
  private flushingBytes = 0;
  private flushing = false;
  private lingerTimer: NodeJS.Timeout | null = null;
  private failure: Error | null = null;
  private closed = false;
  /** fsyncs done and entries written, for metrics and tests. */
  stats = { flushes: 0, entries: 0, bytes: 0 };

  constructor(opts: WalOptions) {
    this.opts = opts;
  }

  /** Opens the WAL, returns every intact entry in order, and starts a fresh segment for appends. */
  async open(): Promise<ReplayedEntry[]> {
    await mkdir(this.opts.dir, { recursive: true });
    const segments = await this.segments();
    const out: ReplayedEntry[] = [];
    for (let i = 0; i < segments.length; i++) {
      const seq = segments[i]!;
      const validBytes = await this.replaySegment(seq, out);
      const size = (await stat(join(this.opts.dir, segmentName(seq)))).size;
      if (validBytes < size) {
        this.opts.log.warn('WAL segment has a torn or corrupt tail; ignoring it', { segment: seq, validBytes, sizeBytes: size });
        if (i === segments.length - 1) {
          const fh = await open(join(this.opts.dir, segmentName(seq)), 'r+');
          await fh.truncate(validBytes);
          await fh.datasync();
          await fh.close();
        }
      }
    }
    // Appends always go to a new segment, so recovery never has to trust an old tail again.
    const last = segments[segments.length - 1];
    const lastValid = last === undefined ? 0 : (await stat(join(this.opts.dir, segmentName(last)))).size;
    await this.roll((last ?? 0) + 1, last ?? 0, lastValid);
    return out;
  }

  private async segments(): Promise<number[]> {
    const names = await readdir(this.opts.dir);
    return names
      .filter((n) => /^\d{20}\.wal$/.test(n))
      .map((n) => Number(n.slice(0, 20)))
      .sort((a, b) => a - b);
  }

  private async replaySegment(seq: number, out: ReplayedEntry[]): Promise<number> {
    const buf = await readFile(join(this.opts.dir, segmentName(seq)));
    let pos = 0;
    while (pos + 8 <= buf.length) {
      const len = buf.readUInt32BE(pos);
      const end = pos + 8 + len;
      if (len < 1 || end > buf.length) break;
      const body = buf.subarray(pos + 8, end);
      if (crc32(body) !== buf.readUInt32BE(pos + 4)) break;
      if (body[0] === TYPE_SEGMENT_START && body.length === SEGMENT_START_BYTES - 8) {
        // Entries of the previous segment past what stands of it were rejected: drop them.
        const previous = Number(body.readBigInt64BE(1));
        const validBytes = Number(body.readBigInt64BE(9));
        while (out.length > 0 && out[out.length - 1]!.position.segment === previous && out[out.length - 1]!.position.offset > validBytes) out.pop();
      } else if (body[0] === TYPE_BATCHES && body.length >= ENTRY_HEADER_BYTES - 8) {
        out.push({
          topicId: body.toString('base64url', 1, 17),
          partition: body.readInt32BE(17),
          baseOffset: Number(body.readBigInt64BE(21)),
          endOffset: Number(body.readBigInt64BE(29)),
          data: body.subarray(ENTRY_HEADER_BYTES - 8),
          position: { segment: seq, offset: end },
        });
      }
      pos = end;
    }
    return pos;
  }

  /** Starts segment `seq`, recording that `previous` stands up to `previousValidBytes`; durable before any append goes there. */
  private async roll(seq: number, previous: number, previousValidBytes: number): Promise<void> {
    const path = join(this.opts.dir, segmentName(seq));
    const fh = await open(path, 'wx');
    try {
      const start = Buffer.alloc(SEGMENT_START_BYTES);
      start.writeUInt32BE(SEGMENT_START_BYTES - 8, 0);
      start.writeUInt8(TYPE_SEGMENT_START, 8);
      start.writeBigInt64BE(BigInt(previous), 9);
      start.writeBigInt64BE(BigInt(previousValidBytes), 17);
      start.writeUInt32BE(crc32(start.subarray(8)), 4);
      const { bytesWritten } = await fh.write(start, 0, start.length, 0);
      if (bytesWritten !== start.length) throw new Error(`short write: ${bytesWritten} of ${start.length} bytes`);
      await fh.datasync();
      const dir = await open(this.opts.dir, 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (err) {
      await fh.close().catch(() => {});
      await unlink(path).catch(() => {});
      throw err;
    }
    const old = this.fh;
    this.fh = fh;
    this.segment = seq;
    this.segmentBytes = SEGMENT_START_BYTES;
    await old?.close().catch(() => {});
  }

  /** Appends one entry; resolves with its end position once it is durable. */
  append(e: WalEntry): Promise<WalPosition> {
    if (this.closed) return Promise.reject(new WalWriteError('WAL is closed'));
    if (this.failure) return Promise.reject(new WalWriteError(`WAL unavailable after a write failure: ${this.failure.message}`));
    const header = encodeHeader(e);
    return new Promise((resolve, reject) => {
      const bytes = header.length + e.data.length;
      this.queue.push({ parts: [header, e.data], bytes, resolve, reject });
      this.queuedBytes += bytes;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.flushing || this.queue.length === 0) return;
    if (this.opts.flushLingerMs > 0 && this.queuedBytes < this.opts.flushBytesMax) {
      this.lingerTimer ??= setTimeout(() => {
        this.lingerTimer = null;
        void this.flush();
      }, this.opts.flushLingerMs);
      return;
    }
    void this.flush();
  }

  private async flush(): Promise<void> {
    if (this.flushing || this.queue.length === 0) return;
    if (this.lingerTimer) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = null;
    }
    this.flushing = true;
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || bytes + this.queue[n]!.bytes <= this.opts.flushBytesMax)) bytes += this.queue[n++]!.bytes;
    const batch = this.queue.splice(0, n);
    this.queuedBytes -= bytes;
    const start = this.segmentBytes;
    try {
      const parts = batch.flatMap((p) => p.parts);
      let position = start;
      const writeFault = this.opts.faults?.('write');
      if (writeFault) {
        // A torn write: part of the data reaches the file before the error, as with a full disk.
        await this.fh!.write(parts[0]!, 0, Math.ceil(parts[0]!.length / 2), position);
        throw writeFault;
      }
      for (let i = 0; i < parts.length; i += IOV_MAX) {
        const chunk = parts.slice(i, i + IOV_MAX);
        const want = chunk.reduce((s, b) => s + b.length, 0);
        const { bytesWritten } = await this.fh!.writev(chunk, position);
        if (bytesWritten !== want) throw new Error(`short write: ${bytesWritten} of ${want} bytes`);
        position += want;
      }
      const syncFault = this.opts.faults?.('sync');
      if (syncFault) throw syncFault;
      await this.fh!.datasync();
      this.segmentBytes = position;
      this.stats.flushes++;
      this.stats.entries += batch.length;
      this.stats.bytes += bytes;
      let end = start;
      for (const p of batch) {
        end += p.bytes;
        p.resolve({ segment: this.segment, offset: end });
      }
    } catch (err) {
      await this.fail(err as Error, batch, start);
    }
    // Still "flushing" while a full segment is replaced, so no other flush writes or rolls meanwhile.
    if (this.segmentBytes >= this.opts.segmentBytesMax && !this.failure) {
      await this.roll(this.segment + 1, this.segment, this.segmentBytes).catch((err) => this.fail(err as Error, [], this.segmentBytes));
    }
    this.flushing = false;
    this.schedule();
  }

  /** Fails the flushed and the queued appends (offsets after a failed one cannot stand), then tries to
   *  recover by cutting the partial write off, or by moving to a new segment. */
  private async fail(err: Error, batch: Pending[], goodBytes: number): Promise<void> {
    const queued = this.queue.splice(0);
    this.queuedBytes = 0;
    const wrapped = new WalWriteError(`WAL write failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`);
    this.opts.log.error('WAL write failed; failing the affected produces', { err, entries: batch.length + queued.length });
    for (const p of [...batch, ...queued]) p.reject(wrapped);
    try {
      await this.fh!.truncate(goodBytes);
      await this.fh!.datasync();
      this.segmentBytes = goodBytes;
    } catch {
      // The failed bytes stay in this segment: the next one starts by saying where this one ends.
      try {
        await this.roll(this.segment + 1, this.segment, goodBytes);
      } catch (rollErr) {
        this.failure = rollErr as Error;
        this.opts.log.error('WAL cannot recover; produces fail until restart', { err: rollErr as Error });
      }
    }
  }

  /** Deletes segments that hold only entries before `upTo` (all uploaded to object storage). */
  async trim(upTo: WalPosition): Promise<number> {
    let removed = 0;
    for (const seq of await this.segments()) {
      if (seq >= upTo.segment || seq === this.segment) break;
      await unlink(join(this.opts.dir, segmentName(seq)));
      removed++;
    }
    return removed;
  }

  /** Appends waiting for the next flush (the one on disk now is not counted). */
  get pendingBytes(): number {
    return this.queuedBytes;
  }

  get currentSegment(): number {
    return this.segment;
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing || this.queue.length > 0) {
      if (!this.flushing) await this.flush();
      else await new Promise((r) => setTimeout(r, 1));
    }
    await this.fh?.close();
    this.fh = null;
  }
}
