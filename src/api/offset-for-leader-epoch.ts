// OffsetForLeaderEpoch: where a leader epoch ends, which consumers use to detect log truncation
// (KIP-320) and followers to find where they diverge (KIP-101, KIP-279). Answered from the
// partition's leader-epoch history as Kafka's leader does (Partition.lastOffsetForLeaderEpoch and
// LeaderEpochFileCache.endOffsetFor): the largest epoch at or below the requested one and the start
// of the next larger epoch, or the log end for the latest epoch. Strait's log end for this purpose
// is the high watermark: offsets past it are not durable and may still be given to other batches.
//
// replica_id only decides, in Kafka, which permission is checked (CLUSTER_ACTION for a follower,
// DESCRIBE on the topic for a consumer); both get the same answer, so it is not used here.
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
            if (log.ledBy !== null) return answer(ErrorCode.NOT_LEADER_OR_FOLLOWER);
            // current_leader_epoch -1: the client does not know it, nothing to check.
            if (p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch !== log.leaderEpoch) {
              return answer(p.currentLeaderEpoch < log.leaderEpoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH);
            }
            const found = log.endOffsetForEpoch(p.leaderEpoch);
            return answer(ErrorCode.NONE, found.epoch, found.endOffset);
          }),
        };
      }),
    };
  },
};
