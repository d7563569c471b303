// Mirror topics against a real Apache Kafka 4.3.1 source: every batch of the mirror equals the
// source's (offset, CRC, bytes), for mixed compression, transactions, a compacted topic with gaps
// and a topic whose head was deleted; read_committed reads the same on both sides; configs and new
// partitions are followed; group offsets are copied into idle groups only; promotion opens the topic
// to writes at the next offset.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApacheKafka, type KafkaHandle } from '../compat/harness.ts';
import { readTopic, txnClient } from '../compat/txn-client.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { ApiKey, KafkaClient } from '../../src/link/client/index.ts';
import { buildBatch } from '../../src/protocol/records/index.ts';
import type { Compression } from '../../src/protocol/records/index.ts';
import { commitOffsets, compareTopic } from './compare.ts';

const RECORDS_PER_PARTITION = Number(process.env.STRAIT_MIRROR_RECORDS ?? 100_000);
const CODECS: Compression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

let kafka: KafkaHandle;
let strait: TestBroker;
let source: KafkaClient;
let local: KafkaClient;

before(async () => {
  [kafka, strait] = await Promise.all([
    startApacheKafka({ config: { 'log.cleaner.backoff.ms': '100', 'auto.create.topics.enable': 'false' } }),
    startTestBroker({ 'upload.interval.ms': '200' }),
  ]);
  source = new KafkaClient({ bootstrap: kafka.bootstrap });
  local = new KafkaClient({ bootstrap: `127.0.0.1:${strait.port}` });
  // Without write forwarding, so the read-only rules of a mirror show (forwarding.test.ts has the other side).
  const d = await createLink('main', ['mixed', 'txn', 'headless', 'grows'], { writeForwarding: false });
  assert.equal(d.state, 'active');
  assert.equal(d.sourceError, null);
  assert.match(String(d.aclSyncNote), /no authorizer/, 'a source without authorizer is reported, not an error');
});

after(async () => {
  await source?.close();
  await local?.close();
  await strait?.stop();
  await kafka?.stop();
});

async function createSourceTopic(name: string, partitions: number, configs: Record<string, string> = {}): Promise<void> {
  const { response } = await source.sendRequest<any>('controller', ApiKey.CreateTopics, () => ({
    topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: Object.entries(configs).map(([n, v]) => ({ name: n, value: v })) }],
    timeoutMs: 30_000,
    validateOnly: false,
  }));
  assert.equal(response.topics[0].errorCode, 0, `create ${name}: ${response.topics[0].errorMessage}`);
  // Kafka answers CreateTopics before its broker serves the topic: wait until every partition has a
  // leader (a produce sent at once can get UNKNOWN_TOPIC_OR_PARTITION on a busy machine).
  const deadline = Date.now() + 30_000;
  for (;;) {
    const md = await source.metadata({ topics: [name] });
    const parts = md.topics.get(name)?.partitions ?? [];
    if (parts.length === partitions && parts.every((p) => p.leaderId >= 0)) return;
    if (Date.now() > deadline) assert.fail(`Kafka did not serve the new topic ${name} in time: ${JSON.stringify(parts)}`);
    await sleep(100);
  }
}

/** Waits until the mirror's log start offsets are these (they follow the source's). */
async function waitLogStart(topic: string, offsets: number[]): Promise<void> {
  const until = Date.now() + 30_000;
  for (;;) {
    const d = await strait.broker.links!.describe('main');
    const parts = d.mirrors.find((m) => m.topic === topic)!.partitions;
    if (offsets.every((o, p) => parts[p]?.logStartOffset === o)) return;
    if (Date.now() > until) assert.fail(`log start offsets did not follow to ${offsets}: ${JSON.stringify(parts)}`);
    await sleep(200);
  }
}

/** Produces `count` records to each partition in batches of `perBatch`, cycling through codecs. */
async function produceMixed(topic: string, partitions: number, count: number, perBatch = 500): Promise<void> {
  let batchNo = 0;
  for (let sent = 0; sent < count; sent += perBatch) {
    const n = Math.min(perBatch, count - sent);
    const reqs = [];
    for (let p = 0; p < partitions; p++) {
      const records = Array.from({ length: n }, (_, i) => ({ key: `k${(sent + i) % 997}`, value: `p${p}-${sent + i}-${'x'.repeat((sent + i) % 40)}` }));
      reqs.push({ topic, partition: p, records: buildBatch({ records, compression: CODECS[batchNo++ % CODECS.length]! }) });
    }
    // Partitions a just-created topic does not serve yet answer a retriable error: sent again.
    let todo = reqs;
    for (let attempt = 0; todo.length > 0; attempt++) {
      const out = await source.produce(todo, { acks: -1 });
      const failed = todo.filter((_, i) => out[i]!.error !== null);
      for (const o of out) if (o.error !== null && (!o.error.retriable || attempt >= 50)) assert.fail(String(o.error));
      todo = failed;
      if (todo.length > 0) await sleep(200);
    }
  }
}

