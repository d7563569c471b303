// CreateTopics, DeleteTopics, Metadata and DescribeTopicPartitions semantics, against Kafka's rules.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import type { TestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';

let b: TestBroker;
let c: RawClient;
before(async () => {
  b = await startTestBroker({ 'num.partitions': '2' });
  c = await RawClient.connect(b.port);
});
after(async () => {
  c.close();
  await b.stop();
});

const create = (topics: object[], version = 7, validateOnly = false) =>
  c.request(ApiKey.CreateTopics, version, { topics, timeoutMs: 5000, validateOnly });

test('CreateTopics answers each topic on its own with Kafka error codes', async () => {
  const r = await create([
    { name: 'ok-topic', numPartitions: 3, replicationFactor: 1, configs: [{ name: 'retention.ms', value: '1000' }] },
    { name: 'bad name', numPartitions: 1, replicationFactor: 1 },
    { name: 'zero-parts', numPartitions: 0, replicationFactor: 1 },
    { name: 'zero-rf', numPartitions: 1, replicationFactor: 0 },
    { name: 'bad-config', numPartitions: 1, replicationFactor: 1, configs: [{ name: 'no.such.config', value: 'x' }] },
    { name: 'bad-value', numPartitions: 1, replicationFactor: 1, configs: [{ name: 'retention.ms', value: 'soon' }] },
    { name: 'x'.repeat(250), numPartitions: 1, replicationFactor: 1 },
    { name: 'defaults', numPartitions: -1, replicationFactor: -1 },
  ]);
  const byName = new Map(r.topics.map((t: any) => [t.name, t]));
  const ok: any = byName.get('ok-topic');
  assert.equal(ok.errorCode, ErrorCode.NONE);
  assert.equal(ok.numPartitions, 3);
  assert.equal(ok.replicationFactor, 1);
  assert.equal(ok.topicId.length, 22);
  const retention = ok.configs.find((x: any) => x.name === 'retention.ms');
  assert.deepEqual([retention.value, retention.configSource], ['1000', 1]);
  const cleanup = ok.configs.find((x: any) => x.name === 'cleanup.policy');
  assert.deepEqual([cleanup.value, cleanup.configSource], ['delete', 5]);
  assert.equal((byName.get('bad name') as any).errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
  assert.equal((byName.get('zero-parts') as any).errorCode, ErrorCode.INVALID_PARTITIONS);
  assert.equal((byName.get('zero-rf') as any).errorCode, ErrorCode.INVALID_REPLICATION_FACTOR);
  assert.equal((byName.get('bad-config') as any).errorCode, ErrorCode.INVALID_CONFIG);
  assert.match((byName.get('bad-config') as any).errorMessage, /no\.such\.config/);
  assert.equal((byName.get('bad-value') as any).errorCode, ErrorCode.INVALID_CONFIG);
  assert.equal((byName.get('x'.repeat(250)) as any).errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
  assert.equal((byName.get('defaults') as any).numPartitions, 2, 'num.partitions applies to -1');
});

test('CreateTopics: existing topic, duplicates in one request, and dot/underscore collisions', async () => {
  await create([{ name: 'dup.me', numPartitions: 1, replicationFactor: 1 }]);
  const r = await create([
    { name: 'dup.me', numPartitions: 1, replicationFactor: 1 },
    { name: 'dup_me', numPartitions: 1, replicationFactor: 1 },
    { name: 'twice', numPartitions: 1, replicationFactor: 1 },
    { name: 'twice', numPartitions: 1, replicationFactor: 1 },
  ]);
  const codes = r.topics.map((t: any) => [t.name, t.errorCode]);
  assert.deepEqual(codes, [
    ['dup.me', ErrorCode.TOPIC_ALREADY_EXISTS],
    ['dup_me', ErrorCode.INVALID_TOPIC_EXCEPTION],
    ['twice', ErrorCode.INVALID_REQUEST],
    ['twice', ErrorCode.INVALID_REQUEST],
  ]);
});

test('CreateTopics validateOnly creates nothing', async () => {
  const r = await create([{ name: 'only-validated', numPartitions: 4, replicationFactor: 1 }], 7, true);
  assert.equal(r.topics[0].errorCode, ErrorCode.NONE);
  assert.equal(r.topics[0].numPartitions, 4);
  const md = await c.request(ApiKey.Metadata, 12, { topics: [{ name: 'only-validated' }], allowAutoTopicCreation: false });
  assert.equal(md.topics[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
});

test('CreateTopics works at every version', async () => {
  for (let v = 0; v <= 7; v++) {
    const r = await create([{ name: `versioned-${v}`, numPartitions: 1, replicationFactor: 1 }], v);
    assert.equal(r.topics[0].errorCode, ErrorCode.NONE, `v${v}`);
  }
});

test('Metadata: all topics, named topics, unknown topics, topic ids, no auto-create when disallowed', async () => {
  await create([{ name: 'md-a', numPartitions: 3, replicationFactor: 1 }]);
  const all = await c.request(ApiKey.Metadata, 12, { topics: null });
  const a = all.topics.find((t: any) => t.name === 'md-a');
  assert.equal(a.partitions.length, 3);
  assert.deepEqual(a.partitions.map((p: any) => [p.partitionIndex, p.leaderId, p.leaderEpoch]), [[0, 1, 0], [1, 1, 0], [2, 1, 0]]);
  assert.equal(all.controllerId, 1);
  assert.equal(all.clusterId.length, 22);
  const none = await c.request(ApiKey.Metadata, 12, { topics: [] });
  assert.equal(none.topics.length, 0);
  const v0all = await c.request(ApiKey.Metadata, 0, { topics: [] });
  assert.ok(v0all.topics.length >= 1, 'v0 empty list means all topics');
  const unknown = await c.request(ApiKey.Metadata, 12, { topics: [{ name: 'nope' }], allowAutoTopicCreation: false });
  assert.equal(unknown.topics[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const byId = await c.request(ApiKey.Metadata, 12, { topics: [{ name: null, topicId: a.topicId }] });
  assert.equal(byId.topics[0].name, 'md-a');
  const badId = await c.request(ApiKey.Metadata, 12, { topics: [{ name: null, topicId: 'AAAAAAAAAAAAAAAAAAAAAg' }] });
  assert.equal(badId.topics[0].errorCode, ErrorCode.UNKNOWN_TOPIC_ID);
  const invalid = await c.request(ApiKey.Metadata, 12, { topics: [{ name: 'in valid' }] });
  assert.equal(invalid.topics[0].errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
});

test('Metadata auto-creates unknown topics with the broker defaults when allowed', async () => {
  const r = await c.request(ApiKey.Metadata, 12, { topics: [{ name: 'auto-made' }], allowAutoTopicCreation: true });
  assert.equal(r.topics[0].errorCode, ErrorCode.NONE);
  assert.equal(r.topics[0].partitions.length, 2);
});

test('DeleteTopics by name and by id, unknown ones reported', async () => {
  await create([
    { name: 'del-a', numPartitions: 1, replicationFactor: 1 },
    { name: 'del-b', numPartitions: 1, replicationFactor: 1 },
  ]);
  const md = await c.request(ApiKey.Metadata, 12, { topics: [{ name: 'del-b' }] });
  const idB = md.topics[0].topicId;
  const r = await c.request(ApiKey.DeleteTopics, 6, {
    topics: [{ name: 'del-a' }, { name: null, topicId: idB }, { name: 'del-none' }, { name: null, topicId: 'AAAAAAAAAAAAAAAAAAAAAg' }],
    timeoutMs: 1000,
  });
  assert.deepEqual(
    r.responses.map((x: any) => x.errorCode),
    [ErrorCode.NONE, ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_ID],
  );
  const old = await c.request(ApiKey.DeleteTopics, 1, { topicNames: ['del-a'], timeoutMs: 1000 });
  assert.equal(old.responses[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const after = await c.request(ApiKey.Metadata, 12, { topics: [{ name: 'del-a' }, { name: 'del-b' }], allowAutoTopicCreation: false });
  assert.deepEqual(after.topics.map((t: any) => t.errorCode), [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
});

test('DescribeTopicPartitions pages by partition limit with a cursor', async () => {
  await create([{ name: 'paged', numPartitions: 5, replicationFactor: 1 }]);
  const seen: number[] = [];
  let cursor: any = null;
  for (let i = 0; i < 10; i++) {
    const r = await c.request(ApiKey.DescribeTopicPartitions, 0, { topics: [{ name: 'paged' }], responsePartitionLimit: 2, cursor });
    for (const p of r.topics[0].partitions) seen.push(p.partitionIndex);
    cursor = r.nextCursor;
    if (!cursor) break;
  }
  assert.deepEqual(seen, [0, 1, 2, 3, 4]);
});

test('DescribeConfigs shows topic overrides and defaults with their sources, and unknown topics fail', async () => {
  await create([{ name: 'cfg', numPartitions: 1, replicationFactor: 1, configs: [{ name: 'cleanup.policy', value: 'compact' }] }]);
  const r = await c.request(ApiKey.DescribeConfigs, 4, {
    resources: [
      { resourceType: 2, resourceName: 'cfg', configurationKeys: null },
      { resourceType: 2, resourceName: 'missing', configurationKeys: null },
      { resourceType: 4, resourceName: '1', configurationKeys: ['num.partitions'] },
    ],
    includeSynonyms: true,
  });
  const cfg = r.results[0].configs;
  assert.deepEqual(cfg.filter((x: any) => x.name === 'cleanup.policy').map((x: any) => [x.value, x.configSource]), [['compact', 1]]);
  assert.deepEqual(cfg.filter((x: any) => x.name === 'retention.ms').map((x: any) => [x.value, x.configSource]), [['604800000', 5]]);
  assert.equal(r.results[1].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.deepEqual(r.results[2].configs.map((x: any) => [x.name, x.value, x.configSource]), [['num.partitions', '2', 4]]);
});

test('topics survive a broker restart with the same ids', async () => {
  const d = await startTestBroker();
  const c1 = await RawClient.connect(d.port);
  await c1.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'durable', numPartitions: 4, replicationFactor: 1 }], timeoutMs: 1000 });
  const before = await c1.request(ApiKey.Metadata, 12, { topics: null });
  c1.close();
  await d.stop({ keepData: true });
  const e = await startTestBroker({ 'data.dir': d.dataDir });
  const c2 = await RawClient.connect(e.port);
  const after = await c2.request(ApiKey.Metadata, 12, { topics: null });
  assert.equal(after.clusterId, before.clusterId);
  assert.deepEqual(after.topics, before.topics);
  c2.close();
  await e.stop();
});
