// Kill -9 of a stateless broker: Strait with wal.kind=object, metadata.store=postgres (a real
// PostgreSQL, fsync on) and object.store=s3 (a real MinIO), in its own process, under idempotent
// producers, killed with SIGKILL and restarted many times at seeded random moments, while MinIO and
// PostgreSQL themselves go away and come back.
//
// Two Apache Kafka VerifiableProducers (enable.idempotence=true, acks=all, unlimited retries) write
// to the same partitions, and a filler writes large batches to a second topic so that a store outage
// soon fills wal.object.pending.bytes.max (1 MiB here) and produces are refused with the retriable
// KAFKA_STORAGE_ERROR. Each kill cycle has one of these in the broker's up time (a seeded shuffle,
// each kind once per round of four):
//   - nothing: Strait runs, then is killed;
//   - minio: MinIO is killed (SIGKILL) and restarted on its data 1.5 to 5 s later;
//   - pg-restart: PostgreSQL is restarted (fast shutdown, start);
//   - pg-kill: every PostgreSQL process is killed and the server restarted (crash recovery) 1 to 4 s later.
// In half of the minio and pg-kill cycles Strait is killed during the outage (and restarted once the
// store is back); otherwise it must recover in the same process: each producer is acknowledged again
// within 60 s of the store's return, or the run fails (a hang). Strait is restarted with the same
// config, node id and data.dir, except on some kills where it starts on an EMPTY new data.dir under
// another node id: it claims every partition (bumping its leader epoch) and must serve everything
// acknowledged from PostgreSQL and MinIO alone. The final read is done by such a fresh broker too.
//
// At the end the producers are closed (so every send they made is answered) and checked like the
// other kill runs: no failed send, no fatal idempotence error, every acknowledged value stored once
// at the offset it was acknowledged with, nothing unacknowledged stored, offsets 0, 1, 2, ... per
// partition (verify() in crash-produce.ts). The premise is asserted, not assumed: Strait logged
// failed WAL object PUTs during the MinIO outages and failed WAL commits during the PostgreSQL ones,
// the filler was refused with KAFKA_STORAGE_ERROR, and the idempotent producers retried batches. A
// run where nothing failed fails.
// Used by object-wal-kill.test.ts (a few kills) and object-wal-kill.long.test.ts (24).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startMinio, startStrait, type MinioHandle, type StraitHandle } from '../compat/harness.ts';
import { startPostgres, type PostgresHandle } from '../helpers/postgres.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ERRORS, ErrorCode } from '../../src/protocol/generated/errors.ts';
import { buildBatch } from '../../src/protocol/records/index.ts';
import { createTopic, Random, readTopic, s3Args, verify, type Ack } from './crash-produce.ts';
import { writeIdempotentConfig } from './idempotent-kill.ts';
import { countLostAndDuplicated, Filler, OpenEndedProducer } from './store-outage-kill.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export type StoreFault = 'none' | 'minio' | 'pg-restart' | 'pg-kill';
const faultKinds: StoreFault[] = ['none', 'minio', 'pg-restart', 'pg-kill'];

/** What the broker's log says about the stores failing, counted over every broker process. */
export interface StoreFailuresSeen {
  /** "writing WAL object … failed; retrying" (the first attempt of each flush, then every 10th). */
  walPutFailures: number;
  /** "committing WAL object … failed; retrying". */
  walCommitFailures: number;
  /** "upload failed; retrying" (the uploader's data objects). */
  uploadFailures: number;
  /** Every warn or error line by message, for the report. */
  warnings: Map<string, number>;
  /** The first error-level lines of each message with each error message, whole (a few). */
  errorSamples: string[];
}

/** One outage of a store, in wall-clock time, and the failures Strait logged during it. */
export interface OutageWindow {
  kind: Exclude<StoreFault, 'none'>;
  fromMs: number;
  /** When the store answered again (Infinity while it is away). */
  toMs: number;
  /** Failed WAL PUTs and commits logged from fromMs to toMs (plus a second of log latency). */
  walFailures: number;
}

