// Individual records inside a v2 batch, for background jobs (compaction, validation, tools): decode a
// batch into its records and build a batch from records. The broker's produce and fetch paths never
// come here (see batch.ts).
//
// One record (Kafka's DefaultRecord; varints are zig-zag, like protobuf's sint32/sint64):
//   length varint (bytes after it) · attributes int8 (unused, 0) · timestampDelta varlong
//   offsetDelta varint · keyLength varint (-1 = null) · key · valueLength varint (-1 = null) · value
//   headerCount varint · headers: keyLength varint · key (UTF-8) · valueLength varint (-1 = null) · value
//
// Control records (KIP-98) carry a key of version int16 + type int16, and for transaction markers a
// value of version int16 + coordinatorEpoch int32 (EndTxnMarker.json v0).
import {
  ATTR_CONTROL,
  ATTR_DELETE_HORIZON,
  ATTR_TIMESTAMP_TYPE,
  ATTR_TRANSACTIONAL,
  ATTRIBUTES_OFFSET,
  COMPRESSION_ID,
  LOG_OVERHEAD,
  MAGIC_V2,
  NO_PARTITION_LEADER_EPOCH,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  NO_TIMESTAMP,
  RECORDS_OFFSET,
  RecordBatchError,
  batchSizeAt,
  compressionOf,
  readBatchHeader,
  verifyCrc,
  writeCrc,
  writeInt64,
} from './batch.ts';
import type { BatchHeader, Compression, SplitOptions, TimestampType } from './batch.ts';
import { compress, decompress } from './compression.ts';
import { assert } from '../../common/errors.ts';

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/** A decoded record. key, value and header values are views into the (decompressed) batch bytes. */
export interface KafkaRecord {
  /** baseOffset + offsetDelta. */
  offset: number;
  /** LogAppendTime batches: the batch's maxTimestamp; otherwise baseTimestamp + timestampDelta. */
  timestamp: number;
  offsetDelta: number;
  timestampDelta: number;
  /** Unused by Kafka (always 0); kept so a rebuilt batch can carry it unchanged. */
  attributes: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface DecodedBatch {
  header: BatchHeader;
  compression: Compression;
  timestampType: TimestampType;
  isTransactional: boolean;
  isControl: boolean;
  /** KIP-534: when set, baseTimestamp is the delete horizon of a compacted batch. */
  deleteHorizonMs: number | null;
  records: KafkaRecord[];
}

export interface ReadBatchOptions {
  /** Check the CRC before decoding (default true). */
  verifyCrc?: boolean;
  /** Bound on the decompressed records, in bytes (default DECOMPRESSED_BYTES_MAX_DEFAULT). */
  decompressedBytesMax?: number;
}

// ---- varints ----------------------------------------------------------------------------------------

/** A position in a buffer that the decoders advance; `end` bounds what they may read. */
interface Cursor {
  buf: Buffer;
  pos: number;
  end: number;
}

function corrupt(message: string): RecordBatchError {
  return new RecordBatchError('records', message);
}

/** Zig-zag varint of at most 5 bytes (int32). */
function readVarint(c: Cursor): number {
  let raw = 0;
  for (let shift = 0; ; shift += 7) {
    if (c.pos >= c.end) throw corrupt(`truncated varint at ${c.pos}`);
    const b = c.buf[c.pos++]!;
    if (shift === 28 && b > 0x0f) throw corrupt(`varint longer than 32 bits at ${c.pos - 1}`);
    raw += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) break;
  }
  return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
}

/** Zig-zag varlong of at most 10 bytes, as a number; values beyond ±2^53 are rejected. */
function readVarlong(c: Cursor): number {
  let raw = 0;
  for (let shift = 0; ; shift += 7) {
    if (c.pos >= c.end) throw corrupt(`truncated varlong at ${c.pos}`);
    if (shift > 63) throw corrupt(`varlong longer than 64 bits at ${c.pos}`);
    const b = c.buf[c.pos++]!;
    raw += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) break;
  }
  if (raw > Number.MAX_SAFE_INTEGER) throw new RecordBatchError('int64-range', `varlong at ${c.pos} is beyond ±2^53`);
  return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
}

function varintSize(v: number): number {
  let raw = v >= 0 ? v * 2 : -v * 2 - 1;
  let n = 1;
  while (raw >= 0x80) {
    raw = Math.floor(raw / 128);
    n++;
  }
  return n;
}

