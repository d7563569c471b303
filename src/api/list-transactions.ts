// ListTransactions: transactional ids known to the coordinator, filtered by state, producer id and
// (v1) how long the transaction has been running.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { ListTransactionsRequest } from '../protocol/generated/list-transactions-request.ts';
import type { ListTransactionsResponse } from '../protocol/generated/list-transactions-response.ts';
import type { TransactionCoordinator } from '../coordinator/transactions.ts';
import type { ApiHandler } from './context.ts';

export function listTransactionsHandler(txns: TransactionCoordinator): ApiHandler<ListTransactionsRequest, ListTransactionsResponse> {
  return {
    apiKey: ApiKey.ListTransactions,
    minVersion: 0,
    maxVersion: 1,
    handle(req) {
      const r = txns.list({ states: req.stateFilters, producerIds: req.producerIdFilters.map(Number), durationMs: Number(req.durationFilter) });
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        unknownStateFilters: r.unknownStates,
        transactionStates: r.transactions.map((t) => ({ transactionalId: t.transactionalId, producerId: BigInt(t.producerId), transactionState: t.state })),
      };
    },
  };
}
