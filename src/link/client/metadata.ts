// The client's view of the source cluster: cluster id, brokers, controller, and for each topic asked
// about its id and partitions with leaders and leader epochs. Built from Metadata responses and
// merged, so a refresh for some topics keeps what is known about the others.
import { ErrorCode } from '../../protocol/generated/errors.ts';
import type { MetadataResponse, MetadataResponseTopic } from '../../protocol/generated/metadata-response.ts';
import { ZERO_UUID } from '../../protocol/primitives.ts';

export interface BrokerInfo {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface PartitionInfo {
  partition: number;
  /** -1 when the partition has no leader right now. */
  leaderId: number;
  /** -1 when the broker does not report epochs (Metadata before v7). */
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
  /** The partition's error in the Metadata response (LEADER_NOT_AVAILABLE…), 0 when none. */
  errorCode: number;
}

export interface TopicInfo {
  name: string;
  /** Base64url topic id (KIP-516); the all-zero id when the broker reports none. */
  topicId: string;
  isInternal: boolean;
  /** Indexed by partition number. */
  partitions: PartitionInfo[];
}

export interface ClusterMetadata {
  clusterId: string | null;
  /** -1 when the broker does not say. */
  controllerId: number;
  brokers: ReadonlyMap<number, BrokerInfo>;
  topics: ReadonlyMap<string, TopicInfo>;
  /**
   * Topics asked about that the cluster does not have, or could not describe, with the error
   * (UNKNOWN_TOPIC_OR_PARTITION, TOPIC_AUTHORIZATION_FAILED, LEADER_NOT_AVAILABLE while creating…).
   */
  topicErrors: ReadonlyMap<string, number>;
  /** nowMs() when the response arrived. */
  updatedAtMs: number;
}

export const EMPTY_METADATA: ClusterMetadata = {
  clusterId: null,
  controllerId: -1,
  brokers: new Map(),
  topics: new Map(),
  topicErrors: new Map(),
  updatedAtMs: -Infinity,
};

export function hasTopicId(topic: TopicInfo): boolean {
  return topic.topicId !== ZERO_UUID;
}

/**
 * Merges a Metadata response into the previous view. `requested` is the list of topics the request
 * named, or null when it asked for all topics (then topics missing from the answer are gone).
 */
export function mergeMetadata(previous: ClusterMetadata, response: MetadataResponse, requested: string[] | null, atMs: number): ClusterMetadata {
  const topics = new Map(requested === null ? [] : previous.topics);
  const topicErrors = new Map(requested === null ? [] : previous.topicErrors);
  for (const name of requested ?? []) {
    topics.delete(name);
    topicErrors.delete(name);
  }
  for (const t of response.topics) {
    if (t.name === null) continue;
    if (t.errorCode !== ErrorCode.NONE) {
      topicErrors.set(t.name, t.errorCode);
      continue;
    }
    topics.set(t.name, topicInfo(t));
  }
  // A named topic the broker left out entirely does not exist for us either.
  for (const name of requested ?? []) {
    if (!topics.has(name) && !topicErrors.has(name)) topicErrors.set(name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  }
  const brokers = new Map(response.brokers.map((b) => [b.nodeId, { nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack }]));
  return { clusterId: response.clusterId, controllerId: response.controllerId, brokers, topics, topicErrors, updatedAtMs: atMs };
}

function topicInfo(t: MetadataResponseTopic): TopicInfo {
  const partitions: PartitionInfo[] = [];
  for (const p of t.partitions) {
    partitions[p.partitionIndex] = {
      partition: p.partitionIndex,
      leaderId: p.leaderId,
      leaderEpoch: p.leaderEpoch,
      replicas: p.replicaNodes,
      isr: p.isrNodes,
      offlineReplicas: p.offlineReplicas,
      errorCode: p.errorCode,
    };
  }
  // A response with holes in the partition list is broken; fill them as leaderless.
  for (let i = 0; i < partitions.length; i++) {
    partitions[i] ??= { partition: i, leaderId: -1, leaderEpoch: -1, replicas: [], isr: [], offlineReplicas: [], errorCode: ErrorCode.LEADER_NOT_AVAILABLE };
  }
  return { name: t.name!, topicId: t.topicId, isInternal: t.isInternal, partitions };
}
