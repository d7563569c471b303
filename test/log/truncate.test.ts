// Cutting a mirror partition back after its source diverged: uploaded ranges are shortened at a
// batch boundary, the tail is cut, producer state is rebuilt, new batches follow at the cut, and a
// restart reads the same log. WAL truncation markers drop what came before them on replay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { buildBatch, batchBaseOffset } from '../../src/protocol/records/index.ts';
import { applyTruncationMarkers } from '../../src/log/log-manager.ts';
import type { ReplayedEntry } from '../../src/storage/wal/index.ts';

const batch = (base: number, epoch: number, n = 10) => buildBatch({ baseOffset: base, partitionLeaderEpoch: epoch, records: Array.from({ length: n }, (_, i) => ({ value: `e${epoch}-${base + i}` })) });

async function offsetsOf(log: any): Promise<number[]> {
  const out: number[] = [];
  let offset = log.logStartOffset;
  while (offset < log.highWatermark) {
    const r = await log.read(offset, 1 << 20, true);
    for (const b of r.batches) for (let pos = 0; pos < b.length; pos += b.readInt32BE(pos + 8) + 12) out.push(batchBaseOffset(b, pos));
    offset = out.length ? out[out.length - 1]! + 10 : log.highWatermark;
  }
  return out;
}

test('truncateTo cuts uploaded and in-memory data at a batch boundary; new data follows; a restart agrees', async () => {
  const b = await startTestBroker({ 'upload.interval.ms': '100000' });
  let dataDir = b.dataDir;
  try {
    const c = await RawClient.connect(b.port);
    await c.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'm', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 });
    const topicId = (await c.request(ApiKey.Metadata, 12, { topics: [{ name: 'm' }] })).topics[0].topicId;
    c.close();
    const logs = b.broker.logs!;
    const log = logs.get(topicId, 0)!;
    for (let base = 0; base < 100; base += 10) assert.equal((await log.appendAtOffsets(batch(base, 1), Date.now())).errorCode, 0);
    await b.broker.uploader!.flush();
    for (let base = 100; base < 150; base += 10) assert.equal((await log.appendAtOffsets(batch(base, 1), Date.now())).errorCode, 0);
    assert.equal(await logs.lastBatchEpoch(log), 1);
    // Inside the batch 60..69: the log ends at 60 (the cut is at a batch start).
    assert.equal(await logs.truncateTo(log, 65), 60);
    assert.equal(log.highWatermark, 60);
    assert.deepEqual(await offsetsOf(log), [0, 10, 20, 30, 40, 50]);
    for (let base = 60; base < 90; base += 10) assert.equal((await log.appendAtOffsets(batch(base, 2), Date.now())).errorCode, 0);
    assert.equal(await logs.lastBatchEpoch(log), 2);
    await b.broker.uploader!.flush();
    assert.deepEqual(await offsetsOf(log), [0, 10, 20, 30, 40, 50, 60, 70, 80]);
    const r = await log.read(60, 1 << 20, true);
    assert.match(r.batches[0]!.toString('latin1'), /e2-60/, 'the new batches, not the old ones');
    await b.stop({ keepData: true });
    const again = await startTestBroker({ 'upload.interval.ms': '100000', 'data.dir': dataDir });
    try {
      const log2 = again.broker.logs!.get(topicId, 0)!;
      assert.equal(log2.highWatermark, 90);
      assert.deepEqual(await offsetsOf(log2), [0, 10, 20, 30, 40, 50, 60, 70, 80]);
      assert.match((await log2.read(60, 1 << 20, true)).batches[0]!.toString('latin1'), /e2-60/);
    } finally {
      await again.stop();
      dataDir = '';
    }
  } finally {
    if (dataDir) await b.stop().catch(() => undefined);
  }
});

test('replay: a truncation marker cuts earlier entries of its partition only', () => {
  const entry = (partition: number, base: number, n: number): ReplayedEntry => {
    const data = Buffer.concat(Array.from({ length: n / 10 }, (_, i) => batch(base + i * 10, 1)));
    return { topicId: 't', partition, baseOffset: base, endOffset: base + n, data, position: { segment: 0, offset: 0 } };
  };
  const marker = (partition: number, at: number): ReplayedEntry => ({ topicId: 't', partition, baseOffset: at, endOffset: at, data: Buffer.alloc(0), position: { segment: 0, offset: 0 } });
  const out = applyTruncationMarkers([entry(0, 0, 30), entry(1, 0, 30), entry(0, 30, 30), marker(0, 40), entry(0, 40, 20)]);
  assert.deepEqual(
    out.map((e) => [e.partition, e.baseOffset, e.endOffset, e.data.length > 0]),
    [
      [0, 0, 30, true],
      [1, 0, 30, true],
      [0, 30, 40, true],
      [0, 40, 60, true],
    ],
  );
});
