// How a topic's partitions look to clients, shared by Metadata and DescribeTopicPartitions.
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { PartitionRecord } from '../metadata/store.ts';

/** Shared storage holds the data, so the leader is the one replica and always in sync. */
export function partitionView(p: PartitionRecord) {
  return {
    errorCode: ErrorCode.NONE,
    partitionIndex: p.partitionIndex,
    leaderId: p.leaderId,
    leaderEpoch: p.leaderEpoch,
    replicaNodes: [p.leaderId],
    isrNodes: [p.leaderId],
    offlineReplicas: [] as number[],
  };
}
