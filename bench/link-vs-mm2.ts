// Mirroring throughput and fidelity: a Strait link against MirrorMaker 2 (Apache Kafka 4.3.1), on
// this machine, from the same source cluster holding the same data.
//
//   node bench/link-vs-mm2.ts [--bytes 2g] [--partitions 6] [--record-bytes 1024] [--repeats 1]
//                             [--policy default|identity] [--shape realistic|plain] [--only mm2,strait]
//                             [--mm2-config key=value]... [--out bench/results]
//
// One source Apache Kafka is filled once: half the records uncompressed, half lz4 (the lz4 half in
// transactions when --shape realistic, the default), then the oldest ~1% of every partition is
// deleted (DeleteRecords at a batch boundary, as retention deletes whole segments). Real topics look
// like this: their offsets start above 0 and transaction markers take offsets of their own. Each
// repeat then copies the topic twice, one copier at a time so they never share the two cores:
//
//   MM2:    a second Kafka as target, MirrorMaker 2 in dedicated mode (test/link/mm2.ts) with
//           tasks.max = partitions; timed from starting MirrorMaker until the target holds every
//           record (its end offsets, polled every 100 ms).
//   Strait: a Strait broker with a link created over its HTTP API (POST /v1/links); timed from the
//           POST until every mirror partition's mirroredEndOffset equals the source end offset.
//
// MB/s is the source topic's log bytes on disk (what had to be copied) over those seconds; MB is
// 2^20 bytes, as in produce-consume.ts. The "copy phase" MB/s leaves out the startup before the first
// record reached the copy. Afterwards both copies are read back in full and compared with the
// source: every record by content (key, value, headers, timestamp) and offset, and every batch by
// (baseOffset, lastOffset, CRC, size). Writes JSON and an SVG chart into bench/results/.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KafkaClient } from '../src/link/client/index.ts';
import type { FetchedPartition } from '../src/link/client/index.ts';
import { batchCrc, compressionOf, readBatchRecords } from '../src/protocol/records/index.ts';
import { repoRoot, runJava, startApacheKafka, startStrait } from '../test/compat/harness.ts';
import type { KafkaHandle } from '../test/compat/harness.ts';
import { startMirrorMaker2 } from '../test/link/mm2.ts';
import type { ReplicationPolicy } from '../test/link/mm2.ts';
import { barChart } from './chart.ts';
import type { Bar } from './chart.ts';

const { values: args } = parseArgs({
  options: {
    bytes: { type: 'string', default: '2g' },
    partitions: { type: 'string', default: '6' },
    'record-bytes': { type: 'string', default: '1024' },
    repeats: { type: 'string', default: '1' },
    policy: { type: 'string', default: 'default' },
    shape: { type: 'string', default: 'realistic' },
    only: { type: 'string', default: 'mm2,strait' },
    'mm2-config': { type: 'string', multiple: true, default: [] },
    'quiet-wait-seconds': { type: 'string', default: '600' },
    out: { type: 'string', default: join(repoRoot, 'bench', 'results') },
  },
});

/** "2g", "500m", "64k" or a plain number of bytes; suffixes are powers of 1024. */
function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)i?b?$/i.exec(text.trim());
  if (!m) throw new Error(`--bytes: cannot read '${text}' (e.g. 2g, 500m)`);
  const scale = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.round(Number(m[1]) * scale);
}

const PAYLOAD_BYTES = parseBytes(args.bytes!);
const PARTITIONS = Number(args.partitions);
const RECORD_BYTES = Number(args['record-bytes']);
const REPEATS = Number(args.repeats);
const POLICY = args.policy as ReplicationPolicy;
const SHAPE = args.shape as 'realistic' | 'plain';
const ONLY = new Set(args.only!.split(','));
const QUIET_WAIT_MS_MAX = Number(args['quiet-wait-seconds']) * 1000;
const MM2_EXTRA_CONFIG = Object.fromEntries(
  args['mm2-config']!.map((kv) => {
    const at = kv.indexOf('=');
    if (at <= 0) throw new Error(`--mm2-config takes key=value, got '${kv}'`);
    return [kv.slice(0, at), kv.slice(at + 1)];
  }),
);
if (!['default', 'identity'].includes(POLICY)) throw new Error('--policy is default or identity');
if (!['realistic', 'plain'].includes(SHAPE)) throw new Error('--shape is realistic or plain');

