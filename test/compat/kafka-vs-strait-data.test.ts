// The same scripted data-path sequence against Apache Kafka 4.3.1 and then against Strait (one
// broker at a time), answers compared: topics (one with message.timestamp.type=LogAppendTime), a
// fixed set of records with fixed timestamps sent by Kafka's own Java producer with batching pinned
// (idempotence off, one request in flight, linger.ms far above the run, a flush where each batch
// must end), then:
//   - the offsets and timestamps the producer was given;
//   - ListOffsets: earliest, latest, max timestamp (-3), earliest local (-4), and timestamps before,
//     inside, between and after the records (v9 and the oldest version both serve, v1);
//   - OffsetForLeaderEpoch for the current epoch, a later epoch, a fenced/unknown current epoch, an
//     empty partition and a missing one;
//   - every record read back by the Java consumer (assign mode): offset, key, value, headers,
//     timestamp, timestamp type, leader epoch;
//   - raw Fetch from the middle of a batch (whole batch returned, as KIP-74 and Kafka do), with a
//     1-byte partition limit, at the end offset, beyond it and below 0;
//   - Produce to a missing partition and a missing topic;
//   - a record larger than the topic's max.message.bytes, from the Java producer and raw.
// Needs scripts/install-test-deps.sh.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { buildBatch, readBatches } from '../../src/protocol/records/index.ts';
import { startApacheKafka, startStrait, withBrokerDiagnostics, type BrokerHandle } from './harness.ts';
import { runDataJava } from './datapath/java-data.ts';
import { b64, encodeBytes, readJsonLines, writeJsonLines, type ConsumedRecord, type ProduceResult, type SpecRecord } from './datapath/records.ts';

const createTimeTopic = 'cmp-create-time';
const appendTimeTopic = 'cmp-append-time';
const smallTopic = 'cmp-small';
const smallMaxMessageBytes = 1000;
// Fixed record timestamps, well in the past (inside every default message.timestamp.*.max.ms).
const t0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const clientTimeoutMs = 60_000;

/** Record timestamps chosen by a broker (LogAppendTime) differ between runs; they are checked to lie
 *  within the run and then shown as this. */
const appendTime = 'append-time';

type Observations = Map<string, unknown>;
const observed = { kafka: new Map() as Observations, strait: new Map() as Observations };

// --- the records -----------------------------------------------------------------------------------

function spec(): SpecRecord[] {
  const out: SpecRecord[] = [];
  const batch = (topic: string, partition: number, compression: SpecRecord['compression'], records: Omit<SpecRecord, 'topic' | 'partition' | 'compression'>[]): void => {
    records.forEach((r, i) => out.push({ topic, partition, compression, ...r, flush: i === records.length - 1 }));
  };
  const rec = (key: string | null, value: string | null, timestamp: number, headers: [string, string | null][] = []): Omit<SpecRecord, 'topic' | 'partition' | 'compression'> => ({
    key: key === null ? null : b64(key),
    value: value === null ? null : b64(value),
    headers: headers.map(([k, v]) => [k, v === null ? null : b64(v)]),
    timestamp,
  });
  // Partition 0: offsets 0-4, 5-7 (timestamps out of order), 8-11 (zstd).
  batch(createTimeTopic, 0, 'none', [0, 1, 2, 3, 4].map((i) => rec(`k${i}`, `v${i}`, t0 + i, i === 0 ? [['h', 'x'], ['h', 'y'], ['n', null]] : [])));
  batch(createTimeTopic, 1, 'none', [rec(null, 'p1-a', t0 + 100), rec('p1', null, t0 + 101)]);
  batch(createTimeTopic, 0, 'none', [rec('k5', 'v5', t0 + 10), rec('k6', 'v6', t0 + 5), rec('k7', 'v7', t0 + 20)]);
  batch(createTimeTopic, 0, 'zstd', [30, 31, 32, 33].map((d) => rec(`k${d}`, 'z'.repeat(200), t0 + d)));
  batch(createTimeTopic, 1, 'gzip', [rec(null, null, t0 + 102), rec('', '', t0 + 103, [['e', '']])]);
  // Partition 2 stays empty.
  batch(appendTimeTopic, 0, 'none', [rec('a0', 'x', t0), rec('a1', 'y', t0 + 1), rec('a2', 'z', t0 + 2)]);
  batch(appendTimeTopic, 0, 'lz4', [rec('a3', 'w', t0 + 3), rec('a4', null, t0 + 4)]);
  // Larger than the topic's max.message.bytes (the producer's own limit is far above it).
  batch(smallTopic, 0, 'none', [rec('big', 'b'.repeat(2 * smallMaxMessageBytes), t0)]);
  return out;
}

