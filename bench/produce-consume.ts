// Produce/consume throughput and latency: Strait against Apache Kafka 4.3.1 on this machine, in one
// run, with the same client (Kafka's ProducerPerformance and ConsumerPerformance), 1 KiB records,
// acks=all, 6 partitions, without and with lz4. Brokers run one at a time so they never share the
// two cores. Writes JSON (medians of the repeats, ratios Strait/Kafka) and an SVG chart.
//
//   node bench/produce-consume.ts [--records 300000] [--repeats 3] [--out bench/results]
//
// Kafka runs twice: with its defaults (acknowledges from the page cache, relying on replication
// for durability) and with log.flush.interval.messages=1 (fsync before acknowledging, which is
// what Strait always does). Both are reported; the fair comparison for durability is the second.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startApacheKafka, startStrait, repoRoot } from '../test/compat/harness.ts';
import type { BrokerHandle } from '../test/compat/harness.ts';
import { barChart } from './chart.ts';
import type { Bar } from './chart.ts';
import { consumerPerformance, createTopic, median, pidListeningOn, producerPerformance, statusKiB } from './measure.ts';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '300000' },
    repeats: { type: 'string', default: '3' },
    out: { type: 'string', default: join(repoRoot, 'bench', 'results') },
    only: { type: 'string', default: '' },
  },
});
const RECORDS = Number(args.records);
const REPEATS = Number(args.repeats);
const RECORD_BYTES = 1024;
const PARTITIONS = 6;

interface RunResult {
  produceMBps: number;
  produceRecordsPerSec: number;
  latencyMsP50: number;
  latencyMsP99: number;
  latencyMsP999: number;
  consumeMBps: number;
  brokerRssMiBMax: number;
}

interface Target {
  name: string;
  start(): Promise<BrokerHandle>;
}

const targets: Target[] = [
  // The harness starts Kafka with group.initial.rebalance.delay.ms=0; Strait gets the same.
  { name: 'strait', start: () => startStrait({ args: ['--log-level', 'warn', '--group-initial-rebalance-delay-ms', '0'] }) },
  { name: 'kafka', start: () => startApacheKafka() },
  { name: 'kafka-fsync', start: () => startApacheKafka({ config: { 'log.flush.interval.messages': '1' } }) },
];

async function runOnce(broker: BrokerHandle, compression: string, topic: string): Promise<RunResult> {
  await createTopic(broker.bootstrap, topic, PARTITIONS);
  const pid = pidListeningOn(broker.port);
  let rssMax = 0;
  const sampler = setInterval(() => {
    if (pid) rssMax = Math.max(rssMax, statusKiB(pid, 'VmRSS') / 1024);
  }, 200);
  const produce = await producerPerformance({
    bootstrap: broker.bootstrap,
    topic,
    records: RECORDS,
    recordBytes: RECORD_BYTES,
    throughput: -1,
    props: ['acks=all', `compression.type=${compression}`, 'linger.ms=5'],
  });
  const consume = await consumerPerformance(broker.bootstrap, topic, RECORDS);
  clearInterval(sampler);
  return {
    produceRecordsPerSec: produce.recordsPerSec,
    produceMBps: produce.mbps,
    latencyMsP50: produce.latencyMsP50,
    latencyMsP99: produce.latencyMsP99,
    latencyMsP999: produce.latencyMsP999,
    consumeMBps: consume.mbps,
    brokerRssMiBMax: Math.round(rssMax),
  };
}

async function main(): Promise<void> {
  const results: Record<string, Record<string, RunResult & { runs: RunResult[] }>> = {};
  const chosen = args.only ? targets.filter((t) => args.only!.split(',').includes(t.name)) : targets;
  for (const compression of ['none', 'lz4']) {
    for (const t of chosen) {
      const runs: RunResult[] = [];
      for (let i = 0; i < REPEATS; i++) {
        const broker = await t.start();
        try {
          const r = await runOnce(broker, compression, `bench-${compression}-${i}`);
          runs.push(r);
          process.stdout.write(`${t.name} ${compression} run ${i + 1}: ${JSON.stringify(r)}\n`);
        } finally {
          await broker.stop();
        }
      }
      const med = Object.fromEntries(Object.keys(runs[0]!).map((k) => [k, median(runs.map((r) => r[k as keyof RunResult]))])) as unknown as RunResult;
      (results[compression] ??= {})[t.name] = { ...med, runs };
    }
  }
  const ratios: Record<string, Record<string, Record<string, number>>> = {};
  for (const [compression, byTarget] of Object.entries(results)) {
    const s = byTarget['strait'];
    for (const peer of ['kafka', 'kafka-fsync']) {
      const k = byTarget[peer];
      if (!s || !k) continue;
      (ratios[compression] ??= {})[`strait/${peer}`] = {
        produceMBps: round(s.produceMBps / k.produceMBps),
        consumeMBps: round(s.consumeMBps / k.consumeMBps),
        latencyMsP50: round(s.latencyMsP50 / Math.max(1, k.latencyMsP50)),
        latencyMsP99: round(s.latencyMsP99 / Math.max(1, k.latencyMsP99)),
        brokerRssMiBMax: round(s.brokerRssMiBMax / k.brokerRssMiBMax),
      };
    }
  }
  const report = {
    benchmark: 'produce-consume',
    date: new Date().toISOString(),
    machine: { cores: (await import('node:os')).availableParallelism(), node: process.version },
    settings: { records: RECORDS, recordBytes: RECORD_BYTES, partitions: PARTITIONS, acks: 'all', repeats: REPEATS, lingerMs: 5 },
    results,
    ratios,
  };
  const out = resolve(args.out!);
  mkdirSync(out, { recursive: true });
  const stamp = report.date.slice(0, 19).replace(/[:T]/g, '-');
  writeFileSync(join(out, `produce-consume-${stamp}.json`), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(out, `produce-consume-${stamp}.svg`), chart(results));
  process.stdout.write(`${JSON.stringify(ratios, null, 2)}\nwritten to ${out}\n`);
}

const round = (x: number) => Math.round(x * 100) / 100;

/** Produce and consume MB/s per broker, for each compression. */
function chart(results: Record<string, Record<string, RunResult>>): string {
  const bars: Bar[] = [];
  for (const [compression, byTarget] of Object.entries(results)) {
    for (const [target, r] of Object.entries(byTarget)) {
      bars.push({ group: `${compression} produce`, label: target, value: r.produceMBps });
      bars.push({ group: `${compression} consume`, label: target, value: r.consumeMBps });
    }
  }
  return barChart({
    title: `Strait vs Apache Kafka 4.3.1: 1 KiB records, acks=all, ${PARTITIONS} partitions (median of runs)`,
    bars,
    unit: 'MB/s',
    colors: { strait: '#2b7a78', kafka: '#d17a22', 'kafka-fsync': '#8e5b2d' },
  });
}

await main();
