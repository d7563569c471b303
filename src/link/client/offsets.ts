// Offsets of a partition's log, asked of its leader: ListOffsets (earliest, latest, by timestamp)
// and OffsetForLeaderEpoch (where an epoch ended, the follower's truncation check, KIP-101/KIP-279).
import { ApiKey } from '../../protocol/generated/api-table.ts';
import { ErrorCode } from '../../protocol/generated/errors.ts';
import type { ListOffsetsResponse } from '../../protocol/generated/list-offsets-response.ts';
import type { OffsetForLeaderEpochResponse } from '../../protocol/generated/offset-for-leader-epoch-response.ts';
import type { BrokerConnection } from './connection.ts';
import type { CallOptions, ClientCore, Limits } from './core.ts';
import { KafkaClientError, kafkaError } from './errors.ts';
import type { IsolationLevel } from './fetch.ts';
import { toBigInt, toNumber } from './int64.ts';
import { Failed, partitionFailure, runOnLeaders } from './route.ts';
import type { Routed, TopicPartition } from './route.ts';

/**
 * Which offset to look up: the log start, the log end (the last stable offset under
 * read_committed), the record with the largest timestamp (KIP-734), the local log start or the
 * tiered log end (KIP-405), or the first offset whose timestamp is at least `timestamp`.
 */
export type OffsetSpec = 'earliest' | 'latest' | 'max-timestamp' | 'earliest-local' | 'latest-tiered' | { timestamp: number };

// The sentinel timestamp of each spec, and the ListOffsets version that introduced it.
const SPECS: Record<Exclude<OffsetSpec, object>, { timestamp: bigint; versionMin: number }> = {
  latest: { timestamp: -1n, versionMin: 1 },
  earliest: { timestamp: -2n, versionMin: 1 },
  'max-timestamp': { timestamp: -3n, versionMin: 7 },
  'earliest-local': { timestamp: -4n, versionMin: 8 },
  'latest-tiered': { timestamp: -5n, versionMin: 9 },
};

export interface ListOffsetsRequest extends TopicPartition {
  spec: OffsetSpec;
  /** As in FetchPartitionRequest: given, epoch errors are returned instead of retried. */
  currentLeaderEpoch?: number;
}

export interface ListOffsetsOptions extends CallOptions {
  isolation?: IsolationLevel;
}

export interface ListedOffset extends TopicPartition {
  error: KafkaClientError | null;
  /** -1 when no record matches (a timestamp after the last record's). */
  offset: number;
  timestamp: number;
  /** Leader epoch of the record at offset, -1 when unknown. */
  leaderEpoch: number;
}

export async function listOffsets(core: ClientCore, requests: readonly ListOffsetsRequest[], options: ListOffsetsOptions = {}): Promise<ListedOffset[]> {
  const limits = core.limits(options);
  const isolationLevel = options.isolation === 'read_committed' ? 1 : 0;
  const outcomes = await runOnLeaders(core, requests, limits, (conn, items, l) => listFromLeader(core, conn, items, l, isolationLevel));
  return outcomes.map((o, i) => {
    const r = requests[i]!;
    return o instanceof KafkaClientError ? { topic: r.topic, partition: r.partition, error: o, offset: -1, timestamp: -1, leaderEpoch: -1 } : o;
  });
}

