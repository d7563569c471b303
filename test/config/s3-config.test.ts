// The s3.* settings as the broker reads them: static keys are optional (a pair, or neither for the
// AWS credential chain), the endpoint may be left out for AWS S3, a session token needs static keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadBrokerConfig } from '../../src/config/broker-config.ts';

const base = { 'object.store': 's3', 's3.bucket': 'strait-data' };

test('s3 config: without static keys and endpoint the store takes the AWS chain and the region endpoint', () => {
  const { objectStore } = loadBrokerConfig({ flags: { ...base, 's3.region': 'eu-west-1', 's3.profile': 'broker' } }).storage;
  assert.deepEqual(objectStore, { engine: 's3', region: 'eu-west-1', bucket: 'strait-data', profile: 'broker', prefix: '', pathStyle: false });
});

test('s3 config: static keys, session token, endpoint and path style pass through', () => {
  const { objectStore } = loadBrokerConfig({
    flags: { ...base, 's3.endpoint': 'http://127.0.0.1:9000', 's3.path.style.access': 'true', 's3.session.token': 'token' },
    env: { STRAIT_S3_ACCESS_KEY_ID: 'id', STRAIT_S3_SECRET_ACCESS_KEY: 'secret' },
  }).storage;
  assert.deepEqual(objectStore, {
    engine: 's3',
    endpoint: 'http://127.0.0.1:9000',
    region: 'us-east-1',
    bucket: 'strait-data',
    accessKeyId: 'id',
    secretAccessKey: 'secret',
    sessionToken: 'token',
    prefix: '',
    pathStyle: true,
  });
});

test('s3 config: a bucket is required, keys come in pairs, a session token needs keys', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ 'object.store': 's3' }, /object.store=s3 needs s3.bucket/],
    [{ ...base, 's3.access.key.id': 'id' }, /s3.access.key.id and s3.secret.access.key go together/],
    [{ ...base, 's3.secret.access.key': 'secret' }, /s3.access.key.id and s3.secret.access.key go together/],
    [{ ...base, 's3.session.token': 'token' }, /s3.session.token needs s3.access.key.id and s3.secret.access.key/],
  ];
  for (const [flags, expected] of cases) {
    assert.throws(() => loadBrokerConfig({ flags }), (error: unknown) => {
      assert.equal((error as { code?: string }).code, 'STRAIT_CONFIG_INVALID');
      assert.match((error as Error).message, expected);
      assert.doesNotMatch((error as Error).message, /secret$|token$/m, 'no secret is printed');
      return true;
    });
  }
});
