// The S3 client: the AWS SDK (`@aws-sdk/client-s3`, what src/storage/objects/s3-store.ts uses) against
// the hand-written SigV4 client Strait had before (bench/sigv4-s3-client.ts), on one local MinIO.
//
//   node_modules/.bin/node bench/s3-client.ts [--repeats 3] [--small 300] [--large-mib 8] [--large-count 24] [--out DIR]
//
// Each run is a child process of its own (so RSS is the client's alone), alternating the clients,
// --repeats runs each. A run measures, sequentially on one connection pool:
//   - small PUT / GET latency: --small objects of 1 KiB, p50 and p99 in ms;
//   - large PUT / GET: --large-count objects of --large-mib MiB, each PUT given as 64 parts (a
//     Buffer[] as the uploader hands it over), throughput in MiB/s and CPU ms per GiB moved;
//   - RSS in MiB after the run, and the bytes of ArrayBuffers allocated during the large PUTs
//     beyond the bodies themselves (a client that joins the parts into one buffer shows it here).
// Results: the medians over the repeats, and every run, as JSON in bench/results/s3-client-<time>.json.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import { S3Store } from '../src/storage/objects/index.ts';
import type { ObjectStore } from '../src/storage/objects/index.ts';
import { SigV4S3Store } from './sigv4-s3-client.ts';

type ClientName = 'aws-sdk' | 'hand-written';
const clients: ClientName[] = ['aws-sdk', 'hand-written'];

interface RunResult {
  client: ClientName;
  smallPutMsP50: number;
  smallPutMsP99: number;
  smallGetMsP50: number;
  smallGetMsP99: number;
  largePutMiBPerS: number;
  largeGetMiBPerS: number;
  largePutCpuMsPerGiB: number;
  largeGetCpuMsPerGiB: number;
  /** ArrayBuffer bytes that grew during the large PUTs, per MiB of body written. */
  largePutExtraArrayBufferBytesPerMiB: number;
  rssMiB: number;
}

const { values: args } = parseArgs({
  options: {
    repeats: { type: 'string', default: '3' },
    small: { type: 'string', default: '300' },
    'large-mib': { type: 'string', default: '8' },
    'large-count': { type: 'string', default: '24' },
    out: { type: 'string', default: 'bench/results' },
    child: { type: 'string' },
    endpoint: { type: 'string' },
    bucket: { type: 'string' },
    'access-key': { type: 'string' },
    'secret-key': { type: 'string' },
  },
});