function countFailures(output: string, into: StoreFailuresSeen, windows: readonly OutageWindow[]): void {
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { level?: string; msg?: string; ts?: string };
    try {
      entry = JSON.parse(line) as { level?: string; msg?: string; ts?: string };
    } catch {
      continue; // The first line of the kept tail may be cut.
    }
    if (entry.level !== 'warn' && entry.level !== 'error') continue;
    const msg = entry.msg ?? '';
    const put = /^writing WAL object \S+ failed; retrying$/.test(msg);
    const commit = /^committing WAL object \S+ failed; retrying$/.test(msg);
    if (put) into.walPutFailures++;
    else if (commit) into.walCommitFailures++;
    else if (msg === 'upload failed; retrying') into.uploadFailures++;
    // A PostgreSQL restart of a few hundred ms may fail no WAL commit at all (the store retries a
    // broken pooled connection on another one); its dropped connections are what Strait saw then.
    const connectionLost = /^metadata: (an idle|a) PostgreSQL connection( in use)? failed$/.test(msg);
    if (put || commit || connectionLost) {
      const at = Date.parse(entry.ts ?? '');
      const window = windows.find((w) => at >= w.fromMs && at <= w.toMs + 1000);
      if (window !== undefined) window.walFailures++;
    }
    const key = `${entry.level}: ${msg.replace(/WAL object \S+/, 'WAL object KEY')}`;
    if (entry.level === 'error' && into.errorSamples.length < 6) {
      const err = (entry as { err?: { message?: string } }).err?.message ?? '';
      if (!into.errorSamples.some((e) => e.includes(msg) && e.includes(err))) into.errorSamples.push(line.slice(0, 3000));
    }
    into.warnings.set(key, (into.warnings.get(key) ?? 0) + 1);
  }
}

/** One fault per kill, a seeded shuffle of every kind in each round of four (kill 1 gets plan[0]). */
export function faultPlan(kills: number, random: Random): StoreFault[] {
  const plan: StoreFault[] = [];
  while (plan.length < kills) plan.push(...faultKinds.map((f) => ({ f, key: random.next() })).sort((a, b) => a.key - b.key).map((e) => e.f));
  return plan.slice(0, kills);
}

/** Kills after which Strait starts on an empty data.dir as another node: the middle one of a short run, every 8th of a long one. */
export function freshRestarts(kills: number): Set<number> {
  const first = Math.ceil(Math.min(kills, 8) / 2);
  const out = new Set<number>();
  for (let k = first; k <= kills; k += 8) out.add(k);
  return out;
}

export interface ObjectWalKillOptions {
  minio: MinioHandle;
  postgres: PostgresHandle;
  kills: number;
  partitions?: number;
  producers?: number;
  /** Each idempotent producer's records per second. */
  throughput?: number;
  /** wal.object.pending.bytes.max (the least it may be, 1 MiB, by default). */
  walPendingBytesMax?: number;
  /** What the filler writes per second; default 1.5 × walPendingBytesMax. */
  fillBytesPerSecond?: number;
  random?: Random;
  log?: (message: string) => void;
}

export interface CycleFigures {
  kill: number;
  fault: StoreFault;
  /** Strait was killed while the store was away (restarted once it was back). */
  killedDuringOutage: boolean;
  outageMs: number;
  /** From the store's return until every producer was acknowledged again (same process). */
  recoveryMs: number | null;
  fresh: boolean;
  nodeId: number;
  /** Filler produces refused with KAFKA_STORAGE_ERROR from the fault until the store was back. */
  fillerRejections: number;
  /** Failed WAL PUTs and commits Strait logged during the outage. */
  walFailures: number;
  /** From the kill until the restarted broker answered. */
  restartMs: number;
  cycleMs: number;
}

