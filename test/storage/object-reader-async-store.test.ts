// The object reader's cached index with a metadata store that answers later than it reads (as
// PostgreSQL does: a statement sees the data as of its start, the answer arrives some time after).
// A load under way while the index changes (an upload adds ranges, retention or a rewrite
// invalidates the partition) must not leave a stale copy in the cache, and ranges must not be
// cached twice. The store is the real SQLite engine, wrapped so that objectRanges answers only when
// the test lets it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetadataStore, type MetadataStore, type NewObjectRange } from '../../src/metadata/index.ts';
import { randomKafkaUuid } from '../../src/metadata/ids.ts';
import { ObjectReader } from '../../src/storage/object-reader.ts';
import type { ObjectStore } from '../../src/storage/objects/index.ts';

/** objectRanges reads at once but answers when `release()` is called (while `hold` is on). */
function delayedStore(store: SqliteMetadataStore): { store: MetadataStore; hold(on: boolean): void; release(): void; waiting(): number } {
  let holding = false;
  const held: (() => void)[] = [];
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop !== 'objectRanges') {
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return async (topicId: string, partition: number) => {
        const answer = await target.objectRanges(topicId, partition);
        if (holding) await new Promise<void>((resolve) => held.push(resolve));
        return answer;
      };
    },
  }) as MetadataStore;
  return {
    store: wrapped,
    hold: (on) => (holding = on),
    release: () => held.splice(0).forEach((resolve) => resolve()),
    waiting: () => held.length,
  };
}

const noObjects = {
  kind: 'unused',
  get: () => Promise.reject(new Error('no object reads in this test')),
} as unknown as ObjectStore;

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'strait-reader-async-'));
  const sqlite = new SqliteMetadataStore(join(dir, 'metadata.sqlite'));
  await sqlite.open();
  const topicId = randomKafkaUuid();
  await sqlite.createTopic({ name: 't', topicId, partitionCount: 1, replicationFactor: 1, configs: {}, leaderId: 1 });
  const delayed = delayedStore(sqlite);
  const reader = new ObjectReader({ objects: noObjects, store: delayed.store, blockBytes: 4096, blockCacheBytesMax: 1 << 20 });
  const range = (base: number, end: number): NewObjectRange => ({ topicId, partitionIndex: 0, baseOffset: base, endOffset: end, position: 0, sizeBytes: 100, maxTimestamp: base });
  /** Commits an object as the uploader does, then tells the reader as the broker does. */
  const upload = async (key: string, base: number, end: number) => {
    const r = range(base, end);
    const objectId = await sqlite.commitObject(key, 100, [r]);
    reader.addRanges([{ ...r, objectId, objectKey: key }]);
  };
  const offsets = async () => (await reader.ranges(topicId, 0)).map((r) => [r.baseOffset, r.endOffset]);
  const until = async (cond: () => boolean) => {
    while (!cond()) await new Promise((resolve) => setImmediate(resolve));
  };
  return {
    sqlite,
    reader,
    delayed,
    topicId,
    upload,
    offsets,
    until,
    cleanup: async () => {
      await sqlite.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('object reader: ranges uploaded while the index loads are not lost', async () => {
  const s = await setup();
  try {
    await s.upload('data/a', 0, 10);
    s.delayed.hold(true);
    const loading = s.offsets();
    await s.until(() => s.delayed.waiting() === 1);
    // The load read the index before this upload; its answer arrives after it.
    await s.upload('data/b', 10, 20);
    s.delayed.hold(false);
    s.delayed.release();
    await loading;
    assert.deepEqual(await s.offsets(), [[0, 10], [10, 20]], 'the range uploaded during the load is in the index');
  } finally {
    await s.cleanup();
  }
});

test('object reader: an invalidation while the index loads is not undone by the load\'s stale answer', async () => {
  const s = await setup();
  try {
    await s.upload('data/a', 0, 10);
    await s.upload('data/b', 10, 20);
    s.delayed.hold(true);
    const loading = s.offsets();
    await s.until(() => s.delayed.waiting() === 1);
    // Retention moves the log start past data/a meanwhile, and the log invalidates the partition.
    await s.sqlite.advanceLogStartOffset(s.topicId, 0, 10);
    s.reader.invalidate(s.topicId, 0);
    s.delayed.hold(false);
    s.delayed.release();
    await loading;
    assert.deepEqual(await s.offsets(), [[10, 20]], 'the range retention dropped is gone from the index');
  } finally {
    await s.cleanup();
  }
});

test('object reader: a range that a load already found is not added twice when the upload reports it', async () => {
  const s = await setup();
  try {
    await s.upload('data/a', 0, 10);
    // The commit is in the store, the uploader has not reported it yet, and a fetch loads the index.
    const r = { topicId: s.topicId, partitionIndex: 0, baseOffset: 10, endOffset: 20, position: 0, sizeBytes: 100, maxTimestamp: 10 };
    const objectId = await s.sqlite.commitObject('data/b', 100, [r]);
    assert.deepEqual(await s.offsets(), [[0, 10], [10, 20]]);
    s.reader.addRanges([{ ...r, objectId, objectKey: 'data/b' }]);
    assert.deepEqual(await s.offsets(), [[0, 10], [10, 20]], 'each range once');
  } finally {
    await s.cleanup();
  }
});
