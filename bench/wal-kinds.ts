// The WAL kinds side by side with Apache Kafka 4.3.1, in one run (issue #12): Kafka; Strait with the
// file WAL (SQLite + folder objects, the embedded default); Strait with the object WAL on a local
// MinIO with SQLite metadata, and with PostgreSQL metadata (the stateless broker). Each repeat runs
// every target once, one after the other (never two brokers at once), so slow phases of a shared
// machine spread over all of them. Per run, on a fresh broker:
//
//   1. throughput: ProducerPerformance as fast as it goes (acks=all, 1 KiB records, 6 partitions);
//   2. latency: ProducerPerformance held to a fixed rate (--rate), send-to-acknowledgement p50/p99/p99.9;
//   3. object-store PUTs by kind and bytes from Strait's /metrics, once the upload backlog is empty;
//      PostgreSQL commits (pg_stat_database.xact_commit) over each produce phase; CPU seconds and
//      largest RSS from /proc of the broker, MinIO and PostgreSQL over both produce phases;
//   4. catch-up read: Strait is stopped and started again on the same data (its tail and block caches
//      are then empty) and ConsumerPerformance reads the throughput topic from offset 0; object GETs
//      are the block-cache misses on /metrics. Kafka reads without a restart (its page cache stays).
//
// --flush-ms adds the object WAL on MinIO + SQLite at other wal.object.flush.ms values (to choose the
// default by measurement); --baseline-root DIR adds the file WAL run from another checkout of this
// repository (e.g. a git worktree of the commit before issue #12) to check that the file WAL did not
// get slower. Writes JSON (every run, medians, ratios), a markdown table and an SVG chart.
//
//   node bench/wal-kinds.ts [--records 300000] [--rate 5000] [--latency-seconds 20] [--repeats 3]
//     [--flush-ms 10,25,100] [--strait-root /tmp/head] [--baseline-root /tmp/pre12] [--only kafka,file-wal,...]
//     [--producer-props k=v,...]
//     [--out bench/results]
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { S3Store } from '../src/storage/objects/index.ts';
import { repoRoot, startApacheKafka, startMinio, startStrait } from '../test/compat/harness.ts';
import type { BrokerHandle, MinioHandle, StraitHandle } from '../test/compat/harness.ts';
import { startPostgres } from '../test/helpers/postgres.ts';
import type { PostgresHandle } from '../test/helpers/postgres.ts';
import { barChart } from './chart.ts';
import type { Bar } from './chart.ts';
import {
  consumerPerformance, cpuSecondsOf, createTopic, log, machineBusySeconds, machineInfo, median, pidListeningOn,
  producerPerformance, round, sleep, statusKiB, waitForQuiet,
} from './measure.ts';
import type { ConsumeResult, ProduceResult } from './measure.ts';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '300000' },
    rate: { type: 'string', default: '5000' },
    'latency-seconds': { type: 'string', default: '20' },
    repeats: { type: 'string', default: '3' },
    'flush-ms': { type: 'string', default: '' },
    /** Run Strait from this checkout (a git worktree of the commit to measure), not from the working
     *  tree of this script, which others may be editing during a long run. */
    'strait-root': { type: 'string', default: '' },
    'baseline-root': { type: 'string', default: '' },
    'baseline-name': { type: 'string', default: 'pre12' },
    only: { type: 'string', default: '' },
    /** Extra producer settings for both produce phases, comma-separated (e.g. batch.size=1048576,linger.ms=50). */
    'producer-props': { type: 'string', default: '' },
    /** Draw the SVG chart again from a result JSON (next to it) and exit. */
    'chart-from': { type: 'string', default: '' },
    'quiet-wait-seconds': { type: 'string', default: '10' },
    out: { type: 'string', default: join(repoRoot, 'bench', 'results') },
  },
});
const RECORDS = Number(args.records);
const RATE = Number(args.rate);
const LATENCY_RECORDS = RATE * Number(args['latency-seconds']);
const REPEATS = Number(args.repeats);
const RECORD_BYTES = 1024;
const PARTITIONS = 6;
const LINGER_MS = 5;
const DEFAULT_FLUSH_MS = 50;
const GIB = 2 ** 30;
/** PostgreSQL 15 backends report their counters at most once a second and, when they go idle right
 *  after a report, up to 10 s later (PGSTAT_IDLE_INTERVAL): wait that long before reading them. */
