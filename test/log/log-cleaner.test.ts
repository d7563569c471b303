// The log cleaner end to end in one process, over the wire: keyed batches are produced, uploaded,
// cleaned, fetched and compared with what Kafka's compaction keeps — the last record per key with
// its offset, tombstones until their delete horizon, transaction markers while they guard data,
// the last batch of each producer — across several passes, every codec, concurrent produces and a
// restart; and the produce-time rule that compacted topics refuse records without a key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startTestBroker } from '../helpers/broker.ts';
import type { TestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { ATTR_TRANSACTIONAL, batchAttributes, buildBatch, compressionOf, hasDeleteHorizon, readBatches } from '../../src/protocol/records/index.ts';
import type { Compression, DecodedBatch } from '../../src/protocol/records/index.ts';
import type { PartitionLog } from '../../src/log/partition-log.ts';
import { cleanPartition } from '../../src/log/log-cleaner.ts';
import type { CleanerReader, LogCleanerOptions } from '../../src/log/log-cleaner.ts';
import { compactObjects } from '../../src/storage/object-compactor.ts';
import { ObjectWriter } from '../../src/storage/object-writer.ts';
import { createObjectStore } from '../../src/storage/objects/index.ts';
import { SqliteMetadataStore } from '../../src/metadata/index.ts';
import { silentLogger } from '../../src/common/logger.ts';

const SETTINGS = {
  'upload.interval.ms': '100000',
  'log.retention.check.interval.ms': '100000000',
  'object.compaction.interval.ms': '100000000',
  'log.cleaner.backoff.ms': '100000000',
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
  await direct?.store.close();
  await direct?.writer.objects.close();
  await b.stop();
});

/** Cleaner options over the test broker's own storage, for running passes with other bounds. */
let direct: LogCleanerOptions | undefined;
async function cleanerOptions(overrides: Partial<LogCleanerOptions> = {}): Promise<LogCleanerOptions> {
  if (!direct) {
    const store = new SqliteMetadataStore(join(b.dataDir, 'metadata.sqlite'));
    await store.open();
    const objects = await createObjectStore({ engine: 'folder', path: join(b.dataDir, 'objects') });
    direct = { writer: new ObjectWriter({ objects, nodeId: 1, log: silentLogger }), store, reader: b.broker.reader!, objectBytesTarget: 1 << 30, log: silentLogger };
  }
  return { ...direct, ...overrides };
}

interface Rec {
  key: string | null;
  value: string | null;
  timestamp?: number;
}

/** A record as read back. */
interface Seen {
  offset: number;
  key: string | null;
  value: string | null;
}

async function createTopic(name: string, configs: Record<string, string> = {}) {
  const all = { 'cleanup.policy': 'compact', 'min.cleanable.dirty.ratio': '0.01', ...configs };
  const r = await c.request(ApiKey.CreateTopics, 7, {
    topics: [{ name, numPartitions: 1, replicationFactor: 1, configs: Object.entries(all).map(([k, v]) => ({ name: k, value: v })) }],
    timeoutMs: 1000,
  });
  assert.equal(r.topics[0].errorCode, 0, r.topics[0].errorMessage);
  topicIds.set(name, r.topics[0].topicId);
}

function batchOf(records: Rec[], opts: { compression?: Compression; producerId?: number; baseSequence?: number; transactional?: boolean } = {}): Buffer {
  const now = Date.now();
  return buildBatch({
    compression: opts.compression ?? 'none',
    ...(opts.producerId !== undefined ? { producerId: opts.producerId, producerEpoch: 0, baseSequence: opts.baseSequence ?? 0 } : {}),
    isTransactional: opts.transactional ?? false,
    records: records.map((r, i) => ({ key: r.key, value: r.value, timestamp: r.timestamp ?? now + i })),
  });
}

