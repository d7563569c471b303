// The s3 engine against a real MinIO started by this file: the shared contract, then what only a
// networked store has: outages (MinIO killed, MinIO frozen), transient errors and lost answers
// (through a small fault-injecting proxy), wrong credentials, a missing bucket, key prefixes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startMinio, type MinioHandle } from '../compat/harness.ts';
import {
  ObjectExistsError,
  ObjectStoreAccessDeniedError,
  ObjectStoreRequestError,
  ObjectStoreUnavailableError,
  S3Store,
  type S3StoreOptions,
} from '../../src/storage/objects/index.ts';
import { objectStoreContract } from '../storage/object-store-contract.ts';

let minio: MinioHandle;
const stores: S3Store[] = [];

before(async () => {
  minio = await startMinio();
});

after(async () => {
  for (const store of stores) await store.close();
  await minio?.stop();
});

function newBucket(): string {
  return `t-${randomBytes(6).toString('hex')}`;
}

/** A store on MinIO (closed after the file's tests); options override the defaults. */
function s3Store(options: Partial<S3StoreOptions> = {}): S3Store {
  const store = new S3Store({
    endpoint: minio.endpoint,
    region: minio.region,
    bucket: 'shared',
    accessKeyId: minio.accessKey,
    secretAccessKey: minio.secretKey,
    pathStyle: true,
    ...options,
  });
  stores.push(store);
  return store;
}

/** A store on a fresh bucket, for tests that need one of their own. */
async function freshStore(options: Partial<S3StoreOptions> = {}): Promise<S3Store> {
  const store = s3Store({ bucket: newBucket(), ...options });
  await store.createBucket();
  return store;
}

/** Outage settings: a short timeout and few, short retries, so a failure shows within seconds. */
const outage = { requestTimeoutMs: 1000, attemptsMax: 3, backoffMsMin: 50, backoffMsMax: 200 } as const;

async function elapsedMs(fn: () => Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = Date.now();
  try {
    await fn();
    return { ms: Date.now() - started, error: undefined };
  } catch (error) {
    return { ms: Date.now() - started, error };
  }
}

// Every contract test gets a bucket of its own, and keys go under a prefix as a cluster's would.
objectStoreContract('s3 (MinIO)', async () => ({
  store: await freshStore({ prefix: 'cluster-a/' }),
  cleanup: async () => undefined,
}));

test('s3: a key prefix keeps stores sharing a bucket apart', { timeout: 30_000 }, async () => {
  const bucket = newBucket();
  const raw = s3Store({ bucket });
  await raw.createBucket();
  const a = s3Store({ bucket, prefix: 'a/' });
  const b = s3Store({ bucket, prefix: 'b/' });
  await a.put('k', Buffer.from('from a'), { ifNoneMatch: true });
  await b.put('k', Buffer.from('from b'), { ifNoneMatch: true });
  assert.equal((await a.get('k')).toString(), 'from a');
  assert.deepEqual(await a.list(''), [{ key: 'k', sizeBytes: 6 }], 'keys are listed without the prefix');
  assert.deepEqual((await raw.list('')).map((info) => info.key), ['a/k', 'b/k']);
  await a.delete('k');
  assert.equal(await a.head('k'), null);
  assert.equal((await b.get('k')).toString(), 'from b');
});

test('s3: with MinIO killed, operations fail with ObjectStoreUnavailableError within a bounded time, and work again after a restart', { timeout: 30_000 }, async () => {
  const store = await freshStore(outage);
  await store.put('before-outage', Buffer.from('kept'));
  await minio.kill();
  try {
    const operations: [string, () => Promise<unknown>][] = [
      ['put', () => store.put('during-outage', Buffer.from('x'))],
      ['conditional put', () => store.put('during-outage', Buffer.from('x'), { ifNoneMatch: true })],
      ['get', () => store.get('before-outage')],
      ['ranged get', () => store.get('before-outage', { start: 0, end: 2 })],
      ['head', () => store.head('before-outage')],
      ['list', () => store.list('')],
      ['delete', () => store.delete('before-outage')],
    ];
    for (const [name, operation] of operations) {
      const { ms, error } = await elapsedMs(operation);
      assert.ok(error instanceof ObjectStoreUnavailableError, `${name}: ${String(error)}`);
      assert.equal(error.code, 'STRAIT_OBJECT_STORE_UNAVAILABLE');
      assert.match(error.message, /after 3 attempts/, name);
      assert.match(error.message, /ECONNREFUSED/, name);
      // Refused connections fail at once: what remains is two backoffs of at most 200 ms.
      assert.ok(ms < 1500, `${name} took ${ms} ms`);
    }
  } finally {
    await minio.restart();
  }
  assert.equal((await store.get('before-outage')).toString(), 'kept', 'data written before the outage survives it');
  await store.put('after-outage', Buffer.from('y'), { ifNoneMatch: true });
  assert.deepEqual((await store.list('')).map((info) => info.key), ['after-outage', 'before-outage']);
});

