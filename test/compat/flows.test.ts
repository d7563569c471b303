// Broker-free checks of the compatibility harness itself: the CLI-output parsers, and that the
// flow assertions and the Kafka/Strait comparison reject wrong answers.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBrokerApiVersions, parseTopicDescribe } from './clients/java-tools.ts';
import { adminFlows, assertAdminFlow, comparableSummary } from './flows.ts';
import type { ClientFlow, FlowSummary } from './flow-summary.ts';
import { freePort, probeApiVersions } from './harness.ts';

const topic = 'compat-t';

function goodSummary(brokerId = 1): FlowSummary {
  return {
    client: 'kafkajs',
    topic,
    clusterId: 'W9ZPg6fyujAma3cP0lDa2w',
    brokers: [brokerId],
    apiVersions: { metadata: true, createTopics: true, deleteTopics: true },
    createdPartitions: 3,
    listedAfterCreate: true,
    hasTopicId: true,
    partitions: [0, 1, 2].map((partition) => ({ partition, leader: brokerId, replicas: [brokerId], isr: [brokerId] })),
    duplicateCreateError: 'TOPIC_ALREADY_EXISTS',
    presentAfterDelete: false,
    deleteMissingError: 'UNKNOWN_TOPIC_OR_PARTITION',
  };
}

function flowNamed(client: string): ClientFlow {
  const flow = adminFlows.find((f) => f.client === client);
  assert.ok(flow !== undefined);
  return flow;
}

describe('TopicCommand and BrokerApiVersionsCommand output parsers', () => {
  test('--describe', () => {
    const stdout = [
      'Topic: t1\tTopicId: vNg5lwHrThSU86WhhCx0pg\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: min.insync.replicas=1',
      '\tTopic: t1\tPartition: 0\tLeader: 1\tReplicas: 1\tIsr: 1\tElr: \tLastKnownElr: ',
      '\tTopic: t1\tPartition: 1\tLeader: none\tReplicas: 2,1\tIsr: \tElr: \tLastKnownElr: ',
      '',
    ].join('\n');
    assert.deepEqual(parseTopicDescribe(stdout), {
      topicId: 'vNg5lwHrThSU86WhhCx0pg',
      partitionCount: 3,
      partitions: [
        { partition: 0, leader: 1, replicas: [1], isr: [1] },
        { partition: 1, leader: -1, replicas: [1, 2], isr: [] },
      ],
    });
  });

  test('BrokerApiVersionsCommand', () => {
    const stdout = [
      '127.0.0.1:41509 (id: 7 rack: null isFenced: false) -> (',
      '\tProduce(0): 0 to 13 [usable: 13],',
      '\tMetadata(3): 0 to 13 [usable: 13],',
      '\tCreateTopics(19): 2 to 7 [usable: 7],',
      '\tPushTelemetry(72): UNSUPPORTED,',
      '\tDescribeTopicPartitions(75): 0 [usable: 0]',
      ')',
    ].join('\n');
    const parsed = parseBrokerApiVersions(stdout);
    assert.deepEqual(parsed.brokers, [7]);
    assert.equal(parsed.apis.get(3), true);
    assert.equal(parsed.apis.get(19), true);
    assert.equal(parsed.apis.get(20), undefined);
    assert.equal(parsed.apis.get(72), false);
    assert.equal(parsed.apis.get(75), true);
  });
});

describe('flow assertions reject wrong answers', () => {
  const kafkajs = flowNamed('kafkajs');

  test('a correct summary passes', () => {
    assertAdminFlow(kafkajs, goodSummary(), topic, 3);
  });

  const wrong: Array<[string, (s: FlowSummary) => void]> = [
    ['a partition without a leader', (s) => (s.partitions[1]!.leader = -1)],
    ['a partition led by another broker', (s) => (s.partitions[2]!.leader = 2)],
    ['two partitions instead of three', (s) => s.partitions.pop()],
    ['an empty ISR', (s) => (s.partitions[0]!.isr = [])],
    ['topic not listed after create', (s) => (s.listedAfterCreate = false)],
    ['topic still there after delete', (s) => (s.presentAfterDelete = true)],
    ['no error for a duplicate create', (s) => (s.duplicateCreateError = null)],
    ['the wrong error for deleting a missing topic', (s) => (s.deleteMissingError = 'INVALID_TOPIC_EXCEPTION')],
    ['CreateTopics missing from ApiVersions', (s) => (s.apiVersions = { metadata: true, createTopics: false, deleteTopics: true })],
    ['a zero topic id', (s) => (s.hasTopicId = false)],
    ['no brokers', (s) => (s.brokers = [])],
  ];
  for (const [name, spoil] of wrong) {
    test(name, () => {
      const summary = goodSummary();
      spoil(summary);
      assert.throws(() => assertAdminFlow(kafkajs, summary, topic, 3), assert.AssertionError);
    });
  }

  test('kcat, which sends no admin requests, must leave the error fields empty', () => {
    const summary = goodSummary();
    summary.client = 'kcat';
    assert.throws(() => assertAdminFlow(flowNamed('kcat'), summary, topic, 3), assert.AssertionError);
    summary.duplicateCreateError = null;
    summary.deleteMissingError = null;
    assertAdminFlow(flowNamed('kcat'), summary, topic, 3);
  });
});

describe('Kafka/Strait comparison', () => {
  test('ignores the cluster id and broker ids', () => {
    const strait = goodSummary(0);
    strait.clusterId = 'another-cluster-id';
    assert.deepEqual(comparableSummary(strait), comparableSummary(goodSummary(1)));
  });

  test('still sees a leader that is not the broker, and a missing cluster id', () => {
    const strait = goodSummary(0);
    strait.partitions[0]!.leader = 5;
    assert.notDeepEqual(comparableSummary(strait), comparableSummary(goodSummary(1)));
    const noCluster = goodSummary(1);
    noCluster.clusterId = '';
    assert.notDeepEqual(comparableSummary(noCluster), comparableSummary(goodSummary(1)));
  });
});

describe('readiness probe', () => {
  test('a port nobody listens on is not ready', async () => {
    assert.equal(await probeApiVersions(await freePort(), 1000), false);
  });
});
