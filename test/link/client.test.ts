// The link client against a real Apache Kafka 4.3.1 (one broker this file starts, with PLAINTEXT and
// SASL listeners and an authorizer), against scripted fake brokers for what a real one will not do
// on demand, and against Strait for the APIs Strait serves. Fetched batches are compared with the
// bytes of Kafka's own segment files.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApiKey, KafkaClient, KafkaClientError } from '../../src/link/client/index.ts';
import type { FetchedPartition } from '../../src/link/client/index.ts';
import { batchCrc, buildBatch, splitBatches } from '../../src/protocol/records/index.ts';
import type { Compression } from '../../src/protocol/records/index.ts';
import { freePort, runJava, startStrait } from '../compat/harness.ts';
import type { StraitHandle } from '../compat/harness.ts';
import { apiVersionsBody, startFakeBroker } from './fake-broker.ts';
import type { FakeBroker } from './fake-broker.ts';
import { SASL_PASSWORD, SASL_USER, kafkaInstalled, startKafkaNode } from './kafka-node.ts';
import type { KafkaNode } from './kafka-node.ts';

// Missing Kafka jars fail the suite (they are installed by the test command), never skip it.
const kafkaMissing = kafkaInstalled() ? null : 'Apache Kafka 4.3.1 is not installed: run scripts/install-test-deps.sh';
const BASE_TS = 1_700_000_000_000;

/** Four batches of 5, 3, 7 and 5 records, one per codec; record at offset o has timestamp BASE_TS + o. */
const DATA_SHAPE: { count: number; compression: Compression }[] = [
  { count: 5, compression: 'none' },
  { count: 3, compression: 'gzip' },
  { count: 7, compression: 'lz4' },
  { count: 5, compression: 'zstd' },
];
const DATA_RECORDS = DATA_SHAPE.reduce((n, b) => n + b.count, 0);

function dataBatches(): Buffer[] {
  let offset = 0;
  return DATA_SHAPE.map(({ count, compression }) => {
    const records = Array.from({ length: count }, (_, i) => ({ key: `key-${offset + i}`, value: `value-${offset + i}-${'x'.repeat(40)}`, timestamp: BASE_TS + offset + i }));
    offset += count;
    return buildBatch({ records, compression });
  });
}

/** The batches of a partition's first segment, as Kafka wrote them to disk. */
function segmentBatches(logDir: string, topic: string, partition: number): Buffer[] {
  const file = readFileSync(join(logDir, `${topic}-${partition}`, '00000000000000000000.log'));
  return [...splitBatches(file)].map(({ pos, size }) => file.subarray(pos, pos + size));
}

function batchesOf(p: FetchedPartition): Buffer[] {
  return p.batches.map((b) => p.records.subarray(b.position, b.position + b.size));
}

function ok<T extends { error: KafkaClientError | null }>(results: T[]): T[] {
  for (const r of results) assert.equal(r.error, null, `unexpected error: ${r.error?.message}`);
  return results;
}

async function createTopics(client: KafkaClient, topics: { name: string; partitions: number; configs?: Record<string, string> }[]): Promise<void> {
  const { response } = await client.sendRequest<{ topics: { name: string; errorCode: number; errorMessage: string | null }[] }>('any', ApiKey.CreateTopics, () => ({
    topics: topics.map((t) => ({
      name: t.name,
      numPartitions: t.partitions,
      replicationFactor: 1,
      assignments: [],
      configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
    })),
    timeoutMs: 15_000,
  }));
  for (const t of response.topics) assert.equal(t.errorCode, 0, `CreateTopics ${t.name}: ${t.errorCode} ${t.errorMessage}`);
}

/** Produces batches one request at a time (Kafka takes one batch per partition per request). */
async function produceAll(client: KafkaClient, topic: string, partition: number, batches: Buffer[]): Promise<number[]> {
  const offsets: number[] = [];
  for (const records of batches) {
    const [r] = ok(await client.produce([{ topic, partition, records }]));
    offsets.push(r!.baseOffset);
  }
  return offsets;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function elapsed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await run();
  return { value, ms: performance.now() - t0 };
}

// ---- scripted brokers: negotiation, timeouts, bounds ----------------------------------------------