const PG_STATS_SETTLE_MS = 11_000;
const UPLOAD_DRAIN_TIMEOUT_MS = 180_000;
const SAMPLE_INTERVAL_MS = 250;
const STRAIT_ARGS = ['--log-level', 'warn', '--group-initial-rebalance-delay-ms', '0'];
const EXTRA_PRODUCER_PROPS = (args['producer-props'] ?? '').split(',').filter((x) => x !== '');
const OBJECT_KINDS = ['wal', 'data', 'compacted', 'cleaned'] as const;

// ---- the targets -------------------------------------------------------------------------------------

interface Shared {
  minio: MinioHandle | null;
  postgres: PostgresHandle | null;
}

/** One broker of a run: how to start it (again, on the same data, for the catch-up read) and clean up. */
interface Started {
  broker: BrokerHandle;
  /** Strait only: stop and start on the same data, with empty caches. */
  restart?: () => Promise<BrokerHandle>;
  /** PostgreSQL database the broker uses, for its commit counter. */
  database?: string;
  cleanup(): Promise<void>;
}

interface Target {
  name: string;
  walKind: 'kafka' | 'file' | 'object';
  metadata: 'kraft' | 'sqlite' | 'postgres';
  objects: 'local log' | 'folder' | 'minio';
  flushMs?: number;
  needs: { minio?: boolean; postgres?: boolean };
  start(shared: Shared, run: string): Promise<Started>;
}

async function createBucket(minio: MinioHandle, bucket: string): Promise<void> {
  const store = new S3Store({ endpoint: minio.endpoint, region: minio.region, bucket, accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey, pathStyle: true });
  try {
    await store.createBucket();
  } finally {
    await store.close();
  }
}

function s3Args(minio: MinioHandle, bucket: string): string[] {
  return [
    '--object-store', 's3', '--s3-endpoint', minio.endpoint, '--s3-region', minio.region, '--s3-bucket', bucket,
    '--s3-access-key-id', minio.accessKey, '--s3-secret-access-key', minio.secretKey, '--s3-path-style-access', 'true',
  ];
}

/** A Strait broker on its own data folder, kept across the restart before the catch-up read. */
const STRAIT_ROOT = args['strait-root'] ? resolve(args['strait-root']) : repoRoot;
const keptDataDirs = new Set<string>();
process.on('exit', () => {
  for (const dir of keptDataDirs) rmSync(dir, { recursive: true, force: true });
});

async function startStraitKept(args: string[], root = STRAIT_ROOT): Promise<Started> {
  const dataDir = mkdtempSync(join(tmpdir(), 'strait-bench-wal-'));
  keptDataDirs.add(dataDir);
  let broker: StraitHandle;
  try {
    broker = await startStrait({ args, dataDir, root });
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    keptDataDirs.delete(dataDir);
    throw error;
  }
  return {
    broker,
    restart: async () => {
      await broker.stop();
      broker = await startStrait({ args, dataDir, root });
      return broker;
    },
    cleanup: async () => {
      await broker.stop().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
      keptDataDirs.delete(dataDir);
    },
  };
}

function objectWalTarget(name: string, flushMs: number, metadata: 'sqlite' | 'postgres'): Target {
  return {
    name,
    walKind: 'object',
    metadata,
    objects: 'minio',
    flushMs,
    needs: { minio: true, postgres: metadata === 'postgres' },
    async start(shared, run) {
      const minio = shared.minio!;
      const bucket = `bench-${run}`;
      await createBucket(minio, bucket);
      const objectArgs = [...STRAIT_ARGS, '--set', 'wal.kind=object', '--set', `wal.object.flush.ms=${flushMs}`, ...s3Args(minio, bucket)];
      if (metadata === 'sqlite') return startStraitKept(objectArgs);
      const database = `bench_${run.replace(/-/g, '_')}`;
      const url = await shared.postgres!.createDatabase(database);
      const started = await startStraitKept([...objectArgs, '--set', 'metadata.store=postgres', '--set', `metadata.postgres.url=${url}`]);
      return { ...started, database };
    },
  };
}

