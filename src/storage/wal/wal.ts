// The write-ahead log contract every engine keeps (file: segment files with fsync; object: one
// object PUT plus a metadata commit per flush). A produce is acknowledged only once its entry is
// durable in the WAL; the uploader later moves durable entries into data objects and trims the WAL.
//
// Ordering contract, which the partition log relies on to assign offsets before an append is
// durable: appends complete in the order they were made; when an append fails, every later append
// of the same partition that was made before the failure was reported fails too (its offsets
// follow the failed ones and are reused). A position orders appends: a later append has a larger
// position (segment first, then offset).
import { StraitError } from '../../common/errors.ts';
import { ErrorCode } from '../../protocol/generated/errors.ts';

export interface WalEntry {
  topicId: string;
  partition: number;
  baseOffset: number;
  endOffset: number;
  /** Record batches with offsets assigned; empty for a truncation marker (see log-manager). */
  data: Buffer;
  /** The partition's leader epoch when the entry was made: the object WAL commits only while the
   *  partition still has this leader and epoch (a broker that lost it is fenced). */
  leaderEpoch?: number;
}

/** A point in the WAL: everything appended before it is at a smaller position. */
export interface WalPosition {
  segment: number;
  offset: number;
}

export interface ReplayedEntry extends WalEntry {
  position: WalPosition;
}

export interface WalStats {
  /** Durable writes (fsyncs, or object PUT + commit). */
  flushes: number;
  entries: number;
  bytes: number;
}

export interface Wal {
  readonly kind: 'file' | 'object';
  /** Opens the WAL and returns every durable entry not trimmed yet, in append order. */
  open(): Promise<ReplayedEntry[]>;
  /** Appends one entry; resolves with its position once it is durable (see the ordering contract). */
  append(e: WalEntry): Promise<WalPosition>;
  /** The log moved a partition's end back after a failed append (see the ordering contract): every
   *  append of it from now on follows that, and none is one of the failed ones' followers. */
  rolledBack?(topicId: string, partition: number): void;
  /** Forgets entries before `upTo` (uploaded into committed objects); returns how many units went. */
  trim(upTo: WalPosition): Promise<number>;
  /** Bytes appended but not durable yet (the object WAL refuses new data above its bound). */
  readonly pendingBytes: number;
  readonly stats: WalStats;
  /** Waits for appends made so far, then stops; later appends fail. */
  close(): Promise<void>;
}

export class WalWriteError extends StraitError {
  constructor(message: string) {
    // Retriable for clients: nothing of the failed write was acknowledged.
    super('STRAIT_WAL_WRITE_FAILED', message, ErrorCode.KAFKA_STORAGE_ERROR);
  }
}
