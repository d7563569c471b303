// ACL sync and DescribeAcls against a real Apache Kafka 4.3.1 with StandardAuthorizer: ACLs made on
// Kafka with CreateAcls are synced into a metadata store and must equal what Kafka describes; a
// Strait broker whose store holds them must answer DescribeAcls filters exactly as Kafka does; a
// Kafka without an authorizer leaves the store alone.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { linkAclSource, syncAcls } from '../../src/link/acl-sync.ts';
import { ApiKey, KafkaClient } from '../../src/link/client/index.ts';
import { SqliteMetadataStore } from '../../src/metadata/index.ts';
import type { AclBindingRecord } from '../../src/metadata/index.ts';
import type { DescribeAclsRequest } from '../../src/protocol/generated/describe-acls-request.ts';
import type { DescribeAclsResponse } from '../../src/protocol/generated/describe-acls-response.ts';
import { runJava, startApacheKafka, startStrait } from '../compat/harness.ts';
import type { KafkaHandle, StraitHandle } from '../compat/harness.ts';
import { RawClient } from '../helpers/raw-client.ts';

// Kafka's codes.
const TOPIC = 2, GROUP = 3, CLUSTER = 4, TRANSACTIONAL_ID = 5;
const ANY = 1, MATCH = 2, LITERAL = 3, PREFIXED = 4;
const ALL = 2, READ = 3, WRITE = 4, ALTER = 7, DESCRIBE = 8, IDEMPOTENT_WRITE = 12;
const DENY = 2, ALLOW = 3;

const acl = (resourceType: number, resourceName: string, patternType: number, principal: string, operation: number, extra: Partial<AclBindingRecord> = {}): AclBindingRecord => ({
  resourceType,
  resourceName,
  patternType,
  principal,
  host: '*',
  operation,
  permissionType: ALLOW,
  ...extra,
});

/** Literal and prefixed topics, the wildcard, groups, the cluster, transactional ids, DENY and
 *  host-specific entries. */
const SOURCE_ACLS: AclBindingRecord[] = [
  acl(TOPIC, 'orders', LITERAL, 'User:alice', READ),
  acl(TOPIC, 'orders', LITERAL, 'User:alice', WRITE),
  acl(TOPIC, 'orders', LITERAL, 'User:mallory', READ, { host: '10.0.0.5', permissionType: DENY }),
  acl(TOPIC, 'ord', PREFIXED, 'User:bob', DESCRIBE),
  acl(TOPIC, 'orders', PREFIXED, 'User:dave', ALL),
  acl(TOPIC, '*', LITERAL, 'User:carol', READ),
  acl(TOPIC, 'payments', LITERAL, 'User:*', READ, { permissionType: DENY }),
  acl(TOPIC, 'other', LITERAL, 'User:alice', ALL, { host: '192.168.1.1' }),
  acl(GROUP, 'orders-app', LITERAL, 'User:alice', READ),
  acl(GROUP, 'app-', PREFIXED, 'User:bob', DESCRIBE),
  acl(CLUSTER, 'kafka-cluster', LITERAL, 'User:admin', ALTER),
  acl(CLUSTER, 'kafka-cluster', LITERAL, 'User:alice', IDEMPOTENT_WRITE),
  acl(TRANSACTIONAL_ID, 'tx-orders', LITERAL, 'User:alice', WRITE),
  acl(TRANSACTIONAL_ID, 'tx-', PREFIXED, 'User:alice', DESCRIBE),
];

const ANY_FILTER: DescribeAclsRequest = {
  resourceTypeFilter: ANY,
  resourceNameFilter: null,
  patternTypeFilter: ANY,
  principalFilter: null,
  hostFilter: null,
  operation: ANY,
  permissionType: ANY,
};
const filter = (f: Partial<DescribeAclsRequest>): DescribeAclsRequest => ({ ...ANY_FILTER, ...f });

