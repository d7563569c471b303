// Produce raw record batches to partition leaders (for write forwarding and reverse links). Batches
// go out as the caller built them: an idempotent or transactional batch keeps its producer id,
// epoch and sequence, so a retry after a lost answer is deduplicated by the leader. A batch
// without a producer id may be written twice when an answer is lost, as with any Kafka producer
// that retries without idempotence.
import { ApiKey } from '../../protocol/generated/api-table.ts';
import { ErrorCode } from '../../protocol/generated/errors.ts';
import type { ProduceResponse } from '../../protocol/generated/produce-response.ts';
import type { BrokerConnection } from './connection.ts';
import type { CallOptions, ClientCore, Limits } from './core.ts';
import { KafkaClientError, invalidArgument, kafkaError } from './errors.ts';
import { toNumber } from './int64.ts';
import { groupByTopic } from './offsets.ts';
import { Failed, partitionFailure, runOnLeaders } from './route.ts';
import type { Routed, TopicPartition } from './route.ts';

export interface ProducePartitionRequest extends TopicPartition {
  /** One or more whole v2 record batches. */
  records: Buffer;
}

export interface ProduceOptions extends CallOptions {
  /** -1 (all in-sync replicas, the default) or 1 (the leader). acks=0 is not offered: nothing would confirm the write. */
  acks?: -1 | 1;
  transactionalId?: string | null;
  /** How long the leader may wait for replication (default: the request timeout). */
  replicationTimeoutMs?: number;
}

export interface ProducedPartition extends TopicPartition {
  error: KafkaClientError | null;
  baseOffset: number;
  /** -1 unless the topic uses LogAppendTime. */
  logAppendTimeMs: number;
  logStartOffset: number;
  recordErrors: { batchIndex: number; message: string | null }[];
}

export async function produce(core: ClientCore, requests: readonly ProducePartitionRequest[], options: ProduceOptions = {}): Promise<ProducedPartition[]> {
  const acks = options.acks ?? -1;
  if (acks !== -1 && acks !== 1) throw invalidArgument(`acks must be -1 or 1, not ${String(acks)}`);
  const limits = core.limits(options);
  const outcomes = await runOnLeaders(core, requests, limits, (conn, items, l) => produceToLeader(core, conn, items, l, options, acks));
  return outcomes.map((o, i) => {
    const r = requests[i]!;
    return o instanceof KafkaClientError ? { topic: r.topic, partition: r.partition, error: o, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [] } : o;
  });
}

async function produceToLeader(
  core: ClientCore,
  conn: BrokerConnection,
  items: Routed<ProducePartitionRequest>[],
  limits: Limits,
  options: ProduceOptions,
  acks: number,
): Promise<(ProducedPartition | Failed)[]> {
  const timeoutMs = options.replicationTimeoutMs ?? core.requestTimeoutMs(limits);
  const { response } = await conn.request<ProduceResponse>(
    ApiKey.Produce,
    () => ({
      transactionalId: options.transactionalId ?? null,
      acks,
      timeoutMs,
      topicData: groupByTopic(items).map((parts) => ({
        name: parts[0]!.topic.name,
        partitionData: parts.map((x) => ({ index: x.input.partition, records: x.input.records })),
      })),
    }),
    core.requestTimeoutMs(limits, options.replicationTimeoutMs ?? 0),
    // v3 is the first that carries v2 record batches (KIP-98).
    { versionMin: 3 },
  );
  const answers = new Map(response.responses.flatMap((t) => t.partitionResponses.map((p) => [`${t.name}\u0000${p.index}`, p] as const)));
  return items.map((x) => {
    const name = `${x.topic.name}-${x.input.partition}`;
    const p = answers.get(`${x.topic.name}\u0000${x.input.partition}`);
    if (!p) return new Failed(kafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `Produce response from ${conn.label} lacks partition ${name}`));
    const recordErrors = p.recordErrors.map((e) => ({ batchIndex: e.batchIndex, message: e.batchIndexErrorMessage }));
    if (p.errorCode !== ErrorCode.NONE) {
      // Record errors (KIP-467) say which batch the leader refused and why; keep them in the message.
      const details = [p.errorMessage, ...recordErrors.map((e) => `batch ${e.batchIndex}: ${e.message ?? 'refused'}`)].filter((m) => m);
      return partitionFailure(p.errorCode, name, false, details.length > 0 ? details.join('; ') : null);
    }
    return {
      topic: x.topic.name,
      partition: x.input.partition,
      error: null,
      baseOffset: toNumber(p.baseOffset, 'baseOffset'),
      logAppendTimeMs: toNumber(p.logAppendTimeMs, 'logAppendTimeMs'),
      logStartOffset: toNumber(p.logStartOffset, 'logStartOffset'),
      recordErrors,
    };
  });
}
