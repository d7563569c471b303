// The MetadataStore contract on a real PostgreSQL 15 (one server for this file, a fresh database
// for each opened store), plus what only a networked engine has: a server restart under an open
// pool, a schema migration raced by two brokers starting at once, migration lists held equal to
// SQLite's, and a partition claim racing a fenced commit from two store instances.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresMetadataStore } from '../../src/metadata/index.ts';
import { POSTGRES_MIGRATIONS } from '../../src/metadata/postgres/migrations.ts';
import { SQLITE_MIGRATIONS } from '../../src/metadata/sqlite/migrations.ts';
import { randomKafkaUuid } from '../../src/metadata/ids.ts';
import { startPostgres, type PostgresHandle } from '../helpers/postgres.ts';
import { metadataStoreContract } from './store-contract.ts';

let server: PostgresHandle;
let databases = 0;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

/** Resolves after `n` turns of the event loop. */
async function hops(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

const config = (url: string) => ({ url, poolSize: 4, statementTimeoutMs: 5_000 });

async function freshStore(): Promise<{ store: PostgresMetadataStore; url: string }> {
  const url = await server.createDatabase(`strait_${process.pid}_${++databases}`);
  const store = new PostgresMetadataStore(config(url));
  await store.open();
  return { store, url };
}

metadataStoreContract('postgres', async () => {
  const fresh = await freshStore();
  let store = fresh.store;
  return {
    store,
    async reopen() {
      await store.close();
      store = new PostgresMetadataStore(config(fresh.url));
      await store.open();
      return store;
    },
    async cleanup() {
      await store.close();
    },
  };
});

test('postgres: migrations have the versions and descriptions of the SQLite ones', () => {
  assert.deepEqual(
    POSTGRES_MIGRATIONS.map((m) => [m.version, m.description]),
    SQLITE_MIGRATIONS.map((m) => [m.version, m.description]),
  );
});

test('postgres: two brokers opening a fresh database at once apply each migration once', async () => {
  const url = await server.createDatabase(`strait_${process.pid}_${++databases}`);
  const stores = [0, 1, 2].map(() => new PostgresMetadataStore(config(url)));
  await Promise.all(stores.map((s) => s.open()));
  const latest = Math.max(...POSTGRES_MIGRATIONS.map((m) => m.version));
  for (const s of stores) assert.equal(await s.schemaVersion(), latest);
  // Each store's cluster id call races too: one id wins for all.
  const ids = await Promise.all(stores.map((s) => s.clusterId()));
  assert.equal(new Set(ids).size, 1, `one cluster id, got ${ids.join(', ')}`);
  await Promise.all(stores.map((s) => s.close()));
  const check = new PostgresMetadataStore(config(url));
  await check.open();
  assert.equal(await check.schemaVersion(), latest);
  await check.close();
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const rows = (await client.query('SELECT version, count(*)::int AS n FROM schema_migrations GROUP BY version ORDER BY version')).rows;
  await client.end();
  assert.deepEqual(rows, POSTGRES_MIGRATIONS.map((m) => ({ version: m.version, n: 1 })));
});

test('postgres: a schema newer than this Strait knows is refused', async () => {
  const { store, url } = await freshStore();
  await store.close();
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query("INSERT INTO schema_migrations (version, description, applied_at_ms) VALUES (999, 'from the future', 0)");
  await client.end();
  const newer = new PostgresMetadataStore(config(url));
  await assert.rejects(newer.open(), (err: Error & { code?: string }) => err.code === 'STRAIT_METADATA_UNAVAILABLE' && /schema version 999 is newer than this Strait understands/.test(err.message));
});

test('postgres: concurrent creates of one topic name from two brokers: exactly one wins; concurrent id reservations never overlap', async () => {
  const { store: a, url } = await freshStore();
  const b = new PostgresMetadataStore(config(url));
  await b.open();
  for (let round = 0; round < 20; round++) {
    const name = `t${round}`;
    const made = await Promise.all([a, b, a, b].map((s) => s.createTopic({ name, topicId: randomKafkaUuid(), partitionCount: 2, replicationFactor: 1, configs: { k: 'v' }, leaderId: 1 })));
    assert.equal(made.filter((t) => t !== null).length, 1, `round ${round}: one create wins`);
    const winner = made.find((t) => t !== null)!;
    assert.equal((await b.topicByName(name))!.topicId, winner.topicId);
    assert.equal((await a.partitions(winner.topicId)).length, 2, 'the winner\'s partitions only');
  }
  const firsts = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).reserveIds('producer-id', 5)));
  assert.deepEqual([...firsts].sort((x, y) => x - y), Array.from({ length: 40 }, (_, i) => i * 5), 'blocks of 5 from 0, each once');
  await a.close();
  await b.close();
});

