// The payload codecs of a record batch (the bytes after the 61-byte header), for background jobs
// (compaction, validation tools). The broker's produce and fetch paths never call these.
//
//   gzip    node:zlib. Java writes one gzip member (GZIPOutputStream); librdkafka the same.
//   snappy  `snappy` (napi-rs, prebuilt) for raw snappy blocks. Kafka's Java producer writes
//           snappy-java's xerial framing; librdkafka writes one raw snappy block and reads both, and
//           snappy-java's reader falls back to raw too. We read both and write xerial like Java.
//   lz4     the LZ4 frame format (lz4_Frame_format.md) implemented here over raw blocks from
//           `lz4-napi` (napi-rs + lz4_flex, prebuilt). We write exactly what Kafka's
//           Lz4BlockOutputStream writes: FLG 0x60 (version 1, independent blocks, no block or content
//           checksum, no content size), BD 0x40 (64 KiB blocks), a correct header checksum (the
//           "broken" one was only for magic v0), blocks stored raw when they do not shrink, end mark.
//           We read any conforming frame: block and content checksums, content size, linked blocks
//           (Kafka rejects those; lz4 supports them), concatenated frames, skippable frames.
//   zstd    node:zlib (zstdCompressSync/zstdDecompressSync, Node 24); level 3 like Kafka's default.
//           Node's decoder stops after the first frame, while zstd-jni (Java) and libzstd
//           (librdkafka) read concatenated frames, so we find the frame boundaries ourselves.
//
// The native packages load on first use, so a broker that never decompresses never loads them.
// Every decompressed size is bounded (decompressedBytesMax) so a small hostile batch cannot make a
// background job allocate gigabytes.
import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import { COMPRESSION_BY_ID, RecordBatchError } from './batch.ts';
import type { Compression } from './batch.ts';

/** The default bound on one batch's decompressed records, in bytes. */
export const DECOMPRESSED_BYTES_MAX_DEFAULT = 256 * 1024 * 1024;

export interface DecompressOptions {
  decompressedBytesMax?: number;
}

export interface CompressOptions {
  /** Codec level where the codec has one (gzip 1-9, zstd 1-22); the codec's default otherwise. */
  level?: number;
}

// ---- native packages, loaded lazily -------------------------------------------------------------

interface SnappyModule {
  compressSync(input: Uint8Array): Buffer;
  uncompressSync(input: Uint8Array, options?: { asBuffer?: boolean }): string | Buffer;
}
interface Lz4Module {
  compressSync(data: Buffer): Buffer;
  uncompressSync(data: Uint8Array, dict?: Uint8Array | null): Buffer;
}

const require = createRequire(import.meta.url);
let snappyModule: SnappyModule | null = null;
let lz4Module: Lz4Module | null = null;

function loadSnappy(): SnappyModule {
  return (snappyModule ??= require('snappy') as SnappyModule);
}
function loadLz4(): Lz4Module {
  return (lz4Module ??= require('lz4-napi') as Lz4Module);
}

// ---- entry points ---------------------------------------------------------------------------------

/** Decompresses a batch payload; every failure is a RecordBatchError with reason 'compression'. */
export function decompress(codec: Compression, data: Buffer, options: DecompressOptions = {}): Buffer {
  const max = options.decompressedBytesMax ?? DECOMPRESSED_BYTES_MAX_DEFAULT;
  try {
    switch (codec) {
      case 'none':
        return data;
      case 'gzip':
        return zlib.gunzipSync(data, { maxOutputLength: max });
      case 'snappy':
        return snappyDecompress(data, max);
      case 'lz4':
        return lz4FrameDecompress(data, max);
      case 'zstd':
        return zstdDecompress(data, max);
    }
  } catch (e) {
    if (e instanceof RecordBatchError) throw e;
    throw new RecordBatchError('compression', `${codec} payload does not decompress: ${(e as Error).message}`);
  }
}

export function compress(codec: Compression, data: Buffer, options: CompressOptions = {}): Buffer {
  switch (codec) {
    case 'none':
      return data;
    case 'gzip':
      return zlib.gzipSync(data, options.level === undefined ? {} : { level: options.level });
    case 'snappy':
      return snappyXerialCompress(data);
    case 'lz4':
      return lz4FrameCompress(data);
    case 'zstd':
      return zlib.zstdCompressSync(data, {
        params: { [zlib.constants.ZSTD_c_compressionLevel]: options.level ?? ZSTD_LEVEL_DEFAULT },
      });
  }
}

