// Zero-copy access to Kafka record batches (magic v2) held in a Buffer, for the broker's hot path:
// split a produce request's records into batches, check each header and CRC, patch the base offset,
// the partition leader epoch and LogAppendTime in place. Nothing here decodes records.
//
// Layout of one batch (big-endian; Kafka's DefaultRecordBatch):
//
//   baseOffset int64 @0 · batchLength int32 @8 (bytes after this field) · partitionLeaderEpoch int32 @12
//   magic int8 @16 · crc uint32 @17 (CRC-32C of @21 to the end) · attributes int16 @21
//   lastOffsetDelta int32 @23 · baseTimestamp int64 @27 · maxTimestamp int64 @35 · producerId int64 @43
//   producerEpoch int16 @51 · baseSequence int32 @53 · recordCount int32 @57 · records @61
//
// int64 fields are JS numbers. Every int64 read is checked to be a safe integer (|x| < 2^53) and a
// batch with one outside that range is rejected as corrupt (reason 'int64-range'): 2^53 offsets is
// 285 years at a million records a second, 2^53 ms is 285,000 years, and producer ids are allocated
// from 0 upwards, so no real log holds such a value, while numbers keep the hot path free of bigint
// allocations and make offsets usable as Map keys and in arithmetic.
//
// The hot functions (batchSizeAt, the field getters, verifyCrc, patchBaseOffset, patchLeaderEpoch,
// setLogAppendTime) allocate nothing but, with the native CRC, one view object for the addon call.
import { ErrorCode } from '../generated/errors.ts';
import { StraitError } from '../../common/errors.ts';
import { crc32cRange } from './crc32c.ts';

// ---- layout ----------------------------------------------------------------------------------------

export const BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORD_COUNT_OFFSET = 57;
export const RECORDS_OFFSET = 61;

/** baseOffset and batchLength: the bytes before what batchLength counts (Kafka's LOG_OVERHEAD). */
export const LOG_OVERHEAD = 12;
/** A batch with no records: the whole header. */
export const RECORD_BATCH_OVERHEAD = RECORDS_OFFSET;
/** The smallest valid batchLength. */
export const BATCH_LENGTH_MIN = RECORD_BATCH_OVERHEAD - LOG_OVERHEAD;
export const MAGIC_V2 = 2;

// ---- attributes ------------------------------------------------------------------------------------

/** Bits 0-2: compression codec id (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd). */
export const ATTR_COMPRESSION_MASK = 0x07;
/** Bit 3: 0 CreateTime, 1 LogAppendTime (the broker's append time is in maxTimestamp). */
export const ATTR_TIMESTAMP_TYPE = 0x08;
/** Bit 4: the batch belongs to a transaction (KIP-98). */
export const ATTR_TRANSACTIONAL = 0x10;
/** Bit 5: the batch holds control records (transaction markers, KIP-98). */
export const ATTR_CONTROL = 0x20;
/** Bit 6: baseTimestamp holds the delete horizon of a compacted batch (KIP-534). */
export const ATTR_DELETE_HORIZON = 0x40;

export type Compression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
export type TimestampType = 'CreateTime' | 'LogAppendTime';

/** Codec name by attribute id; ids 5-7 are unassigned. */
export const COMPRESSION_BY_ID: readonly Compression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
export const COMPRESSION_ID: Readonly<Record<Compression, number>> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

export const compressionId = (attributes: number): number => attributes & ATTR_COMPRESSION_MASK;
export const timestampTypeOf = (attributes: number): TimestampType =>
  attributes & ATTR_TIMESTAMP_TYPE ? 'LogAppendTime' : 'CreateTime';
export const isTransactional = (attributes: number): boolean => (attributes & ATTR_TRANSACTIONAL) !== 0;
export const isControl = (attributes: number): boolean => (attributes & ATTR_CONTROL) !== 0;
export const hasDeleteHorizon = (attributes: number): boolean => (attributes & ATTR_DELETE_HORIZON) !== 0;

/** The codec of a batch's attributes; an unassigned id is a corrupt batch. */
export function compressionOf(attributes: number): Compression {
  const c = COMPRESSION_BY_ID[attributes & ATTR_COMPRESSION_MASK];
  if (c === undefined) throw new RecordBatchError('compression', `unknown compression codec id ${attributes & ATTR_COMPRESSION_MASK}`);
  return c;
}

// Kafka's "no value" markers.
export const NO_TIMESTAMP = -1;
export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;

// ---- errors ----------------------------------------------------------------------------------------

/**
 * Why bytes are not a valid batch. Every reason is Kafka's CORRUPT_MESSAGE on the wire: the produce
 * gets that error for the partition, and the request's other partitions are unaffected.
 */
export type RecordBatchErrorReason =
  | 'truncated' // fewer bytes than the header or batchLength promises
  | 'batch-length' // batchLength below the header size, or not what the caller's buffer holds
  | 'magic' // not a v2 batch
  | 'crc' // CRC-32C mismatch
  | 'int64-range' // an int64 field beyond ±2^53 (see the note at the top)
  | 'compression' // unknown codec id, or the payload does not decompress
  | 'records'; // a record inside does not parse, or the count or sizes disagree

