// Idempotent producer state of one partition: for each producer id its epoch and the metadata of its
// last five batches, so that a retried batch is recognised (and answered with its original offset),
// a batch out of sequence is refused, and an older epoch is fenced — Kafka's rules (KIP-98, KIP-360).
// Built from batch headers only, so it can be rebuilt from any log, mirrored ones included.
import { ErrorCode } from '../protocol/generated/errors.ts';
import {
  ATTR_CONTROL,
  ATTR_TRANSACTIONAL,
  CONTROL_TYPE_ABORT,
  CONTROL_TYPE_COMMIT,
  decodeControlRecordKey,
  readBatchRecords,
  RECORD_BATCH_OVERHEAD,
  batchAttributes,
  batchBaseOffset,
  batchBaseSequence,
  batchLastOffset,
  batchLastOffsetDelta,
  batchMaxTimestamp,
  batchProducerEpoch,
  batchProducerId,
  batchSizeAt,
} from '../protocol/records/index.ts';

/** Kafka keeps this many batches per producer for duplicate detection. */
export const BATCHES_RETAINED = 5;
const INT32_MAX = 2147483647;

export interface BatchMeta {
  firstSeq: number;
  lastSeq: number;
  firstOffset: number;
  lastOffset: number;
  timestamp: number;
}

export interface ProducerEntry {
  producerId: number;
  epoch: number;
  batches: BatchMeta[];
  lastTimestamp: number;
  /** First offset of the producer's open transaction in this partition, or -1 (KIP-98). */
  txnFirstOffset: number;
}

/** A transaction that ended with an ABORT marker: read_committed consumers skip its records. */
export interface AbortedTxn {
  producerId: number;
  firstOffset: number;
  /** Offset of the ABORT marker. */
  lastOffset: number;
}

export type SequenceCheck =
  | { kind: 'ok' }
  | { kind: 'duplicate'; firstOffset: number; lastOffset: number }
  | { kind: 'error'; errorCode: number; message: string };

const lastSequenceOf = (firstSeq: number, lastOffsetDelta: number) => (firstSeq + lastOffsetDelta) % (INT32_MAX + 1);
const inSequence = (lastSeq: number, nextSeq: number) => nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX);

/** What other layers may read of a partition's producer state; only the log changes it. */
export interface ProducerStateView {
  readonly producers: ReadonlyMap<number, Readonly<ProducerEntry>>;
  readonly aborted: readonly AbortedTxn[];
  firstOpenTxnOffset(): number;
  abortedBetween(from: number, to: number): AbortedTxn[];
  clone(): ProducerState;
}

export class ProducerState {
  readonly producers = new Map<number, ProducerEntry>();
  /** Aborted transactions in offset order of their markers. */
  aborted: AbortedTxn[] = [];
  /** Producers with an open transaction; lets every fetch skip the scan when there are none. */
  private openTxns = 0;

  /**
   * Checks the idempotent batches of one produce request (positions into buf) against this state
   * and the batches before them in the same request. A duplicate of a retained batch short-circuits.
   */
  check(buf: Buffer, positions: number[]): SequenceCheck {
    const seen = new Map<number, { epoch: number; lastSeq: number }>();
    for (const pos of positions) {
      const pid = batchProducerId(buf, pos);
      if (pid < 0) continue;
      const epoch = batchProducerEpoch(buf, pos);
      const firstSeq = batchBaseSequence(buf, pos);
      const lastSeq = lastSequenceOf(firstSeq, batchLastOffsetDelta(buf, pos));
      const entry = this.producers.get(pid);
      const dup = entry && entry.epoch === epoch ? entry.batches.find((b) => b.firstSeq === firstSeq && b.lastSeq === lastSeq) : undefined;
      if (dup) return { kind: 'duplicate', firstOffset: dup.firstOffset, lastOffset: dup.lastOffset };
      const prior = seen.get(pid) ?? (entry ? { epoch: entry.epoch, lastSeq: entry.batches.length ? entry.batches[entry.batches.length - 1]!.lastSeq : -1 } : null);
      if (prior) {
        if (epoch < prior.epoch) {
          return { kind: 'error', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH, message: `Epoch of producer ${pid} is ${epoch}, which is smaller than the last seen epoch ${prior.epoch}` };
        }
        if (epoch > prior.epoch) {
          if (firstSeq !== 0) {
            return { kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `Invalid sequence number for new epoch ${epoch} of producer ${pid}: ${firstSeq} (expected 0)` };
          }
        } else if (prior.lastSeq >= 0 && !inSequence(prior.lastSeq, firstSeq)) {
          return {
            kind: 'error',
            errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
            message: `Out of order sequence number for producer ${pid}: ${firstSeq} (incoming seq. number), ${prior.lastSeq} (current end sequence number)`,
          };
        }
      }
      // A producer this partition has no state for (new, or expired) may start at any sequence.
      seen.set(pid, { epoch, lastSeq });
    }
    return { kind: 'ok' };
  }