/** Kafka's default zstd level (ZstdCompression.DEFAULT_LEVEL, zstd's own default). */
export const ZSTD_LEVEL_DEFAULT = 3;

export const compressionName = (id: number): Compression | undefined => COMPRESSION_BY_ID[id];

// ---- snappy ---------------------------------------------------------------------------------------

/** snappy-java's stream header: 0x82 "SNAPPY" 0x00, then int32 version and int32 compatible version. */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;
const XERIAL_VERSION = 1;
const XERIAL_COMPATIBLE_VERSION = 1;
/** SnappyOutputStream's default block size, which Kafka's SnappyCompression uses. */
export const XERIAL_BLOCK_BYTES = 32 * 1024;

function isXerial(data: Buffer, at: number): boolean {
  return data.length - at >= XERIAL_MAGIC.length && data.compare(XERIAL_MAGIC, 0, XERIAL_MAGIC.length, at, at + XERIAL_MAGIC.length) === 0;
}

function snappyDecompress(data: Buffer, max: number): Buffer {
  if (!isXerial(data, 0)) return snappyRawDecompress(data, max);
  const parts: Buffer[] = [];
  let total = 0;
  let at = 0;
  while (at < data.length) {
    // snappy-java reads a header again where a concatenated stream starts.
    if (isXerial(data, at)) {
      if (data.length - at < XERIAL_HEADER_BYTES) throw new RecordBatchError('compression', 'xerial snappy header is truncated');
      at += XERIAL_HEADER_BYTES;
      continue;
    }
    if (data.length - at < 4) throw new RecordBatchError('compression', `xerial snappy chunk length is truncated at ${at}`);
    const len = data.readInt32BE(at);
    at += 4;
    if (len < 0 || len > data.length - at) throw new RecordBatchError('compression', `xerial snappy chunk of ${len} bytes at ${at - 4} overruns the payload`);
    const block = snappyRawDecompress(data.subarray(at, at + len), max - total);
    total += block.length;
    parts.push(block);
    at += len;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}

function snappyRawDecompress(block: Buffer, max: number): Buffer {
  // A raw snappy block starts with its uncompressed length as an unsigned varint: check the bound
  // before the codec allocates it.
  let declared = 0;
  for (let i = 0, shift = 0; ; i++, shift += 7) {
    if (i >= block.length || i >= 5) throw new RecordBatchError('compression', 'snappy block has no valid length');
    const b = block[i]!;
    declared += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) break;
  }
  if (declared > max) throw new RecordBatchError('compression', `snappy block of ${declared} bytes exceeds the limit of ${max}`);
  return loadSnappy().uncompressSync(block, { asBuffer: true }) as Buffer;
}

function snappyXerialCompress(data: Buffer): Buffer {
  const snappy = loadSnappy();
  const parts: Buffer[] = [];
  const header = Buffer.alloc(XERIAL_HEADER_BYTES);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(XERIAL_VERSION, 8);
  header.writeInt32BE(XERIAL_COMPATIBLE_VERSION, 12);
  parts.push(header);
  let total = header.length;
  for (let at = 0; at < data.length; at += XERIAL_BLOCK_BYTES) {
    const block = snappy.compressSync(data.subarray(at, Math.min(at + XERIAL_BLOCK_BYTES, data.length)));
    const len = Buffer.alloc(4);
    len.writeInt32BE(block.length, 0);
    parts.push(len, block);
    total += 4 + block.length;
  }
  return Buffer.concat(parts, total);
}

// ---- zstd -----------------------------------------------------------------------------------------

const ZSTD_MAGIC = 0xfd2fb528;
/** Skippable frames: magic 0x184D2A50-0x184D2A5F, then a uint32 size (shared with LZ4). */
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

function zstdError(message: string): RecordBatchError {
  return new RecordBatchError('compression', `zstd: ${message}`);
}

