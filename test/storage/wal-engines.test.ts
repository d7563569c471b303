// The WAL contract on every engine that needs no outside service: the file WAL, and the object WAL
// over a folder store with SQLite metadata. (test/storage/wal-object-services.test.ts runs the
// object WAL over real MinIO and PostgreSQL.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileWal, ObjectWal } from '../../src/storage/wal/index.ts';
import { openFolderStore } from '../../src/storage/objects/index.ts';
import { SqliteMetadataStore, randomKafkaUuid } from '../../src/metadata/index.ts';
import type { MetadataStore } from '../../src/metadata/index.ts';
import type { ObjectStore } from '../../src/storage/objects/index.ts';
import { silentLogger } from '../../src/common/logger.ts';
import { ObjectWriter } from '../../src/storage/object-writer.ts';
import { walContract } from './wal-contract.ts';

walContract('file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strait-wal-'));
  const open = () => new FileWal({ dir, segmentBytesMax: 1 << 20, flushBytesMax: 1 << 20, flushLingerMs: 0, log: silentLogger });
  return {
    wal: open(),
    topicId: randomKafkaUuid(),
    reopen: async () => open(),
    uploaded: async () => {},
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

/** An object WAL over `objects` and `store`, on a fresh topic of 4 partitions led by node 1. */
export async function objectWalEngine(objects: ObjectStore, store: MetadataStore, cleanup: () => Promise<void>) {
  const topicId = randomKafkaUuid();
  await store.createTopic({ name: `wal-${topicId}`, topicId, partitionCount: 4, replicationFactor: 1, configs: {}, leaderId: 1 });
  const open = () => new ObjectWal({ writer: new ObjectWriter({ objects, nodeId: 1, log: silentLogger }), store, nodeId: 1, flushMs: 5, flushBytes: 1 << 20, inflightMax: 4, log: silentLogger });
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

walContract('object (folder + SQLite)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strait-owal-'));
  const objects = await openFolderStore(join(dir, 'objects'));
  const store = new SqliteMetadataStore(join(dir, 'metadata.sqlite'));
  await store.open();
  return objectWalEngine(objects, store, async () => {
    await store.close();
    await objects.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
