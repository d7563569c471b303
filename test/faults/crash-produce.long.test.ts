// The long run of crash-produce.test.ts (npm run test:long): STRAIT_TEST_KILL_CYCLES kill -9 cycles
// (default 25) during acks=all produce, with the file WAL and the folder object store and then with
// the S3 object store on MinIO, and the outage run with MinIO frozen (SIGSTOP: requests hang rather
// than being refused). See crash-produce.ts for what is checked after each restart; set
// STRAIT_TEST_SEED to repeat a run's kill moments.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startMinio, type MinioHandle } from '../compat/harness.ts';
import { Random, runKillCycles, runOutage, s3Args } from './crash-produce.ts';

const cycles = Number(process.env['STRAIT_TEST_KILL_CYCLES'] ?? 25);
const uploadArgs = ['--upload-interval-ms', '300'];
const timeoutMs = 60_000 + cycles * 30_000;

test(`file WAL, folder objects: ${cycles} kill -9 cycles during acks=all produce`, { timeout: timeoutMs }, async (t) => {
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

  test(`${cycles} kill -9 cycles during acks=all produce`, { timeout: timeoutMs }, async (t) => {
    assert.ok(minio !== undefined, 'MinIO did not start');
    const random = new Random();
    const straitArgs = [...uploadArgs, ...(await s3Args(minio, `crash-long-${randomBytes(4).toString('hex')}`))];
    const result = await runKillCycles({ cycles, straitArgs, random, log: (m) => t.diagnostic(m) });
    t.diagnostic(`seed ${random.seed}: ${JSON.stringify(result)}`);
    assert.ok(result.acked > 0);
  });

  test('MinIO frozen mid-run: nothing acknowledged lost, uploaded data readable again after it thaws', { timeout: 240_000 }, async (t) => {
    assert.ok(minio !== undefined, 'MinIO did not start');
    const read = await runOutage({ minio, mode: 'pause', log: (m) => t.diagnostic(m) });
    assert.ok(read !== undefined);
    // The acknowledged records or a retriable error, in bounded time: a hang, an empty success or a
    // closed connection fails (as in the short outage test).
    assert.ok(['records', 'retriable error'].includes(read.outcome), `${read.outcome}: ${read.detail}`);
  });
});
