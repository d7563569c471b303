// Kill -9 during acks=all produce: Apache Kafka's VerifiableProducer (acks=all, retries=0,
// idempotence off, throughput limited) writes while Strait is killed with SIGKILL at a random
// moment, then Strait restarts on the same data folder and the whole topic is read back (kcat):
//   - every acknowledged record is present at exactly the offset it was acknowledged with;
//   - every partition's offsets run 0, 1, 2, … without a gap;
//   - no value appears twice (with retries=0 nothing is ever sent twice, so a duplicate is the
//     broker's), and each run's values keep their send order within a partition;
//   - records whose send failed or whose answer was lost may be present (they may have been durable
//     when the broker died), once at most.
// Also an object-store outage (runOutage). Used by crash-produce.test.ts (a few cycles) and
// crash-produce.long.test.ts (many).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaJavaCommand, runCommand, startStrait, type MinioHandle, type StraitHandle } from '../compat/harness.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { S3Store } from '../../src/storage/objects/index.ts';
import { readBatches } from '../../src/protocol/records/index.ts';

export interface Ack {
  value: string;
  partition: number;
  offset: number;
}

export interface StoredRecord {
  partition: number;
  offset: number;
  value: string;
}

/** A small seeded generator, so a failing run can be repeated (STRAIT_TEST_SEED). */
export class Random {
  private state: number;
  readonly seed: number;
  constructor(seed = Number(process.env['STRAIT_TEST_SEED'] ?? Date.now() % 1_000_000)) {
    this.seed = seed;
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  between(min: number, max: number): number {
    return Math.round(min + this.next() * (max - min));
  }
}

// --- processes this file starts (beside the harness's brokers) -------------------------------------

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** VerifiableProducer running in its own process group, its JSON lines parsed as they come. */
export class VerifiableProducer {
  readonly acks: Ack[] = [];
  readonly failed: string[] = [];
  private readonly child: ChildProcess;
  private stderr = '';
  private pending = '';
  private ackWaiters: { count: number; resolve: () => void }[] = [];

  constructor(bootstrap: string, topic: string, valuePrefix: number, configPath: string, throughput: number) {
    const java = kafkaJavaCommand('org.apache.kafka.tools.VerifiableProducer', [
      '--bootstrap-server',
      bootstrap,
      '--topic',
      topic,
      '--acks',
      '-1',
      '--throughput',
      String(throughput),
      '--value-prefix',
      String(valuePrefix),
      '--command-config',
      configPath,
    ]);
    this.child = spawn(java.command, java.args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this.child);
    this.child.once('exit', () => live.delete(this.child));
    this.child.stdout?.on('data', (chunk: Buffer) => this.onStdout(chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-20_000);
    });
  }

  private onStdout(text: string): void {
    this.pending += text;
    const lines = this.pending.split('\n');
    this.pending = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      const event = JSON.parse(line) as { name: string; value?: string; partition?: number; offset?: number; exception?: string; message?: string };
      if (event.name === 'producer_send_success') {
        this.acks.push({ value: event.value!, partition: event.partition!, offset: event.offset! });
      } else if (event.name === 'producer_send_error') {
        this.failed.push(`${event.value}: ${event.exception} ${event.message}`);
      }
    }
    this.ackWaiters = this.ackWaiters.filter((w) => {
      if (this.acks.length < w.count) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once `count` sends were acknowledged; rejects on timeout or exit. */
  async waitForAcks(count: number, timeoutMs: number): Promise<void> {
    if (this.acks.length >= count) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`VerifiableProducer had ${this.acks.length} of ${count} acks after ${timeoutMs} ms\n${this.stderr}`)), timeoutMs);
      this.child.once('exit', () => reject(new Error(`VerifiableProducer exited (${this.child.exitCode ?? this.child.signalCode})\n${this.stderr}`)));
      this.ackWaiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** SIGTERM: its shutdown hook closes the producer, which fails what is still unanswered. */
  async stop(graceMs = 15_000): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      return;
    }
    if (!(await waitForExit(this.child, graceMs))) {
      process.kill(-pid, 'SIGKILL');
      await waitForExit(this.child, 5000);
    }
  }

  stderrTail(): string {
    return this.stderr;
  }
}

/**
 * Producer settings for the crash runs: no retries and no idempotence (so nothing is ever sent
 * twice), short timeouts (a send to a dead broker fails within 1.5 s, so the producer stops
 * quickly after a kill; a slow answer only turns into a failed send, which the checks allow),
 * small batches.
 */
