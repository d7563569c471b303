// Rollback speed and fidelity: Strait's copy back to Kafka after a promotion (`strait link reverse`)
// against MirrorMaker 2 (Apache Kafka 4.3.1) copying the same promoted topic from Strait to Kafka.
//
//   node bench/reverse-vs-mm2.ts [--bytes 1g] [--partitions 6] [--record-bytes 1024] [--repeats 1]
//                                [--only mm2,strait] [--out bench/results]
//
// Each repeat starts from scratch, so the copies never share data or caches:
//   1. An Apache Kafka (the cluster the workload came from) with an empty topic, and a Strait broker
//      that links it, mirrors the topic and promotes it: the promotion point is offset 0.
//   2. Kafka's ProducerPerformance writes --bytes to the promoted topic on Strait (acks=all, half
//      uncompressed, half lz4; no transactions, so every record can keep its offset).
//   3. MM2: a second Kafka as target and MirrorMaker 2 in dedicated mode with Strait as its source
//      (tasks.max = partitions); timed from starting MirrorMaker until the copy holds every record.
//   4. Strait: POST /v1/links/NAME/reverse; timed until every partition's copy back has reached
//      Strait's end offset.
// One copier at a time (never both at once on the two cores). Both copies are then read back in full
// and compared with Strait's topic record by record and batch by batch (copy-measure.ts).
// MB/s is Strait's log bytes of the topic (its batches as fetched) over the seconds.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KafkaClient } from '../src/link/client/index.ts';
import { repoRoot, startApacheKafka, startStrait } from '../test/compat/harness.ts';
import type { KafkaHandle, StraitHandle } from '../test/compat/harness.ts';
import { barChart } from './chart.ts';
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
  machineInfo,
  median,
  pidListeningOn,
  round,
  scanTopic,
  shortSummary,
  sleep,
  summarize,
  timeSampledCopy,
  waitForQuiet,
} from './copy-measure.ts';
import type { CopyRun, FillStep, TopicScan } from './copy-measure.ts';

const { values: args } = parseArgs({
  options: {
    bytes: { type: 'string', default: '1g' },
    partitions: { type: 'string', default: '6' },
    'record-bytes': { type: 'string', default: '1024' },
    repeats: { type: 'string', default: '1' },
    only: { type: 'string', default: 'mm2,strait' },
    'quiet-wait-seconds': { type: 'string', default: '600' },
    out: { type: 'string', default: join(repoRoot, 'bench', 'results') },
  },
});

const PAYLOAD_BYTES = parseBytes(args.bytes!);
const PARTITIONS = Number(args.partitions);
const RECORD_BYTES = Number(args['record-bytes']);
const REPEATS = Number(args.repeats);
const ONLY = new Set(args.only!.split(','));
const QUIET_WAIT_MS_MAX = Number(args['quiet-wait-seconds']) * 1000;
const TOPIC = 'bench-back';
const LINK_NAME = 'back';

interface ReversePartition {
  partition: number;
  state: string;
  nextOffset: number;
  error: string | null;
}
interface LinkLike {
  mirrors: { topic: string; state: string; reverse: { offsetsIdentical: boolean; partitions: ReversePartition[] } | null }[];
}

async function post(url: string, body: unknown): Promise<unknown> {
  const r = await http('POST', url, body);
  if (r.status >= 300) throw new Error(`POST ${url} answered ${r.status}: ${r.text}`);
  return r.json;
}

