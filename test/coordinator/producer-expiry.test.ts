// Producer state expiry (issue #11, defect 4): idempotent producers idle longer than
// producer.id.expiration.ms (Kafka's name and default, 1 day) are dropped from every partition's
// producer state by a periodic job (producer.id.expiration.check.interval.ms), so the maps stay
// bounded; a producer with a transaction open stays until the coordinator ends it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { buildBatch } from '../../src/protocol/records/index.ts';
import { loadBrokerConfig } from '../../src/config/broker-config.ts';

const E = ErrorCode;

async function producers(c: RawClient, partitions: number[]): Promise<number[][]> {
  const r = await c.request(ApiKey.DescribeProducers, 0, { topics: [{ name: 't', partitionIndexes: partitions }] });
  return r.topics[0].partitions.map((p: any) => {
    assert.equal(p.errorCode, E.NONE);
    return p.activeProducers.map((a: any) => Number(a.producerId)).sort((a: number, b: number) => a - b);
  });
}

async function initProducer(c: RawClient, transactionalId: string | null) {
  const r = await c.request(ApiKey.InitProducerId, 4, { transactionalId, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
  assert.equal(r.errorCode, E.NONE);
  return { producerId: Number(r.producerId), epoch: r.producerEpoch as number };
}

async function produce(c: RawClient, transactionalId: string | null, partition: number, p: { producerId: number; epoch: number }, seq: number) {
  const records = buildBatch({ producerId: p.producerId, producerEpoch: p.epoch, baseSequence: seq, isTransactional: transactionalId !== null, records: [{ value: `v${seq}` }] });
  const r = await c.request(ApiKey.Produce, 9, { acks: -1, timeoutMs: 5000, transactionalId, topicData: [{ name: 't', partitionData: [{ index: partition, records }] }] });
  return r.responses[0].partitionResponses[0].errorCode as number;
}

test('producer.id.expiration.ms has Kafka\'s default of one day, checked every ten minutes', () => {
  const cfg = loadBrokerConfig({ flags: { 'data.dir': '/tmp/unused' } });
  assert.equal(cfg.values['producer.id.expiration.ms'], '86400000');
  assert.equal(cfg.values['producer.id.expiration.check.interval.ms'], '600000');
});

test('idle idempotent producers are expired from every partition; one with an open transaction stays', async () => {
  const b = await startTestBroker({ 'upload.interval.ms': '100000', 'producer.id.expiration.ms': '400', 'producer.id.expiration.check.interval.ms': '100000' });
  const c = await RawClient.connect(b.port);
  try {
    const created = await c.request(ApiKey.CreateTopics, 7, { topics: [{ name: 't', numPartitions: 2, replicationFactor: 1 }], timeoutMs: 1000 });
    assert.equal(created.topics[0].errorCode, E.NONE);
    const idle = await initProducer(c, null);
    const busy = await initProducer(c, null);
    const txn = await initProducer(c, 'tx-open');
    assert.equal(await produce(c, null, 0, idle, 0), E.NONE);
    assert.equal(await produce(c, null, 1, idle, 0), E.NONE);
    const added = await c.request(ApiKey.AddPartitionsToTxn, 3, { v3AndBelowTransactionalId: 'tx-open', v3AndBelowProducerId: BigInt(txn.producerId), v3AndBelowProducerEpoch: txn.epoch, v3AndBelowTopics: [{ name: 't', partitions: [1] }] });
    assert.equal(added.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, E.NONE);
    assert.equal(await produce(c, 'tx-open', 1, txn, 0), E.NONE);
    await b.broker.jobs!.runNow('producer-id-expiration');
    assert.deepEqual(await producers(c, [0, 1]), [[idle.producerId], [idle.producerId, txn.producerId].sort((x, y) => x - y)], 'nobody is idle long enough yet');

    await new Promise((r) => setTimeout(r, 250));
    assert.equal(await produce(c, null, 0, busy, 0), E.NONE);
    await new Promise((r) => setTimeout(r, 250));
    await b.broker.jobs!.runNow('producer-id-expiration');
    assert.deepEqual(await producers(c, [0, 1]), [[busy.producerId], [txn.producerId]], 'the idle producer is gone from both partitions; the busy one and the open transaction stay');

    // The transaction ends; its producer then expires too once idle, and the LSO is free.
    const ended = await c.request(ApiKey.EndTxn, 3, { transactionalId: 'tx-open', producerId: BigInt(txn.producerId), producerEpoch: txn.epoch, committed: true });
    assert.equal(ended.errorCode, E.NONE);
    await new Promise((r) => setTimeout(r, 500));
    await b.broker.jobs!.runNow('producer-id-expiration');
    assert.deepEqual(await producers(c, [0, 1]), [[], []]);
  } finally {
    c.close();
    await b.stop();
  }
});

test('both expirations run on their own schedule: an idle transactional id and an idle producer are gone without anyone asking', async () => {
  const b = await startTestBroker({
    'upload.interval.ms': '100000',
    'producer.id.expiration.ms': '300',
    'producer.id.expiration.check.interval.ms': '100',
    'transactional.id.expiration.ms': '300',
    'transaction.remove.expired.transaction.cleanup.interval.ms': '100',
  });
  const c = await RawClient.connect(b.port);
  try {
    const created = await c.request(ApiKey.CreateTopics, 7, { topics: [{ name: 't', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 });
    assert.equal(created.topics[0].errorCode, E.NONE);
    const idle = await initProducer(c, null);
    await initProducer(c, 'tx-idle');
    assert.equal(await produce(c, null, 0, idle, 0), E.NONE);
    assert.deepEqual(await producers(c, [0]), [[idle.producerId]]);
    const describe = async () => (await c.request(ApiKey.DescribeTransactions, 0, { transactionalIds: ['tx-idle'] })).transactionStates[0].errorCode as number;
    assert.equal(await describe(), E.NONE);
    const deadline = Date.now() + 5000;
    let seen: [number[][], number] = [[], -1];
    while (Date.now() < deadline) {
      seen = [await producers(c, [0]), await describe()];
      if (seen[0][0]!.length === 0 && seen[1] === E.TRANSACTIONAL_ID_NOT_FOUND) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(seen, [[[]], E.TRANSACTIONAL_ID_NOT_FOUND]);
  } finally {
    c.close();
    await b.stop();
  }
});
