// The data path end to end in one process, over the wire: produce → WAL → tail → upload → objects →
// fetch, restarts, retention, DeleteRecords, object compaction, fetch sessions and long polls.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startTestBroker } from '../helpers/broker.ts';
import type { TestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { buildBatch, readBatches } from '../../src/protocol/records/index.ts';

const SETTINGS = {
  'upload.interval.ms': '100000',
  'log.retention.check.interval.ms': '100000000',
  'object.compaction.interval.ms': '100000000',
  'object.delete.delay.ms': '0',
};

let b: TestBroker;
let c: RawClient;
before(async () => {
  b = await startTestBroker(SETTINGS);
  c = await RawClient.connect(b.port);
});
after(async () => {
  c.close();
  await b.stop();
});

async function createTopic(name: string, partitions = 1, configs: Record<string, string> = {}) {
  const r = await c.request(ApiKey.CreateTopics, 7, {
    topics: [{ name, numPartitions: partitions, replicationFactor: 1, configs: Object.entries(configs).map(([k, v]) => ({ name: k, value: v })) }],
    timeoutMs: 1000,
  });
  assert.equal(r.topics[0].errorCode, 0, r.topics[0].errorMessage);
}

function batch(values: string[], opts: { ts?: number; compression?: 'none' | 'gzip' | 'lz4' | 'zstd' | 'snappy'; key?: string } = {}) {
  const ts = opts.ts ?? Date.now();
  return buildBatch({ compression: opts.compression ?? 'none', records: values.map((v, i) => ({ key: opts.key ?? `k${i}`, value: v, timestamp: ts + i })) });
}

async function produce(topic: string, partition: number, records: Buffer, acks = -1, cl = c) {
  const r = await cl.request(ApiKey.Produce, 9, { acks, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] });
  return r.responses[0].partitionResponses[0];
}

async function fetchAll(topic: string, partition: number, offset: number, cl = c, maxBytes = 10_000_000) {
  const r = await cl.request(ApiKey.Fetch, 12, {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes,
    sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, fetchOffset: BigInt(offset), partitionMaxBytes: maxBytes, currentLeaderEpoch: -1 }] }],
  });
  return r.responses[0].partitions[0];
}

function values(records: Buffer): { offset: number; value: string }[] {
  return [...readBatches(records)].flatMap((d) => d.records.map((r) => ({ offset: r.offset, value: r.value!.toString() })));
}

test('produced batches get consecutive offsets and come back byte for byte with valid CRCs', async () => {
  await createTopic('pf-basic');
  const first = await produce('pf-basic', 0, batch(['a', 'b', 'c'], { compression: 'gzip' }));
  const second = await produce('pf-basic', 0, batch(['d', 'e'], { compression: 'zstd' }));
  assert.deepEqual([first.errorCode, Number(first.baseOffset), second.errorCode, Number(second.baseOffset)], [0, 0, 0, 3]);
  const f = await fetchAll('pf-basic', 0, 0);
  assert.equal(Number(f.highWatermark), 5);
  assert.deepEqual(values(f.records), ['a', 'b', 'c', 'd', 'e'].map((value, offset) => ({ offset, value })));
  const mid = await fetchAll('pf-basic', 0, 4);
  assert.deepEqual(values(mid.records).map((r) => r.offset), [3, 4], 'fetch from the middle returns the whole batch holding the offset');
});