const TOPIC = 'bench-link';
const LINK_NAME = 'bench';
const MB = 2 ** 20;
/** The share of each partition's oldest records deleted before copying (realistic shape). */
const DELETED_SHARE = 0.01;
/** How long one ProducerPerformance transaction stays open (realistic shape). */
const TRANSACTION_MS = 100;
const POLL_INTERVAL_MS = 100;
const SAMPLE_INTERVAL_MS = 250;
/** Copying slower than this (MB/s) counts as stuck; sets the copy timeout with a floor. */
const COPY_MBPS_MIN = 1;
const COPY_TIMEOUT_MS_MIN = 300_000;
const SCAN_PARTITION_BYTES_MAX = 8 * MB;
const CLOCK_TICKS_PER_SECOND = 100;
/** Busy cores below which the machine counts as quiet enough to start a copy (an idle Kafka uses ~0.05). */
const QUIET_CORES_MAX = 0.3;
const QUIET_SAMPLE_MS = 3_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const log = (line: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);

// ---- process statistics ----------------------------------------------------------------------------

function pidListeningOn(port: number): number | null {
  const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
  const m = /pid=(\d+)/.exec(out);
  return m ? Number(m[1]) : null;
}

function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

function statusKiB(pid: number, field: 'VmRSS' | 'RssAnon' | 'RssFile'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** CPU seconds the whole machine spent busy (all but idle and iowait), from /proc/stat. */
function machineBusySeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return (total - fields[3]! - fields[4]!) / CLOCK_TICKS_PER_SECOND;
}

/**
 * Waits (up to --quiet-wait-seconds) until the machine is nearly idle, so a copy does not start
 * while other work holds the two cores; returns how long it waited and how busy the machine was.
 */
async function waitForQuiet(): Promise<{ waitedSeconds: number; busyCores: number }> {
  const started = performance.now();
  for (;;) {
    const before = machineBusySeconds();
    await sleep(QUIET_SAMPLE_MS);
    const busyCores = round((machineBusySeconds() - before) / (QUIET_SAMPLE_MS / 1000));
    const waitedMs = performance.now() - started;
    if (busyCores <= QUIET_CORES_MAX || waitedMs >= QUIET_WAIT_MS_MAX) return { waitedSeconds: round(waitedMs / 1000, 0), busyCores };
  }
}

export interface ProcessUsage {
  role: string;
  pid: number;
  cpuSeconds: number;
  /** Cores used on average over the measured interval. */
  cpuCores: number;
  rssMiBMax: number;
  /** The largest anonymous (heap, buffers) and file-backed (mapped files) parts of the RSS. */
  rssAnonMiBMax: number;
  rssFileMiBMax: number;
}

/** Samples CPU time and RSS of some processes from start() until stop(). */
class UsageSampler {
  private readonly startCpu = new Map<number, number>();
  private readonly rssMax = new Map<number, { rss: number; anon: number; file: number }>();
  private timer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private machineBusyAtStart = 0;
  private readonly processes: { role: string; pid: number }[];
  constructor(processes: { role: string; pid: number }[]) {
    this.processes = processes;
  }

  start(): void {
    this.startedAt = performance.now();
    this.machineBusyAtStart = machineBusySeconds();
    for (const { pid } of this.processes) this.startCpu.set(pid, cpuSecondsOf(pid));
    this.timer = setInterval(() => this.sample(), SAMPLE_INTERVAL_MS);
  }

