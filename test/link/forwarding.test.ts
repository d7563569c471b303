// Write forwarding and promotion under a live producer, against Apache Kafka 4.3.1: an idempotent
// Java VerifiableProducer moves from Kafka to Strait while the topic is still a mirror (its writes
// are forwarded to the source and come back through the mirror), then the topic is promoted while it
// keeps producing. Every acknowledged value is in the log exactly once, offsets have no gap across
// the promotion, and the producer sees no error.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApacheKafka, type KafkaHandle } from '../compat/harness.ts';
import { createTopics, readTopic } from '../compat/txn-client.ts';
import type { GroupMember } from '../compat/groups/members.ts';
import { verifiableProducer as sharedProducer } from './clients.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { KafkaClient } from '../../src/link/client/index.ts';
import { readBatchFacts } from './compare.ts';

const TOPIC = 'forwarded';
const PARTITIONS = 3;

let kafka: KafkaHandle | undefined;
let strait: TestBroker | undefined;
const procs: GroupMember[] = [];

after(async () => {
  for (const p of procs) await p.kill9();
  await strait?.stop();
  await kafka?.stop();
});

function verifiableProducer(name: string, bootstrap: string, count: number, throughput: number, prefix: number): GroupMember {
  const p = sharedProducer(name, bootstrap, TOPIC, count, throughput, prefix);
  procs.push(p);
  return p;
}

test('an idempotent producer moves to Strait through write forwarding and keeps producing across the promotion: zero lost, zero duplicated, no gap', async () => {
  [kafka, strait] = await Promise.all([startApacheKafka({ config: { 'num.partitions': String(PARTITIONS) } }), startTestBroker({ 'upload.interval.ms': '200' })]);
  const straitBootstrap = `127.0.0.1:${strait.port}`;
  const links = strait.broker.links!;

  // On Kafka first (the topic created beforehand: the producer does not retry, and a send racing
  // auto-creation can fail with NOT_LEADER_OR_FOLLOWER).
  await createTopics(kafka.bootstrap, [{ name: TOPIC, partitions: PARTITIONS }]);
  const first = verifiableProducer('on-kafka', kafka.bootstrap, 1500, -1, 1);
  await first.waitFor('shutdown', (e) => e.name === 'shutdown_complete', 60_000);
  await links.create({ name: 'fwd', bootstrap: kafka.bootstrap, topics: { include: [TOPIC] }, metadataSyncIntervalMs: 300 });

  // Then on Strait, producing through forwarding; the topic is promoted while it runs.
  const second = verifiableProducer('on-strait', straitBootstrap, 4000, 800, 2);
  await second.waitFor('a forwarded write', (e) => e.name === 'producer_send_success', 30_000);
  await sleep(1500);
  const forwardedBefore = second.events.filter((e) => e.name === 'producer_send_success').length;
  const report = await links.promote('fwd', { timeoutMs: 30_000 });
  assert.equal(report.topics[0]!.state, 'promoted');
  assert.equal(report.topics[0]!.lossWindowRecords, 0);
  await second.waitFor('shutdown', (e) => e.name === 'shutdown_complete', 60_000);

  const errors = [...first.events, ...second.events].filter((e) => e.name === 'producer_send_error');
  assert.deepEqual(errors.slice(0, 3), [], 'no producer error');
  const acked = [...first.events, ...second.events].filter((e) => e.name === 'producer_send_success');
  assert.equal(acked.length, 1500 + 4000);
  assert.ok(forwardedBefore > 100 && forwardedBefore < 4000, `writes went both through forwarding (${forwardedBefore}) and locally`);

  // Strait's log: each acknowledged value once, at its acknowledged offset, offsets 0..end-1.
  const { records } = await readTopic(straitBootstrap, TOPIC, PARTITIONS, 'read_uncommitted');
  assert.equal(records.length, acked.length, 'no record more, none less');
  const at = new Map(records.map((r) => [`${r.p}/${r.o}`, r.v]));
  for (const e of acked) assert.equal(at.get(`${e.partition}/${e.offset}`), e.value, `value ${e.value} at ${e.partition}/${e.offset}`);
  for (let p = 0; p < PARTITIONS; p++) {
    const offsets = records.filter((r) => r.p === p).map((r) => r.o);
    assert.deepEqual(offsets, offsets.map((_, i) => i), `partition ${p}: contiguous offsets across the promotion`);
  }
  const values = new Set(records.map((r) => r.v));
  assert.equal(values.size, records.length, 'no duplicate');

  // Up to the promotion point the two logs are the same batches: Kafka's whole log (it ends where
  // the promotion took over) and Strait's batches below that point, compared byte for byte.
  const source = new KafkaClient({ bootstrap: kafka.bootstrap });
  const local = new KafkaClient({ bootstrap: straitBootstrap });
  try {
    const ends = new Map(report.topics[0]!.partitions.map((p) => [p.partition, p.endOffset]));
    let compared = 0;
    for (let p = 0; p < PARTITIONS; p++) {
      const end = ends.get(p)!;
      const [k, s] = await Promise.all([readBatchFacts(source, TOPIC, p), readBatchFacts(local, TOPIC, p)]);
      assert.equal(k.highWatermark, end, `p${p}: the source ends where the promotion took over`);
      assert.ok(k.batches.length > 0, `p${p}: the source has batches to compare`);
      const below = s.batches.filter((b) => b.baseOffset < end);
      assert.deepEqual(below, k.batches, `p${p}: Strait's batches below the promotion point are Kafka's (offsets, CRC, size)`);
      below.forEach((b, i) => assert.ok(s.bytes[i]!.equals(k.bytes[i]!), `p${p}: batch ${i} at ${b.baseOffset}: the same bytes`));
      assert.equal(below.at(-1)!.lastOffset, end - 1, `p${p}: no batch straddles the promotion point`);
      compared += below.length;
    }
    console.log(`# ${forwardedBefore} writes forwarded before promotion, ${4000 - forwardedBefore} appended locally after; promotion at ${JSON.stringify([...ends])}; ${compared} batches identical`);
  } finally {
    await source.close();
    await local.close();
  }
});
