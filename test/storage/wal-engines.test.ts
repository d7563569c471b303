// The WAL contract on every engine that needs no outside service: the file WAL, and the object WAL
// over a folder store with SQLite metadata. (test/storage/wal-object-services.test.ts runs the
// object WAL over real MinIO and PostgreSQL.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileWal } from '../../src/storage/wal/index.ts';
import { openFolderStore } from '../../src/storage/objects/index.ts';
import { SqliteMetadataStore, randomKafkaUuid } from '../../src/metadata/index.ts';
import { silentLogger } from '../../src/common/logger.ts';
import { objectWalEngine, walContract } from './wal-contract.ts';

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
