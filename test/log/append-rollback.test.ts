// Issue #11, defect 1: an append refused because object storage is behind (the upload backlog at
// upload.pending.bytes.max) must change nothing of the appends already on their way to the WAL.
// The refusal used to come from the WAL wrapper after offsets were assigned, and its rollback moved
// the log end and the producer state back under an append still in flight: a retry of that append
// was then taken twice, and the next append was given its offsets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { buildBatch, readBatches } from '../../src/protocol/records/index.ts';
import { createLogger } from '../../src/common/logger.ts';

const idem = (producerId: number, baseSequence: number, value: string) => buildBatch({ producerId, producerEpoch: 0, baseSequence, records: [{ value }] });
const plain = (value: string) => buildBatch({ records: [{ value }] });

async function produce(c: RawClient, records: Buffer) {
  const r = await c.request(ApiKey.Produce, 9, { acks: -1, timeoutMs: 5000, topicData: [{ name: 'rb', partitionData: [{ index: 0, records }] }] });
  const p = r.responses[0].partitionResponses[0];
  return { errorCode: p.errorCode as number, baseOffset: Number(p.baseOffset) };
}

test('a backlog refusal leaves appends in flight alone: a retry of one is a duplicate, and no offset is given twice', async () => {
  // A long WAL linger keeps the first append in flight while the others arrive.
  const b = await startTestBroker({ 'upload.interval.ms': '100000', 'wal.flush.linger.ms': '400' }, process.env.DBG ? createLogger('debug') : undefined);
  const clients: RawClient[] = [];
  try {
    const connect = async () => {
      const c = await RawClient.connect(b.port);
      clients.push(c);
      return c;
    };
    const admin = await connect();
    await admin.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'rb', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 });
    const init = await admin.request(ApiKey.InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 60000, producerId: -1n, producerEpoch: -1 });
    const pid = Number(init.producerId);
    const uploader = b.broker.uploader!;
    // Object storage "behind" on demand: the real uploader's backlog figure, read by the broker's check.
    let behind = false;
    let pending = uploader.pendingBytes;
    Object.defineProperty(uploader, 'pendingBytes', { configurable: true, get: () => (behind ? Number.MAX_SAFE_INTEGER : pending), set: (v: number) => (pending = v) });

    const first = produce(await connect(), idem(pid, 0, 'first'));
    await new Promise((r) => setTimeout(r, 100)); // the first append now waits in the WAL's linger
    const log = b.broker.logs!.all().next().value!;
    assert.equal(log.highWatermark, 0, 'the first append is still in flight');
    behind = true;
    const refused = await produce(await connect(), idem(pid, 1, 'refused'));
    assert.equal(refused.errorCode, ErrorCode.KAFKA_STORAGE_ERROR, 'refused while object storage is behind');
    behind = false;
    // The producer did not hear back yet and retries its first batch; another client writes too.
    const [retry, other] = await Promise.all([produce(await connect(), idem(pid, 0, 'first')), produce(await connect(), plain('other'))]);
    const original = await first;
    assert.deepEqual(original, { errorCode: 0, baseOffset: 0 });
    assert.deepEqual(retry, { errorCode: 0, baseOffset: 0 }, 'the retry is answered with the original offset, not written again');
    assert.equal(other.errorCode, 0);
    assert.equal(other.baseOffset, 1, 'the next append follows the one in flight');
    const r = await log.read(0, 1 << 20, true);
    const values = r.batches.flatMap((buf: Buffer) => [...readBatches(buf)].flatMap((d) => d.records.map((rec) => `${rec.offset}:${rec.value?.toString()}`)));
    assert.deepEqual(values, ['0:first', '1:other'], 'each acknowledged batch once, at its acknowledged offset');
    assert.deepEqual(await produce(await connect(), idem(pid, 1, 'second')), { errorCode: 0, baseOffset: 2 }, 'the refused batch is retried in sequence');
  } finally {
    for (const c of clients) c.close();
    await b.stop();
  }
});