async function produceRaw(topic: string, records: Buffer) {
  // Transactional batches go straight into the log: Produce refuses them without a transactional id
  // (as Kafka does), and these tests are about what the cleaner makes of them, with no coordinator.
  if (batchAttributes(records, 0) & ATTR_TRANSACTIONAL) {
    const r = await logOf(topic).append(records, Date.now());
    return { ...r, baseOffset: BigInt(r.baseOffset) };
  }
  const r = await c.request(ApiKey.Produce, 9, { acks: -1, timeoutMs: 5000, transactionalId: null, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
  return r.responses[0].partitionResponses[0];
}

/** Produces records as one batch, appends them to `all` with their offsets, returns the base offset. */
async function produce(topic: string, all: Seen[], records: Rec[], opts: Parameters<typeof batchOf>[1] = {}): Promise<number> {
  const r = await produceRaw(topic, batchOf(records, opts));
  assert.equal(r.errorCode, 0, r.errorMessage);
  const base = Number(r.baseOffset);
  records.forEach((rec, i) => all.push({ offset: base + i, key: rec.key, value: rec.value }));
  return base;
}

async function fetchBatches(topic: string, offset = 0): Promise<{ batches: DecodedBatch[]; highWatermark: number; logStartOffset: number }> {
  const r = await c.request(ApiKey.Fetch, 12, {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 50_000_000,
    sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition: 0, fetchOffset: BigInt(offset), partitionMaxBytes: 50_000_000, currentLeaderEpoch: -1 }] }],
  });
  const p = r.responses[0].partitions[0];
  assert.equal(p.errorCode, 0);
  return { batches: [...readBatches(Buffer.from(p.records))], highWatermark: Number(p.highWatermark), logStartOffset: Number(p.logStartOffset) };
}

const str = (b: Buffer | null) => (b === null ? null : b.toString());

async function fetchRecords(topic: string, offset = 0): Promise<Seen[]> {
  const { batches } = await fetchBatches(topic, offset);
  return batches.filter((d) => !d.isControl).flatMap((d) => d.records.map((r) => ({ offset: r.offset, key: str(r.key), value: str(r.value) })));
}

/** What Kafka's compaction keeps once everything below `upper` is clean: the last record per key
 *  (tombstones too while `tombstones` says so); records from `upper` on all stay. */
function compacted(all: Seen[], upper: number, tombstones = true): Seen[] {
  const last = new Map<string | null, number>();
  for (const r of all) if (r.offset < upper) last.set(r.key, r.offset);
  return all.filter((r) => r.offset >= upper || (last.get(r.key) === r.offset && (r.value !== null || tombstones)));
}

const clean = () => b.broker.jobs!.runNow('log-cleaner');
const flush = () => b.broker.uploader!.flush();

const topicIds = new Map<string, string>();
function logOf(topic: string): PartitionLog {
  const log = b.broker.logs!.get(topicIds.get(topic)!, 0);
  assert.ok(log, `no partition log for ${topic}`);
  return log;
}
const rangesOf = async (topic: string) => b.broker.reader!.ranges(topicIds.get(topic)!, 0);

const summary = (d: DecodedBatch) => ({ baseOffset: d.header.baseOffset, lastOffsetDelta: d.header.lastOffsetDelta, offsets: d.records.map((r) => r.offset) });

