// Transaction forwarding and transaction-safe promotion, against Apache Kafka 4.3.1: an EOS
// consume-transform-produce app (TxnClient copy: read_committed consumer, transactional producer,
// offsets committed in the transaction) copies half its input on Kafka, restarts against Strait
// while both topics are mirrors (its transactions stay coordinated by Kafka through forwarding),
// and the link is promoted while it runs. The read_committed output equals the input exactly once.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApacheKafka, type KafkaHandle } from '../compat/harness.ts';
import { createTopics, readTopic, startCopier, txnClient } from '../compat/txn-client.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';

const PARTITIONS = 3;
const FIRST = 1500;
const SECOND = 4500;

let kafka: KafkaHandle | undefined;
let strait: TestBroker | undefined;

after(async () => {
  await strait?.stop();
  await kafka?.stop();
});

test('an EOS copier moves to Strait with its transactions forwarded and keeps running across the promotion: output = input exactly once', async () => {
  [kafka, strait] = await Promise.all([startApacheKafka(), startTestBroker({ 'upload.interval.ms': '200' })]);
  const straitBootstrap = `127.0.0.1:${strait.port}`;
  await createTopics(kafka.bootstrap, [
    { name: 'in', partitions: PARTITIONS },
    { name: 'out', partitions: PARTITIONS },
  ]);
  await txnClient('produce', { bootstrap: kafka.bootstrap, topic: 'in', partitions: PARTITIONS, count: FIRST });
  const copy = { input: 'in', output: 'out', partitions: PARTITIONS, group: 'copier', 'txn-id': 'copier-1', batch: 15, 'timeout-ms': 120_000 };
  const onKafka = await txnClient('copy', { bootstrap: kafka.bootstrap, ...copy });
  assert.equal(onKafka.at(-1).copied, FIRST);

  const links = strait.broker.links!;
  await links.create({ name: 'eos', bootstrap: kafka.bootstrap, topics: { include: ['in', 'out'] }, groups: { include: ['copier'] }, forwardTransactionalIds: ['copier-.*'], metadataSyncIntervalMs: 300, groupSyncIntervalMs: 300 });
  // More input arrives at the source (the producers have not moved).
  await txnClient('produce', { bootstrap: kafka.bootstrap, topic: 'in', partitions: PARTITIONS, count: SECOND });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const d = await links.describe('eos');
    const lag = d.mirrors.reduce((n, m) => n + m.lagRecords, 0);
    const synced = d.groups.find((g) => g.groupId === 'copier')?.state === 'synced';
    if (d.mirrors.length === 2 && lag === 0 && synced && d.mirrors.every((m) => m.partitions.every((p) => p.sourceHighWatermark >= 0))) break;
    if (Date.now() > deadline) assert.fail(`mirror not ready: ${JSON.stringify(d.mirrors.map((m) => [m.topic, m.lagRecords]))} ${JSON.stringify(d.groups)}`);
    await sleep(200);
  }

  // The copier restarts against Strait, reading the mirror and writing through forwarding.
  const onStrait = await startCopier({ bootstrap: straitBootstrap, ...copy });
  try {
    for (let i = 0; i < 300 && onStrait.txns() < 20; i++) await sleep(100);
    assert.ok(onStrait.txns() >= 20, `copier made progress through forwarding:\n${onStrait.output().slice(-3000)}`);
    const report = await links.promote('eos', { timeoutMs: 30_000 });
    const txnsAtPromotion = onStrait.txns();
    assert.deepEqual(report.topics.map((t) => t.state).sort(), ['promoted', 'promoted']);
    assert.equal(report.transactionalIdsAdopted, 1);
    assert.equal(await onStrait.exited, 0, onStrait.output().slice(-3000));
    const done = JSON.parse(onStrait.output().trim().split('\n').filter((l) => l.startsWith('{"done"')).at(-1)!);
    assert.equal(done.copied, SECOND, 'the second half copied once');
    assert.ok(done.txns > txnsAtPromotion, `transactions ran after the promotion too (${txnsAtPromotion} before, ${done.txns} in all)`);
    console.log(`# ${txnsAtPromotion} transactions forwarded before promotion, ${done.txns - txnsAtPromotion} on Strait's coordinator after`);
  } finally {
    onStrait.kill();
  }

  const input = await readTopic(straitBootstrap, 'in', PARTITIONS);
  const output = await readTopic(straitBootstrap, 'out', PARTITIONS);
  assert.equal(input.records.length, FIRST + SECOND);
  const want = input.records.map((r) => `${r.p}/${r.k}/copy:${r.v}`).sort();
  const got = output.records.map((r) => `${r.p}/${r.k}/${r.v}`).sort();
  assert.equal(got.length, want.length, 'no record more, none less');
  assert.deepEqual(got, want, 'read_committed output = input, exactly once');
});
