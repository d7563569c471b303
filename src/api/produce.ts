// Produce: each partition's records go to its log as bytes; the answer comes once they are durable
// in the WAL (acks=1 and acks=-1 both mean durable; acks=0 gets no answer at all).
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { Input } from '../protocol/primitives.ts';
import type { ProduceRequest } from '../protocol/generated/produce-request.ts';
import type { ProduceResponse, TopicProduceResponse, PartitionProduceResponse } from '../protocol/generated/produce-response.ts';
import { CloseConnection } from '../network/connection.ts';
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

export const produceHandler: ApiHandler<ProduceRequest, ProduceResponse> = {
  apiKey: ApiKey.Produce,
  minVersion: 3,
  maxVersion: 11,
  async handle(req, ctx) {
    const validAcks = req.acks === 0 || req.acks === 1 || req.acks === -1;
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
        else if (req.transactionalId !== null) {
          early = partitionError(pd.index, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 'Transactions are not supported yet');
        } else if (pd.records === null) early = partitionError(pd.index, ErrorCode.INVALID_RECORD, 'Produce request has null records');
        if (early || !log) {
          answers[slot] = early!;
          anyError = true;
          continue;
        }
        pending.push(
          log.append(pd.records!, now).then((r) => {
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

/** INVALID_RECORD (87) arrived with produce v8; older clients know it as CORRUPT_MESSAGE. */
function oldClientCode(code: number, ctx: RequestContext): number {
  return code === ErrorCode.INVALID_RECORD && ctx.apiVersion < 8 ? ErrorCode.CORRUPT_MESSAGE : code;
}