export function writeProducerConfig(dir: string): string {
  const path = join(dir, 'producer.properties');
  writeFileSync(
    path,
    [
      'enable.idempotence=false',
      'retries=0',
      'acks=all',
      'max.in.flight.requests.per.connection=5',
      'linger.ms=2',
      'batch.size=16384',
      'request.timeout.ms=1000',
      'delivery.timeout.ms=1500',
      'max.block.ms=3000',
      'reconnect.backoff.max.ms=200',
      '',
    ].join('\n'),
  );
  return path;
}

// --- reading back ------------------------------------------------------------------------------------

/** Every record of the topic, read with kcat's simple consumer (no group) from the beginning to the end. */
export async function readTopic(bootstrap: string, topic: string, workDir: string, timeoutMs = 60_000): Promise<StoredRecord[]> {
  const out = join(workDir, 'read.txt');
  const args = ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-m', '20', '-f', '%p\\t%o\\t%s\\n'];
  const result = await runCommand('sh', ['-c', 'out=$1; shift; exec kcat "$@" >"$out"', 'kcat', out, ...args], { timeoutMs });
  if (result.code !== 0) throw new Error(`kcat could not read ${topic} (exit ${result.code}):\n${result.stderr}`);
  return readFileSync(out, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [partition, offset, value] = line.split('\t') as [string, string, string];
      return { partition: Number(partition), offset: Number(offset), value };
    });
}

export interface Verification {
  records: number;
  acked: number;
  /** Present in the log though never acknowledged (durable when the broker died, answer lost). */
  unacknowledgedPresent: number;
}

/** Checks the stored records against every acknowledgement so far (see the file comment). */
export function verify(stored: StoredRecord[], acks: readonly Ack[], partitions: number, context: string): Verification {
  const byPartition = new Map<number, StoredRecord[]>();
  // One push per record: copying the partition's list for every record made this quadratic (100,000
  // records took 45 s).
  for (const r of stored) {
    const records = byPartition.get(r.partition);
    if (records === undefined) byPartition.set(r.partition, [r]);
    else records.push(r);
  }
  for (const [partition, records] of byPartition) {
    assert.ok(partition >= 0 && partition < partitions, `${context}: a record in partition ${partition}`);
    records.sort((a, b) => a.offset - b.offset);
    records.forEach((r, i) => assert.equal(r.offset, i, `${context}: partition ${partition} has offset ${r.offset} where ${i} comes next (a gap or a repeat)`));
  }
  const at = new Map(stored.map((r) => [`${r.partition}/${r.offset}`, r.value]));
  const missing = acks.filter((a) => at.get(`${a.partition}/${a.offset}`) !== a.value);
  assert.deepEqual(
    missing.slice(0, 10).map((a) => `${a.value} acked at ${a.partition}/${a.offset}, stored there: ${at.get(`${a.partition}/${a.offset}`) ?? 'nothing'}`),
    [],
    `${context}: ${missing.length} of ${acks.length} acknowledged records are not where they were acknowledged`,
  );
  const seen = new Map<string, string>();
  for (const r of stored) {
    const earlier = seen.get(r.value);
    assert.equal(earlier, undefined, `${context}: value ${r.value} is stored twice (${earlier} and ${r.partition}/${r.offset})`);
    seen.set(r.value, `${r.partition}/${r.offset}`);
  }
  // VerifiableProducer sends PREFIX.0, PREFIX.1, … (PREFIX an integer: one per run): within a partition one run's values keep that order.
  for (const [partition, records] of byPartition) {
    const last = new Map<string, number>();
    for (const r of records) {
      const dot = r.value.lastIndexOf('.');
      const run = r.value.slice(0, dot);
      const n = Number(r.value.slice(dot + 1));
      assert.ok((last.get(run) ?? -1) < n, `${context}: partition ${partition} holds ${r.value} after ${run}.${last.get(run)} (out of send order)`);
      last.set(run, n);
    }
  }
  const acked = new Set(acks.map((a) => a.value));
  return { records: stored.length, acked: acks.length, unacknowledgedPresent: stored.filter((r) => !acked.has(r.value)).length };
}

// --- topics and object stores ------------------------------------------------------------------------

