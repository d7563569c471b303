// Sends partition-level operations to each partition's leader, one request per leader, and retries
// the partitions that failed with a retriable error (after a metadata refresh when the error says
// leadership moved) until they succeed, the retries run out or the deadline comes. Each partition
// ends with its own result or its own error: one bad partition never fails the others.
import { ErrorCode } from '../../protocol/generated/errors.ts';
import type { BrokerConnection } from './connection.ts';
import type { ClientCore, Limits } from './core.ts';
import { KafkaClientError, asClientError, isClientWide, kafkaError, needsMetadataRefresh } from './errors.ts';
import type { ClusterMetadata, PartitionInfo, TopicInfo } from './metadata.ts';

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface Routed<In> {
  input: In;
  topic: TopicInfo;
  partition: PartitionInfo;
}

/** A partition's failure as a sender reports it; `retry` false ends the partition with this error. */
export class Failed {
  readonly error: KafkaClientError;
  readonly retry: boolean;

  constructor(error: KafkaClientError, retry: boolean = error.retriable) {
    this.error = error;
    this.retry = retry;
  }
}

/** Sends one request to a leader for its partitions; returns one outcome per item, in order. */
export type LeaderSender<In, Out> = (conn: BrokerConnection, items: Routed<In>[], limits: Limits) => Promise<(Out | Failed)[]>;

export async function runOnLeaders<In extends TopicPartition, Out>(
  core: ClientCore,
  inputs: readonly In[],
  limits: Limits,
  send: LeaderSender<In, Out>,
): Promise<(Out | KafkaClientError)[]> {
  const results: (Out | KafkaClientError)[] = new Array(inputs.length);
  let pending = inputs.map((_, i) => i);
  for (let attempt = 0; pending.length > 0; attempt++) {
    const retry: number[] = [];
    let refresh = false;
    const fail = (i: number, f: Failed): void => {
      if (isClientWide(f.error)) throw f.error;
      results[i] = f.error;
      if (f.retry) retry.push(i);
      // Even an error returned to the caller (an epoch it chose) means our routing view is old.
      refresh ||= needsMetadataRefresh(f.error);
    };
    let metadata: ClusterMetadata | null = null;
    try {
      metadata = await core.metadataFor(pending.map((i) => inputs[i]!.topic), limits);
    } catch (err) {
      const error = asClientError(err, 'metadata refresh');
      for (const i of pending) fail(i, new Failed(error));
    }
    if (metadata) {
      const byLeader = new Map<number, { index: number; routed: Routed<In> }[]>();
      for (const i of pending) {
        const where = route(metadata, inputs[i]!, limits);
        if (where instanceof Failed) fail(i, where);
        else pushTo(byLeader, where.partition.leaderId, { index: i, routed: where });
      }
      await Promise.all([...byLeader].map(([leaderId, items]) => sendToLeader(core, leaderId, items, limits, send, results, fail)));
    }
    // A client closed mid-operation fails the operation, not each partition.
    core.checkOpen();
    if (refresh) core.markStale();
    if (retry.length === 0) break;
    if (attempt >= limits.retriesMax || core.pool.closed) break;
    if (!(await core.backoff(attempt + 1, limits))) {
      for (const i of retry) results[i] = core.outOfTime(`partition ${inputs[i]!.topic}-${inputs[i]!.partition}`, limits, attempt + 1, results[i] as KafkaClientError);
      break;
    }
    pending = retry;
  }
  return results;
}

async function sendToLeader<In extends TopicPartition, Out>(
  core: ClientCore,
  leaderId: number,
  items: { index: number; routed: Routed<In> }[],
  limits: Limits,
  send: LeaderSender<In, Out>,
  results: (Out | KafkaClientError)[],
  fail: (i: number, f: Failed) => void,
): Promise<void> {
  let conn: BrokerConnection;
  try {
    conn = await core.connectionToNode(leaderId, limits);
  } catch (err) {
    const error = asClientError(err, `connection to broker ${leaderId}`);
    for (const x of items) fail(x.index, new Failed(error));
    return;
  }
  await Promise.all(rounds(items).map(async (round) => {
    try {
      const outs = await send(conn, round.map((x) => x.routed), limits);
      round.forEach((x, k) => {
        const out = outs[k];
        if (out instanceof Failed) fail(x.index, out);
        else results[x.index] = out as Out;
      });
    } catch (err) {
      // The whole request failed (connection lost, timeout, no common version): every partition in it.
      const error = asClientError(err, `request to broker ${leaderId}`);
      for (const x of round) fail(x.index, new Failed(error));
    }
  }));
}

/**
 * Kafka refuses a request that names a partition twice (INVALID_REQUEST), so the n-th mention of a
 * partition goes in the n-th request. One connection answers in order, so these stay in order.
 */
function rounds<T extends { routed: { input: TopicPartition } }>(items: readonly T[]): T[][] {
  const seen = new Map<string, number>();
  const out: T[][] = [];
  for (const x of items) {
    const key = `${x.routed.input.topic}\u0000${x.routed.input.partition}`;
    const n = seen.get(key) ?? 0;
    seen.set(key, n + 1);
    (out[n] ??= []).push(x);
  }
  return out;
}

/** Where a partition's requests go, or why they cannot go anywhere yet. */
function route<In extends TopicPartition>(metadata: ClusterMetadata, input: In, limits: Limits): Routed<In> | Failed {
  const name = `${input.topic}-${input.partition}`;
  const topic = metadata.topics.get(input.topic);
  // Metadata fetched during this operation is authoritative about absence; an older view is not.
  const fresh = metadata.updatedAtMs >= limits.startedAtMs;
  if (!topic) {
    const code = metadata.topicErrors.get(input.topic) ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    const error = kafkaError(code, `topic ${input.topic}`);
    return new Failed(error, error.retriable && (code !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION || !fresh));
  }
  const partition = topic.partitions[input.partition];
  if (!partition) {
    const error = kafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition ${name} (the topic has ${topic.partitions.length} partitions)`);
    return new Failed(error, !fresh);
  }
  if (partition.leaderId < 0 || !metadata.brokers.has(partition.leaderId)) {
    return new Failed(kafkaError(ErrorCode.LEADER_NOT_AVAILABLE, `partition ${name} has no leader`), true);
  }
  return { input, topic, partition };
}

/**
 * The error for a partition's error code in a response. Retriable codes are retried, except the
 * epoch errors when the caller chose the epoch: only the caller can act on those (KIP-320).
 */
export function partitionFailure(errorCode: number, name: string, callerEpoch: boolean, brokerMessage: string | null = null): Failed {
  const error = kafkaError(errorCode, `partition ${name}`, brokerMessage);
  const epochError = errorCode === ErrorCode.FENCED_LEADER_EPOCH || errorCode === ErrorCode.UNKNOWN_LEADER_EPOCH;
  return new Failed(error, error.retriable && !(epochError && callerEpoch));
}

export function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
