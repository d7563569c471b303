// What the copy benchmarks share (link-vs-mm2.ts, reverse-vs-mm2.ts): process statistics of the
// copiers (from measure.ts), filling a topic with Kafka's ProducerPerformance, reading a topic back in full and
// comparing a copy with its source record by record and batch by batch, timing a copy by polling,
// Strait's memory metrics, and the summary of repeated runs.
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { KafkaClient } from '../src/link/client/index.ts';
import type { FetchedPartition } from '../src/link/client/index.ts';
import { batchCrc, compressionOf, readBatchRecords } from '../src/protocol/records/index.ts';
import { runJava, startApacheKafka } from '../test/compat/harness.ts';
import { startMirrorMaker2 } from '../test/link/mm2.ts';
import type { ReplicationPolicy } from '../test/link/mm2.ts';
import { MB, sleep, round, log, range, pidListeningOn, cpuSecondsOf, statusKiB, machineBusySeconds, waitForQuiet, UsageSampler, createTopic, median, machineInfo } from './measure.ts';
import type { ProcessUsage } from './measure.ts';

const POLL_INTERVAL_MS = 100;
/** Copying slower than this (MB/s) counts as stuck; sets the copy timeout with a floor. */
const COPY_MBPS_MIN = 1;
const COPY_TIMEOUT_MS_MIN = 300_000;
const SCAN_PARTITION_BYTES_MAX = 8 * MB;

// Process statistics, topic creation, medians and the machine's description live in measure.ts
// (shared with produce-consume.ts and wal-kinds.ts); the copy benchmarks import them from here.
export { MB, sleep, round, log, range, pidListeningOn, cpuSecondsOf, statusKiB, machineBusySeconds, waitForQuiet, UsageSampler, createTopic, median, machineInfo };
export type { ProcessUsage };

// ---- topics --------------------------------------------------------------------------------------------

export interface FillStep {
  records: number;
  compression: string;
  transactional: boolean;
  seconds: number;
}

/** How long one ProducerPerformance transaction stays open (transactional fill steps). */
const TRANSACTION_MS = 100;

/**
 * Fills a topic with ProducerPerformance, half the records uncompressed and half lz4 (those in
 * transactions when `transactional`): random uppercase payloads, unique per record.
 */
export async function fillTopic(bootstrap: string, topic: string, payloadBytes: number, recordBytes: number, transactional: boolean): Promise<FillStep[]> {
  const half = Math.floor(payloadBytes / recordBytes / 2);
  const plan = [
    { records: half, compression: 'none', transactional: false },
    { records: half, compression: 'lz4', transactional },
  ];
  const steps: FillStep[] = [];
  for (const step of plan) {
    const started = performance.now();
    const r = await runJava(
      'org.apache.kafka.tools.ProducerPerformance',
      [
        '--topic', topic,
        '--num-records', String(step.records),
        '--record-size', String(recordBytes),
        '--throughput', '-1',
        ...(step.transactional ? ['--transaction-duration-ms', String(TRANSACTION_MS)] : []),
        '--producer-props', `bootstrap.servers=${bootstrap}`, 'acks=all', `compression.type=${step.compression}`, 'linger.ms=5',
      ],
      { timeoutMs: 3_600_000, jvmArgs: ['-Xmx1g', '-XX:+UseG1GC'] },
    );
    if (r.code !== 0 || !r.stdout.includes('records sent')) throw new Error(`ProducerPerformance failed:\n${r.stdout}\n${r.stderr}`);
    steps.push({ ...step, seconds: round((performance.now() - started) / 1000, 1) });
    log(`filled ${step.records} records, ${step.compression}${step.transactional ? ', transactional' : ''}`);
  }
  return steps;
}

/** Bytes of the topic's partition logs in a Kafka log folder (segments only, no indexes). */
export function logBytesOnDisk(logDir: string, topic: string): number {
  let total = 0;
  for (const name of readdirSync(logDir)) {
    if (!new RegExp(`^${topic.replace(/[.]/g, '\\.')}-\\d+$`).test(name)) continue;
    for (const f of readdirSync(join(logDir, name))) if (f.endsWith('.log')) total += statSync(join(logDir, name, f)).size;
  }
  return total;
}

// ---- reading a topic back in full --------------------------------------------------------------------

export interface BatchSignature {
  baseOffset: number;
  lastOffset: number;
  crc: number;
  sizeBytes: number;
}