test('keeps the last record per key at its offset; batches keep their base offset and last offset delta', async () => {
  await createTopic('lc-basic');
  const all: Seen[] = [];
  await produce('lc-basic', all, [{ key: 'k3', value: 'a3' }, { key: 'k1', value: 'a1' }, { key: 'k2', value: 'a2' }]);
  await produce('lc-basic', all, [{ key: 'k1', value: 'b1' }, { key: 'k2', value: 'b2' }]);
  await produce('lc-basic', all, [{ key: 'k4', value: 'c4' }, { key: 'k1', value: 'c1' }]);
  await flush();
  const untouched = (await fetchBatches('lc-basic')).batches[2]!;
  await produce('lc-basic', all, [{ key: 'k9', value: 'tail' }]); // not uploaded: the active segment
  await clean();

  const after = await fetchBatches('lc-basic');
  assert.deepEqual([after.highWatermark, after.logStartOffset], [8, 0]);
  assert.deepEqual(await fetchRecords('lc-basic'), compacted(all, 7));
  assert.deepEqual(
    (await fetchRecords('lc-basic')).map((r) => `${r.offset}:${r.key}=${r.value}`),
    ['0:k3=a3', '4:k2=b2', '5:k4=c4', '6:k1=c1', '7:k9=tail'],
  );
  assert.deepEqual(after.batches.map(summary), [
    { baseOffset: 0, lastOffsetDelta: 2, offsets: [0] },
    { baseOffset: 3, lastOffsetDelta: 1, offsets: [4] },
    { baseOffset: 5, lastOffsetDelta: 1, offsets: [5, 6] },
    { baseOffset: 7, lastOffsetDelta: 0, offsets: [7] },
  ]);
  assert.equal(after.batches[2]!.header.crc, untouched.header.crc, 'a batch that keeps every record stays byte for byte');
  assert.deepEqual((await fetchBatches('lc-basic', 1)).batches.map(summary)[0], { baseOffset: 0, lastOffsetDelta: 2, offsets: [0] }, 'a fetch inside a cleaned gap gets the batch that spans it');
  const ranges = await rangesOf('lc-basic');
  assert.deepEqual(ranges.map((r) => [r.baseOffset, r.endOffset, r.cleaned]), [[0, 7, true]]);

  // Nothing dirty left: another run changes nothing.
  await clean();
  assert.deepEqual((await rangesOf('lc-basic')).map((r) => r.objectId), ranges.map((r) => r.objectId));
});

test('a compacted topic refuses records without a key, as Kafka does; other topics take them', async () => {
  await createTopic('lc-nokey');
  const r = await produceRaw('lc-nokey', batchOf([{ key: 'a', value: '1' }, { key: null, value: '2' }, { key: null, value: '3' }]));
  assert.equal(r.errorCode, ErrorCode.INVALID_RECORD);
  assert.match(r.errorMessage, /^One or more records have been rejected due to 2 record errors in total/);
  assert.deepEqual(
    r.recordErrors.map((e: { batchIndex: number; batchIndexErrorMessage: string }) => [e.batchIndex, e.batchIndexErrorMessage]),
    [1, 2].map((i) => [i, 'Compacted topic cannot accept message without key in topic partition lc-nokey-0']),
  );
  assert.equal((await fetchBatches('lc-nokey')).highWatermark, 0, 'nothing was appended');
  await createTopic('lc-nokey-delete', { 'cleanup.policy': 'delete' });
  assert.equal((await produceRaw('lc-nokey-delete', batchOf([{ key: null, value: 'x' }]))).errorCode, 0);
});

