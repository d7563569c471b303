// Clients move to Strait in either order while they keep running, against Apache Kafka 4.3.1:
// "consumers first" (the group moves, then the producer through write forwarding, then promotion)
// and "producers first" (the producer moves, the group keeps reading the forwarded records on
// Kafka, then moves, then promotion). A group moves as a whole: while it has members on Kafka, a
// member started on Strait waits (its joins get a retriable error) and reads nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApacheKafka, type KafkaHandle } from '../compat/harness.ts';
import { createTopics, readTopic } from '../compat/txn-client.ts';
import { verify } from '../faults/crash-produce.ts';
import { eventually, gaps, javaMember, mergeRanges, type GroupMember } from '../compat/groups/members.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { KafkaClient } from '../../src/link/client/index.ts';
import { acknowledged, assertHandedOver, logValues, verifiableProducer } from './clients.ts';

const PARTITIONS = 3;
let kafka: KafkaHandle;
let strait: TestBroker;
const procs: GroupMember[] = [];

before(async () => {
  [kafka, strait] = await Promise.all([startApacheKafka(), startTestBroker({ 'upload.interval.ms': '200' })]);
});

after(async () => {
  for (const p of procs) await p.kill9();
  await strait?.stop();
  await kafka?.stop();
});

const track = <T extends GroupMember>(p: T): T => (procs.push(p), p);
const member = (name: string, bootstrap: string, topic: string, group: string) => track(javaMember(name, { bootstrap, topic, groupId: group, protocol: 'classic', sessionTimeoutMs: 6000 }));
const acked = (p: GroupMember) => p.events.filter((e) => e.name === 'producer_send_success');

async function endOffsets(topic: string): Promise<number[]> {
  const c = new KafkaClient({ bootstrap: `127.0.0.1:${strait.port}` });
  try {
    const l = await c.listOffsets([...Array(PARTITIONS).keys()].map((p) => ({ topic, partition: p, spec: 'latest' as const })));
    return l.map((x) => x.offset);
  } finally {
    await c.close();
  }
}

/**
 * Strait's log holds each acknowledged value exactly once, at the offset it was acknowledged with
 * (verify() of crash-produce.ts: offsets 0, 1, 2, … per partition, no value twice, send order kept),
 * and nothing else; every record is consumed once across both sides' members, with the stored value.
 */
async function checkConsumed(topic: string, onKafka: GroupMember[], onStrait: GroupMember[], producers: GroupMember[]): Promise<void> {
  const end = await endOffsets(topic);
  const acks = acknowledged(...producers);
  const { records } = await readTopic(`127.0.0.1:${strait.port}`, topic, PARTITIONS, 'read_uncommitted');
  const stored = records.map((r) => ({ partition: r.p, offset: r.o, value: r.v }));
  const v = verify(stored, acks, PARTITIONS, topic);
  assert.equal(v.unacknowledgedPresent, 0, `${topic}: the log holds ${v.unacknowledgedPresent} values never acknowledged`);
  assert.equal(stored.length, producers.reduce((n, p) => n + acked(p).length, 0), `${topic}: the log holds as many records as were acknowledged`);
  assert.deepEqual(end, [...Array(PARTITIONS).keys()].map((p) => stored.filter((r) => r.partition === p).length), `${topic}: end offsets match the records read`);
  const all = [...onKafka, ...onStrait];
  await eventually('all consumed', async () => gaps(mergeRanges(all), end).length === 0, 30_000, () => JSON.stringify(gaps(mergeRanges(all), end)));
  assertHandedOver(onKafka, onStrait, end, logValues(records));
  for (const m of [...onKafka, ...onStrait]) assert.deepEqual(m.failedCommits(), [], `${m.name}: commits succeed`);
  for (const p of producers) assert.deepEqual(p.events.filter((e) => e.name === 'producer_send_error').slice(0, 3), [], `${p.name}: no send error`);
}

