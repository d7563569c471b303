// Log compaction cross-checked against Apache Kafka 4.3.1: the same keyed batches (every codec,
// tombstones, an idempotent producer's batch that is later overwritten) go to a compacted topic on
// Kafka and on Strait, in two phases; after each, both logs must hold the same records at the same
// offsets, and the same batches: base offsets, last offset deltas, record counts, codecs, delete
// horizons set or not, empty batches kept, and, where neither broker recompressed, the same bytes.
//
// Kafka never cleans its active segment, and Strait never cleans data not yet uploaded. So each
// phase ends the same way on both: the phase's batches go out in a burst (one Kafka segment, one
// Strait upload), then, after segment.ms, one marker record that rolls Kafka's segment and stays in
// Strait's in-memory tail. Kafka's cleaner (log.cleaner.backoff.ms small, min.cleanable.dirty.ratio
// tiny) then cleans everything before the marker, as one Strait pass does. delete.retention.ms=0:
// tombstones survive the pass that first sees them (which sets their delete horizon) and go in
// the next one. Needs scripts/install-test-deps.sh.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient } from '../helpers/raw-client.ts';
import { startTestBroker } from '../helpers/broker.ts';
import type { TestBroker } from '../helpers/broker.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { buildBatch, readBatches } from '../../src/protocol/records/index.ts';
import type { Compression, DecodedBatch } from '../../src/protocol/records/index.ts';
import { startApacheKafka, withBrokerDiagnostics, type KafkaHandle } from './harness.ts';

const topic = 'compaction-cmp';
const segmentMs = 1000;
const topicConfigs: Record<string, string> = {
  'cleanup.policy': 'compact',
  'min.cleanable.dirty.ratio': '0.01',
  'delete.retention.ms': '0',
  'segment.ms': String(segmentMs),
};
const kafkaConfig = { 'log.cleaner.backoff.ms': '100', 'auto.create.topics.enable': 'false' };
const straitSettings = {
  'upload.interval.ms': '100000',
  'log.retention.check.interval.ms': '100000000',
  'object.compaction.interval.ms': '100000000',
  'log.cleaner.backoff.ms': '100000000',
};
const kafkaCleanTimeoutMs = 60_000;

interface Rec {
  key: string;
  value: string | null;
}
interface Seen {
  offset: number;
  key: string | null;
  value: string | null;
}
interface Side {
  client: RawClient;
  producerId: number;
  producerEpoch: number;
}

const phase1: { compression: Compression; records: Rec[]; idempotent?: boolean }[] = [
  { compression: 'none', records: [r('k0', 'a0'), r('k1', 'a1'), r('k12', 'a12'), r('k2', 'a2'), r('k3', 'a3')] },
  { compression: 'gzip', records: [r('k1', 'b1'), r('k4', 'b4'), r('k5', 'b5'), r('k0', null)] },
  { compression: 'snappy', records: [r('k2', 'c2'), r('k6', 'c6'), r('k7', 'c7')] },
  { compression: 'lz4', records: [r('k3', null), r('k8', 'd8'), r('k5', 'd5')] },
  { compression: 'zstd', records: [r('k6', 'e6'), r('k9', 'e9'), r('k10', 'e10')] },
  { compression: 'none', records: [r('k1', 'f1'), r('k11', 'f11'), r('k7', null)] },
  // Overwritten below, but its producer's last batch: both brokers keep it, empty.
  { compression: 'none', records: [r('k8', 'g8')], idempotent: true },
  { compression: 'none', records: [r('k8', 'h8'), r('k4', 'h4')] },
  { compression: 'lz4', records: [r('k10', null), r('k2', 'i2')] },
];
const phase2: typeof phase1 = [
  { compression: 'zstd', records: [r('k0', 'p0'), r('k9', null), r('k6', 'p6')] },
  { compression: 'gzip', records: [r('k1', null), r('k3', 'p3')] },
  { compression: 'none', records: [r('k5', 'p5')] },
];

function r(key: string, value: string | null): Rec {
  return { key, value };
}

function encode(b: (typeof phase1)[number], timestamp: number, side: Side): Buffer {
  return buildBatch({
    compression: b.compression,
    ...(b.idempotent ? { producerId: side.producerId, producerEpoch: side.producerEpoch, baseSequence: 0 } : {}),
    records: b.records.map((x, i) => ({ key: x.key, value: x.value, timestamp: timestamp + i })),
  });
}

async function createTopic(c: RawClient): Promise<void> {
  const res = await c.request(ApiKey.CreateTopics, 7, {
    topics: [{ name: topic, numPartitions: 1, replicationFactor: 1, configs: Object.entries(topicConfigs).map(([name, value]) => ({ name, value })) }],
    timeoutMs: 30_000,
  });
  assert.equal(res.topics[0].errorCode, 0, res.topics[0].errorMessage);
}

