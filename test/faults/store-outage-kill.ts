// Kill -9 under idempotent producers while the object store keeps failing and recovering.
//
// Strait runs on the S3 engine against a real MinIO, through a TCP proxy (test/helpers/fault-proxy.ts)
// that the run switches, every few seconds, between passing bytes and an outage: connections
// refused, reset, or accepted and black-holed. MinIO itself stays up. upload.pending.bytes.max is
// small (1 MiB, the least it may be) and a filler writes 1.5 times that per second to a second topic,
// so within a second or two of an outage the upload backlog reaches its bound and produces get the
// retriable KAFKA_STORAGE_ERROR and are retried. Two Apache Kafka VerifiableProducers
// (enable.idempotence=true, acks=all, unlimited retries) write to the same partitions, each on its
// own connection, so one's batch can be in flight while the other's is refused. Meanwhile Strait is
// killed with SIGKILL and restarted on the same data folder and port, many times, whatever the store
// is doing at that moment.
//
// At the end the store is healthy: the producers are closed (so every send they made is answered),
// the uploader catches up (strait_upload_pending_bytes 0), Strait is killed once more and restarted,
// so the log is read back from objects, and then:
//   - Strait never exited except when killed, no send failed and no producer logged a fatal
//     idempotence error;
//   - every acknowledged value is stored once, at the offset it was acknowledged with (0 lost, 0
//     duplicated), nothing unacknowledged is stored, offsets run 0, 1, 2, ... per partition, each
//     producer's values in send order (verify() in crash-produce.ts);
//   - the premise held: the proxy did cut the store off (connections of Strait's reset or stalled),
//     Strait counted failed uploads (strait_upload_failures_total, summed over its processes), the
//     backlog bound was reached (the filler's produces were refused with KAFKA_STORAGE_ERROR) and the
//     idempotent producers themselves retried batches refused that way. A run where the store never
//     failed fails.
// Used by store-outage-kill.test.ts (a few kills) and store-outage-kill.long.test.ts (50).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { kafkaJavaCommand, startMinio, startStrait, type MinioHandle, type StraitHandle } from '../compat/harness.ts';
import { FaultProxy, type FaultMode, type FaultProxyStats } from '../helpers/fault-proxy.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { buildBatch } from '../../src/protocol/records/index.ts';
import { createTopic, Random, readTopic, s3Args, verify, type Ack, type StoredRecord } from './crash-produce.ts';
import { writeIdempotentConfig } from './idempotent-kill.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

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

/** Exceptions that end an idempotent producer's session or mean the broker broke the sequence. */
const fatalPattern = /OutOfOrderSequence|ProducerFenced|UnknownProducerId|InvalidProducerEpoch|DuplicateSequence|InvalidPidMapping|ClusterAuthorization|fatal/i;
/** The Java producer's warning when it retries a batch the broker refused with KAFKA_STORAGE_ERROR. */
const storageErrorRetryPattern = /retrying .*Error: KAFKA_STORAGE_ERROR/;
/** A send the main thread attempted after SIGTERM's shutdown hook closed the producer: never sent. */
const sendAfterClosePattern = /after producer has been closed/;

/**
 * Apache Kafka's VerifiableProducer sending without a message limit until stop(): SIGTERM runs its
 * shutdown hook, which closes the producer, and close() waits until every send made is answered.
 */
export class OpenEndedProducer {
  readonly acks: Ack[] = [];
  readonly failed: string[] = [];
  /** Sends refused by the closed producer during shutdown (nothing went to the broker). */
  sendsAfterClose = 0;
  storageErrorRetries = 0;
  retries = 0;
  fatal: string[] = [];
  toolData: { sent: number; acked: number } | undefined;
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private stdoutOther = '';
  private stderrTail = '';
  private pendingOut = '';
  private pendingErr = '';

  readonly valuePrefix: number;