// --- the scenario ------------------------------------------------------------------------------------

interface Window {
  fromMs: number;
  toMs: number;
}

/** A timestamp the broker chose: 'append-time' when within the window, else the raw (wrong) value. */
const brokerTime = (ts: number | bigint, window: Window): string | number => {
  const n = Number(ts);
  return n >= window.fromMs && n <= window.toMs ? appendTime : n;
};

async function createTopics(client: RawClient): Promise<unknown> {
  const response = await client.request(ApiKey.CreateTopics, 7, {
    timeoutMs: 10_000,
    topics: [
      { name: createTimeTopic, numPartitions: 3, replicationFactor: 1, configs: [] },
      { name: appendTimeTopic, numPartitions: 1, replicationFactor: 1, configs: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] },
      { name: smallTopic, numPartitions: 1, replicationFactor: 1, configs: [{ name: 'max.message.bytes', value: String(smallMaxMessageBytes) }] },
    ],
  });
  return response.topics.map((t: { name: string; errorCode: number; numPartitions: number }) => [t.name, t.errorCode, t.numPartitions]);
}

/** Waits until Metadata shows a leader for every partition; returns each partition's leader epoch. */
async function leaderEpochs(client: RawClient): Promise<Map<string, number>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const md = await client.request(ApiKey.Metadata, 12, { topics: [createTimeTopic, appendTimeTopic, smallTopic].map((name) => ({ name })), allowAutoTopicCreation: false });
    const epochs = new Map<string, number>();
    let ready = true;
    for (const t of md.topics) {
      if (t.errorCode !== 0) ready = false;
      for (const p of t.partitions) {
        if (p.errorCode !== 0 || p.leaderId < 0) ready = false;
        epochs.set(`${t.name}/${p.partitionIndex}`, p.leaderEpoch);
      }
    }
    if (ready && epochs.size === 5) return epochs;
    if (Date.now() > deadline) throw new Error(`partitions did not get leaders: ${JSON.stringify(md.topics)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function javaProduce(bootstrap: string, workDir: string, records: SpecRecord[]): Promise<ProduceResult[]> {
  const input = join(workDir, 'spec.jsonl');
  const output = join(workDir, 'produced.jsonl');
  writeJsonLines(input, records);
  const config = [
    'acks=all',
    'enable.idempotence=false',
    'retries=0',
    'max.in.flight.requests.per.connection=1',
    'linger.ms=60000',
    'batch.size=1048576',
    'max.request.size=1048576',
    'delivery.timeout.ms=75000',
    'request.timeout.ms=10000',
  ];
  const result = await runDataJava('io.strait.test.DataClient', ['produce', '--bootstrap', bootstrap, '--spec', input, '--out', output, ...config.flatMap((c) => ['--config', c])], {
    timeoutMs: clientTimeoutMs,
  });
  if (result.code !== 0) throw new Error(`java produce exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  return readJsonLines<ProduceResult>(output);
}

