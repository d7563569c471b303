// DescribeTopicPartitions (KIP-966): like Metadata's topic part, paged by a partition limit and a
// cursor so that topics with many partitions can be described in pieces.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { Input } from '../protocol/primitives.ts';
import type { DescribeTopicPartitionsRequest } from '../protocol/generated/describe-topic-partitions-request.ts';
import type { DescribeTopicPartitionsResponse, DescribeTopicPartitionsResponseTopic } from '../protocol/generated/describe-topic-partitions-response.ts';
import { isInternalTopic, validateTopicName } from '../cluster/topics.ts';
import type { ApiHandler } from './context.ts';
import { TOPIC_OPERATIONS } from './acl-operations.ts';
import { partitionView } from './topic-view.ts';

export const describeTopicPartitionsHandler: ApiHandler<DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse> = {
  apiKey: ApiKey.DescribeTopicPartitions,
  minVersion: 0,
  maxVersion: 0,
  async handle(req, ctx) {
    const store = ctx.broker.store;
    const all = req.topics.length === 0;
    const names = all ? ctx.broker.catalog.all().map((t) => t.name) : [...new Set(req.topics.map((t) => t.name))].sort();
    const cursor = req.cursor;
    let budget = Math.max(1, req.responsePartitionLimit);
    const topics: Input<DescribeTopicPartitionsResponseTopic>[] = [];
    let nextCursor: { topicName: string; partitionIndex: number } | null = null;
    for (const name of names) {
      if (cursor && name < cursor.topicName) continue;
      if (validateTopicName(name) !== null) {
        topics.push({ errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, name, partitions: [] });
        continue;
      }
      const topic = ctx.broker.catalog.byName(name);
      if (!topic) {
        topics.push({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, partitions: [] });
        continue;
      }
      const first = cursor && name === cursor.topicName ? cursor.partitionIndex : 0;
      const parts = ctx.broker.logs.partitionRecords(topic.topicId, ctx.broker.nodeId).filter((p) => p.partitionIndex >= first);
      const taken = parts.slice(0, budget);
      budget -= taken.length;
      topics.push({
        errorCode: ErrorCode.NONE,
        name,
        topicId: topic.topicId,
        isInternal: isInternalTopic(name),
        partitions: taken.map((p) => ({ ...partitionView(p), eligibleLeaderReplicas: [], lastKnownElr: [] })),
        topicAuthorizedOperations: TOPIC_OPERATIONS,
      });
      if (taken.length < parts.length) {
        nextCursor = { topicName: name, partitionIndex: parts[taken.length]!.partitionIndex };
        break;
      }
      if (budget === 0) {
        const rest = names.slice(names.indexOf(name) + 1);
        if (rest.length > 0) nextCursor = { topicName: rest[0]!, partitionIndex: 0 };
        break;
      }
    }
    return { throttleTimeMs: 0, topics, nextCursor };
  },
};
