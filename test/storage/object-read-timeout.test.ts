// A read of uploaded data while the object store hangs (frozen, black-holed: no answer, no error)
// must end in bounded time with a retriable error, so a fetch answers KAFKA_STORAGE_ERROR for the
// partition instead of hanging past the client's request timeout. The store here is a stand-in that
// never answers; test/faults/crash-produce.long.test.ts does the same against a frozen MinIO.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetadataStore } from '../../src/metadata/index.ts';
import { randomKafkaUuid } from '../../src/metadata/ids.ts';
import { ObjectReader } from '../../src/storage/object-reader.ts';
import type { ObjectStore } from '../../src/storage/objects/index.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';

test('a read from an object store that never answers fails with KAFKA_STORAGE_ERROR after the read timeout', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strait-read-timeout-'));
  const store = new SqliteMetadataStore(join(dir, 'metadata.sqlite'));
  await store.open();
  try {
    const topicId = randomKafkaUuid();
    await store.createTopic({ name: 't', topicId, partitionCount: 1, replicationFactor: 1, configs: {}, leaderId: 1 });
    await store.commitObject('data/000000001-1-x', 100, [{ topicId, partitionIndex: 0, baseOffset: 0, endOffset: 1, position: 0, sizeBytes: 100, maxTimestamp: 0 }]);
    const hanging: ObjectStore = {
      kind: 'hanging',
      put: () => new Promise(() => undefined),
      get: () => new Promise(() => undefined),
      head: () => new Promise(() => undefined),
      list: () => new Promise(() => undefined),
      delete: () => new Promise(() => undefined),
      close: async () => undefined,
    } as unknown as ObjectStore;
    const reader = new ObjectReader({ objects: hanging, store, blockBytes: 4096, blockCacheBytesMax: 1 << 20, readTimeoutMs: 300 });
    const started = Date.now();
    await assert.rejects(reader.read(topicId, 0, 0, 1 << 20, true), (err: Error & { kafkaError?: number; code?: string }) => {
      assert.equal(err.kafkaError, ErrorCode.KAFKA_STORAGE_ERROR);
      assert.equal(err.code, 'STRAIT_OBJECT_READ_TIMEOUT');
      return true;
    });
    const took = Date.now() - started;
    assert.ok(took >= 250 && took < 3000, `failed after ${took} ms`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
