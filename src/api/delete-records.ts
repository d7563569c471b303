// DeleteRecords: moves a partition's log start offset forward; data below it is no longer served
// and objects holding only such data are deleted in the background.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { DeleteRecordsRequest } from '../protocol/generated/delete-records-request.ts';
import type { DeleteRecordsResponse } from '../protocol/generated/delete-records-response.ts';
import { isInternalTopic } from '../cluster/topics.ts';
import type { ApiHandler } from './context.ts';

export const deleteRecordsHandler: ApiHandler<DeleteRecordsRequest, DeleteRecordsResponse> = {
  apiKey: ApiKey.DeleteRecords,
  minVersion: 0,
  maxVersion: 2,
  async handle(req, ctx) {
    const topics = [];
    for (const t of req.topics) {
      const topic = ctx.broker.catalog.byName(t.name);
      const partitions = [];
      for (const p of t.partitions) {
        const answer = (errorCode: number, lowWatermark = -1) => ({ partitionIndex: p.partitionIndex, errorCode, lowWatermark: BigInt(lowWatermark) });
        const log = topic ? ctx.broker.logs.get(topic.topicId, p.partitionIndex) : undefined;
        if (!log) {
          partitions.push(answer(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
          continue;
        }
        // Another broker leads it now (this one was taken over): its log start is that one's to move.
        if (log.ledBy !== null) {
          partitions.push(answer(ErrorCode.NOT_LEADER_OR_FOLLOWER));
          continue;
        }
        // As Kafka refuses it ("Cannot delete records of internal topic"); a mirror's log start
        // offset follows its source's.
        if (isInternalTopic(t.name)) {
          partitions.push(answer(ErrorCode.INVALID_TOPIC_EXCEPTION));
          continue;
        }
        if (log.mirrorOf !== null) {
          partitions.push(answer(ErrorCode.POLICY_VIOLATION));
          continue;
        }
        // -1 means "up to the high watermark".
        const offset = p.offset === -1n ? log.highWatermark : Number(p.offset);
        if (offset < 0 || offset > log.highWatermark) {
          partitions.push(answer(ErrorCode.OFFSET_OUT_OF_RANGE));
          continue;
        }
        partitions.push(answer(ErrorCode.NONE, await ctx.broker.logs.advanceLogStartOffset(log, offset)));
      }
      topics.push({ name: t.name, partitions });
    }
    return { throttleTimeMs: 0, topics };
  },
};
