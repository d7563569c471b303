// Kill -9 during acks=all produce (see crash-produce.ts for what is checked after each restart):
// STRAIT_TEST_KILL_CYCLES cycles (default 3) with the file WAL and the folder object store, the same
// with the S3 object store on MinIO, and a run where MinIO is down for a while. crash-produce.long.test.ts
// runs many more cycles. Needs scripts/install-test-deps.sh (Kafka's jars, kcat, MinIO).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startMinio, type MinioHandle } from '../compat/harness.ts';
import { outageReadAnswerMsMax, Random, runKillCycles, runOutage, s3Args, type ReadDuringOutage } from './crash-produce.ts';

const cycles = Number(process.env['STRAIT_TEST_KILL_CYCLES'] ?? 3);
// Uploads every 300 ms: at each kill, some acknowledged data is in objects and some only in the WAL.
const uploadArgs = ['--upload-interval-ms', '300'];

test(`file WAL, folder objects: ${cycles} kill -9 cycles during acks=all produce`, { timeout: 30_000 + cycles * 20_000 }, async (t) => {
  const random = new Random();
  const result = await runKillCycles({ cycles, straitArgs: uploadArgs, random, log: (m) => t.diagnostic(m) });
  t.diagnostic(`seed ${random.seed}: ${JSON.stringify(result)}`);
  assert.ok(result.acked > 0);
});

describe('S3 object store on MinIO', () => {
  let minio: MinioHandle | undefined;
  before(async () => {
    minio = await startMinio();
  }, { timeout: 60_000 });
  after(async () => {
    await minio?.stop();
  });

  test(`${cycles} kill -9 cycles during acks=all produce`, { timeout: 30_000 + cycles * 20_000 }, async (t) => {
    assert.ok(minio !== undefined, 'MinIO did not start');
    const random = new Random();
    const straitArgs = [...uploadArgs, ...(await s3Args(minio, `crash-${randomBytes(4).toString('hex')}`))];
    const result = await runKillCycles({ cycles, straitArgs, random, log: (m) => t.diagnostic(m) });
    t.diagnostic(`seed ${random.seed}: ${JSON.stringify(result)}`);
    assert.ok(result.acked > 0);
  });

  let readDuringOutage: ReadDuringOutage | undefined;

  // See runOutage (crash-produce.ts): two outages, the second with a kill -9 and a restart during it.
  test('MinIO down mid-run: nothing acknowledged lost, uploaded data readable again after it returns', { timeout: 150_000 }, async (t) => {
    assert.ok(minio !== undefined, 'MinIO did not start');
    readDuringOutage = await runOutage({ minio, mode: 'kill', log: (m) => t.diagnostic(m) });
  });

  // CONVENTIONS.md: a storage fault becomes the right Kafka error code for that partition (Kafka
  // answers KAFKA_STORAGE_ERROR for a log it cannot read, and a consumer retries it). The fetch
  // asks for data the metrics showed uploaded, with maxWaitMs 0: an empty success would tell the
  // consumer there is nothing there, a hang stalls it, and a closed connection fails every other
  // partition of the request.
  test(`a read of uploaded data during the outage gets its records or a retriable error within ${outageReadAnswerMsMax} ms, on an open connection`, () => {
    assert.ok(readDuringOutage !== undefined, 'the outage test did not get as far as the read');
    assert.ok(['records', 'retriable error'].includes(readDuringOutage.outcome), `${readDuringOutage.outcome}: ${readDuringOutage.detail}`);
  });
});