/** DescribeAcls filters whose answers must be the same on Kafka and Strait, each with how many
 *  bindings Kafka is expected to answer (so a filter that matches nothing on both cannot pass
 *  by accident where something was meant to match). */
const FILTERS: [string, DescribeAclsRequest, number][] = [
  ['ANY', ANY_FILTER, SOURCE_ACLS.length],
  ['resource type TOPIC', filter({ resourceTypeFilter: TOPIC }), 8],
  ['resource type GROUP', filter({ resourceTypeFilter: GROUP }), 2],
  ['resource type CLUSTER', filter({ resourceTypeFilter: CLUSTER }), 2],
  ['resource type TRANSACTIONAL_ID', filter({ resourceTypeFilter: TRANSACTIONAL_ID }), 2],
  ['MATCH topic orders: literal, wildcard and prefixes', filter({ resourceTypeFilter: TOPIC, resourceNameFilter: 'orders', patternTypeFilter: MATCH }), 6],
  ['MATCH orders of any type', filter({ resourceNameFilter: 'orders', patternTypeFilter: MATCH }), 6],
  ['MATCH topic orders-eu', filter({ resourceTypeFilter: TOPIC, resourceNameFilter: 'orders-eu', patternTypeFilter: MATCH }), 3],
  ['MATCH without a name', filter({ patternTypeFilter: MATCH }), SOURCE_ACLS.length],
  ['MATCH "*"', filter({ resourceNameFilter: '*', patternTypeFilter: MATCH }), 1],
  ['MATCH on a name nothing covers but the wildcard', filter({ resourceTypeFilter: GROUP, resourceNameFilter: 'zzz', patternTypeFilter: MATCH }), 0],
  ['LITERAL orders', filter({ resourceNameFilter: 'orders', patternTypeFilter: LITERAL }), 3],
  ['LITERAL of any name', filter({ patternTypeFilter: LITERAL }), 10],
  ['LITERAL "*"', filter({ resourceNameFilter: '*', patternTypeFilter: LITERAL }), 1],
  ['PREFIXED of any name', filter({ patternTypeFilter: PREFIXED }), 4],
  ['PREFIXED ord', filter({ resourceNameFilter: 'ord', patternTypeFilter: PREFIXED }), 1],
  ['PREFIXED orders-eu (no prefix expansion)', filter({ resourceNameFilter: 'orders-eu', patternTypeFilter: PREFIXED }), 0],
  ['any pattern type named orders', filter({ resourceNameFilter: 'orders' }), 4],
  ['principal User:alice', filter({ principalFilter: 'User:alice' }), 7],
  ['principal User:* (no wildcard expansion)', filter({ principalFilter: 'User:*' }), 1],
  ['host 10.0.0.5', filter({ hostFilter: '10.0.0.5' }), 1],
  ['host * (no wildcard expansion)', filter({ hostFilter: '*' }), 12],
  ['operation READ', filter({ operation: READ }), 5],
  ['operation ALL (only ALL bindings)', filter({ operation: ALL }), 2],
  ['permission DENY', filter({ permissionType: DENY }), 2],
  ['everything at once', filter({ resourceTypeFilter: TOPIC, resourceNameFilter: 'orders', patternTypeFilter: MATCH, principalFilter: 'User:alice', operation: READ, permissionType: ALLOW }), 1],
];

/** The bindings of a response, sorted: Kafka lists resources and entries in hash-map order. */
function bindingsOf(r: DescribeAclsResponse): AclBindingRecord[] {
  return sortBindings(r.resources.flatMap((res) => res.acls.map((a) => ({
    resourceType: res.resourceType,
    resourceName: res.resourceName,
    patternType: res.patternType,
    principal: a.principal,
    host: a.host,
    operation: a.operation,
    permissionType: a.permissionType,
  }))));
}

function sortBindings(bindings: AclBindingRecord[]): AclBindingRecord[] {
  const key = (b: AclBindingRecord) => JSON.stringify([b.resourceType, b.resourceName, b.patternType, b.principal, b.host, b.operation, b.permissionType]);
  return [...bindings].sort((x, y) => (key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : 0));
}

