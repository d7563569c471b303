// DescribeTransactions: the coordinator's view of transactional ids: state, producer id and epoch,
// timeout, start time and the partitions in the transaction (groups appear as the __consumer_offsets
// partition Kafka would use for them).
import { ApiKey } from '../protocol/generated/api-table.ts';
import type { DescribeTransactionsRequest } from '../protocol/generated/describe-transactions-request.ts';
import type { DescribeTransactionsResponse } from '../protocol/generated/describe-transactions-response.ts';
import type { TransactionCoordinator } from '../coordinator/transactions.ts';
import type { ApiHandler } from './context.ts';

export function describeTransactionsHandler(txns: TransactionCoordinator): ApiHandler<DescribeTransactionsRequest, DescribeTransactionsResponse> {
  return {
    apiKey: ApiKey.DescribeTransactions,
    minVersion: 0,
    maxVersion: 0,
    handle(req) {
      const transactionStates = req.transactionalIds.map((id) => {
        const d = txns.describe(id);
        const topics = new Map<string, number[]>();
        for (const p of d.partitions) {
          let list = topics.get(p.topic);
          if (!list) topics.set(p.topic, (list = []));
          list.push(p.partition);
        }
        return {
          errorCode: d.errorCode,
          transactionalId: id,
          transactionState: d.state,
          transactionTimeoutMs: d.timeoutMs,
          transactionStartTimeMs: BigInt(d.startTimestampMs),
          producerId: BigInt(d.producerId),
          producerEpoch: d.producerEpoch,
          topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
        };
      });
      return { throttleTimeMs: 0, transactionStates };
    },
  };
}