  private sample(): void {
    for (const { pid } of this.processes) {
      const m = this.rssMax.get(pid) ?? { rss: 0, anon: 0, file: 0 };
      this.rssMax.set(pid, { rss: Math.max(m.rss, statusKiB(pid, 'VmRSS')), anon: Math.max(m.anon, statusKiB(pid, 'RssAnon')), file: Math.max(m.file, statusKiB(pid, 'RssFile')) });
    }
  }

  /** Usage per process, and the cores the whole machine was busy on average (others' work included). */
  stop(): ProcessUsage[] {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    const seconds = (performance.now() - this.startedAt) / 1000;
    const usage = this.processes.map(({ role, pid }) => {
      const cpuSeconds = cpuSecondsOf(pid) - this.startCpu.get(pid)!;
      const rss = this.rssMax.get(pid) ?? { rss: 0, anon: 0, file: 0 };
      const mib = (kib: number) => round(kib / 1024, 0);
      return { role, pid, cpuSeconds: round(cpuSeconds), cpuCores: round(cpuSeconds / seconds), rssMiBMax: mib(rss.rss), rssAnonMiBMax: mib(rss.anon), rssFileMiBMax: mib(rss.file) };
    });
    const machine = machineBusySeconds() - this.machineBusyAtStart;
    const measured = usage.reduce((a, u) => a + u.cpuSeconds, 0);
    // Everything else that ran meanwhile (other people's tests on a shared machine): noise to report.
    usage.push({ role: 'everything else', pid: 0, cpuSeconds: round(machine - measured), cpuCores: round((machine - measured) / seconds), rssMiBMax: 0, rssAnonMiBMax: 0, rssFileMiBMax: 0 });
    return usage;
  }
}

// ---- the source data -------------------------------------------------------------------------------

async function createTopic(bootstrap: string, topic: string): Promise<void> {
  const r = await runJava('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', bootstrap, '--create', '--topic', topic, '--partitions', String(PARTITIONS), '--replication-factor', '1'], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`topic creation failed: ${r.stderr}`);
}

interface FillStep {
  records: number;
  compression: string;
  transactional: boolean;
  seconds: number;
}

/** Fills the topic with ProducerPerformance: random uppercase payloads, unique per record. */
async function fillSource(source: KafkaHandle): Promise<FillStep[]> {
  const half = Math.floor(PAYLOAD_BYTES / RECORD_BYTES / 2);
  const plan = [
    { records: half, compression: 'none', transactional: false },
    { records: half, compression: 'lz4', transactional: SHAPE === 'realistic' },
  ];
  const steps: FillStep[] = [];
  for (const step of plan) {
    const started = performance.now();
    const r = await runJava(
      'org.apache.kafka.tools.ProducerPerformance',
      [
        '--topic', TOPIC,
        '--num-records', String(step.records),
        '--record-size', String(RECORD_BYTES),
        '--throughput', '-1',
        ...(step.transactional ? ['--transaction-duration-ms', String(TRANSACTION_MS)] : []),
        '--producer-props', `bootstrap.servers=${source.bootstrap}`, 'acks=all', `compression.type=${step.compression}`, 'linger.ms=5',
      ],
      { timeoutMs: 3_600_000, jvmArgs: ['-Xmx1g', '-XX:+UseG1GC'] },
    );
    if (r.code !== 0 || !r.stdout.includes('records sent')) throw new Error(`ProducerPerformance failed:\n${r.stdout}\n${r.stderr}`);
    steps.push({ ...step, seconds: round((performance.now() - started) / 1000, 1) });
    log(`filled ${step.records} records, ${step.compression}${step.transactional ? ', transactional' : ''}`);
  }
  return steps;
}

/**
 * Deletes the oldest ~1% of every partition up to a batch boundary, as retention would have: the
 * source's log start offsets are then above 0, which a copy must keep to keep offsets.
 */
