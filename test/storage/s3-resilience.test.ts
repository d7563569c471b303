// The s3 engine against a real MinIO, through a proxy that plays what AWS S3 does and MinIO does not:
// throttling (503 SlowDown, 500 InternalError) retried with exponential backoff and jitter within a
// bound; region redirects (301 PermanentRedirect with x-amz-bucket-region, 400
// AuthorizationHeaderMalformed naming the region) followed once and remembered; checksums: every PUT
// carries a CRC32 that MinIO verifies, so a byte changed on the way fails the PUT and stores nothing,
// and a GET whose bytes changed on the way is caught and read again.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { startMinio, type MinioHandle } from '../compat/harness.ts';
import { createLogger } from '../../src/common/logger.ts';
import { ObjectStoreRequestError, ObjectStoreUnavailableError, S3Store, type S3StoreOptions } from '../../src/storage/objects/index.ts';
import { flipByte, s3ErrorXml, signedRegion, startS3HttpProxy, type S3HttpProxy, type SeenRequest } from './s3-http-proxy.ts';

let minio: MinioHandle;
let proxy: S3HttpProxy;
const stores: S3Store[] = [];

before(async () => {
  minio = await startMinio();
  proxy = await startS3HttpProxy(minio.port);
});

after(async () => {
  for (const store of stores) await store.close();
  await proxy?.close();
  await minio?.stop();
});

/** A store on a fresh bucket (made directly on MinIO), and one that goes through the proxy. */
async function stores2(options: Partial<S3StoreOptions> = {}): Promise<{ direct: S3Store; proxied: S3Store; bucket: string }> {
  const bucket = `t-${randomBytes(6).toString('hex')}`;
  const base = { region: minio.region, bucket, accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey, pathStyle: true };
  const direct = new S3Store({ ...base, endpoint: minio.endpoint });
  await direct.createBucket();
  const proxied = new S3Store({ ...base, endpoint: proxy.endpoint, requestTimeoutMs: 2000, ...options });
  stores.push(direct, proxied);
  proxy.seen.length = 0;
  proxy.hook = () => ({ kind: 'forward' });
  return { direct, proxied, bucket };
}

const puts = (): SeenRequest[] => proxy.seen.filter((r) => r.method === 'PUT');
const gaps = (requests: SeenRequest[]): number[] => requests.slice(1).map((r, i) => r.atMs - requests[i]!.atMs);
const slowDown = { kind: 'answer', status: 503, body: s3ErrorXml('SlowDown', 'Please reduce your request rate.') } as const;
const internalError = { kind: 'answer', status: 500, body: s3ErrorXml('InternalError', 'We encountered an internal error. Please try again.') } as const;

test('s3 throttling: 503 SlowDown and 500 InternalError are retried with exponential backoff up to backoffMsMax', { timeout: 30_000 }, async () => {
  const { direct, proxied } = await stores2({ attemptsMax: 6, backoffMsMin: 80, backoffMsMax: 320 });
  let refused = 0;
  proxy.hook = (r) => (r.method === 'PUT' && refused < 4 ? (refused++ % 2 === 0 ? slowDown : internalError) : { kind: 'forward' });
  await proxied.put('throttled', Buffer.from('v'));
  assert.equal(puts().length, 5, 'four refusals, then the attempt that worked');
  assert.equal((await direct.get('throttled')).toString(), 'v');
  // Equal jitter: retry n waits between half and all of min(80 * 2^(n-1), 320) ms. The lower bounds
  // show the doubling and the cap; the upper ones allow 250 ms for a loaded machine.
  const ceilings = [80, 160, 320, 320];
  gaps(puts()).forEach((gap, i) => {
    assert.ok(gap >= ceilings[i]! / 2 - 2, `retry ${i + 1} came after ${gap.toFixed(1)} ms, under half of ${ceilings[i]} ms`);
    assert.ok(gap <= ceilings[i]! + 250, `retry ${i + 1} came after ${gap.toFixed(1)} ms, far over ${ceilings[i]} ms`);
  });
});

test('s3 throttling: the backoff is jittered, so callers refused together do not come back together', { timeout: 30_000 }, async () => {
  const { proxied } = await stores2({ attemptsMax: 3, backoffMsMin: 100, backoffMsMax: 100 });
  const firstGaps: number[] = [];
  for (let i = 0; i < 8; i++) {
    proxy.seen.length = 0;
    let refused = false;
    proxy.hook = (r) => (r.method === 'PUT' && !refused ? ((refused = true), slowDown) : { kind: 'forward' });
    await proxied.put(`jitter-${i}`, Buffer.from('v'));
    firstGaps.push(gaps(puts())[0]!);
  }
  // Each wait is 50..100 ms, uniformly: eight of them all at one value, or all at the ceiling,
  // would mean no jitter.
  assert.ok(Math.min(...firstGaps) >= 48, `a retry came after ${Math.min(...firstGaps).toFixed(1)} ms`);
  assert.ok(Math.min(...firstGaps) < 95, `every retry waited the whole ceiling: ${firstGaps.map((g) => g.toFixed(0)).join(', ')}`);
  assert.ok(Math.max(...firstGaps) - Math.min(...firstGaps) >= 10, `the waits do not spread: ${firstGaps.map((g) => g.toFixed(0)).join(', ')}`);
});

