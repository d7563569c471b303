// OffsetForLeaderEpoch: the end offset of a leader epoch, which consumers and followers use to
// detect log truncation. Strait's partitions keep one epoch until leadership moves.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { OffsetForLeaderEpochRequest } from '../protocol/generated/offset-for-leader-epoch-request.ts';
import type { OffsetForLeaderEpochResponse } from '../protocol/generated/offset-for-leader-epoch-response.ts';
import type { ApiHandler } from './context.ts';

export const offsetForLeaderEpochHandler: ApiHandler<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse> = {
  apiKey: ApiKey.OffsetForLeaderEpoch,
  minVersion: 2,
  maxVersion: 4,
  handle(req, ctx) {
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => {
        const topic = ctx.broker.catalog.byName(t.topic);
        return {
          topic: t.topic,
          partitions: t.partitions.map((p) => {
            const answer = (errorCode: number, leaderEpoch = -1, endOffset = -1) => ({ errorCode, partition: p.partition, leaderEpoch, endOffset: BigInt(endOffset) });
            const log = topic ? ctx.broker.logs.get(topic.topicId, p.partition) : undefined;
            if (!log) return answer(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
            if (p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch !== log.leaderEpoch) {
              return answer(p.currentLeaderEpoch < log.leaderEpoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH);
            }
            // An epoch newer than ours is unknown here; ours and older ones end at the log end.
            if (p.leaderEpoch > log.leaderEpoch) return answer(ErrorCode.NONE);
            return answer(ErrorCode.NONE, log.leaderEpoch, log.highWatermark);
          }),
        };
      }),
    };
  },
};
