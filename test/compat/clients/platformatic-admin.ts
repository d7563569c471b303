// Admin flow with @platformatic/kafka: create, list, describe, delete a topic.
import { Admin } from '@platformatic/kafka';
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

// Kafka API keys (the protocol's numbering).
const apiKeyMetadata = 3;
const apiKeyCreateTopics = 19;
const apiKeyDeleteTopics = 20;
const nilTopicId = '00000000-0000-0000-0000-000000000000';

/**
 * The Kafka error name inside a @platformatic/kafka error: protocol errors carry it as `apiId`,
 * possibly nested in a MultipleErrors/ResponseError's `errors`.
 */
export function platformaticErrorName(error: unknown): string {
  const found = findApiId(error, 0);
  if (found !== undefined) return found;
  return error instanceof Error ? error.message : String(error);
}

function findApiId(error: unknown, depth: number): string | undefined {
  if (typeof error !== 'object' || error === null || depth > 5) return undefined;
  const typed = error as { apiId?: unknown; errors?: unknown; cause?: unknown };
  if (typeof typed.apiId === 'string') return typed.apiId;
  if (Array.isArray(typed.errors)) {
    for (const inner of typed.errors) {
      const found = findApiId(inner, depth + 1);
      if (found !== undefined) return found;
    }
  }
  return findApiId(typed.cause, depth + 1);
}

async function run(options: FlowOptions): Promise<FlowSummary> {
  const { bootstrap, topic, partitions, timeoutMs } = options;
  const summary = emptySummary('@platformatic/kafka', topic);
  const admin = new Admin({ clientId: 'strait-compat', bootstrapBrokers: [bootstrap], retries: 2, retryDelay: 100 });
  try {
    const apis = await admin.listApis();
    const offered = new Set(apis.map((api) => api.apiKey));
    summary.apiVersions = {
      metadata: offered.has(apiKeyMetadata),
      createTopics: offered.has(apiKeyCreateTopics),
      deleteTopics: offered.has(apiKeyDeleteTopics),
    };

    const created = await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
    summary.createdPartitions = created.find((t) => t.name === topic)?.partitions ?? null;

    const described = await pollFor(
      async () => {
        const metadata = await admin.metadata({ topics: [topic], forceUpdate: true }).catch(() => undefined);
        const found = metadata?.topics.get(topic);
        if (metadata === undefined || found === undefined) return undefined;
        const parts: PartitionSummary[] = found.partitions.map((p, index) =>
          partitionSummary(index, p.leader, p.replicas, p.isr),
        );
        return allLed(parts, partitions) ? { metadata, found, parts } : undefined;
      },
      timeoutMs,
      'leaders for every partition',
    );
    summary.clusterId = described.metadata.id;
    summary.brokers = [...described.metadata.brokers.keys()];
    summary.hasTopicId = described.found.id !== '' && described.found.id !== nilTopicId;
    summary.partitions = described.parts;
    summary.listedAfterCreate = (await admin.listTopics()).includes(topic);

    try {
      await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
    } catch (error) {
      summary.duplicateCreateError = platformaticErrorName(error);
    }
    await admin.deleteTopics({ topics: [topic] });
    summary.presentAfterDelete = await stillPresentAfter(async () => (await admin.listTopics()).includes(topic), timeoutMs);
    try {
      await admin.deleteTopics({ topics: [topic] });
    } catch (error) {
      summary.deleteMissingError = platformaticErrorName(error);
    }
  } finally {
    await admin.close();
  }
  return finishSummary(summary);
}

export const platformaticFlow: ClientFlow = { client: '@platformatic/kafka', sendsAdminRequests: true, run };