test('s3: with MinIO frozen, requests time out into ObjectStoreUnavailableError, and work again when it resumes', { timeout: 30_000 }, async () => {
  const store = await freshStore(outage);
  await store.put('frozen', Buffer.from('ice'));
  await minio.pause();
  let ms: number;
  let error: unknown;
  let stateAfter: string | null;
  try {
    ({ ms, error } = await elapsedMs(() => store.get('frozen')));
    stateAfter = minio.processState();
  } finally {
    minio.resume();
  }
  assert.ok(error instanceof ObjectStoreUnavailableError, `${String(error)} after ${ms} ms; MinIO state ${stateAfter}`);
  assert.match(error.message, /no answer for 1000 ms/);
  // Three attempts of 1 s each plus two backoffs; well above one timeout, well below a hang.
  assert.ok(ms >= 2900 && ms < 5000, `took ${ms} ms`);
  assert.equal((await store.get('frozen')).toString(), 'ice');
});

test('s3: retries bridge an outage shorter than the retry budget', { timeout: 30_000 }, async () => {
  const store = await freshStore({ ...outage, attemptsMax: 40, backoffMsMin: 100, backoffMsMax: 200 });
  await minio.kill();
  const restarted = new Promise<void>((resolve, reject) => {
    setTimeout(() => minio.restart().then(resolve, reject), 500);
  });
  const body = randomBytes(100_000);
  const { ms, error } = await elapsedMs(() => store.put('bridged', [body.subarray(0, 10), body.subarray(10)], { ifNoneMatch: true }));
  await restarted;
  assert.equal(error, undefined, String(error));
  assert.ok(ms >= 500, `the put cannot have succeeded before MinIO came back (${ms} ms)`);
  assert.deepEqual(await store.get('bridged'), body);
});

interface FaultProxy {
  endpoint: string;
  /** method and path of every request that reached the proxy, in order. */
  seen: string[];
  /** Faults applied to the next matching requests, consumed in order. */
  faults: { method: string; action: 'answer-503' | 'drop-answer' }[];
  close(): Promise<void>;
}

/** An HTTP proxy in front of MinIO that can answer 503 itself or forward a request and then drop
 *  MinIO's answer (the write happened, the client never hears of it). Headers pass unchanged, so
 *  the client's signature (over the proxy's host) still checks out. */
