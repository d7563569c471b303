// Issue #11: objects put but never committed (a crash between an upload's PUT and its metadata
// commit) were never collected. The garbage collector now sweeps them once they are old enough.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetadataStore } from '../../src/metadata/index.ts';
import { randomKafkaUuid } from '../../src/metadata/ids.ts';
import { FolderStore } from '../../src/storage/objects/folder-store.ts';
import { collectGarbage, objectKeyCreatedMs, ORPHAN_GRACE_MS_MIN } from '../../src/storage/garbage-collector.ts';
import { ObjectWriter } from '../../src/storage/object-writer.ts';
import { silentLogger } from '../../src/common/logger.ts';

const keyAt = (ms: number, tag: string) => `data/${ms.toString(36).padStart(9, '0')}-1-${tag}`;

/** A metadata store and a folder object store in a temporary directory, closed and removed after fn. */
async function withStores(fn: (store: SqliteMetadataStore, objects: FolderStore) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'strait-orphans-'));
  const store = new SqliteMetadataStore(join(dir, 'metadata.sqlite'));
  await store.open();
  const objects = await FolderStore.open(join(dir, 'objects'));
  try {
    await fn(store, objects);
  } finally {
    await objects.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('an object never committed is deleted once older than the orphan grace; committed and young ones stay', async () => {
  await withStores(async (store, objects) => {
    const now = Date.now();
    const old = now - ORPHAN_GRACE_MS_MIN - 1000;
    const topicId = randomKafkaUuid();
    await store.createTopic({ name: 't', topicId, partitionCount: 1, replicationFactor: 1, configs: {}, leaderId: 1 });
    const committed = keyAt(old, 'committed');
    await objects.put(committed, Buffer.from('x'));
    await store.commitObject(committed, 1, [{ topicId, partitionIndex: 0, baseOffset: 0, endOffset: 1, position: 0, sizeBytes: 1, maxTimestamp: old }]);
    const orphan = keyAt(old, 'orphan');
    await objects.put(orphan, Buffer.from('y'));
    const young = keyAt(now - 1000, 'young'); // perhaps an upload still retrying its commit
    await objects.put(young, Buffer.from('z'));
    await objects.put('other/thing', Buffer.from('w')); // not an object key of ours: left alone
    assert.equal(objectKeyCreatedMs(orphan), old);

    const deleted = await collectGarbage(store, objects, now, 60_000, silentLogger);
    assert.equal(deleted, 1);
    const left = (await objects.list('')).map((o) => o.key).sort();
    assert.deepEqual(left, [committed, young, 'other/thing'].sort());
    // The sweep is rate-limited per store: a second run right after does not list again.
    await objects.put(keyAt(old, 'orphan2'), Buffer.from('y'));
    assert.equal(await collectGarbage(store, objects, now + 1, 60_000, silentLogger), 0);
    assert.equal(await collectGarbage(store, objects, now + 1, 60_000, silentLogger, { sweepIntervalMs: 0 }), 1);
  });
});

test('the sweep finds uncommitted objects of every kind the object writer writes, WAL objects included, under the key prefix; a committed WAL object stays', async () => {
  await withStores(async (store, objects) => {
    const now = Date.now();
    const old = now - ORPHAN_GRACE_MS_MIN - 1000;
    const writer = new ObjectWriter({ objects, nodeId: 1, keyPrefix: 'p/', log: silentLogger, now: () => old });
    const failedCommit = async () => Promise.reject(new Error('commit lost'));
    const orphans: Record<string, string> = {};
    for (const kind of ['data', 'compacted', 'cleaned', 'wal'] as const) {
      await assert.rejects(writer.write({ kind, parts: [Buffer.from(kind)], commit: failedCommit }), /commit lost/);
      orphans[kind] = (await objects.list(`p/${kind}/`))[0]!.key;
    }
    // A WAL object whose commit landed is known to metadata (hasObject) and stays.
    const topicId = randomKafkaUuid();
    await store.createTopic({ name: 'w', topicId, partitionCount: 1, replicationFactor: 1, configs: {}, leaderId: 1 });
    const committed = await writer.write({
      kind: 'wal',
      parts: [Buffer.from('acked')],
      commit: (key) => store.commitWalObject(key, 5, { nodeId: 1, incarnation: 0 }, [{ topicId, partitionIndex: 0, baseOffset: 0, endOffset: 1, position: 0, sizeBytes: 5, leaderEpoch: 0 }]),
    });
    assert.equal(await collectGarbage(store, objects, now, 60_000, silentLogger, { keyPrefix: 'p/' }), 4);
    assert.deepEqual((await objects.list('')).map((o) => o.key), [committed.key]);
    void orphans;
  });
});
