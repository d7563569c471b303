// Produce: each partition's records go to its log as bytes; the answer comes once they are durable
// in the WAL (acks=1 and acks=-1 both mean durable; acks=0 gets no answer at all). Transactional
// batches of a request naming a transactional id are appended only to partitions already in the
// producer's ongoing transaction (KIP-890 part 1), checked with the coordinator in the same turn of
// the event loop as the append, so no EndTxn can slip between check and append.
//
// Every batch is looked at, not only the first: a transactional batch that no coordinator checked
// would open a transaction nobody closes, pinning the last stable offset for good. As Kafka does, a
// request without a transactional id whose partition starts with a transactional batch fails whole
// with TRANSACTIONAL_ID_AUTHORIZATION_FAILED (KafkaApis.handleProduceRequest), and a partition whose
// records hold a transactional batch and any other batch fails with INVALID_RECORD (Kafka refuses
// every second batch of a partition from produce v3, ProduceRequest.validateRecords; Strait keeps
// taking several plain batches, which open no transaction).
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { Input } from '../protocol/primitives.ts';
import type { ProduceRequest } from '../protocol/generated/produce-request.ts';
import type { ProduceResponse, TopicProduceResponse, PartitionProduceResponse } from '../protocol/generated/produce-response.ts';
import { CloseConnection } from '../network/connection.ts';
import { ATTR_TRANSACTIONAL, RECORD_BATCH_OVERHEAD, batchAttributes, batchProducerEpoch, batchProducerId, batchSizeAt } from '../protocol/records/index.ts';
import type { TransactionCoordinator } from '../coordinator/transactions.ts';
import { isInternalTopic } from '../cluster/topics.ts';
import type { PartitionLog } from '../log/partition-log.ts';
import type { ApiHandler, RequestContext } from './context.ts';

type PartitionAnswer = Input<PartitionProduceResponse>;

const partitionError = (index: number, errorCode: number, errorMessage: string | null = null): PartitionAnswer => ({
  index,
  errorCode,
  baseOffset: -1n,
  logAppendTimeMs: -1n,
  logStartOffset: -1n,
  errorMessage,
});