  /** Records every idempotent or transactional batch in buf (offsets already assigned). */
  apply(buf: Buffer): void {
    for (let pos = 0; pos + RECORD_BATCH_OVERHEAD <= buf.length; pos += batchSizeAt(buf, pos)) {
      const pid = batchProducerId(buf, pos);
      if (pid < 0) continue;
      const attributes = batchAttributes(buf, pos);
      const epoch = batchProducerEpoch(buf, pos);
      let entry = this.producers.get(pid);
      if (!entry) {
        entry = { producerId: pid, epoch, batches: [], lastTimestamp: -1, txnFirstOffset: -1 };
        this.producers.set(pid, entry);
      }
      if (attributes & ATTR_CONTROL) {
        this.applyMarker(buf, pos, entry);
        continue;
      }
      if (epoch !== entry.epoch) {
        entry.epoch = epoch;
        entry.batches = [];
      }
      const firstSeq = batchBaseSequence(buf, pos);
      const timestamp = batchMaxTimestamp(buf, pos);
      const firstOffset = batchBaseOffset(buf, pos);
      if (entry.batches.length === BATCHES_RETAINED) entry.batches.shift();
      entry.batches.push({ firstSeq, lastSeq: lastSequenceOf(firstSeq, batchLastOffsetDelta(buf, pos)), firstOffset, lastOffset: batchLastOffset(buf, pos), timestamp });
      entry.lastTimestamp = timestamp;
      if (attributes & ATTR_TRANSACTIONAL && entry.txnFirstOffset < 0) {
        entry.txnFirstOffset = firstOffset;
        this.openTxns++;
      }
    }
  }

  /** A COMMIT or ABORT marker closes the producer's open transaction. */
  private applyMarker(buf: Buffer, pos: number, entry: ProducerEntry): void {
    const decoded = readBatchRecords(buf.subarray(pos, pos + batchSizeAt(buf, pos)), { verifyCrc: false });
    const record = decoded.records[0];
    if (!record) return;
    const type = decodeControlRecordKey(record.key).type;
    if (type !== CONTROL_TYPE_ABORT && type !== CONTROL_TYPE_COMMIT) return;
    if (type === CONTROL_TYPE_ABORT && entry.txnFirstOffset >= 0) {
      this.aborted.push({ producerId: entry.producerId, firstOffset: entry.txnFirstOffset, lastOffset: record.offset });
    }
    if (entry.txnFirstOffset >= 0) this.openTxns--;
    entry.txnFirstOffset = -1;
    entry.epoch = Math.max(entry.epoch, batchProducerEpoch(buf, pos));
    entry.lastTimestamp = Math.max(entry.lastTimestamp, record.timestamp);
  }

  /** The first offset of the oldest open transaction, or -1 when none is open. */
  firstOpenTxnOffset(): number {
    if (this.openTxns === 0) return -1;
    let first = -1;
    for (const e of this.producers.values()) if (e.txnFirstOffset >= 0 && (first < 0 || e.txnFirstOffset < first)) first = e.txnFirstOffset;
    return first;
  }

  /** Aborted transactions overlapping [from, to], for a read_committed fetch. */
  abortedBetween(from: number, to: number): AbortedTxn[] {
    return this.aborted.filter((a) => a.lastOffset >= from && a.firstOffset <= to);
  }

  /** Forgets aborted transactions wholly below the log start offset. */
  pruneAborted(logStartOffset: number): void {
    if (this.aborted.length && this.aborted[0]!.lastOffset < logStartOffset) this.aborted = this.aborted.filter((a) => a.lastOffset >= logStartOffset);
  }

  /** Drops producers idle longer than producer.id.expiration.ms. */
  expire(nowMs: number, expirationMs: number): number {
    let n = 0;
    for (const [pid, e] of this.producers) {
      // A producer with an open transaction stays: its transaction still pins the last stable offset
      // until the coordinator ends it (Kafka's ProducerStateManager does the same).
      if (e.txnFirstOffset < 0 && e.lastTimestamp >= 0 && nowMs - e.lastTimestamp > expirationMs) {
        this.producers.delete(pid);
        n++;
      }
    }
    return n;
  }

  clone(): ProducerState {
    const s = new ProducerState();
    for (const [pid, e] of this.producers) s.producers.set(pid, { ...e, batches: e.batches.map((b) => ({ ...b })) });
    s.aborted = [...this.aborted];
    s.openTxns = this.openTxns;
    return s;
  }

  toJSON(): string {
    return JSON.stringify({ producers: [...this.producers.values()], aborted: this.aborted });
  }

  static fromJSON(text: string | null): ProducerState {
    const s = new ProducerState();
    if (!text) return s;
    const parsed = JSON.parse(text) as { producers: ProducerEntry[]; aborted: AbortedTxn[] };
    for (const e of parsed.producers) {
      s.producers.set(e.producerId, { ...e, txnFirstOffset: e.txnFirstOffset ?? -1 });
      if ((e.txnFirstOffset ?? -1) >= 0) s.openTxns++;
    }
    s.aborted = parsed.aborted ?? [];
    return s;
  }
}