  constructor(bootstrap: string, topic: string, configPath: string, throughput: number, valuePrefix: number) {
    this.valuePrefix = valuePrefix;
    const java = kafkaJavaCommand('org.apache.kafka.tools.VerifiableProducer', [
      '--bootstrap-server', bootstrap,
      '--topic', topic,
      '--acks', '-1',
      '--throughput', String(throughput),
      '--value-prefix', String(valuePrefix),
      '--command-config', configPath,
    ]);
    this.child = spawn(java.command, java.args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code) => {
        live.delete(this.child);
        resolve(code);
      });
    });
    this.child.stdout?.on('data', (chunk: Buffer) => this.onStdout(chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => this.onStderr(chunk.toString()));
  }

  private onStdout(text: string): void {
    this.pendingOut += text;
    const lines = this.pendingOut.split('\n');
    this.pendingOut = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) {
        this.stdoutOther = (this.stdoutOther + line + '\n').slice(-20_000);
        continue;
      }
      const event = JSON.parse(line) as { name: string; value?: string; partition?: number; offset?: number; exception?: string; message?: string; sent?: number; acked?: number };
      if (event.name === 'producer_send_success') {
        this.acks.push({ value: event.value!, partition: event.partition!, offset: event.offset! });
      } else if (event.name === 'producer_send_error') {
        if (sendAfterClosePattern.test(event.message ?? '')) this.sendsAfterClose++;
        else this.failed.push(`${event.value}: ${event.exception} ${event.message}`);
      } else {
        if (event.name === 'tool_data') this.toolData = { sent: event.sent!, acked: event.acked! };
        this.stdoutOther = (this.stdoutOther + line + '\n').slice(-20_000);
      }
    }
  }

  private onStderr(text: string): void {
    this.stderrTail = (this.stderrTail + text).slice(-30_000);
    this.pendingErr += text;
    const lines = this.pendingErr.split('\n');
    this.pendingErr = lines.pop() ?? '';
    for (const line of lines) {
      if (/ WARN .*retrying/.test(line)) this.retries++;
      if (storageErrorRetryPattern.test(line)) this.storageErrorRetries++;
      if (fatalPattern.test(line) && this.fatal.length < 10) this.fatal.push(line);
    }
  }

  running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM, then the exit code (or 'timeout' after timeoutMs, when it is killed). */
  async stop(timeoutMs: number): Promise<number | null | 'timeout'> {
    if (this.child.pid === undefined) return null;
    try {
      process.kill(-this.child.pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([this.exited, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)))]);
    clearTimeout(timer);
    if (result === 'timeout') this.kill();
    return result;
  }

  kill(): void {
    try {
      if (this.child.pid !== undefined) process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }

  output(): string {
    return `stdout (other events):\n${this.stdoutOther}\nstderr (last part):\n${this.stderrTail}`;
  }
}

/** Produces large batches without idempotence to another topic, so the upload backlog grows fast. */
export class Filler {
  ok = 0;
  /** Produces refused with KAFKA_STORAGE_ERROR: the upload backlog was over its bound. */
  storageErrors = 0;
  otherErrors = new Map<number, number>();
  connectionErrors = 0;
  private stopped = false;
  private readonly done: Promise<void>;

  /**
   * `concurrency` connections each keep one produce outstanding: with a WAL whose writes take tens
   * of milliseconds (wal.kind=object) one connection alone would not reach bytesPerSecond, nor have
   * enough waiting during an outage to reach a backlog bound.
   */
  constructor(port: () => number, topic: string, bytesPerSecond: number, concurrency = 1) {
    const batchBytes = 64 * 1024;
    const intervalMs = Math.max(5, Math.round((batchBytes * 1000 * concurrency) / bytesPerSecond));
    const records = Array.from({ length: 16 }, () => ({ value: randomBytes(batchBytes / 16) }));
    const loop = async (): Promise<void> => {
      let client: RawClient | undefined;
      while (!this.stopped) {
        const started = Date.now();
        try {
          client ??= await RawClient.connect(port());
          const answer = client.request(ApiKey.Produce, 9, { acks: 1, timeoutMs: 5000, transactionalId: null, topicData: [{ name: topic, partitionData: [{ index: 0, records: buildBatch({ records }) }] }] });
          let timer: NodeJS.Timeout | undefined;
          const r: any = await Promise.race([answer, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000)))]).finally(() => clearTimeout(timer));
          const code = r.responses[0].partitionResponses[0].errorCode as number;
          if (code === 0) this.ok++;
          else if (code === ErrorCode.KAFKA_STORAGE_ERROR) this.storageErrors++;
          else this.otherErrors.set(code, (this.otherErrors.get(code) ?? 0) + 1);
        } catch {
          // The broker was killed (or is restarting): connect again.
          this.connectionErrors++;
          client?.close();
          client = undefined;
          await sleep(100);
        }
        await sleep(Math.max(0, intervalMs - (Date.now() - started)));
      }
      client?.close();
    };
    this.done = Promise.all(Array.from({ length: concurrency }, loop)).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  summary(): string {
    return `${this.ok} ok, ${this.storageErrors} KAFKA_STORAGE_ERROR, other errors ${JSON.stringify(Object.fromEntries(this.otherErrors))}, ${this.connectionErrors} connection errors`;
  }
}