export interface PartitionScan {
  partition: number;
  logStartOffset: number;
  endOffset: number;
  /** Offsets and content hashes of the data records (not control records), in log order. */
  offsets: number[];
  hashes: number[];
  batches: BatchSignature[];
  controlBatches: number;
  batchBytes: number;
  compressedBatches: number;
}

export interface TopicScan {
  topic: string;
  partitions: PartitionScan[];
  records: number;
  batches: number;
  batchBytes: number;
  seconds: number;
}

/** A 53-bit hash of what a record carries (key, value, headers, timestamp), to find it in a copy. */
export function recordHash(key: Buffer | null, value: Buffer | null, headers: { key: string; value: Buffer | null }[], timestamp: number): number {
  const h = createHash('sha1');
  const len = Buffer.alloc(8);
  const part = (b: Buffer | null) => {
    len.writeInt32BE(b === null ? -1 : b.length, 0);
    h.update(len.subarray(0, 4));
    if (b !== null) h.update(b);
  };
  part(key);
  part(value);
  for (const header of headers) {
    part(Buffer.from(header.key));
    part(header.value);
  }
  len.writeDoubleBE(timestamp, 0);
  h.update(len);
  const d = h.digest();
  return (d.readUInt32BE(0) >>> 11) * 2 ** 32 + d.readUInt32BE(4);
}

/** Reads every batch of the topic from its log start to its end offset, decoding every record. */
export async function scanTopic(client: KafkaClient, topic: string, partitions: number): Promise<TopicScan> {
  const started = performance.now();
  const specs = (spec: 'earliest' | 'latest') => range(partitions).map((partition) => ({ topic, partition, spec }));
  const starts = await client.listOffsets(specs('earliest'), { timeoutMs: 30_000 });
  const ends = await client.listOffsets(specs('latest'), { timeoutMs: 30_000 });
  const scans: PartitionScan[] = [];
  for (const partition of range(partitions)) {
    const start = starts[partition]!;
    const end = ends[partition]!;
    if (start.error || end.error) throw new Error(`listOffsets ${topic}-${partition}: ${(start.error ?? end.error)!.message}`);
    const scan: PartitionScan = { partition, logStartOffset: start.offset, endOffset: end.offset, offsets: [], hashes: [], batches: [], controlBatches: 0, batchBytes: 0, compressedBatches: 0 };
    for (let offset = start.offset; offset < end.offset; ) {
      const [p] = await client.fetch([{ topic, partition, offset }], { partitionMaxBytes: SCAN_PARTITION_BYTES_MAX, maxBytes: SCAN_PARTITION_BYTES_MAX, timeoutMs: 30_000 });
      offset = addBatches(scan, p!, offset);
    }
    scans.push(scan);
  }
  const sum = (f: (p: PartitionScan) => number) => scans.reduce((a, p) => a + f(p), 0);
  return {
    topic,
    partitions: scans,
    records: sum((p) => p.offsets.length),
    batches: sum((p) => p.batches.length),
    batchBytes: sum((p) => p.batchBytes),
    seconds: round((performance.now() - started) / 1000, 1),
  };
}

/** Adds a fetch's batches to the scan; returns the next offset to fetch. */
export function addBatches(scan: PartitionScan, p: FetchedPartition, from: number): number {
  if (p.error) throw new Error(`fetch ${p.topic}-${p.partition} at ${from}: ${p.error.message}`);
  if (p.batches.length === 0) throw new Error(`fetch ${p.topic}-${p.partition} at ${from} returned no whole batch (high watermark ${p.highWatermark})`);
  for (const b of p.batches) {
    const bytes = p.records.subarray(b.position, b.position + b.size);
    // A fetch answers from the batch holding `from`; batches already scanned are not counted twice.
    if (b.lastOffset < from) continue;
    scan.batches.push({ baseOffset: b.baseOffset, lastOffset: b.lastOffset, crc: batchCrc(bytes, 0), sizeBytes: b.size });
    scan.batchBytes += b.size;
    const decoded = readBatchRecords(bytes, { verifyCrc: false });
    if (compressionOf(decoded.header.attributes) !== 'none') scan.compressedBatches++;
    if (decoded.isControl) {
      scan.controlBatches++;
      continue;
    }
    for (const r of decoded.records) {
      if (r.offset < from) continue;
      scan.offsets.push(r.offset);
      scan.hashes.push(recordHash(r.key, r.value, r.headers, r.timestamp));
    }
  }
  return p.nextOffset;
}

// ---- comparing a copy with the source ----------------------------------------------------------------