export async function createTopic(port: number, topic: string, partitions: number): Promise<void> {
  const client = await RawClient.connect(port);
  try {
    const r = await client.request(ApiKey.CreateTopics, 7, { timeoutMs: 10_000, topics: [{ name: topic, numPartitions: partitions, replicationFactor: 1, configs: [] }] });
    assert.equal(r.topics[0].errorCode, 0, `create ${topic}: ${r.topics[0].errorMessage}`);
  } finally {
    client.close();
  }
}

/** Strait's flags for an S3 object store on MinIO, creating the bucket first. */
export async function s3Args(minio: MinioHandle, bucket: string): Promise<string[]> {
  const store = new S3Store({ endpoint: minio.endpoint, region: minio.region, bucket, accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey, pathStyle: true });
  try {
    await store.createBucket();
  } finally {
    await store.close();
  }
  return [
    '--object-store', 's3',
    '--s3-endpoint', minio.endpoint,
    '--s3-region', minio.region,
    '--s3-bucket', bucket,
    '--s3-access-key-id', minio.accessKey,
    '--s3-secret-access-key', minio.secretKey,
    '--s3-path-style-access', 'true',
  ];
}

// --- the kill cycles -----------------------------------------------------------------------------------

export interface KillCycleOptions {
  cycles: number;
  /** Extra Strait flags (object store, upload interval). */
  straitArgs: string[];
  partitions?: number;
  throughput?: number;
  random?: Random;
  log?: (message: string) => void;
}

export interface KillCycleResult {
  acked: number;
  records: number;
  unacknowledgedPresent: number;
  failedSends: number;
}

/** Kill -9 cycles on one data folder; see the file comment for what is checked after each restart. */
export async function runKillCycles(o: KillCycleOptions): Promise<KillCycleResult> {
  const random = o.random ?? new Random();
  const log = o.log ?? (() => {});
  const partitions = o.partitions ?? 3;
  const workDir = mkdtempSync(join(tmpdir(), 'strait-crash-'));
  const dataDir = join(workDir, 'data');
  const topic = 'crash-produce';
  const configPath = writeProducerConfig(workDir);
  const acks: Ack[] = [];
  let failedSends = 0;
  let last: Verification = { records: 0, acked: 0, unacknowledgedPresent: 0 };
  let broker: StraitHandle | undefined = await startStrait({ dataDir, args: o.straitArgs });
  try {
    await createTopic(broker.port, topic, partitions);
    for (let cycle = 0; cycle < o.cycles; cycle++) {
      const producer = new VerifiableProducer(broker.bootstrap, topic, cycle + 1, configPath, o.throughput ?? 1500);
      let killDelayMs = 0;
      try {
        await producer.waitForAcks(1, 30_000);
        // Somewhere between a few batches and a few uploads in.
        killDelayMs = random.between(100, 1500);
        await sleep(killDelayMs);
        await broker.kill9();
      } finally {
        await producer.stop();
      }
      acks.push(...producer.acks);
      failedSends += producer.failed.length;
      assert.ok(producer.acks.length > 0, `cycle ${cycle}: nothing was acknowledged\n${producer.stderrTail()}`);
      broker = await startStrait({ dataDir, args: o.straitArgs });
      const stored = await readTopic(broker.bootstrap, topic, workDir);
      last = verify(stored, acks, partitions, `cycle ${cycle} (seed ${random.seed}, killed ${killDelayMs} ms after the first ack)`);
      log(`cycle ${cycle}: killed ${killDelayMs} ms after the first ack; ${producer.acks.length} acked, ${producer.failed.length} failed; log holds ${last.records} records, ${last.unacknowledgedPresent} never acknowledged`);
    }
  } catch (error) {
    const output = broker?.output().slice(-6000) ?? '';
    throw new Error(`${(error as Error).message}\n--- Strait's last output:\n${output}`, { cause: error });
  } finally {
    await broker?.stop().catch(() => undefined);
    rmSync(workDir, { recursive: true, force: true });
  }
  return { acked: last.acked, records: last.records, unacknowledgedPresent: last.unacknowledgedPresent, failedSends };
}

// --- an object-store outage --------------------------------------------------------------------------

export interface OutageOptions {
  minio: MinioHandle;
  /** kill: MinIO refuses connections; pause: MinIO is frozen (SIGSTOP), requests hang. */
  mode: 'kill' | 'pause';
  log?: (message: string) => void;
}

/**
 * What a fetch of uploaded data got while the object store was away. Only 'records' (the
 * acknowledged records at the fetched offset) and 'retriable error' (KAFKA_STORAGE_ERROR and the
 * like: a consumer retries) are right; an empty success, a non-retriable error, no answer within
 * the bound and a closed connection are not.
 */