async function createLink(name: string, include: string[], extra: Record<string, unknown> = {}) {
  return strait.broker.links!.create({ name, bootstrap: kafka.bootstrap, topics: { include, exclude: [] }, metadataSyncIntervalMs: 500, groupSyncIntervalMs: 500, ...extra });
}

/** Waits until every mirror partition of the topic has the source's high watermark. */
async function waitMirrored(link: string, topic: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const ends = new Map<number, number>();
  const md = await source.metadata({ topics: [topic] });
  const n = md.topics.get(topic)!.partitions.length;
  const listed = await source.listOffsets(Array.from({ length: n }, (_, p) => ({ topic, partition: p, spec: 'latest' as const })));
  for (const l of listed) ends.set(l.partition, l.offset);
  for (;;) {
    const d = await strait.broker.links!.describe(link);
    const m = d.mirrors.find((x) => x.topic === topic);
    if (m && m.partitions.length === n && m.partitions.every((p) => p.mirroredEndOffset === ends.get(p.partition))) return;
    if (Date.now() > deadline) assert.fail(`mirror of ${topic} did not catch up: ${JSON.stringify(m?.partitions)} vs ${JSON.stringify([...ends])}`);
    await sleep(100);
  }
}

test(`6 partitions x ${RECORDS_PER_PARTITION} records, five codecs: every batch identical, lag reported, topic read-only`, async () => {
  const topic = 'mixed';
  await createSourceTopic(topic, 6, { 'retention.ms': '604800000', 'max.message.bytes': '2000000' });
  await produceMixed(topic, 6, RECORDS_PER_PARTITION);
  const started = Date.now();
  await waitMirrored('main', topic);
  const seconds = (Date.now() - started) / 1000;
  const cmp = await compareTopic(source, local, topic, 6);
  assert.deepEqual(cmp.differences, []);
  assert.equal(cmp.offsets, 6 * RECORDS_PER_PARTITION);
  console.log(`# mirrored ${cmp.batches} batches / ${cmp.offsets} records, all identical (caught up ${seconds.toFixed(1)} s after the last produce)`);

  // Configs came along; the topic refuses client writes with a clear error.
  const { response } = await local.sendRequest<any>('any', ApiKey.DescribeConfigs, () => ({ resources: [{ resourceType: 2, resourceName: topic, configurationKeys: null }], includeSynonyms: false, includeDocumentation: false }));
  const cfg = Object.fromEntries(response.results[0].configs.map((c: any) => [c.name, c.value]));
  assert.equal(cfg['max.message.bytes'], '2000000');
  assert.equal(cfg['retention.ms'], '604800000');
  const [refused] = await local.produce([{ topic, partition: 0, records: buildBatch({ records: [{ value: 'nope' }] }) }], { acks: -1, retriesMax: 0 });
  assert.ok(refused!.error, 'produce to a mirror is refused');
  assert.match(refused!.error!.message, /mirror/);
  const { response: alter } = await local.sendRequest<any>('any', ApiKey.IncrementalAlterConfigs, () => ({ resources: [{ resourceType: 2, resourceName: topic, configs: [{ name: 'retention.ms', configOperation: 0, value: '1000' }] }], validateOnly: false }));
  assert.equal(alter.responses[0].errorCode, 44, 'configs of a mirror are the source\'s: POLICY_VIOLATION');
  const { response: grow } = await local.sendRequest<any>('any', ApiKey.CreatePartitions, () => ({ topics: [{ name: topic, count: 9, assignments: null }], timeoutMs: 5000, validateOnly: false }));
  assert.equal(grow.results[0].errorCode, 44);
  const { response: del } = await local.sendRequest<any>('any', ApiKey.DeleteRecords, () => ({ topics: [{ name: topic, partitions: [{ partitionIndex: 0, offset: 5n }] }], timeoutMs: 5000 }));
  assert.equal(del.topics[0].partitions[0].errorCode, 44);

  // Lag appears when the source grows, and goes back to 0.
  await produceMixed(topic, 6, 1000);
  await waitMirrored('main', topic);
  const after = await strait.broker.links!.describe('main');
  const m = after.mirrors.find((x) => x.topic === topic)!;
  assert.equal(m.lagRecords, 0);
  assert.ok(m.partitions.every((p) => p.sourceHighWatermark === RECORDS_PER_PARTITION + 1000));
  assert.deepEqual((await compareTopic(source, local, topic, 6)).differences, []);
});

