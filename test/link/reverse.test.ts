// Rollback after promotion, against a real Apache Kafka 4.3.1: a topic is mirrored and promoted,
// clients write to Strait (plain batches, a Java VerifiableProducer, an idempotent producer that
// wrote to Kafka before and keeps its producer id, an idempotent Java producer whose id Strait
// hands out, transactions), a
// VerifiableConsumer group consumes part of it on Strait; the reverse copier copies everything back
// to Kafka through a Kafka outage. Then: every batch is at its Strait offset on Kafka (byte for byte
// where the copier says so), the group continues on Kafka with nothing lost or read twice, producers
// move back without sequence errors, a write to Kafka after promotion stops the partition, and
// committed transactions land in order with an offset map that says where each record went.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startKafkaNode, type KafkaNode } from './kafka-node.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { readTopic, txnClient } from '../compat/txn-client.ts';
import { eventually, groupOffsets, javaMember, produce, type GroupMember } from '../compat/groups/members.ts';
import { ApiKey, KafkaClient } from '../../src/link/client/index.ts';
import { ReverseCopier } from '../../src/link/reverse-copier.ts';
import { buildBatch, readBatchRecords, batchProducerEpoch, batchProducerId } from '../../src/protocol/records/index.ts';
import type { Compression, KafkaRecord } from '../../src/protocol/records/index.ts';
import { createLogger, silentLogger } from '../../src/common/logger.ts';
import { commitOffsets, readBatchFacts } from './compare.ts';
import { assertHandedOver, consumedCount } from './clients.ts';

const log = process.env.STRAIT_TEST_LOG ? createLogger('debug') : silentLogger;
const CODECS: Compression[] = ['none', 'lz4', 'zstd', 'gzip', 'snappy'];

let kafka: KafkaNode;
let strait: TestBroker;
let source: KafkaClient;
let local: KafkaClient;
const members: GroupMember[] = [];
const copiers: ReverseCopier[] = [];

before(async () => {
  [kafka, strait] = await Promise.all([startKafkaNode({ 'auto.create.topics.enable': 'false' }), startTestBroker({ 'upload.interval.ms': '200' })]);
  source = new KafkaClient({ bootstrap: kafka.bootstrap });
  local = new KafkaClient({ bootstrap: `127.0.0.1:${strait.port}` });
});

after(async () => {
  for (const m of members) await m.kill9();
  for (const c of copiers) await c.stop();
  await source?.close();
  await local?.close();
  await strait?.stop();
  await kafka?.destroy();
});

async function createSourceTopic(name: string, partitions: number): Promise<void> {
  const { response } = await source.sendRequest<any>('controller', ApiKey.CreateTopics, () => ({
    topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 30_000,
    validateOnly: false,
  }));
  assert.equal(response.topics[0].errorCode, 0, `create ${name}: ${response.topics[0].errorMessage}`);
  await source.metadata({ topics: [name] });
}

async function endOffsets(client: KafkaClient, topic: string, partitions: number): Promise<number[]> {
  const listed = await client.listOffsets(Array.from({ length: partitions }, (_, p) => ({ topic, partition: p, spec: 'latest' as const })));
  return listed.map((l) => {
    if (l.error) throw l.error;
    return l.offset;
  });
}

/** Creates a link for one topic, waits until it is mirrored and promotes it; returns the promotion end offsets. */
async function mirrorAndPromote(link: string, topic: string, partitions: number, groups: string[] = []): Promise<Map<number, number>> {
  const links = strait.broker.links!;
  await links.create({ name: link, bootstrap: kafka.bootstrap, topics: { include: [topic] }, groups: { include: groups.length ? groups : ['^$'] }, metadataSyncIntervalMs: 300, groupSyncIntervalMs: 300 });
  const ends = await endOffsets(source, topic, partitions);
  await eventually(
    `${topic} mirrored`,
    async () => {
      const m = (await links.describe(link)).mirrors.find((x) => x.topic === topic);
      return m && m.partitions.length === partitions && m.partitions.every((p) => p.mirroredEndOffset === ends[p.partition]);
    },
    60_000,
  );
  const report = await links.promote(link, { topics: [topic], timeoutMs: 30_000 });
  const t = report.topics[0]!;
  assert.equal(t.state, 'promoted');
  assert.deepEqual(t.partitions.map((p) => p.endOffset), ends, 'promotion ends where Kafka ends');
  return new Map(t.partitions.map((p) => [p.partition, p.endOffset]));
}