test('s3 throttling: throttling that does not end fails with ObjectStoreUnavailableError within the retry budget', { timeout: 30_000 }, async () => {
  const { proxied } = await stores2({ attemptsMax: 5, backoffMsMin: 50, backoffMsMax: 200 });
  proxy.hook = (r) => (r.method === 'GET' ? slowDown : { kind: 'forward' });
  await proxied.put('k', Buffer.from('v'));
  const started = performance.now();
  await assert.rejects(proxied.get('k'), (error: unknown) => {
    assert.ok(error instanceof ObjectStoreUnavailableError, String(error));
    assert.match(error.message, /get k failed after 5 attempts in \d+ ms: 503 SlowDown/);
    return true;
  });
  const ms = performance.now() - started;
  assert.equal(proxy.seen.filter((r) => r.method === 'GET').length, 5);
  // Backoffs of at most 50 + 100 + 200 + 200 ms.
  assert.ok(ms < 550 + 1000, `took ${ms.toFixed(0)} ms`);
});

test('s3 region redirect: a 301 PermanentRedirect naming the bucket region is followed once, and the region kept', { timeout: 30_000 }, async () => {
  const { direct, proxied } = await stores2({ region: 'eu-central-1' });
  proxy.hook = (r) =>
    signedRegion(r) === minio.region
      ? { kind: 'forward' }
      : {
          kind: 'answer',
          status: 301,
          headers: { 'x-amz-bucket-region': minio.region },
          body: s3ErrorXml('PermanentRedirect', 'The bucket you are attempting to access must be addressed using the specified endpoint.'),
        };
  await proxied.put('moved', Buffer.from('here'));
  assert.deepEqual(proxy.seen.map(signedRegion), ['eu-central-1', minio.region], 'one redirect, then the request signed for the bucket region');
  assert.equal(proxied.region, minio.region);
  assert.equal((await direct.get('moved')).toString(), 'here');
  // Later requests go to the right region at once: no redirect paid per request.
  assert.equal((await proxied.get('moved')).toString(), 'here');
  assert.deepEqual(await proxied.head('moved'), { key: 'moved', sizeBytes: 4 });
  assert.deepEqual(proxy.seen.map(signedRegion), ['eu-central-1', minio.region, minio.region, minio.region]);
});

test('s3 region redirect: a HEAD answered 301 without a body is followed by the x-amz-bucket-region header', { timeout: 30_000 }, async () => {
  const { direct, proxied } = await stores2({ region: 'ap-southeast-2' });
  await direct.put('k', Buffer.from('12345'));
  proxy.hook = (r) => (signedRegion(r) === minio.region ? { kind: 'forward' } : { kind: 'answer', status: 301, headers: { 'x-amz-bucket-region': minio.region } });
  assert.deepEqual(await proxied.head('k'), { key: 'k', sizeBytes: 5 });
  assert.deepEqual(proxy.seen.map((r) => `${r.method} ${signedRegion(r)}`), ['HEAD ap-southeast-2', `HEAD ${minio.region}`]);
});

test('s3 region redirect: a 400 AuthorizationHeaderMalformed naming the expected region is followed once', { timeout: 30_000 }, async () => {
  const { proxied } = await stores2({ region: 'us-west-2' });
  proxy.hook = (r) =>
    signedRegion(r) === minio.region
      ? { kind: 'forward' }
      : {
          kind: 'answer',
          status: 400,
          body: s3ErrorXml('AuthorizationHeaderMalformed', `The authorization header is malformed; the region '${signedRegion(r)}' is wrong; expecting '${minio.region}'`, { Region: minio.region }),
        };
  await proxied.put('k', Buffer.from('v'));
  assert.equal((await proxied.get('k')).toString(), 'v');
  assert.deepEqual(proxy.seen.map(signedRegion), ['us-west-2', minio.region, minio.region]);
});

test('s3 region redirect: MinIO itself refusing a signature for the wrong region is followed, with a warning naming s3.region', { timeout: 30_000 }, async () => {
  const { direct, bucket } = await stores2();
  const warnings: string[] = [];
  const logger = createLogger('warn', {}, (line) => warnings.push(line));
  const store = new S3Store({ endpoint: minio.endpoint, region: 'eu-central-1', bucket, accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey, pathStyle: true, logger });
  stores.push(store);
  await store.put('wrong-region', Buffer.from('v'));
  assert.equal(store.region, minio.region);
  assert.equal((await direct.get('wrong-region')).toString(), 'v');
  assert.equal(warnings.length, 1, warnings.join(''));
  assert.match(warnings[0]!, /bucket is in region us-east-1, not eu-central-1; using us-east-1 \(set s3.region=us-east-1\)/);
  await store.list('');
  assert.equal(warnings.length, 1, 'warned once');
});