/** One GET /metrics of the upload backlog and failures, or undefined if Strait did not answer. */
async function uploadMetrics(adminUrl: string): Promise<{ pendingBytes: number; failures: number; uploadedObjects: number } | undefined> {
  try {
    const text = await (await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    const value = (name: string): number => {
      const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
      if (m === null) throw new Error(`GET /metrics has no ${name}`);
      return Number(m[1]);
    };
    return { pendingBytes: value('strait_upload_pending_bytes'), failures: value('strait_upload_failures_total'), uploadedObjects: value('strait_uploaded_objects_total') };
  } catch (error) {
    if ((error as Error).message.startsWith('GET /metrics has no')) throw error;
    return undefined;
  }
}

/** Samples the current broker's metrics every 200 ms; counters are summed over broker processes. */
class MetricsWatch {
  /** Failed upload attempts of the processes before the current one. */
  private failuresBefore = 0;
  private failuresNow = 0;
  pendingBytesPeak = 0;
  /** Samples with strait_upload_pending_bytes over upload.pending.bytes.max. */
  samplesOverBound = 0;
  samples = 0;
  private adminUrl = '';
  private stopped = false;
  private readonly done: Promise<void>;

  private readonly pendingBytesMax: number;

  constructor(adminUrl: string, pendingBytesMax: number) {
    this.adminUrl = adminUrl;
    this.pendingBytesMax = pendingBytesMax;
    this.done = (async () => {
      while (!this.stopped) {
        await this.sampleNow();
        await sleep(200);
      }
    })();
  }

  /** One sample of the current broker now (the loop takes one every 200 ms; a kill would lose the last 200 ms). */
  async sampleNow(): Promise<void> {
    const url: string = this.adminUrl;
    const m = await uploadMetrics(url);
    if (m === undefined || url !== this.adminUrl) return;
    this.samples++;
    this.failuresNow = Math.max(this.failuresNow, m.failures);
    this.pendingBytesPeak = Math.max(this.pendingBytesPeak, m.pendingBytes);
    if (m.pendingBytes > this.pendingBytesMax) this.samplesOverBound++;
  }

  /** A new broker process: its counters start at 0. */
  restarted(adminUrl: string): void {
    this.failuresBefore += this.failuresNow;
    this.failuresNow = 0;
    this.adminUrl = adminUrl;
  }

  get uploadFailures(): number {
    return this.failuresBefore + this.failuresNow;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

/** Switches the proxy between pass and a random outage mode until stopped; ends in pass. */
class OutageSchedule {
  outages = 0;
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly done: Promise<void>;

  constructor(proxy: FaultProxy, random: Random, passMs: [number, number], outageMs: [number, number], log: (message: string) => void) {
    const modes: FaultMode[] = ['refuse', 'reset', 'blackhole'];
    const bag: FaultMode[] = [];
    const wait = (ms: number): Promise<void> =>
      new Promise((resolve) => {
        const timer = setTimeout(resolve, ms);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    this.done = (async () => {
      while (!this.stopped) {
        // The first outage comes soon, so that even a run of a few kills has a few outages.
        await wait(this.outages === 0 ? random.between(300, 1000) : random.between(...passMs));
        if (this.stopped) break;
        // Each round of three outages has every mode once, in a random order.
        // The first round ends with the black hole: a stall shorter than the S3 client's request
        // timeout (10 s) fails no upload, so a short run starts with outages Strait sees fail.
        if (bag.length === 0) bag.push(...modes.map((m) => ({ m, key: this.outages === 0 && m === 'blackhole' ? 2 : random.next() })).sort((a, b) => a.key - b.key).map((e) => e.m));
        const mode = bag.shift()!;
        const ms = random.between(...outageMs);
        this.outages++;
        await proxy.setMode(mode);
        log(`outage ${this.outages}: ${mode} for ${ms} ms`);
        await wait(ms);
        await proxy.setMode('pass');
      }
      await proxy.setMode('pass');
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.done;
  }
}

export interface StoreOutageKillOptions {
  minio: MinioHandle;
  kills: number;
  partitions?: number;
  /** Idempotent producers writing to the same partitions at once (each its own producer id, on its
   *  own connection), so one's batches can be in flight while another's are refused. Default 2. */
  producers?: number;
  /** Each idempotent producer's records per second. */
  throughput?: number;
  /** wal.flush.linger.ms: a WAL write waits this long for more produces, so appends stay in flight
   *  longer and a refusal can meet one (default 5). */
  walFlushLingerMs?: number;
  /** upload.pending.bytes.max. */
  pendingBytesMax?: number;
  /** What the filler writes per second; default 1.5 × pendingBytesMax, so an outage of a second or two reaches the bound. */
  fillBytesPerSecond?: number;
  random?: Random;
  log?: (message: string) => void;
}

export interface StoreOutageKillResult {
  seed: number;
  kills: number;
  producers: number;
  acked: number;
  records: number;
  lost: number;
  duplicated: number;
  /** Batches the idempotent producers retried after KAFKA_STORAGE_ERROR (backlog over its bound). */
  producerStorageErrorRetries: number;
  /** All retries the idempotent producers logged (kills and outages). */
  producerRetries: number;
  /** Filler produces refused with KAFKA_STORAGE_ERROR. */
  fillerRejections: number;
  /** strait_upload_failures_total, summed over every broker process of the run. */
  uploadFailures: number;
  pendingBytesPeak: number;
  /** Metrics samples (every 200 ms) that found the backlog over upload.pending.bytes.max. */
  samplesOverBound: number;
  outages: number;
  proxy: FaultProxyStats;
  elapsedMs: number;
}

export async function runStoreOutageKills(o: StoreOutageKillOptions): Promise<StoreOutageKillResult> {
  const random = o.random ?? new Random();
  // The outage schedule draws from its own sequence, so its moments do not depend on the kills'.
  const outageRandom = new Random(random.seed + 1);
  const log = o.log ?? (() => {});
  const partitions = o.partitions ?? 3;
  const pendingBytesMax = o.pendingBytesMax ?? 1024 * 1024;
  const workDir = mkdtempSync(join(tmpdir(), 'strait-outage-kill-'));
  const dataDir = join(workDir, 'data');
  const topic = 'outage-kill';
  const fillTopic = 'outage-fill';
  const configPath = writeIdempotentConfig(workDir);
  const started = Date.now();
  const proxy = await FaultProxy.start({ port: o.minio.port });
  const s3 = await s3Args(o.minio, `outage-kill-${randomBytes(4).toString('hex')}`);
  s3[s3.indexOf('--s3-endpoint') + 1] = proxy.endpoint;
  const straitArgs = ['--upload-interval-ms', '300', '--upload-pending-bytes-max', String(pendingBytesMax), '--wal-flush-linger-ms', String(o.walFlushLingerMs ?? 5), ...s3];
  let broker: StraitHandle | undefined = await startStrait({ dataDir, args: straitArgs });
  const port = broker.port;
  let producers: OpenEndedProducer[] = [];
  const allAcks = (): Ack[] => producers.flatMap((p) => p.acks);
  const sum = (f: (p: OpenEndedProducer) => number): number => producers.reduce((n, p) => n + f(p), 0);
  let filler: Filler | undefined;
  let schedule: OutageSchedule | undefined;
  let metrics: MetricsWatch | undefined;
  try {
    await createTopic(port, topic, partitions);
    await createTopic(port, fillTopic, 1);
    metrics = new MetricsWatch(broker.adminUrl, pendingBytesMax);
    filler = new Filler(() => port, fillTopic, o.fillBytesPerSecond ?? 1.5 * pendingBytesMax);
    producers = Array.from({ length: o.producers ?? 2 }, (_, i) => new OpenEndedProducer(broker!.bootstrap, topic, configPath, o.throughput ?? 200, i + 1));
    for (const producer of producers) {
      const firstAck = Date.now() + 30_000;
      while (producer.acks.length === 0 && producer.running() && Date.now() < firstAck) await sleep(20);
      assert.ok(producer.acks.length > 0, `producer ${producer.valuePrefix}: no acknowledgement within 30 s\n${producer.output()}`);
    }
    schedule = new OutageSchedule(proxy, outageRandom, [1000, 3000], [2000, 6000], log);

    for (let kill = 1; kill <= o.kills; kill++) {
      const upMs = random.between(1000, 3500);
      await sleep(upMs);
      // Strait dies only when it is killed: an exit of its own (a failed assertion, a crash) is a
      // bug, even when the restart that follows loses nothing.
      assert.equal(broker.exitStatus(), null, `Strait exited by itself before kill ${kill}`);
      for (const producer of producers) assert.ok(producer.running(), `producer ${producer.valuePrefix} exited before kill ${kill}\n${producer.output()}`);
      const mode = proxy.mode;
      const ackedBefore = sum((p) => p.acks.length);
      await metrics.sampleNow();
      await broker.kill9();
      const downMs = random.between(200, 1500);
      await sleep(downMs);
      broker = await startStrait({ dataDir, port, args: straitArgs, readyTimeoutMs: 60_000 });
      metrics.restarted(broker.adminUrl);
      log(`kill ${kill}: after ${upMs} ms up, store ${mode}; ${ackedBefore} acked, ${sum((p) => p.storageErrorRetries)} storage-error retries, ${filler.storageErrors} filler rejections, ${metrics.uploadFailures} upload failures so far; down ${downMs} ms, restarted`);
    }

    // Final recovery: the store stays healthy from here on.
    await schedule.stop();
    assert.equal(broker.exitStatus(), null, 'Strait exited by itself after the last restart');
    log(`store healthy; ${schedule.outages} outages; proxy ${JSON.stringify(proxy.stats())}`);
    await sleep(2000);
    await filler.stop();
    const exitCodes = await Promise.all(producers.map((p) => p.stop(150_000)));
    for (const [i, producer] of producers.entries()) {
      const name = `producer ${producer.valuePrefix}`;
      const exitCode = exitCodes[i];
      assert.notEqual(exitCode, 'timeout', `${name} did not finish its sends within 150 s of SIGTERM (${producer.acks.length} acked)\n${producer.output()}`);
      // The JVM ends with 143 after SIGTERM once its shutdown hooks ran; tool_data below shows the hook closed the producer.
      assert.ok(exitCode === 0 || exitCode === 143, `${name} exited with ${exitCode}\n${producer.output()}`);
      assert.deepEqual(producer.failed.slice(0, 10), [], `${name}: ${producer.failed.length} sends failed\n${producer.output()}`);
      assert.deepEqual(producer.fatal, [], `${name} logged a fatal idempotence error`);
      assert.ok(producer.toolData !== undefined, `${name} printed no summary\n${producer.output()}`);
      assert.equal(producer.toolData.acked, producer.acks.length, `${name} counted as many acknowledgements as it printed`);
      assert.equal(producer.toolData.sent, producer.acks.length + producer.sendsAfterClose, `every send ${name} made was acknowledged`);
    }
    const acks = allAcks();

    // Everything uploaded, then one more kill -9: the log is read back from objects.
    const deadline = Date.now() + 120_000;
    let m = await uploadMetrics(broker.adminUrl);
    while (m === undefined || m.pendingBytes > 0) {
      assert.ok(Date.now() < deadline, `the upload backlog did not drain within 120 s of the store's recovery: ${JSON.stringify(m)}`);
      await sleep(200);
      m = await uploadMetrics(broker.adminUrl);
    }
    await metrics.stop();
    const uploadFailures = metrics.uploadFailures;
    assert.equal(broker.exitStatus(), null, 'Strait exited by itself while the uploads caught up');
    await broker.kill9();
    broker = await startStrait({ dataDir, port, args: straitArgs, readyTimeoutMs: 60_000 });
    const stored = await readTopic(broker.bootstrap, topic, workDir, 120_000);

    const context = `seed ${random.seed}`;
    const { lost, duplicated } = countLostAndDuplicated(stored, acks);
    log(`${context}: ${acks.length} acknowledged, ${stored.length} stored, ${lost} lost, ${duplicated} duplicated`);
    assert.equal(lost, 0, `${context}: ${lost} acknowledged records are not stored at their acknowledged offset`);
    assert.equal(duplicated, 0, `${context}: ${duplicated} values are stored more than once`);
    verify(stored, acks, partitions, context);
    const acked = new Set(acks.map((a) => a.value));
    const extra = stored.filter((r) => !acked.has(r.value));
    assert.deepEqual(extra.slice(0, 10), [], `${context}: ${extra.length} stored values were never acknowledged`);
    assert.equal(stored.length, acks.length, `${context}: ${stored.length} records stored for ${acks.length} acknowledged`);

    // The premise: the store did fail, and the backlog bound did push back on produces.
    const proxyStats = proxy.stats();
    const cutOffMs = proxyStats.msIn.refuse + proxyStats.msIn.reset + proxyStats.msIn.blackhole;
    assert.ok(schedule.outages > 0 && cutOffMs > 0, `${context}: the store was never cut off`);
    assert.ok(proxyStats.reset + proxyStats.stalled > 0, `${context}: no connection of Strait's to the store was reset or stalled`);
    if (schedule.outages >= 3) {
      for (const mode of ['refuse', 'reset', 'blackhole'] as const) assert.ok(proxyStats.entered[mode] > 0 && proxyStats.msIn[mode] > 0, `${context}: no ${mode} outage`);
    }
    assert.ok(uploadFailures > 0, `${context}: Strait counted no failed upload (strait_upload_failures_total 0 in every process)`);
    assert.ok(filler.storageErrors > 0, `${context}: no produce was refused for the upload backlog (filler: ${filler.summary()}; backlog peak ${metrics.pendingBytesPeak} bytes)`);
    assert.ok(sum((p) => p.storageErrorRetries) > 0, `${context}: no idempotent producer retried a batch refused with KAFKA_STORAGE_ERROR`);
    return {
      seed: random.seed,
      kills: o.kills,
      producers: producers.length,
      acked: acks.length,
      records: stored.length,
      lost,
      duplicated,
      producerStorageErrorRetries: sum((p) => p.storageErrorRetries),
      producerRetries: sum((p) => p.retries),
      fillerRejections: filler.storageErrors,
      uploadFailures,
      pendingBytesPeak: metrics.pendingBytesPeak,
      samplesOverBound: metrics.samplesOverBound,
      outages: schedule.outages,
      proxy: proxyStats,
      elapsedMs: Date.now() - started,
    };
  } catch (error) {
    const output = broker?.output().slice(-6000) ?? '';
    const counts = `filler: ${filler?.summary()}; producers: ${sum((p) => p.acks.length)} acked, ${sum((p) => p.storageErrorRetries)} storage-error retries; upload failures ${metrics?.uploadFailures}; proxy ${JSON.stringify(proxy.stats())}`;
    throw new Error(`${(error as Error).message}\n(seed ${random.seed}; ${counts})\n--- Strait's last output:\n${output}`, { cause: error });
  } finally {
    for (const producer of producers) producer.kill();
    await schedule?.stop().catch(() => undefined);
    await filler?.stop().catch(() => undefined);
    await metrics?.stop().catch(() => undefined);
    await broker?.stop().catch(() => undefined);
    await proxy.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** Acknowledged values not stored at their acknowledged offset, and values stored more than once. */
export function countLostAndDuplicated(stored: readonly StoredRecord[], acks: readonly Ack[]): { lost: number; duplicated: number } {
  const at = new Map(stored.map((r) => [`${r.partition}/${r.offset}`, r.value]));
  const lost = acks.filter((a) => at.get(`${a.partition}/${a.offset}`) !== a.value).length;
  const seen = new Set<string>();
  let duplicated = 0;
  for (const r of stored) {
    if (seen.has(r.value)) duplicated++;
    seen.add(r.value);
  }
  return { lost, duplicated };
}

/**
 * The test both store-outage-kill files declare: MinIO for the file, one run of `defaultKills`
 * (STRAIT_TEST_OUTAGE_KILLS overrides) with every acknowledged value exactly once at the end.
 */
export function storeOutageKillTest(defaultKills: number, timeoutMs: (kills: number) => number): void {
  const kills = Number(process.env['STRAIT_TEST_OUTAGE_KILLS'] ?? defaultKills);
  let minio: MinioHandle | undefined;
  before(async () => {
    minio = await startMinio();
  }, { timeout: 60_000 });
  after(async () => {
    await minio?.stop();
  });
  test(`idempotent producers through ${kills} kill -9 restarts with the object store failing and recovering: every acknowledged value exactly once`, { timeout: timeoutMs(kills) }, async (t) => {
    assert.ok(minio !== undefined, 'MinIO did not start');
    const random = new Random();
    t.diagnostic(`seed ${random.seed}`);
    const result = await runStoreOutageKills({ minio, kills, random, log: (m) => t.diagnostic(m) });
    t.diagnostic(JSON.stringify(result));
    assert.equal(result.lost + result.duplicated, 0);
  });
}