/** A Kafka with an empty topic, a Strait that linked, mirrored and promoted it, and the topic filled on Strait. */
async function setUp(): Promise<{ kafka: KafkaHandle; strait: StraitHandle; fill: FillStep[]; scan: TopicScan }> {
  const kafka = await startApacheKafka();
  let strait: StraitHandle | null = null;
  try {
    await createTopic(kafka.bootstrap, TOPIC, PARTITIONS);
    strait = await startStrait({ args: ['--log-level', 'warn'] });
    const links = `${strait.adminUrl}/v1/links`;
    await post(links, { name: LINK_NAME, bootstrap: kafka.bootstrap, topics: { include: [TOPIC] } });
    for (let i = 0; ; i++) {
      const d = (await http('GET', `${links}/${LINK_NAME}`)).json as LinkLike;
      if (d.mirrors.some((m) => m.topic === TOPIC)) break;
      if (i > 300) throw new Error(`the link did not mirror ${TOPIC}: ${JSON.stringify(d)}`);
      await sleep(100);
    }
    await post(`${links}/${LINK_NAME}/promote`, { topics: [TOPIC], timeoutMs: 60_000 });
    const fill = await fillTopic(strait.bootstrap, TOPIC, PAYLOAD_BYTES, RECORD_BYTES, false);
    const client = new KafkaClient({ bootstrap: strait.bootstrap, clientId: 'bench-reverse-vs-mm2' });
    try {
      const scan = await scanTopic(client, TOPIC, PARTITIONS);
      log(`Strait's promoted topic: ${scan.records} records in ${scan.batches} batches, ${round(scan.batchBytes / MB, 1)} MB (read back in ${scan.seconds} s)`);
      return { kafka, strait, fill, scan };
    } finally {
      await client.close();
    }
  } catch (error) {
    await strait?.stop();
    await kafka.stop();
    throw error;
  }
}

function runMm2(strait: StraitHandle, scan: TopicScan, repeat: number): Promise<CopyRun> {
  return runMirrorMaker2Copy({
    source: { bootstrap: strait.bootstrap, role: 'strait', pid: strait.proc.pid ?? null },
    topic: TOPIC,
    partitions: PARTITIONS,
    sourceScan: scan,
    bytes: scan.batchBytes,
    repeat,
    policy: 'identity',
  });
}

async function runStrait(kafka: KafkaHandle, strait: StraitHandle, scan: TopicScan, repeat: number): Promise<CopyRun> {
  const client = new KafkaClient({ bootstrap: kafka.bootstrap, clientId: 'bench-reverse-vs-mm2' });
  const linkUrl = `${strait.adminUrl}/v1/links/${LINK_NAME}`;
  try {
    const sampler = new UsageSampler([
      { role: 'strait', pid: strait.proc.pid! },
      { role: 'target-kafka', pid: pidListeningOn(kafka.port) ?? 0 },
    ].filter((p) => p.pid > 0));
    const memory = new MemoryMaxima();
    let reverse: LinkLike['mirrors'][number]['reverse'] = null;
    sampler.start();
    const started = performance.now();
    await post(`${linkUrl}/reverse`, { topics: [TOPIC] });
    const { timing, processes } = await timeSampledCopy(
      sampler,
      () => `--- reverse: ${JSON.stringify(reverse)}\n--- Strait output:\n${strait.output().slice(-8000)}`,
      started,
      async () => {
        memory.add(await http('GET', `${strait.adminUrl}/metrics`));
        const d = (await http('GET', linkUrl)).json as LinkLike;
        reverse = d.mirrors.find((m) => m.topic === TOPIC)?.reverse ?? null;
        if (!reverse || reverse.partitions.length < PARTITIONS) return { done: false, copied: 0 };
        const stopped = reverse.partitions.find((p) => p.state === 'stopped');
        if (stopped) throw new Error(`the copy back of partition ${stopped.partition} stopped: ${stopped.error}`);
        return {
          done: reverse.partitions.every((p) => p.nextOffset >= scan.partitions[p.partition]!.endOffset),
          copied: reverse.partitions.reduce((a, p) => a + p.nextOffset, 0),
        };
      },
      'Strait reverse copy',
      () => strait.exitStatus() ?? kafka.exitStatus(),
      scan.batchBytes,
    );
    log(`Strait copied everything back in ${round(timing.seconds, 1)} s`);
    await post(`${linkUrl}/reverse/stop`, { topics: [TOPIC] });
    const copyScan = await scanTopic(client, TOPIC, PARTITIONS);
    return copyRun('strait', repeat, timing, scan.batchBytes, TOPIC, processes, compareCopy(scan, copyScan), { reverse, memoryMiBMax: memory.mib() });
  } finally {
    await client.close();
  }
}