/** Where the zstd frame that starts at `at` ends, walking its header and block headers (RFC 8878). */
function zstdFrameEnd(data: Buffer, at: number): number {
  if (data.length - at < 6) throw zstdError(`truncated frame header at ${at}`);
  const fhd = data[at + 4]!;
  const singleSegment = (fhd & 0x20) !== 0;
  const fcsFlag = fhd >> 6;
  const fcsBytes = fcsFlag === 0 ? (singleSegment ? 1 : 0) : 1 << fcsFlag;
  const dictBytes = [0, 1, 2, 4][fhd & 0x03]!;
  let p = at + 5 + (singleSegment ? 0 : 1) + dictBytes + fcsBytes;
  for (;;) {
    if (data.length - p < 3) throw zstdError(`truncated block header at ${p}`);
    const bh = data[p]! | (data[p + 1]! << 8) | (data[p + 2]! << 16);
    const type = (bh >> 1) & 0x03;
    if (type === 3) throw zstdError(`reserved block type at ${p}`);
    p += 3 + (type === 1 ? 1 : bh >>> 3);
    if (bh & 1) break;
  }
  if (fhd & 0x04) p += 4; // content checksum
  if (p > data.length) throw zstdError('truncated frame');
  return p;
}

function zstdDecompress(data: Buffer, max: number): Buffer {
  const out: Buffer[] = [];
  let total = 0;
  let at = 0;
  do {
    if (data.length - at < 4) throw zstdError(`truncated frame magic at ${at}`);
    const magic = data.readUInt32LE(at);
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      if (data.length - at < 8) throw zstdError(`truncated skippable frame at ${at}`);
      at += 8 + data.readUInt32LE(at + 4);
      if (at > data.length) throw zstdError('skippable frame overruns the payload');
      continue;
    }
    if (magic !== ZSTD_MAGIC) throw zstdError(`bad frame magic 0x${magic.toString(16)} at ${at}`);
    const end = zstdFrameEnd(data, at);
    const frame = zlib.zstdDecompressSync(at === 0 && end === data.length ? data : data.subarray(at, end), { maxOutputLength: Math.max(1, max - total) });
    total += frame.length;
    if (total > max) throw zstdError(`decompressed size exceeds the limit of ${max}`);
    out.push(frame);
    at = end;
  } while (at < data.length);
  return out.length === 1 ? out[0]! : Buffer.concat(out, total);
}

// ---- xxHash32 (for the LZ4 frame's checksums) -----------------------------------------------------

const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));
const u32le = (b: Uint8Array, i: number): number => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
const lane = (acc: number, input: number): number => Math.imul(rotl((acc + Math.imul(input, P2)) | 0, 13), P1);

/** xxHash32 of buf[start, end) with the given seed, as an unsigned number. */
export function xxhash32(buf: Uint8Array, start = 0, end = buf.length, seed = 0): number {
  let i = start;
  let acc: number;
  if (end - start >= 16) {
    let v1 = (seed + P1 + P2) | 0;
    let v2 = (seed + P2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - P1) | 0;
    for (const stop = end - 15; i < stop; i += 16) {
      v1 = lane(v1, u32le(buf, i));
      v2 = lane(v2, u32le(buf, i + 4));
      v3 = lane(v3, u32le(buf, i + 8));
      v4 = lane(v4, u32le(buf, i + 12));
    }
    acc = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    acc = (seed + P5) | 0;
  }
  acc = (acc + (end - start)) | 0;
  for (; i + 4 <= end; i += 4) acc = Math.imul(rotl((acc + Math.imul(u32le(buf, i), P3)) | 0, 17), P4);
  for (; i < end; i++) acc = Math.imul(rotl((acc + Math.imul(buf[i]!, P5)) | 0, 11), P1);
  acc ^= acc >>> 15;
  acc = Math.imul(acc, P2);
  acc ^= acc >>> 13;
  acc = Math.imul(acc, P3);
  acc ^= acc >>> 16;
  return acc >>> 0;
}

// ---- LZ4 frame ------------------------------------------------------------------------------------

const LZ4_MAGIC = 0x184d2204;
const LZ4_UNCOMPRESSED_BIT = 0x80000000;