test('postgres: a partition claim racing a fenced commit of the old leader: the commit lands before the claim (the claimer sees it) or is fenced', async (t) => {
  const { store: oldLeader, url } = await freshStore();
  const claimer = new PostgresMetadataStore(config(url));
  await claimer.open();
  const topicId = randomKafkaUuid();
  await oldLeader.createTopic({ name: 'race', topicId, partitionCount: 2, replicationFactor: 1, configs: {}, leaderId: 1 });
  // An upload's commit carries producer snapshots, a statement each: the old leader's transaction
  // goes on for a while after its fence check, as a slow broker's would.
  const snapshots = (endOffset: number) => Array.from({ length: 40 }, (_, i) => ({ topicId, partitionIndex: i % 2, endOffset, state: `{"i":${i}}` }));
  const rounds = 150;
  const outcomes = { landed: 0, fenced: 0 };
  let nextOffset = 0;
  for (let round = 0; round < rounds; round++) {
    // Node 1 leads both partitions again (a claim bumps the epoch) and commits at that epoch.
    const mine = await oldLeader.claimPartitions({ nodeId: 1, incarnation: 0 });
    const epochs = new Map(mine.map((p) => [p.partitionIndex, p.leaderEpoch]));
    const base = nextOffset;
    nextOffset += 2;
    const key = `wal/race-${round}`;
    const useWal = round % 2 === 0;
    const commit = useWal
      ? oldLeader
          .commitWalObject(key, 20, { nodeId: 1, incarnation: 0 }, [0, 1].map((p) => ({ topicId, partitionIndex: p, baseOffset: base, endOffset: base + 2, position: p * 10, sizeBytes: 10, leaderEpoch: epochs.get(p)! })))
          .then((r) => r.objectId !== null)
      : oldLeader
          .commitObject(key, 20, [0, 1].map((p) => ({ topicId, partitionIndex: p, baseOffset: base, endOffset: base + 2, position: p * 10, sizeBytes: 10, maxTimestamp: 1 })), snapshots(base + 2), {
            nodeId: 1,
            incarnation: 0,
            leaderEpochs: [0, 1].map((p) => ({ topicId, partitionIndex: p, leaderEpoch: epochs.get(p)! })),
          })
          .then(
            () => true,
            (err: Error & { code?: string }) => {
              if (err.code === 'STRAIT_FENCED') return false;
              throw err;
            },
          );
    // Spread the start of the claim over the commit's statements: from before its fence check
    // to after its end (an upload's commit of 40 snapshots takes several milliseconds).
    // What the claimer reads right after its claim (before the commit's answer is awaited): the
    // commit is there whole, or not at all.
    const read = async (): Promise<number[]> =>
      useWal
        ? (await claimer.walObjects()).filter((w) => w.key === key).flatMap((w) => w.ranges.map((r) => r.partitionIndex))
        : (await Promise.all([0, 1].map((p) => claimer.objectRanges(topicId, p)))).flat().filter((r) => r.objectKey === key).map((r) => r.partitionIndex);
    const claim = (round % 3 === 0 ? hops(round % 24) : new Promise((resolve) => setTimeout(resolve, round % 12))).then(async () => {
      const claimed = await claimer.claimPartitions({ nodeId: 2, incarnation: 0 });
      return { claimed, seen: await read() };
    });
    const [landed, { claimed, seen }] = await Promise.all([commit, claim]);
    assert.deepEqual(claimed.map((c) => c.partitionIndex).sort(), [0, 1], 'the claim takes both partitions');
    if (landed) {
      outcomes.landed++;
      assert.deepEqual(seen.sort(), [0, 1], `round ${round}: a commit that answered success is visible to the claimer`);
    } else {
      outcomes.fenced++;
      assert.deepEqual(seen, [], `round ${round}: a fenced commit wrote nothing`);
      assert.equal(await claimer.hasObject(key), false, `round ${round}: not even the object row`);
    }
  }
  t.diagnostic(`${rounds} rounds: ${outcomes.landed} commits landed before the claim, ${outcomes.fenced} were fenced`);
  assert.equal(outcomes.landed + outcomes.fenced, rounds);
  await oldLeader.close();
  await claimer.close();
});