describe('link client: negotiation, timeouts and bounds (scripted brokers)', () => {
  const fakes: FakeBroker[] = [];
  const clients: KafkaClient[] = [];
  const client = (options: ConstructorParameters<typeof KafkaClient>[0]): KafkaClient => {
    const c = new KafkaClient(options);
    clients.push(c);
    return c;
  };
  after(async () => {
    for (const c of clients) await c.close();
    for (const f of fakes) await f.close();
  });

  test('refuses options it cannot honour, naming them', () => {
    const cases: [ConstructorParameters<typeof KafkaClient>[0], RegExp][] = [
      [{ bootstrap: [] }, /at least one bootstrap server/],
      [{ bootstrap: 'kafka-1' }, /"kafka-1" is not host:port/],
      [{ bootstrap: 'kafka-1:99999' }, /is not host:port/],
      [{ bootstrap: 'k:9092', securityProtocol: 'SASL_SSL' }, /SASL_SSL needs sasl options/],
      [{ bootstrap: 'k:9092', sasl: { mechanism: 'PLAIN', username: 'u', password: 'p' } }, /sasl options need securityProtocol SASL_PLAINTEXT or SASL_SSL/],
      [{ bootstrap: 'k:9092', tls: {} }, /tls options need securityProtocol SSL or SASL_SSL/],
      [{ bootstrap: 'k:9092', inFlightRequestsMax: 0 }, /inFlightRequestsMax must be a number >= 1/],
    ];
    for (const [options, message] of cases) {
      assert.throws(() => new KafkaClient(options), (e: KafkaClientError) => e.code === 'STRAIT_LINK_INVALID_ARGUMENT' && message.test(e.message), String(message));
    }
    assert.doesNotThrow(() => new KafkaClient({ bootstrap: ' a:1, [::1]:9092 ' }).close());
  });

  test('falls back to an older ApiVersions (KIP-511), uses the highest common version, and fails clearly when there is none', async () => {
    const fake = await startFakeBroker((req) => {
      if (req.apiKey === ApiKey.ApiVersions) {
        if (req.version > 2) return { errorCode: 35, apiKeys: [{ apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 2 }] };
        return apiVersionsBody({ [ApiKey.Metadata]: [0, 8], [ApiKey.Fetch]: [0, 3], [ApiKey.ListOffsets]: [1, 99] }, 2);
      }
      if (req.apiKey === ApiKey.Metadata) {
        return {
          brokers: [{ nodeId: 7, host: '127.0.0.1', port: fake.port, rack: null }],
          clusterId: 'fake-cluster',
          controllerId: 7,
          topics: [{ errorCode: 0, name: 'old', isInternal: false, partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 7, leaderEpoch: 3, replicaNodes: [7], isrNodes: [7], offlineReplicas: [] }] }],
        };
      }
      return null;
    });
    fakes.push(fake);
    const c = client({ bootstrap: fake.bootstrap, apiTimeoutMs: 5000 });
    const versions = new Map((await c.apiVersions()).map((a) => [a.name, a]));
    assert.deepEqual(fake.requests.filter((r) => r.apiKey === ApiKey.ApiVersions).map((r) => r.version), [4, 2]);
    assert.equal(versions.get('ApiVersions')!.version, 2);
    assert.equal(versions.get('Metadata')!.version, 8);
    assert.equal(versions.get('Fetch')!.version, 3, 'Fetch v3 is common, though the fetch operation needs v4+');
    assert.equal(versions.get('ListOffsets')!.version, versions.get('ListOffsets')!.client!.maxVersion);
    assert.equal(versions.get('DescribeAcls')!.version, null);

    const metadata = await c.metadata({ topics: ['old'] });
    assert.equal(metadata.clusterId, 'fake-cluster');
    assert.equal(metadata.topics.get('old')!.partitions[0]!.leaderEpoch, 3);
    const [fetched] = await c.fetch([{ topic: 'old', partition: 0, offset: 0 }]);
    assert.equal(fetched!.error?.code, 'STRAIT_LINK_UNSUPPORTED_VERSION');
    // The topic has no id, so Fetch v13+ (topic ids) is out too.
    assert.match(fetched!.error!.message, /no common version of Fetch: broker 7 at 127\.0\.0\.1:\d+ supports v0-3, this client v0-17, the operation needs v4-12/);
    await assert.rejects(c.describeAcls(), (e: KafkaClientError) => {
      assert.equal(e.code, 'STRAIT_LINK_UNSUPPORTED_VERSION');
      assert.equal(e.retriable, false);
      assert.match(e.message, /does not support DescribeAcls/);
      return true;
    });
  });

  test('follows a moved leader: NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH and UNKNOWN_TOPIC_OR_PARTITION refresh the metadata and retry', async () => {
    const topicId = randomBytes(16).toString('base64url');
    const batch = buildBatch({ records: [{ value: 'a', timestamp: BASE_TS }, { value: 'b', timestamp: BASE_TS }] });
    // What successive Metadata answers say (the last one repeats): stale leader, stale epoch, then right.
    const views = [{ leader: 7, epoch: 1 }, { leader: 8, epoch: 1 }, { leader: 8, epoch: 2 }];
    let metadataCalls = 0;
    let unknownSent = false;
    const fetches: { node: number; epoch: number }[] = [];
    const brokers: FakeBroker[] = [];
    const script = (node: number) => (req: { apiKey: number; body: any }) => {
      if (req.apiKey === ApiKey.ApiVersions) return apiVersionsBody({ [ApiKey.Metadata]: [0, 12], [ApiKey.Fetch]: [4, 17] });
      if (req.apiKey === ApiKey.Metadata) {
        const view = views[Math.min(metadataCalls++, views.length - 1)]!;
        return {
          brokers: brokers.map((b, i) => ({ nodeId: 7 + i, host: '127.0.0.1', port: b.port, rack: null })),
          clusterId: 'moving',
          controllerId: 7,
          topics: [{ errorCode: 0, name: 'moved', topicId, isInternal: false, partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: view.leader, leaderEpoch: view.epoch, replicaNodes: [7, 8], isrNodes: [7, 8], offlineReplicas: [] }] }],
        };
      }
      const asked = req.body.topics[0].partitions[0];
      fetches.push({ node, epoch: asked.currentLeaderEpoch });
      const errorCode = node !== 8 ? 6 : asked.currentLeaderEpoch < 2 ? 74 : !unknownSent ? 3 : 0;
      unknownSent ||= errorCode === 3;
      const partition = { partitionIndex: 0, errorCode, highWatermark: errorCode ? -1n : 2n, lastStableOffset: errorCode ? -1n : 2n, logStartOffset: errorCode ? -1n : 0n, records: errorCode ? null : batch };
      return { errorCode: 0, responses: [{ topic: 'moved', topicId, partitions: [partition] }] };
    };
    brokers.push(await startFakeBroker(script(7)), await startFakeBroker(script(8)));
    fakes.push(...brokers);
    const c = client({ bootstrap: brokers[0]!.bootstrap, retryBackoffMs: 10 });
    const [p] = ok(await c.fetch([{ topic: 'moved', partition: 0, offset: 0 }]));
    assert.deepEqual(batchesOf(p!), [batch]);
    assert.deepEqual([p!.leaderId, p!.leaderEpoch, p!.highWatermark], [8, 2, 2]);
    assert.deepEqual(fetches, [{ node: 7, epoch: 1 }, { node: 8, epoch: 1 }, { node: 8, epoch: 2 }, { node: 8, epoch: 2 }]);
    assert.equal(metadataCalls, 4, 'one refresh after each of the three errors');
    const fetchVersions = [...brokers[0]!.requests, ...brokers[1]!.requests].filter((r) => r.apiKey === ApiKey.Fetch).map((r) => r.version);
    assert.deepEqual(new Set(fetchVersions), new Set([17]), 'fetched by topic id');
  });

  test('a dead bootstrap server fails within the time limit, naming the cause', async () => {
    const port = await freePort();
    const c = client({ bootstrap: [`127.0.0.1:${port}`] });
    const t0 = performance.now();
    await assert.rejects(c.metadata({ timeoutMs: 1000 }), (e: KafkaClientError) => {
      assert.equal(e.code, 'STRAIT_LINK_TIMEOUT');
      assert.equal(e.errorName, 'REQUEST_TIMED_OUT');
      assert.match(e.message, /Metadata did not succeed within its 1000 ms time limit .*ECONNREFUSED/);
      return true;
    });
    const ms = performance.now() - t0;
    assert.ok(ms >= 700 && ms < 1500, `gave up after ${ms} ms`);
  });

  test('a broker that never answers fails within the time limit', async () => {
    const fake = await startFakeBroker(() => null);
    fakes.push(fake);
    const c = client({ bootstrap: fake.bootstrap });
    const t0 = performance.now();
    await assert.rejects(c.metadata({ timeoutMs: 800 }), (e: KafkaClientError) => {
      assert.equal(e.code, 'STRAIT_LINK_TIMEOUT');
      assert.match(e.message, /ApiVersions request to bootstrap 127\.0\.0\.1:\d+ got no response within \d+ ms/);
      return true;
    });
    const ms = performance.now() - t0;
    assert.ok(ms < 1300, `gave up after ${ms} ms`);
  });

  test('keeps at most inFlightRequestsMax requests in flight per connection; a timed-out request costs the connection, the retry reconnects', async () => {
    let outstanding = 0;
    let outstandingMax = 0;
    let listGroups = 0;
    const fake = await startFakeBroker(async (req) => {
      if (req.apiKey === ApiKey.ApiVersions) return apiVersionsBody({ [ApiKey.ListGroups]: [0, 5] });
      listGroups++;
      // The first ListGroups is never answered: its timeout must close the connection.
      if (listGroups === 1) return null;
      outstanding++;
      outstandingMax = Math.max(outstandingMax, outstanding);
      await new Promise((resolve) => setTimeout(resolve, 30));
      outstanding--;
      return { errorCode: 0, groups: [{ groupId: `g${req.correlationId}`, protocolType: 'consumer', groupState: 'Empty', groupType: 'classic' }] };
    });
    fakes.push(fake);
    const c = client({ bootstrap: fake.bootstrap, inFlightRequestsMax: 3, requestTimeoutMs: 300, retryBackoffMs: 10 });
    const first = await elapsed(() => c.sendRequest('any', ApiKey.ListGroups, () => ({})));
    assert.ok(first.ms >= 300, 'the first attempt waited for its timeout');
    assert.equal(fake.connections, 2, 'the timed-out connection was replaced');
    const answers = await Promise.all(Array.from({ length: 12 }, () => c.sendRequest<{ groups: { groupId: string }[] }>('any', ApiKey.ListGroups, () => ({}))));
    assert.equal(answers.length, 12);
    assert.equal(outstandingMax, 3, 'the fake broker saw exactly inFlightRequestsMax requests at once');
    assert.equal(fake.connections, 2, 'one connection carried all pipelined requests');
  });

  test('close() fails what is in flight and everything after it', async () => {
    const fake = await startFakeBroker((req) => (req.apiKey === ApiKey.ApiVersions ? apiVersionsBody({ [ApiKey.ListGroups]: [0, 5] }) : null));
    fakes.push(fake);
    const c = client({ bootstrap: fake.bootstrap });
    const pending = c.sendRequest('any', ApiKey.ListGroups, () => ({}));
    await until('the request reached the broker', 2000, async () => (fake.requests.some((r) => r.apiKey === ApiKey.ListGroups) ? true : undefined));
    await c.close();
    await assert.rejects(pending, (e: KafkaClientError) => e.code === 'STRAIT_LINK_CLOSED');
    await assert.rejects(c.metadata(), (e: KafkaClientError) => e.code === 'STRAIT_LINK_CLOSED');
  });
});