export interface PartitionComparison {
  partition: number;
  sourceLogStartOffset: number;
  copyLogStartOffset: number;
  sourceEndOffset: number;
  copyEndOffset: number;
  records: number;
  recordsAtSameOffset: number;
  recordsAtDifferentOffsets: number;
  /** Source records the copy lacks, copy records beyond the source's, and records whose content differs at the same position. */
  recordsMissing: number;
  recordsExtra: number;
  recordsDiffering: number;
  /** The first record found at another offset: where it is in the source and in the copy. */
  firstShift: { sourceOffset: number; copyOffset: number } | null;
  batchesSource: number;
  batchesCopy: number;
  /** Copy batches equal to the source batch at the same base offset in lastOffset, CRC and size. */
  batchesIdentical: number;
}

export interface OffsetComparison {
  /** True when every record sits at the same offset, with the same log start and end offsets. */
  offsetsIdentical: boolean;
  /** True when every batch is the same: base and last offset, CRC and size. */
  batchesIdentical: boolean;
  records: number;
  recordsAtDifferentOffsets: number;
  recordsMissing: number;
  recordsExtra: number;
  recordsDiffering: number;
  partitionsWithDifferentEndOffsets: number;
  partitionsWithDifferentLogStartOffsets: number;
  batchesSource: number;
  batchesCopy: number;
  batchesIdenticalCount: number;
  copyBatchBytes: number;
  summary: string;
  partitions: PartitionComparison[];
}

/**
 * Pairs the copy's data records with the source's in log order (the n-th record of a partition with
 * the n-th) and checks that each pair is the same record (content hash) at the same offset. A copier
 * that loses, duplicates or reorders records shows as missing, extra or differing records.
 */
export function compareCopy(source: TopicScan, copy: TopicScan): OffsetComparison {
  const partitions = source.partitions.map((s, i): PartitionComparison => {
    const c = copy.partitions[i]!;
    let same = 0;
    let shifted = 0;
    let differing = 0;
    let firstShift: PartitionComparison['firstShift'] = null;
    const paired = Math.min(s.offsets.length, c.offsets.length);
    for (let n = 0; n < paired; n++) {
      if (s.hashes[n] !== c.hashes[n]) differing++;
      else if (s.offsets[n] === c.offsets[n]) same++;
      else {
        shifted++;
        firstShift ??= { sourceOffset: s.offsets[n]!, copyOffset: c.offsets[n]! };
      }
    }
    const sourceBatches = new Map(s.batches.map((b) => [b.baseOffset, b]));
    const identical = c.batches.filter((b) => {
      const o = sourceBatches.get(b.baseOffset);
      return o !== undefined && o.lastOffset === b.lastOffset && o.crc === b.crc && o.sizeBytes === b.sizeBytes;
    }).length;
    return {
      partition: s.partition,
      sourceLogStartOffset: s.logStartOffset,
      copyLogStartOffset: c.logStartOffset,
      sourceEndOffset: s.endOffset,
      copyEndOffset: c.endOffset,
      records: s.offsets.length,
      recordsAtSameOffset: same,
      recordsAtDifferentOffsets: shifted,
      recordsMissing: Math.max(0, s.offsets.length - c.offsets.length),
      recordsExtra: Math.max(0, c.offsets.length - s.offsets.length),
      recordsDiffering: differing,
      firstShift,
      batchesSource: s.batches.length,
      batchesCopy: c.batches.length,
      batchesIdentical: identical,
    };
  });
  const sum = (f: (p: PartitionComparison) => number) => partitions.reduce((a, p) => a + f(p), 0);
  const r = {
    records: sum((p) => p.records),
    recordsAtDifferentOffsets: sum((p) => p.recordsAtDifferentOffsets),
    recordsMissing: sum((p) => p.recordsMissing),
    recordsExtra: sum((p) => p.recordsExtra),
    recordsDiffering: sum((p) => p.recordsDiffering),
    partitionsWithDifferentEndOffsets: partitions.filter((p) => p.sourceEndOffset !== p.copyEndOffset).length,
    partitionsWithDifferentLogStartOffsets: partitions.filter((p) => p.sourceLogStartOffset !== p.copyLogStartOffset).length,
    batchesSource: sum((p) => p.batchesSource),
    batchesCopy: sum((p) => p.batchesCopy),
    batchesIdenticalCount: sum((p) => p.batchesIdentical),
  };
  const offsetsIdentical = r.recordsAtDifferentOffsets + r.recordsMissing + r.recordsExtra + r.recordsDiffering + r.partitionsWithDifferentEndOffsets + r.partitionsWithDifferentLogStartOffsets === 0;
  const batchesIdentical = r.batchesCopy === r.batchesSource && r.batchesIdenticalCount === r.batchesSource;
  const summary =
    `offsets identical: ${offsetsIdentical}; ${r.recordsAtDifferentOffsets} of ${r.records} records at different offsets` +
    (r.recordsMissing + r.recordsExtra + r.recordsDiffering > 0 ? ` (${r.recordsMissing} missing, ${r.recordsExtra} extra, ${r.recordsDiffering} differing)` : '') +
    `; ${r.partitionsWithDifferentEndOffsets} of ${partitions.length} partitions with different end offsets, ${r.partitionsWithDifferentLogStartOffsets} with different log start offsets` +
    `; ${r.batchesIdenticalCount} of ${r.batchesSource} batches identical (copy has ${r.batchesCopy})`;
  return { offsetsIdentical, batchesIdentical, ...r, copyBatchBytes: copy.batchBytes, summary, partitions };
}