export type ReadDuringOutage = {
  outcome: 'records' | 'retriable error' | 'empty answer' | 'other error' | 'waiting' | 'connection closed';
  detail: string;
};

/** Error codes a consumer retries that fit "the log cannot be read right now". */
const retriableReadErrors = new Map([
  [ErrorCode.KAFKA_STORAGE_ERROR, 'KAFKA_STORAGE_ERROR'],
  [ErrorCode.REQUEST_TIMED_OUT, 'REQUEST_TIMED_OUT'],
  [ErrorCode.NOT_LEADER_OR_FOLLOWER, 'NOT_LEADER_OR_FOLLOWER'],
  [ErrorCode.LEADER_NOT_AVAILABLE, 'LEADER_NOT_AVAILABLE'],
]);

/** How long a fetch with maxWaitMs 0 may take to answer during the outage (a consumer's request.timeout.ms is 30 s). */
export const outageReadAnswerMsMax = 15_000;

/** One sample of the uploader's metrics on GET /metrics. */
export interface UploadMetrics {
  pendingBytes: number;
  uploadedBytes: number;
}

export async function uploadMetrics(adminUrl: string): Promise<UploadMetrics> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const value = (name: string): number => {
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    if (m === null) throw new Error(`GET /metrics has no ${name}`);
    return Number(m[1]);
  };
  return { pendingBytes: value('strait_upload_pending_bytes'), uploadedBytes: value('strait_uploaded_bytes_total') };
}

/**
 * Resolves once nothing durable waits for object storage (strait_upload_pending_bytes 0) and
 * something was uploaded; throws with the last sample after timeoutMs.
 */
export async function waitForUploads(adminUrl: string, timeoutMs: number): Promise<UploadMetrics> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = await uploadMetrics(adminUrl);
    if (m.pendingBytes === 0 && m.uploadedBytes > 0) return m;
    if (Date.now() > deadline) throw new Error(`uploads did not catch up within ${timeoutMs} ms: ${JSON.stringify(m)}`);
    await sleep(100);
  }
}

/**
 * MinIO goes away while a producer writes: acknowledged writes are durable in the WAL, so produces
 * go on being acknowledged (or would fail once too much waits for upload) and nothing acknowledged
 * is lost. Reads of data uploaded before the outage work again once MinIO is back, in the same
 * process; then a second outage, with Strait killed during it and restarted while MinIO is still
 * away, loses nothing either. Returns what a read of uploaded data got during the first outage.
 */
