// DescribeAcls: Kafka's AclBindingFilter matching rules (table-driven), and the handler on a broker
// whose metadata store holds ACLs (written through a second connection to its SQLite file, as a
// link's ACL sync would). Test/link/acl-sync.test.ts compares whole responses with Apache Kafka's.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { aclFilterMatches, aclResources } from '../../src/api/describe-acls.ts';
import type { AclBindingFilter } from '../../src/api/describe-acls.ts';
import { SqliteMetadataStore } from '../../src/metadata/index.ts';
import type { AclBindingRecord } from '../../src/metadata/index.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { startTestBroker } from '../helpers/broker.ts';
import type { TestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';

// Kafka's codes.
const TOPIC = 2, GROUP = 3, CLUSTER = 4;
const ANY = 1, MATCH = 2, LITERAL = 3, PREFIXED = 4;
const READ = 3, WRITE = 4, DESCRIBE = 8;
const DENY = 2, ALLOW = 3;

const binding = (resourceType: number, resourceName: string, patternType: number, extra: Partial<AclBindingRecord> = {}): AclBindingRecord => ({
  resourceType,
  resourceName,
  patternType,
  principal: 'User:alice',
  host: '*',
  operation: READ,
  permissionType: ALLOW,
  ...extra,
});

const ANY_FILTER: AclBindingFilter = {
  resourceTypeFilter: ANY,
  resourceNameFilter: null,
  patternTypeFilter: ANY,
  principalFilter: null,
  hostFilter: null,
  operation: ANY,
  permissionType: ANY,
};
const filter = (f: Partial<AclBindingFilter>): AclBindingFilter => ({ ...ANY_FILTER, ...f });

const ordersLiteral = binding(TOPIC, 'orders', LITERAL);
const ordPrefixed = binding(TOPIC, 'ord', PREFIXED);
const ordersPrefixed = binding(TOPIC, 'orders', PREFIXED);
const wildcard = binding(TOPIC, '*', LITERAL);
const otherLiteral = binding(TOPIC, 'payments', LITERAL);
const longerPrefixed = binding(TOPIC, 'orders-eu', PREFIXED);
const groupLiteral = binding(GROUP, 'orders', LITERAL, { operation: DESCRIBE });
const bobDenyHost = binding(TOPIC, 'orders', LITERAL, { principal: 'User:bob', host: '10.0.0.1', operation: WRITE, permissionType: DENY });
const ALL = [ordersLiteral, ordPrefixed, ordersPrefixed, wildcard, otherLiteral, longerPrefixed, groupLiteral, bobDenyHost];

test('aclFilterMatches follows Kafka\'s AclBindingFilter.matches', () => {
  const cases: [string, AclBindingFilter, AclBindingRecord[]][] = [
    ['ANY matches everything', ANY_FILTER, ALL],
    ['resource type is exact', filter({ resourceTypeFilter: GROUP }), [groupLiteral]],
    ['MATCH: the literal name, the wildcard and every prefix, of any resource type', filter({ resourceNameFilter: 'orders', patternTypeFilter: MATCH }), [ordersLiteral, ordPrefixed, ordersPrefixed, wildcard, groupLiteral, bobDenyHost]],
    ['MATCH with a type', filter({ resourceTypeFilter: TOPIC, resourceNameFilter: 'orders-eu-1', patternTypeFilter: MATCH }), [ordPrefixed, ordersPrefixed, wildcard, longerPrefixed]],
    ['MATCH without a name matches every pattern', filter({ patternTypeFilter: MATCH, resourceTypeFilter: TOPIC }), ALL.filter((b) => b.resourceType === TOPIC)],
    ['MATCH on "*" matches only the wildcard literal and prefixes of "*"', filter({ resourceNameFilter: '*', patternTypeFilter: MATCH }), [wildcard]],
    ['ANY pattern type with a name: exact name of any pattern type', filter({ resourceNameFilter: 'orders' }), [ordersLiteral, ordersPrefixed, groupLiteral, bobDenyHost]],
    ['ANY pattern type with "*": only the wildcard itself', filter({ resourceNameFilter: '*' }), [wildcard]],
    ['LITERAL: exact name, no wildcard expansion', filter({ resourceNameFilter: 'orders', patternTypeFilter: LITERAL }), [ordersLiteral, groupLiteral, bobDenyHost]],
    ['LITERAL without a name', filter({ patternTypeFilter: LITERAL, resourceTypeFilter: TOPIC }), [ordersLiteral, wildcard, otherLiteral, bobDenyHost]],
    ['PREFIXED: exact prefix, not the prefixes of it', filter({ resourceNameFilter: 'orders', patternTypeFilter: PREFIXED }), [ordersPrefixed]],
    ['principal is exact', filter({ principalFilter: 'User:bob' }), [bobDenyHost]],
    ['host is exact; "*" is not a wildcard in a filter', filter({ hostFilter: '10.0.0.1' }), [bobDenyHost]],
    ['operation is exact', filter({ operation: WRITE }), [bobDenyHost]],
    ['permission type is exact', filter({ permissionType: ALLOW }), ALL.filter((b) => b !== bobDenyHost)],
    ['an unknown resource type code matches nothing', filter({ resourceTypeFilter: 42 }), []],
    ['an empty principal is not null', filter({ principalFilter: '' }), []],
  ];
  for (const [name, f, expected] of cases) {
    assert.deepEqual(ALL.filter((b) => aclFilterMatches(f, b)), expected, name);
  }
  assert.equal(aclFilterMatches(filter({ hostFilter: '*' }), bobDenyHost), false);
  assert.equal(aclFilterMatches(filter({ hostFilter: '*' }), ordersLiteral), true);
});

test('aclResources groups entries by resource pattern, once each, in a stable order', () => {
  const resources = aclResources([bobDenyHost, ordersPrefixed, ordersLiteral, ordersLiteral, binding(CLUSTER, 'kafka-cluster', LITERAL)]);
  assert.deepEqual(resources, [
    {
      resourceType: TOPIC,
      resourceName: 'orders',
      patternType: LITERAL,
      acls: [
        { principal: 'User:alice', host: '*', operation: READ, permissionType: ALLOW },
        { principal: 'User:bob', host: '10.0.0.1', operation: WRITE, permissionType: DENY },
      ],
    },
    { resourceType: TOPIC, resourceName: 'orders', patternType: PREFIXED, acls: [{ principal: 'User:alice', host: '*', operation: READ, permissionType: ALLOW }] },
    { resourceType: CLUSTER, resourceName: 'kafka-cluster', patternType: LITERAL, acls: [{ principal: 'User:alice', host: '*', operation: READ, permissionType: ALLOW }] },
  ]);
});

let b: TestBroker;
let c: RawClient;
let store: SqliteMetadataStore;
before(async () => {
  b = await startTestBroker();
  c = await RawClient.connect(b.port);
  store = new SqliteMetadataStore(join(b.dataDir, 'metadata.sqlite'));
  await store.open();
});
after(async () => {
  c.close();
  await store.close();
  await b.stop();
});

const describeAcls = (version: number, f: Partial<AclBindingFilter> = {}) => c.request(ApiKey.DescribeAcls, version, filter(f));

test('DescribeAcls on a store without ACLs answers an empty list, not SECURITY_DISABLED', async () => {
  for (const version of [1, 2, 3]) {
    const r = await describeAcls(version);
    assert.deepEqual([r.errorCode, r.errorMessage, r.resources], [ErrorCode.NONE, '', []], `v${version}`);
  }
});

test('DescribeAcls serves what the store holds, every source once', async () => {
  await store.replaceAcls('link:a', [ordersLiteral, ordPrefixed, wildcard]);
  await store.replaceAcls('link:b', [ordersLiteral, groupLiteral]);
  const v3 = await describeAcls(3, { resourceNameFilter: 'orders', patternTypeFilter: MATCH });
  assert.deepEqual(v3.resources, aclResources([ordersLiteral, ordPrefixed, wildcard, groupLiteral]));
  assert.equal(v3.resources[0].acls.length, 1, 'a binding two sources hold is described once');
  const v1 = await describeAcls(1, { resourceTypeFilter: TOPIC, patternTypeFilter: PREFIXED });
  assert.deepEqual(v1.resources, aclResources([ordPrefixed]));
  const v2 = await describeAcls(2, { patternTypeFilter: LITERAL });
  assert.deepEqual(v2.resources.map((r: { resourceName: string }) => r.resourceName), ['*', 'orders', 'orders']);
  await store.replaceAcls('link:a', []);
  assert.deepEqual((await describeAcls(3)).resources, aclResources([ordersLiteral, groupLiteral]), 'a replaced set is seen at once');
  await store.deleteAcls('link:b');
});

test('DescribeAcls v0 is not served, as on Kafka 4 (KIP-896)', async () => {
  const raw = await RawClient.connect(b.port);
  await assert.rejects(raw.request(ApiKey.DescribeAcls, 0, filter({ patternTypeFilter: LITERAL })), /connection closed/);
  raw.close();
});

test('DescribeAcls with an UNKNOWN filter component closes the connection, as Kafka does', async () => {
  for (const f of [{ resourceTypeFilter: 0 }, { patternTypeFilter: 0 }, { operation: 0 }, { permissionType: 0 }]) {
    const raw = await RawClient.connect(b.port);
    await assert.rejects(raw.request(ApiKey.DescribeAcls, 3, filter(f)), /connection closed/, JSON.stringify(f));
    raw.close();
  }
});