async function listFromLeader(core: ClientCore, conn: BrokerConnection, items: Routed<ListOffsetsRequest>[], limits: Limits, isolationLevel: number): Promise<(ListedOffset | Failed)[]> {
  const specOf = (s: OffsetSpec) => (typeof s === 'object' ? { timestamp: toBigInt(s.timestamp), versionMin: 1 } : SPECS[s]);
  // Isolation levels came in v2 (KIP-98).
  const versionMin = Math.max(isolationLevel === 1 ? 2 : 1, ...items.map((x) => specOf(x.input.spec).versionMin));
  const { response } = await conn.request<ListOffsetsResponse>(
    ApiKey.ListOffsets,
    () => ({
      replicaId: -1,
      isolationLevel,
      timeoutMs: core.requestTimeoutMs(limits),
      topics: groupByTopic(items).map((parts) => ({
        name: parts[0]!.topic.name,
        partitions: parts.map((x) => ({
          partitionIndex: x.input.partition,
          currentLeaderEpoch: x.input.currentLeaderEpoch ?? x.partition.leaderEpoch,
          timestamp: specOf(x.input.spec).timestamp,
        })),
      })),
    }),
    core.requestTimeoutMs(limits),
    { versionMin },
  );
  const answers = new Map(response.topics.flatMap((t) => t.partitions.map((p) => [`${t.name}\u0000${p.partitionIndex}`, p] as const)));
  return items.map((x) => {
    const name = `${x.topic.name}-${x.input.partition}`;
    const p = answers.get(`${x.topic.name}\u0000${x.input.partition}`);
    if (!p) return new Failed(kafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `ListOffsets response from ${conn.label} lacks partition ${name}`));
    if (p.errorCode !== ErrorCode.NONE) return partitionFailure(p.errorCode, name, x.input.currentLeaderEpoch !== undefined);
    return {
      topic: x.topic.name,
      partition: x.input.partition,
      error: null,
      offset: toNumber(p.offset, 'offset'),
      timestamp: toNumber(p.timestamp, 'timestamp'),
      leaderEpoch: p.leaderEpoch,
    };
  });
}

export interface OffsetForLeaderEpochRequest extends TopicPartition {
  /** The epoch whose end offset is wanted (typically the epoch of the last batch the caller has). */
  leaderEpoch: number;
  currentLeaderEpoch?: number;
}

export interface EpochEndOffset extends TopicPartition {
  error: KafkaClientError | null;
  /**
   * The largest epoch at or below the requested one that the leader knows, and the offset where it
   * ends (the leader's log end for its current epoch); both -1 when the leader knows no such epoch.
   */
  leaderEpoch: number;
  endOffset: number;
}

export async function offsetForLeaderEpoch(core: ClientCore, requests: readonly OffsetForLeaderEpochRequest[], options: CallOptions = {}): Promise<EpochEndOffset[]> {
  const limits = core.limits(options);
  const outcomes = await runOnLeaders(core, requests, limits, (conn, items, l) => epochsFromLeader(core, conn, items, l));
  return outcomes.map((o, i) => {
    const r = requests[i]!;
    return o instanceof KafkaClientError ? { topic: r.topic, partition: r.partition, error: o, leaderEpoch: -1, endOffset: -1 } : o;
  });
}

async function epochsFromLeader(core: ClientCore, conn: BrokerConnection, items: Routed<OffsetForLeaderEpochRequest>[], limits: Limits): Promise<(EpochEndOffset | Failed)[]> {
  const { response } = await conn.request<OffsetForLeaderEpochResponse>(
    ApiKey.OffsetForLeaderEpoch,
    (version) => ({
      // v3+ lets a consumer (replica id -1) ask, as the Java consumer does for KIP-320 validation.
      ...(version >= 3 ? { replicaId: -1 } : {}),
      topics: groupByTopic(items).map((parts) => ({
        topic: parts[0]!.topic.name,
        partitions: parts.map((x) => ({
          partition: x.input.partition,
          currentLeaderEpoch: x.input.currentLeaderEpoch ?? x.partition.leaderEpoch,
          leaderEpoch: x.input.leaderEpoch,
        })),
      })),
    }),
    core.requestTimeoutMs(limits),
  );
  const answers = new Map(response.topics.flatMap((t) => t.partitions.map((p) => [`${t.topic}\u0000${p.partition}`, p] as const)));
  return items.map((x) => {
    const name = `${x.topic.name}-${x.input.partition}`;
    const p = answers.get(`${x.topic.name}\u0000${x.input.partition}`);
    if (!p) return new Failed(kafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `OffsetForLeaderEpoch response from ${conn.label} lacks partition ${name}`));
    if (p.errorCode !== ErrorCode.NONE) return partitionFailure(p.errorCode, name, x.input.currentLeaderEpoch !== undefined);
    return { topic: x.topic.name, partition: x.input.partition, error: null, leaderEpoch: p.leaderEpoch, endOffset: toNumber(p.endOffset, 'endOffset') };
  });
}

export function groupByTopic<T extends { topic: { name: string } }>(items: readonly T[]): T[][] {
  const byTopic = new Map<string, T[]>();
  for (const x of items) {
    const list = byTopic.get(x.topic.name);
    if (list) list.push(x);
    else byTopic.set(x.topic.name, [x]);
  }
  return [...byTopic.values()];
}
