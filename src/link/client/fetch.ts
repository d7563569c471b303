// Fetch as a consumer: raw record batches per partition, never decoded. Only whole batches are
// returned (a broker cuts its answer at the size limit, often inside a batch, and the tail is
// dropped here as a follower drops it), each with its CRC checked unless the caller opts out.
import { ApiKey } from '../../protocol/generated/api-table.ts';
import { ErrorCode } from '../../protocol/generated/errors.ts';
import type { FetchResponse, PartitionData } from '../../protocol/generated/fetch-response.ts';
import {
  RecordBatchError,
  batchBaseOffset,
  batchLastOffset,
  batchPartitionLeaderEpoch,
  splitBatches,
  verifyCrc,
} from '../../protocol/records/index.ts';
import type { BrokerConnection } from './connection.ts';
import type { CallOptions, ClientCore, Limits } from './core.ts';
import { KafkaClientError, kafkaError } from './errors.ts';
import { toBigInt, toNumber } from './int64.ts';
import { hasTopicId } from './metadata.ts';
import { groupByTopic } from './offsets.ts';
import { Failed, partitionFailure, runOnLeaders } from './route.ts';
import type { Routed, TopicPartition } from './route.ts';

export type IsolationLevel = 'read_uncommitted' | 'read_committed';
const ISOLATION: Record<IsolationLevel, number> = { read_uncommitted: 0, read_committed: 1 };

export interface FetchPartitionRequest extends TopicPartition {
  offset: number;
  /**
   * The leader epoch the caller believes current (KIP-320). Left out, the client uses the epoch
   * from its metadata and retries FENCED/UNKNOWN_LEADER_EPOCH itself; given, those errors are
   * returned so the caller can check for truncation (OffsetForLeaderEpoch) first.
   */
  currentLeaderEpoch?: number;
  /** Epoch of the last batch fetched, so the leader can report a diverging log (KIP-595, v12+). */
  lastFetchedEpoch?: number;
  /** Overrides FetchOptions.partitionMaxBytes for this partition. */
  partitionMaxBytes?: number;
}

export interface FetchOptions extends CallOptions {
  /** Longest the broker may wait for minBytes (default 0: answer at once). */
  maxWaitMs?: number;
  minBytes?: number;
  /** Limit of the whole response (default 50 MiB, as the Java consumer's fetch.max.bytes). */
  maxBytes?: number;
  /** Default per-partition limit (1 MiB, as max.partition.fetch.bytes). */
  partitionMaxBytes?: number;
  isolation?: IsolationLevel;
  /** Verify each batch's CRC-32C (default true, as the Java consumer's check.crcs). */
  checkCrcs?: boolean;
}

export interface FetchedBatch {
  baseOffset: number;
  lastOffset: number;
  partitionLeaderEpoch: number;
  /** Where the batch starts in FetchedPartition.records, and its size in bytes. */
  position: number;
  size: number;
}

export interface AbortedTransaction {
  producerId: number;
  firstOffset: number;
}

export interface FetchedPartition extends TopicPartition {
  /** null, or the partition's error (OFFSET_OUT_OF_RANGE, a retriable error that outlasted the retries…). */
  error: KafkaClientError | null;
  fetchOffset: number;
  highWatermark: number;
  lastStableOffset: number;
  logStartOffset: number;
  /** Whole batches only, as the broker sent them (a view of the response, not a copy). */
  records: Buffer;
  batches: FetchedBatch[];
  /** Bytes of an incomplete last batch that were dropped (the response hit a size limit). */
  partialBytes: number;
  /** The offset to fetch next: after the last whole batch, or fetchOffset when there was none. */
  nextOffset: number;
  abortedTransactions: AbortedTransaction[] | null;
  /** Set when the leader says the log diverged at lastFetchedEpoch (KIP-595): truncate to endOffset. */
  divergingEpoch: { epoch: number; endOffset: number } | null;
  /** The broker that answered, and the epoch the client asked it for. */
  leaderId: number;
  leaderEpoch: number;
}

interface Settings {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  partitionMaxBytes: number;
  isolationLevel: number;
  checkCrcs: boolean;
}

export async function fetch(core: ClientCore, requests: readonly FetchPartitionRequest[], options: FetchOptions = {}): Promise<FetchedPartition[]> {
  const limits = core.limits(options);
  const s: Settings = {
    maxWaitMs: options.maxWaitMs ?? 0,
    minBytes: options.minBytes ?? 1,
    maxBytes: options.maxBytes ?? 50 * 1024 * 1024,
    partitionMaxBytes: options.partitionMaxBytes ?? 1024 * 1024,
    isolationLevel: ISOLATION[options.isolation ?? 'read_uncommitted'],
    checkCrcs: options.checkCrcs ?? true,
  };
  const outcomes = await runOnLeaders(core, requests, limits, (conn, items, l) => fetchFromLeader(core, conn, items, l, s));
  return outcomes.map((o, i) => (o instanceof KafkaClientError ? failedPartition(requests[i]!, o) : o));
}