test('tombstones stay, with a delete horizon, until delete.retention.ms after the first pass that saw them', async () => {
  const retentionMs = 1500;
  await createTopic('lc-tomb', { 'delete.retention.ms': String(retentionMs) });
  const all: Seen[] = [];
  await produce('lc-tomb', all, [{ key: 'k1', value: 'v1' }, { key: 'k2', value: 'v2' }]);
  await produce('lc-tomb', all, [{ key: 'k1', value: null }, { key: 'k3', value: 'v3' }]);
  await flush();
  const t0 = Date.now();
  await clean();
  const tombstoneBatch = () => fetchBatches('lc-tomb').then((f) => f.batches.find((d) => d.records.some((r) => r.value === null)));
  let withTombstone = await tombstoneBatch();
  assert.ok(withTombstone, 'the tombstone is kept');
  assert.ok(hasDeleteHorizon(withTombstone.header.attributes), 'its batch got a delete horizon');
  const horizon = withTombstone.deleteHorizonMs!;
  assert.ok(horizon >= t0 + retentionMs && horizon <= Date.now() + retentionMs, `horizon ${horizon} is delete.retention.ms after the pass`);
  assert.deepEqual(await fetchRecords('lc-tomb'), compacted(all, 4));

  // A second pass before the horizon keeps it, and the horizon does not move.
  await produce('lc-tomb', all, [{ key: 'k2', value: 'v2b' }]);
  await flush();
  await clean();
  withTombstone = await tombstoneBatch();
  assert.equal(withTombstone?.deleteHorizonMs, horizon);
  assert.deepEqual(await fetchRecords('lc-tomb'), compacted(all, 5));

  // Past the horizon, a pass with nothing dirty does not run (as in Kafka)...
  await new Promise((r) => setTimeout(r, Math.max(0, horizon - Date.now() + 50)));
  const ids = (await rangesOf('lc-tomb')).map((r) => r.objectId);
  await clean();
  assert.deepEqual((await rangesOf('lc-tomb')).map((r) => r.objectId), ids);
  // ...and the next pass removes the tombstone.
  await produce('lc-tomb', all, [{ key: 'k3', value: 'v3b' }]);
  await flush();
  await clean();
  assert.equal(await tombstoneBatch(), undefined);
  assert.deepEqual(await fetchRecords('lc-tomb'), compacted(all, 6, false));
});

test('several passes converge on the last value per key; replaced objects are garbage-collected', async () => {
  await createTopic('lc-passes');
  const all: Seen[] = [];
  let n = 0;
  for (let pass = 0; pass < 5; pass++) {
    for (let i = 0; i < 4; i++) {
      const records = Array.from({ length: 5 }, (_, j) => ({ key: `k${(n * 7 + j * 3) % 11}`, value: `p${pass}-${n}-${j}` }));
      await produce('lc-passes', all, records, { compression: i % 2 === 0 ? 'none' : 'lz4' });
      n++;
    }
    await flush();
    await clean();
    const hw = (await fetchBatches('lc-passes')).highWatermark;
    assert.deepEqual(await fetchRecords('lc-passes'), compacted(all, hw), `after pass ${pass}`);
    assert.ok((await rangesOf('lc-passes')).every((r) => r.cleaned));
  }
  assert.equal((await fetchRecords('lc-passes')).length, 11, 'one record per key');
  await b.broker.jobs!.runNow('object-gc');
  await b.broker.jobs!.runNow('object-gc');
  // Every kind of object the broker writes (uploads, compaction, cleaning), each in its folder.
  const kindsOnDisk = ['data', 'compacted', 'cleaned'].filter((kind) => existsSync(join(b.dataDir, 'objects', kind)));
  const onDisk = new Set(kindsOnDisk.flatMap((kind) => readdirSync(join(b.dataDir, 'objects', kind)).map((f) => `${kind}/${f}`)));
  for (const r of await rangesOf('lc-passes')) assert.ok(onDisk.has(r.objectKey), `${r.objectKey} is still there`);
  const referenced = new Set<string>();
  for (const id of topicIds.values()) for (const r of await b.broker.reader!.ranges(id, 0)) referenced.add(r.objectKey);
  assert.deepEqual([...onDisk].filter((k) => !referenced.has(k)), [], 'every replaced object was deleted');
});

test('compressed batches are rebuilt with their own codec', async () => {
  await createTopic('lc-codecs');
  const all: Seen[] = [];
  const codecs: Compression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
  for (const compression of codecs) {
    await produce('lc-codecs', all, ['a', 'b', 'c', 'd'].map((k) => ({ key: `${compression}-${k}`, value: `${compression}-${k}-0` })).concat([{ key: 'shared', value: compression }]), { compression });
  }
  for (const compression of codecs) await produce('lc-codecs', all, [{ key: `${compression}-b`, value: `${compression}-b-1` }], { compression });
  await flush();
  await produce('lc-codecs', all, [{ key: 'tail', value: 'tail' }]);
  await clean();
  const { batches } = await fetchBatches('lc-codecs');
  assert.deepEqual(await fetchRecords('lc-codecs'), compacted(all, all.length - 1));
  assert.deepEqual(batches.slice(0, 5).map((d) => [d.compression, d.records.length]), codecs.map((codec, i) => [codec, i === 4 ? 4 : 3]));
  for (const d of batches) assert.equal(d.compression, compressionOf(d.header.attributes));
});

