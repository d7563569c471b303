// The WAL contract (wal-contract.ts) on the object WAL as brokers run it in production: objects on a
// real MinIO through the S3 engine, metadata on a real PostgreSQL.
import { after, before } from 'node:test';
import { startMinio, type MinioHandle } from '../compat/harness.ts';
import { startPostgres, type PostgresHandle } from '../helpers/postgres.ts';
import { S3Store } from '../../src/storage/objects/index.ts';
import { PostgresMetadataStore } from '../../src/metadata/index.ts';
import { objectWalEngine, walContract } from './wal-contract.ts';

let minio: MinioHandle;
let pg: PostgresHandle;
let n = 0;

before(async () => {
  [minio, pg] = await Promise.all([startMinio(), startPostgres()]);
});
after(async () => {
  await Promise.allSettled([minio?.stop(), pg?.stop()]);
});

walContract('object (MinIO + PostgreSQL)', async () => {
  const i = n++;
  const bucket = `wal-contract-${i}`;
  const objects = new S3Store({ endpoint: minio.endpoint, region: minio.region, bucket, accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey, pathStyle: true });
  await objects.createBucket();
  const url = await pg.createDatabase(`wal_contract_${i}`);
  const store = new PostgresMetadataStore({ url, poolSize: 4, statementTimeoutMs: 10_000 });
  await store.open();
  return objectWalEngine(objects, store, async () => {
    await store.close();
    await objects.close();
  });
});