export class RecordBatchError extends StraitError {
  override name = 'RecordBatchError';
  readonly reason: RecordBatchErrorReason;

  constructor(reason: RecordBatchErrorReason, message: string) {
    super('STRAIT_CORRUPT_RECORD_BATCH', message, ErrorCode.CORRUPT_MESSAGE);
    this.reason = reason;
  }
}

// ---- int64 as number -------------------------------------------------------------------------------

const TWO_32 = 4294967296;

/** Reads a big-endian int64 as a number, rejecting values a double cannot hold exactly. */
export function readInt64(buf: Buffer, at: number, field: string): number {
  const v = buf.readInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4);
  if (!Number.isSafeInteger(v)) {
    throw new RecordBatchError('int64-range', `${field} 0x${buf.toString('hex', at, at + 8)} is beyond ±2^53`);
  }
  return v;
}

/** Writes a safe integer as a big-endian int64. */
export function writeInt64(buf: Buffer, at: number, v: number): void {
  if (!Number.isSafeInteger(v)) throw new RangeError(`int64 value ${v} is not a safe integer`);
  const hi = Math.floor(v / TWO_32);
  buf.writeInt32BE(hi, at);
  buf.writeUInt32BE(v - hi * TWO_32, at + 4);
}

// ---- field getters (pos = where the batch starts) --------------------------------------------------

export const batchBaseOffset = (buf: Buffer, pos: number): number => readInt64(buf, pos + BASE_OFFSET_OFFSET, 'baseOffset');
export const batchLength = (buf: Buffer, pos: number): number => buf.readInt32BE(pos + BATCH_LENGTH_OFFSET);
export const batchPartitionLeaderEpoch = (buf: Buffer, pos: number): number => buf.readInt32BE(pos + PARTITION_LEADER_EPOCH_OFFSET);
export const batchMagic = (buf: Buffer, pos: number): number => buf.readInt8(pos + MAGIC_OFFSET);
export const batchCrc = (buf: Buffer, pos: number): number => buf.readUInt32BE(pos + CRC_OFFSET);
export const batchAttributes = (buf: Buffer, pos: number): number => buf.readInt16BE(pos + ATTRIBUTES_OFFSET);
export const batchLastOffsetDelta = (buf: Buffer, pos: number): number => buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
export const batchBaseTimestamp = (buf: Buffer, pos: number): number => readInt64(buf, pos + BASE_TIMESTAMP_OFFSET, 'baseTimestamp');
export const batchMaxTimestamp = (buf: Buffer, pos: number): number => readInt64(buf, pos + MAX_TIMESTAMP_OFFSET, 'maxTimestamp');
export const batchProducerId = (buf: Buffer, pos: number): number => readInt64(buf, pos + PRODUCER_ID_OFFSET, 'producerId');
export const batchProducerEpoch = (buf: Buffer, pos: number): number => buf.readInt16BE(pos + PRODUCER_EPOCH_OFFSET);
export const batchBaseSequence = (buf: Buffer, pos: number): number => buf.readInt32BE(pos + BASE_SEQUENCE_OFFSET);
export const batchRecordCount = (buf: Buffer, pos: number): number => buf.readInt32BE(pos + RECORD_COUNT_OFFSET);

