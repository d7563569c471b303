// Kafka's internal topics on Strait (issue #11, build 4). Kafka creates __consumer_offsets on the
// first FindCoordinator for a group and __transaction_state on the first one for a transactional id,
// and lists them in Metadata with is_internal=true, so clients' regex subscriptions and tools can
// see and skip them. Strait keeps offsets and transactions in its metadata store, so its internal
// topics hold no records: a fetch reads an empty partition. Writes, record deletion, topic deletion,
// new partitions and config changes are refused with INVALID_TOPIC_EXCEPTION, the code Kafka uses
// for the writes it refuses on internal topics (test/compat/internal-topics.test.ts compares with
// Apache Kafka 4.3.1, which accepts the admin operations).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { buildBatch } from '../../src/protocol/records/index.ts';
import { loadBrokerConfig } from '../../src/config/broker-config.ts';
import { assigned, cgh } from '../coordinator/group-client.ts';

const E = ErrorCode;
const OFFSETS = '__consumer_offsets';
const TXNS = '__transaction_state';

interface Listed {
  name: string;
  errorCode: number;
  internal: boolean;
  partitions: number;
  leaders: number[];
}

async function metadata(c: RawClient, version: number, topics: string[] | null = null): Promise<Listed[]> {
  const r = await c.request(ApiKey.Metadata, version, {
    topics: topics === null ? (version === 0 ? [] : null) : topics.map((name) => ({ name })),
    allowAutoTopicCreation: version < 4,
    includeTopicAuthorizedOperations: false,
    includeClusterAuthorizedOperations: false,
  });
  return r.topics
    .map((t: any) => ({ name: t.name, errorCode: t.errorCode, internal: t.isInternal ?? false, partitions: t.partitions.length, leaders: [...new Set(t.partitions.map((p: any) => p.leaderId))] as number[] }))
    .sort((a: Listed, b: Listed) => (a.name < b.name ? -1 : 1));
}

async function findCoordinator(c: RawClient, keyType: number, key: string, version = 4): Promise<number> {
  const r = await c.request(ApiKey.FindCoordinator, version, version < 4 ? { key, keyType } : { keyType, coordinatorKeys: [key] });
  return version < 4 ? r.errorCode : r.coordinators[0].errorCode;
}

const create = async (c: RawClient, name: string) =>
  (await c.request(ApiKey.CreateTopics, 7, { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 1000, validateOnly: false })).topics[0];

test('the internal topics\' partition counts are Kafka\'s settings and defaults (50 each)', () => {
  const cfg = loadBrokerConfig({ flags: { 'data.dir': '/tmp/unused' } });
  assert.equal(cfg.values['offsets.topic.num.partitions'], '50');
  assert.equal(cfg.values['transaction.state.log.num.partitions'], '50');
});

test('__consumer_offsets and __transaction_state appear, internal, once a group and a transactional id look for their coordinator, and stay after a restart', async () => {
  const b = await startTestBroker({ 'offsets.topic.num.partitions': '4', 'transaction.state.log.num.partitions': '3' });
  let c = await RawClient.connect(b.port);
  try {
    assert.equal((await create(c, 'plain')).errorCode, E.NONE);
    assert.deepEqual((await metadata(c, 12)).map((t) => t.name), ['plain'], 'none before any group or transaction');
    // Before they exist, a client cannot create them (Kafka would make them ordinary topics of that name).
    const early = await create(c, OFFSETS);
    assert.equal(early.errorCode, E.INVALID_TOPIC_EXCEPTION);
    assert.match(early.errorMessage, /internal/);

    assert.equal(await findCoordinator(c, 0, 'g'), E.NONE);
    assert.deepEqual(await metadata(c, 12), [
      { name: OFFSETS, errorCode: E.NONE, internal: true, partitions: 4, leaders: [b.broker.config.nodeId] },
      { name: 'plain', errorCode: E.NONE, internal: false, partitions: 1, leaders: [b.broker.config.nodeId] },
    ]);
    assert.equal(await findCoordinator(c, 1, 'tx', 3), E.NONE);
    const listed = await metadata(c, 1);
    assert.deepEqual(listed.map((t) => [t.name, t.internal, t.partitions]), [[OFFSETS, true, 4], [TXNS, true, 3], ['plain', false, 1]]);
    assert.deepEqual((await metadata(c, 0)).map((t) => t.name), [OFFSETS, TXNS, 'plain'], 'v0 lists them too');
    assert.deepEqual((await metadata(c, 9, [TXNS])).map((t) => [t.name, t.errorCode, t.internal]), [[TXNS, E.NONE, true]]);

    const dtp = await c.request(ApiKey.DescribeTopicPartitions, 0, { topics: [], responsePartitionLimit: 2000, cursor: null });
    assert.deepEqual(
      dtp.topics.map((t: any) => [t.name, t.isInternal, t.partitions.length]),
      [
        [OFFSETS, true, 4],
        [TXNS, true, 3],
        ['plain', false, 1],
      ],
    );

    c.close();
    await b.broker.stop();
    await b.broker.start();
    c = await RawClient.connect(b.broker.bound[0]!.port);
    assert.deepEqual((await metadata(c, 12)).map((t) => [t.name, t.internal, t.partitions]), [[OFFSETS, true, 4], [TXNS, true, 3], ['plain', false, 1]]);
  } finally {
    c.close();
    await b.stop();
  }
});

