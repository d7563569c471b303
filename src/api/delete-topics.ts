// DeleteTopics: by name (all versions) or by topic id (v6+), each topic answered on its own.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import { ZERO_UUID } from '../protocol/primitives.ts';
import type { Input } from '../protocol/primitives.ts';
import type { DeleteTopicsRequest } from '../protocol/generated/delete-topics-request.ts';
import type { DeleteTopicsResponse, DeletableTopicResult } from '../protocol/generated/delete-topics-response.ts';
import { internalTopicRefusal, isInternalTopic } from '../cluster/topics.ts';
import type { ApiHandler } from './context.ts';

export const deleteTopicsHandler: ApiHandler<DeleteTopicsRequest, DeleteTopicsResponse> = {
  apiKey: ApiKey.DeleteTopics,
  minVersion: 0,
  maxVersion: 6,
  async handle(req, ctx) {
    const wanted = ctx.apiVersion >= 6 ? req.topics : req.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
    const responses: Input<DeletableTopicResult>[] = [];
    for (const w of wanted) {
      if (w.name !== null && w.topicId !== ZERO_UUID) {
        responses.push({ name: w.name, topicId: w.topicId, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Give a topic name or a topic id, not both.' });
        continue;
      }
      const topic = w.name !== null ? ctx.broker.catalog.byName(w.name) : ctx.broker.catalog.byId(w.topicId);
      if (!topic) {
        const byId = w.name === null;
        responses.push({
          name: w.name,
          topicId: w.topicId,
          errorCode: byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          errorMessage: byId ? `Topic id ${w.topicId} does not exist.` : 'This server does not host this topic-partition.',
        });
        continue;
      }
      if (isInternalTopic(topic.name)) {
        // Kafka 4.3 would delete it (kafka-topics refuses on the client's side); here it holds
        // nothing to delete and would come back with the next FindCoordinator.
        const refused = internalTopicRefusal(topic.name, 'delete');
        responses.push({ name: topic.name, topicId: topic.topicId, errorCode: refused.errorCode, errorMessage: refused.message });
        continue;
      }
      await ctx.broker.topics.delete(topic);
      responses.push({ name: topic.name, topicId: topic.topicId, errorCode: ErrorCode.NONE, errorMessage: null });
    }
    return { throttleTimeMs: 0, responses };
  },
};