// ---- Apache Kafka 4.3.1 -----------------------------------------------------------------------------

describe('link client against Apache Kafka 4.3.1', () => {
  test('Apache Kafka 4.3.1 is installed', () => assert.equal(kafkaMissing, null, kafkaMissing ?? ''));
  let kafka: KafkaNode;
  let client: KafkaClient;
  let javaDone: Promise<void>;
  const DATA = 'link-data';
  const CONFIGS = 'link-configs';
  const JAVA = 'link-java';
  const GROUP = 'link-group';
  const JAVA_MESSAGES = 20;

  before(async () => {
    const t0 = performance.now();
    kafka = await startKafkaNode({
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'super.users': 'User:ANONYMOUS',
      'allow.everyone.if.no.acl.found': 'true',
    });
    client = new KafkaClient({ bootstrap: kafka.bootstrap, clientId: 'link-test', apiTimeoutMs: 20_000, reconnectBackoffMsMax: 500 });
    await createTopics(client, [
      { name: DATA, partitions: 2 },
      { name: CONFIGS, partitions: 1, configs: { 'cleanup.policy': 'compact', 'retention.ms': '12345' } },
      { name: JAVA, partitions: 1 },
    ]);
    // The Java producer and consumer group run while the other tests do: their JVMs take seconds.
    javaDone = (async () => {
      const lines = Array.from({ length: JAVA_MESSAGES }, (_, i) => `k${i}:java-${i}`).join('\n') + '\n';
      const produced = await runJava('org.apache.kafka.tools.ConsoleProducer', [
        '--bootstrap-server', kafka.bootstrap, '--topic', JAVA, '--compression-codec', 'lz4',
        '--reader-property', 'parse.key=true', '--reader-property', 'key.separator=:',
      ], { input: lines });
      assert.equal(produced.code, 0, `ConsoleProducer failed:\n${produced.stderr}`);
      const consumed = await runJava('org.apache.kafka.tools.consumer.ConsoleConsumer', [
        '--bootstrap-server', kafka.bootstrap, '--topic', JAVA, '--group', GROUP, '--from-beginning',
        '--max-messages', String(JAVA_MESSAGES), '--timeout-ms', '30000',
      ]);
      assert.equal(consumed.code, 0, `ConsoleConsumer failed:\n${consumed.stderr}`);
      assert.equal(consumed.stdout.trim().split('\n').length, JAVA_MESSAGES);
    })();
    javaDone.catch(() => undefined);
    console.log(`# Kafka started and topics created in ${Math.round(performance.now() - t0)} ms`);
  });

  after(async () => {
    await client?.close();
    await kafka?.destroy();
  });

  test('negotiates the highest version each API has in common with Kafka', async () => {
    const apis = await client.apiVersions();
    const byName = new Map(apis.map((a) => [a.name, a]));
    for (const a of apis) {
      if (!a.broker || !a.client) continue;
      assert.equal(a.version, Math.min(a.broker.maxVersion, a.client.maxVersion), a.name);
    }
    assert.equal(byName.get('ApiVersions')!.version, 4);
    assert.ok(byName.get('Fetch')!.version! >= 13, 'Fetch by topic id (KIP-516)');
    assert.ok(byName.get('OffsetFetch')!.version! >= 8, 'batched OffsetFetch (KIP-709)');
    assert.equal(byName.get('Metadata')!.version, 12);
  });

  test('metadata: cluster id, brokers, controller, topics with leaders, epochs and ids; never creates topics', async () => {
    const m = await client.metadata({ topics: [DATA, 'no-such-topic'] });
    assert.equal(m.clusterId, kafka.clusterId);
    assert.deepEqual([...m.brokers.values()], [{ nodeId: 1, host: '127.0.0.1', port: kafka.port, rack: null }]);
    assert.equal(m.controllerId, 1);
    const topic = m.topics.get(DATA)!;
    assert.match(topic.topicId, /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(topic.topicId, 'AAAAAAAAAAAAAAAAAAAAAA');
    assert.equal(topic.isInternal, false);
    assert.deepEqual(topic.partitions.map((p) => [p.partition, p.leaderId, p.replicas, p.isr]), [[0, 1, [1], [1]], [1, 1, [1], [1]]]);
    assert.ok(topic.partitions.every((p) => p.leaderEpoch >= 0));
    assert.equal(m.topicErrors.get('no-such-topic'), 3);
    const all = await client.metadata();
    assert.ok(all.topics.has(CONFIGS) && all.topics.has(JAVA));
    assert.ok(!all.topics.has('no-such-topic'), 'asking about a topic did not create it');
  });

  test('fetch returns exactly the batches Kafka stored, whatever their codec', async () => {
    const sent = dataBatches();
    assert.deepEqual(await produceAll(client, DATA, 0, sent), [0, 5, 8, 15]);
    const stored = segmentBatches(kafka.logDir, DATA, 0);
    assert.equal(stored.length, 4);
    const [p] = ok(await client.fetch([{ topic: DATA, partition: 0, offset: 0 }]));
    assert.deepEqual(batchesOf(p!), stored, 'byte for byte what is on disk');
    assert.deepEqual(p!.batches.map((b) => [b.baseOffset, b.lastOffset]), [[0, 4], [5, 7], [8, 14], [15, 19]]);
    assert.deepEqual(batchesOf(p!).map((b) => batchCrc(b, 0)), sent.map((b) => batchCrc(b, 0)), 'the CRCs the producer computed');
    assert.equal(Buffer.compare(p!.records, Buffer.concat(stored)), 0);
    assert.deepEqual([p!.highWatermark, p!.lastStableOffset, p!.logStartOffset, p!.nextOffset, p!.partialBytes], [DATA_RECORDS, DATA_RECORDS, 0, DATA_RECORDS, 0]);
    assert.equal(p!.abortedTransactions, null, 'read_uncommitted: Kafka does not say');
    assert.equal(p!.divergingEpoch, null);

    await javaDone;
    const [j] = ok(await client.fetch([{ topic: JAVA, partition: 0, offset: 0 }], { isolation: 'read_committed' }));
    assert.deepEqual(batchesOf(j!), segmentBatches(kafka.logDir, JAVA, 0), 'batches the Java producer built (lz4)');
    assert.equal(j!.nextOffset, JAVA_MESSAGES);
    assert.deepEqual(j!.abortedTransactions, []);
  });

  test('fetch from the middle of a batch, at the end, and out of range', async () => {
    const stored = segmentBatches(kafka.logDir, DATA, 0);
    const [middle, end, beyond, empty] = await client.fetch([
      { topic: DATA, partition: 0, offset: 10 },
      { topic: DATA, partition: 0, offset: DATA_RECORDS },
      { topic: DATA, partition: 0, offset: DATA_RECORDS + 100 },
      { topic: DATA, partition: 1, offset: 0 },
    ]);
    // Kafka answers with the whole batch that holds the offset (8-14), then the rest.
    assert.deepEqual(middle!.batches.map((b) => b.baseOffset), [8, 15]);
    assert.deepEqual(batchesOf(middle!), stored.slice(2));
    assert.equal(end!.error, null);
    assert.deepEqual([end!.batches.length, end!.records.length, end!.nextOffset, end!.highWatermark], [0, 0, DATA_RECORDS, DATA_RECORDS]);
    assert.equal(beyond!.error?.errorName, 'OFFSET_OUT_OF_RANGE');
    assert.equal(beyond!.error?.code, 'STRAIT_LINK_KAFKA_ERROR');
    assert.equal(beyond!.error?.retriable, false);
    assert.deepEqual([empty!.error, empty!.highWatermark, empty!.batches.length], [null, 0, 0]);
    const [missing] = await client.fetch([{ topic: DATA, partition: 9, offset: 0 }]);
    assert.equal(missing!.error?.errorName, 'UNKNOWN_TOPIC_OR_PARTITION');
  });

  test('a batch cut by the size limit is dropped, never returned in part', async () => {
    const stored = segmentBatches(kafka.logDir, DATA, 0);
    const [p] = ok(await client.fetch([{ topic: DATA, partition: 0, offset: 0, partitionMaxBytes: stored[0]!.length + 20 }]));
    assert.deepEqual(batchesOf(p!), [stored[0]]);
    assert.equal(p!.partialBytes, 20);
    assert.equal(p!.nextOffset, 5);
    // A limit below the first batch still returns it whole (KIP-74).
    const [small] = ok(await client.fetch([{ topic: DATA, partition: 0, offset: 5, partitionMaxBytes: 10 }]));
    assert.deepEqual(batchesOf(small!), [stored[1]]);
  });

  test('listOffsets: earliest, latest, max timestamp, by timestamp, read_committed', async () => {
    const results = ok(await client.listOffsets([
      { topic: DATA, partition: 0, spec: 'earliest' },
      { topic: DATA, partition: 0, spec: 'latest' },
      { topic: DATA, partition: 0, spec: 'max-timestamp' },
      { topic: DATA, partition: 0, spec: { timestamp: BASE_TS + 9 } },
      { topic: DATA, partition: 0, spec: { timestamp: BASE_TS + 1000 } },
      { topic: DATA, partition: 1, spec: 'latest' },
    ]));
    assert.deepEqual(results.map((r) => r.offset), [0, DATA_RECORDS, DATA_RECORDS - 1, 9, -1, 0]);
    assert.equal(results[2]!.timestamp, BASE_TS + DATA_RECORDS - 1);
    assert.equal(results[3]!.timestamp, BASE_TS + 9);
    const [committed] = ok(await client.listOffsets([{ topic: DATA, partition: 0, spec: 'latest' }], { isolation: 'read_committed' }));
    assert.equal(committed!.offset, DATA_RECORDS);
  });

  test('offsetForLeaderEpoch, and epoch errors for a caller-chosen epoch come back at once', async () => {
    const epoch = (await client.metadata({ topics: [DATA] })).topics.get(DATA)!.partitions[0]!.leaderEpoch;
    const [e] = ok(await client.offsetForLeaderEpoch([{ topic: DATA, partition: 0, leaderEpoch: epoch }]));
    assert.deepEqual([e!.leaderEpoch, e!.endOffset], [epoch, DATA_RECORDS]);
    const { value, ms } = await elapsed(() => client.fetch([{ topic: DATA, partition: 0, offset: 0, currentLeaderEpoch: epoch + 5 }]));
    assert.equal(value[0]!.error?.errorName, 'UNKNOWN_LEADER_EPOCH');
    assert.ok(ms < 1000, `returned after ${ms} ms, not retried`);
    const [fenced] = await client.offsetForLeaderEpoch([{ topic: DATA, partition: 0, leaderEpoch: epoch, currentLeaderEpoch: epoch + 1 }]);
    assert.equal(fenced!.error?.errorName, 'UNKNOWN_LEADER_EPOCH');
  });

  test('describeConfigs: topic overrides, defaults, a broker, and a missing topic', async () => {
    const [topic, broker, missing] = await client.describeConfigs([
      { type: 'topic', name: CONFIGS },
      { type: 'broker', name: '1', keys: ['num.partitions', 'log.dirs'] },
      { type: 'topic', name: 'no-such-topic' },
    ], { includeSynonyms: true });
    const entry = (name: string) => topic!.configs.find((c) => c.name === name)!;
    assert.equal(topic!.error, null);
    assert.deepEqual([entry('cleanup.policy').value, entry('cleanup.policy').source, entry('cleanup.policy').isDefault], ['compact', 'DYNAMIC_TOPIC_CONFIG', false]);
    assert.deepEqual([entry('retention.ms').value, entry('retention.ms').type], ['12345', 'LONG']);
    assert.equal(entry('retention.ms').synonyms[0]!.source, 'DYNAMIC_TOPIC_CONFIG');
    assert.equal(entry('max.message.bytes').source, 'DEFAULT_CONFIG');
    assert.deepEqual(broker!.configs.map((c) => [c.name, c.value, c.source]).sort(), [
      ['log.dirs', kafka.logDir, 'STATIC_BROKER_CONFIG'],
      ['num.partitions', '1', 'STATIC_BROKER_CONFIG'],
    ]);
    assert.equal(missing!.error?.errorName, 'UNKNOWN_TOPIC_OR_PARTITION');
  });

  test('describeAcls lists the ACLs the authorizer holds', async () => {
    const { response } = await client.sendRequest<{ results: { errorCode: number }[] }>('any', ApiKey.CreateAcls, () => ({
      creations: [
        { resourceType: 2, resourceName: 'mirror-', resourcePatternType: 4, principal: 'User:bob', host: '*', operation: 3, permissionType: 3 },
        { resourceType: 3, resourceName: 'g-bob', resourcePatternType: 3, principal: 'User:bob', host: '10.0.0.1', operation: 8, permissionType: 2 },
      ],
    }));
    assert.deepEqual(response.results.map((r) => r.errorCode), [0, 0]);
    const acls = await until('both ACLs visible', 10_000, async () => {
      const all = await client.describeAcls();
      return all.length === 2 ? all : undefined;
    });
    assert.deepEqual(acls.sort((a, b) => a.resourceType.localeCompare(b.resourceType)), [
      { resourceType: 'GROUP', resourceName: 'g-bob', patternType: 'LITERAL', principal: 'User:bob', host: '10.0.0.1', operation: 'DESCRIBE', permission: 'DENY' },
      { resourceType: 'TOPIC', resourceName: 'mirror-', patternType: 'PREFIXED', principal: 'User:bob', host: '*', operation: 'READ', permission: 'ALLOW' },
    ]);
    assert.deepEqual((await client.describeAcls({ resourceType: 'TOPIC' })).map((a) => a.resourceName), ['mirror-']);
  });

  test('groups: listGroups, describeGroups and offsetFetch after a Java consumer group committed', async () => {
    await javaDone;
    const groups = await client.listGroups();
    const group = groups.find((g) => g.groupId === GROUP);
    assert.deepEqual(group, { groupId: GROUP, protocolType: 'consumer', state: 'Empty', type: 'classic', coordinatorId: 1 });
    assert.deepEqual((await client.listGroups({ states: ['Stable'] })).filter((g) => g.groupId === GROUP), []);
    assert.equal((await client.findCoordinator(GROUP)).nodeId, 1);
    const [described, unknown] = ok(await client.describeGroups([GROUP, 'no-such-group']));
    assert.deepEqual([described!.state, described!.protocolType, described!.members], ['Empty', 'consumer', []]);
    assert.equal(unknown!.state, 'Dead');
    const [all, some, none] = ok(await client.offsetFetch([
      GROUP,
      { groupId: GROUP, topics: [{ topic: JAVA, partitions: [0] }, { topic: DATA, partitions: [0] }] },
      'no-such-group',
    ]));
    assert.deepEqual(all!.offsets.map((o) => [o.topic, o.partition, o.offset, o.error]), [[JAVA, 0, JAVA_MESSAGES, null]]);
    assert.ok(all!.offsets[0]!.leaderEpoch >= 0);
    assert.deepEqual(some!.offsets.map((o) => [o.topic, o.offset]), [[DATA, -1], [JAVA, JAVA_MESSAGES]]);
    assert.deepEqual(none!.offsets, []);
  });

  test('SASL PLAIN and SCRAM-SHA-256/512 authenticate; a wrong password fails at once', async () => {
    for (const mechanism of ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) {
      const sasl = new KafkaClient({ bootstrap: kafka.saslBootstrap, securityProtocol: 'SASL_PLAINTEXT', sasl: { mechanism, username: SASL_USER, password: SASL_PASSWORD } });
      try {
        const m = await sasl.metadata({ topics: [DATA] });
        assert.equal(m.brokers.get(1)!.port, kafka.saslPort, `${mechanism}: brokers are advertised on the SASL listener`);
        const [p] = ok(await sasl.fetch([{ topic: DATA, partition: 0, offset: 0 }]));
        assert.equal(p!.nextOffset, DATA_RECORDS, mechanism);
      } finally {
        await sasl.close();
      }
    }
    const wrong = new KafkaClient({ bootstrap: kafka.saslBootstrap, securityProtocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'SCRAM-SHA-256', username: SASL_USER, password: 'wrong' } });
    try {
      const { ms } = await elapsed(() => assert.rejects(wrong.metadata({ timeoutMs: 10_000 }), (e: KafkaClientError) => {
        assert.equal(e.code, 'STRAIT_LINK_AUTHENTICATION');
        assert.equal(e.errorName, 'SASL_AUTHENTICATION_FAILED');
        assert.equal(e.retriable, false);
        return true;
      }));
      assert.ok(ms < 3000, `not retried until the time limit (${ms} ms)`);
      // A client-wide failure rejects partition operations too, rather than hiding in each partition.
      await assert.rejects(wrong.fetch([{ topic: DATA, partition: 0, offset: 0 }]), (e: KafkaClientError) => e.code === 'STRAIT_LINK_AUTHENTICATION');
    } finally {
      await wrong.close();
    }
  });

  test('TLS (SSL and SASL_SSL) with the broker certificate trusted; an untrusted one fails at once', async () => {
    const cases = [
      { securityProtocol: 'SSL' as const, bootstrap: kafka.sslBootstrap, port: kafka.sslPort },
      { securityProtocol: 'SASL_SSL' as const, bootstrap: kafka.saslSslBootstrap, port: kafka.saslSslPort, sasl: { mechanism: 'SCRAM-SHA-512' as const, username: SASL_USER, password: SASL_PASSWORD } },
    ];
    for (const { port, ...options } of cases) {
      const tls = new KafkaClient({ ...options, tls: { ca: kafka.certificatePem } });
      try {
        const m = await tls.metadata({ topics: [DATA] });
        assert.equal(m.brokers.get(1)!.port, port, options.securityProtocol);
        const [p] = ok(await tls.fetch([{ topic: DATA, partition: 0, offset: 0 }]));
        assert.deepEqual(batchesOf(p!), segmentBatches(kafka.logDir, DATA, 0), options.securityProtocol);
      } finally {
        await tls.close();
      }
    }
    const untrusted = new KafkaClient({ bootstrap: kafka.sslBootstrap, securityProtocol: 'SSL', tls: {} });
    try {
      const { ms } = await elapsed(() => assert.rejects(untrusted.metadata({ timeoutMs: 10_000 }), (e: KafkaClientError) => {
        assert.equal(e.code, 'STRAIT_LINK_AUTHENTICATION');
        assert.equal(e.retriable, false);
        assert.match(e.message, /TLS handshake with bootstrap 127\.0\.0\.1:\d+ failed: self[- ]signed certificate/);
        return true;
      }));
      assert.ok(ms < 3000, `not retried until the time limit (${ms} ms)`);
    } finally {
      await untrusted.close();
    }
  });

  test('the broker stops and restarts on the same port: the client reconnects and resumes', async () => {
    const [before] = ok(await client.fetch([{ topic: DATA, partition: 0, offset: 0 }]));
    const t0 = performance.now();
    await kafka.stop();
    const stoppedMs = performance.now() - t0;
    // While it is down, an operation fails within its own time limit.
    const down = await elapsed(() => client.listOffsets([{ topic: DATA, partition: 0, spec: 'latest' }], { timeoutMs: 1000 }));
    assert.equal(down.value[0]!.error?.code, 'STRAIT_LINK_TIMEOUT');
    assert.ok(down.ms < 1500, `failed after ${down.ms} ms`);
    // One started now completes once the broker is back.
    const resumed = client.fetch([{ topic: DATA, partition: 0, offset: 0 }], { timeoutMs: 60_000 });
    const t1 = performance.now();
    await kafka.start();
    const startedMs = performance.now() - t1;
    const [after] = ok(await resumed);
    const resumedMs = performance.now() - t1;
    assert.deepEqual(batchesOf(after!), batchesOf(before!));
    console.log(`# Kafka stopped in ${Math.round(stoppedMs)} ms, restarted in ${Math.round(startedMs)} ms, fetch resumed ${Math.round(resumedMs)} ms after the restart began`);
    // And writes go on at the next offset.
    const [more] = ok(await client.produce([{ topic: DATA, partition: 0, records: dataBatches()[0]! }]));
    assert.equal(more!.baseOffset, DATA_RECORDS);
  });
});