function allTargets(): Target[] {
  const flushExtra = (args['flush-ms'] ?? '').split(',').filter((x) => x.trim() !== '').map(Number).filter((ms) => ms !== DEFAULT_FLUSH_MS);
  const baselineRoot = args['baseline-root'] ?? '';
  return [
    {
      name: 'kafka',
      walKind: 'kafka',
      metadata: 'kraft',
      objects: 'local log',
      needs: {},
      async start() {
        const broker = await startApacheKafka();
        return { broker, cleanup: () => broker.stop() };
      },
    },
    {
      name: 'file-wal',
      walKind: 'file',
      metadata: 'sqlite',
      objects: 'folder',
      needs: {},
      start: () => startStraitKept(STRAIT_ARGS),
    },
    ...(baselineRoot
      ? [{
          name: `file-wal@${args['baseline-name']}`,
          walKind: 'file',
          metadata: 'sqlite',
          objects: 'folder',
          needs: {},
          start: () => startStraitKept(STRAIT_ARGS, resolve(baselineRoot)),
        } satisfies Target]
      : []),
    objectWalTarget('object-wal-sqlite', DEFAULT_FLUSH_MS, 'sqlite'),
    objectWalTarget('object-wal-postgres', DEFAULT_FLUSH_MS, 'postgres'),
    ...flushExtra.map((ms) => objectWalTarget(`object-wal-sqlite-flush${ms}`, ms, 'sqlite')),
  ];
}

// ---- measuring ---------------------------------------------------------------------------------------

type Metrics = Map<string, number>;