async function javaConsume(bootstrap: string, workDir: string, name: string, assignments: { topic: string; partition: number; from: number; until: number }[]): Promise<ConsumedRecord[]> {
  const input = join(workDir, `${name}.json`);
  const output = join(workDir, `${name}.jsonl`);
  writeJsonLines(input, [assignments]);
  const result = await runDataJava('io.strait.test.DataClient', ['consume', '--bootstrap', bootstrap, '--assign', input, '--out', output, '--timeout-ms', '30000'], {
    timeoutMs: clientTimeoutMs,
  });
  if (result.code !== 0) throw new Error(`java consume exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  return readJsonLines<ConsumedRecord>(output);
}

/** The comparable shape of a Fetch partition answer: batches by offsets and attributes, records decoded. */
function fetchView(p: any, window: Window): unknown {
  const batches = [...readBatches(p.records ?? Buffer.alloc(0))].map((b) => ({
    baseOffset: b.header.baseOffset,
    lastOffsetDelta: b.header.lastOffsetDelta,
    records: b.records.length,
    compression: b.compression,
    timestampType: b.timestampType,
    maxTimestamp: b.timestampType === 'LogAppendTime' ? brokerTime(b.header.maxTimestamp, window) : b.header.maxTimestamp,
    offsets: b.records.map((r) => r.offset),
    keys: b.records.map((r) => encodeBytes(r.key)),
  }));
  return {
    errorCode: p.errorCode,
    highWatermark: Number(p.highWatermark),
    lastStableOffset: Number(p.lastStableOffset),
    logStartOffset: Number(p.logStartOffset),
    batches,
  };
}

async function rawFetch(client: RawClient, topic: string, partition: number, offset: number, partitionMaxBytes = 1024 * 1024): Promise<any> {
  const r = await client.request(ApiKey.Fetch, 12, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 10 * 1024 * 1024,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, fetchOffset: BigInt(offset), partitionMaxBytes, currentLeaderEpoch: -1, lastFetchedEpoch: -1, logStartOffset: -1n }] }],
    forgottenTopicsData: [],
    rackId: '',
  });
  assert.equal(r.errorCode, 0, `fetch of ${topic}[${partition}] at ${offset}: top-level error ${r.errorCode}`);
  return r.responses[0].partitions[0];
}

async function rawProduce(client: RawClient, topic: string, partition: number, records: Buffer): Promise<any> {
  const r = await client.request(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] });
  return r.responses[0].partitionResponses[0];
}

async function listOffsets(client: RawClient, version: number, topic: string, partition: number, timestamp: number): Promise<any> {
  const r = await client.request(ApiKey.ListOffsets, version, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: BigInt(timestamp), maxNumOffsets: 1 }] }],
  });
  return r.topics[0].partitions[0];
}

async function scenario(broker: BrokerHandle, workDir: string, into: Observations): Promise<void> {
  const window: Window = { fromMs: Date.now() - 1000, toMs: Number.MAX_SAFE_INTEGER };
  const client = await RawClient.connect(broker.port);
  try {
    into.set('create topics', await createTopics(client));
    const epochs = await leaderEpochs(client);
    // Leader epochs of new topics: both brokers start partitions at epoch 0.
    into.set('leader epochs', Object.fromEntries(epochs));

    const records = spec();
    const produced = await javaProduce(broker.bootstrap, workDir, records);
    window.toMs = Date.now() + 1000;
    into.set(
      'produced',
      produced.map((r, i) => ({
        topic: records[i]!.topic,
        partition: r.partition,
        offset: r.offset,
        timestamp: r.timestamp === null ? null : records[i]!.topic === appendTimeTopic ? brokerTime(r.timestamp, window) : r.timestamp,
        // Only the exception class: Strait fills the Produce response's error message (a field the
        // protocol has, see CONVENTIONS.md) where Kafka leaves it null, so the Java client shows
        // Strait's text instead of its default one.
        error: r.error === null ? null : r.error.replace(/:.*$/s, ''),
      })),
    );

    // ListOffsets, at the newest version both serve and at v1.
    const special = { latest: -1, earliest: -2, maxTimestamp: -3, earliestLocal: -4 };
    const times = { beforeAll: t0 - 1, first: t0, insideFirstBatch: t0 + 2, betweenBatches: t0 + 6, outOfOrder: t0 + 15, lastOfPartition0: t0 + 33, partition1: t0 + 100, afterAll: t0 + 1000 };
    const listed: Record<string, unknown> = {};
    for (const version of [9, 1]) {
      for (const [topic, partition] of [[createTimeTopic, 0], [createTimeTopic, 1], [createTimeTopic, 2], [appendTimeTopic, 0], [smallTopic, 0]] as const) {
        const queries: Record<string, number> = topic === appendTimeTopic || topic === smallTopic ? special : { ...special, ...times };
        for (const [name, timestamp] of Object.entries(queries)) {
          // -3 and -4 exist from v7 and v8 on.
          if (version === 1 && timestamp < -2) continue;
          const p = await listOffsets(client, version, topic, partition, timestamp);
          const ts = Number(p.timestamp);
          listed[`v${version} ${topic}[${partition}] ${name}`] = {
            errorCode: p.errorCode,
            offset: Number(p.offset),
            timestamp: topic === appendTimeTopic && ts >= 0 ? brokerTime(ts, window) : ts,
            leaderEpoch: p.leaderEpoch,
          };
        }
      }
    }
    into.set('list offsets', listed);

    // OffsetForLeaderEpoch (v4, as a consumer asks: replica id -1).
    const epoch = epochs.get(`${createTimeTopic}/0`)!;
    const ofle = await client.request(ApiKey.OffsetForLeaderEpoch, 4, {
      replicaId: -1,
      topics: [
        {
          topic: createTimeTopic,
          partitions: [
            { partition: 0, currentLeaderEpoch: -1, leaderEpoch: epoch },
            { partition: 1, currentLeaderEpoch: epoch, leaderEpoch: epoch },
            { partition: 2, currentLeaderEpoch: -1, leaderEpoch: epoch },
          ],
        },
        { topic: appendTimeTopic, partitions: [{ partition: 0, currentLeaderEpoch: epoch + 1, leaderEpoch: epoch }] },
        { topic: smallTopic, partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: epoch + 5 }] },
      ],
    });
    const ofleMissing = await client.request(ApiKey.OffsetForLeaderEpoch, 4, {
      replicaId: -1,
      topics: [{ topic: createTimeTopic, partitions: [{ partition: 7, currentLeaderEpoch: -1, leaderEpoch: epoch }] }],
    });
    into.set(
      'offset for leader epoch',
      [...ofle.topics, ...ofleMissing.topics].flatMap((t: any) =>
        t.partitions.map((p: any) => ({ topic: t.topic, partition: p.partition, errorCode: p.errorCode, leaderEpoch: p.leaderEpoch, endOffset: Number(p.endOffset) })),
      ),
    );

    // Every record, read by the Java consumer.
    const ends = { [createTimeTopic]: [12, 4, 0], [appendTimeTopic]: [5], [smallTopic]: [0] } as Record<string, number[]>;
    const all = Object.entries(ends).flatMap(([topic, until]) => until.map((u, partition) => ({ topic, partition, from: 0, until: u })));
    const consumed = await javaConsume(broker.bootstrap, workDir, 'all', all);
    const consumedView = consumed.map((r) => ({
      ...r,
      timestamp: r.timestampType === 'LogAppendTime' ? brokerTime(r.timestamp, window) : r.timestamp,
    }));
    into.set('consumed', consumedView);
    // LogAppendTime: one time per batch, and never going back.
    const appended = consumed.filter((r) => r.topic === appendTimeTopic);
    into.set('append times', {
      batch1Same: new Set(appended.slice(0, 3).map((r) => r.timestamp)).size === 1,
      batch2Same: new Set(appended.slice(3).map((r) => r.timestamp)).size === 1,
      nonDecreasing: appended.every((r, i) => i === 0 || r.timestamp >= appended[i - 1]!.timestamp),
    });
    const fromMiddle = await javaConsume(broker.bootstrap, workDir, 'middle', [{ topic: createTimeTopic, partition: 0, from: 6, until: 12 }]);
    into.set('consumed from the middle of a batch', fromMiddle.map((r) => [r.offset, r.key]));

    // Raw fetches.
    into.set('fetch from the middle of a batch', fetchView(await rawFetch(client, createTimeTopic, 0, 6), window));
    into.set('fetch with a 1-byte partition limit', fetchView(await rawFetch(client, createTimeTopic, 0, 9, 1), window));
    into.set('fetch LogAppendTime batches', fetchView(await rawFetch(client, appendTimeTopic, 0, 1), window));
    into.set('fetch at the end offset', fetchView(await rawFetch(client, createTimeTopic, 0, 12), window));
    into.set('fetch of an empty partition', fetchView(await rawFetch(client, createTimeTopic, 2, 0), window));
    const outOfRange = {
      beyond: await rawFetch(client, createTimeTopic, 0, 17),
      negative: await rawFetch(client, createTimeTopic, 0, -1),
    };
    into.set('fetch out of range (error codes)', Object.fromEntries(Object.entries(outOfRange).map(([k, p]) => [k, [p.errorCode, (fetchView(p, window) as { batches: unknown[] }).batches.length]])));
    into.set('fetch out of range (offsets in the answer)', Object.fromEntries(Object.entries(outOfRange).map(([k, p]) => [k, [Number(p.highWatermark), Number(p.lastStableOffset), Number(p.logStartOffset)]])));

    // Raw produces that must fail, and one that must not.
    const small = buildBatch({ compression: 'none', records: [{ key: 'r', value: 'raw', timestamp: t0 }] });
    const tooLarge = buildBatch({ compression: 'none', records: [{ key: 'big', value: 'b'.repeat(2 * smallMaxMessageBytes), timestamp: t0 }] });
    const produceView = (p: any) => ({ errorCode: p.errorCode, baseOffset: Number(p.baseOffset), logAppendTimeMs: Number(p.logAppendTimeMs) === -1 ? -1 : brokerTime(p.logAppendTimeMs, { ...window, toMs: Date.now() + 1000 }), logStartOffset: Number(p.logStartOffset) });
    into.set('produce errors', {
      missingPartition: produceView(await rawProduce(client, createTimeTopic, 9, small)).errorCode,
      missingTopic: produceView(await rawProduce(client, 'cmp-no-such-topic', 0, small)).errorCode,
      tooLarge: produceView(await rawProduce(client, smallTopic, 0, tooLarge)).errorCode,
    });
    into.set('raw produce to LogAppendTime', produceView(await rawProduce(client, appendTimeTopic, 0, small)));
    const smallLatest = await listOffsets(client, 9, smallTopic, 0, -1);
    into.set('nothing written by the failed produces', [smallLatest.errorCode, Number(smallLatest.offset)]);
  } finally {
    client.close();
  }
}

// --- the runs and the comparison -------------------------------------------------------------------

function runScenario(name: 'kafka' | 'strait', start: () => Promise<BrokerHandle>): void {
  describe(name, () => {
    let broker: BrokerHandle | undefined;
    let workDir = '';
    before(async () => {
      workDir = mkdtempSync(join(tmpdir(), `strait-cmp-${name}-`));
      broker = await start();
    }, { timeout: 120_000 });
    after(async () => {
      await broker?.stop();
      if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
    });
    test('scripted sequence', { timeout: 150_000 }, async (t) => {
      assert.ok(broker !== undefined, `${name} did not start`);
      const running = broker;
      await withBrokerDiagnostics(running, () => scenario(running, workDir, observed[name]));
      t.diagnostic(`${observed[name].size} observations`);
      if (process.env['STRAIT_TEST_SHOW_OBSERVATIONS'] === '1') t.diagnostic(JSON.stringify(Object.fromEntries(observed[name])));
    });
  });
}

const aspects = [
  'create topics',
  'leader epochs',
  'produced',
  'list offsets',
  'offset for leader epoch',
  'consumed',
  'append times',
  'consumed from the middle of a batch',
  'fetch from the middle of a batch',
  'fetch with a 1-byte partition limit',
  'fetch LogAppendTime batches',
  'fetch at the end offset',
  'fetch of an empty partition',
  'fetch out of range (error codes)',
  'fetch out of range (offsets in the answer)',
  'produce errors',
  'raw produce to LogAppendTime',
  'nothing written by the failed produces',
];

describe('Apache Kafka and Strait store and serve the same records alike', () => {
  runScenario('kafka', () => startApacheKafka());
  // Strait uploads quickly and keeps almost nothing in memory, so reads come from objects.
  runScenario('strait', () => startStrait({ args: ['--upload-interval-ms', '100', '--tail-cache-bytes-max', '0'] }));

  describe('comparison', () => {
    test('Apache Kafka produced every observation (guards against a vacuous comparison)', () => {
      assert.deepEqual([...observed.kafka.keys()], aspects);
      const produced = observed.kafka.get('produced') as { error: string | null }[];
      assert.equal(produced.filter((r) => r.error === null).length, produced.length - 1, 'all records but the too-large one were acknowledged');
      assert.equal(produced[produced.length - 1]!.error, 'RecordTooLargeException');
      assert.equal((observed.kafka.get('consumed') as unknown[]).length, 21);
    });
    for (const aspect of aspects) {
      test(aspect, () => {
        assert.ok(observed.kafka.has(aspect), `Apache Kafka has no '${aspect}' observation (its run failed above)`);
        assert.ok(observed.strait.has(aspect), `Strait has no '${aspect}' observation (its run failed above)`);
        assert.deepEqual(observed.strait.get(aspect), observed.kafka.get(aspect));
      });
    }
  });
});