async function main(): Promise<void> {
  const date = new Date().toISOString();
  const runs: Record<'mm2' | 'strait', CopyRun[]> = { mm2: [], strait: [] };
  const failures: { copier: string; repeat: number; error: string }[] = [];
  const fills: FillStep[][] = [];
  let lastScan: TopicScan | null = null;
  for (let repeat = 1; repeat <= REPEATS; repeat++) {
    log(`repeat ${repeat} of ${REPEATS}: Kafka, Strait, link, promote, then ${PAYLOAD_BYTES} payload bytes in ${RECORD_BYTES}-byte records to Strait's ${PARTITIONS} partitions`);
    const { kafka, strait, fill, scan } = await setUp();
    fills.push(fill);
    lastScan = scan;
    try {
      for (const copier of ['mm2', 'strait'] as const) {
        if (!ONLY.has(copier)) continue;
        const quiet = await waitForQuiet(QUIET_WAIT_MS_MAX);
        log(`${copier} run ${repeat} (machine busy on ${quiet.busyCores} cores after waiting ${quiet.waitedSeconds} s for it to quieten)`);
        try {
          const r = copier === 'mm2' ? await runMm2(strait, scan, repeat) : await runStrait(kafka, strait, scan, repeat);
          r.details['quietBefore'] = quiet;
          runs[copier].push(r);
          log(`${copier} run ${repeat}: ${r.seconds} s, ${r.mbps} MB/s (copy phase ${r.copyPhaseMBps} MB/s); ${r.comparison.summary}`);
        } catch (error) {
          const message = (error as Error).message;
          failures.push({ copier, repeat, error: message.slice(0, 20_000) });
          log(`${copier} run ${repeat} failed: ${message.slice(0, 2000)}`);
        }
      }
    } finally {
      await strait.stop();
      await kafka.stop();
    }
  }

  const mm2 = summarize(runs.mm2);
  const strait = summarize(runs.strait);
  const ratio = copyRatio(mm2, strait);
  const report = {
    benchmark: 'reverse-vs-mm2',
    date,
    machine: machineInfo(),
    settings: {
      payloadBytes: PAYLOAD_BYTES,
      recordBytes: RECORD_BYTES,
      partitions: PARTITIONS,
      repeats: REPEATS,
      fills,
      mm2: { replicationPolicy: 'identity', tasksMax: PARTITIONS },
      units: { MB: '2^20 bytes', mbps: "Strait's batch bytes of the topic / seconds" },
    },
    source: lastScan && { topic: TOPIC, records: lastScan.records, batches: lastScan.batches, batchBytes: lastScan.batchBytes, compressedBatches: lastScan.partitions.reduce((a, p) => a + p.compressedBatches, 0) },
    results: { mm2, strait },
    /** Strait / MM2: above 1 means Strait copies back faster (seconds: below 1). */
    ratio,
    runs: [...runs.mm2, ...runs.strait],
    failures,
  };
  const out = resolve(args.out!);
  mkdirSync(out, { recursive: true });
  const base = join(out, `reverse-vs-mm2-${date.slice(0, 19).replace(/[:T]/g, '-')}`);
  writeFileSync(`${base}.json`, JSON.stringify(report, null, 2) + '\n');
  const bars = (['end to end', 'copy phase'] as const).flatMap((group) =>
    ([['mirrormaker2', runs.mm2], ['strait reverse', runs.strait]] as const).map(([label, rs]) => ({
      group,
      label,
      value: rs.length ? median(rs.map((r) => (group === 'end to end' ? r.mbps : r.copyPhaseMBps))) : Number.NaN,
    })),
  );
  const notes = [
    `Strait's promoted topic: ${lastScan ? round(lastScan.batchBytes / MB, 0) : '?'} MB, ${lastScan?.records ?? '?'} records, half lz4; 2 cores shared by all processes`,
    `MM2 (IdentityReplicationPolicy, tasks.max=${PARTITIONS}): ${runs.mm2.length ? shortSummary(runs.mm2.at(-1)!.comparison) : 'not run'}`,
    `Strait reverse: ${runs.strait.length ? shortSummary(runs.strait.at(-1)!.comparison) : 'not run'}`,
    ...(ratio ? [`ratio Strait/MM2: ${ratio.mbps}x end to end, ${ratio.copyPhaseMBps}x in the copy phase (median of ${REPEATS})`] : []),
  ];
  writeFileSync(
    `${base}.svg`,
    barChart({ title: `Copying ${round(PAYLOAD_BYTES / 2 ** 30, 2)} GiB back from Strait to Kafka, ${PARTITIONS} partitions: reverse link vs MirrorMaker 2, MB/s`, bars, unit: 'MB/s', colors: { 'strait reverse': '#2b7a78', mirrormaker2: '#d17a22' }, notes, widthPx: 900 }),
  );
  printResults(mm2, strait, failures, base);
}

await main();