test('idempotent producers keep their last batch (empty if need be); aborted transactions go, markers stay while needed', async () => {
  await createTopic('lc-producers', { 'delete.retention.ms': '0' });
  const log = logOf('lc-producers');
  const all: Seen[] = [];
  // Producer 500: an idempotent batch whose record is later replaced.
  await produce('lc-producers', all, [{ key: 'k1', value: 'idempotent' }], { producerId: 500, baseSequence: 0 });
  // Producer 600: an aborted transaction. Producer 700: two committed ones.
  await produceRaw('lc-producers', batchOf([{ key: 'k2', value: 'aborted' }], { producerId: 600, transactional: true }));
  await log.appendMarker(600, 0, 0, false, Date.now());
  await produceRaw('lc-producers', batchOf([{ key: 'k3', value: 'txn1' }], { producerId: 700, transactional: true }));
  await log.appendMarker(700, 0, 0, true, Date.now());
  await produceRaw('lc-producers', batchOf([{ key: 'k4', value: 'txn2' }], { producerId: 700, baseSequence: 1, transactional: true }));
  await log.appendMarker(700, 0, 0, true, Date.now());
  await produce('lc-producers', all, [{ key: 'k1', value: 'plain' }, { key: 'k3', value: 'plain' }]);
  await flush();
  await produce('lc-producers', all, [{ key: 'tail', value: 'tail' }]);
  await clean();
  const shape = (d: DecodedBatch) =>
    `${d.header.baseOffset}:${d.isControl ? 'marker' : d.isTransactional ? 'txn' : 'data'}:${d.header.producerId}:${d.isControl ? d.records.length : d.records.map((r) => str(r.value)).join(',')}`;
  assert.deepEqual((await fetchBatches('lc-producers')).batches.map(shape), [
    '0:data:500:', // replaced, but the producer's last batch: kept empty, with its sequence
    '1:txn:600:', // aborted: its records go; its producer's last batch stays empty
    '2:marker:600:1', // the ABORT marker guards the batch above
    // 3 (k3=txn1, replaced) is gone; its COMMIT marker stays this pass, since the pass read the batch
    '4:marker:700:1',
    '5:txn:700:txn2',
    '6:marker:700:1',
    '7:data:-1:plain,plain',
    '9:data:-1:tail',
  ]);
  const empty = (await fetchBatches('lc-producers')).batches[0]!;
  assert.deepEqual([empty.header.recordCount, empty.header.baseSequence, empty.header.lastOffsetDelta, empty.compression], [0, 0, 0, 'none']);
  // The first COMMIT marker no longer guards any data: the next pass gives it a delete horizon
  // (delete.retention.ms=0) and the one after drops it.
  const markers = async () => (await fetchBatches('lc-producers')).batches.filter((d) => d.isControl).map((d) => `${d.header.baseOffset}${d.deleteHorizonMs === null ? '' : '+horizon'}`);
  const expected = [
    ['2', '4+horizon', '6'],
    ['2', '6'],
  ];
  for (const [i, v] of ['x', 'y'].entries()) {
    await produce('lc-producers', all, [{ key: 'k9', value: v }]);
    await flush();
    await clean();
    assert.deepEqual(await markers(), expected[i]);
  }
});

