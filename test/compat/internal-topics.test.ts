// Internal topics, Strait against Apache Kafka 4.3.1 (issue #11, build 4): the same raw requests get
// the same answers from both once a group and a transactional id have looked for their
// coordinator (Metadata lists __consumer_offsets and __transaction_state as internal, Produce and
// DeleteRecords are refused with INVALID_TOPIC_EXCEPTION, CreateTopics answers
// TOPIC_ALREADY_EXISTS, a fetch answers without error); Kafka's Java Admin client and
// kafka-topics list them as internal, and a KafkaConsumer subscribed to ".*" (classic and consumer
// group protocols) is assigned the user topic only. Where Strait departs on purpose (it refuses to
// delete, grow or reconfigure its internal topics, which hold no records; Kafka 4.3.1 accepts),
// both answers are pinned.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { runJava, startApacheKafka, type KafkaHandle } from './harness.ts';
import { runJavaProgram } from './java-program.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { buildBatch } from '../../src/protocol/records/index.ts';

const E = ErrorCode;
const INTERNAL = ['__consumer_offsets', '__transaction_state'];
let kafka: KafkaHandle;
let strait: TestBroker;

before(async () => {
  // The compat harness gives Kafka 5 partitions for each internal topic; Strait gets the same.
  [kafka, strait] = await Promise.all([startApacheKafka(), startTestBroker({ 'offsets.topic.num.partitions': '5', 'transaction.state.log.num.partitions': '5' })]);
});

