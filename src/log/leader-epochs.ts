// A partition's leader-epoch history: for each leader epoch, the first offset written in it. It is
// Kafka's LeaderEpochFileCache (storage/internals/epoch) and its leader-epoch-checkpoint file, with
// the checkpoint kept in the metadata store instead of a file beside the segments.
//
// OffsetForLeaderEpoch answers from it (KIP-101, KIP-279), and consumers use those answers to detect
// that the log they read was truncated under them (KIP-320): the end offset of the epoch of the last
// record they consumed is below their position. A history that knows only the current epoch answers
// "your epoch ends at the log end" and a truncation goes unnoticed.
//
// Durability: every change is written through to the checkpoint, whole (as Kafka rewrites the whole
// file), in order, coalescing changes made while a write is under way; flush() resolves once every
// change so far is stored. The history is also rebuilt on load from the batch headers the WAL replay
// brings back (every batch carries its partitionLeaderEpoch), and cut to the loaded log's offsets, so
// entries written ahead of data that never became durable, or left behind by a crash in the middle
// of a truncation, are dropped as Kafka's log loading does.

/** Kafka's OffsetsForLeaderEpochResponse.UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET. */
export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1;

export interface EpochEntry {
  epoch: number;
  /** The first offset written in this epoch. */
  startOffset: number;
}

/** Where a history is stored; `write` replaces the stored history as a whole, atomically. */
export interface LeaderEpochCheckpoint {
  write(entries: readonly EpochEntry[]): Promise<void>;
}

export class LeaderEpochCache {
  /** Ascending in both epoch and start offset (assign keeps it so). */
  private list: EpochEntry[] = [];
  private readonly checkpoint: LeaderEpochCheckpoint | null;
  /** Changes made, and changes stored: the history is durable when they are equal. */
  private version = 0;
  private storedVersion = 0;
  private writing: Promise<void> | null = null;
  private writeError: Error | null = null;

  constructor(checkpoint: LeaderEpochCheckpoint | null, entries: readonly EpochEntry[] = []) {
    this.checkpoint = checkpoint;
    // Loaded entries go through assign, so a stored history that is not monotonic is repaired.
    for (const e of entries) this.put(e.epoch, e.startOffset);
  }

  get entries(): readonly EpochEntry[] {
    return this.list;
  }

  /** The latest epoch with an entry, or -1. */
  get latestEpoch(): number {
    return this.list.at(-1)?.epoch ?? UNDEFINED_EPOCH;
  }

  /**
   * Records that `epoch` starts at `startOffset`. Nothing changes when the latest entry already is
   * this epoch at or below that offset (every batch of an epoch calls this). Entries the new one
   * contradicts (an epoch at or above it, or a start at or past its offset) go first, as after a
   * truncation. Negative epochs (batches without a leader epoch) are not recorded.
   */
  assign(epoch: number, startOffset: number): boolean {
    if (epoch < 0 || startOffset < 0) return false;
    if (!this.put(epoch, startOffset)) return false;
    this.changed();
    return true;
  }

  private put(epoch: number, startOffset: number): boolean {
    const latest = this.list.at(-1);
    if (latest && latest.epoch === epoch && latest.startOffset <= startOffset) return false;
    while (this.list.length > 0) {
      const last = this.list.at(-1)!;
      if (last.epoch < epoch && last.startOffset < startOffset) break;
      this.list.pop();
    }
    this.list.push({ epoch, startOffset });
    return true;
  }

  /**
   * Kafka's endOffsetFor: the largest epoch at or below the requested one, and where it ends (the
   * start of the next larger epoch, or `logEndOffset` for the latest epoch). An epoch below every
   * known one answers with itself and the first known start offset (that history was deleted); an
   * epoch above every known one, or UNDEFINED_EPOCH, answers UNDEFINED_EPOCH / UNDEFINED_EPOCH_OFFSET.
   */
  endOffsetFor(requestedEpoch: number, logEndOffset: number): { epoch: number; endOffset: number } {
    const undefinedAnswer = { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    if (requestedEpoch === UNDEFINED_EPOCH) return undefinedAnswer;
    if (this.list.length > 0 && this.latestEpoch === requestedEpoch) return { epoch: requestedEpoch, endOffset: logEndOffset };
    const higher = this.list.findIndex((e) => e.epoch > requestedEpoch);
    if (higher < 0) return undefinedAnswer;
    if (higher === 0) return { epoch: requestedEpoch, endOffset: this.list[0]!.startOffset };
    return { epoch: this.list[higher - 1]!.epoch, endOffset: this.list[higher]!.startOffset };
  }

  /** The log now ends at `endOffset`: entries starting at or past it go. */
  truncateFromEnd(endOffset: number): void {
    if (endOffset < 0) return;
    let n = this.list.length;
    while (n > 0 && this.list[n - 1]!.startOffset >= endOffset) n--;
    if (n === this.list.length) return;
    this.list.length = n;
    this.changed();
  }

  /**
   * The log now starts at `startOffset`: entries starting at or below it go, except that the last
   * of them stays, moved to start there (its epoch still holds the first records left).
   */
  truncateFromStart(startOffset: number): void {
    let n = 0;
    while (n < this.list.length && this.list[n]!.startOffset <= startOffset) n++;
    if (n === 0) return;
    const kept = this.list[n - 1]!;
    if (n === 1 && kept.startOffset === startOffset) return;
    this.list.splice(0, n, { epoch: kept.epoch, startOffset });
    this.changed();
  }

  /** Forgets every entry (the log was emptied and starts again, Kafka's truncateFullyAndStartAt). */
  clear(): void {
    if (this.list.length === 0) return;
    this.list = [];
    this.changed();
  }

  /** Resolves once every change made so far is in the checkpoint; rejects when storing failed. */
  async flush(): Promise<void> {
    while (this.storedVersion < this.version) {
      this.writing ??= this.drain();
      await this.writing;
      if (this.writeError) {
        const err = this.writeError;
        this.writeError = null;
        throw err;
      }
    }
  }

  private changed(): void {
    this.version++;
    // The write starts now, in this tick: an engine that stores synchronously (SQLite) has the
    // entry stored before the batch that caused it is even written to the WAL.
    if (this.checkpoint) this.writing ??= this.drain();
    else this.storedVersion = this.version;
  }

  private async drain(): Promise<void> {
    try {
      while (this.storedVersion < this.version) {
        const version = this.version;
        await this.checkpoint!.write(this.list.map((e) => ({ ...e })));
        this.storedVersion = version;
      }
    } catch (err) {
      // Kept for flush(); the next change writes the whole history again.
      this.writeError = err as Error;
    } finally {
      this.writing = null;
    }
  }
}