// ---- timing a copy ------------------------------------------------------------------------------------

export interface CopyRun {
  copier: string;
  repeat: number;
  /** From starting the copier (MM2 process start, link creation) until the copy held every record. */
  seconds: number;
  /** From the start until the first record reached the copy. */
  firstRecordSeconds: number;
  mbps: number;
  /** Source bytes over the time from the first copied record to the last. */
  copyPhaseMBps: number;
  copyTopic: string;
  processes: ProcessUsage[];
  comparison: OffsetComparison;
  details: Record<string, unknown>;
}

export interface Progress {
  done: boolean;
  copied: number;
}

/**
 * timeCopy while `sampler` (started by the caller) measures the processes; stops the sampler either
 * way, and a failure carries `diagnostics()` (the copier's state and output).
 */
export async function timeSampledCopy(
  sampler: UsageSampler,
  diagnostics: () => string,
  ...copy: Parameters<typeof timeCopy>
): Promise<{ timing: { seconds: number; firstRecordSeconds: number }; processes: ProcessUsage[] }> {
  try {
    const timing = await timeCopy(...copy);
    return { timing, processes: sampler.stop() };
  } catch (error) {
    sampler.stop();
    throw new Error(`${(error as Error).message}\n${diagnostics()}`);
  }
}

/** Polls until done() says so; returns the seconds to the first copied record and to the end. */
export async function timeCopy(startedAt: number, probe: () => Promise<Progress>, what: string, failed: () => string | null, bytes: number): Promise<{ seconds: number; firstRecordSeconds: number }> {
  const timeoutMs = Math.max(COPY_TIMEOUT_MS_MIN, (bytes / MB / COPY_MBPS_MIN) * 1000);
  let firstRecordAt: number | null = null;
  let lastReportAt = startedAt;
  for (;;) {
    const failure = failed();
    if (failure) throw new Error(`${what} stopped: ${failure}`);
    const p = await probe();
    const now = performance.now();
    if (firstRecordAt === null && p.copied > 0) firstRecordAt = now;
    if (p.done) return { seconds: (now - startedAt) / 1000, firstRecordSeconds: ((firstRecordAt ?? now) - startedAt) / 1000 };
    if (now - startedAt > timeoutMs) throw new Error(`${what} did not finish within ${timeoutMs / 1000} s (${p.copied} records copied)`);
    if (now - lastReportAt > 10_000) {
      log(`${what}: ${p.copied} records copied after ${round((now - startedAt) / 1000, 0)} s`);
      lastReportAt = now;
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

export async function endOffsets(client: KafkaClient, topic: string, partitions: number): Promise<number[] | null> {
  const listed = await client.listOffsets(range(partitions).map((partition) => ({ topic, partition, spec: 'latest' as const })), { timeoutMs: 2_000, retriesMax: 0 }).catch(() => null);
  if (listed === null || listed.some((l) => l.error !== null)) return null;
  return listed.map((l) => l.offset);
}

export async function http(method: string, url: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
  const res = await fetch(url, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON; the text says what happened.
  }
  return { status: res.status, json, text };
}

/** Where Strait's memory goes: the largest value seen of each memory metric of GET /metrics. */
export class MemoryMaxima {
  static readonly names = [
    'process_resident_memory_bytes',
    'nodejs_heap_used_bytes',
    'nodejs_heap_total_bytes',
    'nodejs_external_memory_bytes',
    'strait_tail_cache_bytes',
    'strait_block_cache_bytes',
    'strait_upload_pending_bytes',
  ];
  private readonly max = new Map<string, number>();

  add(scrape: { status: number; text: string }): void {
    if (scrape.status !== 200) return;
    for (const line of scrape.text.split('\n')) {
      const [name, value] = line.split(' ');
      if (name !== undefined && MemoryMaxima.names.includes(name)) this.max.set(name, Math.max(this.max.get(name) ?? 0, Number(value)));
    }
  }

  mib(): Record<string, number> {
    return Object.fromEntries(MemoryMaxima.names.map((n) => [n, round((this.max.get(n) ?? 0) / MB, 0)]));
  }
}

/** A run's figures: MB/s are `bytes` (what had to be copied) over the seconds. */
export function copyRun(copier: string, repeat: number, timing: { seconds: number; firstRecordSeconds: number }, bytes: number, copyTopic: string, processes: ProcessUsage[], comparison: OffsetComparison, details: Record<string, unknown>): CopyRun {
  return {
    copier,
    repeat,
    seconds: round(timing.seconds),
    firstRecordSeconds: round(timing.firstRecordSeconds),
    mbps: round(bytes / MB / timing.seconds),
    copyPhaseMBps: round(bytes / MB / (timing.seconds - timing.firstRecordSeconds)),
    copyTopic,
    processes,
    comparison,
    details,
  };
}

export interface Mm2CopyOptions {
  /** The cluster copied from, and its broker process for the usage figures. */
  source: { bootstrap: string; role: string; pid: number | null };
  topic: string;
  partitions: number;
  sourceScan: TopicScan;
  /** What had to be copied, for MB/s. */
  bytes: number;
  repeat: number;
  policy: ReplicationPolicy;
  config?: Record<string, string>;
}

/**
 * MirrorMaker 2 (dedicated mode, tasks.max = partitions) copies the topic into a new Apache Kafka;
 * timed from starting its JVM until the copy holds every data record, then stopped (before the
 * brokers it talks to) and its copy read back and compared with the source.
 */
export async function runMirrorMaker2Copy(o: Mm2CopyOptions): Promise<CopyRun> {
  const target = await startApacheKafka();
  const client = new KafkaClient({ bootstrap: target.bootstrap, clientId: 'bench-mm2' });
  try {
    const started = performance.now();
    const mm2 = await startMirrorMaker2({ sourceBootstrap: o.source.bootstrap, targetBootstrap: target.bootstrap, topics: [o.topic], tasksMax: o.partitions, replicationPolicy: o.policy, config: o.config ?? {} });
    const copyTopic = mm2.targetTopic(o.topic);
    const sampler = new UsageSampler(
      [
        { role: 'mirrormaker2', pid: mm2.pid },
        { role: 'target-kafka', pid: pidListeningOn(target.port) ?? 0 },
        { role: o.source.role, pid: o.source.pid ?? 0 },
      ].filter((p) => p.pid > 0),
    );
    sampler.start();
    let measured;
    try {
      // MM2 does not copy transaction markers and starts its copy at offset 0, so "every record"
      // is each partition's count of data records, not the source's end offset.
      measured = await timeSampledCopy(
        sampler,
        () => `--- MirrorMaker 2 output:\n${mm2.output().slice(-8000)}`,
        started,
        async () => {
          const ends = await endOffsets(client, copyTopic, o.partitions);
          if (ends === null) return { done: false, copied: 0 };
          return { done: ends.every((e, p) => e >= o.sourceScan.partitions[p]!.offsets.length), copied: ends.reduce((a, b) => a + b, 0) };
        },
        'MirrorMaker 2',
        () => mm2.exitStatus() ?? target.exitStatus(),
        o.bytes,
      );
    } finally {
      await mm2.stop();
    }
    const { timing, processes } = measured;
    log(`MirrorMaker 2 copied everything in ${round(timing.seconds, 1)} s`);
    const copyScan = await scanTopic(client, copyTopic, o.partitions);
    const details = { targetLogBytes: logBytesOnDisk(join(target.dir, 'data'), copyTopic), mm2Config: mm2.config };
    return copyRun('mm2', o.repeat, timing, o.bytes, copyTopic, processes, compareCopy(o.sourceScan, copyScan), details);
  } finally {
    await client.close();
    await target.stop();
  }
}

// ---- the report ------------------------------------------------------------------------------------

export function summarize(runs: CopyRun[]): Record<string, unknown> | null {
  if (runs.length === 0) return null;
  const m = (f: (r: CopyRun) => number) => round(median(runs.map(f)));
  const usage = (role: string, f: (u: ProcessUsage) => number) => m((r) => { const u = r.processes.find((p) => p.role === role); return u ? f(u) : Number.NaN; });
  const roles = [...new Set(runs.flatMap((r) => r.processes.map((p) => p.role)))];
  return {
    seconds: m((r) => r.seconds),
    firstRecordSeconds: m((r) => r.firstRecordSeconds),
    mbps: m((r) => r.mbps),
    copyPhaseMBps: m((r) => r.copyPhaseMBps),
    /** The fastest run, least disturbed by other work on the machine. */
    mbpsMax: round(Math.max(...runs.map((r) => r.mbps))),
    copyPhaseMBpsMax: round(Math.max(...runs.map((r) => r.copyPhaseMBps))),
    /** Median cores used by everything but the benchmark's processes while copying. */
    othersCpuCores: m((r) => r.processes.find((p) => p.role === 'everything else')?.cpuCores ?? Number.NaN),
    processes: Object.fromEntries(roles.map((role) => [role, { cpuSeconds: usage(role, (u) => u.cpuSeconds), cpuCores: usage(role, (u) => u.cpuCores), rssMiBMax: usage(role, (u) => u.rssMiBMax), rssAnonMiBMax: usage(role, (u) => u.rssAnonMiBMax), rssFileMiBMax: usage(role, (u) => u.rssFileMiBMax) }])),
    offsetsIdentical: runs.every((r) => r.comparison.offsetsIdentical),
    batchesIdentical: runs.every((r) => r.comparison.batchesIdentical),
    comparison: runs[runs.length - 1]!.comparison.summary,
  };
}

/** One line for the chart: the offset comparison of a copy in brief. */
export function shortSummary(c: OffsetComparison): string {
  const lost = c.recordsMissing + c.recordsExtra + c.recordsDiffering;
  return (
    `offsets identical ${c.offsetsIdentical}: ${c.recordsAtDifferentOffsets}/${c.records} records moved` +
    (lost > 0 ? `, ${lost} missing/extra/differing` : '') +
    `, ${c.partitionsWithDifferentEndOffsets}/${c.partitions.length} end offsets differ, ${c.batchesIdenticalCount}/${c.batchesSource} batches same`
  );
}

/** "2g", "500m", "64k" or a plain number of bytes; suffixes are powers of 1024. */
export function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)i?b?$/i.exec(text.trim());
  if (!m) throw new Error(`--bytes: cannot read '${text}' (e.g. 2g, 500m)`);
  const scale = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.round(Number(m[1]) * scale);
}

/** Strait over MM2 for the summarized runs: above 1, Strait copies faster (seconds: below 1). */
export function copyRatio(mm2: Record<string, unknown> | null, strait: Record<string, unknown> | null): Record<string, number> | null {
  if (!mm2 || !strait) return null;
  const over = (key: string) => round((strait[key] as number) / (mm2[key] as number));
  return { mbps: over('mbps'), copyPhaseMBps: over('copyPhaseMBps'), seconds: over('seconds'), mbpsOfFastestRuns: over('mbpsMax'), copyPhaseMBpsOfFastestRuns: over('copyPhaseMBpsMax') };
}

/** The closing table of a copy benchmark on stdout. */
export function printResults(mm2: Record<string, unknown> | null, strait: Record<string, unknown> | null, failures: { copier: string; repeat: number; error: string }[], base: string): void {
  const ratio = copyRatio(mm2, strait);
  const row = (name: string, s: Record<string, unknown> | null) =>
    s ? `${name.padEnd(8)} ${String(s.seconds).padStart(8)} ${String(s.mbps).padStart(8)} ${String(s.copyPhaseMBps).padStart(10)}  ${s.comparison}` : `${name.padEnd(8)} not measured`;
  process.stdout.write(
    `\n${'copier'.padEnd(8)} ${'seconds'.padStart(8)} ${'MB/s'.padStart(8)} ${'copy MB/s'.padStart(10)}  offsets\n${row('mm2', mm2)}\n${row('strait', strait)}\n` +
      (ratio ? `ratio Strait/MM2: ${ratio.mbps}x MB/s end to end, ${ratio.copyPhaseMBps}x copy phase\n` : '') +
      (failures.length ? `failures: ${failures.map((f) => `${f.copier} run ${f.repeat}: ${f.error.split('\n')[0]}`).join('; ')}\n` : '') +
      `written ${base}.json and .svg\n`,
  );
}
