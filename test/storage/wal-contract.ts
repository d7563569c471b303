// The contract every WAL engine keeps (src/storage/wal/wal.ts), run against each real engine:
// durable entries come back on replay in append order with their bytes, appends complete in order,
// markers survive, uploaded entries are not needed again, and a closed WAL refuses appends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Wal, WalEntry, WalPosition } from '../../src/storage/wal/index.ts';
import { ObjectWal } from '../../src/storage/wal/index.ts';
import { ObjectWriter } from '../../src/storage/object-writer.ts';
import { randomKafkaUuid } from '../../src/metadata/index.ts';
import type { MetadataStore } from '../../src/metadata/index.ts';
import type { ObjectStore } from '../../src/storage/objects/index.ts';
import { silentLogger } from '../../src/common/logger.ts';

export interface WalEngine {
  /** A fresh WAL over fresh storage, and a way to open the same storage again. */
  wal: Wal;
  topicId: string;
  reopen(): Promise<Wal>;
  /** What the uploader does once entries are in committed objects. */
  uploaded(entries: { entry: WalEntry; position: WalPosition }[]): Promise<void>;
  cleanup(): Promise<void>;
}

export function walContract(engine: string, make: () => Promise<WalEngine>): void {
  const entry = (topicId: string, partition: number, base: number, text: string): WalEntry => ({
    topicId,
    partition,
    baseOffset: base,
    endOffset: base + 1,
    data: Buffer.from(text),
    leaderEpoch: 0,
  });

  test(`${engine} WAL: durable entries replay in append order with their bytes; positions grow`, async () => {
    const h = await make();
    try {
      await h.wal.open();
      const made: WalEntry[] = [];
      const done: Promise<WalPosition>[] = [];
      for (let i = 0; i < 60; i++) {
        const e = entry(h.topicId, i % 3, Math.floor(i / 3), `p${i % 3}-o${Math.floor(i / 3)}-${'x'.repeat(i)}`);
        made.push(e);
        done.push(h.wal.append(e));
      }
      const positions = await Promise.all(done);
      for (let i = 1; i < positions.length; i++) {
        const a = positions[i - 1]!;
        const b = positions[i]!;
        // Within a partition, a later append has a larger position.
        if (i >= 3) {
          const prev = positions[i - 3]!;
          assert.ok(b.segment > prev.segment || (b.segment === prev.segment && b.offset > prev.offset), `position of append ${i} not after ${i - 3}`);
        }
        void a;
      }
      await h.wal.close();
      const again = await h.reopen();
      const replay = await again.open();
      const text = (e: { partition: number; baseOffset: number; data: Buffer }) => `${e.partition}@${e.baseOffset}:${e.data.toString()}`;
      // Replay may join consecutive entries of a partition into one: compare per partition, byte-wise.
      for (let p = 0; p < 3; p++) {
        const want = Buffer.concat(made.filter((e) => e.partition === p).map((e) => e.data)).toString();
        const got = Buffer.concat(replay.filter((e) => e.partition === p && e.topicId === h.topicId).map((e) => e.data)).toString();
        assert.equal(got, want, `partition ${p}`);
        const offs = replay.filter((e) => e.partition === p);
        for (let i = 1; i < offs.length; i++) assert.equal(offs[i]!.baseOffset, offs[i - 1]!.endOffset, `partition ${p} replays contiguous offsets`);
      }
      assert.ok(replay.length > 0 && replay.every((e) => text(e).length > 0));
      await again.close();
    } finally {
      await h.cleanup();
    }
  });

  test(`${engine} WAL: appends complete in the order they were made`, async () => {
    const h = await make();
    try {
      await h.wal.open();
      const order: number[] = [];
      const all: Promise<unknown>[] = [];
      for (let i = 0; i < 200; i++) {
        all.push(h.wal.append(entry(h.topicId, i % 4, Math.floor(i / 4), `e${i}`)).then(() => order.push(i)));
        if (i % 37 === 0) await new Promise((r) => setTimeout(r, 3));
      }
      await Promise.all(all);
      assert.deepEqual(order, [...order].sort((a, b) => a - b));
      assert.equal(order.length, 200);
      assert.equal(h.wal.stats.entries >= 1, true);
      await h.wal.close();
    } finally {
      await h.cleanup();
    }
  });

  test(`${engine} WAL: a truncation marker (no bytes) replays in its place`, async () => {
    const h = await make();
    try {
      await h.wal.open();
      await h.wal.append(entry(h.topicId, 0, 0, 'a'));
      await h.wal.append(entry(h.topicId, 0, 1, 'b'));
      await h.wal.append({ topicId: h.topicId, partition: 0, baseOffset: 1, endOffset: 1, data: Buffer.alloc(0), leaderEpoch: 0 });
      await h.wal.append(entry(h.topicId, 0, 1, 'c'));
      await h.wal.close();
      const again = await h.reopen();
      const replay = (await again.open()).filter((e) => e.topicId === h.topicId);
      const shape = replay.map((e) => `${e.baseOffset}-${e.endOffset}:${e.data.toString()}`);
      const marker = shape.indexOf('1-1:');
      assert.ok(marker > 0, `marker replayed: ${shape.join(' ')}`);
      assert.ok(shape.slice(0, marker).join('').includes('b') && shape.slice(marker + 1).join('') === '1-2:c', shape.join(' '));
      await again.close();
    } finally {
      await h.cleanup();
    }
  });

  test(`${engine} WAL: uploaded entries are not needed again; those after them are`, async () => {
    const h = await make();
    try {
      await h.wal.open();
      const first: { entry: WalEntry; position: WalPosition }[] = [];
      for (let i = 0; i < 5; i++) {
        const e = entry(h.topicId, 0, i, `old${i}`);
        first.push({ entry: e, position: await h.wal.append(e) });
      }
      await h.uploaded(first);
      const later = entry(h.topicId, 0, 5, 'new5');
      await h.wal.append(later);
      await h.wal.close();
      const again = await h.reopen();
      const replay = (await again.open()).filter((e) => e.topicId === h.topicId);
      const last = replay[replay.length - 1]!;
      assert.equal(last.endOffset, 6);
      assert.ok(last.data.toString().endsWith('new5'), 'the entry after the upload replays');
      await again.close();
    } finally {
      await h.cleanup();
    }
  });

  test(`${engine} WAL: a closed WAL refuses appends with a retriable storage error`, async () => {
    const h = await make();
    try {
      await h.wal.open();
      await h.wal.append(entry(h.topicId, 0, 0, 'a'));
      await h.wal.close();
      await assert.rejects(h.wal.append(entry(h.topicId, 0, 1, 'b')), (err: Error & { kafkaError?: number }) => err.kafkaError === 56);
    } finally {
      await h.cleanup();
    }
  });
}