function copier(topic: string, fromOffsets: Map<number, number>, client: KafkaClient, acceptGroup: (g: string) => boolean): ReverseCopier {
  const c = new ReverseCopier({
    linkName: 'test',
    client,
    logs: strait.broker.logs!,
    topic: strait.broker.groups!.catalog.byName(topic)!,
    fromOffsets,
    groups: strait.broker.groups!,
    acceptGroup,
    log,
    groupSyncIntervalMs: 300,
  });
  copiers.push(c);
  return c;
}

/** An idempotent producer of our own: an id from Kafka's InitProducerId, sequences kept per partition. */
async function initProducerId(client: KafkaClient): Promise<{ producerId: number; producerEpoch: number }> {
  // Retried while Kafka's producer id manager is still loading (COORDINATOR_LOAD_IN_PROGRESS and the like).
  return eventually('a producer id from Kafka', async () => {
    const { response } = await client.sendRequest<any>('any', ApiKey.InitProducerId, () => ({ transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 }));
    return response.errorCode === 0 ? { producerId: Number(response.producerId), producerEpoch: response.producerEpoch as number } : null;
  }, 30_000);
}

function idempotentBatch(pid: { producerId: number; producerEpoch: number }, baseSequence: number, count: number, label: string): Buffer {
  return buildBatch({
    producerId: pid.producerId,
    producerEpoch: pid.producerEpoch,
    baseSequence,
    compression: 'lz4',
    records: Array.from({ length: count }, (_, i) => ({ key: `${label}-${i % 7}`, value: `${label}-${baseSequence + i}`, headers: [{ key: 'h', value: `seq-${baseSequence + i}` }] })),
  });
}

async function produceBatches(client: KafkaClient, topic: string, reqs: { partition: number; records: Buffer }[]): Promise<number[]> {
  const out = await client.produce(reqs.map((r) => ({ topic, ...r })), { acks: -1 });
  for (const o of out) assert.equal(o.error, null, String(o.error));
  return out.map((o) => o.baseOffset);
}

async function describeProducers(topic: string, partitions: number): Promise<Set<number>[]> {
  const { response } = await source.sendRequest<any>({ nodeId: kafka.nodeId }, ApiKey.DescribeProducers, () => ({ topics: [{ name: topic, partitionIndexes: Array.from({ length: partitions }, (_, p) => p) }] }));
  return response.topics[0].partitions
    .sort((a: any, b: any) => a.partitionIndex - b.partitionIndex)
    .map((p: any) => new Set<number>(p.activeProducers.map((x: any) => Number(x.producerId))));
}

const recordView = (r: KafkaRecord) => ({ key: r.key?.toString() ?? null, value: r.value?.toString() ?? null, timestamp: r.timestamp, headers: r.headers.map((h) => [h.key, h.value?.toString() ?? null]) });

/** Records a VerifiableConsumer handed to its application: the per-partition counts (an event's own
 *  count is the whole poll, including what --max-messages cut off). */