function writeVarint(buf: Buffer, at: number, v: number): number {
  let raw = v >= 0 ? v * 2 : -v * 2 - 1;
  while (raw >= 0x80) {
    buf[at++] = (raw % 128) | 0x80;
    raw = Math.floor(raw / 128);
  }
  buf[at++] = raw;
  return at;
}

/** Length-prefixed bytes, null for length -1; a view, not a copy. */
function readNullableBytes(c: Cursor, what: string): Buffer | null {
  const len = readVarint(c);
  if (len === -1) return null;
  if (len < 0) throw corrupt(`${what} has negative length ${len}`);
  if (len > c.end - c.pos) throw corrupt(`${what} of ${len} bytes overruns the record`);
  const v = c.buf.subarray(c.pos, c.pos + len);
  c.pos += len;
  return v;
}

// ---- decoding ---------------------------------------------------------------------------------------

function readRecord(c: Cursor, header: BatchHeader, logAppendTime: boolean): KafkaRecord {
  const start = c.pos;
  const length = readVarint(c);
  if (length < 0 || length > c.end - c.pos) throw corrupt(`record at ${start} has length ${length}, ${c.end - c.pos} bytes remain`);
  const recordEnd = c.pos + length;
  const outerEnd = c.end;
  c.end = recordEnd;
  if (c.pos >= c.end) throw corrupt(`record at ${start} is empty`);
  const attributes = c.buf.readInt8(c.pos++);
  const timestampDelta = readVarlong(c);
  const offsetDelta = readVarint(c);
  const key = readNullableBytes(c, 'record key');
  const value = readNullableBytes(c, 'record value');
  const headerCount = readVarint(c);
  if (headerCount < 0) throw corrupt(`record at ${start} has ${headerCount} headers`);
  const headers: RecordHeader[] = [];
  for (let i = 0; i < headerCount; i++) {
    const hk = readNullableBytes(c, 'header key');
    if (hk === null) throw corrupt(`record at ${start} has a header with a null key`);
    headers.push({ key: hk.toString('utf8'), value: readNullableBytes(c, 'header value') });
  }
  if (c.pos !== recordEnd) throw corrupt(`record at ${start} declares ${length} bytes, its fields take ${c.pos - start - varintSize(length)}`);
  c.end = outerEnd;
  return {
    offset: header.baseOffset + offsetDelta,
    timestamp: logAppendTime ? header.maxTimestamp : header.baseTimestamp + timestampDelta,
    offsetDelta,
    timestampDelta,
    attributes,
    key,
    value,
    headers,
  };
}

/**
 * Decodes the records of the one batch that `batch` holds (exactly one: split a buffer of several with
 * splitBatches or readBatches). Verifies the CRC unless told not to, decompresses, and checks that
 * the records fill the payload and match recordCount, as Kafka's DefaultRecordBatch does.
 */
export function readBatchRecords(batch: Buffer, options: ReadBatchOptions = {}): DecodedBatch {
  const size = batchSizeAt(batch, 0);
  if (size !== batch.length) throw new RecordBatchError('batch-length', `buffer holds ${batch.length} bytes, the batch declares ${size}`);
  const header = readBatchHeader(batch, 0);
  if (options.verifyCrc !== false && !verifyCrc(batch, 0, size)) {
    throw new RecordBatchError('crc', `CRC mismatch: stored 0x${header.crc.toString(16)}, computed over the batch differs`);
  }
  const codec = compressionOf(header.attributes);
  const logAppendTime = (header.attributes & ATTR_TIMESTAMP_TYPE) !== 0;
  if (header.recordCount < 0) throw corrupt(`recordCount is ${header.recordCount}`);
  const payload = batch.subarray(RECORDS_OFFSET, size);
  const data = decompress(codec, payload, options.decompressedBytesMax === undefined ? {} : { decompressedBytesMax: options.decompressedBytesMax });
  const c: Cursor = { buf: data, pos: 0, end: data.length };
  const records: KafkaRecord[] = [];
  for (let i = 0; i < header.recordCount; i++) {
    if (c.pos >= c.end) throw corrupt(`batch declares ${header.recordCount} records, the payload ends after ${i}`);
    records.push(readRecord(c, header, logAppendTime));
  }
  if (c.pos !== c.end) throw corrupt(`${c.end - c.pos} bytes remain after the batch's ${header.recordCount} records`);
  return {
    header,
    compression: codec,
    timestampType: logAppendTime ? 'LogAppendTime' : 'CreateTime',
    isTransactional: (header.attributes & ATTR_TRANSACTIONAL) !== 0,
    isControl: (header.attributes & ATTR_CONTROL) !== 0,
    deleteHorizonMs: header.attributes & ATTR_DELETE_HORIZON ? header.baseTimestamp : null,
    records,
  };
}

