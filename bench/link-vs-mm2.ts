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
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KafkaClient } from '../src/link/client/index.ts';
import { repoRoot, runJava, startApacheKafka, startStrait } from '../test/compat/harness.ts';
import type { KafkaHandle } from '../test/compat/harness.ts';
import {
  MB,
  copyRun,
  runMirrorMaker2Copy,
  copyRatio,
  parseBytes,
  printResults,
  MemoryMaxima,
  UsageSampler,
  compareCopy,
  createTopic,
  fillTopic,
  http,
  log,
  logBytesOnDisk,
  machineInfo,
  median,
  pidListeningOn,
  range,
  round,
  scanTopic,
  shortSummary,
  summarize,
  timeSampledCopy,
  waitForQuiet,
} from './copy-measure.ts';
import type { CopyRun, FillStep, TopicScan } from './copy-measure.ts';
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
/** The share of each partition's oldest records deleted before copying (realistic shape). */
const DELETED_SHARE = 0.01;

// ---- the source data -------------------------------------------------------------------------------

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


// ---- the two copiers -------------------------------------------------------------------------------


function runMm2(source: KafkaHandle, sourceScan: TopicScan, sourceLogBytes: number, repeat: number): Promise<CopyRun> {
  return runMirrorMaker2Copy({
    source: { bootstrap: source.bootstrap, role: 'source-kafka', pid: pidListeningOn(source.port) },
    topic: TOPIC,
    partitions: PARTITIONS,
    sourceScan,
    bytes: sourceLogBytes,
    repeat,
    policy: POLICY,
    config: MM2_EXTRA_CONFIG,
  });
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
    const { timing, processes } = await timeSampledCopy(
      sampler,
      () => `--- link: ${JSON.stringify(description)}\n--- Strait output:\n${strait.output().slice(-8000)}`,
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
      sourceLogBytes,
    );
    const mirror = (description as LinkDescriptionLike | null)?.mirrors.find((m) => m.sourceTopic === TOPIC);
    const copyTopic = mirror?.topic ?? TOPIC;
    log(`Strait link copied everything in ${round(timing.seconds, 1)} s`);
    const copyScan = await scanTopic(client, copyTopic, PARTITIONS);
    return copyRun('strait', repeat, timing, sourceLogBytes, copyTopic, processes, compareCopy(sourceScan, copyScan), { link: description, memoryMiBMax: memory.mib() });
  } finally {
    await client.close();
    await strait.stop();
  }
}

// ---- the report ------------------------------------------------------------------------------------


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
    await createTopic(source.bootstrap, TOPIC, PARTITIONS);
    fill = await fillTopic(source.bootstrap, TOPIC, PAYLOAD_BYTES, RECORD_BYTES, SHAPE === 'realistic');
    if (SHAPE === 'realistic') deletedUpTo = await trimSourceStart(source, sourceClient);
    sourceLogBytes = logBytesOnDisk(join(source.dir, 'data'), TOPIC);
    sourceScan = await scanTopic(sourceClient, TOPIC, PARTITIONS);
    log(`source: ${sourceScan.records} records in ${sourceScan.batches} batches, ${round(sourceScan.batchBytes / MB, 1)} MB fetchable, ${round(sourceLogBytes / MB, 1)} MB of log on disk (read back in ${sourceScan.seconds} s)`);

    for (let repeat = 1; repeat <= REPEATS; repeat++) {
      for (const [copier, run, into] of [['mm2', runMm2, mm2Runs], ['strait', runStrait, straitRuns]] as const) {
        if (!ONLY.has(copier)) continue;
        const quiet = await waitForQuiet(QUIET_WAIT_MS_MAX);
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
  const ratio = copyRatio(mm2, strait);
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

  printResults(mm2, strait, failures, base);
}

await main();