test('postgres: an upload commit retried after its answer was lost answers the same object and writes nothing more', async () => {
  const { store, url } = await freshStore();
  const topicId = randomKafkaUuid();
  await store.createTopic({ name: 'retry', topicId, partitionCount: 1, replicationFactor: 1, configs: {}, leaderId: 1 });
  const range = { topicId, partitionIndex: 0, baseOffset: 0, endOffset: 4, position: 0, sizeBytes: 40, maxTimestamp: 1 };
  const fence = { nodeId: 1, incarnation: 0, leaderEpochs: [{ topicId, partitionIndex: 0, leaderEpoch: 0 }] };
  const snapshot = [{ topicId, partitionIndex: 0, endOffset: 4, state: '{"a":1}' }];
  const first = await store.commitObject('data/once', 40, [range], snapshot, fence);
  // The connection broke after COMMIT reached the server: the uploader retries with the same key.
  // Another broker may even have claimed the partition meanwhile.
  const other = new PostgresMetadataStore(config(url));
  await other.open();
  await other.claimPartitions({ nodeId: 2, incarnation: 0 });
  assert.equal(await store.commitObject('data/once', 40, [range], snapshot, fence), first);
  assert.deepEqual((await store.objectRanges(topicId, 0)).map((r) => [r.objectKey, r.baseOffset, r.endOffset]), [['data/once', 0, 4]], 'the range once');
  await assert.rejects(store.commitObject('data/new', 40, [{ ...range, baseOffset: 4, endOffset: 8 }], [], fence), (err: Error & { code?: string }) => err.code === 'STRAIT_FENCED', 'a new key is still fenced');
  await other.close();
  await store.close();
});

test('postgres: writes for a topic being deleted by another broker at the same moment are dropped as SQLite drops them, never failing', async () => {
  const { store: a, url } = await freshStore();
  const b = new PostgresMetadataStore(config(url));
  await b.open();
  for (let round = 0; round < 60; round++) {
    const topicId = randomKafkaUuid();
    await a.createTopic({ name: `gone-${round}`, topicId, partitionCount: 1, replicationFactor: 1, configs: {}, leaderId: 1 });
    const range = { topicId, partitionIndex: 0, baseOffset: 0, endOffset: 1, position: 0, sizeBytes: 1, maxTimestamp: 1 };
    const writes = [
      a.commitObject(`data/gone-${round}`, 1, [range], [{ topicId, partitionIndex: 0, endOffset: 1, state: '{}' }]),
      a.saveLeaderEpochs({ topicId, partitionIndex: 0, entries: [{ epoch: 0, startOffset: 0 }] }),
    ];
    const deleting = hops(round % 8).then(() => b.deleteTopic(topicId));
    await Promise.all([...writes, deleting]);
    assert.deepEqual(await a.objectRanges(topicId, 0), [], `round ${round}: no range of a deleted topic is left`);
    assert.deepEqual((await a.leaderEpochHistories()).filter((h) => h.topicId === topicId), [], `round ${round}: nor its leader epochs`);
  }
  await a.close();
  await b.close();
});
