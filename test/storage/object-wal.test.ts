// What only the object WAL does: group commit into one PUT, a bound on PUTs in flight, commits in
// order when PUTs finish out of order, waiting out a failing store, and fencing (a partition led
// elsewhere fails its entries with NOT_LEADER_OR_FOLLOWER while the rest of the flush commits).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObjectWal } from '../../src/storage/wal/index.ts';
import type { ObjectWalOptions, WalEntry } from '../../src/storage/wal/index.ts';
import { openFolderStore } from '../../src/storage/objects/index.ts';
import type { ObjectStore } from '../../src/storage/objects/index.ts';
import { SqliteMetadataStore, randomKafkaUuid } from '../../src/metadata/index.ts';
import type { MetadataStore } from '../../src/metadata/index.ts';
import { silentLogger } from '../../src/common/logger.ts';
import { ObjectWriter } from '../../src/storage/object-writer.ts';

const NOT_LEADER_OR_FOLLOWER = 6;

async function setup(t: { after(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'strait-owal-'));
  const objects = await openFolderStore(join(dir, 'objects'));
  const store = new SqliteMetadataStore(join(dir, 'metadata.sqlite'));
  await store.open();
  const topicId = randomKafkaUuid();
  await store.createTopic({ name: 't', topicId, partitionCount: 2, replicationFactor: 1, configs: {}, leaderId: 1 });
  t.after(async () => {
    await store.close();
    await objects.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const wal = ({ objects: via, ...o }: Partial<ObjectWalOptions> & { objects?: ObjectStore } = {}) =>
    new ObjectWal({ writer: new ObjectWriter({ objects: via ?? objects, nodeId: o.nodeId ?? 1, log: silentLogger }), store, nodeId: 1, incarnation: 0, flushMs: 20, flushBytes: 1 << 20, inflightMax: 4, log: silentLogger, retryBaseMs: 5, retryMaxMs: 20, ...o });
  const entry = (partition: number, base: number, text = `v${base}`): WalEntry => ({ topicId, partition, baseOffset: base, endOffset: base + 1, data: Buffer.from(text), leaderEpoch: 0 });
  return { objects, store, topicId, wal, entry };
}

/** An object store whose puts can be delayed or failed, counting the puts in flight. */
function controlled(objects: ObjectStore, o: { delayMs?: (n: number) => number; fail?: (n: number) => boolean }) {
  let n = 0;
  const c = { inflight: 0, maxInflight: 0, puts: 0 };
  const store: ObjectStore = Object.create(objects);
  store.put = async (key, body, opts) => {
    const i = n++;
    c.puts++;
    c.inflight++;
    c.maxInflight = Math.max(c.maxInflight, c.inflight);
    try {
      await new Promise((r) => setTimeout(r, o.delayMs?.(i) ?? 0));
      if (o.fail?.(i)) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      return await objects.put(key, body, opts);
    } finally {
      c.inflight--;
    }
  };
  return { store, c };
}

test('appends made within one flush interval share one PUT and one commit', async (t) => {
  const { wal, entry } = await setup(t);
  const w = wal({ flushMs: 30 });
  await w.open();
  await Promise.all(Array.from({ length: 50 }, (_, i) => w.append(entry(i % 2, Math.floor(i / 2)))));
  assert.equal(w.stats.puts, 1);
  assert.equal(w.stats.flushes, 1);
  assert.equal(w.stats.entries, 50);
  await w.close();
});

test('flush.bytes cuts a flush early, and no more than inflight.max PUTs run at once', async (t) => {
  const { objects, store, wal, entry } = await setup(t);
  const slow = controlled(objects, { delayMs: () => 40 });
  const w = wal({ objects: slow.store, store, flushMs: 1000, flushBytes: 4096, inflightMax: 2 });
  await w.open();
  const started = Date.now();
  await Promise.all(Array.from({ length: 12 }, (_, i) => w.append(entry(0, i, 'x'.repeat(4096)))));
  assert.ok(Date.now() - started < 1000, 'flushes were cut by bytes, not by the 1 s interval');
  assert.equal(slow.c.puts, 12);
  assert.equal(slow.c.maxInflight, 2);
  await w.close();
});

test('a flush whose PUT finishes first still completes after the flush before it', async (t) => {
  const { objects, store, wal, entry } = await setup(t);
  const skewed = controlled(objects, { delayMs: (n) => (n === 0 ? 150 : 0) });
  const w = wal({ objects: skewed.store, store, flushMs: 1, flushBytes: 1 << 20 });
  await w.open();
  const order: string[] = [];
  const a = w.append(entry(0, 0)).then(() => order.push('first'));
  await new Promise((r) => setTimeout(r, 20));
  const b = w.append(entry(1, 0)).then(() => order.push('second'));
  await Promise.all([a, b]);
  assert.deepEqual(order, ['first', 'second']);
  assert.deepEqual((await store.walObjects()).map((o) => o.ranges[0]!.partitionIndex), [0, 1], 'commits in flush order');
  await w.close();
});

test('failed PUTs and failed commits are retried while the appends wait; nothing is acknowledged before its commit', async (t) => {
  const { objects, store, wal, entry } = await setup(t);
  const flaky = controlled(objects, { fail: (n) => n < 2 });
  let commitFailures = 2;
  const md: MetadataStore = Object.create(store);
  md.commitWalObject = async (...args) => {
    if (commitFailures-- > 0) throw new Error('connection terminated unexpectedly');
    return store.commitWalObject(...args);
  };
  const w = wal({ objects: flaky.store, store: md });
  await w.open();
  let done = false;
  const p = w.append(entry(0, 0)).then(() => (done = true));
  await new Promise((r) => setTimeout(r, 25));
  assert.equal(done, false);
  assert.ok(w.pendingBytes > 0, 'the waiting append counts as pending (admission refuses new data past the bound)');
  await p;
  assert.equal(w.stats.putFailures, 2);
  assert.equal(w.stats.commitFailures, 2);
  assert.equal(w.pendingBytes, 0);
  assert.equal((await store.walObjects()).length, 1);
  await w.close();
});

test('a partition led elsewhere fails with NOT_LEADER_OR_FOLLOWER; the rest of the flush commits; later entries of it fail until the log moves back', async (t) => {
  const { store, topicId, wal, entry } = await setup(t);
  const fencedSeen: number[] = [];
  const w = wal({ flushMs: 30, onFenced: (ps) => fencedSeen.push(...ps.map((p) => p.partitionIndex)) });
  await w.open();
  await store.setLeaderEpoch(topicId, 0, 3);
  const p0 = w.append(entry(0, 0));
  const p0b = w.append(entry(0, 1));
  const p1 = w.append(entry(1, 0));
  await assert.rejects(p0, (err: Error & { kafkaError?: number }) => err.kafkaError === NOT_LEADER_OR_FOLLOWER);
  await assert.rejects(p0b, (err: Error & { kafkaError?: number }) => err.kafkaError === NOT_LEADER_OR_FOLLOWER);
  await p1;
  assert.deepEqual(fencedSeen, [0]);
  assert.deepEqual((await store.walObjects()).flatMap((o) => o.ranges.map((r) => r.partitionIndex)), [1], 'only partition 1 is committed');
  // An append beyond the failed offset was made before the log heard: it fails at once.
  await assert.rejects(w.append(entry(0, 2)), (err: Error & { kafkaError?: number }) => err.kafkaError === NOT_LEADER_OR_FOLLOWER);
  // At the new epoch (the log moved back to 0) it commits.
  await w.append({ ...entry(0, 0), leaderEpoch: 3 });
  assert.equal((await store.walObjects()).length, 2);
  await w.close();
});

test('after another broker claims the partitions, the old one acknowledges nothing and the new one replays what it committed before', async (t) => {
  const { store, topicId, wal, entry } = await setup(t);
  const a = wal();
  await a.open();
  await a.append(entry(0, 0, 'acked-by-a'));
  const claimed = await store.claimPartitions({ nodeId: 2, incarnation: 0 });
  assert.deepEqual(claimed.map((c) => c.leaderEpoch), [1, 1]);
  await assert.rejects(a.append(entry(0, 1, 'zombie')), (err: Error & { code?: string }) => err.code === 'STRAIT_FENCED');
  const b = wal({ nodeId: 2 });
  const replay = await b.open();
  assert.deepEqual(replay.map((e) => `${e.topicId === topicId}:${e.partition}@${e.baseOffset}:${e.data.toString()}`), ['true:0@0:acked-by-a']);
  await b.append({ ...entry(0, 1, 'by-b'), leaderEpoch: 1 });
  await a.close();
  await b.close();
});

test('a paused process of the same node id is fenced once a new process of that node id claims its partitions', async (t) => {
  const { store, wal, entry } = await setup(t);
  // Review finding: claims only took partitions of other node ids, so both processes of node 1
  // committed different records at offset 1 and both were acknowledged.
  await store.claimPartitions({ nodeId: 1, incarnation: 11 });
  const old = wal({ incarnation: 11 });
  await old.open();
  await old.append(entry(0, 0, 'a0'));
  const claimed = await store.claimPartitions({ nodeId: 1, incarnation: 12 });
  assert.equal(claimed.length, 2, 'the new process claims its own node id\'s partitions');
  assert.deepEqual(claimed.map((c) => c.leaderEpoch), [0, 0], 'same node id: the epoch stays');
  const fresh = wal({ incarnation: 12 });
  assert.equal((await fresh.open()).length, 1);
  await fresh.append(entry(0, 1, 'new-1'));
  await assert.rejects(old.append(entry(0, 1, 'zombie-1')), (err: Error & { code?: string }) => err.code === 'STRAIT_FENCED');
  const at1 = (await store.walObjects()).flatMap((w) => w.ranges).filter((r) => r.baseOffset === 1);
  assert.equal(at1.length, 1, 'one acknowledged write at offset 1');
  await old.close();
  await fresh.close();
});

test('the first leader of a mirrored partition stays fenced after another broker and then a new process of its node id claimed it', async (t) => {
  const { store, topicId, wal, entry } = await setup(t);
  await store.saveLink({ name: 'l', linkId: 'id', spec: '{}', state: 'active', createdAtMs: 1, updatedAtMs: 1 });
  await store.saveMirror({ topicId, linkName: 'l', sourceTopic: 't', state: 'mirroring', lastPromotion: null, reverse: null, updatedAtMs: 1 });
  await store.claimPartitions({ nodeId: 1, incarnation: 21 });
  const a = wal({ incarnation: 21 });
  await a.open();
  await a.append(entry(0, 0));
  await store.claimPartitions({ nodeId: 2, incarnation: 22 });
  await store.claimPartitions({ nodeId: 1, incarnation: 23 });
  assert.deepEqual((await store.allPartitions()).map((p) => p.leaderEpoch), [0, 0], 'a mirror keeps its source\'s epoch through claims');
  await assert.rejects(a.append(entry(0, 1)), (err: Error & { code?: string }) => err.code === 'STRAIT_FENCED');
  await a.close();
});

test('once the log has moved back after a failed append, appends beyond the failed offset are taken again', async (t) => {
  const { store, topicId, wal, entry } = await setup(t);
  const w = wal();
  await w.open();
  // A mirror's epoch moved in metadata while an append at the old epoch was in flight: it fails.
  await store.setLeaderEpoch(topicId, 0, 3);
  await assert.rejects(w.append({ ...entry(0, 5), leaderEpoch: 2 }), (err: Error & { code?: string }) => err.code === 'STRAIT_FENCED');
  // Review finding: a later reset (a marker at 100) was refused for ever with the old error.
  w.rolledBack(topicId, 0);
  await w.append({ topicId, partition: 0, baseOffset: 100, endOffset: 100, data: Buffer.alloc(0), leaderEpoch: 3 });
  await w.close();
});
