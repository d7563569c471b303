// Write forwarding while the source is down, against Apache Kafka 4.3.1: a produce to a mirror
// topic on Strait gets a retriable error within its timeout and is never acknowledged, nothing is
// written on either side, other clients of Strait keep being served; once the source is back the
// same produce is acknowledged with the source's next offset and comes back through the mirror.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startKafkaNode, type KafkaNode } from './kafka-node.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { ApiKey, KafkaClient } from '../../src/link/client/index.ts';
import { buildBatch } from '../../src/protocol/records/index.ts';
import { eventually } from '../compat/groups/members.ts';

const TOPIC = 'forward-outage';
let kafka: KafkaNode;
let strait: TestBroker;
let source: KafkaClient;
let local: KafkaClient;

before(async () => {
  [kafka, strait] = await Promise.all([startKafkaNode({ 'auto.create.topics.enable': 'false' }), startTestBroker({ 'upload.interval.ms': '200' })]);
  source = new KafkaClient({ bootstrap: kafka.bootstrap });
  local = new KafkaClient({ bootstrap: `127.0.0.1:${strait.port}` });
});

after(async () => {
  await local?.close();
  await source?.close();
  await strait?.stop();
  await kafka?.destroy();
});

const batch = (tag: string) => buildBatch({ records: Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: `${tag}-${i}` })) });

async function end(client: KafkaClient): Promise<number> {
  const [l] = await client.listOffsets([{ topic: TOPIC, partition: 0, spec: 'latest' }]);
  if (l!.error) throw l!.error;
  return l!.offset;
}

test('a forwarded produce while the source is down gets a retriable error, never an acknowledgement; it succeeds once the source is back', async () => {
  const { response } = await source.sendRequest<any>('controller', ApiKey.CreateTopics, () => ({
    topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 30_000,
    validateOnly: false,
  }));
  assert.equal(response.topics[0].errorCode, 0);
  await source.produce([{ topic: TOPIC, partition: 0, records: batch('on-kafka') }]);
  const links = strait.broker.links!;
  await links.create({ name: 'fwd', bootstrap: kafka.bootstrap, topics: { include: [TOPIC] }, metadataSyncIntervalMs: 300 });
  await eventually('mirrored', async () => (await links.describe('fwd')).mirrors[0]?.partitions[0]?.mirroredEndOffset === 5, 30_000);

  const [first] = await local.produce([{ topic: TOPIC, partition: 0, records: batch('forwarded') }], { timeoutMs: 10_000 });
  assert.equal(first!.error, null);
  assert.equal(first!.baseOffset, 5, "the source's offset");

  await kafka.stop();
  try {
    const started = Date.now();
    // Retries are the test's to make: one produce, one answer.
    const [out] = await local.produce([{ topic: TOPIC, partition: 0, records: batch('during-outage') }], { timeoutMs: 3_000, replicationTimeoutMs: 3_000, retriesMax: 0 });
    const waited = Date.now() - started;
    assert.ok(out!.error, 'no acknowledgement while the source is down');
    assert.equal(out!.error.retriable, true, `a retriable error (${out!.error.errorName})`);
    assert.ok(waited < 15_000, `answered within the produce timeout plus slack (${waited} ms)`);
    console.log(`# during the outage: ${out!.error.errorName} after ${waited} ms`);
    // Strait still serves other requests, and the mirror holds nothing it was not given.
    assert.equal(await end(local), 10);
  } finally {
    await kafka.start();
  }

  await eventually(
    'forwarding works again',
    async () => {
      const [again] = await local.produce([{ topic: TOPIC, partition: 0, records: batch('after-outage') }], { timeoutMs: 5_000, retriesMax: 0 });
      return again!.error === null ? again : null;
    },
    60_000,
  ).then((again) => assert.equal(again!.baseOffset, 10, 'the next source offset: nothing was written during the outage'));
  assert.equal(await end(source), 15);
  await eventually('back through the mirror', async () => (await end(local)) === 15, 30_000);
});
