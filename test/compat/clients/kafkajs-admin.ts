// Admin flow with kafkajs: create, list, describe, delete a topic.
import { Kafka, logLevel } from 'kafkajs';
import type { Admin } from 'kafkajs';
import {
  allLed,
  emptySummary,
  finishSummary,
  partitionSummary,
  pollFor,
  stillPresentAfter,
  type ClientFlow,
  type FlowOptions,
  type FlowSummary,
  type PartitionSummary,
} from '../flow-summary.ts';

export function kafkajsAdmin(bootstrap: string): Admin {
  // Few retries: a broker that answers wrongly should fail the flow quickly, not after minutes.
  const kafka = new Kafka({
    clientId: 'strait-compat',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 2, initialRetryTime: 100 },
  });
  return kafka.admin();
}

/** The Kafka error name of a kafkajs error (KafkaJSProtocolError.type), else its message. */
export function kafkajsErrorName(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    // A retried failure (KafkaJSNumberOfRetriesExceeded) carries the broker's error as its cause.
    const typed = error as { type?: unknown; message?: unknown; cause?: unknown };
    if (typeof typed.type === 'string') return typed.type;
    if (typed.cause !== undefined) return kafkajsErrorName(typed.cause);
    if (typeof typed.message === 'string') return typed.message;
  }
  return String(error);
}

export async function describeWithKafkajs(admin: Admin, topic: string): Promise<PartitionSummary[]> {
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
  const found = topics.find((t) => t.name === topic);
  if (found === undefined) return [];
  return found.partitions.map((p) => partitionSummary(p.partitionId, p.leader, p.replicas, p.isr));
}

async function run(options: FlowOptions): Promise<FlowSummary> {
  const { bootstrap, topic, partitions, timeoutMs } = options;
  const summary = emptySummary('kafkajs', topic);
  const admin = kafkajsAdmin(bootstrap);
  // connect() sends ApiVersions and fails if the versions cannot be negotiated.
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    summary.clusterId = cluster.clusterId;
    summary.brokers = cluster.brokers.map((b) => b.nodeId);

    const spec = { topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }] };
    if (!(await admin.createTopics(spec))) throw new Error(`kafkajs says topic ${topic} already existed`);
    summary.createdPartitions = partitions;
    summary.partitions = await pollFor(
      async () => {
        const described = await describeWithKafkajs(admin, topic).catch(() => []);
        return allLed(described, partitions) ? described : undefined;
      },
      timeoutMs,
      'leaders for every partition',
    );
    summary.listedAfterCreate = (await admin.listTopics()).includes(topic);

    // kafkajs resolves createTopics to false, instead of failing, when the broker answers
    // TOPIC_ALREADY_EXISTS; any other answer throws.
    try {
      summary.duplicateCreateError = (await admin.createTopics(spec)) ? null : 'TOPIC_ALREADY_EXISTS';
    } catch (error) {
      summary.duplicateCreateError = kafkajsErrorName(error);
    }

    await admin.deleteTopics({ topics: [topic], timeout: timeoutMs });
    summary.presentAfterDelete = await stillPresentAfter(async () => (await admin.listTopics()).includes(topic), timeoutMs);
    try {
      await admin.deleteTopics({ topics: [topic], timeout: timeoutMs });
    } catch (error) {
      summary.deleteMissingError = kafkajsErrorName(error);
    }
  } finally {
    await admin.disconnect();
  }
  return finishSummary(summary);
}

export const kafkajsFlow: ClientFlow = { client: 'kafkajs', sendsAdminRequests: true, run };