/** Strait's /metrics as "name{labels}" → value. */
async function scrape(broker: BrokerHandle): Promise<Metrics> {
  const res = await fetch(`${(broker as StraitHandle).adminUrl}/metrics`);
  const text = await res.text();
  const m: Metrics = new Map();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

const metric = (m: Metrics, name: string) => m.get(name) ?? 0;
const putsOf = (m: Metrics, kind: string) => metric(m, `strait_object_puts_total{kind="${kind}"}`);
const putBytesOf = (m: Metrics, kind: string) => metric(m, `strait_object_put_bytes_total{kind="${kind}"}`);

/** Waits until Strait holds nothing waiting for the WAL or for object storage. */
async function waitForUploads(broker: BrokerHandle): Promise<number> {
  const started = performance.now();
  for (;;) {
    const m = await scrape(broker);
    if (metric(m, 'strait_upload_pending_bytes') === 0 && metric(m, 'strait_wal_pending_bytes') === 0) return round((performance.now() - started) / 1000, 1);
    if (performance.now() - started > UPLOAD_DRAIN_TIMEOUT_MS) throw new Error(`upload backlog not drained within ${UPLOAD_DRAIN_TIMEOUT_MS} ms: ${metric(m, 'strait_upload_pending_bytes')} bytes`);
    await sleep(250);
  }
}

async function xactCommits(postgres: PostgresHandle, database: string): Promise<number> {
  // Read from the maintenance database, so these queries are not counted in the broker's.
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  try {
    const r = await client.query<{ xact_commit: string }>('SELECT xact_commit FROM pg_stat_database WHERE datname = $1', [database]);
    return Number(r.rows[0]?.xact_commit ?? Number.NaN);
  } finally {
    await client.end();
  }
}

/** Pids of the processes of an OS user (PostgreSQL's postmaster and backends run as `postgres`). */
function pidsOfUser(uid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (statSync(`/proc/${name}`).uid === uid) pids.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

const postgresUid = (() => {
  try {
    return Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  } catch {
    return -1;
  }
})();

/**
 * CPU seconds and largest RSS of the broker, MinIO and PostgreSQL (all its processes; backends
 * the pool opens meanwhile count from zero) over an interval, and the machine's busy time.
 */
class Usage {
  private readonly startedAt = performance.now();
  private readonly busyAtStart = machineBusySeconds();
  private readonly cpuAtStart = new Map<number, number>();
  private readonly rssMaxKiB = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private readonly roles: { broker: number; minio: number | null; postgres: boolean };
  constructor(roles: { broker: number; minio: number | null; postgres: boolean }) {
    this.roles = roles;
    for (const pid of this.allPids()) this.cpuAtStart.set(pid, cpuSecondsOf(pid));
    this.timer = setInterval(() => this.sample(), SAMPLE_INTERVAL_MS);
  }

  private pidsByRole(): Record<string, number[]> {
    return {
      broker: [this.roles.broker],
      ...(this.roles.minio !== null ? { minio: [this.roles.minio] } : {}),
      ...(this.roles.postgres ? { postgres: pidsOfUser(postgresUid) } : {}),
    };
  }

  private allPids(): number[] {
    return Object.values(this.pidsByRole()).flat();
  }

  private sample(): void {
    for (const [role, pids] of Object.entries(this.pidsByRole())) {
      const kib = pids.reduce((a, pid) => a + statusKiB(pid, 'VmRSS'), 0);
      this.rssMaxKiB.set(role, Math.max(this.rssMaxKiB.get(role) ?? 0, kib));
    }
  }

  stop(): Record<string, { cpuSeconds: number; rssMiBMax: number }> & { seconds: number; otherCpuSeconds: number } {
    this.sample();
    clearInterval(this.timer);
    const seconds = (performance.now() - this.startedAt) / 1000;
    const out: Record<string, { cpuSeconds: number; rssMiBMax: number }> = {};
    let measured = 0;
    for (const [role, pids] of Object.entries(this.pidsByRole())) {
      const cpu = pids.reduce((a, pid) => {
        const now = cpuSecondsOf(pid);
        return Number.isFinite(now) ? a + now - (this.cpuAtStart.get(pid) ?? 0) : a;
      }, 0);
      measured += cpu;
      out[role] = { cpuSeconds: round(cpu), rssMiBMax: round((this.rssMaxKiB.get(role) ?? 0) / 1024, 0) };
    }
    const busy = machineBusySeconds() - this.busyAtStart;
    return Object.assign(out, { seconds: round(seconds, 1), otherCpuSeconds: round(busy - measured) });
  }
}

// ---- one run -----------------------------------------------------------------------------------------

interface Run {
  target: string;
  repeat: number;
  quiet: { waitedSeconds: number; busyCores: number };
  throughput: ProduceResult;
  latency: ProduceResult;
  read: ConsumeResult;
  usage: ReturnType<Usage['stop']>;
  /** Strait only. */
  objects?: {
    putsByKind: Record<string, number>;
    putBytesByKind: Record<string, number>;
    putsPerGiB: number;
    walPutsPerGiB: number;
    getsPerGiBRead: number;
    gets: number;
    walFlushes: number;
    walBytes: number;
    uploadDrainSeconds: number;
  };
  /** object-wal-postgres only: commits per second of each produce phase. */
  postgres?: { commitsPerSecThroughput: number; commitsPerSecLatency: number; commitsPerWalFlush: number };
}

async function runOnce(target: Target, shared: Shared, repeat: number): Promise<Run> {
  const quiet = await waitForQuiet(Number(args['quiet-wait-seconds']) * 1000);
  const run = `${target.name.replace(/[^a-z0-9]/g, '-')}-${repeat}-${randomBytes(3).toString('hex')}`;
  const started = await target.start(shared, run);
  try {
    let broker = started.broker;
    const strait = target.walKind !== 'kafka';
    await createTopic(broker.bootstrap, 'tput', PARTITIONS);
    await createTopic(broker.bootstrap, 'lat', PARTITIONS);
    const pid = strait ? (broker as StraitHandle).proc.pid! : pidListeningOn(broker.port)!;
    const before = strait ? await scrape(broker) : null;
    const database = started.database;
    const pgAt = async () => (database ? xactCommits(shared.postgres!, database) : Number.NaN);
    const pg0 = await pgAt();
    const usage = new Usage({ broker: pid, minio: target.needs.minio ? pidListeningOn(shared.minio!.port) : null, postgres: target.needs.postgres === true });
    const props = ['acks=all', 'compression.type=none', `linger.ms=${LINGER_MS}`, ...EXTRA_PRODUCER_PROPS];
    const throughput = await producerPerformance({ bootstrap: broker.bootstrap, topic: 'tput', records: RECORDS, recordBytes: RECORD_BYTES, throughput: -1, props });
    log(`${target.name} #${repeat + 1} throughput: ${throughput.mbps} MB/s, ${Math.round(throughput.recordsPerSec)} records/s`);
    if (database) await sleep(PG_STATS_SETTLE_MS);
    const pg1 = await pgAt();
    const latency = await producerPerformance({ bootstrap: broker.bootstrap, topic: 'lat', records: LATENCY_RECORDS, recordBytes: RECORD_BYTES, throughput: RATE, props });
    log(`${target.name} #${repeat + 1} latency at ${RATE}/s: p50 ${latency.latencyMsP50} p99 ${latency.latencyMsP99} p99.9 ${latency.latencyMsP999} ms`);
    const uploadDrainSeconds = strait ? await waitForUploads(broker) : 0;
    if (database) await sleep(PG_STATS_SETTLE_MS);
    const pg2 = await pgAt();
    const used = usage.stop();
    const after = strait ? await scrape(broker) : null;
    if (started.restart) broker = await started.restart();
    const read = await consumerPerformance(broker.bootstrap, 'tput', RECORDS);
    log(`${target.name} #${repeat + 1} catch-up read: ${read.mbps} MB/s`);
    const result: Run = { target: target.name, repeat, quiet, throughput, latency, read, usage: used };
    if (before && after) {
      const readMetrics = await scrape(broker);
      const writtenGiB = ((throughput.records + latency.records) * RECORD_BYTES) / GIB;
      const putsByKind = Object.fromEntries(OBJECT_KINDS.map((k) => [k, putsOf(after, k) - putsOf(before, k)]));
      const putBytesByKind = Object.fromEntries(OBJECT_KINDS.map((k) => [k, putBytesOf(after, k) - putBytesOf(before, k)]));
      // A Strait from before the PUT counters by kind (the baseline) counts uploaded objects only.
      if (!after.has('strait_object_puts_total{kind="data"}')) {
        putsByKind['data'] = metric(after, 'strait_uploaded_objects_total') - metric(before, 'strait_uploaded_objects_total');
        putBytesByKind['data'] = metric(after, 'strait_uploaded_bytes_total') - metric(before, 'strait_uploaded_bytes_total');
      }
      const puts = Object.values(putsByKind).reduce((a, b) => a + b, 0);
      const gets = metric(readMetrics, 'strait_block_cache_misses_total');
      const readGiB = read.mb / 1024;
      const walFlushes = after.has('strait_wal_flushes_total') ? metric(after, 'strait_wal_flushes_total') - metric(before, 'strait_wal_flushes_total') : Number.NaN;
      result.objects = {
        putsByKind,
        putBytesByKind,
        putsPerGiB: round(puts / writtenGiB, 1),
        walPutsPerGiB: round(putsByKind['wal']! / writtenGiB, 1),
        gets,
        getsPerGiBRead: round(gets / readGiB, 1),
        walFlushes,
        walBytes: metric(after, 'strait_wal_bytes_total') - metric(before, 'strait_wal_bytes_total'),
        uploadDrainSeconds,
      };
      if (database) {
        const tputSeconds = throughput.records / throughput.recordsPerSec;
        const latSeconds = latency.records / latency.recordsPerSec;
        result.postgres = {
          commitsPerSecThroughput: round((pg1 - pg0) / tputSeconds, 0),
          commitsPerSecLatency: round((pg2 - pg1) / latSeconds, 0),
          commitsPerWalFlush: round((pg2 - pg0) / Math.max(1, walFlushes), 2),
        };
      }
    }
    return result;
  } finally {
    await started.cleanup();
  }
}

// ---- the report --------------------------------------------------------------------------------------

/** The figures compared across targets, read from a run. */
const FIGURES: Record<string, (r: Run) => number | undefined> = {
  produceMBps: (r) => r.throughput.mbps,
  produceRecordsPerSec: (r) => round(r.throughput.recordsPerSec, 0),
  throughputLatencyMsP99: (r) => r.throughput.latencyMsP99,
  latencyMsP50: (r) => r.latency.latencyMsP50,
  latencyMsP99: (r) => r.latency.latencyMsP99,
  latencyMsP999: (r) => r.latency.latencyMsP999,
  latencyMsMax: (r) => r.latency.latencyMsMax,
  achievedRate: (r) => round(r.latency.recordsPerSec, 0),
  readMBps: (r) => r.read.mbps,
  readFetchMBps: (r) => r.read.fetchMBps,
  putsPerGiB: (r) => r.objects?.putsPerGiB,
  walPutsPerGiB: (r) => r.objects?.walPutsPerGiB,
  dataPutsPerGiB: (r) => (r.objects ? round(r.objects.putsByKind['data']! / (((r.throughput.records + r.latency.records) * RECORD_BYTES) / GIB), 1) : undefined),
  compactedPuts: (r) => r.objects?.putsByKind['compacted'],
  getsPerGiBRead: (r) => r.objects?.getsPerGiBRead,
  walFlushesPerSec: (r) => (r.objects ? round(r.objects.walFlushes / r.usage.seconds, 1) : undefined),
  pgCommitsPerSecThroughput: (r) => r.postgres?.commitsPerSecThroughput,
  pgCommitsPerSecLatency: (r) => r.postgres?.commitsPerSecLatency,
  pgCommitsPerWalFlush: (r) => r.postgres?.commitsPerWalFlush,
  brokerCpuSeconds: (r) => r.usage['broker']?.cpuSeconds,
  brokerRssMiBMax: (r) => r.usage['broker']?.rssMiBMax,
  minioCpuSeconds: (r) => r.usage['minio']?.cpuSeconds,
  postgresCpuSeconds: (r) => r.usage['postgres']?.cpuSeconds,
  otherCpuSeconds: (r) => r.usage.otherCpuSeconds,
  /** Broker CPU seconds per GiB produced (both produce phases). */
  brokerCpuSecondsPerGiB: (r) => round((r.usage['broker']?.cpuSeconds ?? Number.NaN) / (((r.throughput.records + r.latency.records) * RECORD_BYTES) / GIB)),
};

function medians(runs: Run[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, f] of Object.entries(FIGURES)) {
    const xs = runs.map(f).filter((x): x is number => x !== undefined && Number.isFinite(x));
    if (xs.length > 0) out[name] = round(median(xs));
  }
  return out;
}

function ratio(a: Record<string, number> | undefined, b: Record<string, number> | undefined): Record<string, number> | null {
  if (!a || !b) return null;
  const keys = ['produceMBps', 'latencyMsP50', 'latencyMsP99', 'latencyMsP999', 'readMBps', 'brokerCpuSecondsPerGiB', 'brokerRssMiBMax'];
  return Object.fromEntries(keys.filter((k) => a[k] !== undefined && b[k] !== undefined).map((k) => [k, round(a[k]! / Math.max(b[k]!, 1e-9))]));
}

const TABLE_COLUMNS: [string, string][] = [
  ['produceMBps', 'produce MB/s'],
  ['produceRecordsPerSec', 'records/s'],
  ['latencyMsP50', `p50 ms @${RATE}/s`],
  ['latencyMsP99', 'p99 ms'],
  ['latencyMsP999', 'p99.9 ms'],
  ['readMBps', 'catch-up read MB/s'],
  ['putsPerGiB', 'PUTs/GiB'],
  ['walPutsPerGiB', 'WAL PUTs/GiB'],
  ['getsPerGiBRead', 'GETs/GiB read'],
  ['pgCommitsPerSecThroughput', 'PG commits/s (max)'],
  ['pgCommitsPerSecLatency', `PG commits/s (@${RATE}/s)`],
  ['brokerCpuSeconds', 'broker CPU s'],
  ['brokerRssMiBMax', 'broker RSS MiB'],
  ['minioCpuSeconds', 'MinIO CPU s'],
  ['postgresCpuSeconds', 'PG CPU s'],
];

function markdown(results: Record<string, Record<string, number>>, header: string[]): string {
  const cell = (v: number | undefined) => (v === undefined ? '–' : String(v));
  const lines = [
    ...header,
    '',
    `| target | ${TABLE_COLUMNS.map(([, label]) => label).join(' | ')} |`,
    `| --- |${TABLE_COLUMNS.map(() => ' ---: |').join('')}`,
    ...Object.entries(results).map(([name, r]) => `| ${name} | ${TABLE_COLUMNS.map(([k]) => cell(r[k])).join(' | ')} |`),
  ];
  return lines.join('\n') + '\n';
}

/** Produce MB/s and p99 at the fixed rate, as two charts one above the other (each its own scale). */
function chart(results: Record<string, Record<string, number>>, notes: string[], repeats: number, rate: number): string {
  // Short labels: the chart's label column is narrow.
  const short = (name: string) => name.replace('object-wal-sqlite-flush', 'obj-sqlite ').replace(/^object-wal-/, 'obj-').replace(/ (\d+)$/, ' $1ms');
  const colors = { kafka: '#d17a22', 'file-wal': '#2b7a78', [`file-wal@${args['baseline-name']}`]: '#7fb8b5', 'obj-sqlite': '#3a5ba0', 'obj-postgres': '#6a3d9a' };
  const names = Object.keys(results);
  const mbps = barChart({
    title: `WAL kinds vs Apache Kafka 4.3.1: 1 KiB records, acks=all, ${PARTITIONS} partitions (median of ${repeats})`,
    bars: names.map((name): Bar => ({ group: 'produce MB/s', label: short(name), value: results[name]!['produceMBps'] ?? Number.NaN })),
    unit: 'MB/s',
    widthPx: 820,
    colors,
  });
  const p99 = barChart({
    title: `Produce latency p99 at ${rate} records/s (send to acknowledgement)`,
    bars: names.map((name): Bar => ({ group: 'p99 ms', label: short(name), value: results[name]!['latencyMsP99'] ?? Number.NaN })),
    unit: 'ms',
    digits: 0,
    widthPx: 820,
    notes,
    colors,
  });
  const height = (svg: string) => Number(/height="(\d+)"/.exec(svg)![1]);
  const gap = 16;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="820" height="${height(mbps) + gap + height(p99)}" font-family="sans-serif">\n` +
    mbps.replace('<svg ', '<svg y="0" ') +
    p99.replace('<svg ', `<svg y="${height(mbps) + gap}" `) +
    '</svg>\n'
  );
}

function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

async function main(): Promise<void> {
  if (args['chart-from']) {
    const report = JSON.parse(readFileSync(args['chart-from'], 'utf8')) as { date: string; results: Record<string, Record<string, number>>; settings: { records: number; latencyRecords: number; latencyRate: number; repeats: number }; machine: { loadAverageAtStart: string } };
    const s = report.settings;
    const notes = [
      `${s.records} records as fast as they go for MB/s; ${s.latencyRecords} at ${s.latencyRate}/s for latency (send to acknowledgement).`,
      `Object WAL on a local MinIO; wal.object.flush.ms ${DEFAULT_FLUSH_MS}. Load average ${report.machine.loadAverageAtStart} at start (2 shared cores).`,
    ];
    writeFileSync(args['chart-from'].replace(/\.json$/, '.svg'), chart(report.results, notes, s.repeats, s.latencyRate));
    return;
  }
  const only = (args.only ?? '').split(',').filter((x) => x !== '');
  const targets = allTargets().filter((t) => only.length === 0 || only.includes(t.name));
  if (targets.length === 0) throw new Error(`no target matches --only ${args.only}`);
  const shared: Shared = { minio: null, postgres: null };
  const runs: Run[] = [];
  const failures: { target: string; repeat: number; error: string }[] = [];
  const loadAtStart = loadAverage();
  const startedAt = new Date();
  // The working tree that is measured is the one at the start (others may commit during a long run).
  const commitAtStart = commitOf(STRAIT_ROOT);
  const treeDirty = execFileSync('git', ['-C', STRAIT_ROOT, 'status', '--porcelain', '--untracked-files=no', '--', 'src'], { encoding: 'utf8' }).trim() !== '';
  try {
    if (targets.some((t) => t.needs.minio)) shared.minio = await startMinio();
    // PostgreSQL as in production: fsync and full-page writes on, so a commit waits for its WAL fsync.
    if (targets.some((t) => t.needs.postgres)) shared.postgres = await startPostgres({ durable: true });
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      for (const target of targets) {
        log(`${target.name} #${repeat + 1} (load ${loadAverage()})`);
        try {
          runs.push(await runOnce(target, shared, repeat));
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          failures.push({ target: target.name, repeat, error: message.slice(0, 4000) });
          log(`${target.name} #${repeat + 1} failed: ${message.slice(0, 500)}`);
        }
      }
    }
  } finally {
    await shared.minio?.stop();
    await shared.postgres?.stop();
  }
  const results: Record<string, Record<string, number>> = {};
  for (const t of targets) {
    const mine = runs.filter((r) => r.target === t.name);
    if (mine.length > 0) results[t.name] = { runs: mine.length, ...medians(mine) };
  }
  const ratios: Record<string, Record<string, number> | null> = {
    'file-wal/kafka': ratio(results['file-wal'], results['kafka']),
    'object-wal-sqlite/kafka': ratio(results['object-wal-sqlite'], results['kafka']),
    'object-wal-postgres/kafka': ratio(results['object-wal-postgres'], results['kafka']),
    'object-wal-sqlite/file-wal': ratio(results['object-wal-sqlite'], results['file-wal']),
    'object-wal-postgres/file-wal': ratio(results['object-wal-postgres'], results['file-wal']),
    [`file-wal/file-wal@${args['baseline-name']}`]: ratio(results['file-wal'], results[`file-wal@${args['baseline-name']}`]),
  };
  const flushTuning = targets
    .filter((t) => t.walKind === 'object' && t.metadata === 'sqlite' && results[t.name])
    .map((t): Record<string, number> & { flushMs: number } => ({ flushMs: t.flushMs!, ...pick(results[t.name]!, ['produceMBps', 'latencyMsP50', 'latencyMsP99', 'latencyMsP999', 'walPutsPerGiB', 'putsPerGiB', 'brokerCpuSecondsPerGiB']) }))
    .sort((a, b) => a.flushMs - b.flushMs);
  const baselineRoot = args['baseline-root'] ?? '';
  const report = {
    benchmark: 'wal-kinds',
    date: startedAt.toISOString(),
    durationSeconds: round((Date.now() - startedAt.getTime()) / 1000, 0),
    machine: { ...machineInfo(), loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadAverage() },
    straitRoot: STRAIT_ROOT,
    commit: commitAtStart,
    srcUncommittedChanges: treeDirty,
    ...(baselineRoot ? { baseline: { name: args['baseline-name'], root: baselineRoot, commit: commitOf(baselineRoot) } } : {}),
    settings: {
      records: RECORDS, recordBytes: RECORD_BYTES, partitions: PARTITIONS, acks: 'all', lingerMs: LINGER_MS, compression: 'none', extraProducerProps: EXTRA_PRODUCER_PROPS,
      latencyRate: RATE, latencyRecords: LATENCY_RECORDS, repeats: REPEATS, order: 'each repeat runs every target once, in this order',
      targets: targets.map((t) => ({ name: t.name, wal: t.walKind, metadata: t.metadata, objects: t.objects, ...(t.flushMs ? { 'wal.object.flush.ms': t.flushMs } : {}) })),
      postgres: 'PostgreSQL 15, fsync on, synchronous_commit on, one database per run',
      minio: 'one local single-drive MinIO for the whole run, one bucket per run',
    },
    results,
    ratios,
    flushTuning,
    failures,
    runs,
  };
  const out = resolve(args.out!);
  mkdirSync(out, { recursive: true });
  const stamp = report.date.slice(0, 19).replace(/[:T]/g, '-');
  const base = join(out, `wal-kinds-${stamp}`);
  const notes = [
    `${RECORDS} records as fast as they go for MB/s; ${LATENCY_RECORDS} at ${RATE}/s for latency (send to acknowledgement).`,
    `Object WAL on a local MinIO; wal.object.flush.ms ${DEFAULT_FLUSH_MS}. Load average ${loadAtStart} at start (2 shared cores).`,
  ];
  const header = [
    `# wal-kinds ${report.date} (commit ${report.commit}${baselineRoot ? `, baseline ${report.baseline!.commit}` : ''})`,
    '',
    `Medians of ${REPEATS} repeats; ${notes.join(' ')}`,
  ];
  let md = markdown(results, header);
  if (flushTuning.length > 1) {
    md += `\n## wal.object.flush.ms (object WAL, MinIO + SQLite)\n\n| flush ms | produce MB/s | p50 ms | p99 ms | p99.9 ms | WAL PUTs/GiB | PUTs/GiB | broker CPU s/GiB |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n`;
    md += flushTuning.map((f) => `| ${f.flushMs} | ${f.produceMBps} | ${f.latencyMsP50} | ${f.latencyMsP99} | ${f.latencyMsP999} | ${f.walPutsPerGiB} | ${f.putsPerGiB} | ${f.brokerCpuSecondsPerGiB} |`).join('\n') + '\n';
  }
  if (failures.length > 0) md += `\n${failures.length} run(s) failed: ${failures.map((f) => `${f.target} #${f.repeat + 1}`).join(', ')} (see the JSON).\n`;
  writeFileSync(`${base}.json`, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(`${base}.md`, md);
  writeFileSync(`${base}.svg`, chart(results, notes, REPEATS, RATE));
  process.stdout.write(`${md}\n${JSON.stringify(ratios, null, 2)}\nwritten to ${base}.{json,md,svg}\n`);
}

function commitOf(root: string): string {
  return execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
}

function pick(r: Record<string, number>, keys: string[]): Record<string, number> {
  return Object.fromEntries(keys.map((k) => [k, r[k]!]));
}

await main();