async function trimSourceStart(source: KafkaHandle, client: KafkaClient): Promise<Record<number, number>> {
  const ends = await client.listOffsets(range(PARTITIONS).map((partition) => ({ topic: TOPIC, partition, spec: 'latest' as const })));
  const cut: Record<number, number> = {};
  for (const end of ends) {
    const [p] = await client.fetch([{ topic: TOPIC, partition: end.partition, offset: Math.floor(end.offset * DELETED_SHARE) }], { partitionMaxBytes: 1 * MB });
    const batch = p!.batches[0];
    if (p!.error || !batch) throw new Error(`cannot find a batch boundary in partition ${end.partition}: ${p!.error?.message ?? 'no batch'}`);
    cut[end.partition] = batch.lastOffset + 1;
  }
  const file = join(source.dir, 'delete-records.json');
  writeFileSync(file, JSON.stringify({ version: 1, partitions: Object.entries(cut).map(([partition, offset]) => ({ topic: TOPIC, partition: Number(partition), offset })) }));
  const r = await runJava('org.apache.kafka.tools.DeleteRecordsCommand', ['--bootstrap-server', source.bootstrap, '--offset-json-file', file], { timeoutMs: 60_000 });
  if (r.code !== 0 || /error/i.test(r.stdout)) throw new Error(`DeleteRecords failed:\n${r.stdout}\n${r.stderr}`);
  return cut;
}