/**
 * Indexes of the records without a key in the one batch that `batch` holds (CRC not verified: the
 * caller has). Reads only each record's length and the fields before its key, allocating nothing per
 * record: it is the produce-time key check of compacted topics, which must not hold the event loop
 * as long as decoding every record would. Structure errors are RecordBatchErrors, as in
 * readBatchRecords.
 */
export function keylessRecords(batch: Buffer, options: Pick<ReadBatchOptions, 'decompressedBytesMax'> = {}): number[] {
  const size = batchSizeAt(batch, 0);
  if (size !== batch.length) throw new RecordBatchError('batch-length', `buffer holds ${batch.length} bytes, the batch declares ${size}`);
  const header = readBatchHeader(batch, 0);
  if (header.recordCount < 0) throw corrupt(`recordCount is ${header.recordCount}`);
  const payload = batch.subarray(RECORDS_OFFSET, size);
  const data = decompress(compressionOf(header.attributes), payload, options.decompressedBytesMax === undefined ? {} : { decompressedBytesMax: options.decompressedBytesMax });
  const c: Cursor = { buf: data, pos: 0, end: data.length };
  const keyless: number[] = [];
  for (let i = 0; i < header.recordCount; i++) {
    if (c.pos >= data.length) throw corrupt(`batch declares ${header.recordCount} records, the payload ends after ${i}`);
    const start = c.pos;
    c.end = data.length;
    const length = readVarint(c);
    if (length <= 0 || length > data.length - c.pos) throw corrupt(`record at ${start} has length ${length}, ${data.length - c.pos} bytes remain`);
    const recordEnd = c.pos + length;
    c.end = recordEnd;
    c.pos++; // attributes
    readVarlong(c); // timestampDelta
    readVarint(c); // offsetDelta
    const keyLength = readVarint(c);
    if (keyLength === -1) keyless.push(i);
    else if (keyLength < 0 || keyLength > recordEnd - c.pos) throw corrupt(`record key of ${keyLength} bytes overruns the record at ${start}`);
    c.pos = recordEnd;
  }
  if (c.pos !== data.length) throw corrupt(`${data.length - c.pos} bytes remain after the batch's ${header.recordCount} records`);
  return keyless;
}

/** Decodes every batch in buf, in order. */
export function* readBatches(buf: Buffer, options: ReadBatchOptions & SplitOptions = {}): Generator<DecodedBatch, void, undefined> {
  for (let pos = 0; pos < buf.length; ) {
    let size: number;
    try {
      size = batchSizeAt(buf, pos);
    } catch (e) {
      if (options.partialTail === 'stop' && e instanceof RecordBatchError && e.reason === 'truncated') return;
      throw e;
    }
    yield readBatchRecords(buf.subarray(pos, pos + size), options);
    pos += size;
  }
}

// ---- encoding ---------------------------------------------------------------------------------------

type BytesInput = Buffer | string | null | undefined;

export interface RecordInput {
  key?: BytesInput;
  value?: BytesInput;
  headers?: readonly { key: string; value?: BytesInput }[];
  /** Absolute timestamp in ms; defaults to the batch's baseTimestamp (or now). */
  timestamp?: number;
  /** Defaults to the record's index in the batch. */
  offsetDelta?: number;
  attributes?: number;
}

export interface BuildBatchOptions {
  records: readonly RecordInput[];
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  compression?: Compression;
  compressionLevel?: number;
  timestampType?: TimestampType;
  /** Default: the first record's timestamp, as Kafka's MemoryRecordsBuilder does (deleteHorizonMs when set). */
  baseTimestamp?: number;
  /** Default: the largest record timestamp (CreateTime), or logAppendTime (LogAppendTime). */
  maxTimestamp?: number;
  /** The broker's append time for LogAppendTime batches; goes to maxTimestamp. */
  logAppendTime?: number;
  /** KIP-534: sets the delete-horizon bit and stores this in baseTimestamp. */
  deleteHorizonMs?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  isTransactional?: boolean;
  isControl?: boolean;
  /** Default: the last record's offsetDelta (or -1 for an empty batch). Compaction keeps the original. */
  lastOffsetDelta?: number;
}

const toBytes = (v: BytesInput): Buffer | null => (v === null || v === undefined ? null : typeof v === 'string' ? Buffer.from(v, 'utf8') : v);

