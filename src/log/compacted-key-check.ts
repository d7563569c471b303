// Kafka's produce-time rule for compacted topics: every record needs a key, because the log cleaner
// keeps the last record per key and has nothing to keep a keyless record by (LogValidator
// validateKey). This is the one append check that must look inside batches, so it runs only for
// topics whose cleanup.policy includes compact; the hot path of other topics never decodes records.
import { ErrorCode } from '../protocol/generated/errors.ts';
import { RecordBatchError, batchSizeAt, keylessRecords } from '../protocol/records/index.ts';
import type { BatchCheck } from './append-checks.ts';

/** Kafka reports every failing record of the batch but quotes at most this many in the message. */
const QUOTED_ERRORS_MAX = 3;

/**
 * Checks that every record of the batches at `positions` (already framed and CRC-checked) has a
 * key. Returns null when they all do, else Kafka's answer: INVALID_RECORD for the partition, one
 * record error per keyless record of the first offending batch (batchIndex is the record's index in
 * its batch, as in Kafka's RecordError), and Kafka's summary as the error message.
 * `topicPartition` is Kafka's "topic-partition" label for the messages.
 */
export function checkCompactedKeys(buf: Buffer, positions: number[], topicPartition: string): BatchCheck | null {
  for (const pos of positions) {
    let keyless: number[];
    try {
      keyless = keylessRecords(buf.subarray(pos, pos + batchSizeAt(buf, pos)));
    } catch (err) {
      if (!(err instanceof RecordBatchError)) throw err;
      return { errorCode: ErrorCode.CORRUPT_MESSAGE, message: `Record batch at byte ${pos} is corrupt: ${err.message}`, recordErrors: [], batches: [], maxTimestamp: -1 };
    }
    const errors = keyless.map((i) => ({ batchIndex: i, message: `Compacted topic cannot accept message without key in topic partition ${topicPartition}` }));
    if (errors.length > 0) return { errorCode: ErrorCode.INVALID_RECORD, message: summary(errors), recordErrors: errors, batches: [], maxTimestamp: -1 };
  }
  return null;
}

/** The message of Kafka's RecordValidationException for INVALID_RECORD errors. */
function summary(errors: { batchIndex: number; message: string }[]): string {
  const quoted = errors.slice(0, QUOTED_ERRORS_MAX).map((e) => `RecordError(batchIndex=${e.batchIndex}, message='${e.message}')`);
  return `One or more records have been rejected due to ${errors.length} record errors in total, and only showing the first three errors at most: [${quoted.join(', ')}]`;
}
