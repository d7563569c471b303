// Merges a partition's small consecutive ranges (one per upload, spread over many multi-partition
// objects) into one per-partition object, so reads of older data need fewer, larger requests and
// most upload objects become garbage. Offsets and bytes are unchanged: batches are copied as they are.
import type { Logger } from '../common/logger.ts';
import type { MetadataStore, ObjectRange } from '../metadata/store.ts';
import type { ObjectReader } from './object-reader.ts';
import type { ObjectWriter } from './object-writer.ts';

export interface CompactorOptions {
  /** Writes the merged `compacted` objects (one attempt: a failed pass is retried by the next run,
   *  and an object it put but did not commit is an orphan for the garbage collector). */
  writer: ObjectWriter;
  store: MetadataStore;
  reader: ObjectReader;
  /** Ranges smaller than this are merged. */
  smallBytes: number;
  /** A merged range grows to at most this size. */
  targetBytes: number;
  log: Logger;
}

/** Compacts one run of small ranges per partition given; returns how many ranges were merged. */
export async function compactObjects(partitions: { topicId: string; partition: number; logStartOffset: number }[], o: CompactorOptions): Promise<number> {
  let merged = 0;
  for (const p of partitions) {
    const ranges = (await o.reader.ranges(p.topicId, p.partition)).filter((r) => r.endOffset > p.logStartOffset);
    const run = pickRun(ranges, o.smallBytes, o.targetBytes);
    if (run.length < 2) continue;
    const parts: Buffer[] = [];
    for (const r of run) parts.push(...(await o.reader.readRange(r)));
    const sizeBytes = parts.reduce((n, b) => n + b.length, 0);
    const { key, committed: id } = await o.writer.write({
      kind: 'compacted',
      parts,
      commit: async (key) => {
        const id = await o.store.replaceRanges(p.topicId, p.partition, run, key, sizeBytes, [
          {
            topicId: p.topicId,
            partitionIndex: p.partition,
            baseOffset: run[0]!.baseOffset,
            endOffset: run[run.length - 1]!.endOffset,
            position: 0,
            sizeBytes,
            maxTimestamp: run.reduce((m, r) => Math.max(m, r.maxTimestamp), -1),
            cleaned: run[0]!.cleaned === true,
          },
        ]);
        o.reader.invalidate(p.topicId, p.partition);
        return id;
      },
    });
    if (id === null) {
      // Retention removed one of the ranges meanwhile: the new object is garbage; delete it now.
      await o.writer.discard(key, 'compacted');
      continue;
    }
    merged += run.length;
    o.log.debug('merged small ranges', { topicId: p.topicId, partition: p.partition, ranges: run.length, sizeBytes });
  }
  return merged;
}

/** The first run of consecutive small ranges whose total stays within targetBytes. */
function pickRun(ranges: ObjectRange[], smallBytes: number, targetBytes: number): ObjectRange[] {
  let run: ObjectRange[] = [];
  let total = 0;
  for (const r of ranges) {
    // Cleaned and dirty ranges are not mixed, so the log cleaner's work is kept.
    const fits = r.sizeBytes < smallBytes && total + r.sizeBytes <= targetBytes && (run.length === 0 || (run[0]!.cleaned === true) === (r.cleaned === true));
    if (fits && (run.length === 0 || run[run.length - 1]!.endOffset <= r.baseOffset)) {
      run.push(r);
      total += r.sizeBytes;
      continue;
    }
    if (run.length >= 2) return run;
    run = r.sizeBytes < smallBytes ? [r] : [];
    total = run.length ? r.sizeBytes : 0;
  }
  return run;
}
