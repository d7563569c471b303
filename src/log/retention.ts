// Time and size retention (retention.ms, retention.bytes) on topics whose cleanup.policy includes
// delete. Whole object ranges are the unit, as segments are in Kafka: a range goes once its newest
// record is older than retention.ms, or while the partition stays at least retention.bytes without
// it. The log start offset moves to the first range kept; unreferenced objects are collected later.
import type { Logger } from '../common/logger.ts';
import type { LogManager } from './log-manager.ts';
import type { PartitionLog, ColdReader } from './partition-log.ts';

export interface RetentionStats {
  rangesDeleted: number;
  bytesDeleted: number;
}

export async function enforceRetention(logs: LogManager, cold: ColdReader, nowMs: number, log: Logger): Promise<RetentionStats> {
  const stats: RetentionStats = { rangesDeleted: 0, bytesDeleted: 0 };
  for (const p of [...logs.all()]) {
    if (!p.settings.deleteRetention) continue;
    // A mirror's head follows its source; its own policies apply once it is promoted.
    if (p.mirrorOf !== null) continue;
    const r = await retainPartition(p, logs, cold, nowMs);
    if (r.rangesDeleted > 0) {
      stats.rangesDeleted += r.rangesDeleted;
      stats.bytesDeleted += r.bytesDeleted;
      log.info('retention moved the log start offset', { topicId: p.topicId, partition: p.partition, logStartOffset: p.logStartOffset, ranges: r.rangesDeleted, bytes: r.bytesDeleted });
    }
  }
  return stats;
}

async function retainPartition(p: PartitionLog, logs: LogManager, cold: ColdReader, nowMs: number): Promise<RetentionStats> {
  const ranges = (await cold.ranges(p.topicId, p.partition)).filter((r) => r.endOffset > p.logStartOffset);
  const { retentionMs, retentionBytes } = p.settings;
  let size = ranges.reduce((n, r) => n + r.sizeBytes, 0);
  for (const e of p.tail) if (!e.uploaded) size += e.data.length;
  let drop = 0;
  let bytes = 0;
  while (drop < ranges.length) {
    const r = ranges[drop]!;
    const expired = retentionMs >= 0 && r.maxTimestamp >= 0 && r.maxTimestamp < nowMs - retentionMs;
    const oversize = retentionBytes >= 0 && size - r.sizeBytes >= retentionBytes;
    if (!expired && !oversize) break;
    size -= r.sizeBytes;
    bytes += r.sizeBytes;
    drop++;
  }
  if (drop === 0) return { rangesDeleted: 0, bytesDeleted: 0 };
  const newStart = drop < ranges.length ? ranges[drop]!.baseOffset : ranges[drop - 1]!.endOffset;
  await logs.advanceLogStartOffset(p, newStart);
  return { rangesDeleted: drop, bytesDeleted: bytes };
}
