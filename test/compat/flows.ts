// Every real client's admin flow (connect, negotiate versions, create a 3-partition topic, list,
// describe, delete, confirm it is gone), each returning the same normalised FlowSummary.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { javaToolsFlow } from './clients/java-tools.ts';
import { kafkajsFlow } from './clients/kafkajs-admin.ts';
import { kcatFlow } from './clients/kcat.ts';
import { platformaticFlow } from './clients/platformatic-admin.ts';
import type { ClientFlow, FlowOptions, FlowSummary } from './flow-summary.ts';
import { lastJsonLine, repoRoot, runFranz, runPython } from './harness.ts';

const clientsDir = join(repoRoot, 'test', 'compat', 'clients');

function flowArgs(options: FlowOptions): string[] {
  return ['--bootstrap', options.bootstrap, '--topic', options.topic, '--partitions', String(options.partitions)];
}

/** A flow implemented by a Python script in clients/ that prints the summary as JSON. */
function pythonFlow(client: string, script: string): ClientFlow {
  return {
    client,
    sendsAdminRequests: true,
    async run(options) {
      const args = [...flowArgs(options), '--timeout', String(options.timeoutMs / 1000)];
      const result = await runPython(join(clientsDir, script), args, { timeoutMs: options.timeoutMs * 3 });
      if (result.code !== 0) throw new Error(`${script} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
      return lastJsonLine(result, script) as FlowSummary;
    },
  };
}

const franzFlow: ClientFlow = {
  client: 'franz-go',
  sendsAdminRequests: true,
  async run(options) {
    const args = [
      '-bootstrap', options.bootstrap,
      '-topic', options.topic,
      '-partitions', String(options.partitions),
      '-timeout', `${options.timeoutMs * 2}ms`,
      'admin-flow',
    ];
    const result = await runFranz(args, { timeoutMs: options.timeoutMs * 3 });
    if (result.code !== 0) throw new Error(`franz-client exited ${result.code}\n${result.stdout}\n${result.stderr}`);
    return lastJsonLine(result, 'franz-client') as FlowSummary;
  },
};

export const adminFlows: ClientFlow[] = [
  javaToolsFlow,
  kcatFlow,
  pythonFlow('confluent-kafka', 'confluent_admin.py'),
  pythonFlow('kafka-python', 'kafka_python_admin.py'),
  kafkajsFlow,
  platformaticFlow,
  franzFlow,
];

/**
 * The summary with what legitimately differs between two clusters taken out: the cluster id
 * (kept only as whether there is one) and broker ids (replaced by their rank among the brokers).
 */
export function comparableSummary(summary: FlowSummary): Record<string, unknown> {
  const rank = (id: number): string => {
    const index = summary.brokers.indexOf(id);
    return index >= 0 ? `broker#${index}` : `unknown-broker:${id}`;
  };
  return {
    ...summary,
    topic: undefined,
    clusterId: summary.clusterId === null ? null : summary.clusterId.length > 0,
    brokers: summary.brokers.map(rank),
    partitions: summary.partitions.map((p) => ({
      partition: p.partition,
      leader: rank(p.leader),
      replicas: p.replicas.map(rank),
      isr: p.isr.map(rank),
    })),
  };
}

/**
 * Checks one flow's summary against what a correct single-broker cluster answers. Throws an
 * AssertionError naming the first difference.
 */
export function assertAdminFlow(flow: ClientFlow, summary: FlowSummary, topic: string, partitions: number): void {
  assert.equal(summary.client, flow.client);
  assert.equal(summary.topic, topic);
  assert.equal(summary.brokers.length, 1, `one broker expected, got ${JSON.stringify(summary.brokers)}`);
  const brokerId = summary.brokers[0];
  assert.ok(brokerId !== undefined && brokerId >= 0, `broker id ${brokerId} is not a valid node id`);
  if (summary.clusterId !== null) assert.match(summary.clusterId, /^\S{1,64}$/, 'cluster id');
  if (summary.apiVersions !== null) {
    assert.deepEqual(summary.apiVersions, { metadata: true, createTopics: true, deleteTopics: true }, 'ApiVersions offers the admin APIs');
  }
  assert.equal(summary.createdPartitions, partitions, 'CreateTopics partition count');
  assert.equal(summary.listedAfterCreate, true, 'topic listed after create');
  if (summary.hasTopicId !== null) assert.equal(summary.hasTopicId, true, 'describe returns a topic id');
  const expected = Array.from({ length: partitions }, (_, partition) => ({
    partition,
    leader: brokerId,
    replicas: [brokerId],
    isr: [brokerId],
  }));
  assert.deepEqual(summary.partitions, expected, 'every partition led by the broker, which is its only replica and in-sync');
  assert.equal(summary.presentAfterDelete, false, 'topic gone after delete');
  if (flow.sendsAdminRequests) {
    assert.equal(summary.duplicateCreateError, 'TOPIC_ALREADY_EXISTS', 'creating an existing topic');
    assert.equal(summary.deleteMissingError, 'UNKNOWN_TOPIC_OR_PARTITION', 'deleting a missing topic');
  } else {
    assert.equal(summary.duplicateCreateError, null);
    assert.equal(summary.deleteMissingError, null);
  }
}
