// A Java VerifiableConsumer group reads half a topic from Apache Kafka 4.3.1, stops, and restarts
// against Strait's mirror: its committed offsets came over through the link as they are, so it
// continues exactly there — nothing lost, nothing read twice. Once it has members on Strait, the
// group is Strait's and the link stops syncing it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApacheKafka, type KafkaHandle } from '../compat/harness.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { KafkaClient } from '../../src/link/client/index.ts';
import { commitOffsets } from './compare.ts';
import { assertHandedOver } from './clients.ts';
import { eventually, groupOffsets, javaMember, produce, type GroupMember } from '../compat/groups/members.ts';

const TOPIC = 'moving';
const PARTITIONS = 3;
const RECORDS = 3000;

let kafka: KafkaHandle | undefined;
let strait: TestBroker | undefined;
const members: GroupMember[] = [];

after(async () => {
  for (const m of members) await m.kill9();
  await strait?.stop();
  await kafka?.stop();
});

test('a VerifiableConsumer group moves from Kafka to Strait mid-topic: zero lost, zero duplicated', async () => {
  [kafka, strait] = await Promise.all([
    startApacheKafka({ config: { 'num.partitions': String(PARTITIONS) } }),
    startTestBroker({ 'upload.interval.ms': '200' }),
  ]);
  const straitBootstrap = `127.0.0.1:${strait.port}`;
  await produce(kafka.bootstrap, TOPIC, RECORDS);
  const links = strait.broker.links!;
  await links.create({ name: 'move', bootstrap: kafka.bootstrap, topics: { include: [TOPIC] }, groups: { include: ['movers'] }, metadataSyncIntervalMs: 300, groupSyncIntervalMs: 300 });

  // First half on Kafka: the member stops by itself after RECORDS / 2 records, committed.
  const onKafka = javaMember('on-kafka', { bootstrap: kafka.bootstrap, topic: TOPIC, groupId: 'movers', protocol: 'classic', maxMessages: RECORDS / 2 });
  members.push(onKafka);
  await onKafka.waitFor('shutdown', (e) => e.name === 'shutdown_complete', 60_000);
  assert.equal(onKafka.count(), RECORDS / 2);
  const onSource = await groupOffsets(kafka.bootstrap, 'movers', TOPIC, PARTITIONS);

  // The link copies the group's committed offsets once the mirror holds them.
  await eventually(
    'group offsets synced to Strait',
    async () => {
      const here = await groupOffsets(straitBootstrap, 'movers', TOPIC, PARTITIONS);
      return JSON.stringify(here.committed) === JSON.stringify(onSource.committed) && JSON.stringify(here.end) === JSON.stringify(onSource.end);
    },
    30_000,
  );
  const before = await links.describe('move');
  assert.equal(before.groups.find((g) => g.groupId === 'movers')?.state, 'synced');

  // Second half on Strait.
  const onStrait = javaMember('on-strait', { bootstrap: straitBootstrap, topic: TOPIC, groupId: 'movers', protocol: 'classic', maxMessages: RECORDS / 2 });
  members.push(onStrait);
  await onStrait.waitFor('shutdown', (e) => e.name === 'shutdown_complete', 60_000);
  assert.equal(onStrait.count(), RECORDS / 2);
  assert.deepEqual(onStrait.failedCommits(), []);

  assertHandedOver([onKafka], [onStrait], onSource.end);
  const done = await groupOffsets(straitBootstrap, 'movers', TOPIC, PARTITIONS);
  assert.deepEqual(done.committed, done.end);

  // The group was used on Strait: the link no longer syncs it, even when the source group moves.
  await eventually('group marked active on Strait', async () => (await links.describe('move')).groups.find((g) => g.groupId === 'movers')?.state === 'active-on-strait', 10_000);
  const admin = new KafkaClient({ bootstrap: kafka.bootstrap });
  try {
    await commitOffsets(admin, 'movers', TOPIC, [[0, 0], [1, 0], [2, 0]]);
  } finally {
    await admin.close();
  }
  await sleep(1500);
  assert.deepEqual((await groupOffsets(straitBootstrap, 'movers', TOPIC, PARTITIONS)).committed, done.committed, 'Strait keeps its own commits');
});