/** A response with its resources and their entries sorted, everything else as it came. */
function normalised(r: DescribeAclsResponse): DescribeAclsResponse {
  const key = (x: object) => JSON.stringify(x);
  const resources = r.resources
    .map((res) => ({ ...res, acls: [...res.acls].sort((a, b) => (key(a) < key(b) ? -1 : 1)) }))
    .sort((a, b) => (key([a.resourceType, a.resourceName, a.patternType]) < key([b.resourceType, b.resourceName, b.patternType]) ? -1 : 1));
  return { ...r, resources };
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function createAcls(client: KafkaClient, bindings: AclBindingRecord[]): Promise<void> {
  const { response } = await client.sendRequest<{ results: { errorCode: number; errorMessage: string | null }[] }>('any', ApiKey.CreateAcls, () => ({
    creations: bindings.map((b) => ({ ...b, resourcePatternType: b.patternType })),
  }));
  assert.deepEqual(response.results.map((r) => [r.errorCode, r.errorMessage ?? '']), bindings.map(() => [0, '']));
}

async function deleteAcls(client: KafkaClient, bindings: AclBindingRecord[]): Promise<void> {
  const { response } = await client.sendRequest<{ filterResults: { errorCode: number; matchingAcls: unknown[] }[] }>('any', ApiKey.DeleteAcls, () => ({
    filters: bindings.map((b) => ({
      resourceTypeFilter: b.resourceType,
      resourceNameFilter: b.resourceName,
      patternTypeFilter: b.patternType,
      principalFilter: b.principal,
      hostFilter: b.host,
      operation: b.operation,
      permissionType: b.permissionType,
    })),
  }));
  assert.deepEqual(response.filterResults.map((r) => [r.errorCode, r.matchingAcls.length]), bindings.map(() => [0, 1]));
}

/** Kafka's ACLs once its authorizer shows exactly `expected` (ACL changes reach the authorizer
 *  through the metadata log, a moment after CreateAcls and DeleteAcls answer). */
async function kafkaAcls(kafka: RawClient, expected: AclBindingRecord[]): Promise<AclBindingRecord[]> {
  const want = JSON.stringify(sortBindings(expected));
  let last: AclBindingRecord[] = [];
  try {
    return await until('the expected ACLs on Kafka', 15_000, async () => {
      const r = await kafka.request<DescribeAclsResponse>(ApiKey.DescribeAcls, 3, ANY_FILTER);
      assert.equal(r.errorCode, 0);
      last = bindingsOf(r);
      return JSON.stringify(last) === want ? last : undefined;
    });
  } catch (err) {
    assert.deepEqual(last, sortBindings(expected), (err as Error).message);
    throw err;
  }
}

describe('ACL sync and DescribeAcls against Apache Kafka 4.3.1', () => {
  let kafka: KafkaHandle;
  let plainKafka: KafkaHandle;
  let client: KafkaClient;
  let raw: RawClient;
  const dirs: string[] = [];
  const tempDir = (prefix: string): string => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };

  before(async () => {
    [kafka, plainKafka] = await Promise.all([
      startApacheKafka({
        config: {
          'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
          // PLAINTEXT clients are ANONYMOUS: as a super user the test may create and describe ACLs.
          'super.users': 'User:ANONYMOUS',
          'allow.everyone.if.no.acl.found': 'true',
        },
      }),
      startApacheKafka(),
    ]);
    client = new KafkaClient({ bootstrap: kafka.bootstrap, clientId: 'acl-sync-test', apiTimeoutMs: 20_000 });
    raw = await RawClient.connect(kafka.port);
    await createAcls(client, SOURCE_ACLS);
    await kafkaAcls(raw, SOURCE_ACLS);
  });

  after(async () => {
    raw?.close();
    await client?.close();
    await Promise.all([kafka?.stop(), plainKafka?.stop()]);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test('syncAcls stores exactly what Kafka describes, and later syncs store only the difference', async () => {
    const store = new SqliteMetadataStore(join(tempDir('strait-acl-sync-'), 'metadata.sqlite'));
    await store.open();
    try {
      const source = linkAclSource('src');
      const first = await syncAcls(client, store, source, () => true);
      assert.deepEqual(first, { synced: SOURCE_ACLS.length, added: SOURCE_ACLS.length, removed: 0, securityDisabled: false });
      const stored = async () => sortBindings((await store.acls()).map(({ source: s, ...b }) => (assert.equal(s, source), b)));
      const described = await client.describeAcls();
      assert.equal(described.length, SOURCE_ACLS.length);
      assert.deepEqual(await stored(), bindingsOf(await raw.request<DescribeAclsResponse>(ApiKey.DescribeAcls, 3, ANY_FILTER)));
      assert.deepEqual(await stored(), sortBindings(SOURCE_ACLS));

      assert.deepEqual(await syncAcls(client, store, source, () => true), { synced: SOURCE_ACLS.length, added: 0, removed: 0, securityDisabled: false }, 'nothing changed');

      // One ACL goes, one comes; the filter keeps topics only.
      const gone = SOURCE_ACLS[1]!;
      const fresh = acl(TOPIC, 'shipments', PREFIXED, 'User:erin', WRITE, { host: '10.1.2.3' });
      await deleteAcls(client, [gone]);
      await createAcls(client, [fresh]);
      const now = await kafkaAcls(raw, [...SOURCE_ACLS.filter((b) => b !== gone), fresh]);
      const topicsOnly = await syncAcls(client, store, source, (b) => b.resourceType === 'TOPIC');
      const topics = now.filter((b) => b.resourceType === TOPIC);
      assert.deepEqual(topicsOnly, { synced: topics.length, added: 1, removed: SOURCE_ACLS.length - topics.length + 1, securityDisabled: false });
      assert.deepEqual(await stored(), topics);

      // Other sources are left alone.
      await store.replaceAcls('link:other', [acl(GROUP, 'g', LITERAL, 'User:x', READ)]);
      await syncAcls(client, store, source, () => false);
      assert.deepEqual((await store.acls()).map((b) => b.source), ['link:other']);
      await deleteAcls(client, [fresh]);
      await createAcls(client, [gone]);
      await kafkaAcls(raw, SOURCE_ACLS);
    } finally {
      await store.close();
    }
  });

  test('a source without an authorizer reports securityDisabled and changes nothing', async () => {
    const store = new SqliteMetadataStore(join(tempDir('strait-acl-sync-'), 'metadata.sqlite'));
    await store.open();
    const plain = new KafkaClient({ bootstrap: plainKafka.bootstrap, apiTimeoutMs: 20_000 });
    try {
      const kept = acl(TOPIC, 'orders', LITERAL, 'User:alice', READ);
      await store.replaceAcls('link:plain', [kept]);
      assert.deepEqual(await syncAcls(plain, store, 'link:plain', () => true), { synced: 0, added: 0, removed: 0, securityDisabled: true });
      assert.deepEqual(await store.acls(), [{ source: 'link:plain', ...kept }]);
    } finally {
      await plain.close();
      await store.close();
    }
  });

  describe('Strait answers DescribeAcls as Kafka does', () => {
    let strait: StraitHandle;
    let straitRaw: RawClient;

    before(async () => {
      // Start Strait once so it creates its data folder and metadata, stop it, fill its store by a
      // sync from Kafka, and start it again on the same data.
      const dataDir = tempDir('strait-acl-data-');
      const first = await startStrait({ dataDir });
      await first.stop();
      const store = new SqliteMetadataStore(join(dataDir, 'metadata.sqlite'));
      await store.open();
      try {
        assert.equal((await syncAcls(client, store, linkAclSource('src'), () => true)).synced, SOURCE_ACLS.length);
        // A second source holding some of the same bindings must not make them appear twice.
        await store.replaceAcls('link:other', SOURCE_ACLS.slice(0, 3));
      } finally {
        await store.close();
      }
      strait = await startStrait({ dataDir });
      straitRaw = await RawClient.connect(strait.port);
    });

    after(async () => {
      straitRaw?.close();
      await strait?.stop();
    });

    for (const version of [1, 2, 3]) {
      test(`DescribeAcls v${version}: every filter gets the same answer`, async () => {
        for (const [name, f, count] of FILTERS) {
          const expected = await raw.request<DescribeAclsResponse>(ApiKey.DescribeAcls, version, f);
          const actual = await straitRaw.request<DescribeAclsResponse>(ApiKey.DescribeAcls, version, f);
          assert.equal(bindingsOf(expected).length, count, `Kafka's answer to ${name}`);
          assert.deepEqual(normalised(actual), normalised(expected), name);
        }
      });
    }

    test('DescribeAcls v0 is served by neither (Kafka 4 dropped it, KIP-896)', async () => {
      for (const port of [kafka.port, strait.port]) {
        const c = await RawClient.connect(port);
        try {
          await assert.rejects(c.request(ApiKey.DescribeAcls, 0, filter({ patternTypeFilter: LITERAL })), /connection closed/, `port ${port}`);
        } finally {
          c.close();
        }
      }
    });

    test('a filter with an UNKNOWN component closes the connection on both', async () => {
      for (const port of [kafka.port, strait.port]) {
        const c = await RawClient.connect(port);
        try {
          await assert.rejects(c.request(ApiKey.DescribeAcls, 3, filter({ operation: 0 })), /connection closed/, `port ${port}`);
        } finally {
          c.close();
        }
      }
    });

    test('kafka-acls --list (Kafka\'s Admin client) prints the same ACLs for Strait as for Kafka', async () => {
      // The tool prints resources and their entries in the order the broker lists them: compare sorted lines.
      const list = async (bootstrap: string, args: string[]): Promise<string[]> => {
        const r = await runJava('org.apache.kafka.tools.AclCommand', ['--bootstrap-server', bootstrap, '--list', ...args], { timeoutMs: 60_000 });
        assert.equal(r.code, 0, r.stderr);
        return r.stdout.split('\n').map((line) => line.trim()).filter((line) => line !== '').sort();
      };
      for (const args of [[], ['--topic', 'orders', '--resource-pattern-type', 'match'], ['--principal', 'User:alice']]) {
        const [fromKafka, fromStrait] = await Promise.all([list(kafka.bootstrap, args), list(strait.bootstrap, args)]);
        assert.ok(fromKafka.some((line) => line.includes('User:alice')), fromKafka.join('\n'));
        assert.deepEqual(fromStrait, fromKafka, args.join(' '));
      }
    });

    test('the link client sees the same DescribeAcls versions and ACLs on Strait as on Kafka', async () => {
      const fromStrait = new KafkaClient({ bootstrap: strait.bootstrap, apiTimeoutMs: 15_000 });
      try {
        const advertised = async (c: KafkaClient) => (await c.apiVersions()).find((a) => a.name === 'DescribeAcls')!.broker;
        assert.deepEqual(await advertised(fromStrait), await advertised(client), 'the same DescribeAcls versions');
        const order = (xs: object[]) => xs.map((x) => JSON.stringify(x)).sort();
        assert.deepEqual(order(await fromStrait.describeAcls()), order(await client.describeAcls()));
        assert.deepEqual(order(await fromStrait.describeAcls({ resourceType: 'TOPIC', resourceName: 'orders', patternType: 'MATCH' })), order(await client.describeAcls({ resourceType: 'TOPIC', resourceName: 'orders', patternType: 'MATCH' })));
      } finally {
        await fromStrait.close();
      }
    });
  });
});
