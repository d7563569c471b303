// Records through the data path, in every real client: each producer (Java KafkaProducer, kcat,
// confluent-kafka, kafka-python, kafkajs, @platformatic/kafka, franz-go) writes its own topic with
// every compression codec it can use (none, gzip, snappy, lz4, zstd), headers (repeated, empty and
// null values), null keys and null values, empty keys and values, explicit timestamps, and one record
// near 1 MiB (the topic's max.message.bytes and the producers' request limits raised for it). Then
// every consumer (Java KafkaConsumer.assign, kcat, confluent-kafka, kafka-python,
// @platformatic/kafka's Consumer.fetch, franz-go ConsumePartitions; none joins a group, since
// Strait has no groups yet, and kafkajs is left out because its consumer always joins one) reads
// every topic back, and each record must match exactly: partition, offset, key, value, headers,
// and the timestamp where the producer set one. A 120-partition topic written by franz-go is read
// the same way.
//
// Against Strait by default (with a small tail cache and a short upload interval, so most reads
// come from object storage), or against Apache Kafka 4.3.1 with STRAIT_TEST_TARGET=kafka.
// Needs scripts/install-test-deps.sh.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startApacheKafka, startStrait, testTarget, uniqueTopic, withBrokerDiagnostics, type BrokerHandle } from './harness.ts';
import { consumers, franzProducer, producers, type ClientContext, type ProducerDriver } from './datapath/clients.ts';
import {
  assertContiguousOffsets,
  assignmentsFor,
  b64,
  bigTopicMaxMessageBytes,
  codecs,
  comparableLines,
  expectedRecords,
  recordSet,
  type ExpectedRecord,
  type SpecRecord,
} from './datapath/records.ts';

const target = testTarget();
const partitions = 3;
const widePartitions = 120;
const clientTimeoutMs = 45_000;
// Strait keeps little in memory and uploads often, so consumers read mostly from objects.
const straitArgs = ['--upload-interval-ms', '200', '--tail-cache-bytes-max', String(512 * 1024)];

interface Written {
  producer: string;
  topic: string;
  partitions: number;
  expected: ExpectedRecord[];
}

describe(`every client's records read back by every other client (${target})`, () => {
  let broker: BrokerHandle | undefined;
  let workDir = '';
  const started = Date.now();
  const topics = new Map<string, string>(producers.map((p) => [p.client, uniqueTopic(`data-${p.client.replace(/[^a-z0-9]+/gi, '-')}`)]));
  const wideTopic = uniqueTopic('data-wide');
  const written: Written[] = [];
  // producer → consumers that read all of its records correctly.
  const verifiedBy = new Map<string, string[]>();

  const ctx = (): ClientContext => {
    assert.ok(broker !== undefined, 'the broker did not start');
    return { bootstrap: broker.bootstrap, workDir, timeoutMs: clientTimeoutMs };
  };

  before(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'strait-data-'));
    broker = target === 'kafka' ? await startApacheKafka() : await startStrait({ args: straitArgs });
    const kafka = new Kafka({ clientId: 'strait-data-setup', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const configEntries = [{ name: 'max.message.bytes', value: String(bigTopicMaxMessageBytes) }];
      const created = await admin.createTopics({
        waitForLeaders: true,
        topics: [
          ...[...topics.values()].map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1, configEntries })),
          { topic: wideTopic, numPartitions: widePartitions, replicationFactor: 1, configEntries },
        ],
      });
      assert.equal(created, true, 'the topics were new');
    } finally {
      await admin.disconnect();
    }
  }, { timeout: 120_000 });

  after(async () => {
    await broker?.stop();
    if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
  });

  const produce = async (producer: ProducerDriver, spec: SpecRecord[], topic: string, topicPartitions: number): Promise<void> => {
    const running = broker!;
    const results = await withBrokerDiagnostics(running, () => producer.produce(ctx(), spec));
    const expected = expectedRecords(spec, results);
    assertContiguousOffsets(expected);
    written.push({ producer: producer.client, topic, partitions: topicPartitions, expected });
  };

  for (const [index, producer] of producers.entries()) {
    test(`${producer.client} produces ${producer.caps.codecs.join(', ')}`, { timeout: clientTimeoutMs * 2 }, async () => {
      const topic = topics.get(producer.client)!;
      // The near-1 MiB record goes with a different codec for each producer, so every codec carries
      // one, and is just under 1 MiB for half the producers and just over it for the others.
      const bigCodec = producer.caps.codecs[index % producer.caps.codecs.length]!;
      const bigSize = index % 2 === 0 ? 'under' : 'over';
      const spec = recordSet({ topic, partitions, caps: producer.caps, seed: 1000 + index, bigCodec, bigSize, baseTimestamp: started - 3_600_000 });
      await produce(producer, spec, topic, partitions);
    });
  }

  test(`franz-go produces to ${widePartitions} partitions`, { timeout: clientTimeoutMs * 2 }, async () => {
    const spec: SpecRecord[] = [];
    for (let partition = 0; partition < widePartitions; partition++) {
      for (let n = 0; n < 2; n++) {
        spec.push({
          topic: wideTopic,
          partition,
          key: n === 0 ? b64(`p${partition}`) : null,
          value: b64(`record ${n} of partition ${partition}`),
          headers: [['partition', b64(String(partition))]],
          timestamp: started - 60_000 + partition * 10 + n,
          compression: codecs[partition % codecs.length]!,
        });
      }
    }
    await produce(franzProducer, spec, wideTopic, widePartitions);
  });

  for (const consumer of consumers) {
    test(`${consumer.client} reads every producer's records`, { timeout: clientTimeoutMs * 2 }, async (t) => {
      assert.ok(written.length > 0, 'no producer succeeded');
      const assignments = written.flatMap((w) => assignmentsFor(w.expected, new Map([[w.topic, w.partitions]])));
      const running = broker!;
      const consumed = await withBrokerDiagnostics(running, () => consumer.consume(ctx(), assignments));
      const window = { fromMs: started - 1000, toMs: Date.now() + 1000 };
      const failures: string[] = [];
      for (const w of written) {
        const lines = comparableLines(w.expected, consumed.filter((c) => c.topic === w.topic), consumer, window);
        try {
          assert.deepEqual(lines.consumed, lines.expected);
          verifiedBy.set(w.producer, [...(verifiedBy.get(w.producer) ?? []), consumer.client]);
        } catch (error) {
          failures.push(`${w.producer}'s records (${w.topic}): ${(error as Error).message}`);
        }
      }
      t.diagnostic(`${consumed.length} records read`);
      assert.deepEqual(failures, [], `${consumer.client} read some records differently`);
    });
  }

  test('each producer was read back exactly by at least two consumers', () => {
    const producersWritten = new Set(written.map((w) => w.producer));
    assert.deepEqual([...producersWritten].sort(), [...new Set([...producers.map((p) => p.client), franzProducer.client])].sort(), 'every producer wrote its records');
    for (const producer of producersWritten) {
      const readers = new Set(verifiedBy.get(producer) ?? []);
      assert.ok(readers.size >= 2, `${producer}'s records were read back exactly by ${[...readers].join(', ') || 'no consumer'}`);
    }
  });
});
