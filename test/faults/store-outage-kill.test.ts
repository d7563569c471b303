// Kill -9 under idempotent producers while the object store keeps failing and recovering (see
// store-outage-kill.ts): STRAIT_TEST_OUTAGE_KILLS (default 3) kills of Strait on the S3 engine, MinIO
// behind a proxy that refuses, resets and black-holes its connections every few seconds, the upload
// backlog over upload.pending.bytes.max; every acknowledged value ends up stored exactly once at its
// offset. store-outage-kill.long.test.ts runs 50 kills. Needs scripts/install-test-deps.sh (Kafka's
// jars, kcat, MinIO). Set STRAIT_TEST_SEED to repeat a run's kill and outage moments.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startMinio, type MinioHandle } from '../compat/harness.ts';
import { Random } from './crash-produce.ts';
import { runStoreOutageKills } from './store-outage-kill.ts';

const kills = Number(process.env['STRAIT_TEST_OUTAGE_KILLS'] ?? 3);

let minio: MinioHandle | undefined;
before(async () => {
  minio = await startMinio();
}, { timeout: 60_000 });
after(async () => {
  await minio?.stop();
});

test(`idempotent producers through ${kills} kill -9 restarts with the object store failing and recovering: every acknowledged value exactly once`, { timeout: 90_000 + kills * 15_000 }, async (t) => {
  assert.ok(minio !== undefined, 'MinIO did not start');
  const random = new Random();
  t.diagnostic(`seed ${random.seed}`);
  const result = await runStoreOutageKills({ minio, kills, random, log: (m) => t.diagnostic(m) });
  t.diagnostic(JSON.stringify(result));
  assert.equal(result.lost + result.duplicated, 0);
});