async function initProducerId(c: RawClient): Promise<{ producerId: number; producerEpoch: number }> {
  for (let attempt = 0; ; attempt++) {
    const res = await c.request(ApiKey.InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
    if (res.errorCode === 0) return { producerId: Number(res.producerId), producerEpoch: res.producerEpoch };
    // Kafka answers with a retriable error until its producer id manager is ready.
    if (attempt > 100) assert.fail(`InitProducerId failed with error ${res.errorCode}`);
    await sleep(100);
  }
}

async function produce(c: RawClient, records: Buffer): Promise<number> {
  const res = await c.request(ApiKey.Produce, 9, { acks: -1, timeoutMs: 30_000, transactionalId: null, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
  const p = res.responses[0].partitionResponses[0];
  assert.equal(p.errorCode, 0, p.errorMessage);
  return Number(p.baseOffset);
}

/** Every batch from offset 0 to the high watermark (Kafka answers one segment per fetch). */
async function fetchAll(c: RawClient): Promise<DecodedBatch[]> {
  const out: DecodedBatch[] = [];
  for (let offset = 0; ; ) {
    const res = await c.request(ApiKey.Fetch, 12, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 50_000_000,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition: 0, fetchOffset: BigInt(offset), partitionMaxBytes: 50_000_000, currentLeaderEpoch: -1, logStartOffset: -1n }] }],
      forgottenTopicsData: [],
      rackId: '',
    });
    const p = res.responses[0].partitions[0];
    assert.equal(p.errorCode, 0);
    const batches = [...readBatches(Buffer.from(p.records ?? []), { partialTail: 'stop' })];
    out.push(...batches);
    const last = batches[batches.length - 1];
    const next = last ? last.header.baseOffset + last.header.lastOffsetDelta + 1 : offset;
    if (next >= Number(p.highWatermark) || next === offset) return out;
    offset = next;
  }
}

const str = (b: Buffer | null): string | null => (b === null ? null : b.toString());
const recordsOf = (batches: DecodedBatch[]): Seen[] => batches.filter((d) => !d.isControl).flatMap((d) => d.records.map((x) => ({ offset: x.offset, key: str(x.key), value: str(x.value) })));

/** What both brokers' batches must agree on; producer ids differ between brokers, so only their presence counts. */
const shape = (d: DecodedBatch) => ({
  baseOffset: d.header.baseOffset,
  lastOffsetDelta: d.header.lastOffsetDelta,
  records: d.header.recordCount,
  compression: d.compression,
  deleteHorizon: d.deleteHorizonMs !== null,
  idempotent: d.header.producerId >= 0,
  baseSequence: d.header.baseSequence,
});