// ---- Strait -----------------------------------------------------------------------------------------

describe('link client against Strait', () => {
  let strait: StraitHandle;
  let client: KafkaClient;
  const TOPIC = 'link-strait';

  before(async () => {
    strait = await startStrait();
    client = new KafkaClient({ bootstrap: strait.bootstrap, apiTimeoutMs: 15_000 });
    await createTopics(client, [{ name: TOPIC, partitions: 2 }]);
  });

  after(async () => {
    await client?.close();
    await strait?.stop();
  });

  test('negotiation and metadata', async () => {
    const apis = new Map((await client.apiVersions()).map((a) => [a.name, a]));
    assert.equal(apis.get('Fetch')!.version, Math.min(apis.get('Fetch')!.broker!.maxVersion, apis.get('Fetch')!.client!.maxVersion));
    const m = await client.metadata({ topics: [TOPIC] });
    assert.ok(m.clusterId);
    assert.equal(m.brokers.size, 1);
    const topic = m.topics.get(TOPIC)!;
    assert.equal(topic.partitions.length, 2);
    assert.ok(topic.partitions.every((p) => m.brokers.has(p.leaderId) && p.leaderEpoch >= 0));
  });

  test('produce, fetch (whole batches, same CRCs), listOffsets, offsetForLeaderEpoch', async () => {
    const sent = dataBatches();
    assert.deepEqual(await produceAll(client, TOPIC, 0, sent), [0, 5, 8, 15]);
    const [p, middle, beyond] = await client.fetch([
      { topic: TOPIC, partition: 0, offset: 0 },
      { topic: TOPIC, partition: 0, offset: 10 },
      { topic: TOPIC, partition: 0, offset: DATA_RECORDS + 5 },
    ]);
    assert.equal(p!.error, null);
    assert.deepEqual(p!.batches.map((b) => [b.baseOffset, b.lastOffset]), [[0, 4], [5, 7], [8, 14], [15, 19]]);
    // Strait stamps offsets and its leader epoch outside the CRC; everything the CRC covers is the producer's.
    assert.deepEqual(batchesOf(p!).map((b) => batchCrc(b, 0)), sent.map((b) => batchCrc(b, 0)));
    assert.deepEqual(batchesOf(p!).map((b) => b.subarray(17)), sent.map((b) => b.subarray(17)));
    assert.equal(p!.highWatermark, DATA_RECORDS);
    assert.deepEqual(middle!.batches.map((b) => b.baseOffset), [8, 15]);
    assert.equal(beyond!.error?.errorName, 'OFFSET_OUT_OF_RANGE');
    const offsets = ok(await client.listOffsets([
      { topic: TOPIC, partition: 0, spec: 'earliest' },
      { topic: TOPIC, partition: 0, spec: 'latest' },
      { topic: TOPIC, partition: 1, spec: 'latest' },
    ]));
    assert.deepEqual(offsets.map((o) => o.offset), [0, DATA_RECORDS, 0]);
    const epoch = (await client.metadata({ topics: [TOPIC] })).topics.get(TOPIC)!.partitions[0]!.leaderEpoch;
    const [e] = ok(await client.offsetForLeaderEpoch([{ topic: TOPIC, partition: 0, leaderEpoch: epoch }]));
    assert.deepEqual([e!.leaderEpoch, e!.endOffset], [epoch, DATA_RECORDS]);
  });

  test('describeConfigs, committed offsets and groups', async () => {
    const [configs] = await client.describeConfigs([{ type: 'topic', name: TOPIC }]);
    assert.equal(configs!.error, null);
    assert.ok(configs!.configs.some((c) => c.name === 'cleanup.policy' && c.value === 'delete'));
    const coordinator = await client.findCoordinator('strait-group');
    const { response } = await client.sendRequest<{ topics: { partitions: { errorCode: number }[] }[] }>({ nodeId: coordinator.nodeId }, ApiKey.OffsetCommit, () => ({
      groupId: 'strait-group',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 7n, committedMetadata: 'm' }] }],
    }));
    assert.deepEqual(response.topics.flatMap((t) => t.partitions.map((p) => p.errorCode)), [0]);
    const [offsets] = ok(await client.offsetFetch(['strait-group']));
    assert.deepEqual(offsets!.offsets.map((o) => [o.topic, o.partition, o.offset, o.metadata]), [[TOPIC, 0, 7, 'm']]);
    assert.ok((await client.listGroups()).some((g) => g.groupId === 'strait-group'));
    const [group] = ok(await client.describeGroups(['strait-group']));
    assert.equal(group!.state, 'Empty');
  });

  test('an API Strait does not serve fails clearly, or works once it does', async () => {
    const acls = (await client.apiVersions()).find((a) => a.name === 'DescribeAcls')!;
    if (acls.broker === null) {
      await assert.rejects(client.describeAcls(), (e: KafkaClientError) => {
        assert.equal(e.code, 'STRAIT_LINK_UNSUPPORTED_VERSION');
        assert.match(e.message, /does not support DescribeAcls \(API key 29\)/);
        return true;
      });
    } else {
      await client.describeAcls().catch((e: KafkaClientError) => assert.equal(e.errorName, 'SECURITY_DISABLED'));
    }
  });
});