after(async () => {
  await strait?.stop();
  await kafka?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The same requests against either broker; the answers, without what differs by nature (ids, ports). */
async function probe(port: number) {
  const c = await RawClient.connect(port);
  try {
    const created = await c.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'events', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false });
    assert.equal(created.topics[0].errorCode, E.NONE);
    const listed = async () => {
      const r = await c.request(ApiKey.Metadata, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
      return r.topics.map((t: any) => `${t.name}:${t.isInternal}:${t.partitions.length}:${[...new Set(t.partitions.map((p: any) => p.leaderId))].join(',')}`).sort();
    };
    const before = await listed();
    const coordinators: number[] = [];
    for (const keyType of [0, 1]) {
      let code = -1;
      // Kafka answers COORDINATOR_NOT_AVAILABLE while it creates the internal topic.
      for (let i = 0; i < 100 && code !== E.NONE; i++) {
        if (i > 0) await sleep(200);
        code = (await c.request(ApiKey.FindCoordinator, 4, { keyType, coordinatorKeys: [keyType === 0 ? 'g' : 'tx'] })).coordinators[0].errorCode;
      }
      coordinators.push(code);
    }
    // Kafka's metadata may show the new topics a moment later.
    let after: string[] = [];
    for (let i = 0; i < 50; i++) {
      after = await listed();
      if (after.length === 3 && !after.some((t) => t.endsWith(':-1'))) break;
      await sleep(200);
    }
    const v1 = await c.request(ApiKey.Metadata, 1, { topics: null });
    const produce = [];
    const deleteRecords = [];
    const create = [];
    const fetch = [];
    for (const name of INTERNAL) {
      const p = await c.request(ApiKey.Produce, 9, { acks: -1, timeoutMs: 5000, transactionalId: null, topicData: [{ name, partitionData: [{ index: 0, records: buildBatch({ records: [{ value: 'x' }] }) }] }] });
      produce.push(p.responses[0].partitionResponses[0].errorCode);
      const dr = await c.request(ApiKey.DeleteRecords, 2, { topics: [{ name, partitions: [{ partitionIndex: 0, offset: 0n }] }], timeoutMs: 5000 });
      deleteRecords.push(dr.topics[0].partitions[0].errorCode);
      const ct = await c.request(ApiKey.CreateTopics, 7, { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
      create.push(`${ct.topics[0].errorCode}:${ct.topics[0].errorMessage}`);
      // Partition 4 of __transaction_state holds no transaction on Kafka either.
      const f = await c.request(ApiKey.Fetch, 12, { maxWaitMs: 0, isolationLevel: 0, sessionEpoch: -1, topics: [{ topic: name, partitions: [{ partition: 4, fetchOffset: 0n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 }] }] });
      fetch.push(f.responses[0].partitions[0].errorCode);
    }
    return {
      before,
      coordinators,
      after,
      v1: v1.topics.map((t: any) => `${t.name}:${t.isInternal}`).sort(),
      produce,
      deleteRecords,
      create,
      fetch,
    };
  } finally {
    c.close();
  }
}

/** The admin changes Kafka accepts on its internal topics and Strait refuses. */
async function adminChanges(port: number) {
  const c = await RawClient.connect(port);
  try {
    const cp = await c.request(ApiKey.CreatePartitions, 3, { topics: [{ name: '__consumer_offsets', count: 6, assignments: null }], timeoutMs: 10_000, validateOnly: false });
    const iac = await c.request(ApiKey.IncrementalAlterConfigs, 1, { resources: [{ resourceType: 2, resourceName: '__transaction_state', configs: [{ name: 'retention.ms', configOperation: 0, value: '100000' }] }], validateOnly: false });
    const del = await c.request(ApiKey.DeleteTopics, 5, { topicNames: ['__transaction_state'], timeoutMs: 10_000 });
    return { createPartitions: cp.results[0].errorCode, alterConfigs: iac.responses[0].errorCode, deleteTopics: del.responses[0].errorCode };
  } finally {
    c.close();
  }
}

test('raw requests about internal topics: the same answers from Strait as from Kafka 4.3.1', async () => {
  const onKafka = await probe(kafka.port);
  const onStrait = await probe(strait.port);
  // Kafka's answers are what this test claims they are, so a broken probe cannot pass.
  assert.deepEqual(onKafka.before, ['events:false:1:1']);
  assert.deepEqual(onKafka.after, ['__consumer_offsets:true:5:1', '__transaction_state:true:5:1', 'events:false:1:1']);
  assert.deepEqual(onKafka.v1, ['__consumer_offsets:true', '__transaction_state:true', 'events:false']);
  assert.deepEqual([onKafka.produce, onKafka.deleteRecords], [[E.INVALID_TOPIC_EXCEPTION, E.INVALID_TOPIC_EXCEPTION], [E.INVALID_TOPIC_EXCEPTION, E.INVALID_TOPIC_EXCEPTION]]);
  assert.deepEqual(onKafka.create, INTERNAL.map((n) => `${E.TOPIC_ALREADY_EXISTS}:Topic '${n}' already exists.`));
  assert.deepEqual(onStrait, onKafka);
});

test('Kafka\'s Java Admin client, kafka-topics and a ".*" KafkaConsumer (classic and consumer protocol) see the internal topics as on Kafka', async () => {
  for (const [who, bootstrap] of [
    ['kafka', kafka.bootstrap],
    ['strait', `127.0.0.1:${strait.port}`],
  ] as const) {
    for (const protocol of ['classic', 'consumer']) {
      const r = await runJavaProgram('InternalTopics', [bootstrap, protocol, `regex-${protocol}`], { timeoutMs: 90_000 });
      assert.equal(r.code, 0, `${who} ${protocol}: ${r.stderr.slice(-3000)}`);
      const seen = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
      assert.deepEqual(seen, {
        listedWithInternal: ['__consumer_offsets:true', '__transaction_state:true', 'events:false'],
        listed: ['events'],
        __consumer_offsets: { internal: true, partitions: 5, leaders: ['1'] },
        __transaction_state: { internal: true, partitions: 5, leaders: ['1'] },
        assignedTopics: ['events'],
      }, `${who}, ${protocol} protocol`);
    }
    const list = await runJava('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', bootstrap, '--list'], { timeoutMs: 60_000 });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(list.stdout.trim().split('\n').sort(), ['__consumer_offsets', '__transaction_state', 'events'], `${who}: kafka-topics --list`);
    const plain = await runJava('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', bootstrap, '--list', '--exclude-internal'], { timeoutMs: 60_000 });
    assert.deepEqual(plain.stdout.trim().split('\n'), ['events'], `${who}: kafka-topics --list --exclude-internal`);
  }
});

test('deleting, growing or reconfiguring an internal topic: Kafka 4.3.1 accepts, Strait refuses with INVALID_TOPIC_EXCEPTION', async () => {
  assert.deepEqual(await adminChanges(strait.port), { createPartitions: E.INVALID_TOPIC_EXCEPTION, alterConfigs: E.INVALID_TOPIC_EXCEPTION, deleteTopics: E.INVALID_TOPIC_EXCEPTION });
  assert.deepEqual(await adminChanges(kafka.port), { createPartitions: E.NONE, alterConfigs: E.NONE, deleteTopics: E.NONE });
});
