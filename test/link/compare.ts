// Reads a partition's whole log as raw batches through the link client and compares two clusters'
// copies batch by batch: (base offset, last offset, CRC, bytes). Used by the mirror tests and the
// MirrorMaker 2 benchmark.
import { ApiKey, KafkaClient } from '../../src/link/client/index.ts';
import { batchCrc } from '../../src/protocol/records/index.ts';

export interface BatchFacts {
  baseOffset: number;
  lastOffset: number;
  crc: number;
  size: number;
}

/** Every batch of a partition from its log start offset to its high watermark, in order. */
export async function readBatchFacts(client: KafkaClient, topic: string, partition: number): Promise<{ logStartOffset: number; highWatermark: number; batches: BatchFacts[]; bytes: Buffer[] }> {
  const [start] = await client.listOffsets([{ topic, partition, spec: 'earliest' }]);
  if (start!.error) throw start!.error;
  let offset = start!.offset;
  const batches: BatchFacts[] = [];
  const bytes: Buffer[] = [];
  let hw = -1;
  for (;;) {
    const [r] = await client.fetch([{ topic, partition, offset }], { maxWaitMs: 0, partitionMaxBytes: 4 << 20, maxBytes: 8 << 20 });
    if (r!.error) throw r!.error;
    hw = r!.highWatermark;
    for (const b of r!.batches) {
      const view = r!.records.subarray(b.position, b.position + b.size);
      batches.push({ baseOffset: b.baseOffset, lastOffset: b.lastOffset, crc: batchCrc(view, 0), size: b.size });
      bytes.push(Buffer.from(view));
    }
    if (r!.nextOffset >= hw || r!.batches.length === 0) break;
    offset = r!.nextOffset;
  }
  return { logStartOffset: start!.offset, highWatermark: hw, batches, bytes };
}

export interface LogComparison {
  partitions: number;
  batches: number;
  /** Offsets the batches span (gaps inside batches included). */
  offsets: number;
  /** Human-readable differences; empty when both copies are the same. */
  differences: string[];
}

/** Compares every partition of a topic on two clusters, batch by batch and byte by byte. */
export async function compareTopic(source: KafkaClient, mirror: KafkaClient, topic: string, partitions: number, mirrorTopic = topic): Promise<LogComparison> {
  const out: LogComparison = { partitions, batches: 0, offsets: 0, differences: [] };
  for (let p = 0; p < partitions; p++) {
    const [a, b] = await Promise.all([readBatchFacts(source, topic, p), readBatchFacts(mirror, mirrorTopic, p)]);
    if (a.logStartOffset !== b.logStartOffset) out.differences.push(`${topic}-${p}: log start offset ${a.logStartOffset} vs ${b.logStartOffset}`);
    if (a.highWatermark !== b.highWatermark) out.differences.push(`${topic}-${p}: high watermark ${a.highWatermark} vs ${b.highWatermark}`);
    if (a.batches.length !== b.batches.length) out.differences.push(`${topic}-${p}: ${a.batches.length} batches vs ${b.batches.length}`);
    const n = Math.min(a.batches.length, b.batches.length);
    for (let i = 0; i < n; i++) {
      const x = a.batches[i]!;
      const y = b.batches[i]!;
      if (x.baseOffset !== y.baseOffset || x.lastOffset !== y.lastOffset || x.crc !== y.crc || !a.bytes[i]!.equals(b.bytes[i]!)) {
        out.differences.push(`${topic}-${p}: batch ${i} differs: ${JSON.stringify(x)} vs ${JSON.stringify(y)}`);
        if (out.differences.length > 20) return out;
      }
    }
    out.batches += a.batches.length;
    out.offsets += a.batches.reduce((s, x) => s + x.lastOffset - x.baseOffset + 1, 0);
  }
  return out;
}

/** Commits offsets for a group outside any generation (a simple commit, as admin tools do). */
export async function commitOffsets(client: KafkaClient, group: string, topic: string, offsets: [number, number][]): Promise<void> {
  const { response } = await client.sendRequest<any>(
    'any',
    ApiKey.OffsetCommit,
    () => ({
      groupId: group,
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [{ name: topic, partitions: offsets.map(([p, o]) => ({ partitionIndex: p, committedOffset: BigInt(o), committedLeaderEpoch: -1, committedMetadata: 'm' })) }],
    }),
    { versionMax: 8 },
  );
  for (const p of response.topics[0].partitions) if (p.errorCode !== 0) throw new Error(`OffsetCommit ${group} ${topic}-${p.partitionIndex}: error ${p.errorCode}`);
}