test('transactional topic: committed and aborted transactions, markers and producer ids kept; read_committed equal', async () => {
  const topic = 'txn';
  await createSourceTopic(topic, 3);
  await txnClient('script', { bootstrap: kafka.bootstrap, topic, partitions: 3, group: 'txn-group', 'txn-id': 'mirror-txn', rounds: 6 });
  await waitMirrored('main', topic);
  assert.deepEqual((await compareTopic(source, local, topic, 3)).differences, []);
  const [a, b] = await Promise.all([readTopic(kafka.bootstrap, topic, 3), readTopic(`127.0.0.1:${strait.port}`, topic, 3)]);
  assert.ok(a.records.length > 0);
  assert.deepEqual(b.records, a.records, 'read_committed reads the same records at the same offsets');
  assert.deepEqual(b.end, a.end);
  const [ua, ub] = await Promise.all([readTopic(kafka.bootstrap, topic, 3, 'read_uncommitted'), readTopic(`127.0.0.1:${strait.port}`, topic, 3, 'read_uncommitted')]);
  assert.ok(ua.records.length > a.records.length, 'the source holds aborted records');
  assert.deepEqual(ub.records, ua.records);
});

test('compacted topic with gaps and a topic whose head was deleted are mirrored exactly; the log start follows the source', async () => {
  await createSourceTopic('compacted', 1, { 'cleanup.policy': 'compact', 'min.cleanable.dirty.ratio': '0.01', 'segment.ms': '500', 'delete.retention.ms': '100' });
  for (let round = 0; round < 4; round++) {
    const records = Array.from({ length: 200 }, (_, i) => ({ key: `key-${i % 20}`, value: `r${round}-${i}` }));
    await source.produce([{ topic: 'compacted', partition: 0, records: buildBatch({ records, compression: CODECS[round % 5]! }) }], { acks: -1 });
    await sleep(700);
  }
  // A record after segment.ms rolls the last segment so the cleaner can take it.
  await source.produce([{ topic: 'compacted', partition: 0, records: buildBatch({ records: [{ key: 'roll', value: 'roll' }] }) }], { acks: -1 });
  // A mirror copies the source as it is and does not clean it again (docs/linking.md), so the
  // source is left to finish cleaning before it is mirrored: gaps, and the same log twice in a row.
  const deadline = Date.now() + 60_000;
  let last = '';
  for (;;) {
    const [r] = await source.fetch([{ topic: 'compacted', partition: 0, offset: 0 }], { maxWaitMs: 0 });
    const shape = JSON.stringify(r!.batches.map((b) => [b.baseOffset, b.lastOffset, b.size]));
    if (r!.batches.length > 0 && r!.batches[0]!.baseOffset > 0 && shape === last) break;
    last = shape;
    if (Date.now() > deadline) assert.fail('Kafka did not compact the topic in time');
    await sleep(1500);
  }
  // Not matched by the link's include patterns: mirrored on request.
  const status = await strait.broker.links!.mirrorTopic('main', 'compacted');
  assert.equal(status.state, 'mirroring');

  await createSourceTopic('headless', 2);
  await produceMixed('headless', 2, 3000, 100);
  // DeleteRecords: partition 0 to the middle of a batch, partition 1 to a batch boundary.
  const del = async (offsets: number[]) => {
    const { response } = await source.sendRequest<any>({ nodeId: kafka.nodeId }, ApiKey.DeleteRecords, () => ({
      topics: [{ name: 'headless', partitions: offsets.map((o, p) => ({ partitionIndex: p, offset: BigInt(o) })) }],
      timeoutMs: 30_000,
    }));
    for (const p of response.topics[0].partitions) assert.equal(p.errorCode, 0);
  };
  await del([1234, 1500]);

  await waitMirrored('main', 'compacted');
  await waitMirrored('main', 'headless');
  // The mirror may have started before the delete: its log start follows with the next fetch answer.
  await waitLogStart('headless', [1234, 1500]);
  const compacted = await compareTopic(source, local, 'compacted', 1);
  assert.deepEqual(compacted.differences, []);
  assert.ok(compacted.offsets < 801, 'the compacted source had gaps');
  assert.deepEqual((await compareTopic(source, local, 'headless', 2)).differences, []);

  // Deleting more at the source moves the mirror's log start offset too.
  await del([2000, 2100]);
  await waitLogStart('headless', [2000, 2100]);
  assert.deepEqual((await compareTopic(source, local, 'headless', 2)).differences, []);
});