test('internal topics refuse writes, record deletion, deletion, new partitions and config changes; a fetch reads an empty partition', async () => {
  const b = await startTestBroker({ 'offsets.topic.num.partitions': '2', 'transaction.state.log.num.partitions': '2' });
  const c = await RawClient.connect(b.port);
  try {
    assert.equal(await findCoordinator(c, 0, 'g'), E.NONE);
    assert.equal(await findCoordinator(c, 1, 'tx'), E.NONE);
    for (const name of [OFFSETS, TXNS]) {
      const produced = await c.request(ApiKey.Produce, 9, { acks: -1, timeoutMs: 5000, transactionalId: null, topicData: [{ name, partitionData: [{ index: 0, records: buildBatch({ records: [{ value: 'x' }] }) }] }] });
      const p = produced.responses[0].partitionResponses[0];
      assert.equal(p.errorCode, E.INVALID_TOPIC_EXCEPTION, `produce to ${name}`);
      assert.match(p.errorMessage, /internal topic/);

      const dr = await c.request(ApiKey.DeleteRecords, 2, { topics: [{ name, partitions: [{ partitionIndex: 0, offset: 0n }] }], timeoutMs: 5000 });
      assert.equal(dr.topics[0].partitions[0].errorCode, E.INVALID_TOPIC_EXCEPTION, `delete records of ${name}`);

      const created = await create(c, name);
      assert.deepEqual([created.errorCode, created.errorMessage], [E.TOPIC_ALREADY_EXISTS, `Topic '${name}' already exists.`], 'as Kafka answers');

      const cp = await c.request(ApiKey.CreatePartitions, 3, { topics: [{ name, count: 10, assignments: null }], timeoutMs: 5000, validateOnly: false });
      assert.equal(cp.results[0].errorCode, E.INVALID_TOPIC_EXCEPTION, `create partitions of ${name}`);

      const iac = await c.request(ApiKey.IncrementalAlterConfigs, 1, { resources: [{ resourceType: 2, resourceName: name, configs: [{ name: 'retention.ms', configOperation: 0, value: '1000' }] }], validateOnly: false });
      assert.equal(iac.responses[0].errorCode, E.INVALID_TOPIC_EXCEPTION, `incremental alter configs of ${name}`);
      const ac = await c.request(ApiKey.AlterConfigs, 2, { resources: [{ resourceType: 2, resourceName: name, configs: [{ name: 'retention.ms', value: '1000' }] }], validateOnly: false });
      assert.equal(ac.responses[0].errorCode, E.INVALID_TOPIC_EXCEPTION, `alter configs of ${name}`);

      const topicId = (await c.request(ApiKey.Metadata, 12, { topics: [{ name }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })).topics[0].topicId;
      const byName = await c.request(ApiKey.DeleteTopics, 5, { topicNames: [name], timeoutMs: 5000 });
      assert.equal(byName.responses[0].errorCode, E.INVALID_TOPIC_EXCEPTION, `delete ${name}`);
      const byId = await c.request(ApiKey.DeleteTopics, 6, { topics: [{ name: null, topicId }], timeoutMs: 5000 });
      assert.equal(byId.responses[0].errorCode, E.INVALID_TOPIC_EXCEPTION, `delete ${name} by id`);

      const fetched = await c.request(ApiKey.Fetch, 12, { maxWaitMs: 0, isolationLevel: 0, sessionEpoch: -1, topics: [{ topic: name, partitions: [{ partition: 1, fetchOffset: 0n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 }] }] });
      const f = fetched.responses[0].partitions[0];
      assert.deepEqual([f.errorCode, Number(f.highWatermark), Number(f.logStartOffset), f.records?.length ?? 0], [E.NONE, 0, 0, 0], `fetch of ${name}`);
      const lo = await c.request(ApiKey.ListOffsets, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name, partitions: [{ partitionIndex: 1, timestamp: -1n }] }] });
      assert.deepEqual([lo.topics[0].partitions[0].errorCode, Number(lo.topics[0].partitions[0].offset)], [E.NONE, 0]);
    }
    // Nothing changed.
    assert.deepEqual((await metadata(c, 12)).map((t) => [t.name, t.internal, t.partitions]), [[OFFSETS, true, 2], [TXNS, true, 2]]);
    const dc = await c.request(ApiKey.DescribeConfigs, 4, { resources: [{ resourceType: 2, resourceName: OFFSETS, configurationKeys: ['cleanup.policy'] }], includeSynonyms: false, includeDocumentation: false });
    assert.deepEqual(dc.results[0].configs.map((x: any) => [x.name, x.value]), [['cleanup.policy', 'compact']], 'configured as Kafka configures it');
  } finally {
    c.close();
    await b.stop();
  }
});