interface PreparedRecord {
  attributes: number;
  timestampDelta: number;
  offsetDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: Buffer; value: Buffer | null }[];
  bodySize: number;
}

const bytesSize = (b: Buffer | null): number => (b === null ? 1 : varintSize(b.length) + b.length);

function prepare(r: RecordInput, index: number, baseTimestamp: number, fallbackTimestamp: number): PreparedRecord {
  const timestamp = r.timestamp ?? fallbackTimestamp;
  const p: PreparedRecord = {
    attributes: r.attributes ?? 0,
    timestampDelta: timestamp - baseTimestamp,
    offsetDelta: r.offsetDelta ?? index,
    key: toBytes(r.key),
    value: toBytes(r.value),
    headers: (r.headers ?? []).map((h) => ({ key: Buffer.from(h.key, 'utf8'), value: toBytes(h.value) })),
    bodySize: 0,
  };
  let n = 1 + varintSize(p.timestampDelta) + varintSize(p.offsetDelta) + bytesSize(p.key) + bytesSize(p.value) + varintSize(p.headers.length);
  for (const h of p.headers) n += bytesSize(h.key) + bytesSize(h.value);
  p.bodySize = n;
  return p;
}

function writeBytes(buf: Buffer, at: number, b: Buffer | null): number {
  if (b === null) return writeVarint(buf, at, -1);
  at = writeVarint(buf, at, b.length);
  return at + b.copy(buf, at);
}

function writeRecord(buf: Buffer, at: number, p: PreparedRecord): number {
  at = writeVarint(buf, at, p.bodySize);
  buf.writeInt8(p.attributes, at++);
  at = writeVarint(buf, at, p.timestampDelta);
  at = writeVarint(buf, at, p.offsetDelta);
  at = writeBytes(buf, at, p.key);
  at = writeBytes(buf, at, p.value);
  at = writeVarint(buf, at, p.headers.length);
  for (const h of p.headers) {
    at = writeBytes(buf, at, h.key);
    at = writeBytes(buf, at, h.value);
  }
  return at;
}

/** Builds one v2 batch with a correct CRC. Sizes everything first, then writes the records once. */
export function buildBatch(o: BuildBatchOptions): Buffer {
  const codec = o.compression ?? 'none';
  const timestampType = o.timestampType ?? 'CreateTime';
  const first = o.records[0];
  const now = o.records.some((r) => r.timestamp === undefined) ? Date.now() : NO_TIMESTAMP;
  const baseTimestamp =
    o.deleteHorizonMs ?? o.baseTimestamp ?? (first === undefined ? NO_TIMESTAMP : (first.timestamp ?? now));
  const prepared = o.records.map((r, i) => prepare(r, i, baseTimestamp, o.baseTimestamp ?? now));

  let maxTimestamp = o.maxTimestamp;
  if (maxTimestamp === undefined) {
    if (timestampType === 'LogAppendTime') {
      if (o.logAppendTime === undefined) throw new TypeError('a LogAppendTime batch needs logAppendTime (or maxTimestamp)');
      maxTimestamp = o.logAppendTime;
    } else {
      maxTimestamp = NO_TIMESTAMP;
      for (const p of prepared) maxTimestamp = Math.max(maxTimestamp, baseTimestamp + p.timestampDelta);
    }
  }
  const lastOffsetDelta = o.lastOffsetDelta ?? (prepared.length === 0 ? -1 : prepared[prepared.length - 1]!.offsetDelta);

  let recordsSize = 0;
  for (const p of prepared) recordsSize += varintSize(p.bodySize) + p.bodySize;
  // Uncompressed records go straight after the header; compressed ones into a buffer of their own.
  const inPlace = codec === 'none';
  const payload = Buffer.allocUnsafe(inPlace ? RECORDS_OFFSET + recordsSize : recordsSize);
  let at = inPlace ? RECORDS_OFFSET : 0;
  for (const p of prepared) at = writeRecord(payload, at, p);
  assert(at === payload.length, `records took ${at} bytes of the ${payload.length} sized for them`);
  let out = payload;
  if (!inPlace) {
    const compressed = compress(codec, payload, o.compressionLevel === undefined ? {} : { level: o.compressionLevel });
    out = Buffer.allocUnsafe(RECORDS_OFFSET + compressed.length);
    compressed.copy(out, RECORDS_OFFSET);
  }

  let attributes = COMPRESSION_ID[codec];
  if (timestampType === 'LogAppendTime') attributes |= ATTR_TIMESTAMP_TYPE;
  if (o.isTransactional) attributes |= ATTR_TRANSACTIONAL;
  if (o.isControl) attributes |= ATTR_CONTROL;
  if (o.deleteHorizonMs !== undefined) attributes |= ATTR_DELETE_HORIZON;

  writeInt64(out, 0, o.baseOffset ?? 0);
  out.writeInt32BE(out.length - LOG_OVERHEAD, 8);
  out.writeInt32BE(o.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH, 12);
  out.writeInt8(MAGIC_V2, 16);
  out.writeInt16BE(attributes, ATTRIBUTES_OFFSET);
  out.writeInt32BE(lastOffsetDelta, 23);
  writeInt64(out, 27, baseTimestamp);
  writeInt64(out, 35, maxTimestamp);
  writeInt64(out, 43, o.producerId ?? NO_PRODUCER_ID);
  out.writeInt16BE(o.producerEpoch ?? NO_PRODUCER_EPOCH, 51);
  out.writeInt32BE(o.baseSequence ?? NO_SEQUENCE, 53);
  out.writeInt32BE(prepared.length, 57);
  writeCrc(out, 0, out.length);
  return out;
}