test('an open transaction and min.compaction.lag.ms hold cleaning back; max.compaction.lag.ms forces it', async () => {
  await createTopic('lc-lso');
  const all: Seen[] = [];
  await produce('lc-lso', all, [{ key: 'a', value: '1' }]);
  await flush();
  await produceRaw('lc-lso', batchOf([{ key: 'a', value: 'open' }], { producerId: 800, transactional: true }));
  await produce('lc-lso', all, [{ key: 'a', value: '3' }]);
  await flush();
  await clean();
  assert.deepEqual((await rangesOf('lc-lso')).map((r) => [r.baseOffset, r.cleaned]), [[0, true], [1, false]], 'the range holding the open transaction stays dirty');
  await logOf('lc-lso').appendMarker(800, 0, 0, true, Date.now());
  await flush();
  await clean();
  assert.deepEqual((await fetchRecords('lc-lso')).map((r) => r.value), ['3'], 'after the commit, the rest is cleaned');

  const hour = 3600_000;
  await createTopic('lc-lag', { 'min.compaction.lag.ms': String(hour) });
  const lag: Seen[] = [];
  await produce('lc-lag', lag, [{ key: 'a', value: 'old', timestamp: Date.now() - 2 * hour }, { key: 'a', value: 'old2', timestamp: Date.now() - 2 * hour }]);
  await flush();
  await produce('lc-lag', lag, [{ key: 'a', value: 'new' }]);
  await flush();
  await clean();
  assert.deepEqual((await rangesOf('lc-lag')).map((r) => r.cleaned), [true, false]);
  assert.deepEqual((await fetchRecords('lc-lag')).map((r) => r.value), ['old2', 'new'], 'records newer than the lag stay dirty and are not used to clean');

  await createTopic('lc-maxlag', { 'min.cleanable.dirty.ratio': '0.9', 'max.compaction.lag.ms': '60000' });
  const maxLag: Seen[] = [];
  await produce('lc-maxlag', maxLag, Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: 'x'.repeat(100) })));
  await flush();
  await clean();
  await produce('lc-maxlag', maxLag, [{ key: 'k0', value: 'recent' }]);
  await flush();
  await clean();
  assert.deepEqual((await rangesOf('lc-maxlag')).map((r) => r.cleaned), [true, false], 'below the dirty ratio, recent dirty data waits');
  await produce('lc-maxlag', maxLag, [{ key: 'k1', value: 'old', timestamp: Date.now() - 120_000 }]);
  await flush();
  await clean();
  assert.ok((await rangesOf('lc-maxlag')).every((r) => r.cleaned), 'a dirty range older than max.compaction.lag.ms is cleaned anyway');
  assert.deepEqual(await fetchRecords('lc-maxlag'), compacted(maxLag, maxLag.length));
});

test('records produced while a pass runs are all kept, and the next pass cleans them', async () => {
  await createTopic('lc-concurrent');
  const all: Seen[] = [];
  for (let i = 0; i < 200; i++) await produce('lc-concurrent', all, [{ key: `k${i % 17}`, value: `a${i}` }, { key: `k${(i * 5) % 17}`, value: `b${i}` }], { compression: i % 3 === 0 ? 'zstd' : 'none' });
  await flush();
  const pass = clean();
  for (let i = 0; i < 50; i++) {
    await produce('lc-concurrent', all, [{ key: `k${i % 23}`, value: `c${i}` }]);
    if (i % 10 === 9) await flush();
  }
  await pass;
  const hw = (await fetchBatches('lc-concurrent')).highWatermark;
  assert.equal(hw, all.length);
  const seen = await fetchRecords('lc-concurrent');
  const latest = compacted(all, hw);
  for (const r of latest) assert.deepEqual(seen.find((s) => s.offset === r.offset), r, `the last record of ${r.key} is there`);
  for (const r of all.slice(400)) assert.ok(seen.some((s) => s.offset === r.offset), `record ${r.offset} produced during the pass is there`);
  await flush();
  await clean();
  assert.deepEqual(await fetchRecords('lc-concurrent'), latest);
});

