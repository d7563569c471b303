// Robustness: 10,000 random, truncated, oversized and otherwise malformed frames, each on its own
// connection, while one well-behaved client keeps asking for Metadata. The broker must close only
// the offending connections, answer the good client correctly throughout, and keep memory bounded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { startStrait } from '../compat/harness.ts';
import type { StraitHandle } from '../compat/harness.ts';
import { RawClient, encodeRequest } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';

const FRAMES = Number(process.env.STRAIT_TEST_BAD_FRAMES ?? 10000);
const CONCURRENCY = 64;
const REQUEST_MAX = 1024 * 1024;

let strait: StraitHandle;
before(async () => {
  strait = await startStrait({ args: ['--socket-request-max-bytes', String(REQUEST_MAX), '--log-level', 'error'] });
});
after(async () => strait?.stop());

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]);
}

const sizePrefixed = (body: Buffer) => {
  const b = Buffer.alloc(4 + body.length);
  b.writeInt32BE(body.length, 0);
  body.copy(b, 4);
  return b;
};

function header(apiKey: number, version: number, rest: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(10);
  h.writeInt16BE(apiKey, 0);
  h.writeInt16BE(version, 2);
  h.writeInt32BE(1, 4);
  h.writeInt16BE(-1, 8);
  return Buffer.concat([h, rest]);
}

const goodMetadata = encodeRequest(ApiKey.Metadata, 9, { topics: [{ name: 'robust' }] }, 1);

/** Kinds of bad input; `closes` says the broker must close the connection itself. */
const KINDS: { name: string; make(): Buffer; closes: boolean }[] = [
  { name: 'random bytes', make: () => randomBytes(1 + (randomBytes(1)[0]! % 200)), closes: false },
  { name: 'random body', make: () => sizePrefixed(randomBytes(8 + (randomBytes(1)[0]! % 100))), closes: false },
  { name: 'oversized', make: () => Buffer.from([0x7f, 0xff, 0xff, 0xff]), closes: true },
  { name: 'just over the limit', make: () => { const b = Buffer.alloc(4); b.writeInt32BE(REQUEST_MAX + 1); return b; }, closes: true },
  { name: 'negative size', make: () => Buffer.from([0x80, 0, 0, 1]), closes: true },
  { name: 'empty frame', make: () => sizePrefixed(Buffer.alloc(0)), closes: true },
  { name: 'unknown api key', make: () => sizePrefixed(header(4242, 0)), closes: true },
  { name: 'unsupported version', make: () => sizePrefixed(header(ApiKey.Metadata, 99)), closes: true },
  { name: 'truncated request', make: () => goodMetadata.subarray(0, 4 + (randomBytes(1)[0]! % (goodMetadata.length - 5))), closes: false },
  {
    name: 'truncated body, honest size',
    make: () => {
      const cut = Buffer.from(goodMetadata.subarray(0, goodMetadata.length - 3));
      cut.writeInt32BE(cut.length - 4, 0);
      return cut;
    },
    closes: true,
  },
  {
    name: 'corrupted request',
    make: () => {
      const b = Buffer.from(goodMetadata);
      for (let i = 0; i < 3; i++) b[14 + (randomBytes(1)[0]! % (b.length - 14))] = randomBytes(1)[0]!;
      return b;
    },
    closes: false,
  },
];

/** Sends one bad frame on a fresh connection; resolves whether the broker closed it first. */
function sendBad(port: number, bytes: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    let closedByUs = false;
    const timer = setTimeout(() => {
      closedByUs = true;
      s.destroy();
    }, 300);
    s.on('error', () => {});
    s.on('data', () => {});
    s.on('connect', () => s.write(bytes));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(!closedByUs);
    });
  });
}

test(`${FRAMES} bad frames on separate connections while a good client is served`, async () => {
  const good = await RawClient.connect(strait.port);
  await good.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'robust', numPartitions: 3, replicationFactor: 1 }], timeoutMs: 1000 });
  const rssBefore = rssKiB(strait.proc.pid!);

  let goodAnswers = 0;
  let running = true;
  const goodLoop = (async () => {
    while (running) {
      const md = await good.request(ApiKey.Metadata, 12, { topics: [{ name: 'robust' }] });
      assert.equal(md.topics[0].errorCode, 0);
      assert.equal(md.topics[0].partitions.length, 3);
      goodAnswers++;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();

  const expectedCloses: Record<string, number> = {};
  const observedCloses: Record<string, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < FRAMES) {
      const kind = KINDS[next++ % KINDS.length]!;
      const closedByBroker = await sendBad(strait.port, kind.make());
      if (kind.closes) {
        expectedCloses[kind.name] = (expectedCloses[kind.name] ?? 0) + 1;
        if (closedByBroker) observedCloses[kind.name] = (observedCloses[kind.name] ?? 0) + 1;
      }
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  running = false;
  await goodLoop;
  const rssAfter = rssKiB(strait.proc.pid!);
  const seconds = (Date.now() - started) / 1000;
  console.log(`bad frames: ${FRAMES} in ${seconds.toFixed(1)} s; good Metadata answers meanwhile: ${goodAnswers}; broker RSS ${Math.round(rssBefore / 1024)} MiB before, ${Math.round(rssAfter / 1024)} MiB after`);

  assert.deepEqual(observedCloses, expectedCloses, 'the broker closes every connection that sent a frame it must reject');
  assert.ok(goodAnswers > 10, `the good client was answered only ${goodAnswers} times`);
  assert.equal(strait.proc.exitCode, null, 'broker still running');
  assert.ok(rssAfter - rssBefore < 64 * 1024, `RSS grew by ${rssAfter - rssBefore} KiB`);
  const md = await good.request(ApiKey.Metadata, 12, { topics: null });
  assert.ok(md.topics.some((t: any) => t.name === 'robust'));
  good.close();
});