export interface ObjectWalKillResult {
  seed: number;
  kills: number;
  freshRestarts: number;
  outages: Record<Exclude<StoreFault, 'none'>, number>;
  killedDuringOutage: number;
  acked: number;
  records: number;
  lost: number;
  duplicated: number;
  producerRetries: number;
  producerStorageErrorRetries: number;
  fillerRejections: number;
  /** What the filler's produces got: ok, KAFKA_STORAGE_ERROR, other (retriable) codes, lost connections. */
  filler: string;
  walPutFailures: number;
  walCommitFailures: number;
  uploadFailures: number;
  warnings: Record<string, number>;
  errorSamples: string[];
  recoveryMsMax: number;
  restartMsMax: number;
  cycleMsMean: number;
  elapsedMs: number;
  cycles: CycleFigures[];
}

export async function runObjectWalKills(o: ObjectWalKillOptions): Promise<ObjectWalKillResult> {
  const random = o.random ?? new Random();
  // The plan and the moments draw from their own sequences, so changing one does not move the other.
  const plan = faultPlan(o.kills, new Random(random.seed + 1));
  const fresh = freshRestarts(o.kills);
  const log = o.log ?? (() => {});
  const partitions = o.partitions ?? 4;
  const walPendingBytesMax = o.walPendingBytesMax ?? 1024 * 1024;
  const workDir = mkdtempSync(join(tmpdir(), 'strait-object-wal-kill-'));
  const topic = 'object-wal-kill';
  const fillTopic = 'object-wal-fill';
  const configPath = writeIdempotentConfig(workDir);
  const started = Date.now();
  const { minio, postgres } = o;
  const common = await statelessArgs(minio, postgres, walPendingBytesMax);
  let nodeId = 1;
  let dataDir = join(workDir, `data-node-${nodeId}`);
  const argsOf = (id: number): string[] => ['--node-id', String(id), ...common];
  const seen: StoreFailuresSeen = { walPutFailures: 0, walCommitFailures: 0, uploadFailures: 0, warnings: new Map(), errorSamples: [] };
  let broker: StraitHandle | undefined = await startStrait({ dataDir, args: argsOf(nodeId), readyTimeoutMs: 60_000 });
  const port = broker.port;
  const windows: OutageWindow[] = [];
  const cycleWindows = new Map<number, OutageWindow>();
  /** Counts what a broker process logged; called once per process, after it ended. */
  const ended = (b: StraitHandle): void => countFailures(b.output(), seen, windows);
  let producers: OpenEndedProducer[] = [];
  const sum = (f: (p: OpenEndedProducer) => number): number => producers.reduce((n, p) => n + f(p), 0);
  let filler: Filler | undefined;
  const cycles: CycleFigures[] = [];
  const outages = { minio: 0, 'pg-restart': 0, 'pg-kill': 0 };
  /** The store a fault took away, brought back (also on the way out of a failed run). */
  let restore: (() => Promise<void>) | null = null;
  try {
    await createTopic(port, topic, partitions);
    await createTopic(port, fillTopic, 1);
    // 24 produces of 64 KiB outstanding at once: 1.5 MiB, over the bound once the store stops answering.
    filler = new Filler(() => port, fillTopic, o.fillBytesPerSecond ?? 1.5 * walPendingBytesMax, 24);
    producers = Array.from({ length: o.producers ?? 2 }, (_, i) => new OpenEndedProducer(broker!.bootstrap, topic, configPath, o.throughput ?? 200, i + 1));
    await allAcknowledgedAgain(producers, () => broker!, 30_000, 'the first acknowledgement');

    for (let kill = 1; kill <= o.kills; kill++) {
      const cycleStarted = Date.now();
      const fault = plan[kill - 1]!;
      const upMs = random.between(1500, 4000);
      // In half of the minio and pg-kill cycles Strait dies during the outage.
      const killDuringOutage = fault !== 'none' && fault !== 'pg-restart' && random.next() < 0.5;
      let outageMs = fault === 'minio' ? random.between(2000, 5000) : fault === 'pg-kill' ? random.between(1000, 4000) : 0;
      const beforeFaultMs = random.between(300, Math.round(upMs / 2));
      // A MinIO outage lasts over a second before Strait dies in it: at the filler's 1.5 MiB/s the
      // WAL backlog passes its 1 MiB bound by then, so refusals are part of every MinIO outage.
      const killAfterMs = killDuringOutage ? random.between(fault === 'minio' ? 1200 : 200, outageMs - 100) : 0;
      let rejections = 0;
      let recoveryMs: number | null = null;
      const aliveCheck = (when: string): void => {
        // Strait dies only when it is killed: an exit of its own is a bug.
        assert.equal(broker!.exitStatus(), null, `Strait exited by itself ${when}`);
        for (const producer of producers) assert.ok(producer.running(), `producer ${producer.valuePrefix} exited ${when}\n${producer.output()}`);
      };
      let killed = false;
      const killStrait = async (): Promise<void> => {
        aliveCheck(`before kill ${kill}`);
        await broker!.kill9();
        ended(broker!);
        killed = true;
      };
      let killedAt = 0;
      if (fault === 'none') {
        await sleep(upMs);
      } else {
        await sleep(beforeFaultMs);
        aliveCheck(`before the ${fault} outage of cycle ${kill}`);
        outages[fault]++;
        const window: OutageWindow = { kind: fault, fromMs: Date.now(), toMs: Infinity, walFailures: 0 };
        const rejectionsBefore = filler.storageErrors;
        windows.push(window);
        cycleWindows.set(kill, window);
        if (fault === 'pg-restart') {
          // Fast shutdown (sessions end, a checkpoint) and start on the same port and data.
          await postgres.restart();
          window.toMs = Date.now();
          outageMs = window.toMs - window.fromMs;
          rejections = filler.storageErrors - rejectionsBefore;
        } else {
          if (fault === 'minio') {
            await minio.kill();
            restore = () => minio.restart();
          } else {
            await postgres.kill();
            restore = () => postgres.restart();
          }
          if (killDuringOutage) {
            await sleep(killAfterMs);
            killedAt = Date.now();
            await killStrait();
            await sleep(outageMs - killAfterMs);
          } else {
            await sleep(outageMs);
          }
          await restore();
          restore = null;
          window.toMs = Date.now();
          rejections = filler.storageErrors - rejectionsBefore;
        }
        if (!killed) {
          // The same process must recover by itself once the store is back.
          const back = Date.now();
          await allAcknowledgedAgain(producers, () => broker!, 60_000, `the ${fault} outage of cycle ${kill} (Strait did not recover in-process)`);
          recoveryMs = Date.now() - back;
          await sleep(random.between(200, 1000));
        }
      }
      if (!killed) {
        killedAt = Date.now();
        await killStrait();
      }
      const downMs = random.between(200, 1500);
      await sleep(Math.max(0, downMs - (Date.now() - killedAt)));
      const isFresh = fresh.has(kill);
      if (isFresh) {
        nodeId++;
        dataDir = join(workDir, `data-node-${nodeId}`);
      }
      broker = await startStrait({ dataDir, port, args: argsOf(nodeId), readyTimeoutMs: 60_000 });
      const restartMs = Date.now() - killedAt;
      const figures: CycleFigures = { kill, fault, killedDuringOutage: killDuringOutage, outageMs, recoveryMs, fillerRejections: rejections, walFailures: 0, fresh: isFresh, nodeId, restartMs, cycleMs: Date.now() - cycleStarted };
      cycles.push(figures);
      log(`kill ${kill}: ${fault}${fault === 'none' ? '' : ` (${outageMs} ms${killDuringOutage ? ', Strait killed during it' : `, recovered in ${recoveryMs} ms`})`}; restarted${isFresh ? ` on an empty data.dir as node ${nodeId}` : ''} ${restartMs} ms after the kill; ${sum((p) => p.acks.length)} acked, ${sum((p) => p.retries)} producer retries, ${fault === 'none' ? '' : `${rejections} filler refusals during the outage, `}${filler.storageErrors} so far`);
    }

    // The end: the stores stay up; every send made is answered before the producers exit.
    await allAcknowledgedAgain(producers, () => broker!, 60_000, 'the last restart');
    assert.equal(broker.exitStatus(), null, 'Strait exited by itself after the last restart');
    await filler.stop();
    const exitCodes = await Promise.all(producers.map((p) => p.stop(150_000)));
    for (const [i, producer] of producers.entries()) {
      const name = `producer ${producer.valuePrefix}`;
      const exitCode = exitCodes[i];
      assert.notEqual(exitCode, 'timeout', `${name} did not finish its sends within 150 s of SIGTERM (${producer.acks.length} acked)\n${producer.output()}`);
      // 143: the JVM's exit after SIGTERM once its shutdown hooks ran; tool_data shows the hook closed the producer.
      assert.ok(exitCode === 0 || exitCode === 143, `${name} exited with ${exitCode}\n${producer.output()}`);
      assert.deepEqual(producer.failed.slice(0, 10), [], `${name}: ${producer.failed.length} sends failed\n${producer.output()}`);
      assert.deepEqual(producer.fatal, [], `${name} logged a fatal idempotence error`);
      assert.ok(producer.toolData !== undefined, `${name} printed no summary\n${producer.output()}`);
      assert.equal(producer.toolData.acked, producer.acks.length, `${name} counted as many acknowledgements as it printed`);
      assert.equal(producer.toolData.sent, producer.acks.length + producer.sendsAfterClose, `every send ${name} made was acknowledged`);
    }
    const acks: Ack[] = producers.flatMap((p) => p.acks);

    // One more kill -9, and the log is read back by a broker that never served it: an empty
    // data.dir, another node id, everything from PostgreSQL and MinIO.
    assert.equal(broker.exitStatus(), null, 'Strait exited by itself while the producers closed');
    await broker.kill9();
    ended(broker);
    nodeId++;
    dataDir = join(workDir, `data-node-${nodeId}`);
    broker = await startStrait({ dataDir, port, args: argsOf(nodeId), readyTimeoutMs: 60_000 });
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
    await broker.stop();
    ended(broker);
    broker = undefined;

    // The premise: every outage was seen by Strait (its WAL PUTs or commits failed while the store
    // was away), and MinIO outages pushed back on produces (the WAL backlog over its bound).
    for (const c of cycles) c.walFailures = cycleWindows.get(c.kill)?.walFailures ?? 0;
    for (const c of cycles.filter((c) => c.fault !== 'none')) {
      assert.ok(c.walFailures > 0, `${context}: Strait logged no failed WAL PUT or commit, nor a lost PostgreSQL connection, during the ${c.fault} outage of cycle ${c.kill}`);
      if (c.fault === 'minio') assert.ok(c.fillerRejections > 0, `${context}: no produce was refused with KAFKA_STORAGE_ERROR during the MinIO outage of cycle ${c.kill}`);
    }
    if (outages.minio > 0) assert.ok(sum((p) => p.storageErrorRetries) > 0, `${context}: no idempotent producer retried a batch refused with KAFKA_STORAGE_ERROR during the MinIO outages`);
    // An outage is an operating error: every request gets an answer (an error code), and no request
    // handler throws, which closes the client's connection (a 24-kill run logged 8 such failures on
    // a build before Metadata answered leaders from memory, 79b9d58; none since).
    const handlerFailures = seen.warnings.get('error: closing connection: request handler failed') ?? 0;
    assert.equal(handlerFailures, 0, `${context}: request handlers failed ${handlerFailures} times (connections closed):\n${seen.errorSamples.join('\n')}`);
    // Produces fail retriably or wait: the filler (no retries of its own) saw no other error.
    const fatalCodes = [...filler.otherErrors.keys()].filter((code) => ERRORS.get(code)?.retriable !== true);
    assert.deepEqual(fatalCodes.map((code) => ERRORS.get(code)?.name ?? code), [], `${context}: produces failed with non-retriable errors (filler: ${filler.summary()})`);
    if (outages.minio > 0) assert.ok(seen.walPutFailures > 0, `${context}: MinIO was killed ${outages.minio} times but Strait logged no failed WAL object PUT`);
    if (outages['pg-restart'] + outages['pg-kill'] > 0) assert.ok(seen.walCommitFailures > 0, `${context}: PostgreSQL went away ${outages['pg-restart'] + outages['pg-kill']} times but Strait logged no failed WAL commit`);
    assert.ok(sum((p) => p.retries) > 0, `${context}: the idempotent producers retried no batch`);
    const mean = (xs: number[]): number => Math.round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length));
    return {
      seed: random.seed,
      kills: o.kills,
      freshRestarts: fresh.size,
      outages,
      killedDuringOutage: cycles.filter((c) => c.killedDuringOutage).length,
      acked: acks.length,
      records: stored.length,
      lost,
      duplicated,
      producerRetries: sum((p) => p.retries),
      producerStorageErrorRetries: sum((p) => p.storageErrorRetries),
      fillerRejections: filler.storageErrors,
      filler: filler.summary(),
      walPutFailures: seen.walPutFailures,
      walCommitFailures: seen.walCommitFailures,
      uploadFailures: seen.uploadFailures,
      warnings: Object.fromEntries(seen.warnings),
      errorSamples: seen.errorSamples,
      recoveryMsMax: Math.max(0, ...cycles.map((c) => c.recoveryMs ?? 0)),
      restartMsMax: Math.max(0, ...cycles.map((c) => c.restartMs)),
      cycleMsMean: mean(cycles.map((c) => c.cycleMs)),
      elapsedMs: Date.now() - started,
      cycles,
    };
  } catch (error) {
    const output = broker?.output().slice(-8000) ?? '';
    const counts = `filler: ${filler?.summary()}; producers: ${sum((p) => p.acks.length)} acked, ${sum((p) => p.retries)} retries; seen in Strait's logs: ${seen.walPutFailures} WAL PUT and ${seen.walCommitFailures} WAL commit failures`;
    const producerOutput = producers.map((p) => `--- producer ${p.valuePrefix}:\n${p.output().slice(-3000)}`).join('\n');
    throw new Error(`${(error as Error).message}\n(seed ${random.seed}; ${counts})\n--- Strait's last output:\n${output}\n${producerOutput}`, { cause: error });
  } finally {
    for (const producer of producers) producer.kill();
    await filler?.stop().catch(() => undefined);
    await broker?.stop().catch(() => undefined);
    await restore?.().catch(() => undefined);
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** Strait's flags for a stateless broker: object WAL, a new PostgreSQL database, a new bucket. */
export async function statelessArgs(minio: MinioHandle, postgres: PostgresHandle, walPendingBytesMax = 1024 * 1024): Promise<string[]> {
  const metadataUrl = await postgres.createDatabase(`strait_kill_${randomBytes(4).toString('hex')}`);
  return [
    '--wal-kind', 'object',
    '--wal-object-pending-bytes-max', String(walPendingBytesMax),
    '--metadata-store', 'postgres',
    '--metadata-postgres-url', metadataUrl,
    '--upload-interval-ms', '300',
    ...(await s3Args(minio, `object-wal-kill-${randomBytes(4).toString('hex')}`)),
  ];
}

/** Produces one batch of `values` to partition 0 with acks=all; answers the partition's error code and base offset. */
async function produceOnce(client: RawClient, topic: string, values: string[]): Promise<{ errorCode: number; baseOffset: bigint }> {
  const r: any = await client.request(ApiKey.Produce, 9, {
    acks: -1,
    timeoutMs: 30_000,
    transactionalId: null,
    topicData: [{ name: topic, partitionData: [{ index: 0, records: buildBatch({ records: values.map((v) => ({ value: Buffer.from(v) })) }) }] }],
  });
  const p = r.responses[0].partitionResponses[0];
  return { errorCode: p.errorCode as number, baseOffset: BigInt(p.baseOffset) };
}

async function walPendingBytes(adminUrl: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const m = /^strait_wal_pending_bytes (\S+)$/m.exec(text);
  assert.ok(m !== null, 'GET /metrics has no strait_wal_pending_bytes');
  return Number(m[1]);
}

/**
 * PostgreSQL dies while a WAL commit holds a pooled connection: the server is frozen (SIGSTOP) so
 * the commit of a produce waits on its connection, then every server process is killed. Strait must
 * stay up, and once PostgreSQL is back answer the produce (committed, or a retriable error) and
 * serve what it acknowledged. Deterministic, where the kill loop only meets this by chance.
 */
export async function runPostgresKillDuringCommit(minio: MinioHandle, postgres: PostgresHandle, log: (message: string) => void = () => {}): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'strait-pg-kill-commit-'));
  const topic = 'pg-kill-during-commit';
  let broker: StraitHandle | undefined;
  let client: RawClient | undefined;
  let frozen = false;
  let killed = false;
  try {
    broker = await startStrait({ dataDir: join(workDir, 'data'), args: await statelessArgs(minio, postgres), readyTimeoutMs: 60_000 });
    await createTopic(broker.port, topic, 1);
    client = await RawClient.connect(broker.port);
    const first = await produceOnce(client, topic, ['before.0', 'before.1']);
    assert.equal(first.errorCode, 0, 'a produce before the outage is acknowledged');

    postgres.signal('SIGSTOP');
    frozen = true;
    // Set by the answer, whenever it comes (an object, so the checks below read it afresh).
    const outcome: { answer?: { errorCode: number; baseOffset: bigint } | Error } = {};
    const during = produceOnce(client, topic, ['during.0']).then(
      (a) => (outcome.answer = a),
      (e: Error) => (outcome.answer = e),
    );
    // The object PUT is done within wal.object.flush.ms and a few milliseconds; the commit then waits.
    const deadline = Date.now() + 10_000;
    while ((await walPendingBytes(broker.adminUrl)) === 0) {
      assert.ok(Date.now() < deadline, 'the produce made during the freeze never reached the WAL');
      await sleep(50);
    }
    await sleep(500);
    assert.equal(outcome.answer, undefined, `the produce was answered while PostgreSQL was frozen: ${JSON.stringify(outcome.answer, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
    await postgres.kill();
    killed = true;
    frozen = false;
    await sleep(1500);
    assert.equal(broker.exitStatus(), null, `Strait exited when PostgreSQL was killed under a WAL commit
${broker.output().slice(-4000)}`);
    await postgres.restart();
    killed = false;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([during, new Promise((resolve) => (timer = setTimeout(resolve, 30_000)))]).finally(() => clearTimeout(timer));
    // (assert.equal above narrowed outcome.answer to undefined; the answer came later.)
    const answered = outcome.answer as { errorCode: number; baseOffset: bigint } | Error | undefined;
    assert.ok(answered !== undefined, 'the produce made during the outage was not answered within 30 s of PostgreSQL coming back');
    assert.ok(!(answered instanceof Error), `the produce made during the outage got no answer: ${String(answered)}`);
    assert.ok(answered.errorCode === 0 || answered.errorCode === ErrorCode.KAFKA_STORAGE_ERROR, `the produce made during the outage was answered with error ${answered.errorCode}`);
    log(`produce during the outage: error code ${answered.errorCode}${answered.errorCode === 0 ? ` at offset ${answered.baseOffset}` : ''}`);
    const next = await produceOnce(client, topic, ['after.0']);
    assert.equal(next.errorCode, 0, 'a produce after PostgreSQL came back is acknowledged');
    const acks: Ack[] = [
      { value: 'before.0', partition: 0, offset: Number(first.baseOffset) },
      { value: 'before.1', partition: 0, offset: Number(first.baseOffset) + 1 },
      ...(answered.errorCode === 0 ? [{ value: 'during.0', partition: 0, offset: Number(answered.baseOffset) }] : []),
      { value: 'after.0', partition: 0, offset: Number(next.baseOffset) },
    ];
    const stored = await readTopic(broker.bootstrap, topic, workDir);
    assert.deepEqual(stored.map((r) => r.value), acks.map((a) => a.value), 'the log holds what was acknowledged, in order');
    verify(stored, acks, 1, 'PostgreSQL killed under a WAL commit');
  } finally {
    client?.close();
    if (frozen) postgres.signal('SIGCONT');
    if (killed || frozen) await postgres.restart().catch(() => undefined);
    await broker?.stop().catch(() => undefined);
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** Resolves once every producer has had an acknowledgement since the call; fails after timeoutMs. */
async function allAcknowledgedAgain(producers: OpenEndedProducer[], broker: () => StraitHandle, timeoutMs: number, after: string): Promise<void> {
  const counts = producers.map((p) => p.acks.length);
  const deadline = Date.now() + timeoutMs;
  while (producers.some((p, i) => p.acks.length === counts[i])) {
    assert.equal(broker().exitStatus(), null, `Strait exited by itself waiting for an acknowledgement after ${after}`);
    for (const p of producers) assert.ok(p.running(), `producer ${p.valuePrefix} exited waiting for an acknowledgement after ${after}\n${p.output()}`);
    assert.ok(Date.now() < deadline, `no acknowledgement for ${producers.filter((p, i) => p.acks.length === counts[i]).map((p) => `producer ${p.valuePrefix}`).join(', ')} within ${timeoutMs} ms of ${after}`);
    await sleep(20);
  }
}

/**
 * The test both object-wal-kill files declare: MinIO and a durable PostgreSQL for the file, one run
 * of `defaultKills` (STRAIT_TEST_OBJECT_WAL_KILLS overrides).
 */
export function objectWalKillTest(defaultKills: number, timeoutMs: (kills: number) => number): void {
  const kills = Number(process.env['STRAIT_TEST_OBJECT_WAL_KILLS'] ?? defaultKills);
  let minio: MinioHandle | undefined;
  let postgres: PostgresHandle | undefined;
  before(async () => {
    minio = await startMinio();
    postgres = await startPostgres({ durable: true });
  }, { timeout: 90_000 });
  after(async () => {
    await minio?.stop();
    await postgres?.stop();
  });
  test(`object WAL on MinIO + PostgreSQL: idempotent producers through ${kills} kill -9 restarts with MinIO killed and PostgreSQL restarted and killed: every acknowledged value exactly once`, { timeout: timeoutMs(kills) }, async (t) => {
    assert.ok(minio !== undefined && postgres !== undefined, 'MinIO or PostgreSQL did not start');
    const random = new Random();
    t.diagnostic(`seed ${random.seed}`);
    const result = await runObjectWalKills({ minio, postgres, kills, random, log: (m) => t.diagnostic(m) });
    const { cycles, ...summary } = result;
    t.diagnostic(JSON.stringify(summary));
    t.diagnostic(`outages seen: ${cycles.filter((c) => c.fault !== 'none').map((c) => `kill ${c.kill} ${c.fault} ${c.outageMs} ms: ${c.walFailures} WAL failures logged, ${c.fillerRejections} refusals`).join('; ')}`);
    t.diagnostic(`time per cycle: ${cycles.map((c) => c.cycleMs).join(', ')} ms; restart after the kill: ${cycles.map((c) => c.restartMs).join(', ')} ms`);
    assert.equal(result.lost + result.duplicated, 0);
    assert.equal(cycles.length, kills);
  });
}

/** The deterministic case of object-wal-kill.test.ts (see runPostgresKillDuringCommit). */
export function postgresKillDuringCommitTest(): void {
  let minio: MinioHandle | undefined;
  let postgres: PostgresHandle | undefined;
  before(async () => {
    minio = await startMinio();
    postgres = await startPostgres({ durable: true });
  }, { timeout: 90_000 });
  after(async () => {
    await minio?.stop();
    await postgres?.stop();
  });
  test('object WAL: PostgreSQL killed while a WAL commit holds a pooled connection: Strait stays up, answers the produce once PostgreSQL is back and loses nothing', { timeout: 120_000 }, async (t) => {
    assert.ok(minio !== undefined && postgres !== undefined, 'MinIO or PostgreSQL did not start');
    await runPostgresKillDuringCommit(minio, postgres, (m) => t.diagnostic(m));
  });
}