async function startFaultProxy(): Promise<FaultProxy> {
  const proxy: Omit<FaultProxy, 'endpoint' | 'close'> = { seen: [], faults: [] };
  const server: Server = createServer((req, res) => {
    proxy.seen.push(`${req.method} ${req.url}`);
    const index = proxy.faults.findIndex((fault) => fault.method === req.method);
    const fault = index < 0 ? undefined : proxy.faults.splice(index, 1)[0];
    if (fault?.action === 'answer-503') {
      req.resume();
      req.once('end', () => {
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      });
      return;
    }
    const upstream = httpRequest(
      { host: '127.0.0.1', port: minio.port, method: req.method, path: req.url, headers: req.headers, agent: false },
      (answer: IncomingMessage) => {
        if (fault?.action === 'drop-answer') {
          answer.resume();
          answer.once('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.once('error', () => req.socket.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    ...proxy,
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test('s3: 503 answers are retried, and reported as ObjectStoreUnavailableError when they persist', { timeout: 30_000 }, async () => {
  const bucket = newBucket();
  const direct = await freshStore({ bucket });
  const proxy = await startFaultProxy();
  try {
    const store = s3Store({ ...outage, endpoint: proxy.endpoint, bucket });
    proxy.faults.push({ method: 'PUT', action: 'answer-503' }, { method: 'PUT', action: 'answer-503' });
    await store.put('after-503s', Buffer.from('v'));
    assert.equal(proxy.seen.filter((line) => line.startsWith('PUT ')).length, 3, 'two 503s, then the attempt that worked');
    assert.equal((await direct.get('after-503s')).toString(), 'v');

    proxy.faults.push(...Array.from({ length: 3 }, () => ({ method: 'GET', action: 'answer-503' as const })));
    await assert.rejects(store.get('after-503s'), (error: unknown) => {
      assert.ok(error instanceof ObjectStoreUnavailableError, String(error));
      assert.match(error.message, /after 3 attempts.*503 SlowDown/);
      return true;
    });
  } finally {
    await proxy.close();
  }
});

test('s3: a conditional put whose answer was lost is not mistaken for a lost race', { timeout: 30_000 }, async () => {
  const bucket = newBucket();
  const direct = await freshStore({ bucket });
  const proxy = await startFaultProxy();
  try {
    const store = s3Store({ ...outage, endpoint: proxy.endpoint, bucket });
    // MinIO stores the object, the answer never arrives, the retry meets 412: the object is ours.
    proxy.faults.push({ method: 'PUT', action: 'drop-answer' });
    const body = [randomBytes(1000), randomBytes(5)];
    await store.put('mine', body, { ifNoneMatch: true });
    assert.equal(proxy.seen.filter((line) => line.startsWith('PUT ')).length, 2, 'the put was retried');
    assert.deepEqual(await direct.get('mine'), Buffer.concat(body));

    // Someone else holds the key with other bytes: after a retry, that is still a lost race.
    await direct.put('theirs', Buffer.from('their bytes'), { ifNoneMatch: true });
    proxy.faults.push({ method: 'PUT', action: 'answer-503' });
    await assert.rejects(store.put('theirs', Buffer.from('our bytes'), { ifNoneMatch: true }), ObjectExistsError);
    assert.equal((await direct.get('theirs')).toString(), 'their bytes');
  } finally {
    await proxy.close();
  }
});

test('s3: wrong credentials fail at once with a clear ObjectStoreAccessDeniedError', { timeout: 30_000 }, async () => {
  const bucket = newBucket();
  const good = await freshStore({ bucket });
  await good.put('guarded', Buffer.from('secret'));
  // Backoffs of 5 s would show if access-denied answers were retried.
  const noRetryWindow = { backoffMsMin: 5000, backoffMsMax: 5000 };
  const cases: [string, Partial<S3StoreOptions>, RegExp][] = [
    ['wrong secret', { secretAccessKey: 'not-the-secret' }, /403 SignatureDoesNotMatch/],
    ['unknown access key id', { accessKeyId: 'nobody' }, /403 InvalidAccessKeyId/],
    ['bogus session token', { sessionToken: 'not-a-token' }, /403 InvalidTokenId|403 AccessDenied|403 InvalidAccessKeyId/],
  ];
  for (const [name, options, expected] of cases) {
    const store = s3Store({ bucket, ...noRetryWindow, ...options });
    for (const [op, run] of [
      ['get', () => store.get('guarded')],
      ['put', () => store.put('intruder', Buffer.from('x'))],
      ['list', () => store.list('')],
    ] as const) {
      const { ms, error } = await elapsedMs(run);
      assert.ok(error instanceof ObjectStoreAccessDeniedError, `${name} ${op}: ${String(error)}`);
      assert.equal(error.code, 'STRAIT_OBJECT_STORE_ACCESS_DENIED');
      assert.match(error.message, expected, `${name} ${op}`);
      assert.match(error.message, /check the access key id, secret access key/);
      assert.ok(ms < 2000, `${name} ${op} took ${ms} ms: it was retried`);
    }
    // HEAD answers carry no body, so only the status tells.
    await assert.rejects(store.head('guarded'), ObjectStoreAccessDeniedError);
  }
  assert.deepEqual((await good.list('')).map((info) => info.key), ['guarded'], 'nothing was written with bad credentials');
});

test('s3: a missing bucket is a clear request error, not a missing object', { timeout: 30_000 }, async () => {
  const store = s3Store({ bucket: newBucket() });
  for (const run of [() => store.get('k'), () => store.list(''), () => store.put('k', Buffer.from('x'))]) {
    await assert.rejects(run(), (error: unknown) => {
      assert.ok(error instanceof ObjectStoreRequestError, String(error));
      assert.equal(error.code, 'STRAIT_OBJECT_STORE_REQUEST_FAILED');
      assert.equal(error.s3Code, 'NoSuchBucket');
      assert.match(error.message, /404 NoSuchBucket/);
      return true;
    });
  }
});
