// The checks a produced buffer of record batches must pass before it gets offsets, all made on
// batch headers (never on records, except the key check of compacted topics), and the in-place
// offset assignment that follows.
import { ErrorCode } from '../protocol/generated/errors.ts';
import {
  ATTR_CONTROL,
  RECORD_BATCH_OVERHEAD,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  batchAttributes,
  batchBaseTimestamp,
  batchCrc,
  batchLastOffsetDelta,
  batchLength,
  batchMaxTimestamp,
  batchRecordCount,
  patchBaseOffset,
  patchLeaderEpoch,
  setLogAppendTime,
  verifyCrc,
} from '../protocol/records/index.ts';
import type { TopicSettings } from './topic-settings.ts';
import { checkCompactedKeys } from './compacted-key-check.ts';

export interface BatchCheck {
  errorCode: number;
  message: string | null;
  recordErrors: { batchIndex: number; message: string }[];
  /** Start position of every batch, in order. */
  batches: number[];
  maxTimestamp: number;
}

const fail = (errorCode: number, message: string, batchIndex = -1): BatchCheck => ({
  errorCode,
  message,
  recordErrors: batchIndex >= 0 ? [{ batchIndex, message }] : [],
  batches: [],
  maxTimestamp: -1,
});

/** `topicPartition` ("topic-partition") only labels the messages of the compacted-topic key check. */
export function checkBatches(buf: Buffer, s: TopicSettings, nowMs: number, topicPartition = 'unknown'): BatchCheck {
  const positions: number[] = [];
  let maxTimestamp = -1;
  let pos = 0;
  if (buf.length === 0) return fail(ErrorCode.INVALID_RECORD, 'Produce request holds no record batch');
  while (pos < buf.length) {
    if (buf.length - pos < RECORD_BATCH_OVERHEAD) return fail(ErrorCode.CORRUPT_MESSAGE, `Truncated record batch at byte ${pos}`);
    const size = LOG_OVERHEAD + batchLength(buf, pos);
    if (size < RECORD_BATCH_OVERHEAD || pos + size > buf.length) return fail(ErrorCode.CORRUPT_MESSAGE, `Record batch at byte ${pos} has an invalid length ${size}`);
    const magic = buf[pos + MAGIC_OFFSET];
    if (magic !== 2) return fail(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, `Record batch magic ${magic} is not supported; only magic 2 is`);
    if (!verifyCrc(buf, pos, size)) return fail(ErrorCode.CORRUPT_MESSAGE, `Record batch at byte ${pos} is corrupt (stored crc = ${batchCrc(buf, pos)})`);
    const attributes = batchAttributes(buf, pos);
    const batchIndex = positions.length;
    if (attributes & ATTR_CONTROL) return fail(ErrorCode.INVALID_RECORD, 'Clients are not allowed to write control records', batchIndex);
    const count = batchRecordCount(buf, pos);
    const lastDelta = batchLastOffsetDelta(buf, pos);
    if (count <= 0) return fail(ErrorCode.INVALID_RECORD, 'Record batch holds no records', batchIndex);
    if (lastDelta !== count - 1) return fail(ErrorCode.INVALID_RECORD, `Record batch last offset delta ${lastDelta} does not match its ${count} records`, batchIndex);
    if (size > s.maxMessageBytes) {
      return fail(ErrorCode.MESSAGE_TOO_LARGE, `The record batch of ${size} bytes is larger than max.message.bytes (${s.maxMessageBytes})`);
    }
    const first = batchBaseTimestamp(buf, pos);
    const max = batchMaxTimestamp(buf, pos);
    if (!s.logAppendTime) {
      for (const ts of [first, max]) {
        if (ts < 0) continue; // no timestamp
        if (ts < nowMs - s.timestampBeforeMaxMs || ts > nowMs + s.timestampAfterMaxMs) {
          return fail(ErrorCode.INVALID_TIMESTAMP, `Timestamp ${ts} of a record is out of range: it must be within [${nowMs - s.timestampBeforeMaxMs}, ${nowMs + s.timestampAfterMaxMs}]`, batchIndex);
        }
      }
    }
    if (max > maxTimestamp) maxTimestamp = max;
    positions.push(pos);
    pos += size;
  }
  const keys = s.compacted ? checkCompactedKeys(buf, positions, topicPartition) : null;
  if (keys) return keys;
  return { errorCode: ErrorCode.NONE, message: null, recordErrors: [], batches: positions, maxTimestamp };
}

/** Patches base offsets and leader epochs in place (outside the CRC), and with LogAppendTime the
 *  timestamp type and max timestamp (inside it, so the CRC is recomputed). Returns the next offset. */
export function assignOffsets(buf: Buffer, positions: number[], baseOffset: number, leaderEpoch: number, logAppendTimeMs: number): number {
  let next = baseOffset;
  for (let i = 0; i < positions.length; i++) {
    const pos = positions[i]!;
    const end = i + 1 < positions.length ? positions[i + 1]! : buf.length;
    patchBaseOffset(buf, pos, next);
    patchLeaderEpoch(buf, pos, leaderEpoch);
    if (logAppendTimeMs >= 0) setLogAppendTime(buf, pos, end - pos, logAppendTimeMs);
    next += batchLastOffsetDelta(buf, pos) + 1;
  }
  return next;
}