test('data survives upload, eviction from memory and a restart, and reads the same from objects', async () => {
  const d = await startTestBroker({ ...SETTINGS, 'tail.cache.bytes.max': '0' });
  const cl = await RawClient.connect(d.port);
  const cr = await cl.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'pf-up', numPartitions: 2, replicationFactor: 1 }], timeoutMs: 1000 });
  assert.equal(cr.topics[0].errorCode, 0);
  for (let i = 0; i < 20; i++) await produce('pf-up', i % 2, batch([`v${i}-1`, `v${i}-2`], { compression: i % 3 === 0 ? 'lz4' : 'none' }), -1, cl);
  const beforeUpload = await fetchAll('pf-up', 0, 0, cl);
  await d.broker.uploader!.flush();
  const objects = readdirSync(join(d.dataDir, 'objects', 'data'));
  assert.ok(objects.length >= 1, 'at least one object was uploaded');
  const fromObjects = await fetchAll('pf-up', 0, 0, cl);
  assert.ok(Buffer.from(fromObjects.records).equals(Buffer.from(beforeUpload.records)), 'object reads return the same bytes');
  cl.close();
  await d.stop({ keepData: true });
  const e = await startTestBroker({ ...SETTINGS, 'data.dir': d.dataDir });
  const c2 = await RawClient.connect(e.port);
  const afterRestart = await fetchAll('pf-up', 0, 0, c2);
  assert.equal(Number(afterRestart.highWatermark), 20);
  assert.ok(Buffer.from(afterRestart.records).equals(Buffer.from(beforeUpload.records)));
  const next = await produce('pf-up', 0, batch(['after']), -1, c2);
  assert.equal(Number(next.baseOffset), 20, 'offsets continue after a restart');
  c2.close();
  await e.stop();
});

test('WAL replay restores acknowledged data that was never uploaded', async () => {
  const d = await startTestBroker(SETTINGS);
  const cl = await RawClient.connect(d.port);
  await cl.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'pf-wal', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 });
  for (let i = 0; i < 5; i++) await produce('pf-wal', 0, batch([`w${i}`]), -1, cl);
  assert.equal(readdirSync(join(d.dataDir, 'objects')).filter((n) => n !== '.tmp').flatMap((n) => readdirSync(join(d.dataDir, 'objects', n))).length, 0, 'nothing uploaded yet');
  cl.close();
  await d.stop({ keepData: true });
  const e = await startTestBroker({ ...SETTINGS, 'data.dir': d.dataDir });
  const c2 = await RawClient.connect(e.port);
  const f = await fetchAll('pf-wal', 0, 0, c2);
  assert.deepEqual(values(f.records).map((r) => r.value), ['w0', 'w1', 'w2', 'w3', 'w4']);
  c2.close();
  await e.stop();
});