async function createLink(name: string, topic: string, group: string): Promise<void> {
  await strait.broker.links!.create({ name, bootstrap: kafka.bootstrap, topics: { include: [topic] }, groups: { include: [group] }, metadataSyncIntervalMs: 300, groupSyncIntervalMs: 300 });
  await eventually('mirror created', async () => (await strait.broker.links!.describe(name)).mirrors.length === 1, 20_000);
}

test('consumers first: the group moves (gated while it has members on Kafka), then the producer, then promotion', async () => {
  const topic = 'orders-a';
  const group = 'readers-a';
  await createTopics(kafka.bootstrap, [{ name: topic, partitions: PARTITIONS }]);
  const p1 = track(verifiableProducer('p1-on-kafka', kafka.bootstrap, topic, 3000, 400, 1));
  const c1 = member('c1-on-kafka', kafka.bootstrap, topic, group);
  await c1.waitFor('records', (e) => e.name === 'records_consumed', 30_000);
  await createLink('a', topic, group);

  // A member on Strait while the group still runs on Kafka: it waits and reads nothing.
  const c2 = member('c2-on-strait', `127.0.0.1:${strait.port}`, topic, group);
  await eventually('group gated on Strait', async () => (await strait.broker.links!.describe('a')).groups.find((g) => g.groupId === group)?.state === 'active-on-source', 20_000);
  await sleep(3000);
  assert.equal(c2.count(), 0, 'nothing read on Strait while the group has members on Kafka');

  // The group leaves Kafka: the gate opens once its last offsets are synced, and c2 goes on.
  await c1.stop();
  await c2.waitFor('records on Strait', (e) => e.name === 'records_consumed', 60_000);
  await p1.waitFor('p1 done', (e) => e.name === 'shutdown_complete', 60_000);

  // The producer moves to Strait (forwarded) and the topic is promoted while it produces.
  const p2 = track(verifiableProducer('p2-on-strait', `127.0.0.1:${strait.port}`, topic, 3000, 600, 2));
  await p2.waitFor('forwarded writes', (e) => e.name === 'producer_send_success', 30_000);
  await sleep(1000);
  const report = await strait.broker.links!.promote('a', { timeoutMs: 30_000 });
  assert.equal(report.topics[0]!.state, 'promoted');
  await p2.waitFor('p2 done', (e) => e.name === 'shutdown_complete', 60_000);
  await checkConsumed(topic, [c1], [c2], [p1, p2]);
  await c2.stop();
});

test('producers first: the producer moves (forwarded, read on Kafka by the group), then the group, then promotion', async () => {
  const topic = 'orders-b';
  const group = 'readers-b';
  await createTopics(kafka.bootstrap, [{ name: topic, partitions: PARTITIONS }]);
  const p1 = track(verifiableProducer('p1b-on-kafka', kafka.bootstrap, topic, 1500, 500, 1));
  const c1 = member('c1b-on-kafka', kafka.bootstrap, topic, group);
  await createLink('b', topic, group);
  await p1.waitFor('p1 done', (e) => e.name === 'shutdown_complete', 60_000);

  // The producer moves to Strait; its records reach Kafka (forwarding), where the group reads them.
  const p2 = track(verifiableProducer('p2b-on-strait', `127.0.0.1:${strait.port}`, topic, 4000, 500, 2));
  await p2.waitFor('forwarded writes', (e) => e.name === 'producer_send_success', 30_000);
  await eventually('Kafka consumer reads forwarded records', async () => c1.events.some((e) => e.name === 'records_consumed' && e.partitions.some((p: any) => p.maxOffset >= 600)), 30_000);

  // Then the group moves, then the topic is promoted while the producer still runs.
  await c1.stop();
  const c2 = member('c2b-on-strait', `127.0.0.1:${strait.port}`, topic, group);
  await c2.waitFor('records on Strait', (e) => e.name === 'records_consumed', 60_000);
  const report = await strait.broker.links!.promote('b', { timeoutMs: 30_000 });
  assert.equal(report.topics[0]!.state, 'promoted');
  await p2.waitFor('p2 done', (e) => e.name === 'shutdown_complete', 60_000);
  await checkConsumed(topic, [c1], [c2], [p1, p2]);
  await c2.stop();
});
