// EndTxn: commits or aborts the producer's transaction (markers to every partition, then the
// transaction completes). v5 would mean an epoch bump on every transaction (KIP-890 part 2), which
// this broker does not do, so it serves up to v4.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { EndTxnRequest } from '../protocol/generated/end-txn-request.ts';
import type { EndTxnResponse } from '../protocol/generated/end-txn-response.ts';
import type { TransactionCoordinator } from '../coordinator/transactions.ts';
import type { ApiHandler } from './context.ts';

export function endTxnHandler(txns: TransactionCoordinator): ApiHandler<EndTxnRequest, EndTxnResponse> {
  return {
    apiKey: ApiKey.EndTxn,
    minVersion: 0,
    maxVersion: 4,
    async handle(req, ctx) {
      const forwarded = ctx.broker.forwarding && (req.transactionalId) !== null ? await ctx.broker.forwarding.forwardTransactional(ctx.apiKey, ctx.apiVersion, (req.transactionalId)!, req) : null;
      if (forwarded) return forwarded as EndTxnResponse;
      const code = await txns.endTransaction(req.transactionalId, Number(req.producerId), req.producerEpoch, req.committed);
      // PRODUCER_FENCED arrived with v2; older clients know it as INVALID_PRODUCER_EPOCH.
      const errorCode = code === ErrorCode.PRODUCER_FENCED && ctx.apiVersion < 2 ? ErrorCode.INVALID_PRODUCER_EPOCH : code;
      return { throttleTimeMs: 0, errorCode };
    },
  };
}