test('bad produces get Kafka error codes and nothing is appended', async () => {
  await createTopic('pf-bad', 1, { 'max.message.bytes': '2000' });
  const corrupt = batch(['x']);
  corrupt[corrupt.length - 1]! ^= 0xff;
  assert.equal((await produce('pf-bad', 0, corrupt)).errorCode, ErrorCode.CORRUPT_MESSAGE);
  const control = buildBatch({ isControl: true, records: [{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }] });
  assert.equal((await produce('pf-bad', 0, control)).errorCode, ErrorCode.INVALID_RECORD);
  assert.equal((await produce('pf-bad', 0, batch(['y'.repeat(5000)]))).errorCode, ErrorCode.MESSAGE_TOO_LARGE);
  assert.equal((await produce('pf-bad', 0, batch(['z'], { ts: Date.now() + 2 * 3600_000 }))).errorCode, ErrorCode.INVALID_TIMESTAMP);
  assert.equal((await produce('pf-bad', 7, batch(['z']))).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.equal((await produce('pf-bad', 0, batch(['z']), 2)).errorCode, ErrorCode.INVALID_REQUIRED_ACKS);
  const truncated = batch(['t']).subarray(0, 40);
  assert.equal((await produce('pf-bad', 0, truncated)).errorCode, ErrorCode.CORRUPT_MESSAGE);
  const f = await fetchAll('pf-bad', 0, 0);
  assert.equal(Number(f.highWatermark), 0);
  const ok = await produce('pf-bad', 0, batch(['fine']));
  assert.deepEqual([ok.errorCode, Number(ok.baseOffset)], [0, 0]);
});

test('fetch errors: out of range offsets and unknown partitions', async () => {
  await createTopic('pf-range');
  await produce('pf-range', 0, batch(['a']));
  assert.equal((await fetchAll('pf-range', 0, 5)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  assert.equal((await fetchAll('pf-range', 3, 0)).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
});

test('ListOffsets: earliest, latest, by timestamp and max timestamp', async () => {
  await createTopic('pf-list');
  const t0 = Date.now() - 60_000;
  await produce('pf-list', 0, batch(['a', 'b', 'c'], { ts: t0 }));
  await produce('pf-list', 0, batch(['d', 'e'], { ts: t0 + 10 }));
  const ask = async (timestamp: bigint) =>
    (await c.request(ApiKey.ListOffsets, 9, { replicaId: -1, topics: [{ name: 'pf-list', partitions: [{ partitionIndex: 0, timestamp, currentLeaderEpoch: -1 }] }] })).topics[0]
      .partitions[0];
  assert.equal(Number((await ask(-2n)).offset), 0);
  assert.equal(Number((await ask(-1n)).offset), 5);
  const t = await ask(BigInt(t0 + 1));
  assert.deepEqual([Number(t.offset), Number(t.timestamp)], [1, t0 + 1]);
  const mid = await ask(BigInt(t0 + 5));
  assert.deepEqual([Number(mid.offset), Number(mid.timestamp)], [3, t0 + 10]);
  const max = await ask(-3n);
  assert.deepEqual([Number(max.offset), Number(max.timestamp)], [4, t0 + 11]);
  const none = await ask(BigInt(t0 + 1000));
  assert.equal(Number(none.offset), -1);
});

test('DeleteRecords moves the log start offset; reads below it are out of range', async () => {
  await createTopic('pf-del');
  for (let i = 0; i < 4; i++) await produce('pf-del', 0, batch([`r${i}`]));
  const r = await c.request(ApiKey.DeleteRecords, 2, { topics: [{ name: 'pf-del', partitions: [{ partitionIndex: 0, offset: 2n }] }], timeoutMs: 1000 });
  assert.deepEqual([r.topics[0].partitions[0].errorCode, Number(r.topics[0].partitions[0].lowWatermark)], [0, 2]);
  assert.equal((await fetchAll('pf-del', 0, 1)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  assert.deepEqual(values((await fetchAll('pf-del', 0, 2)).records).map((x) => x.value), ['r2', 'r3']);
  const tooFar = await c.request(ApiKey.DeleteRecords, 2, { topics: [{ name: 'pf-del', partitions: [{ partitionIndex: 0, offset: 99n }] }], timeoutMs: 1000 });
  assert.equal(tooFar.topics[0].partitions[0].errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
});

test('retention.bytes drops old ranges, moves the log start offset, and garbage collection deletes their objects', async () => {
  await createTopic('pf-ret', 1, { 'retention.bytes': '1' });
  for (let i = 0; i < 3; i++) {
    await produce('pf-ret', 0, batch([`old${i}`]));
    await b.broker.uploader!.flush();
  }
  await produce('pf-ret', 0, batch(['newest']));
  await b.broker.jobs!.runNow('retention');
  const f = await fetchAll('pf-ret', 0, 3);
  assert.equal(Number(f.logStartOffset), 3, 'every uploaded range went; the un-uploaded tail stays');
  assert.deepEqual(values(f.records).map((x) => x.value), ['newest']);
  const objectsBefore = readdirSync(join(b.dataDir, 'objects', 'data')).length;
  await b.broker.jobs!.runNow('object-gc');
  await b.broker.jobs!.runNow('object-gc');
  assert.ok(readdirSync(join(b.dataDir, 'objects', 'data')).length < objectsBefore, 'unreferenced objects were deleted');
});

test('object compaction merges small ranges and reads stay identical', async () => {
  await createTopic('pf-comp');
  for (let i = 0; i < 6; i++) {
    await produce('pf-comp', 0, batch([`c${i}a`, `c${i}b`]));
    await b.broker.uploader!.flush();
  }
  const topicId = (await c.request(ApiKey.Metadata, 12, { topics: [{ name: 'pf-comp' }] })).topics[0].topicId;
  const before = await fetchAll('pf-comp', 0, 0);
  const rangesBefore = await b.broker.reader!.ranges(topicId, 0);
  await b.broker.jobs!.runNow('object-compaction');
  const rangesAfter = await b.broker.reader!.ranges(topicId, 0);
  assert.equal(rangesBefore.length, 6);
  assert.equal(rangesAfter.length, 1);
  assert.deepEqual([rangesAfter[0]!.baseOffset, rangesAfter[0]!.endOffset], [0, 12]);
  const compacted = b.broker.logs!.get(topicId, 0)!;
  for (const e of [...compacted.tail]) assert.ok(compacted.dropUploadedHead(e), 'every tail entry is uploaded');
  const after = await fetchAll('pf-comp', 0, 0);
  assert.ok(Buffer.from(after.records).equals(Buffer.from(before.records)));
});

test('incremental fetch sessions send only partitions with news', async () => {
  await createTopic('pf-sess', 2);
  await produce('pf-sess', 0, batch(['s0']));
  const parts = [0, 1].map((p) => ({ partition: p, fetchOffset: 0n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 }));
  const full = await c.request(ApiKey.Fetch, 12, { maxWaitMs: 0, minBytes: 0, sessionId: 0, sessionEpoch: 0, topics: [{ topic: 'pf-sess', partitions: parts }] });
  assert.ok(full.sessionId > 0);
  assert.equal(full.responses[0].partitions.length, 2);
  const inc1 = await c.request(ApiKey.Fetch, 12, {
    maxWaitMs: 0,
    minBytes: 0,
    sessionId: full.sessionId,
    sessionEpoch: 1,
    topics: [{ topic: 'pf-sess', partitions: [{ partition: 0, fetchOffset: 1n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 }] }],
  });
  assert.equal(inc1.responses.length, 0, 'nothing new');
  await produce('pf-sess', 1, batch(['s1']));
  const inc2 = await c.request(ApiKey.Fetch, 12, { maxWaitMs: 0, minBytes: 0, sessionId: full.sessionId, sessionEpoch: 2, topics: [] });
  assert.deepEqual(inc2.responses[0].partitions.map((p: any) => p.partitionIndex), [1]);
  const stale = await c.request(ApiKey.Fetch, 12, { maxWaitMs: 0, minBytes: 0, sessionId: full.sessionId, sessionEpoch: 1, topics: [] });
  assert.equal(stale.errorCode, ErrorCode.INVALID_FETCH_SESSION_EPOCH);
  const unknown = await c.request(ApiKey.Fetch, 12, { maxWaitMs: 0, minBytes: 0, sessionId: 424242, sessionEpoch: 1, topics: [] });
  assert.equal(unknown.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
});

test('a long-polling fetch returns as soon as data arrives', async () => {
  await createTopic('pf-poll');
  const other = await RawClient.connect(b.port);
  const started = Date.now();
  const waiting = other.request(ApiKey.Fetch, 12, {
    maxWaitMs: 10_000,
    minBytes: 1,
    sessionEpoch: -1,
    topics: [{ topic: 'pf-poll', partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 }] }],
  });
  await new Promise((r) => setTimeout(r, 200));
  await produce('pf-poll', 0, batch(['wake']));
  const r = await waiting;
  assert.ok(Date.now() - started < 5000, 'did not wait for the whole max wait');
  assert.deepEqual(values(r.responses[0].partitions[0].records).map((x) => x.value), ['wake']);
  other.close();
});

test('CreatePartitions and IncrementalAlterConfigs change a live topic', async () => {
  await createTopic('pf-alter', 1);
  const cp = await c.request(ApiKey.CreatePartitions, 3, { topics: [{ name: 'pf-alter', count: 3, assignments: null }], timeoutMs: 1000, validateOnly: false });
  assert.equal(cp.results[0].errorCode, 0);
  assert.equal((await produce('pf-alter', 2, batch(['p2']))).errorCode, 0);
  const shrink = await c.request(ApiKey.CreatePartitions, 3, { topics: [{ name: 'pf-alter', count: 2, assignments: null }], timeoutMs: 1000, validateOnly: false });
  assert.equal(shrink.results[0].errorCode, ErrorCode.INVALID_PARTITIONS);
  const inc = await c.request(ApiKey.IncrementalAlterConfigs, 1, {
    resources: [{ resourceType: 2, resourceName: 'pf-alter', configs: [{ name: 'max.message.bytes', configOperation: 0, value: '100' }] }],
    validateOnly: false,
  });
  assert.equal(inc.responses[0].errorCode, 0);
  assert.equal((await produce('pf-alter', 0, batch(['x'.repeat(200)]))).errorCode, ErrorCode.MESSAGE_TOO_LARGE, 'the new limit applies at once');
  const bad = await c.request(ApiKey.IncrementalAlterConfigs, 1, {
    resources: [{ resourceType: 2, resourceName: 'pf-alter', configs: [{ name: 'retention.ms', configOperation: 0, value: 'never' }] }],
    validateOnly: false,
  });
  assert.equal(bad.responses[0].errorCode, ErrorCode.INVALID_CONFIG);
  const logDirs = await c.request(ApiKey.DescribeLogDirs, 4, { topics: [{ topic: 'pf-alter', partitions: [0, 1, 2] }] });
  const sizes = logDirs.results[0].topics[0].partitions.map((p: any) => Number(p.partitionSize));
  assert.equal(sizes.length, 3);
  assert.ok(sizes[2] > 0 && sizes[1] === 0, `sizes ${sizes}`);
});

test('a failed WAL write (disk full) fails those produces retriably; later ones continue at the next offset; a restart sees only acknowledged data', async () => {
  const d = await startTestBroker(SETTINGS);
  const cl = await RawClient.connect(d.port);
  await cl.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'pf-fault', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 });
  assert.equal(Number((await produce('pf-fault', 0, batch(['ok0']), -1, cl)).baseOffset), 0);
  let failures = 2;
  d.broker.walFaults = (step) => (step === 'write' && failures-- > 0 ? Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }) : null);
  const failed = await produce('pf-fault', 0, batch(['lost1']), -1, cl);
  assert.equal(failed.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  const failedAgain = await produce('pf-fault', 0, batch(['lost2']), -1, cl);
  assert.equal(failedAgain.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  const next = await produce('pf-fault', 0, batch(['ok1']), -1, cl);
  assert.deepEqual([next.errorCode, Number(next.baseOffset)], [0, 1], 'the failed writes used no offsets');
  d.broker.walFaults = (step) => (step === 'sync' ? new Error('EIO') : null);
  assert.equal((await produce('pf-fault', 0, batch(['lost3']), -1, cl)).errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  d.broker.walFaults = undefined;
  assert.equal(Number((await produce('pf-fault', 0, batch(['ok2']), -1, cl)).baseOffset), 2);
  cl.close();
  await d.stop({ keepData: true });
  const e = await startTestBroker({ ...SETTINGS, 'data.dir': d.dataDir });
  const c2 = await RawClient.connect(e.port);
  assert.deepEqual(values((await fetchAll('pf-fault', 0, 0, c2)).records), [
    { offset: 0, value: 'ok0' },
    { offset: 1, value: 'ok1' },
    { offset: 2, value: 'ok2' },
  ]);
  c2.close();
  await e.stop();
});

test('WAL segments roll under concurrent produce without failing any write', async () => {
  const d = await startTestBroker({ ...SETTINGS, 'wal.segment.bytes': String(1024 * 1024), 'wal.flush.bytes.max': String(128 * 1024) });
  const cl = await RawClient.connect(d.port);
  try {
    await cl.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'pf-roll', numPartitions: 4, replicationFactor: 1 }], timeoutMs: 1000 });
    // Several producers appending one after another keep writes arriving while segments roll.
    const value = 'v'.repeat(20_000);
    const clients = await Promise.all(Array.from({ length: 8 }, () => RawClient.connect(d.port)));
    const codes = await Promise.all(
      clients.map(async (k, i) => {
        const out: number[] = [];
        for (let n = 0; n < 60; n++) out.push((await produce('pf-roll', i % 4, batch([value]), -1, k)).errorCode);
        k.close();
        return out;
      }),
    );
    assert.equal(codes.flat().filter((code) => code !== 0).length, 0, 'every produce succeeded across segment rolls');
    const walFiles = readdirSync(join(d.dataDir, 'wal')).length;
    assert.ok(walFiles >= 5, `segments rolled (${walFiles} files)`);
  } finally {
    cl.close();
    await d.stop();
  }
});

test('GET /metrics shows the upload backlog, the in-memory tail and the block cache as data moves to objects', async () => {
  const d = await startTestBroker({ ...SETTINGS, 'tail.cache.bytes.max': '0' });
  const cl = await RawClient.connect(d.port);
  /** The unlabelled samples of GET /metrics, by name. */
  const scrape = async (): Promise<Map<string, number>> => {
    const text = await (await fetch(`${d.broker.http!.url}/metrics`)).text();
    return new Map(text.split('\n').filter((l) => /^[a-z_]+ /.test(l)).map((l) => [l.split(' ')[0]!, Number(l.split(' ')[1])]));
  };
  try {
    const cr = await cl.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'pf-metrics', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 });
    assert.equal(cr.topics[0].errorCode, 0);
    let produced = 0;
    for (let i = 0; i < 10; i++) {
      const b = batch([`m${i}`.repeat(100)]);
      produced += b.length;
      assert.equal((await produce('pf-metrics', 0, b, -1, cl)).errorCode, 0);
    }
    const before = await scrape();
    assert.equal(before.get('strait_upload_pending_bytes'), produced, 'every acknowledged byte waits for upload');
    assert.equal(before.get('strait_tail_cache_bytes'), produced, 'not yet uploaded, so held in the tail even with tail.cache.bytes.max=0');
    assert.equal(before.get('strait_uploaded_objects_total'), 0);
    await d.broker.uploader!.flush();
    const after = await scrape();
    assert.equal(after.get('strait_upload_pending_bytes'), 0);
    assert.equal(after.get('strait_tail_cache_bytes'), 0, 'uploaded, so evicted down to the bound');
    assert.equal(after.get('strait_uploaded_objects_total'), 1);
    assert.ok(after.get('strait_uploaded_bytes_total')! >= produced);
    assert.equal(after.get('strait_block_cache_bytes'), 0);
    assert.equal(values((await fetchAll('pf-metrics', 0, 0, cl)).records).length, 10);
    const read = await scrape();
    assert.ok(read.get('strait_block_cache_bytes')! > 0, 'an object read fills the block cache');
    assert.ok(read.get('strait_block_cache_misses_total')! > 0);
    const hits = read.get('strait_block_cache_hits_total')!;
    assert.equal(values((await fetchAll('pf-metrics', 0, 0, cl)).records).length, 10);
    assert.ok((await scrape()).get('strait_block_cache_hits_total')! > hits, 'the second read is served from the block cache');
    for (const name of ['process_resident_memory_bytes', 'nodejs_heap_used_bytes', 'nodejs_heap_total_bytes', 'nodejs_external_memory_bytes']) {
      assert.ok(read.get(name)! > 0, name);
    }
  } finally {
    cl.close();
    await d.stop();
  }
});
