// Credentials of the s3 engine without static keys: the standard AWS chain, each source tried against a
// real MinIO. The credentials are real temporary ones with session tokens, minted by MinIO's own STS
// (AssumeRole with the root user); the endpoints that hand them out on AWS (STS for web identity,
// the ECS/EKS container endpoint, EC2 instance metadata v2) are played by small HTTP servers on
// 127.0.0.1. Then PUT and GET through MinIO must work; a credential close to its expiry must be
// replaced before it runs out; a source that fails must end in a clear StraitError, not a hang.
import { after, afterEach, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { startMinio, startStrait, uniqueTopic, type MinioHandle } from '../compat/harness.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { buildBatch, readBatches } from '../../src/protocol/records/index.ts';
import {
  ObjectStoreAccessDeniedError,
  ObjectStoreCredentialsError,
  S3Store,
  type S3StoreOptions,
} from '../../src/storage/objects/index.ts';
import { startS3HttpProxy, type S3HttpProxy } from './s3-http-proxy.ts';

let minio: MinioHandle;
let bucket: string;
let dir: string;
const stores: S3Store[] = [];
const servers: Server[] = [];
const savedEnv = { ...process.env };

interface Minted {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

before(async () => {
  minio = await startMinio();
  dir = mkdtempSync(join(tmpdir(), 'strait-s3-credentials-'));
  bucket = `t-${randomBytes(6).toString('hex')}`;
  const root = new S3Store({ endpoint: minio.endpoint, region: minio.region, bucket, accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey, pathStyle: true });
  await root.createBucket();
  stores.push(root);
});

after(async () => {
  for (const store of stores) await store.close();
  for (const server of servers) await closeServer(server);
  await minio?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// Every test starts from an environment without AWS settings: no real ~/.aws files, no metadata
// service, so only the source a test sets up can answer.
beforeEach(() => {
  for (const name of Object.keys(process.env)) if (name.startsWith('AWS_')) delete process.env[name];
  const unique = randomBytes(4).toString('hex');
  process.env['AWS_CONFIG_FILE'] = join(dir, `no-config-${unique}`);
  process.env['AWS_SHARED_CREDENTIALS_FILE'] = join(dir, `no-credentials-${unique}`);
  process.env['AWS_EC2_METADATA_DISABLED'] = 'true';
});

afterEach(() => {
  for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
  Object.assign(process.env, savedEnv);
});

/** Real temporary credentials with a session token, from MinIO's STS AssumeRole (15 minutes). */
async function mint(): Promise<Minted> {
  const provider = fromTemporaryCredentials({
    masterCredentials: { accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey },
    params: { RoleArn: 'arn:minio:iam:::role/strait-test', RoleSessionName: 'strait-test', DurationSeconds: 900 },
    clientConfig: { endpoint: minio.endpoint, region: minio.region },
  });
  const credentials = await provider();
  assert.ok(credentials.sessionToken !== undefined && credentials.sessionToken.length > 0, 'MinIO minted a session token');
  return { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, sessionToken: credentials.sessionToken };
}

/** A store with no static keys, so the chain must find them. */
function chainStore(options: Partial<S3StoreOptions> = {}): S3Store {
  const store = new S3Store({ endpoint: minio.endpoint, region: minio.region, bucket, pathStyle: true, requestTimeoutMs: 3000, ...options });
  stores.push(store);
  return store;
}

async function roundTrip(store: S3Store, key: string): Promise<void> {
  const body = randomBytes(2000);
  await store.put(key, body);
  assert.deepEqual(await store.get(key), body);
  assert.deepEqual((await store.list(key)).map((info) => info.key), [key]);
}

async function listen(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<string> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.once('end', () => handler(req, body, res));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

/** What the ECS/EKS container endpoint and EC2 instance metadata answer. */
function credentialDocument(minted: Minted, expiration: Date): Record<string, string> {
  return {
    Code: 'Success',
    Type: 'AWS-HMAC',
    AccessKeyId: minted.accessKeyId,
    SecretAccessKey: minted.secretAccessKey,
    Token: minted.sessionToken,
    Expiration: expiration.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    LastUpdated: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
}

const inFifteenMinutes = (): Date => new Date(Date.now() + 15 * 60_000);

test('s3 credentials: static keys win over the chain', { timeout: 30_000 }, async () => {
  const minted = await mint();
  process.env['AWS_ACCESS_KEY_ID'] = 'not-a-key';
  process.env['AWS_SECRET_ACCESS_KEY'] = 'not-a-secret';
  await roundTrip(chainStore({ ...minted }), 'static-keys');
});

test('s3 credentials: the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)', { timeout: 30_000 }, async () => {
  const minted = await mint();
  process.env['AWS_ACCESS_KEY_ID'] = minted.accessKeyId;
  process.env['AWS_SECRET_ACCESS_KEY'] = minted.secretAccessKey;
  process.env['AWS_SESSION_TOKEN'] = minted.sessionToken;
  await roundTrip(chainStore(), 'from-env');
  // The session token is really used: without it MinIO does not know the temporary key.
  delete process.env['AWS_SESSION_TOKEN'];
  await assert.rejects(chainStore().get('from-env'), ObjectStoreAccessDeniedError);
});

test('s3 credentials: the shared credentials and config files, profile from AWS_PROFILE or s3.profile', { timeout: 30_000 }, async () => {
  const [a, b] = [await mint(), await mint()];
  const credentials = join(dir, `credentials-${randomBytes(4).toString('hex')}`);
  const config = join(dir, `config-${randomBytes(4).toString('hex')}`);
  writeFileSync(credentials, `[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n[strait]\naws_access_key_id = ${a.accessKeyId}\naws_secret_access_key = ${a.secretAccessKey}\naws_session_token = ${a.sessionToken}\n`);
  writeFileSync(config, `[profile other]\naws_access_key_id = ${b.accessKeyId}\naws_secret_access_key = ${b.secretAccessKey}\naws_session_token = ${b.sessionToken}\n`);
  process.env['AWS_SHARED_CREDENTIALS_FILE'] = credentials;
  process.env['AWS_CONFIG_FILE'] = config;
  process.env['AWS_PROFILE'] = 'strait';
  await roundTrip(chainStore(), 'from-profile-env');
  // s3.profile names the profile over AWS_PROFILE.
  await roundTrip(chainStore({ profile: 'other' }), 'from-profile-option');
  await assert.rejects(chainStore({ profile: 'default' }).get('from-profile-env'), ObjectStoreAccessDeniedError);
});

test('s3 credentials: web identity (IRSA): AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE through STS AssumeRoleWithWebIdentity', { timeout: 30_000 }, async () => {
  const token = `eyJ.${randomBytes(16).toString('hex')}.sig`;
  const calls: URLSearchParams[] = [];
  const sts = await listen(async (req, body, res) => {
    const params = new URLSearchParams(body);
    calls.push(params);
    if (req.method !== 'POST' || params.get('Action') !== 'AssumeRoleWithWebIdentity' || params.get('WebIdentityToken') !== token) {
      res.writeHead(400, { 'content-type': 'text/xml' });
      res.end('<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>The web identity token is not valid</Message></Error><RequestId>1</RequestId></ErrorResponse>');
      return;
    }
    const minted = await mint();
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end(
      `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>` +
        `<Credentials><AccessKeyId>${minted.accessKeyId}</AccessKeyId><SecretAccessKey>${minted.secretAccessKey}</SecretAccessKey>` +
        `<SessionToken>${minted.sessionToken}</SessionToken><Expiration>${inFifteenMinutes().toISOString()}</Expiration></Credentials>` +
        `<SubjectFromWebIdentityToken>system:serviceaccount:strait:broker</SubjectFromWebIdentityToken>` +
        `<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/strait/broker</Arn><AssumedRoleId>AROA:broker</AssumedRoleId></AssumedRoleUser>` +
        `</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`,
    );
  });
  const tokenFile = join(dir, `token-${randomBytes(4).toString('hex')}`);
  writeFileSync(tokenFile, token);
  process.env['AWS_ROLE_ARN'] = 'arn:aws:iam::123456789012:role/strait';
  process.env['AWS_WEB_IDENTITY_TOKEN_FILE'] = tokenFile;
  process.env['AWS_ROLE_SESSION_NAME'] = 'broker';
  process.env['AWS_ENDPOINT_URL_STS'] = sts;
  await roundTrip(chainStore(), 'from-web-identity');
  assert.equal(calls.length, 1, 'one AssumeRoleWithWebIdentity, then the credentials are kept');
  assert.equal(calls[0]?.get('RoleArn'), 'arn:aws:iam::123456789012:role/strait');
  assert.equal(calls[0]?.get('RoleSessionName'), 'broker');

  // A token STS refuses: a clear error that names STS's answer, at once.
  writeFileSync(tokenFile, 'expired-token');
  const started = Date.now();
  await assert.rejects(chainStore().put('k', Buffer.from('x')), (error: unknown) => {
    assert.ok(error instanceof ObjectStoreCredentialsError, String(error));
    assert.equal(error.code, 'STRAIT_OBJECT_STORE_CREDENTIALS_UNAVAILABLE');
    assert.match(error.message, /no AWS credentials: .*(InvalidIdentityToken|web identity token is not valid)/);
    return true;
  });
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
});

test('s3 credentials: ECS/EKS container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI with an authorization token or token file)', { timeout: 30_000 }, async () => {
  const secret = `token-${randomBytes(8).toString('hex')}`;
  const seen: (string | undefined)[] = [];
  const endpoint = await listen(async (req, _body, res) => {
    seen.push(req.headers['authorization']);
    if (req.headers['authorization'] !== secret) return json(res, 403, { Code: 'AccessDenied', Message: 'bad token' });
    json(res, 200, credentialDocument(await mint(), inFifteenMinutes()));
  });
  process.env['AWS_CONTAINER_CREDENTIALS_FULL_URI'] = `${endpoint}/v2/credentials/strait`;
  process.env['AWS_CONTAINER_AUTHORIZATION_TOKEN'] = secret;
  await roundTrip(chainStore(), 'from-container-token');
  assert.deepEqual(seen, [secret]);

  // EKS Pod Identity passes the token in a file.
  delete process.env['AWS_CONTAINER_AUTHORIZATION_TOKEN'];
  const tokenFile = join(dir, `pod-identity-${randomBytes(4).toString('hex')}`);
  writeFileSync(tokenFile, secret);
  process.env['AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE'] = tokenFile;
  await roundTrip(chainStore(), 'from-container-token-file');
  assert.deepEqual(seen, [secret, secret]);

  // The endpoint refuses: a clear error, not a hang.
  writeFileSync(tokenFile, 'wrong');
  const started = Date.now();
  await assert.rejects(chainStore().get('from-container-token'), (error: unknown) => {
    assert.ok(error instanceof ObjectStoreCredentialsError, String(error));
    assert.match(error.message, /no AWS credentials/);
    return true;
  });
  assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
});

test('s3 credentials: EC2 instance metadata v2 (a token PUT, then the role credentials with the token)', { timeout: 30_000 }, async () => {
  const imdsToken = `imds-${randomBytes(8).toString('hex')}`;
  const seen: string[] = [];
  const imds = await listen(async (req, _body, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      assert.ok(Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']) > 0);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(imdsToken);
      return;
    }
    // IMDSv2 only, as an instance with HttpTokens=required: no token, no answer.
    if (req.headers['x-aws-ec2-metadata-token'] !== imdsToken) {
      res.writeHead(401);
      res.end();
      return;
    }
    if (req.url === '/latest/meta-data/iam/security-credentials/') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('strait-broker');
      return;
    }
    if (req.url === '/latest/meta-data/iam/security-credentials/strait-broker') return json(res, 200, credentialDocument(await mint(), inFifteenMinutes()));
    res.writeHead(404);
    res.end();
  });
  delete process.env['AWS_EC2_METADATA_DISABLED'];
  process.env['AWS_EC2_METADATA_SERVICE_ENDPOINT'] = imds;
  await roundTrip(chainStore(), 'from-imds');
  assert.deepEqual(seen, ['PUT /latest/api/token', 'GET /latest/meta-data/iam/security-credentials/', 'GET /latest/meta-data/iam/security-credentials/strait-broker']);
});

test('s3 credentials: temporary credentials are replaced before they expire, and requests go on with the new ones', { timeout: 60_000 }, async () => {
  // The SDK fetches again once credentials are within five minutes of their expiration, so these,
  // which expire in five minutes and three seconds, are due for renewal three seconds after they
  // arrive; each fetch hands out freshly minted MinIO credentials.
  const handedOut: { accessKeyId: string; atMs: number; expiresAtMs: number }[] = [];
  const endpoint = await listen(async (_req, _body, res) => {
    const minted = await mint();
    // Whole seconds, as the endpoint's document carries them (rounded up, so never early).
    const expiration = new Date(Math.ceil((Date.now() + 5 * 60_000 + 3000) / 1000) * 1000);
    handedOut.push({ accessKeyId: minted.accessKeyId, atMs: Date.now(), expiresAtMs: expiration.getTime() });
    json(res, 200, credentialDocument(minted, expiration));
  });
  process.env['AWS_CONTAINER_CREDENTIALS_FULL_URI'] = `${endpoint}/creds`;
  const proxy: S3HttpProxy = await startS3HttpProxy(minio.port);
  try {
    const store = chainStore({ endpoint: proxy.endpoint });
    const started = Date.now();
    let operations = 0;
    while (Date.now() - started < 7000) {
      await store.put(`refresh/${operations}`, Buffer.from(String(operations)));
      assert.equal((await store.get(`refresh/${operations}`)).toString(), String(operations));
      operations++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(handedOut.length >= 2 && handedOut.length <= 4, `the endpoint was asked ${handedOut.length} times in 7 s`);
    const [first, second] = handedOut as [(typeof handedOut)[0], (typeof handedOut)[0]];
    assert.ok(second.atMs - first.atMs >= 2500, `renewed after ${second.atMs - first.atMs} ms: credentials are kept while they are fresh`);
    assert.ok(second.atMs < first.expiresAtMs - 4 * 60_000, 'renewed well before the expiration');
    // Requests were signed with the first key, then with the renewed one, never after.
    const keys = proxy.seen.map((r) => /Credential=([^/]+)\//.exec(String(r.headers['authorization']))?.[1]);
    const switchAt = keys.indexOf(second.accessKeyId);
    assert.ok(switchAt > 0, 'the renewed key was used');
    assert.ok(keys.slice(0, switchAt).every((key) => key === first.accessKeyId));
    assert.ok(keys.slice(switchAt).every((key) => key !== first.accessKeyId), 'the first key is not used once renewed');
    assert.ok(operations >= 10, `only ${operations} round trips`);
  } finally {
    await proxy.close();
  }
});

test('s3 credentials: with no source configured, a clear StraitError at once, not a hang', { timeout: 30_000 }, async () => {
  const started = Date.now();
  await assert.rejects(chainStore().put('k', Buffer.from('x')), (error: unknown) => {
    assert.ok(error instanceof ObjectStoreCredentialsError, String(error));
    assert.equal(error.code, 'STRAIT_OBJECT_STORE_CREDENTIALS_UNAVAILABLE');
    assert.match(error.message, /no AWS credentials: Could not load credentials from any providers/);
    assert.match(error.message, /s3\.access\.key\.id/, 'it says how to configure them');
    return true;
  });
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
});

test('s3 credentials: a metadata service that never answers fails within its timeout, not a hang', { timeout: 30_000 }, async () => {
  const frozen = await listen(() => undefined);
  delete process.env['AWS_EC2_METADATA_DISABLED'];
  process.env['AWS_EC2_METADATA_SERVICE_ENDPOINT'] = frozen;
  const started = Date.now();
  await assert.rejects(chainStore().get('k'), ObjectStoreCredentialsError);
  assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
});

test('s3 credentials: credentials from the chain that the service refuses are ObjectStoreAccessDeniedError', { timeout: 30_000 }, async () => {
  process.env['AWS_ACCESS_KEY_ID'] = 'AKIDNOTAKEY';
  process.env['AWS_SECRET_ACCESS_KEY'] = 'not-a-secret';
  const started = Date.now();
  await assert.rejects(chainStore().put('k', Buffer.from('x')), (error: unknown) => {
    assert.ok(error instanceof ObjectStoreAccessDeniedError, String(error));
    assert.match(error.message, /403 InvalidAccessKeyId/);
    return true;
  });
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
});

test('s3 credentials: a broker started without s3 keys uploads with credentials from its container endpoint', { timeout: 90_000 }, async () => {
  let fetched = 0;
  const endpoint = await listen(async (_req, _body, res) => {
    fetched++;
    json(res, 200, credentialDocument(await mint(), inFifteenMinutes()));
  });
  const prefix = `broker-${randomBytes(4).toString('hex')}/`;
  const broker = await startStrait({
    args: ['--object-store', 's3', '--s3-endpoint', minio.endpoint, '--s3-region', minio.region, '--s3-bucket', bucket, '--s3-prefix', prefix, '--s3-path-style-access', 'true', '--upload-interval-ms', '200'],
    env: { AWS_CONTAINER_CREDENTIALS_FULL_URI: `${endpoint}/creds`, AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: join(dir, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none') },
  });
  try {
    const topic = uniqueTopic('chain');
    const values = Array.from({ length: 20 }, (_, i) => `value-${i}`);
    const client = await RawClient.connect(broker.port);
    try {
      const created = await client.request(ApiKey.CreateTopics, 7, { topics: [{ name: topic, numPartitions: 1, replicationFactor: 1 }], timeoutMs: 5000 });
      assert.equal(created.topics[0].errorCode, 0, created.topics[0].errorMessage);
      const records = buildBatch({ compression: 'none', records: values.map((value, i) => ({ key: `k${i}`, value, timestamp: Date.now() })) });
      const produced = await client.request(ApiKey.Produce, 9, { acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
      assert.equal(produced.responses[0].partitionResponses[0].errorCode, 0);
      // The uploader writes the data into the bucket under the prefix, signed with the chain's keys.
      const root = stores[0]!;
      const deadline = Date.now() + 30_000;
      let keys: string[] = [];
      while (Date.now() < deadline) {
        keys = (await root.list(prefix)).map((info) => info.key);
        if (keys.length > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.ok(keys.length > 0, `no object under ${prefix} after 30 s; broker output:\n${broker.output()}`);
      assert.ok(fetched >= 1, 'the broker asked the container endpoint');
      const fetchedBack = await client.request(ApiKey.Fetch, 12, {
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1_000_000,
        sessionEpoch: -1,
        topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1_000_000, currentLeaderEpoch: -1 }] }],
      });
      const partition = fetchedBack.responses[0].partitions[0];
      assert.equal(partition.errorCode, 0);
      assert.deepEqual([...readBatches(partition.records)].flatMap((batch) => batch.records.map((record) => record.value!.toString())), values);
    } finally {
      client.close();
    }
  } finally {
    await broker.stop();
  }
});
