// DescribeProducers: the idempotent and transactional producers a partition's log knows (its durable
// producer state): epoch, last sequence and timestamp, and where an open transaction starts. Tools
// use it to find hanging transactions (kafka-transactions.sh find-hanging).
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { DescribeProducersRequest } from '../protocol/generated/describe-producers-request.ts';
import type { DescribeProducersResponse } from '../protocol/generated/describe-producers-response.ts';
import type { ApiHandler } from './context.ts';

export const describeProducersHandler: ApiHandler<DescribeProducersRequest, DescribeProducersResponse> = {
  apiKey: ApiKey.DescribeProducers,
  minVersion: 0,
  maxVersion: 0,
  handle(req, ctx) {
    const topics = req.topics.map((t) => {
      const topic = ctx.broker.catalog.byName(t.name);
      const partitions = t.partitionIndexes.map((partitionIndex) => {
        const log = topic ? ctx.broker.logs.get(topic.topicId, partitionIndex) : undefined;
        if (!log) return { partitionIndex, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: null, activeProducers: [] };
        const activeProducers = [...log.durableProducers.producers.values()].map((p) => ({
          producerId: BigInt(p.producerId),
          producerEpoch: p.epoch,
          lastSequence: p.batches.length > 0 ? p.batches[p.batches.length - 1]!.lastSeq : -1,
          lastTimestamp: BigInt(p.lastTimestamp),
          // The log's producer state does not keep the coordinator epoch of the last marker.
          coordinatorEpoch: -1,
          currentTxnStartOffset: BigInt(p.txnFirstOffset),
        }));
        return { partitionIndex, errorCode: ErrorCode.NONE, errorMessage: null, activeProducers };
      });
      return { name: t.name, partitions };
    });
    return { throttleTimeMs: 0, topics };
  },
};