/** The last record per key below `upper` (tombstones below `tombstonesGoneBelow` dropped), and everything from `upper` on. */
function compacted(all: Seen[], upper: number, tombstonesGoneBelow: number): Seen[] {
  const last = new Map<string | null, number>();
  for (const x of all) if (x.offset < upper) last.set(x.key, x.offset);
  return all.filter((x) => x.offset >= upper || (last.get(x.key) === x.offset && (x.value !== null || x.offset >= tombstonesGoneBelow)));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('log compaction: Apache Kafka 4.3.1 and Strait keep the same records and batches', () => {
  let kafka: KafkaHandle | undefined;
  let strait: TestBroker | undefined;
  const sides = {} as { kafka: Side; strait: Side };

  before(async () => {
    [kafka, strait] = await Promise.all([startApacheKafka({ config: kafkaConfig }), startTestBroker(straitSettings)]);
    const [kc, sc] = await Promise.all([RawClient.connect(kafka.port), RawClient.connect(strait.port)]);
    await Promise.all([createTopic(kc), createTopic(sc)]);
    sides.kafka = { client: kc, ...(await initProducerId(kc)) };
    sides.strait = { client: sc, ...(await initProducerId(sc)) };
  }, { timeout: 120_000 });

  after(async () => {
    sides.kafka?.client.close();
    sides.strait?.client.close();
    await Promise.all([kafka?.stop(), strait?.stop()]);
  });

  test('two phases of keyed batches with tombstones and every codec', { timeout: 240_000 }, async (t) => {
    assert.ok(kafka && strait);
    const all: Seen[] = [];
    const timings: Record<string, number> = {};

    /** Sends a phase's batches to both brokers, then the marker after segment.ms; returns the marker's offset. */
    const runPhase = async (batches: typeof phase1, marker: string): Promise<number> => {
      const ts = Date.now();
      for (const b of batches) {
        const [atKafka, atStrait] = await Promise.all([produce(sides.kafka.client, encode(b, ts, sides.kafka)), produce(sides.strait.client, encode(b, ts, sides.strait))]);
        assert.equal(atKafka, atStrait, 'both brokers give the batch the same offset');
        b.records.forEach((x, i) => all.push({ offset: atKafka + i, key: x.key, value: x.value }));
      }
      await strait!.broker.uploader!.flush();
      await sleep(segmentMs + 500);
      const m = { compression: 'none' as const, records: [r('marker', marker)] };
      const markerTs = Date.now();
      const [atKafka, atStrait] = await Promise.all([produce(sides.kafka.client, encode(m, markerTs, sides.kafka)), produce(sides.strait.client, encode(m, markerTs, sides.strait))]);
      assert.equal(atKafka, atStrait);
      all.push({ offset: atKafka, key: 'marker', value: marker });
      return atKafka;
    };

    /** Cleans Strait once, waits for Kafka's cleaner to reach the same records, compares both logs. */
    const compare = async (name: string, expected: Seen[]) => {
      const s0 = Date.now();
      await strait!.broker.jobs!.runNow('log-cleaner');
      timings[`${name}StraitCleanMs`] = Date.now() - s0;
      const fromStrait = await fetchAll(sides.strait.client);
      assert.deepEqual(recordsOf(fromStrait), expected, `${name}: Strait keeps what Kafka's rules keep`);
      const k0 = Date.now();
      let fromKafka = await fetchAll(sides.kafka.client);
      while (JSON.stringify(recordsOf(fromKafka)) !== JSON.stringify(expected) && Date.now() - k0 < kafkaCleanTimeoutMs) {
        await sleep(200);
        fromKafka = await withBrokerDiagnostics(kafka!, () => fetchAll(sides.kafka.client));
      }
      timings[`${name}KafkaCleanWaitMs`] = Date.now() - k0;
      assert.deepEqual(recordsOf(fromKafka), recordsOf(fromStrait), `${name}: the same (offset, key, value) on both brokers`);
      assert.deepEqual(fromStrait.map(shape), fromKafka.map(shape), `${name}: the same batches`);
      // Batches neither broker recompressed (kept whole, or rebuilt uncompressed without a delete
      // horizon) must be byte for byte the same.
      const sameBytes = (d: DecodedBatch) => d.deleteHorizonMs === null && d.header.producerId < 0;
      const crcs = (bs: DecodedBatch[]) => bs.map((d) => (sameBytes(d) && (d.compression === 'none' || d.records.length === originalCount(d)) ? d.header.crc : null));
      assert.deepEqual(crcs(fromStrait), crcs(fromKafka), `${name}: the same bytes where no codec or clock is involved`);
      const compared = crcs(fromStrait).filter((x) => x !== null).length;
      assert.ok(compared >= 3, `${name}: ${compared} batches compared byte for byte`);
      t.diagnostic(`${name}: ${fromStrait.map((d) => `${d.header.baseOffset}+${d.header.lastOffsetDelta}:${d.header.recordCount}${d.compression === 'none' ? '' : `/${d.compression}`}${d.deleteHorizonMs === null ? '' : '/horizon'}${d.header.producerId >= 0 ? '/pid' : ''}`).join(' ')}; ${compared} compared byte for byte`);
      return fromStrait;
    };
    const counts = new Map<number, number>();
    const originalCount = (d: DecodedBatch) => counts.get(d.header.baseOffset);

    const before1 = all.length;
    const marker1 = await runPhase(phase1, 'm1');
    for (const [i, b] of phase1.entries()) counts.set(all[before1 + phase1.slice(0, i).reduce((n, x) => n + x.records.length, 0)]!.offset, b.records.length);
    const expected1 = compacted(all, marker1, 0);
    assert.ok(expected1.length < all.length && expected1.some((x) => x.value === null), 'the first phase removes records and keeps tombstones');
    const after1 = await compare('phase1', expected1);
    t.diagnostic(`after phase 1: ${after1.length} batches, ${recordsOf(after1).length} records of ${all.length}`);

    const before2 = all.length;
    const marker2 = await runPhase(phase2, 'm2');
    for (const [i, b] of phase2.entries()) counts.set(all[before2 + phase2.slice(0, i).reduce((n, x) => n + x.records.length, 0)]!.offset, b.records.length);
    const expected2 = compacted(all, marker2, marker1);
    assert.ok(expected1.some((x) => x.value === null && !expected2.includes(x)), 'the second phase drops the first phase\'s tombstones');
    const after2 = await compare('phase2', expected2);
    t.diagnostic(`after phase 2: ${after2.length} batches, ${recordsOf(after2).length} records of ${all.length}`);
    t.diagnostic(JSON.stringify(timings));
  });

  test('records without a key are refused alike', async (t) => {
    const batch = buildBatch({ records: [r('k', 'keyed'), { key: null, value: 'no key' }, { key: null, value: null }].map((x, i) => ({ ...x, timestamp: Date.now() + i })) });
    const answer = async (c: RawClient) => {
      const res = await c.request(ApiKey.Produce, 9, { acks: -1, timeoutMs: 30_000, transactionalId: null, topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }] });
      const p = res.responses[0].partitionResponses[0];
      return {
        errorCode: p.errorCode,
        errorMessage: p.errorMessage,
        recordErrors: p.recordErrors.map((e: { batchIndex: number; batchIndexErrorMessage: string | null }) => [e.batchIndex, e.batchIndexErrorMessage]),
      };
    };
    const [fromKafka, fromStrait] = await Promise.all([answer(sides.kafka.client), answer(sides.strait.client)]);
    assert.equal(fromKafka.errorCode, 87, JSON.stringify(fromKafka));
    assert.match(fromKafka.recordErrors[0][1], new RegExp(`in topic partition ${topic}-0$`));
    assert.deepEqual(fromStrait, fromKafka);
    t.diagnostic(JSON.stringify(fromKafka));
  });
});