/** The header fields of one batch, as stored. */
export interface BatchHeader {
  baseOffset: number;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

/**
 * Reads the 61-byte header of the v2 batch at pos. Checks that the header is there and that magic is
 * 2 (the rest of the layout depends on it); not batchLength against the buffer (see batchSizeAt).
 */
export function readBatchHeader(buf: Buffer, pos: number): BatchHeader {
  if (pos < 0 || buf.length - pos < RECORD_BATCH_OVERHEAD) {
    throw new RecordBatchError('truncated', `a batch header needs ${RECORD_BATCH_OVERHEAD} bytes at ${pos}, have ${Math.max(0, buf.length - pos)}`);
  }
  const magic = buf.readInt8(pos + MAGIC_OFFSET);
  if (magic !== MAGIC_V2) throw new RecordBatchError('magic', `batch at ${pos} has magic ${magic}, only v2 is supported`);
  return {
    baseOffset: batchBaseOffset(buf, pos),
    batchLength: batchLength(buf, pos),
    partitionLeaderEpoch: batchPartitionLeaderEpoch(buf, pos),
    magic,
    crc: batchCrc(buf, pos),
    attributes: batchAttributes(buf, pos),
    lastOffsetDelta: batchLastOffsetDelta(buf, pos),
    baseTimestamp: batchBaseTimestamp(buf, pos),
    maxTimestamp: batchMaxTimestamp(buf, pos),
    producerId: batchProducerId(buf, pos),
    producerEpoch: batchProducerEpoch(buf, pos),
    baseSequence: batchBaseSequence(buf, pos),
    recordCount: batchRecordCount(buf, pos),
  };
}

/** The offset of the batch's last record (baseOffset + lastOffsetDelta). */
export const batchLastOffset = (buf: Buffer, pos: number): number => batchBaseOffset(buf, pos) + batchLastOffsetDelta(buf, pos);

// ---- framing ---------------------------------------------------------------------------------------

/**
 * Validates the framing of the batch that starts at pos and returns its size in bytes
 * (batchLength + 12). Allocation-free, so a hot loop can walk a buffer with it:
 *   for (let pos = 0; pos < buf.length; pos += batchSizeAt(buf, pos)) …
 * Throws RecordBatchError for a truncated batch, batchLength < 49, or magic != 2.
 */
export function batchSizeAt(buf: Buffer, pos: number): number {
  const remaining = buf.length - pos;
  if (remaining < LOG_OVERHEAD) {
    throw new RecordBatchError('truncated', `${remaining} bytes at ${pos} cannot hold a batch's offset and length`);
  }
  const length = buf.readInt32BE(pos + BATCH_LENGTH_OFFSET);
  if (length < BATCH_LENGTH_MIN) {
    throw new RecordBatchError('batch-length', `batch at ${pos} has batchLength ${length}, below the minimum ${BATCH_LENGTH_MIN}`);
  }
  const size = LOG_OVERHEAD + length;
  if (remaining <= MAGIC_OFFSET) {
    throw new RecordBatchError('truncated', `batch at ${pos} declares ${size} bytes, only ${remaining} are there`);
  }
  const magic = buf.readInt8(pos + MAGIC_OFFSET);
  if (magic !== MAGIC_V2) throw new RecordBatchError('magic', `batch at ${pos} has magic ${magic}, only v2 is supported`);
  if (size > remaining) throw new RecordBatchError('truncated', `batch at ${pos} declares ${size} bytes, only ${remaining} are there`);
  return size;
}

export interface BatchSpan {
  pos: number;
  size: number;
}

export interface SplitOptions {
  /**
   * What an incomplete last batch means. 'error' (the default, for produce) rejects it; 'stop' ends
   * the walk before it, as a follower must for a fetch response cut at the size limit (Kafka sends
   * partial batches there).
   */
  partialTail?: 'error' | 'stop';
}

/**
 * Yields the position and size of every batch in buf, validating each one's framing (not its CRC).
 * One small object per batch; loop with batchSizeAt to allocate nothing.
 */
export function* splitBatches(buf: Buffer, options: SplitOptions = {}): Generator<BatchSpan, void, undefined> {
  const stopAtPartial = options.partialTail === 'stop';
  for (let pos = 0; pos < buf.length; ) {
    let size: number;
    try {
      size = batchSizeAt(buf, pos);
    } catch (e) {
      if (stopAtPartial && e instanceof RecordBatchError && e.reason === 'truncated') return;
      throw e;
    }
    yield { pos, size };
    pos += size;
  }
}

// ---- CRC and in-place patches ----------------------------------------------------------------------

/** True when the stored CRC matches CRC-32C of the batch from attributes to its end. */
export function verifyCrc(buf: Buffer, pos: number, size: number): boolean {
  return crc32cRange(buf, pos + ATTRIBUTES_OFFSET, pos + size) === buf.readUInt32BE(pos + CRC_OFFSET);
}

/** Computes and stores the batch's CRC (after a change to the bytes it covers). */
export function writeCrc(buf: Buffer, pos: number, size: number): void {
  buf.writeUInt32BE(crc32cRange(buf, pos + ATTRIBUTES_OFFSET, pos + size), pos + CRC_OFFSET);
}

/** Sets the base offset in place. It is outside the CRC, so the CRC stays valid. */
export function patchBaseOffset(buf: Buffer, pos: number, baseOffset: number): void {
  writeInt64(buf, pos + BASE_OFFSET_OFFSET, baseOffset);
}

/** Sets the partition leader epoch in place. It is outside the CRC, so the CRC stays valid. */
export function patchLeaderEpoch(buf: Buffer, pos: number, partitionLeaderEpoch: number): void {
  buf.writeInt32BE(partitionLeaderEpoch, pos + PARTITION_LEADER_EPOCH_OFFSET);
}

/**
 * Stamps the batch with the broker's append time, as Kafka does for topics with
 * message.timestamp.type=LogAppendTime: sets the timestamp-type bit and maxTimestamp, and recomputes
 * the CRC. Records keep their own deltas; readers take every record's timestamp from maxTimestamp.
 * Verify the CRC first: recomputing it would otherwise bless corrupt bytes.
 */
export function setLogAppendTime(buf: Buffer, pos: number, size: number, timestamp: number): void {
  const attributes = buf.readInt16BE(pos + ATTRIBUTES_OFFSET);
  buf.writeInt16BE(attributes | ATTR_TIMESTAMP_TYPE, pos + ATTRIBUTES_OFFSET);
  writeInt64(buf, pos + MAX_TIMESTAMP_OFFSET, timestamp);
  writeCrc(buf, pos, size);
}