async function fetchFromLeader(
  core: ClientCore,
  conn: BrokerConnection,
  items: Routed<FetchPartitionRequest>[],
  limits: Limits,
  s: Settings,
): Promise<(FetchedPartition | Failed)[]> {
  // Fetch v13+ names topics by id (KIP-516); a topic without one must use v12 at most.
  const allIds = items.every((x) => hasTopicId(x.topic));
  const { version, response } = await conn.request<FetchResponse>(
    ApiKey.Fetch,
    () => ({
      maxWaitMs: s.maxWaitMs,
      minBytes: s.minBytes,
      maxBytes: s.maxBytes,
      isolationLevel: s.isolationLevel,
      // A full fetch outside any fetch session (KIP-227): session id 0, epoch -1.
      sessionId: 0,
      sessionEpoch: -1,
      topics: groupByTopic(items).map((parts) => ({
        topic: parts[0]!.topic.name,
        topicId: parts[0]!.topic.topicId,
        partitions: parts.map((x) => ({
          partition: x.input.partition,
          currentLeaderEpoch: x.input.currentLeaderEpoch ?? x.partition.leaderEpoch,
          fetchOffset: toBigInt(x.input.offset),
          lastFetchedEpoch: x.input.lastFetchedEpoch ?? -1,
          logStartOffset: -1n,
          partitionMaxBytes: x.input.partitionMaxBytes ?? s.partitionMaxBytes,
        })),
      })),
    }),
    core.requestTimeoutMs(limits, s.maxWaitMs),
    { versionMin: 4, ...(allIds ? {} : { versionMax: 12 }) },
  );
  if (response.errorCode !== ErrorCode.NONE) {
    const error = kafkaError(response.errorCode, `Fetch from ${conn.label}`);
    return items.map(() => new Failed(error));
  }
  const nameById = new Map(items.map((x) => [x.topic.topicId, x.topic.name]));
  const answers = new Map<string, PartitionData>();
  for (const t of response.responses) {
    const name = version >= 13 ? nameById.get(t.topicId) : t.topic;
    for (const p of t.partitions) answers.set(`${name}\u0000${p.partitionIndex}`, p);
  }
  return items.map((x) => {
    const p = answers.get(`${x.topic.name}\u0000${x.input.partition}`);
    const name = `${x.topic.name}-${x.input.partition}`;
    if (!p) return new Failed(kafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `Fetch response from ${conn.label} lacks partition ${name}`));
    if (p.errorCode !== ErrorCode.NONE) return partitionFailure(p.errorCode, name, x.input.currentLeaderEpoch !== undefined);
    return fetchedPartition(x, p, conn, s.checkCrcs);
  });
}

function fetchedPartition(x: Routed<FetchPartitionRequest>, p: PartitionData, conn: BrokerConnection, checkCrcs: boolean): FetchedPartition | Failed {
  const name = `${x.topic.name}-${x.input.partition}`;
  const all = p.records ?? Buffer.alloc(0);
  const batches: FetchedBatch[] = [];
  let end = 0;
  try {
    for (const { pos, size } of splitBatches(all, { partialTail: 'stop' })) {
      if (checkCrcs && !verifyCrc(all, pos, size)) {
        throw new RecordBatchError('crc', `batch at offset ${batchBaseOffset(all, pos)} fails its CRC check`);
      }
      batches.push({ baseOffset: batchBaseOffset(all, pos), lastOffset: batchLastOffset(all, pos), partitionLeaderEpoch: batchPartitionLeaderEpoch(all, pos), position: pos, size });
      end = pos + size;
    }
  } catch (err) {
    if (!(err instanceof RecordBatchError)) throw err;
    // Not retried: the same bytes would come back. The caller sees which partition and why.
    return new Failed(kafkaError(ErrorCode.CORRUPT_MESSAGE, `partition ${name} from ${conn.label}`, err.message), false);
  }
  const last = batches.at(-1);
  return {
    topic: x.topic.name,
    partition: x.input.partition,
    error: null,
    fetchOffset: x.input.offset,
    highWatermark: toNumber(p.highWatermark, 'highWatermark'),
    lastStableOffset: toNumber(p.lastStableOffset, 'lastStableOffset'),
    logStartOffset: toNumber(p.logStartOffset, 'logStartOffset'),
    records: all.subarray(0, end),
    batches,
    partialBytes: all.length - end,
    nextOffset: last ? last.lastOffset + 1 : x.input.offset,
    abortedTransactions: p.abortedTransactions?.map((a) => ({ producerId: toNumber(a.producerId, 'producerId'), firstOffset: toNumber(a.firstOffset, 'firstOffset') })) ?? null,
    divergingEpoch: p.divergingEpoch.epoch >= 0 ? { epoch: p.divergingEpoch.epoch, endOffset: toNumber(p.divergingEpoch.endOffset, 'divergingEpoch.endOffset') } : null,
    leaderId: x.partition.leaderId,
    leaderEpoch: x.input.currentLeaderEpoch ?? x.partition.leaderEpoch,
  };
}

function failedPartition(r: FetchPartitionRequest, error: KafkaClientError): FetchedPartition {
  return {
    topic: r.topic,
    partition: r.partition,
    error,
    fetchOffset: r.offset,
    highWatermark: -1,
    lastStableOffset: -1,
    logStartOffset: -1,
    records: Buffer.alloc(0),
    batches: [],
    partialBytes: 0,
    nextOffset: r.offset,
    abortedTransactions: null,
    divergingEpoch: null,
    leaderId: -1,
    leaderEpoch: -1,
  };
}
