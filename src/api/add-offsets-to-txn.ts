// AddOffsetsToTxn: adds a consumer group to the producer's transaction, so that offsets it commits
// for the group with TxnOffsetCommit take effect exactly when the transaction commits.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { AddOffsetsToTxnRequest } from '../protocol/generated/add-offsets-to-txn-request.ts';
import type { AddOffsetsToTxnResponse } from '../protocol/generated/add-offsets-to-txn-response.ts';
import type { TransactionCoordinator } from '../coordinator/transactions.ts';
import type { ApiHandler } from './context.ts';

export function addOffsetsToTxnHandler(txns: TransactionCoordinator): ApiHandler<AddOffsetsToTxnRequest, AddOffsetsToTxnResponse> {
  return {
    apiKey: ApiKey.AddOffsetsToTxn,
    minVersion: 0,
    maxVersion: 4,
    async handle(req, ctx) {
      const forwarded = ctx.broker.forwarding && (req.transactionalId) !== null ? await ctx.broker.forwarding.forwardTransactional(ctx.apiKey, ctx.apiVersion, (req.transactionalId)!, req) : null;
      if (forwarded) return forwarded as AddOffsetsToTxnResponse;
      const code = await txns.addToTransaction(req.transactionalId, Number(req.producerId), req.producerEpoch, [], [req.groupId]);
      // PRODUCER_FENCED arrived with v2; older clients know it as INVALID_PRODUCER_EPOCH.
      const errorCode = code === ErrorCode.PRODUCER_FENCED && ctx.apiVersion < 2 ? ErrorCode.INVALID_PRODUCER_EPOCH : code;
      return { throttleTimeMs: 0, errorCode };
    },
  };
}
