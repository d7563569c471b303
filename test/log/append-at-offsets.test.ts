// Appending batches that keep their source offsets (mirroring): byte for byte, gaps kept, offsets
// never going back, corrupt batches refused, and reads across the gaps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { buildBatch, readBatches } from '../../src/protocol/records/index.ts';

test('batches keep their offsets and bytes, gaps included; going back or corrupt bytes are refused', async () => {
  const b = await startTestBroker({ 'upload.interval.ms': '100000', 'tail.cache.bytes.max': '0' });
  const c = await RawClient.connect(b.port);
  try {
  await c.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'mirror', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 });
  const topicId = (await c.request(ApiKey.Metadata, 12, { topics: [{ name: 'mirror' }] })).topics[0].topicId;
  const log = b.broker.logs!.get(topicId, 0)!;
  const a = buildBatch({ baseOffset: 10, partitionLeaderEpoch: 7, records: [{ value: 'a' }, { value: 'b' }] });
  const gap = buildBatch({ baseOffset: 20, partitionLeaderEpoch: 7, compression: 'zstd', records: [{ value: 'c' }] });
  const appended = Buffer.concat([a, gap]);
  const copy = Buffer.from(appended);
  assert.equal((await log.appendAtOffsets(appended, Date.now())).errorCode, 0);
  assert.equal(log.highWatermark, 21);
  assert.equal((await log.appendAtOffsets(buildBatch({ baseOffset: 15, records: [{ value: 'x' }] }), Date.now())).errorCode, ErrorCode.CORRUPT_MESSAGE, 'below the log end');
  const bad = buildBatch({ baseOffset: 30, records: [{ value: 'y' }] });
  bad[bad.length - 1]! ^= 1;
  assert.equal((await log.appendAtOffsets(bad, Date.now())).errorCode, ErrorCode.CORRUPT_MESSAGE);
  await b.broker.uploader!.flush();
  for (const offset of [0n, 12n, 20n]) {
    const r = await c.request(ApiKey.Fetch, 12, {
      maxWaitMs: 0,
      sessionEpoch: -1,
      topics: [{ topic: 'mirror', partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 }] }],
    });
    const p = r.responses[0].partitions[0];
    assert.equal(p.errorCode, 0, `fetch at ${offset}`);
    const got = [...readBatches(Buffer.from(p.records))].flatMap((d) => d.records.map((x) => [x.offset, x.value!.toString()]));
    assert.deepEqual(got, offset === 0n ? [[10, 'a'], [11, 'b'], [20, 'c']] : [[20, 'c']], 'a fetch in or before a gap starts at the next batch holding later offsets');
    if (offset === 0n) assert.ok(Buffer.from(p.records).equals(copy), 'stored byte for byte (leader epoch 7 kept)');
  }
  } finally {
    c.close();
    await b.stop();
  }
});