test('cleaned ranges survive a restart', async (t) => {
  const d = await startTestBroker(SETTINGS);
  const clients: RawClient[] = [];
  t.after(async () => {
    for (const x of clients) x.close();
    await d.stop();
  });
  const cl = await RawClient.connect(d.port);
  clients.push(cl);
  const r = await cl.request(ApiKey.CreateTopics, 7, {
    topics: [{ name: 'lc-restart', numPartitions: 1, replicationFactor: 1, configs: [{ name: 'cleanup.policy', value: 'compact' }] }],
    timeoutMs: 1000,
  });
  const id = r.topics[0].topicId;
  const send = (records: Buffer) => cl.request(ApiKey.Produce, 9, { acks: -1, timeoutMs: 5000, transactionalId: null, topicData: [{ name: 'lc-restart', partitionData: [{ index: 0, records }] }] });
  for (let i = 0; i < 10; i++) await send(batchOf([{ key: `k${i % 3}`, value: `v${i}` }]));
  await d.broker.uploader!.flush();
  await d.broker.jobs!.runNow('log-cleaner');
  const read = async (client: RawClient) => {
    const f = await client.request(ApiKey.Fetch, 12, { maxWaitMs: 0, sessionEpoch: -1, topics: [{ topic: 'lc-restart', partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 }] }] });
    return [...readBatches(Buffer.from(f.responses[0].partitions[0].records))].flatMap((x) => x.records.map((y) => `${y.offset}=${str(y.value)}`));
  };
  const before = await read(cl);
  assert.deepEqual(before, ['7=v7', '8=v8', '9=v9']);
  await d.broker.stop();
  await d.broker.start();
  const c2 = await RawClient.connect(d.broker.bound[0]!.port);
  clients.push(c2);
  assert.deepEqual(await read(c2), before);
  assert.deepEqual((await d.broker.reader!.ranges(id, 0)).map((x) => x.cleaned), [true]);
  const next = await c2.request(ApiKey.Produce, 9, { acks: -1, timeoutMs: 5000, transactionalId: null, topicData: [{ name: 'lc-restart', partitionData: [{ index: 0, records: batchOf([{ key: 'k0', value: 'next' }]) }] }] });
  assert.equal(Number(next.responses[0].partitionResponses[0].baseOffset), 10, 'offsets go on after the cleaned end');
});

test('a full key map cleans up to where it reached; the rest stays dirty for the next pass', async () => {
  await createTopic('lc-mapfull');
  const all: Seen[] = [];
  const keys = (from: number) => Array.from({ length: 5 }, (_, i) => ({ key: `k${from + i}`, value: `v${all.length + i}` }));
  for (const from of [0, 0, 5, 0, 5, 10, 0]) await produce('lc-mapfull', all, keys(from));
  await flush();
  const log = logOf('lc-mapfull');
  // Room for about 6 keys: batches 0-1 (k0-k4) fit, batch 2 (k5-k9) fills the map, batch 3 is left out.
  const r = await cleanPartition(log, await cleanerOptions({ offsetMapBytesMax: 6 * 66 }));
  assert.deepEqual([r?.firstDirtyOffset, r?.cleanedEndOffset, r?.aborted], [0, 15, false]);
  assert.deepEqual((await rangesOf('lc-mapfull')).map((x) => [x.baseOffset, x.endOffset, x.cleaned]), [[0, 15, true], [15, 35, false]]);
  assert.deepEqual(await fetchRecords('lc-mapfull'), [...compacted(all.slice(0, 15), 15), ...all.slice(15)], 'below 15 deduplicated, the rest untouched');
  // Later passes go on from there until everything is clean.
  for (let i = 0; i < 5 && !(await rangesOf('lc-mapfull')).every((x) => x.cleaned); i++) await cleanPartition(log, await cleanerOptions({ offsetMapBytesMax: 6 * 66 }));
  assert.ok((await rangesOf('lc-mapfull')).every((x) => x.cleaned));
  assert.deepEqual(await fetchRecords('lc-mapfull'), compacted(all, 35));
});