test('rollback: writes on Strait after promotion go back to Kafka at the same offsets through a Kafka outage; the group and the producers move back', async () => {
  const TOPIC = 'rollback';
  const N = 3;
  const straitBootstrap = `127.0.0.1:${strait.port}`;
  await createSourceTopic(TOPIC, N);
  // Before promotion, on Kafka: a VerifiableProducer, and an idempotent producer of our own that
  // will move to Strait and back keeping its producer id.
  await produce(kafka.bootstrap, TOPIC, 300);
  const mover = await initProducerId(source);
  const seq = [0, 0, 0];
  for (let round = 0; round < 2; round++) {
    await produceBatches(source, TOPIC, seq.map((s, p) => ({ partition: p, records: idempotentBatch(mover, s, 10, `mover-p${p}`) })));
    for (let p = 0; p < N; p++) seq[p]! += 10;
  }
  const fromOffsets = await mirrorAndPromote('back', TOPIC, N, ['rollers']);

  const client = new KafkaClient({ bootstrap: kafka.bootstrap, requestTimeoutMs: 4000, apiTimeoutMs: 6000, retryBackoffMsMax: 500 });
  const c = copier(TOPIC, fromOffsets, client, (g) => g === 'rollers');
  c.start();

  // On Strait after promotion: plain batches in five codecs, the moved producer's next batches, a
  // VerifiableProducer (not idempotent: it sets retries=0), an idempotent Java producer whose
  // producer id Strait hands out, and a consumer group that reads part of it.
  for (let round = 0; round < 5; round++) {
    await produceBatches(
      local,
      TOPIC,
      Array.from({ length: N }, (_, p) => ({ partition: p, records: buildBatch({ compression: CODECS[round]!, records: Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: `plain-${round}-${p}-${i}` })) }) })),
    );
  }
  for (let round = 0; round < 2; round++) {
    await produceBatches(local, TOPIC, seq.map((s, p) => ({ partition: p, records: idempotentBatch(mover, s, 10, `mover-p${p}`) })));
    for (let p = 0; p < N; p++) seq[p]! += 10;
  }
  await produce(straitBootstrap, TOPIC, 600);
  await txnClient('produce', { bootstrap: straitBootstrap, topic: TOPIC, partitions: N, count: 300 });
  const onStrait = javaMember('on-strait', { bootstrap: straitBootstrap, topic: TOPIC, groupId: 'rollers', protocol: 'classic', maxMessages: 700 });
  members.push(onStrait);
  await onStrait.waitFor('shutdown', (e) => e.name === 'shutdown_complete', 60_000);
  assert.equal(consumedCount(onStrait), 700);
  assert.deepEqual(onStrait.failedCommits(), []);

  // Kafka goes away while Strait takes more writes: every partition reports it, and copying resumes.
  await kafka.stop();
  try {
    for (let round = 0; round < 3; round++) {
      await produceBatches(local, TOPIC, Array.from({ length: N }, (_, p) => ({ partition: p, records: buildBatch({ records: Array.from({ length: 30 }, (_, i) => ({ value: `during-outage-${round}-${p}-${i}` })) }) })));
    }
    await eventually('the outage shows in every partition', async () => c.status().partitions.every((p) => p.error !== null && p.state === 'retrying'), 30_000, () => JSON.stringify(c.status().partitions));
  } finally {
    await kafka.start();
  }
  const started = Date.now();
  await c.caughtUp(60_000);
  console.log(`# caught up ${((Date.now() - started) / 1000).toFixed(1)} s after Kafka came back`);

  const straitEnds = await endOffsets(local, TOPIC, N);
  assert.deepEqual(await endOffsets(source, TOPIC, N), straitEnds, 'Kafka ends where Strait ends');
  const st = c.status();
  assert.equal(st.offsetsIdentical, true);
  for (const p of st.partitions) {
    assert.equal(p.error, null);
    assert.equal(p.nextOffset, straitEnds[p.partition]);
    assert.equal(p.kafkaNextOffset, straitEnds[p.partition]);
    assert.deepEqual(p.offsetMap, []);
    assert.equal(p.batchesCopied['committed-transaction'], 0);
  }

  // Batch by batch from the promotion point: same offsets everywhere; the same bytes except the
  // batches of the producer Strait gave an id to, which carry the same records without producer id.
  let identical = 0;
  let withoutId = 0;
  const straitIds = new Set<number>();
  const straitEpochs = new Map<number, number>();
  for (let p = 0; p < N; p++) {
    const [k, s] = await Promise.all([readBatchFacts(source, TOPIC, p), readBatchFacts(local, TOPIC, p)]);
    const from = (facts: typeof k) => facts.batches.map((b, i) => ({ ...b, bytes: facts.bytes[i]! })).filter((b) => b.baseOffset >= fromOffsets.get(p)!);
    const kb = from(k);
    const sb = from(s);
    assert.equal(kb.length, sb.length, `p${p}: batch count`);
    for (let i = 0; i < sb.length; i++) {
      const [x, y] = [kb[i]!, sb[i]!];
      assert.equal(x.baseOffset, y.baseOffset, `p${p} batch ${i}: base offset`);
      assert.equal(x.lastOffset, y.lastOffset, `p${p} batch ${i}: last offset`);
      const pid = batchProducerId(y.bytes, 0);
      if (pid >= 0 && pid !== mover.producerId) {
        straitIds.add(pid);
        straitEpochs.set(pid, batchProducerEpoch(y.bytes, 0));
        assert.equal(batchProducerId(x.bytes, 0), -1, `p${p} batch ${i}: copied without producer id`);
        assert.deepEqual(readBatchRecords(x.bytes).records.map(recordView), readBatchRecords(y.bytes).records.map(recordView), `p${p} batch ${i}: same records`);
        withoutId++;
      } else {
        // The partition leader epoch (bytes 12-15) is each cluster's own; everything else is the same.
        assert.ok(x.bytes.subarray(16).equals(y.bytes.subarray(16)) && x.bytes.subarray(0, 12).equals(y.bytes.subarray(0, 12)), `p${p} batch ${i} at ${y.baseOffset}: same bytes`);
        assert.equal(x.crc, y.crc);
        identical++;
      }
    }
  }
  assert.ok(withoutId > 0 && identical > 0);
  assert.equal(straitIds.size, 1, 'the idempotent producer on Strait had one producer id');
  const copied = st.partitions.reduce((n, p) => n + p.batchesCopied.identical, 0);
  assert.equal(copied, identical);
  console.log(`# ${identical} batches identical, ${withoutId} with the same records without Strait's producer id`);

  // Kafka's producer state: the moved producer continues there, Strait's id was never planted.
  for (const known of await describeProducers(TOPIC, N)) {
    assert.ok(known.has(mover.producerId));
    for (const id of straitIds) assert.ok(!known.has(id), `Strait's producer id ${id} is not in Kafka's producer state`);
  }

  // The group's offsets come back as they are (offsets are identical).
  const onStraitOffsets = await groupOffsets(straitBootstrap, 'rollers', TOPIC, N);
  await eventually('group offsets copied to Kafka', async () => JSON.stringify((await groupOffsets(kafka.bootstrap, 'rollers', TOPIC, N)).committed) === JSON.stringify(onStraitOffsets.committed), 20_000);
  assert.equal(c.status().groups.find((g) => g.groupId === 'rollers')?.state, 'synced');

  // The group moves back to Kafka and reads the rest: nothing lost, nothing read twice.
  const total = straitEnds.reduce((n, e) => n + e, 0);
  const onKafka = javaMember('on-kafka', { bootstrap: kafka.bootstrap, topic: TOPIC, groupId: 'rollers', protocol: 'classic', maxMessages: total - 700 });
  members.push(onKafka);
  await onKafka.waitFor('shutdown', (e) => e.name === 'shutdown_complete', 60_000);
  assert.equal(consumedCount(onKafka), total - 700);
  assertHandedOver([onStrait], [onKafka], straitEnds);
  // Seen with members on Kafka, the group is Kafka's: its newer offsets there are never moved back.
  await eventually('group active on Kafka', async () => c.status().groups.find((g) => g.groupId === 'rollers')?.state === 'active-on-kafka', 10_000);
  await sleep(1000);
  assert.deepEqual((await groupOffsets(kafka.bootstrap, 'rollers', TOPIC, N)).committed, straitEnds);

  // Producers move back: the moved producer goes on with its next sequence numbers, a new
  // idempotent producer on Kafka gets every record acknowledged, and so does one under the id Strait
  // handed out (the copy left no producer state for it on Kafka).
  await produceBatches(source, TOPIC, seq.map((s, p) => ({ partition: p, records: idempotentBatch(mover, s, 10, `mover-p${p}`) })));
  const producedOnKafka = await txnClient('produce', { bootstrap: kafka.bootstrap, topic: TOPIC, partitions: N, count: 300 });
  assert.deepEqual(producedOnKafka.at(-1), { produced: 300 }, 'the new idempotent producer on Kafka had every record acknowledged');
  await produce(kafka.bootstrap, TOPIC, 300);
  const after = await describeProducers(TOPIC, N);
  const clash = [...straitIds].filter((id) => after.some((known) => known.has(id)));
  const fresh = [...new Set(after.flatMap((known) => [...known]))].filter((id) => id !== mover.producerId);
  console.log(`# producer ids: moved ${mover.producerId}, Strait's ${[...straitIds]}, a new producer on Kafka ${fresh}${clash.length > 0 ? ` (clash with Strait's: copied with it, that producer's first writes would have been refused)` : ''}`);
  // The clash itself, made rather than hoped for: Kafka numbers its producer ids on its own (after
  // its restart above it began a new block, so its new producer did not get Strait's id), so a
  // producer on Kafka writing under the very id and epoch Strait handed out stands for one that got
  // it. Had the copy planted that id's state on Kafka, this first write (sequence 0) would be refused
  // as out of order, or taken for a duplicate and not appended.
  const [straitId] = [...straitIds];
  const clashing = { producerId: straitId!, producerEpoch: straitEpochs.get(straitId!)! };
  const kafkaEnds = await endOffsets(source, TOPIC, N);
  const clashOffsets = await produceBatches(source, TOPIC, Array.from({ length: N }, (_, p) => ({ partition: p, records: idempotentBatch(clashing, 0, 10, `clash-p${p}`) })));
  assert.deepEqual(clashOffsets, kafkaEnds, `a producer on Kafka with Strait's id ${straitId} (epoch ${clashing.producerEpoch}) starts at sequence 0: appended at the end`);
  assert.deepEqual(await endOffsets(source, TOPIC, N), kafkaEnds.map((e) => e + 10));

  const stopping = Date.now();
  await c.stop();
  assert.ok(Date.now() - stopping < 2000, 'stop is prompt');
  await client.close();
});

