// AddPartitionsToTxn: v0-v3 come from transactional producers and add partitions to their ongoing
// transaction (starting one); v4+ come from brokers, batch several transactional ids, and with
// verifyOnly only check that partitions are already in the transaction (KIP-890 part 1).
//
// A mirror topic's partitions are refused with POLICY_VIOLATION, the error Produce gives a mirror:
// its offsets are the source's, so a transaction of this coordinator can neither write there nor
// end with a marker there (issue #11). Kafka's producer takes a partition error it has no special
// case for as abortable ("Could not add partitions to transaction due to errors"), so the
// application aborts and goes on; a retriable code would retry for as long as the topic is a mirror.
// Transactional ids forwarded to the link's source never get here for v0-v3: the source decides.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { AddPartitionsToTxnRequest, AddPartitionsToTxnTransaction } from '../protocol/generated/add-partitions-to-txn-request.ts';
import type { AddPartitionsToTxnResponse, AddPartitionsToTxnTopicResult } from '../protocol/generated/add-partitions-to-txn-response.ts';
import type { Input } from '../protocol/primitives.ts';
import type { TransactionCoordinator, TxnPartition } from '../coordinator/transactions.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export function addPartitionsToTxnHandler(txns: TransactionCoordinator): ApiHandler<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse> {
  return {
    apiKey: ApiKey.AddPartitionsToTxn,
    minVersion: 0,
    maxVersion: 5,
    async handle(req, ctx) {
      if (ctx.apiVersion < 4) {
        const txnId = req.v3AndBelowTransactionalId;
        const forwarded = ctx.broker.forwarding ? await ctx.broker.forwarding.forwardTransactional(ctx.apiKey, ctx.apiVersion, txnId, req) : null;
        if (forwarded) return forwarded as AddPartitionsToTxnResponse;
        const one = { transactionalId: req.v3AndBelowTransactionalId, producerId: req.v3AndBelowProducerId, producerEpoch: req.v3AndBelowProducerEpoch, verifyOnly: false, topics: req.v3AndBelowTopics };
        return { throttleTimeMs: 0, resultsByTopicV3AndBelow: await handleTransaction(txns, one, ctx) };
      }
      const resultsByTransaction = await Promise.all(req.transactions.map(async (t) => ({ transactionalId: t.transactionalId, topicResults: await handleTransaction(txns, t, ctx) })));
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction };
    },
  };
}

async function handleTransaction(txns: TransactionCoordinator, t: AddPartitionsToTxnTransaction, ctx: RequestContext): Promise<Input<AddPartitionsToTxnTopicResult>[]> {
  const partitions: TxnPartition[] = t.topics.flatMap((topic) => topic.partitions.map((partition) => ({ topic: topic.name, partition })));
  const exists = (p: TxnPartition) => {
    const topic = ctx.broker.catalog.byName(p.topic);
    return topic !== undefined && p.partition >= 0 && p.partition < topic.partitionCount;
  };
  const mirrored = (p: TxnPartition) => {
    const topic = ctx.broker.catalog.byName(p.topic)!;
    // The topic's flag too: a partition the source just added may not be attached to the link yet.
    return (ctx.broker.logs.get(topic.topicId, p.partition)?.mirrorOf ?? ctx.broker.logs.mirrorReason(topic.topicId)) !== null;
  };
  let codes: number[];
  if (!partitions.every(exists)) {
    // One unknown partition fails the whole request; the others are reported as not attempted.
    codes = partitions.map((p) => (exists(p) ? ErrorCode.OPERATION_NOT_ATTEMPTED : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
  } else if (!t.verifyOnly && partitions.some(mirrored)) {
    codes = partitions.map((p) => (mirrored(p) ? ErrorCode.POLICY_VIOLATION : ErrorCode.OPERATION_NOT_ATTEMPTED));
  } else {
    const producerId = Number(t.producerId);
    const r = t.verifyOnly ? txns.verifyPartitions(t.transactionalId, producerId, t.producerEpoch, partitions) : await txns.addToTransaction(t.transactionalId, producerId, t.producerEpoch, partitions);
    codes = typeof r === 'number' ? partitions.map(() => r) : r;
  }
  return groupByTopic(partitions, codes.map((c) => versionedCode(c, ctx.apiVersion)));
}

/** Error codes the request version's clients know: PRODUCER_FENCED from v2, TRANSACTION_ABORTABLE from v5. */
function versionedCode(code: number, version: number): number {
  if (code === ErrorCode.PRODUCER_FENCED && version < 2) return ErrorCode.INVALID_PRODUCER_EPOCH;
  if (code === ErrorCode.TRANSACTION_ABORTABLE && version < 5) return ErrorCode.INVALID_TXN_STATE;
  return code;
}

function groupByTopic(partitions: TxnPartition[], codes: number[]): Input<AddPartitionsToTxnTopicResult>[] {
  const byTopic = new Map<string, { partitionIndex: number; partitionErrorCode: number }[]>();
  partitions.forEach((p, i) => {
    let list = byTopic.get(p.topic);
    if (!list) byTopic.set(p.topic, (list = []));
    list.push({ partitionIndex: p.partition, partitionErrorCode: codes[i]! });
  });
  return [...byTopic].map(([name, resultsByPartition]) => ({ name, resultsByPartition }));
}