test('a pass writes a further object once one reaches objectBytesTarget', async () => {
  await createTopic('lc-groups');
  const all: Seen[] = [];
  for (let i = 0; i < 4; i++) {
    await produce('lc-groups', all, [{ key: 'same', value: `v${i}` }, { key: `k${i}`, value: 'x'.repeat(200) }]);
    await flush();
  }
  const r = await cleanPartition(logOf('lc-groups'), await cleanerOptions({ objectBytesTarget: 1 }));
  assert.equal(r?.objects, 4);
  const ranges = await rangesOf('lc-groups');
  assert.equal(new Set(ranges.map((x) => x.objectKey)).size, 4);
  assert.deepEqual(ranges.map((x) => [x.baseOffset, x.endOffset, x.cleaned]), [[0, 2, true], [2, 4, true], [4, 6, true], [6, 8, true]]);
  assert.deepEqual(await fetchRecords('lc-groups'), compacted(all, 8));
});

/** The broker's reader, with a hook that runs once before the pass reads its first range. */
function readerWithHook(hook: () => Promise<unknown>): CleanerReader {
  const inner = b.broker.reader!;
  let fired = false;
  return {
    ranges: (t, p) => inner.ranges(t, p),
    read: (t, p, o, m, one) => inner.read(t, p, o, m, one),
    invalidate: (t, p) => inner.invalidate(t, p),
    readRange: async (r) => {
      if (!fired) {
        fired = true;
        await hook();
      }
      return inner.readRange(r);
    },
  };
}

test('a pass that loses a race with retention or object compaction stops and loses nothing', async () => {
  const hour = 3600_000;
  await createTopic('lc-race', { 'min.compaction.lag.ms': String(hour), 'cleanup.policy': 'compact,delete' });
  const all: Seen[] = [];
  const old = Date.now() - 2 * hour;
  // A large range and a small one, both old enough to clean; a small recent one that is not.
  await produce('lc-race', all, Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: 'x'.repeat(500), timestamp: old })));
  await flush();
  await produce('lc-race', all, [{ key: 'k0', value: 'old-update', timestamp: old }]);
  await flush();
  await produce('lc-race', all, [{ key: 'k1', value: 'recent' }]);
  await flush();
  const log = logOf('lc-race');
  const opts = await cleanerOptions();
  // Object compaction merges the small old range with the recent one after the pass read the
  // ranges: the merged range has the old one's base offset but reaches further.
  const merge = () => compactObjects([{ topicId: log.topicId, partition: 0, logStartOffset: 0 }], { writer: opts.writer, store: opts.store, reader: b.broker.reader!, smallBytes: 2000, targetBytes: 1 << 20, log: silentLogger });
  let r = await cleanPartition(log, { ...opts, reader: readerWithHook(merge) });
  assert.equal(r?.aborted, true);
  assert.deepEqual((await rangesOf('lc-race')).map((x) => [x.baseOffset, x.endOffset]), [[0, 20], [20, 22]], 'the merge stands');
  assert.deepEqual(await fetchRecords('lc-race'), all, 'nothing was lost');

  // Retention moves the log start offset past the first range while a pass runs.
  await produce('lc-race', all, [{ key: 'k2', value: 'newer', timestamp: old }]);
  await flush();
  r = await cleanPartition(log, { ...opts, reader: readerWithHook(() => b.broker.logs!.advanceLogStartOffset(log, 20)) });
  assert.equal(r?.aborted, true);
  assert.equal(log.logStartOffset, 20);
  assert.deepEqual((await fetchRecords('lc-race', 20)).map((x) => x.offset), all.filter((x) => x.offset >= 20).map((x) => x.offset));
});