export async function runOutage(o: OutageOptions): Promise<ReadDuringOutage | undefined> {
  const { minio } = o;
  const log = o.log ?? (() => {});
  const down = (): Promise<void> => (o.mode === 'kill' ? minio.kill() : Promise.resolve(minio.pause()));
  const up = (): Promise<void> => (o.mode === 'kill' ? (minio.exitStatus() === null ? Promise.resolve() : minio.restart()) : Promise.resolve(minio.resume()));
  let readDuringOutage: ReadDuringOutage | undefined;
  const workDir = mkdtempSync(join(tmpdir(), 'strait-outage-'));
  const dataDir = join(workDir, 'data');
  const topic = 'crash-outage';
  const partitions = 3;
  // The tail and block caches are off, so every read of uploaded data goes to MinIO.
  const straitArgs = ['--upload-interval-ms', '300', '--tail-cache-bytes-max', '0', '--block-cache-bytes-max', '0', ...(await s3Args(minio, `outage-${randomBytes(4).toString('hex')}`))];
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
    // Known, not assumed: everything acknowledged so far is in objects before MinIO goes away.
    log(`before the outage: ${JSON.stringify(await waitForUploads(broker.adminUrl, 30_000))}`);
    verify(await readTopic(broker.bootstrap, topic, workDir), acks, partitions, 'before the outage');

    // 2. MinIO away: keep writing for a while; try a read of uploaded data.
    await down();
    const during = new VerifiableProducer(broker.bootstrap, topic, 2, configPath, 1000);
    try {
      await during.waitForAcks(1, 30_000).catch(() => undefined);
      // A read of uploaded data while MinIO is away (the caller judges the outcome).
      readDuringOutage = await fetchDuringOutage(broker.port, topic, before.acks);
      log(`fetch of uploaded data during the outage: ${readDuringOutage.outcome}: ${readDuringOutage.detail}`);
      assert.equal(broker.exitStatus(), null, 'Strait survived a read during the outage');
      await new Promise((resolve) => setTimeout(resolve, 1500));
    } finally {
      await during.stop();
    }
    acks.push(...during.acks);
    log(`during the outage: ${during.acks.length} acknowledged, ${during.failed.length} failed${during.failed.length > 0 ? ` (first: ${during.failed[0]})` : ''}`);

    // 3. MinIO back, the same Strait process: reads of uploaded data resume, and everything
    //    acknowledged during the outage is there too.
    await up();
    log(`after MinIO returned: ${JSON.stringify(verify(await readTopic(broker.bootstrap, topic, workDir), acks, partitions, 'after MinIO returned'))}`);

    // 4. MinIO away again, Strait killed during the outage while a producer writes.
    await down();
    const crashed = new VerifiableProducer(broker.bootstrap, topic, 3, configPath, 1000);
    try {
      await crashed.waitForAcks(1, 30_000).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await broker.kill9();
    } finally {
      await crashed.stop();
    }
    acks.push(...crashed.acks);

    // 5. Restart while MinIO is still away, then bring it back: every acknowledged record,
    //    uploaded before an outage or only in the WAL, must read back.
    const restarting = startStrait({ dataDir, args: straitArgs, readyTimeoutMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await up();
    broker = await restarting;
    const result = verify(await readTopic(broker.bootstrap, topic, workDir), acks, partitions, 'after a kill during the outage and a restart');
    log(`after the restart: ${JSON.stringify(result)}`);
    assert.ok(during.acks.length > 0 && crashed.acks.length > 0, 'produces were acknowledged during the outages (the WAL holds them)');
    assert.ok(before.acks.length >= 500);
  } catch (error) {
    const output = broker?.output().slice(-6000) ?? '';
    throw new Error(`${(error as Error).message}\n--- Strait's last output:\n${output}`, { cause: error });
  } finally {
    await broker?.stop().catch(() => undefined);
    await up().catch(() => undefined);
    rmSync(workDir, { recursive: true, force: true });
  }
  return readDuringOutage;
}

/**
 * Fetches the first record acknowledged before the outage (uploaded, as the metrics showed, and
 * neither in the tail cache nor in the block cache, both off) and describes the outcome (see
 * ReadDuringOutage). Throws if records come back that differ from what was acknowledged there.
 */
async function fetchDuringOutage(port: number, topic: string, acks: readonly Ack[]): Promise<ReadDuringOutage> {
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
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'waiting'>((resolve) => (timer = setTimeout(() => resolve('waiting'), outageReadAnswerMsMax)));
    let r: any;
    try {
      r = await Promise.race([answer, timeout]);
    } catch (error) {
      return { outcome: 'connection closed', detail: `${(error as Error).message} after ${Date.now() - started} ms (fetch of ${partition}/${offset})` };
    } finally {
      clearTimeout(timer);
    }
    if (r === 'waiting') return { outcome: 'waiting', detail: `no answer within ${outageReadAnswerMsMax} ms (fetch of ${partition}/${offset})` };
    const p = r.responses[0].partitions[0];
    const ms = Date.now() - started;
    if (p.errorCode !== 0) {
      const name = retriableReadErrors.get(p.errorCode);
      return name === undefined
        ? { outcome: 'other error', detail: `error code ${p.errorCode} after ${ms} ms (fetch of ${partition}/${offset})` }
        : { outcome: 'retriable error', detail: `${name} after ${ms} ms (fetch of ${partition}/${offset})` };
    }
    const records = [...readBatches(p.records ?? Buffer.alloc(0))].flatMap((b) => b.records);
    const expected = new Map(partitionAcks.map((a) => [a.offset, a.value]));
    for (const record of records) {
      const want = expected.get(record.offset);
      if (want !== undefined) assert.equal(record.value?.toString(), want, `record ${partition}/${record.offset} read during the outage`);
    }
    // An answer without the record asked for (acknowledged and uploaded) tells the consumer "nothing there".
    if (!records.some((record) => record.offset === offset)) {
      return { outcome: 'empty answer', detail: `no error and ${records.length} records, none at ${partition}/${offset}, after ${ms} ms` };
    }
    return { outcome: 'records', detail: `${records.length} records from ${partition}/${offset}, each as acknowledged, after ${ms} ms` };
  } finally {
    client.close();
  }
}