/** An object WAL over `objects` and `store`, on a fresh topic of 4 partitions led by node 1. */
export async function objectWalEngine(objects: ObjectStore, store: MetadataStore, cleanup: () => Promise<void>) {
  const topicId = randomKafkaUuid();
  await store.createTopic({ name: `wal-${topicId}`, topicId, partitionCount: 4, replicationFactor: 1, configs: {}, leaderId: 1 });
  const open = () => new ObjectWal({ writer: new ObjectWriter({ objects, nodeId: 1, log: silentLogger }), store, nodeId: 1, incarnation: 0, flushMs: 5, flushBytes: 1 << 20, inflightMax: 4, log: silentLogger });
  return {
    wal: open(),
    topicId,
    reopen: async () => open(),
    uploaded: async (entries: { entry: { topicId: string; partition: number; baseOffset: number; endOffset: number; data: Buffer } }[]) => {
      const first = entries[0]!.entry;
      const last = entries[entries.length - 1]!.entry;
      const bytes = entries.reduce((s, e) => s + e.entry.data.length, 0);
      await objects.put(`data/${topicId}-up`, entries.map((e) => e.entry.data));
      await store.commitObject(`data/${topicId}-up`, bytes, [{ topicId, partitionIndex: first.partition, baseOffset: first.baseOffset, endOffset: last.endOffset, position: 0, sizeBytes: bytes, maxTimestamp: 0 }]);
    },
    cleanup,
  };
}

