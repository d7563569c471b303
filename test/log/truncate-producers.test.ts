// Issue #11, defect 6: a mirror truncation deleted the partition's producer snapshot and nothing
// wrote it again, so after a restart with nothing new uploaded the aborted-transaction index and
// idempotence state were gone, and read_committed consumers were served aborted records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { buildBatch, buildEndTxnMarkerBatch } from '../../src/protocol/records/index.ts';

const PID = 7;
const txn = (base: number, seq: number) => buildBatch({ baseOffset: base, partitionLeaderEpoch: 1, producerId: PID, producerEpoch: 0, baseSequence: seq, isTransactional: true, records: [{ value: `txn-${base}` }] });
const abort = (base: number) => buildEndTxnMarkerBatch({ baseOffset: base, partitionLeaderEpoch: 1, commit: false, coordinatorEpoch: 0, producerId: PID, producerEpoch: 0, timestamp: Date.now() });
const plain = (base: number, n = 5) => buildBatch({ baseOffset: base, partitionLeaderEpoch: 1, records: Array.from({ length: n }, (_, i) => ({ value: `p-${base + i}` })) });

async function readCommitted(port: number) {
  const c = await RawClient.connect(port);
  try {
    const r = await c.request(ApiKey.Fetch, 12, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 1,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic: 'tp', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [],
      rackId: '',
    });
    const p = r.responses[0].partitions[0];
    assert.equal(p.errorCode, ErrorCode.NONE);
    return { lastStableOffset: Number(p.lastStableOffset), aborted: (p.abortedTransactions ?? []).map((a: { producerId: bigint; firstOffset: bigint }) => [Number(a.producerId), Number(a.firstOffset)]) };
  } finally {
    c.close();
  }
}

test('a truncation keeps the producer state of what it keeps: aborted transactions and sequences survive an idle restart', async () => {
  const settings = { 'upload.interval.ms': '100000' };
  const b = await startTestBroker(settings);
  let dataDir = b.dataDir;
  try {
    const c = await RawClient.connect(b.port);
    await c.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'tp', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 });
    const topicId = (await c.request(ApiKey.Metadata, 12, { topics: [{ name: 'tp' }] })).topics[0].topicId;
    c.close();
    const logs = b.broker.logs!;
    const log = logs.get(topicId, 0)!;
    // An aborted transaction at 0..1, then plain data to 21; a second transactional batch opens at 22.
    for (const batch of [txn(0, 0), abort(1), plain(2), plain(7), plain(12), plain(17)]) assert.equal((await log.appendAtOffsets(batch, Date.now())).errorCode, 0);
    await b.broker.uploader!.flush();
    for (const batch of [plain(22), plain(27)]) assert.equal((await log.appendAtOffsets(batch, Date.now())).errorCode, 0);
    await b.broker.uploader!.flush();
    assert.deepEqual((await readCommitted(b.port)).aborted, [[PID, 0]], 'before: the aborted transaction is known');
    // The source diverged at 24: the log is cut back to the batch boundary at 22.
    assert.equal(await logs.truncateTo(log, 24), 22);
    assert.deepEqual((await readCommitted(b.port)).aborted, [[PID, 0]], 'after the cut, before a restart');
    await b.stop({ keepData: true });

    // Restart with nothing uploaded since the cut: the state must come from metadata, not from luck.
    const again = await startTestBroker({ ...settings, 'data.dir': dataDir });
    try {
      const after = await readCommitted(again.port);
      assert.deepEqual(after.aborted, [[PID, 0]], 'read_committed still skips the aborted transaction after a restart');
      const log2 = again.broker.logs!.get(topicId, 0)!;
      assert.equal(log2.highWatermark, 22);
      const producer = log2.durableProducers.producers.get(PID);
      assert.ok(producer, 'the idempotent producer is still known after a restart');
      assert.equal(producer.batches.at(-1)?.lastSeq, 0, 'with its last sequence');
    } finally {
      await again.stop();
      dataDir = '';
    }
  } finally {
    if (dataDir) await b.stop().catch(() => undefined);
  }
});
