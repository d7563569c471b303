// Kill -9 during acks=all produce (see crash-produce.ts for what is checked after each restart):
// STRAIT_TEST_KILL_CYCLES cycles (default 3) with the file WAL and the folder object store, the same
// with the S3 object store on MinIO, and a run where MinIO is down for a while. crash-produce.long.test.ts
// runs many more cycles. Needs scripts/install-test-deps.sh (Kafka's jars, kcat, MinIO).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMinio, startStrait, type MinioHandle, type StraitHandle } from '../compat/harness.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { readBatches } from '../../src/protocol/records/index.ts';
import { createTopic, readTopic, Random, runKillCycles, s3Args, verify, VerifiableProducer, writeProducerConfig, type Ack } from './crash-produce.ts';

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

  let readDuringOutage: { outcome: string; detail: string } | undefined;

  // MinIO dies while a producer writes: acknowledged writes are durable in the WAL, so produces go on
  // being acknowledged (or fail once too much waits for upload) and nothing acknowledged is lost,
  // not even when Strait is killed during the outage and restarted while MinIO is still down.
  // Reads of data that was uploaded before the outage work again once MinIO is back.
  test('MinIO down mid-run: nothing acknowledged lost, uploaded data readable again after it returns', { timeout: 120_000 }, async (t) => {
    assert.ok(minio !== undefined, 'MinIO did not start');
    const workDir = mkdtempSync(join(tmpdir(), 'strait-outage-'));
    const dataDir = join(workDir, 'data');
    const topic = 'crash-outage';
    const partitions = 3;
    // The tail and block caches are off, so every read of uploaded data goes to MinIO.
    const straitArgs = [...uploadArgs, '--tail-cache-bytes-max', '0', '--block-cache-bytes-max', '0', ...(await s3Args(minio, `outage-${randomBytes(4).toString('hex')}`))];
    const configPath = writeProducerConfig(workDir);
    const acks: Ack[] = [];
    let broker: StraitHandle | undefined;
    try {
      broker = await startStrait({ dataDir, args: straitArgs });
      await createTopic(broker.port, topic, partitions);

      // 1. MinIO up: write, let the uploader catch up, read everything back.
      const before = new VerifiableProducer(broker.bootstrap, topic, 1, configPath, 1000);
      try {
        await before.waitForAcks(500, 30_000);
      } finally {
        await before.stop();
      }
      acks.push(...before.acks);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      verify(await readTopic(broker.bootstrap, topic, workDir), acks, partitions, 'before the outage');

      // 2. MinIO down: keep writing for a while, then kill Strait during the outage.
      await minio.kill();
      const during = new VerifiableProducer(broker.bootstrap, topic, 2, configPath, 1000);
      try {
        await during.waitForAcks(1, 30_000).catch(() => undefined);
        // A read of uploaded data while MinIO is down (judged by the next test).
        readDuringOutage = await fetchDuringOutage(broker.port, topic, before.acks);
        t.diagnostic(`fetch of uploaded data during the outage: ${readDuringOutage.outcome}: ${readDuringOutage.detail}`);
        assert.equal(broker.exitStatus(), null, 'Strait survived a read during the outage');
        await new Promise((resolve) => setTimeout(resolve, 1500));
        await broker.kill9();
      } finally {
        await during.stop();
      }
      acks.push(...during.acks);
      t.diagnostic(`during the outage: ${during.acks.length} acknowledged, ${during.failed.length} failed${during.failed.length > 0 ? ` (first: ${during.failed[0]})` : ''}`);

      // 3. Restart while MinIO is still down, then bring MinIO back: every acknowledged record,
      //    uploaded before the outage or only in the WAL, must read back.
      const restarting = startStrait({ dataDir, args: straitArgs, readyTimeoutMs: 60_000 });
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await minio.restart();
      broker = await restarting;
      const stored = await readTopic(broker.bootstrap, topic, workDir);
      const result = verify(stored, acks, partitions, 'after the outage and a restart');
      t.diagnostic(JSON.stringify(result));
      assert.ok(before.acks.length >= 500);
    } catch (error) {
      const output = broker?.output().slice(-6000) ?? '';
      throw new Error(`${(error as Error).message}\n--- Strait's last output:\n${output}`, { cause: error });
    } finally {
      await broker?.stop().catch(() => undefined);
      if (minio.exitStatus() !== null) await minio.restart().catch(() => undefined);
      rmSync(workDir, { recursive: true, force: true });
    }
  });

  // CONVENTIONS.md: a storage fault becomes the right Kafka error code for that partition (Kafka
  // answers KAFKA_STORAGE_ERROR for a log it cannot read); a long-poll style wait is fine too. A
  // closed connection is not: every other partition of the request fails with it.
  test('a read of uploaded data during the outage gets an error code or waits; the connection stays open', () => {
    assert.ok(readDuringOutage !== undefined, 'the outage test did not get as far as the read');
    assert.notEqual(readDuringOutage.outcome, 'connection closed', readDuringOutage.detail);
  });
});

/**
 * Fetches the first record acknowledged before the outage (uploaded, and neither in the tail cache
 * nor in the block cache, both off) and describes the outcome: an answer with an error code or with
 * the right records, a wait, or a closed connection. Throws if records come back that differ from
 * what was acknowledged there.
 */
async function fetchDuringOutage(port: number, topic: string, acks: readonly Ack[]): Promise<{ outcome: 'answer' | 'waiting' | 'connection closed'; detail: string }> {
  const perPartition = new Map<number, Ack[]>();
  for (const a of acks) perPartition.set(a.partition, [...(perPartition.get(a.partition) ?? []), a]);
  const [partition, partitionAcks] = [...perPartition].sort((a, b) => b[1].length - a[1].length)[0]!;
  const offset = Math.min(...partitionAcks.map((a) => a.offset));
  const client = await RawClient.connect(port);
  const started = Date.now();
  try {
    const answer = client.request(ApiKey.Fetch, 12, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1024 * 1024,
      sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition, fetchOffset: BigInt(offset), partitionMaxBytes: 1024 * 1024, currentLeaderEpoch: -1 }] }],
    });
    const timeout = new Promise<'waiting'>((resolve) => setTimeout(() => resolve('waiting'), 10_000));
    let r: any;
    try {
      r = await Promise.race([answer, timeout]);
    } catch (error) {
      return { outcome: 'connection closed', detail: `${(error as Error).message} after ${Date.now() - started} ms (fetch of ${partition}/${offset})` };
    }
    if (r === 'waiting') return { outcome: 'waiting', detail: 'no answer within 10 s' };
    const p = r.responses[0].partitions[0];
    const records = [...readBatches(p.records ?? Buffer.alloc(0))].flatMap((b) => b.records);
    const expected = new Map(partitionAcks.map((a) => [a.offset, a.value]));
    for (const record of records) {
      const want = expected.get(record.offset);
      if (want !== undefined) assert.equal(record.value?.toString(), want, `record ${partition}/${record.offset} read during the outage`);
    }
    return { outcome: 'answer', detail: `error code ${p.errorCode}, ${records.length} records from ${partition}/${offset}, after ${Date.now() - started} ms` };
  } finally {
    client.close();
  }
}