const FLG_VERSION_MASK = 0xc0;
const FLG_VERSION_1 = 0x40;
const FLG_BLOCK_INDEPENDENT = 0x20;
const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const FLG_DICT_ID = 0x01;
const FLG_RESERVED = 0x02;

/** What Kafka's Lz4BlockOutputStream writes: version 1, independent blocks, nothing optional. */
const KAFKA_FLG = FLG_VERSION_1 | FLG_BLOCK_INDEPENDENT;
/** Block size id 4: 64 KiB blocks (Kafka's BLOCKSIZE_64KB). */
const KAFKA_BD = 4 << 4;
export const LZ4_BLOCK_BYTES = 64 * 1024;
/** A linked block may refer back this far into what came before it. */
const LZ4_WINDOW_BYTES = 64 * 1024;

const lz4HeaderChecksum = (buf: Uint8Array, start: number, end: number): number => (xxhash32(buf, start, end) >>> 8) & 0xff;

function lz4Error(message: string): RecordBatchError {
  return new RecordBatchError('compression', `lz4: ${message}`);
}

/** Decompresses one or more concatenated LZ4 frames. */
export function lz4FrameDecompress(data: Buffer, max = DECOMPRESSED_BYTES_MAX_DEFAULT): Buffer {
  const out: Buffer[] = [];
  let total = 0;
  let at = 0;
  do {
    if (data.length - at < 4) throw lz4Error(`truncated frame magic at ${at}`);
    const magic = data.readUInt32LE(at);
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      if (data.length - at < 8) throw lz4Error(`truncated skippable frame at ${at}`);
      const skip = data.readUInt32LE(at + 4);
      if (skip > data.length - at - 8) throw lz4Error(`skippable frame at ${at} overruns the payload`);
      at += 8 + skip;
      continue;
    }
    if (magic !== LZ4_MAGIC) throw lz4Error(`bad frame magic 0x${magic.toString(16)} at ${at}`);
    at = lz4DecodeFrame(data, at + 4, out, max - total, (n) => (total += n));
  } while (at < data.length);
  return out.length === 1 ? out[0]! : Buffer.concat(out, total);
}

/** Decodes the frame whose descriptor starts at `at`; appends its content to out; returns where it ends. */
function lz4DecodeFrame(data: Buffer, at: number, out: Buffer[], max: number, counted: (n: number) => void): number {
  const descriptorStart = at;
  if (data.length - at < 3) throw lz4Error('truncated frame descriptor');
  const flg = data[at]!;
  const bd = data[at + 1]!;
  if ((flg & FLG_VERSION_MASK) !== FLG_VERSION_1) throw lz4Error(`unsupported frame version ${(flg & FLG_VERSION_MASK) >> 6}`);
  if (flg & FLG_RESERVED || bd & 0x8f) throw lz4Error('reserved descriptor bits are set');
  if (flg & FLG_DICT_ID) throw lz4Error('frames that need a dictionary are not supported');
  const blockSizeId = (bd >> 4) & 0x07;
  if (blockSizeId < 4) throw lz4Error(`invalid block size id ${blockSizeId}`);
  const blockMax = 1 << (2 * blockSizeId + 8);
  at += 2;
  let contentSize = -1;
  if (flg & FLG_CONTENT_SIZE) {
    if (data.length - at < 9) throw lz4Error('truncated content size');
    contentSize = data.readUInt32LE(at) + data.readUInt32LE(at + 4) * 4294967296;
    if (contentSize > max) throw lz4Error(`frame declares ${contentSize} bytes, beyond the limit of ${max}`);
    at += 8;
  }
  if (data[at] !== lz4HeaderChecksum(data, descriptorStart, at)) throw lz4Error('frame descriptor checksum mismatch');
  at += 1;

  const lz4 = loadLz4();
  const independent = (flg & FLG_BLOCK_INDEPENDENT) !== 0;
  const blockChecksums = (flg & FLG_BLOCK_CHECKSUM) !== 0;
  const frameStart = out.length;
  let frameBytes = 0;
  // lz4-napi's block decoder reads the output size from a 4-byte prefix; the block max is an upper bound.
  let scratch = Buffer.alloc(0);
  for (;;) {
    if (data.length - at < 4) throw lz4Error('truncated block size');
    const word = data.readUInt32LE(at);
    at += 4;
    if (word === 0) break; // end mark
    const stored = (word & LZ4_UNCOMPRESSED_BIT) !== 0;
    const len = word & ~LZ4_UNCOMPRESSED_BIT;
    if (len > blockMax) throw lz4Error(`block of ${len} bytes exceeds the frame's maximum ${blockMax}`);
    if (data.length - at < len + (blockChecksums ? 4 : 0)) throw lz4Error('truncated block');
    if (blockChecksums && xxhash32(data, at, at + len) !== data.readUInt32LE(at + len)) throw lz4Error('block checksum mismatch');
    let block: Buffer;
    if (stored) {
      block = data.subarray(at, at + len);
    } else {
      if (scratch.length < len + 4) scratch = Buffer.alloc(Math.max(len + 4, 4096));
      scratch.writeUInt32LE(blockMax, 0);
      data.copy(scratch, 4, at, at + len);
      const input = scratch.subarray(0, len + 4);
      try {
        block = independent ? lz4.uncompressSync(input) : lz4.uncompressSync(input, lz4Window(out, frameStart));
      } catch (e) {
        throw lz4Error(`block at ${at} does not decompress: ${(e as Error).message}`);
      }
    }
    frameBytes += block.length;
    if (frameBytes > max) throw lz4Error(`decompressed size exceeds the limit of ${max}`);
    out.push(block);
    at += len + (blockChecksums ? 4 : 0);
  }
  if (flg & FLG_CONTENT_CHECKSUM) {
    if (data.length - at < 4) throw lz4Error('truncated content checksum');
    const content = out.length - frameStart === 1 ? out[frameStart]! : Buffer.concat(out.slice(frameStart), frameBytes);
    if (xxhash32(content) !== data.readUInt32LE(at)) throw lz4Error('content checksum mismatch');
    at += 4;
  }
  if (contentSize >= 0 && contentSize !== frameBytes) throw lz4Error(`frame declares ${contentSize} bytes, holds ${frameBytes}`);
  counted(frameBytes);
  return at;
}