test('a write to Kafka after promotion stops the partition: nothing is copied there, other partitions copy', async () => {
  const TOPIC = 'rollback-extra';
  await createSourceTopic(TOPIC, 3);
  await produceBatches(source, TOPIC, [0, 1, 2].map((p) => ({ partition: p, records: buildBatch({ records: Array.from({ length: 20 }, (_, i) => ({ value: `before-${p}-${i}` })) }) })));
  const fromOffsets = await mirrorAndPromote('extra', TOPIC, 3);
  // Partition 0: both sides took writes; partition 1: only Kafka did; partition 2: only Strait.
  await produceBatches(source, TOPIC, [0, 1].map((p) => ({ partition: p, records: buildBatch({ records: [{ value: `stray-${p}` }] }) })));
  await produceBatches(local, TOPIC, [0, 2].map((p) => ({ partition: p, records: buildBatch({ records: Array.from({ length: 5 }, (_, i) => ({ value: `after-${p}-${i}` })) }) })));
  const client = new KafkaClient({ bootstrap: kafka.bootstrap });
  const c = copier(TOPIC, fromOffsets, client, () => false);
  c.start();
  await assert.rejects(c.caughtUp(30_000), /STRAIT_REVERSE_FAILED|did not write/);
  await eventually('partitions 0 and 1 stopped', async () => c.status().partitions.filter((p) => p.state === 'stopped').length === 2, 10_000, () => JSON.stringify(c.status()));
  const st = c.status();
  for (const p of [0, 1]) {
    const ps = st.partitions[p]!;
    assert.equal(ps.state, 'stopped');
    assert.match(ps.error!, /did not write/);
    assert.equal(ps.recordsCopied, 0);
    assert.equal(ps.nextOffset, fromOffsets.get(p));
  }
  await eventually('partition 2 copied', async () => c.status().partitions[2]!.nextOffset === fromOffsets.get(2)! + 5, 10_000);
  assert.deepEqual(await endOffsets(source, TOPIC, 3), [fromOffsets.get(0)! + 1, fromOffsets.get(1)! + 1, fromOffsets.get(2)! + 5], 'nothing copied where Kafka took a write');
  await c.stop();
  await client.close();
});