if (args.child !== undefined) {
  const result = await runChild(args.child as ClientName);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

const { startMinio } = await import('../test/compat/harness.ts');
const minio = await startMinio();
try {
  const repeats = Number(args.repeats);
  const runs: RunResult[] = [];
  for (let repeat = 0; repeat < repeats; repeat++) {
    // Alternate the order so neither client always runs on a warmer MinIO.
    for (const client of repeat % 2 === 0 ? clients : [...clients].reverse()) {
      const bucket = `bench-${client}-${repeat}-${randomBytes(3).toString('hex')}`;
      const setup = new S3Store({ endpoint: minio.endpoint, region: minio.region, bucket, accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey, pathStyle: true });
      await setup.createBucket();
      await setup.close();
      const result = await child(client, { endpoint: minio.endpoint, bucket, accessKey: minio.accessKey, secretKey: minio.secretKey });
      console.error(`${client} run ${repeat + 1}: ${JSON.stringify(result)}`);
      runs.push(result);
    }
  }
  const medians = Object.fromEntries(clients.map((client) => [client, medianOf(runs.filter((run) => run.client === client))]));
  const report = {
    benchmark: 's3-client',
    at: new Date().toISOString(),
    machine: { cores: availableParallelism(), node: process.version },
    settings: { repeats, smallObjects: Number(args.small), smallBytes: 1024, largeMiB: Number(args['large-mib']), largeCount: Number(args['large-count']), partsPerLargePut: 64 },
    medians,
    runs,
  };
  const dir = resolve(args.out);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `s3-client-${new Date().toISOString().replace(/[:T]/g, '-').replace(/\..*/, '')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify({ file, medians }, null, 2));
} finally {
  await minio.stop();
}

function child(client: ClientName, where: { endpoint: string; bucket: string; accessKey: string; secretKey: string }): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const proc = spawn(
      process.execPath,
      [
        process.argv[1]!,
        '--child', client,
        '--endpoint', where.endpoint,
        '--bucket', where.bucket,
        '--access-key', where.accessKey,
        '--secret-key', where.secretKey,
        '--small', String(args.small),
        '--large-mib', String(args['large-mib']),
        '--large-count', String(args['large-count']),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    proc.once('error', reject);
    proc.once('exit', (code) => {
      if (code !== 0) reject(new Error(`${client} run exited with ${code}`));
      else resolvePromise(JSON.parse(out.trim().split('\n').at(-1)!) as RunResult);
    });
  });
}

async function runChild(client: ClientName): Promise<RunResult> {
  const options = {
    endpoint: args.endpoint!,
    region: 'us-east-1',
    bucket: args.bucket!,
    accessKeyId: args['access-key']!,
    secretAccessKey: args['secret-key']!,
    pathStyle: true,
  };
  const store: ObjectStore = client === 'aws-sdk' ? new S3Store(options) : new SigV4S3Store(options);
  const small = Number(args.small);
  const largeBytes = Number(args['large-mib']) * 1024 * 1024;
  const largeCount = Number(args['large-count']);

  // Warm up the connection pool and the code paths.
  for (let i = 0; i < 20; i++) await store.put(`warm/${i}`, randomBytes(1024));
  for (let i = 0; i < 20; i++) await store.get(`warm/${i}`);

  const smallBody = randomBytes(1024);
  const putMs: number[] = [];
  for (let i = 0; i < small; i++) {
    const started = performance.now();
    await store.put(`small/${i}`, smallBody);
    putMs.push(performance.now() - started);
  }
  const getMs: number[] = [];
  for (let i = 0; i < small; i++) {
    const started = performance.now();
    await store.get(`small/${i}`);
    getMs.push(performance.now() - started);
  }

  const partBytes = largeBytes / 64;
  const parts = Array.from({ length: 64 }, () => randomBytes(partBytes));
  globalThis.gc?.();
  const arrayBuffersBefore = process.memoryUsage().arrayBuffers;
  let arrayBuffersPeak = arrayBuffersBefore;
  const sampler = setInterval(() => (arrayBuffersPeak = Math.max(arrayBuffersPeak, process.memoryUsage().arrayBuffers)), 2);
  let cpu = process.cpuUsage();
  let started = performance.now();
  for (let i = 0; i < largeCount; i++) {
    await store.put(`large/${i}`, parts);
    arrayBuffersPeak = Math.max(arrayBuffersPeak, process.memoryUsage().arrayBuffers);
  }
  const putElapsedMs = performance.now() - started;
  const putCpu = process.cpuUsage(cpu);
  clearInterval(sampler);

  cpu = process.cpuUsage();
  started = performance.now();
  for (let i = 0; i < largeCount; i++) await store.get(`large/${i}`);
  const getElapsedMs = performance.now() - started;
  const getCpu = process.cpuUsage(cpu);

  const gib = (largeBytes * largeCount) / 2 ** 30;
  const mib = (largeBytes * largeCount) / 2 ** 20;
  const result: RunResult = {
    client,
    smallPutMsP50: round(percentile(putMs, 0.5)),
    smallPutMsP99: round(percentile(putMs, 0.99)),
    smallGetMsP50: round(percentile(getMs, 0.5)),
    smallGetMsP99: round(percentile(getMs, 0.99)),
    largePutMiBPerS: round(mib / (putElapsedMs / 1000)),
    largeGetMiBPerS: round(mib / (getElapsedMs / 1000)),
    largePutCpuMsPerGiB: round((putCpu.user + putCpu.system) / 1000 / gib),
    largeGetCpuMsPerGiB: round((getCpu.user + getCpu.system) / 1000 / gib),
    largePutExtraArrayBufferBytesPerMiB: round((arrayBuffersPeak - arrayBuffersBefore) / (largeBytes / 2 ** 20)),
    rssMiB: round(process.memoryUsage().rss / 2 ** 20),
  };
  await store.close();
  return result;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function medianOf(runs: RunResult[]): Omit<RunResult, 'client'> {
  const keys = Object.keys(runs[0]!).filter((key) => key !== 'client') as (keyof Omit<RunResult, 'client'>)[];
  return Object.fromEntries(keys.map((key) => [key, round(median(runs.map((run) => run[key])))])) as Omit<RunResult, 'client'>;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
