// CreatePartitions: grows topics; new partitions start empty at offset 0.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { CreatePartitionsRequest } from '../protocol/generated/create-partitions-request.ts';
import type { CreatePartitionsResponse } from '../protocol/generated/create-partitions-response.ts';
import { internalTopicRefusal, isInternalTopic } from '../cluster/topics.ts';
import type { ApiHandler } from './context.ts';

export const createPartitionsHandler: ApiHandler<CreatePartitionsRequest, CreatePartitionsResponse> = {
  apiKey: ApiKey.CreatePartitions,
  minVersion: 0,
  maxVersion: 3,
  async handle(req, ctx) {
    const counts = new Map<string, number>();
    for (const t of req.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
    const brokers = new Set((await ctx.broker.store.brokers()).map((b) => b.nodeId));
    const results = [];
    for (const t of req.topics) {
      const answer = (errorCode: number, errorMessage: string | null = null) => ({ name: t.name, errorCode, errorMessage });
      if (counts.get(t.name)! > 1) {
        results.push(answer(ErrorCode.INVALID_REQUEST, 'Duplicate topic in the request.'));
        continue;
      }
      const topic = ctx.broker.catalog.byName(t.name);
      if (!topic) {
        results.push(answer(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${t.name}' does not exist.`));
        continue;
      }
      if (isInternalTopic(topic.name)) {
        const refused = internalTopicRefusal(topic.name, 'add partitions to');
        results.push(answer(refused.errorCode, refused.message));
        continue;
      }
      const mirror = ctx.broker.logs.mirrorReason(topic.topicId);
      if (mirror) {
        results.push(answer(ErrorCode.POLICY_VIOLATION, mirror));
        continue;
      }
      if (t.assignments !== null) {
        const added = t.count - topic.partitionCount;
        const bad =
          t.assignments.length !== added
            ? `Increasing the number of partitions by ${added} but ${t.assignments.length} assignments provided.`
            : t.assignments.flatMap((a) => a.brokerIds).find((id) => !brokers.has(id)) !== undefined
              ? 'The manual partition assignment includes a broker that is not registered.'
              : null;
        if (bad) {
          results.push(answer(ErrorCode.INVALID_REPLICA_ASSIGNMENT, bad));
          continue;
        }
      }
      const problem = await ctx.broker.topics.addPartitions(topic, t.count, req.validateOnly);
      results.push(problem ? answer(problem.errorCode, problem.message) : answer(ErrorCode.NONE));
    }
    return { throttleTimeMs: 0, results };
  },
};
