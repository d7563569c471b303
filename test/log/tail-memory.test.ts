// The in-memory tail keeps no more than its bound once data is uploaded: evicted entries are let go
// (their batches are often views of a whole fetch or request buffer, which a forgotten reference
// would keep alive), also after a truncation cut an entry in two.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startTestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { buildBatch } from '../../src/protocol/records/index.ts';
import type { PartitionLog } from '../../src/log/partition-log.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const SETTINGS = { 'upload.interval.ms': '100000', 'tail.cache.bytes.max': '0' };
const batch = (base: number, epoch: number, n = 10) =>
  buildBatch({ baseOffset: base, partitionLeaderEpoch: epoch, records: Array.from({ length: n }, (_, i) => ({ value: `e${epoch}-${base + i}` })) });

async function mirrorTopic(port: number, name: string): Promise<string> {
  const c = await RawClient.connect(port);
  try {
    await c.request(ApiKey.CreateTopics, 7, { topics: [{ name, numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 });
    return (await c.request(ApiKey.Metadata, 12, { topics: [{ name }] })).topics[0].topicId;
  } finally {
    c.close();
  }
}

/** Appends n batches, each a view of its own 4 MiB buffer, as a mirror appends slices of a fetch
 *  response; returns weak references to those buffers. (A function of its own, so no local variable
 *  of the caller keeps the last buffer alive.) */
async function appendViews(log: PartitionLog, n: number): Promise<WeakRef<ArrayBuffer>[]> {
  const frames: WeakRef<ArrayBuffer>[] = [];
  for (let i = 0; i < n; i++) {
    const frame = Buffer.alloc(4 << 20);
    const bytes = batch(i * 10, 1);
    bytes.copy(frame, 1000);
    frames.push(new WeakRef(frame.buffer));
    assert.equal((await log.appendAtOffsets(frame.subarray(1000, 1000 + bytes.length), Date.now())).errorCode, 0);
  }
  return frames;
}

test('evicted tail entries are let go: the large buffers their batches were views of can be collected', async () => {
  const b = await startTestBroker(SETTINGS);
  try {
    const log = b.broker.logs!.get(await mirrorTopic(b.port, 'views'), 0)!;
    const frames = await appendViews(log, 20);
    await b.broker.uploader!.flush();
    assert.equal(b.broker.logs!.tailBytes, 0, 'uploaded, so evicted (tail.cache.bytes.max=0)');
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
    const alive = frames.filter((f) => f.deref() !== undefined).length;
    assert.equal(alive, 0, `${alive} of ${frames.length} 4 MiB buffers are still held after their entries were evicted`);
    assert.equal(log.highWatermark, 200);
  } finally {
    await b.stop();
  }
});

test('after a truncation inside an entry, the tail still keeps to its bound and its count', async () => {
  // Room for about four batches: the entry cut by the truncation is still in memory when it is cut.
  const bound = batch(100, 1).length * 4;
  const b = await startTestBroker({ ...SETTINGS, 'tail.cache.bytes.max': String(bound) });
  try {
    const logs = b.broker.logs!;
    const log = logs.get(await mirrorTopic(b.port, 'cut'), 0)!;
    const held = () => log.tail.reduce((n, e) => n + e.data.length, 0);
    // One entry of three batches (0..29), cut inside the second: its first batch stays, as part of it.
    assert.equal((await log.appendAtOffsets(Buffer.concat([batch(0, 1), batch(10, 1), batch(20, 1)]), Date.now())).errorCode, 0);
    assert.equal(await logs.truncateTo(log, 15), 10);
    assert.equal(log.tail.length, 1, 'the cut entry is still in memory');
    for (let base = 10; base < 500; base += 10) {
      assert.equal((await log.appendAtOffsets(batch(base, 2), Date.now())).errorCode, 0);
      if (base % 50 === 0) await b.broker.uploader!.flush();
    }
    await b.broker.uploader!.flush();
    assert.ok(held() <= bound, `the tail holds ${held()} bytes in ${log.tail.length} entries, above its bound`);
    assert.equal(logs.tailBytes, held(), 'what the tail counts is what it holds');
    const r = await log.read(0, 1 << 20, true);
    const text = Buffer.concat(r.batches).toString('latin1');
    assert.match(text, /e1-0/);
    assert.match(text, /e2-10/);
    assert.doesNotMatch(text, /e1-10/, 'the cut batches are gone');
    assert.equal(log.highWatermark, 500);
  } finally {
    await b.stop();
  }
});
