// ListOffsets: earliest (-2), latest (-1), max timestamp (-3), earliest local (-4), latest tiered
// (-5), or the first record at or after a timestamp.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { Input } from '../protocol/primitives.ts';
import type { ListOffsetsRequest } from '../protocol/generated/list-offsets-request.ts';
import type { ListOffsetsResponse, ListOffsetsPartitionResponse } from '../protocol/generated/list-offsets-response.ts';
import type { ApiHandler } from './context.ts';

const LATEST = -1n;
const EARLIEST = -2n;
const MAX_TIMESTAMP = -3n;
const EARLIEST_LOCAL = -4n;
const LATEST_TIERED = -5n;

export const listOffsetsHandler: ApiHandler<ListOffsetsRequest, ListOffsetsResponse> = {
  apiKey: ApiKey.ListOffsets,
  minVersion: 1,
  maxVersion: 9,
  async handle(req, ctx) {
    const topics = [];
    for (const t of req.topics) {
      const topic = ctx.broker.catalog.byName(t.name);
      const partitions: Input<ListOffsetsPartitionResponse>[] = [];
      for (const p of t.partitions) {
        const answer = (errorCode: number, offset = -1, timestamp = -1, leaderEpoch = -1) => ({
          partitionIndex: p.partitionIndex,
          errorCode,
          timestamp: BigInt(timestamp),
          offset: BigInt(offset),
          leaderEpoch: ctx.apiVersion >= 4 ? leaderEpoch : -1, // the field exists from v4 on
        });
        const log = topic ? ctx.broker.logs.get(topic.topicId, p.partitionIndex) : undefined;
        if (!log) {
          partitions.push(answer(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
          continue;
        }
        if (log.ledBy !== null) {
          partitions.push(answer(ErrorCode.NOT_LEADER_OR_FOLLOWER));
          continue;
        }
        if (p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch !== log.leaderEpoch) {
          partitions.push(answer(p.currentLeaderEpoch < log.leaderEpoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH));
          continue;
        }
        const ts = p.timestamp;
        // read_committed consumers see the end of the log as the last stable offset.
        if (ts === LATEST) partitions.push(answer(ErrorCode.NONE, req.isolationLevel === 1 ? log.lastStableOffset : log.highWatermark, -1, log.leaderEpoch));
        else if (ts === EARLIEST || ts === EARLIEST_LOCAL) partitions.push(answer(ErrorCode.NONE, log.logStartOffset, -1, log.leaderEpoch));
        else if (ts === LATEST_TIERED) partitions.push(answer(ErrorCode.NONE, -1, -1, -1));
        else if (ts === MAX_TIMESTAMP || ts >= 0n) {
          try {
            const found = await log.findByTimestamp(ts === MAX_TIMESTAMP ? 'max' : Number(ts));
            partitions.push(found ? answer(ErrorCode.NONE, found.offset, found.timestamp, found.leaderEpoch) : answer(ErrorCode.NONE, -1, -1, -1));
          } catch (err) {
            // Object storage could not be read: a retriable error for this partition only.
            partitions.push(answer((err as { kafkaError?: number }).kafkaError ?? ErrorCode.KAFKA_STORAGE_ERROR));
          }
        } else partitions.push(answer(ErrorCode.INVALID_REQUEST));
      }
      topics.push({ name: t.name, partitions });
    }
    return { throttleTimeMs: 0, topics };
  },
};