/** The last 64 KiB this frame produced: the dictionary a linked block may refer to. */
function lz4Window(out: Buffer[], frameStart: number): Buffer | null {
  const picked: Buffer[] = [];
  let n = 0;
  for (let i = out.length - 1; i >= frameStart && n < LZ4_WINDOW_BYTES; i--) {
    picked.unshift(out[i]!);
    n += out[i]!.length;
  }
  if (n === 0) return null;
  const all = picked.length === 1 ? picked[0]! : Buffer.concat(picked, n);
  return all.length > LZ4_WINDOW_BYTES ? all.subarray(all.length - LZ4_WINDOW_BYTES) : all;
}

/** Compresses data into one LZ4 frame laid out exactly as Kafka's Lz4BlockOutputStream writes it. */
export function lz4FrameCompress(data: Buffer): Buffer {
  const lz4 = loadLz4();
  const header = Buffer.alloc(7);
  header.writeUInt32LE(LZ4_MAGIC, 0);
  header[4] = KAFKA_FLG;
  header[5] = KAFKA_BD;
  header[6] = lz4HeaderChecksum(header, 4, 6);
  const parts: Buffer[] = [header];
  let total = header.length;
  for (let at = 0; at < data.length; at += LZ4_BLOCK_BYTES) {
    const chunk = data.subarray(at, Math.min(at + LZ4_BLOCK_BYTES, data.length));
    // lz4-napi prefixes the block with its uncompressed size (LE uint32); the frame does not want it.
    const block = lz4.compressSync(chunk).subarray(4);
    const size = Buffer.alloc(4);
    if (block.length < chunk.length) {
      size.writeUInt32LE(block.length, 0);
      parts.push(size, block);
      total += 4 + block.length;
    } else {
      // Kafka stores a block that does not shrink as is, flagged by the high bit of its size.
      size.writeUInt32LE((chunk.length | LZ4_UNCOMPRESSED_BIT) >>> 0, 0);
      parts.push(size, chunk);
      total += 4 + chunk.length;
    }
  }
  parts.push(Buffer.alloc(4)); // end mark; Kafka writes no content checksum
  total += 4;
  return Buffer.concat(parts, total);
}