test('s3 region redirect: a second redirect in one operation is not followed but reported', { timeout: 30_000 }, async () => {
  const { proxied } = await stores2({ region: 'eu-west-1' });
  const regions = ['ap-south-1', 'sa-east-1'];
  let next = 0;
  proxy.hook = () => ({
    kind: 'answer',
    status: 301,
    headers: { 'x-amz-bucket-region': regions[next++ % 2]! },
    body: s3ErrorXml('PermanentRedirect', 'The bucket you are attempting to access must be addressed using the specified endpoint.'),
  });
  const started = performance.now();
  await assert.rejects(proxied.put('k', Buffer.from('v')), (error: unknown) => {
    assert.ok(error instanceof ObjectStoreRequestError, String(error));
    assert.equal(error.status, 301);
    assert.equal(error.s3Code, 'PermanentRedirect');
    assert.match(error.message, /bucket is in region sa-east-1, and a second redirect in one operation is not followed/);
    return true;
  });
  assert.equal(proxy.seen.length, 2, 'the first redirect followed, the second not');
  assert.ok(performance.now() - started < 1000, 'no retries with backoff');
});

test('s3 checksums: every PUT carries the CRC32 of its body, and the body is not hashed for the signature', { timeout: 30_000 }, async () => {
  const { proxied } = await stores2();
  const parts = [randomBytes(70_000), randomBytes(3), randomBytes(200_000)];
  await proxied.put('sum', parts);
  const [put] = puts();
  assert.ok(put !== undefined);
  const expected = Buffer.alloc(4);
  expected.writeUInt32BE(crc32(Buffer.concat(parts)) >>> 0);
  assert.equal(put.headers['x-amz-checksum-crc32'], expected.toString('base64'));
  assert.equal(put.headers['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
  assert.deepEqual(put.body, Buffer.concat(parts), 'the parts arrive in order, whole');
});

test('s3 checksums: a PUT whose body changed on the way is refused, and nothing is stored under the key', { timeout: 30_000 }, async () => {
  const { direct, proxied } = await stores2();
  const body = randomBytes(50_000);
  proxy.hook = (r) => (r.method === 'PUT' ? { kind: 'forward', body: flipByte(r.body, 12_345) } : { kind: 'forward' });
  for (const ifNoneMatch of [false, true]) {
    await assert.rejects(proxied.put(`flipped-${ifNoneMatch}`, body, { ifNoneMatch }), (error: unknown) => {
      assert.ok(error instanceof ObjectStoreRequestError, String(error));
      assert.equal(error.status, 400);
      assert.match(error.s3Code, /^(BadDigest|XAmzContentChecksumMismatch|InvalidDigest)$/);
      return true;
    });
    assert.equal(await direct.head(`flipped-${ifNoneMatch}`), null, 'no object under the key');
  }
  assert.equal(puts().length, 2, 'a refused checksum is not retried');
  // The same PUT, unchanged on the way, is stored.
  proxy.hook = () => ({ kind: 'forward' });
  await proxied.put('flipped-false', body);
  assert.deepEqual(await direct.get('flipped-false'), body);
});

test('s3 checksums: a GET whose bytes changed on the way is caught by the CRC32 and read again', { timeout: 30_000 }, async () => {
  const { direct, proxied } = await stores2({ attemptsMax: 3, backoffMsMin: 20, backoffMsMax: 40 });
  const body = randomBytes(100_000);
  await direct.put('read-twice', body);
  let corrupted = 0;
  proxy.hook = (r) => (r.method === 'GET' && corrupted++ === 0 ? { kind: 'forward', mapAnswerBody: (b) => flipByte(b, 777) } : { kind: 'forward' });
  assert.deepEqual(await proxied.get('read-twice'), body);
  assert.equal(proxy.seen.filter((r) => r.method === 'GET').length, 2, 'the damaged answer was read again');
  assert.equal(proxy.seen[0]?.headers['x-amz-checksum-mode'], 'ENABLED', 'the GET asks for the stored checksum');

  proxy.seen.length = 0;
  proxy.hook = (r) => (r.method === 'GET' ? { kind: 'forward', mapAnswerBody: (b) => flipByte(b, 1) } : { kind: 'forward' });
  await assert.rejects(proxied.get('read-twice'), (error: unknown) => {
    assert.ok(error instanceof ObjectStoreUnavailableError, String(error));
    assert.match(error.message, /after 3 attempts.*[Cc]hecksum mismatch/);
    return true;
  });
});