test('new source partitions and config changes are followed', async () => {
  await createSourceTopic('grows', 2);
  await produceMixed('grows', 2, 100, 50);
  await waitMirrored('main', 'grows');
  const { response } = await source.sendRequest<any>('controller', ApiKey.CreatePartitions, () => ({ topics: [{ name: 'grows', count: 4, assignments: null }], timeoutMs: 30_000, validateOnly: false }));
  assert.equal(response.results[0].errorCode, 0);
  await source.sendRequest<any>('any', ApiKey.IncrementalAlterConfigs, () => ({ resources: [{ resourceType: 2, resourceName: 'grows', configs: [{ name: 'retention.bytes', configOperation: 0, value: '123456789' }] }], validateOnly: false }));
  await source.metadata({ topics: ['grows'] });
  await produceMixed('grows', 4, 100, 50);
  await waitMirrored('main', 'grows', 60_000);
  assert.deepEqual((await compareTopic(source, local, 'grows', 4)).differences, []);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { response: r } = await local.sendRequest<any>('any', ApiKey.DescribeConfigs, () => ({ resources: [{ resourceType: 2, resourceName: 'grows', configurationKeys: ['retention.bytes'] }], includeSynonyms: false, includeDocumentation: false }));
    if (r.results[0].configs[0]?.value === '123456789') break;
    if (Date.now() > deadline) assert.fail('retention.bytes was not synced');
    await sleep(200);
  }
  // Deleting the mirror on Strait: the link mirrors the topic again from the source's log start.
  const { response: deleted } = await local.sendRequest<any>('controller', ApiKey.DeleteTopics, () => ({ topicNames: ['grows'], timeoutMs: 5000 }), { versionMax: 5 });
  assert.equal(deleted.responses[0].errorCode, 0);
  await sleep(1000);
  await waitMirrored('main', 'grows', 60_000);
  assert.deepEqual((await compareTopic(source, local, 'grows', 4)).differences, []);
});

test('group offsets are copied as they are into idle groups; a group used on Strait is never overwritten; promote opens writes at the next offset', async () => {
  const links = strait.broker.links!;
  const commit = (client: KafkaClient, group: string, offsets: [number, number][]) => commitOffsets(client, group, 'mixed', offsets);
  const fetchOffsets = async (client: KafkaClient, group: string) => (await client.offsetFetch([group]))[0]!.offsets.filter((o) => o.topic === 'mixed').map((o) => [o.partition, o.offset]).sort((a, b) => a[0]! - b[0]!);
  await commit(source, 'app', [[0, 10], [1, 20], [2, 30]]);
  await commit(source, 'ahead', [[0, RECORDS_PER_PARTITION + 1000 + 50]]); // past the mirror's end: held back
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (JSON.stringify(await fetchOffsets(local, 'app')) === JSON.stringify([[0, 10], [1, 20], [2, 30]])) break;
    if (Date.now() > deadline) assert.fail('group offsets were not synced');
    await sleep(200);
  }
  const d = await links.describe('main');
  assert.equal(d.groups.find((g) => g.groupId === 'app')?.state, 'synced');
  assert.equal(d.groups.find((g) => g.groupId === 'ahead')?.heldBack, 1);
  assert.deepEqual(await fetchOffsets(local, 'ahead'), [], 'an offset beyond the mirror is not copied');

  // Promote: the topic takes writes at the next offset; the mirror stops.
  const report = await links.promote('main', { topics: ['mixed'], timeoutMs: 30_000 });
  assert.equal(report.topics[0]!.state, 'promoted');
  assert.equal(report.topics[0]!.lossWindowRecords, 0);
  const end = RECORDS_PER_PARTITION + 1000;
  assert.ok(report.topics[0]!.partitions.every((p) => p.endOffset === end));
  const [produced] = await local.produce([{ topic: 'mixed', partition: 3, records: buildBatch({ records: [{ value: 'after promotion' }] }) }], { acks: -1 });
  assert.equal(produced!.error, null);
  assert.equal(produced!.baseOffset, end, 'the next record gets the next offset');
  // The leader epoch moved past the source's.
  const md = await local.metadata({ topics: ['mixed'] });
  const srcMd = await source.metadata({ topics: ['mixed'] });
  assert.ok(md.topics.get('mixed')!.partitions[3]!.leaderEpoch > srcMd.topics.get('mixed')!.partitions[3]!.leaderEpoch);
  // Producing more to the source changes nothing on Strait now.
  await produceMixed('mixed', 6, 10, 10);
  await sleep(1500);
  const desc = (await links.describe('main')).mirrors.find((m) => m.topic === 'mixed')!;
  assert.equal(desc.state, 'promoted');
  assert.equal(desc.partitions[0]!.mirroredEndOffset, end);
  await assert.rejects(links.promote('main', { topics: ['mixed'] }), /promoted, not mirroring/);
});
