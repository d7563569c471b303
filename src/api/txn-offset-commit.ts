// TxnOffsetCommit: offsets a transactional producer commits for a consumer group (the consume-
// transform-produce loop). They wait with the transaction and become the group's committed offsets
// only if it commits; OffsetFetch does not see them before.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { TxnOffsetCommitRequest } from '../protocol/generated/txn-offset-commit-request.ts';
import type { TxnOffsetCommitResponse } from '../protocol/generated/txn-offset-commit-response.ts';
import type { TransactionCoordinator } from '../coordinator/transactions.ts';
import type { ApiHandler } from './context.ts';

/** Kafka's default offset.metadata.max.bytes, when the broker configuration has none. */
const OFFSET_METADATA_BYTES_MAX_DEFAULT = 4096;

export function txnOffsetCommitHandler(txns: TransactionCoordinator): ApiHandler<TxnOffsetCommitRequest, TxnOffsetCommitResponse> {
  return {
    apiKey: ApiKey.TxnOffsetCommit,
    minVersion: 0,
    maxVersion: 4,
    async handle(req, ctx) {
      const forwarded = ctx.broker.forwarding && (req.transactionalId) !== null ? await ctx.broker.forwarding.forwardTransactional(ctx.apiKey, ctx.apiVersion, (req.transactionalId)!, req) : null;
      if (forwarded) return forwarded as TxnOffsetCommitResponse;
      const metadataBytesMax = Number(ctx.broker.config.values['offset.metadata.max.bytes'] ?? OFFSET_METADATA_BYTES_MAX_DEFAULT);
      const answers: { topic: string; partition: number; code: number | null }[] = [];
      const offsets: { topic: string; partition: number; offset: number; leaderEpoch: number; metadata: string | null }[] = [];
      for (const t of req.topics) {
        const topic = ctx.broker.catalog.byName(t.name);
        for (const p of t.partitions) {
          let code: number | null = null;
          if (!topic || p.partitionIndex < 0 || p.partitionIndex >= topic.partitionCount) code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          else if (p.committedMetadata !== null && Buffer.byteLength(p.committedMetadata) > metadataBytesMax) code = ErrorCode.OFFSET_METADATA_TOO_LARGE;
          else offsets.push({ topic: t.name, partition: p.partitionIndex, offset: Number(p.committedOffset), leaderEpoch: p.committedLeaderEpoch, metadata: p.committedMetadata });
          answers.push({ topic: t.name, partition: p.partitionIndex, code });
        }
      }
      let code: number = ErrorCode.NONE;
      if (offsets.length > 0) {
        code = await txns.commitOffsets({
          transactionalId: req.transactionalId,
          groupId: req.groupId,
          producerId: Number(req.producerId),
          producerEpoch: req.producerEpoch,
          generationId: req.generationId,
          memberId: req.memberId,
          groupInstanceId: req.groupInstanceId,
          offsets,
        });
        // TRANSACTION_ABORTABLE arrived with v4 (KIP-890); older clients get INVALID_TXN_STATE.
        if (code === ErrorCode.TRANSACTION_ABORTABLE && ctx.apiVersion < 4) code = ErrorCode.INVALID_TXN_STATE;
      }
      const topics = new Map<string, { partitionIndex: number; errorCode: number }[]>();
      for (const a of answers) {
        let list = topics.get(a.topic);
        if (!list) topics.set(a.topic, (list = []));
        list.push({ partitionIndex: a.partition, errorCode: a.code ?? code });
      }
      return { throttleTimeMs: 0, topics: [...topics].map(([name, partitions]) => ({ name, partitions })) };
    },
  };
}