/** Bytes of the topic's partition logs in a Kafka log folder (segments only, no indexes). */
function logBytesOnDisk(logDir: string, topic: string): number {
  let total = 0;
  for (const name of readdirSync(logDir)) {
    if (!new RegExp(`^${topic.replace(/[.]/g, '\\.')}-\\d+$`).test(name)) continue;
    for (const f of readdirSync(join(logDir, name))) if (f.endsWith('.log')) total += statSync(join(logDir, name, f)).size;
  }
  return total;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

// ---- reading a topic back in full --------------------------------------------------------------------

interface BatchSignature {
  baseOffset: number;
  lastOffset: number;
  crc: number;
  sizeBytes: number;
}

interface PartitionScan {
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

interface TopicScan {
  topic: string;
  partitions: PartitionScan[];
  records: number;
  batches: number;
  batchBytes: number;
  seconds: number;
}

/** A 53-bit hash of what a record carries (key, value, headers, timestamp), to find it in a copy. */
function recordHash(key: Buffer | null, value: Buffer | null, headers: { key: string; value: Buffer | null }[], timestamp: number): number {
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
async function scanTopic(client: KafkaClient, topic: string, partitions: number): Promise<TopicScan> {
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
function addBatches(scan: PartitionScan, p: FetchedPartition, from: number): number {
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

interface PartitionComparison {
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

interface OffsetComparison {
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
function compareCopy(source: TopicScan, copy: TopicScan): OffsetComparison {
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

// ---- the two copiers -------------------------------------------------------------------------------

interface CopyRun {
  copier: 'mm2' | 'strait';
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

interface Progress {
  done: boolean;
  copied: number;
}

/** Polls until done() says so; returns the seconds to the first copied record and to the end. */
async function timeCopy(startedAt: number, probe: () => Promise<Progress>, what: string, failed: () => string | null): Promise<{ seconds: number; firstRecordSeconds: number }> {
  const timeoutMs = Math.max(COPY_TIMEOUT_MS_MIN, (PAYLOAD_BYTES / MB / COPY_MBPS_MIN) * 1000);
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

async function endOffsets(client: KafkaClient, topic: string): Promise<number[] | null> {
  const listed = await client.listOffsets(range(PARTITIONS).map((partition) => ({ topic, partition, spec: 'latest' as const })), { timeoutMs: 2_000, retriesMax: 0 }).catch(() => null);
  if (listed === null || listed.some((l) => l.error !== null)) return null;
  return listed.map((l) => l.offset);
}

async function runMm2(source: KafkaHandle, sourceScan: TopicScan, sourceLogBytes: number, repeat: number): Promise<CopyRun> {
  const target = await startApacheKafka();
  const client = new KafkaClient({ bootstrap: target.bootstrap, clientId: 'bench-link-vs-mm2' });
  try {
    const started = performance.now();
    const mm2 = await startMirrorMaker2({
      sourceBootstrap: source.bootstrap,
      targetBootstrap: target.bootstrap,
      topics: [TOPIC],
      tasksMax: PARTITIONS,
      replicationPolicy: POLICY,
      config: MM2_EXTRA_CONFIG,
    });
    const copyTopic = mm2.targetTopic(TOPIC);
    const targetPid = pidListeningOn(target.port);
    const sourcePid = pidListeningOn(source.port);
    const sampler = new UsageSampler([
      { role: 'mirrormaker2', pid: mm2.pid },
      ...(targetPid ? [{ role: 'target-kafka', pid: targetPid }] : []),
      ...(sourcePid ? [{ role: 'source-kafka', pid: sourcePid }] : []),
    ]);
    sampler.start();
    let timing: { seconds: number; firstRecordSeconds: number };
    let processes: ProcessUsage[];
    try {
      // MM2 does not copy transaction markers and starts its copy at offset 0, so "every record"
      // is each partition's count of data records, not the source's end offset.
      timing = await timeCopy(
        started,
        async () => {
          const ends = await endOffsets(client, copyTopic);
          if (ends === null) return { done: false, copied: 0 };
          return { done: ends.every((e, p) => e >= sourceScan.partitions[p]!.offsets.length), copied: ends.reduce((a, b) => a + b, 0) };
        },
        'MirrorMaker 2',
        () => mm2.exitStatus() ?? target.exitStatus(),
      );
      processes = sampler.stop();
    } catch (error) {
      sampler.stop();
      await mm2.stop();
      throw new Error(`${(error as Error).message}\n--- MirrorMaker 2 output:\n${mm2.output().slice(-8000)}`);
    }
    log(`MM2 copied everything in ${round(timing.seconds, 1)} s; stopping it before reading the copy`);
    await mm2.stop();
    const copyScan = await scanTopic(client, copyTopic, PARTITIONS);
    return {
      copier: 'mm2',
      repeat,
      seconds: round(timing.seconds),
      firstRecordSeconds: round(timing.firstRecordSeconds),
      mbps: round(sourceLogBytes / MB / timing.seconds),
      copyPhaseMBps: round(sourceLogBytes / MB / (timing.seconds - timing.firstRecordSeconds)),
      copyTopic,
      processes,
      comparison: compareCopy(sourceScan, copyScan),
      details: { targetLogBytes: logBytesOnDisk(join(target.dir, 'data'), copyTopic), mm2Config: mm2.config },
    };
  } finally {
    await client.close();
    await target.stop();
  }
}

interface LinkPartition {
  partition: number;
  mirroredEndOffset: number;
  sourceHighWatermark: number;
  lagRecords: number;
  error: string | null;
}
interface LinkMirror {
  topic: string;
  sourceTopic: string;
  state: string;
  partitions: LinkPartition[];
}
interface LinkDescriptionLike {
  name: string;
  sourceError: string | null;
  mirrors: LinkMirror[];
}

async function http(method: string, url: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
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
class MemoryMaxima {
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

async function runStrait(source: KafkaHandle, sourceScan: TopicScan, sourceLogBytes: number, repeat: number): Promise<CopyRun> {
  const strait = await startStrait({ args: ['--log-level', 'warn'] });
  const { adminUrl } = strait;
  const client = new KafkaClient({ bootstrap: strait.bootstrap, clientId: 'bench-link-vs-mm2' });
  try {
    const sourcePid = pidListeningOn(source.port);
    const sampler = new UsageSampler([{ role: 'strait', pid: strait.proc.pid! }, ...(sourcePid ? [{ role: 'source-kafka', pid: sourcePid }] : [])]);
    const linkUrl = `${adminUrl}/v1/links/${LINK_NAME}`;
    let description: LinkDescriptionLike | null = null;
    const memory = new MemoryMaxima();
    sampler.start();
    const started = performance.now();
    const created = await http('POST', `${adminUrl}/v1/links`, { name: LINK_NAME, bootstrap: source.bootstrap, topics: { include: [TOPIC] } });
    if (created.status >= 300) {
      sampler.stop();
      throw new Error(`POST /v1/links answered ${created.status}: ${created.text}`);
    }
    let timing: { seconds: number; firstRecordSeconds: number };
    let processes: ProcessUsage[];
    try {
      timing = await timeCopy(
        started,
        async () => {
          memory.add(await http('GET', `${adminUrl}/metrics`));
          const got = await http('GET', linkUrl);
          if (got.status !== 200) return { done: false, copied: 0 };
          description = got.json as LinkDescriptionLike;
          const mirror = description.mirrors.find((m) => m.sourceTopic === TOPIC);
          if (!mirror || mirror.partitions.length < PARTITIONS) return { done: false, copied: 0 };
          const copied = mirror.partitions.reduce((a, p) => a + Math.max(0, p.mirroredEndOffset - sourceScan.partitions[p.partition]!.logStartOffset), 0);
          return { done: mirror.partitions.every((p) => p.mirroredEndOffset === sourceScan.partitions[p.partition]!.endOffset), copied };
        },
        'Strait link',
        () => strait.exitStatus(),
      );
      processes = sampler.stop();
    } catch (error) {
      sampler.stop();
      throw new Error(`${(error as Error).message}\n--- link: ${JSON.stringify(description)}\n--- Strait output:\n${strait.output().slice(-8000)}`);
    }
    const mirror = (description as LinkDescriptionLike | null)?.mirrors.find((m) => m.sourceTopic === TOPIC);
    const copyTopic = mirror?.topic ?? TOPIC;
    log(`Strait link copied everything in ${round(timing.seconds, 1)} s`);
    const copyScan = await scanTopic(client, copyTopic, PARTITIONS);
    return {
      copier: 'strait',
      repeat,
      seconds: round(timing.seconds),
      firstRecordSeconds: round(timing.firstRecordSeconds),
      mbps: round(sourceLogBytes / MB / timing.seconds),
      copyPhaseMBps: round(sourceLogBytes / MB / (timing.seconds - timing.firstRecordSeconds)),
      copyTopic,
      processes,
      comparison: compareCopy(sourceScan, copyScan),
      details: { link: description, memoryMiBMax: memory.mib() },
    };
  } finally {
    await client.close();
    await strait.stop();
  }
}

// ---- the report ------------------------------------------------------------------------------------

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function machineInfo(): Record<string, unknown> {
  // java -version prints on stderr.
  const javaVersion = /version "([^"]+)"/.exec(execFileSync('sh', ['-c', 'java -version 2>&1'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
  return {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    java: javaVersion,
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
  };
}

function summarize(runs: CopyRun[]): Record<string, unknown> | null {
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
function shortSummary(c: OffsetComparison): string {
  const lost = c.recordsMissing + c.recordsExtra + c.recordsDiffering;
  return (
    `offsets identical ${c.offsetsIdentical}: ${c.recordsAtDifferentOffsets}/${c.records} records moved` +
    (lost > 0 ? `, ${lost} missing/extra/differing` : '') +
    `, ${c.partitionsWithDifferentEndOffsets}/${c.partitions.length} end offsets differ, ${c.batchesIdenticalCount}/${c.batchesSource} batches same`
  );
}

function chart(mm2: CopyRun[], strait: CopyRun[], notes: string[]): string {
  const bars: Bar[] = [];
  for (const [label, runs] of [['mirrormaker2', mm2], ['strait link', strait]] as const) {
    bars.push({ group: 'end to end', label, value: runs.length ? median(runs.map((r) => r.mbps)) : Number.NaN });
  }
  for (const [label, runs] of [['mirrormaker2', mm2], ['strait link', strait]] as const) {
    bars.push({ group: 'copy phase', label, value: runs.length ? median(runs.map((r) => r.copyPhaseMBps)) : Number.NaN });
  }
  return barChart({
    title: `Mirroring ${round(PAYLOAD_BYTES / 2 ** 30, 2)} GiB, ${PARTITIONS} partitions: Strait link vs MirrorMaker 2 (Kafka 4.3.1), MB/s`,
    bars,
    unit: 'MB/s',
    colors: { 'strait link': '#2b7a78', mirrormaker2: '#d17a22' },
    notes,
    widthPx: 900,
  });
}

async function main(): Promise<void> {
  const date = new Date().toISOString();
  log(`starting the source Kafka; ${PAYLOAD_BYTES} payload bytes in ${RECORD_BYTES}-byte records, ${PARTITIONS} partitions, shape ${SHAPE}`);
  const source = await startApacheKafka();
  const sourceClient = new KafkaClient({ bootstrap: source.bootstrap, clientId: 'bench-link-vs-mm2' });
  const mm2Runs: CopyRun[] = [];
  const straitRuns: CopyRun[] = [];
  const failures: { copier: string; repeat: number; error: string }[] = [];
  let fill: FillStep[] = [];
  let deletedUpTo: Record<number, number> = {};
  let sourceScan: TopicScan;
  let sourceLogBytes = 0;
  try {
    await createTopic(source.bootstrap, TOPIC);
    fill = await fillSource(source);
    if (SHAPE === 'realistic') deletedUpTo = await trimSourceStart(source, sourceClient);
    sourceLogBytes = logBytesOnDisk(join(source.dir, 'data'), TOPIC);
    sourceScan = await scanTopic(sourceClient, TOPIC, PARTITIONS);
    log(`source: ${sourceScan.records} records in ${sourceScan.batches} batches, ${round(sourceScan.batchBytes / MB, 1)} MB fetchable, ${round(sourceLogBytes / MB, 1)} MB of log on disk (read back in ${sourceScan.seconds} s)`);

    for (let repeat = 1; repeat <= REPEATS; repeat++) {
      for (const [copier, run, into] of [['mm2', runMm2, mm2Runs], ['strait', runStrait, straitRuns]] as const) {
        if (!ONLY.has(copier)) continue;
        const quiet = await waitForQuiet();
        log(`${copier} run ${repeat} of ${REPEATS} (machine busy on ${quiet.busyCores} cores after waiting ${quiet.waitedSeconds} s for it to quieten)`);
        try {
          const r = await run(source, sourceScan, sourceLogBytes, repeat);
          r.details['quietBefore'] = quiet;
          into.push(r);
          log(`${copier} run ${repeat}: ${r.seconds} s, ${r.mbps} MB/s (copy phase ${r.copyPhaseMBps} MB/s); ${r.comparison.summary}`);
        } catch (error) {
          const message = (error as Error).message;
          failures.push({ copier, repeat, error: message.slice(0, 20_000) });
          log(`${copier} run ${repeat} failed: ${message.slice(0, 2000)}`);
        }
      }
    }
  } finally {
    await sourceClient.close();
    await source.stop();
  }

  const mm2 = summarize(mm2Runs);
  const strait = summarize(straitRuns);
  const over = (key: string) => round((strait![key] as number) / (mm2![key] as number));
  const ratio = mm2 && strait ? { mbps: over('mbps'), copyPhaseMBps: over('copyPhaseMBps'), seconds: over('seconds'), mbpsOfFastestRuns: over('mbpsMax'), copyPhaseMBpsOfFastestRuns: over('copyPhaseMBpsMax') } : null;
  const report = {
    benchmark: 'link-vs-mm2',
    date,
    machine: machineInfo(),
    settings: {
      payloadBytes: PAYLOAD_BYTES,
      recordBytes: RECORD_BYTES,
      partitions: PARTITIONS,
      repeats: REPEATS,
      shape: SHAPE,
      fill,
      deletedUpTo,
      mm2: { replicationPolicy: POLICY, tasksMax: PARTITIONS, extraConfig: MM2_EXTRA_CONFIG },
      units: { MB: '2^20 bytes', mbps: 'source log bytes on disk / seconds' },
    },
    source: {
      topic: TOPIC,
      logBytes: sourceLogBytes,
      records: sourceScan!.records,
      batches: sourceScan!.batches,
      fetchedBatchBytes: sourceScan!.batchBytes,
      controlBatches: sourceScan!.partitions.reduce((a, p) => a + p.controlBatches, 0),
      compressedBatches: sourceScan!.partitions.reduce((a, p) => a + p.compressedBatches, 0),
      partitions: sourceScan!.partitions.map((p) => ({ partition: p.partition, logStartOffset: p.logStartOffset, endOffset: p.endOffset, records: p.offsets.length, batches: p.batches.length, controlBatches: p.controlBatches })),
    },
    results: { mm2, strait },
    /** Strait / MM2: above 1 means Strait mirrors faster (seconds: below 1). */
    ratio,
    runs: [...mm2Runs, ...straitRuns],
    failures,
  };
  const out = resolve(args.out!);
  mkdirSync(out, { recursive: true });
  const stamp = date.slice(0, 19).replace(/[:T]/g, '-');
  const base = join(out, `link-vs-mm2-${stamp}`);
  writeFileSync(`${base}.json`, JSON.stringify(report, null, 2) + '\n');
  const policyClass = POLICY === 'identity' ? 'IdentityReplicationPolicy' : 'DefaultReplicationPolicy';
  const notes = [
    `source: ${round(sourceLogBytes / MB, 0)} MB of log, ${report.source.records} records, half lz4${SHAPE === 'realistic' ? ' in transactions, oldest 1% deleted' : ''}; 2 cores shared by all processes`,
    `MM2 (${policyClass}, tasks.max=${PARTITIONS}): ${mm2Runs.length ? shortSummary(mm2Runs.at(-1)!.comparison) : 'not run'}`,
    `Strait link: ${straitRuns.length ? shortSummary(straitRuns.at(-1)!.comparison) : 'not run'}`,
    ...(ratio ? [`ratio Strait/MM2: ${ratio.mbps}x end to end, ${ratio.copyPhaseMBps}x in the copy phase (median of ${REPEATS})`] : []),
  ];
  writeFileSync(`${base}.svg`, chart(mm2Runs, straitRuns, notes));

  const row = (name: string, s: Record<string, unknown> | null) =>
    s ? `${name.padEnd(8)} ${String(s.seconds).padStart(8)} ${String(s.mbps).padStart(8)} ${String(s.copyPhaseMBps).padStart(10)}  ${s.comparison}` : `${name.padEnd(8)} not measured`;
  process.stdout.write(
    `\n${'copier'.padEnd(8)} ${'seconds'.padStart(8)} ${'MB/s'.padStart(8)} ${'copy MB/s'.padStart(10)}  offsets\n${row('mm2', mm2)}\n${row('strait', strait)}\n` +
      (ratio ? `ratio Strait/MM2: ${ratio.mbps}x MB/s end to end, ${ratio.copyPhaseMBps}x copy phase\n` : '') +
      (failures.length ? `failures: ${failures.map((f) => `${f.copier} run ${f.repeat}: ${f.error.split('\n')[0]}`).join('; ')}\n` : '') +
      `written ${base}.json and .svg\n`,
  );
}

await main();