// ---- control records (KIP-98) ---------------------------------------------------------------------

/** Control record types (Kafka's ControlRecordType ids). */
export const CONTROL_TYPE_ABORT = 0;
export const CONTROL_TYPE_COMMIT = 1;
export const CONTROL_TYPE_LEADER_CHANGE = 2;
export const CONTROL_TYPE_SNAPSHOT_HEADER = 3;
export const CONTROL_TYPE_SNAPSHOT_FOOTER = 4;
export const CONTROL_TYPE_KRAFT_VERSION = 5;
export const CONTROL_TYPE_KRAFT_VOTERS = 6;

const CONTROL_KEY_VERSION = 0;
const END_TXN_MARKER_VERSION = 0;

export interface ControlRecordKey {
  version: number;
  type: number;
}

export function encodeControlRecordKey(type: number, version = CONTROL_KEY_VERSION): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt16BE(version, 0);
  b.writeInt16BE(type, 2);
  return b;
}

/** Reads a control record's key. Like Kafka, a newer version is read by its v0 prefix. */
export function decodeControlRecordKey(key: Buffer | null): ControlRecordKey {
  if (key === null || key.length < 4) throw corrupt(`control record key has ${key === null ? 'no' : key.length} bytes, needs 4`);
  const version = key.readInt16BE(0);
  if (version < 0) throw corrupt(`control record key has version ${version}`);
  return { version, type: key.readInt16BE(2) };
}

export interface EndTxnMarker {
  version: number;
  coordinatorEpoch: number;
}

export function encodeEndTxnMarker(coordinatorEpoch: number, version = END_TXN_MARKER_VERSION): Buffer {
  const b = Buffer.allocUnsafe(6);
  b.writeInt16BE(version, 0);
  b.writeInt32BE(coordinatorEpoch, 2);
  return b;
}

/** Reads a COMMIT/ABORT marker's value. Like Kafka, a newer version is read by its v0 prefix. */
export function decodeEndTxnMarker(value: Buffer | null): EndTxnMarker {
  if (value === null || value.length < 6) throw corrupt(`transaction marker value has ${value === null ? 'no' : value.length} bytes, needs 6`);
  const version = value.readInt16BE(0);
  if (version < 0) throw corrupt(`transaction marker value has version ${version}`);
  return { version, coordinatorEpoch: value.readInt32BE(2) };
}

export interface EndTxnMarkerBatchOptions {
  commit: boolean;
  coordinatorEpoch: number;
  producerId: number;
  producerEpoch: number;
  timestamp: number;
  baseOffset?: number;
  partitionLeaderEpoch?: number;
}

/** A transaction marker batch as Kafka's MemoryRecords.withEndTransactionMarker writes it. */
export function buildEndTxnMarkerBatch(o: EndTxnMarkerBatchOptions): Buffer {
  return buildBatch({
    baseOffset: o.baseOffset ?? 0,
    partitionLeaderEpoch: o.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH,
    producerId: o.producerId,
    producerEpoch: o.producerEpoch,
    isTransactional: true,
    isControl: true,
    records: [
      {
        timestamp: o.timestamp,
        key: encodeControlRecordKey(o.commit ? CONTROL_TYPE_COMMIT : CONTROL_TYPE_ABORT),
        value: encodeEndTxnMarker(o.coordinatorEpoch),
      },
    ],
  });
}