export function produceHandler(txns: TransactionCoordinator): ApiHandler<ProduceRequest, ProduceResponse> {
  return {
    apiKey: ApiKey.Produce,
    minVersion: 3,
    maxVersion: 11,
    async handle(req, ctx) {
      const validAcks = req.acks === 0 || req.acks === 1 || req.acks === -1;
      if (req.transactionalId === null && req.topicData.some((td) => td.partitionData.some((pd) => firstBatchTransactional(pd.records)))) {
        if (req.acks === 0) throw new CloseConnection('transactional records without a transactional id');
        return wholeRequestError(req, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 'Transactional Id authorization failed.');
      }
      const now = Date.now();
      const topics: Input<TopicProduceResponse>[] = [];
      const pending: Promise<unknown>[] = [];
      let anyError = false;
      for (const td of req.topicData) {
        const answers: PartitionAnswer[] = [];
        topics.push({ name: td.name, partitionResponses: answers });
        const topic = ctx.broker.catalog.byName(td.name);
        for (const pd of td.partitionData) {
          const slot = answers.length;
          answers.push(partitionError(pd.index, ErrorCode.NONE));
          const log = topic ? ctx.broker.logs.get(topic.topicId, pd.index) : undefined;
          let early: PartitionAnswer | null = null;
          if (!validAcks) early = partitionError(pd.index, ErrorCode.INVALID_REQUIRED_ACKS);
          else if (!log) early = partitionError(pd.index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
          else if (isInternalTopic(td.name)) early = partitionError(pd.index, ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot append to internal topic ${td.name}`);
          else if (pd.records === null) early = partitionError(pd.index, ErrorCode.INVALID_RECORD, 'Produce request has null records');
          else if (isMixed(transactionalLayout(pd.records))) early = partitionError(pd.index, oldClientCode(ErrorCode.INVALID_RECORD, ctx), 'A transactional record batch must be the only record batch of its partition in a produce request');
          else if (req.transactionalId !== null) early = transactionalRefusal(txns, req.transactionalId, td.name, pd.index, pd.records, log, ctx);
          if (early || !log) {
            answers[slot] = early!;
            anyError = true;
            continue;
          }
          // A mirror with write forwarding: the source answers (its leader checks transactions too);
          // a write held by a promotion that completed is appended here instead.
          const forwarder = log.mirrorOf !== null ? log.forwarder : null;
          const write = forwarder
            ? forwarder.forward(pd.records!, { acks: req.acks, timeoutMs: req.timeoutMs, transactionalId: req.transactionalId }).then((r) => {
                if (r) return r;
                const refused = req.transactionalId === null ? null : verifyTransactional(txns, req.transactionalId, td.name, pd.index, pd.records!, ctx.apiVersion);
                return refused ? { errorCode: refused.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: refused.errorMessage ?? null, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [] } : log.append(pd.records!, now);
              })
            : log.append(pd.records!, now);
          pending.push(
            write.then((r) => {
              if (r.errorCode !== ErrorCode.NONE) anyError = true;
              answers[slot] = {
                index: pd.index,
                errorCode: oldClientCode(r.errorCode, ctx),
                baseOffset: BigInt(r.baseOffset),
                logAppendTimeMs: BigInt(r.logAppendTimeMs),
                logStartOffset: BigInt(r.logStartOffset),
                recordErrors: r.recordErrors.map((e) => ({ batchIndex: e.batchIndex, batchIndexErrorMessage: e.message })),
                errorMessage: r.errorMessage,
              };
            }),
          );
        }
      }
      await Promise.all(pending);
      if (req.acks === 0) {
        // Kafka closes the connection of an acks=0 producer whose write failed, so it notices.
        if (anyError) throw new CloseConnection('acks=0 produce failed');
        return null;
      }
      return { responses: topics, throttleTimeMs: 0 };
    },
  };
}

/** Whether a partition's records start with a transactional batch (the header alone tells). */
const firstBatchTransactional = (records: Buffer | null): boolean =>
  records !== null && records.length >= RECORD_BATCH_OVERHEAD && (batchAttributes(records, 0) & ATTR_TRANSACTIONAL) !== 0;

/**
 * How a partition's records carry transactional batches: whether any is one, and how many batches
 * there are. Broken framing is left for the log to refuse (it answers CORRUPT_MESSAGE /
 * INVALID_RECORD); a broken rest counts as one more batch.
 */
function transactionalLayout(records: Buffer | null): { any: boolean; batches: number } {
  const layout = { any: false, batches: 0 };
  if (records === null) return layout;
  for (let pos = 0; pos + RECORD_BATCH_OVERHEAD <= records.length; layout.batches++) {
    layout.any ||= (batchAttributes(records, pos) & ATTR_TRANSACTIONAL) !== 0;
    try {
      pos += batchSizeAt(records, pos);
    } catch {
      layout.batches++;
      break;
    }
  }
  return layout;
}

/**
 * Where a request of a transactional id may write: a mirror only through write forwarding and only
 * for an id the link's source coordinates (the source then checks the transaction); any other
 * transactional write to a mirror is refused as a mirror refuses every local write (its markers
 * could never be written). A forwarded id may not write to Strait's own topics until promotion.
 * Elsewhere the coordinator checks the batch. Null when the write may go on.
 */
function transactionalRefusal(txns: TransactionCoordinator, transactionalId: string, topic: string, index: number, records: Buffer, log: PartitionLog, ctx: RequestContext): PartitionAnswer | null {
  const forwarded = ctx.broker.forwarding?.forwardsTransactionalId(transactionalId) ?? false;
  if (log.mirrorOf !== null) {
    if (forwarded && log.forwarder) return null;
    return partitionError(index, ErrorCode.POLICY_VIOLATION, `${log.mirrorOf} Transactional id ${transactionalId} is not coordinated by the link's source, so its transactions cannot write here.`);
  }
  if (forwarded) return partitionError(index, ErrorCode.INVALID_TXN_STATE, `Transactional id ${transactionalId} is coordinated by a link's source cluster; it can write only to mirror topics until they are promoted`);
  return verifyTransactional(txns, transactionalId, topic, index, records, ctx.apiVersion);
}

/** A transactional batch sharing its partition's records with another batch. */
const isMixed = (l: { any: boolean; batches: number }) => l.any && l.batches > 1;

/** Every partition of the request fails with one error, as Kafka's ProduceRequest.getErrorResponse answers. */
function wholeRequestError(req: ProduceRequest, errorCode: number, errorMessage: string): Input<ProduceResponse> {
  return {
    responses: req.topicData.map((td) => ({ name: td.name, partitionResponses: td.partitionData.map((pd) => partitionError(pd.index, errorCode, errorMessage)) })),
    throttleTimeMs: 0,
  };
}

/**
 * The coordinator's check of a transactional batch, translated as Kafka's ReplicaManager does for
 * producers: a fenced epoch is INVALID_PRODUCER_EPOCH, a transaction being completed is a retriable
 * NOT_ENOUGH_REPLICAS, a partition not in the transaction TRANSACTION_ABORTABLE (INVALID_TXN_STATE
 * before v11). Null when the batch may be appended.
 */
function verifyTransactional(txns: TransactionCoordinator, transactionalId: string, topic: string, index: number, records: Buffer, version: number): PartitionAnswer | null {
  // Malformed batches are the log's to refuse; a transactional batch is the only one of its
  // partition here (transactionalLayout), so the first batch's producer is the one to check.
  if (records.length < RECORD_BATCH_OVERHEAD || !(batchAttributes(records, 0) & ATTR_TRANSACTIONAL) || batchProducerId(records, 0) < 0) return null;
  const code = txns.checkProduce(transactionalId, batchProducerId(records, 0), batchProducerEpoch(records, 0), topic, index);
  switch (code) {
    case ErrorCode.NONE:
      return null;
    case ErrorCode.PRODUCER_FENCED:
      return partitionError(index, ErrorCode.INVALID_PRODUCER_EPOCH, 'Producer epoch is fenced by a newer producer of the transactional id');
    case ErrorCode.CONCURRENT_TRANSACTIONS:
      return partitionError(index, ErrorCode.NOT_ENOUGH_REPLICAS, 'Unable to verify the partition has been added to the transaction. Underlying error: CONCURRENT_TRANSACTIONS');
    case ErrorCode.TRANSACTION_ABORTABLE:
      return partitionError(index, version >= 11 ? ErrorCode.TRANSACTION_ABORTABLE : ErrorCode.INVALID_TXN_STATE, 'Partition was not added to the transaction');
    default:
      return partitionError(index, code);
  }
}

/** INVALID_RECORD (87) arrived with produce v8; older clients know it as CORRUPT_MESSAGE. */
function oldClientCode(code: number, ctx: RequestContext): number {
  return code === ErrorCode.INVALID_RECORD && ctx.apiVersion < 8 ? ErrorCode.CORRUPT_MESSAGE : code;
}
