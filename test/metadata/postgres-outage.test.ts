// The PostgreSQL metadata engine when its server goes away: a restart under an open pool, a crashed
// server, a frozen one. Calls fail with the retriable STRAIT_METADATA_UNAVAILABLE (Kafka's
// KAFKA_STORAGE_ERROR), naming the server but never the password, and work again by themselves
// once the server is back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresMetadataStore } from '../../src/metadata/index.ts';
import { randomKafkaUuid } from '../../src/metadata/ids.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { startPostgres, type PostgresHandle } from '../helpers/postgres.ts';

let server: PostgresHandle;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

let databases = 0;
async function freshStore(statementTimeoutMs = 5_000): Promise<PostgresMetadataStore> {
  const url = await server.createDatabase(`outage_${process.pid}_${++databases}`);
  const store = new PostgresMetadataStore({ url, poolSize: 4, statementTimeoutMs });
  await store.open();
  return store;
}

function isUnavailable(err: Error & { code?: string; kafkaError?: number }): boolean {
  assert.equal(err.code, 'STRAIT_METADATA_UNAVAILABLE', err.message);
  assert.equal(err.kafkaError, ErrorCode.KAFKA_STORAGE_ERROR);
  assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${server.port}/`), 'the message names the server');
  assert.ok(!err.message.includes(server.password), 'the message never holds the password');
  return true;
}

/** A read, a transaction and a single-statement write, each as the first call on the pool. */
async function everyKindOfCall(store: PostgresMetadataStore, topicId: string, round: number): Promise<void> {
  assert.equal((await store.topicById(topicId))!.name, 'kept');
  await store.commitObject(`data/${round}`, 10, [{ topicId, partitionIndex: 0, baseOffset: round * 10, endOffset: round * 10 + 10, position: 0, sizeBytes: 10, maxTimestamp: round }]);
  await store.saveGroup({ groupId: 'g', groupType: 'classic', state: `{"round":${round}}`, updatedAtMs: round });
  assert.equal((await store.groups())[0]!.state, `{"round":${round}}`);
}

test('postgres: after a server restart the pool reconnects by itself and keeps every committed write', async () => {
  const store = await freshStore();
  const topicId = randomKafkaUuid();
  await store.createTopic({ name: 'kept', topicId, partitionCount: 1, replicationFactor: 1, configs: {}, leaderId: 1 });
  // Fill the pool with open connections, so that a restart leaves all of them broken.
  await Promise.all(Array.from({ length: 8 }, () => store.allPartitions()));
  for (let round = 1; round <= 3; round++) {
    await server.restart();
    await everyKindOfCall(store, topicId, round);
  }
  assert.deepEqual((await store.objectRanges(topicId, 0)).map((r) => r.objectKey), ['data/1', 'data/2', 'data/3']);
  await store.close();
});

test('postgres: while the server is down calls fail as retriable errors naming the server; after it comes back they work', async () => {
  const store = await freshStore();
  const topicId = randomKafkaUuid();
  await store.createTopic({ name: 'kept', topicId, partitionCount: 1, replicationFactor: 1, configs: {}, leaderId: 1 });
  await Promise.all(Array.from({ length: 4 }, () => store.allPartitions()));
  await server.kill();
  const started = Date.now();
  await assert.rejects(store.allPartitions(), isUnavailable);
  await assert.rejects(store.commitWalObject('wal/x', 1, { nodeId: 1, incarnation: 0 }, [{ topicId, partitionIndex: 0, baseOffset: 0, endOffset: 1, position: 0, sizeBytes: 1, leaderEpoch: 0 }]), isUnavailable);
  await assert.rejects(store.saveGroup({ groupId: 'g', groupType: 'classic', state: '{}', updatedAtMs: 1 }), isUnavailable);
  assert.ok(Date.now() - started < 5_000, `a refused connection fails fast (${Date.now() - started} ms)`);
  await server.restart();
  await everyKindOfCall(store, topicId, 1);
  assert.deepEqual(await store.walObjects(), [], 'the commit that failed while the server was down wrote nothing');
  await store.close();
});

test('postgres: a frozen server fails calls after the statement timeout instead of hanging', async () => {
  const statementTimeoutMs = 500;
  const store = await freshStore(statementTimeoutMs);
  const topicId = randomKafkaUuid();
  await store.createTopic({ name: 'kept', topicId, partitionCount: 1, replicationFactor: 1, configs: {}, leaderId: 1 });
  server.signal('SIGSTOP');
  try {
    const started = Date.now();
    await assert.rejects(store.topicById(topicId), isUnavailable);
    await assert.rejects(store.commitObject('data/frozen', 1, [], []), isUnavailable);
    const tookMs = Date.now() - started;
    // Each call waits for its answer for the statement timeout plus the client's slack (2 s), a
    // read once more on a new connection, which cannot be opened within the connect timeout.
    assert.ok(tookMs < 20_000, `both calls failed within ${tookMs} ms`);
  } finally {
    server.signal('SIGCONT');
  }
  await everyKindOfCall(store, topicId, 1);
  assert.equal(await store.hasObject('data/frozen'), false, 'the commit that timed out wrote nothing');
  await store.close();
});

test('postgres: a wrong password or a missing database fails the open with a message naming the server, never a password', async () => {
  const wrong = 'not-the-password-7f3a';
  const cases = [
    { url: `postgres://postgres:${wrong}@127.0.0.1:${server.port}/postgres`, says: /password authentication failed/ },
    { url: `postgres://postgres:${server.password}@127.0.0.1:${server.port}/no_such_db`, says: /does not exist/ },
  ];
  for (const c of cases) {
    const store = new PostgresMetadataStore({ url: c.url, poolSize: 2, statementTimeoutMs: 5_000 });
    await assert.rejects(store.open(), (err: Error & { code?: string; kafkaError?: number }) => {
      isUnavailable(err);
      assert.match(err.message, c.says);
      assert.ok(!err.message.includes(wrong), err.message);
      return true;
    });
  }
});