test('transactions: committed records land on Kafka in order without markers or aborted records; the offset map translates group offsets', async () => {
  const TOPIC = 'rollback-txn';
  const N = 2;
  await createSourceTopic(TOPIC, N);
  await produceBatches(source, TOPIC, [0, 1].map((p) => ({ partition: p, records: buildBatch({ records: Array.from({ length: 5 }, (_, i) => ({ value: `before-${p}-${i}` })) }) })));
  const fromOffsets = await mirrorAndPromote('txn', TOPIC, N);
  const straitBootstrap = `127.0.0.1:${strait.port}`;
  const client = new KafkaClient({ bootstrap: kafka.bootstrap });
  const c = copier(TOPIC, fromOffsets, client, (g) => g === 'txn-readers');
  c.start();
  // Plain records first (same offsets), then committed and aborted transactions and a fenced
  // zombie, then plain records again (lower offsets on Kafka from here on).
  await produceBatches(local, TOPIC, [0, 1].map((p) => ({ partition: p, records: buildBatch({ records: Array.from({ length: 4 }, (_, i) => ({ value: `plain-a-${p}-${i}` })) }) })));
  const [summary] = (await txnClient('script', { bootstrap: straitBootstrap, topic: TOPIC, partitions: N, group: 'txn-group', 'txn-id': 'rollback-txn', rounds: 4 })).slice(-1);
  assert.equal(summary.zombieFenced, true);
  await produceBatches(local, TOPIC, [0, 1].map((p) => ({ partition: p, records: buildBatch({ records: Array.from({ length: 4 }, (_, i) => ({ value: `plain-b-${p}-${i}` })) }) })));
  await c.caughtUp(60_000);

  const [onStrait, onKafka, onKafkaUncommitted] = await Promise.all([
    readTopic(straitBootstrap, TOPIC, N),
    readTopic(kafka.bootstrap, TOPIC, N),
    readTopic(kafka.bootstrap, TOPIC, N, 'read_uncommitted'),
  ]);
  assert.deepEqual(onKafkaUncommitted.records, onKafka.records, 'Kafka holds no aborted records');
  const key = (r: { p: number; k: string; v: string }) => `${r.p}/${r.k}/${r.v}`;
  assert.deepEqual(onKafka.records.map(key), onStrait.records.map(key), 'the same committed records in the same order');
  for (let i = 0; i < onStrait.records.length; i++) {
    const s = onStrait.records[i]!;
    assert.equal(c.kafkaOffset(s.p, s.o), onKafka.records[i]!.o, `the offset map places ${key(s)} (Strait ${s.o})`);
  }
  assert.ok(onStrait.records.some((r) => r.v.startsWith('plain-a') && r.o === onKafka.records.find((x) => x.v === r.v)!.o), 'plain records before the first transaction keep their offsets');

  const st = c.status();
  assert.equal(st.offsetsIdentical, false);
  for (const p of st.partitions) {
    assert.equal(p.error, null);
    assert.ok(p.batchesCopied['committed-transaction'] > 0);
    assert.ok(p.offsetsSkipped > 0, 'markers and aborted records skipped');
    assert.ok(p.offsetMap.length > 0 && p.offsetMap.every((m) => m.kafkaOffset < m.straitOffset));
    assert.ok(p.notes.some((n) => /transactional records/.test(n)));
    assert.equal(p.kafkaNextOffset, onKafka.end[String(p.partition)]);
  }

  // A group that read p0 up to the first "fresh" record and p1 to the end continues there on Kafka.
  const fresh = onStrait.records.find((r) => r.p === 0 && r.v === 'fresh-p0')!;
  const straitEnd = await endOffsets(local, TOPIC, N);
  await commitOffsets(local, 'txn-readers', TOPIC, [[0, fresh.o], [1, straitEnd[1]!]]);
  const expected = [onKafka.records.find((r) => r.p === 0 && r.v === 'fresh-p0')!.o, onKafka.end['1']!];
  await eventually('translated group offsets on Kafka', async () => JSON.stringify((await groupOffsets(kafka.bootstrap, 'txn-readers', TOPIC, N)).committed) === JSON.stringify(expected), 20_000, () => JSON.stringify(c.status().groups));
  console.log(`# ${onKafka.records.length} committed records copied; offset map ${JSON.stringify(st.partitions.map((p) => p.offsetMap.length))} runs; group offsets ${JSON.stringify([fresh.o, straitEnd[1]])} on Strait → ${JSON.stringify(expected)} on Kafka`);
  await c.stop();
  await client.close();
});
