// CreateTopics: validates each topic on its own (one bad topic does not fail the others), honours
// validateOnly, and from v5 on returns the partition count, replication factor and full configs.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { Input } from '../protocol/primitives.ts';
import type { CreateTopicsRequest } from '../protocol/generated/create-topics-request.ts';
import type { CreateTopicsResponse, CreatableTopicResult } from '../protocol/generated/create-topics-response.ts';
import { effectiveTopicConfigs } from '../config/topic-configs.ts';
import type { ApiHandler } from './context.ts';

// Kafka's DescribeConfigs source codes.
const SOURCE_DYNAMIC_TOPIC = 1;
const SOURCE_DEFAULT = 5;

export const createTopicsHandler: ApiHandler<CreateTopicsRequest, CreateTopicsResponse> = {
  apiKey: ApiKey.CreateTopics,
  minVersion: 0,
  maxVersion: 7,
  async handle(req, ctx) {
    const counts = new Map<string, number>();
    for (const t of req.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
    const results: Input<CreatableTopicResult>[] = [];
    for (const t of req.topics) {
      if (counts.get(t.name)! > 1) {
        results.push({ name: t.name, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Duplicate topic name in the request.' });
        continue;
      }
      const r = await ctx.broker.topics.create(
        {
          name: t.name,
          numPartitions: t.numPartitions,
          replicationFactor: t.replicationFactor,
          assignments: t.assignments.map((a) => ({ partitionIndex: a.partitionIndex, brokerIds: a.brokerIds })),
          configs: t.configs.map((c) => ({ name: c.name, value: c.value })),
        },
        req.validateOnly,
      );
      if (r.errorCode !== ErrorCode.NONE || !r.topic) {
        results.push({ name: t.name, errorCode: r.errorCode, errorMessage: r.errorMessage });
        continue;
      }
      const topic = r.topic;
      results.push({
        name: topic.name,
        topicId: topic.topicId,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        numPartitions: topic.partitionCount,
        replicationFactor: topic.replicationFactor,
        configs: effectiveTopicConfigs(topic.configs).map((c) => ({
          name: c.name,
          value: c.sensitive ? null : c.value,
          readOnly: false,
          configSource: c.isDefault ? SOURCE_DEFAULT : SOURCE_DYNAMIC_TOPIC,
          isSensitive: c.sensitive,
        })),
      });
    }
    return { throttleTimeMs: 0, topics: results };
  },
};