test('a consumer group\'s regex subscription (KIP-848, matched on the broker) does not take in internal topics', async () => {
  const b = await startTestBroker({ 'offsets.topic.num.partitions': '2', 'transaction.state.log.num.partitions': '2' });
  const c = await RawClient.connect(b.port);
  try {
    const events = await create(c, 'events');
    assert.equal(events.errorCode, E.NONE);
    assert.equal(await findCoordinator(c, 0, 'rg'), E.NONE);
    assert.equal(await findCoordinator(c, 1, 'tx'), E.NONE);
    const first = await cgh(c, 'rg', { memberId: 'rx', memberEpoch: 0, topics: null, regex: '.*' });
    assert.equal(first.errorCode, E.NONE);
    const next = await cgh(c, 'rg', { memberId: 'rx', memberEpoch: first.memberEpoch, owned: [] });
    assert.deepEqual([...assigned(first), ...assigned(next)].filter((x, i, all) => all.indexOf(x) === i), [`${events.topicId}:0`], 'only the user topic');
  } finally {
    c.close();
    await b.stop();
  }
});

test('DescribeTransactions shows a group of a transaction as the partition of __consumer_offsets that Metadata lists', async () => {
  const b = await startTestBroker({ 'offsets.topic.num.partitions': '4' });
  const c = await RawClient.connect(b.port);
  try {
    assert.equal(await findCoordinator(c, 0, 'g1'), E.NONE);
    const init = await c.request(ApiKey.InitProducerId, 4, { transactionalId: 'tx-g', transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
    assert.equal(init.errorCode, E.NONE);
    const added = await c.request(ApiKey.AddOffsetsToTxn, 3, { transactionalId: 'tx-g', producerId: init.producerId, producerEpoch: init.producerEpoch, groupId: 'g1' });
    assert.equal(added.errorCode, E.NONE);
    const d = await c.request(ApiKey.DescribeTransactions, 0, { transactionalIds: ['tx-g'] });
    // Java's "g1".hashCode() is 3242: partition 42 of Kafka's default 50, partition 2 of the 4 listed here.
    assert.deepEqual(d.transactionStates[0].topics.map((t: any) => [t.topic, [...t.partitions]]), [[OFFSETS, [2]]]);
  } finally {
    c.close();
    await b.stop();
  }
});

test('Metadata\'s auto-creation makes an internal topic as its coordinator would; without it, an internal topic not created yet is unknown', async () => {
  const b = await startTestBroker({ 'offsets.topic.num.partitions': '3', 'transaction.state.log.num.partitions': '2' });
  const c = await RawClient.connect(b.port);
  try {
    const ask = async (name: string, allowAutoTopicCreation: boolean) =>
      (await c.request(ApiKey.Metadata, 12, { topics: [{ name }], allowAutoTopicCreation, includeTopicAuthorizedOperations: false })).topics.map((t: any) => [t.name, t.errorCode, t.isInternal, t.partitions.length])[0];
    assert.deepEqual(await ask(OFFSETS, false), [OFFSETS, E.UNKNOWN_TOPIC_OR_PARTITION, false, 0]);
    assert.deepEqual(await ask(TXNS, true), [TXNS, E.NONE, true, 2]);
    const dc = await c.request(ApiKey.DescribeConfigs, 4, { resources: [{ resourceType: 2, resourceName: TXNS, configurationKeys: ['cleanup.policy'] }], includeSynonyms: false, includeDocumentation: false });
    assert.deepEqual(dc.results[0].configs.map((x: any) => [x.name, x.value]), [['cleanup.policy', 'compact']]);
  } finally {
    c.close();
    await b.stop();
  }
});
