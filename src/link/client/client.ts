// The link client: a small Kafka client for reading (and forwarding writes to) another Kafka
// cluster. Raw batches in and out, never decoded; every operation routed as Kafka requires (the
// partition leader, the group coordinator, any broker, every broker) with bounded retries.
import { ErrorCode } from '../../protocol/generated/errors.ts';
import { describeAcls, describeConfigs } from './admin.ts';
import type { AclBinding, AclFilter, ConfigResource, ConfigResourceResult, DescribeConfigsOptions } from './admin.ts';
import type { BrokerConnection, NegotiatedApi, VersionBounds } from './connection.ts';
import { ClientCore } from './core.ts';
import type { CallOptions, CoordinatorType, Limits } from './core.ts';
import { KafkaClientError } from './errors.ts';
import { fetch } from './fetch.ts';
import type { FetchedPartition, FetchOptions, FetchPartitionRequest } from './fetch.ts';
import { describeGroups, findCoordinator, listGroups, offsetFetch } from './groups.ts';
import type { DescribedGroup, GroupOffsets, GroupOffsetsRequest, ListedGroup, ListGroupsOptions, OffsetFetchOptions } from './groups.ts';
import type { BrokerInfo, ClusterMetadata } from './metadata.ts';
import { listOffsets, offsetForLeaderEpoch } from './offsets.ts';
import type { EpochEndOffset, ListedOffset, ListOffsetsOptions, ListOffsetsRequest, OffsetForLeaderEpochRequest } from './offsets.ts';
import { resolveSettings } from './options.ts';
import type { KafkaClientOptions } from './options.ts';
import { produce } from './produce.ts';
import type { ProducedPartition, ProduceOptions, ProducePartitionRequest } from './produce.ts';

export interface MetadataOptions extends CallOptions {
  /** Topics to describe; null or left out: every topic of the cluster. [] asks for brokers only. */
  topics?: string[] | null;
  /** Ask the cluster even when the cached view is fresh enough (default true). */
  refresh?: boolean;
}

/** Where a raw request goes: any broker, the active controller as metadata names it, or a node id. */
export type RequestTarget = 'any' | 'controller' | { nodeId: number };

export interface SendRequestOptions extends CallOptions, VersionBounds {}

export class KafkaClient {
  private readonly core: ClientCore;

  constructor(options: KafkaClientOptions) {
    this.core = new ClientCore(resolveSettings(options));
  }

  /** The cluster as the latest Metadata response describes it (cluster id, brokers, controller, topics). */
  async metadata(options: MetadataOptions = {}): Promise<ClusterMetadata> {
    const { core } = this;
    const limits = core.limits(options);
    const topics = options.topics ?? null;
    return core.retry('Metadata', limits, () => {
      if (topics === null) return core.refreshMetadata(null, limits);
      core.track(topics);
      return options.refresh === false ? core.metadataFor(topics, limits) : core.refreshMetadata(topics, limits);
    });
  }

  /** The version of every API this client would use with a broker, negotiated when the connection opened. */
  async apiVersions(target: RequestTarget = 'any', options: CallOptions = {}): Promise<NegotiatedApi[]> {
    const limits = this.core.limits(options);
    return this.core.retry('ApiVersions', limits, async () => (await this.connectionFor(target, limits)).negotiated());
  }

  /** Raw batches from partition leaders, whole batches only, with offsets and aborted transactions. */
  fetch(partitions: readonly FetchPartitionRequest[], options?: FetchOptions): Promise<FetchedPartition[]> {
    return fetch(this.core, partitions, options);
  }

  listOffsets(partitions: readonly ListOffsetsRequest[], options?: ListOffsetsOptions): Promise<ListedOffset[]> {
    return listOffsets(this.core, partitions, options);
  }

  offsetForLeaderEpoch(partitions: readonly OffsetForLeaderEpochRequest[], options?: CallOptions): Promise<EpochEndOffset[]> {
    return offsetForLeaderEpoch(this.core, partitions, options);
  }

  /** Writes raw batches to partition leaders (write forwarding, reverse links). */
  produce(partitions: readonly ProducePartitionRequest[], options?: ProduceOptions): Promise<ProducedPartition[]> {
    return produce(this.core, partitions, options);
  }

  describeConfigs(resources: readonly ConfigResource[], options?: DescribeConfigsOptions): Promise<ConfigResourceResult[]> {
    return describeConfigs(this.core, resources, options);
  }

  /** ACLs matching the filter; throws SECURITY_DISABLED when the cluster has no authorizer. */
  describeAcls(filter?: AclFilter, options?: CallOptions): Promise<AclBinding[]> {
    return describeAcls(this.core, filter, options);
  }

  /** Groups of the whole cluster (every broker is asked for the groups it coordinates). */
  listGroups(options?: ListGroupsOptions): Promise<ListedGroup[]> {
    return listGroups(this.core, options);
  }

  describeGroups(groupIds: readonly string[], options?: CallOptions): Promise<DescribedGroup[]> {
    return describeGroups(this.core, groupIds, options);
  }

  /** Committed offsets of groups, batched per coordinator where brokers support it (OffsetFetch v8+). */
  offsetFetch(groups: readonly (string | GroupOffsetsRequest)[], options?: OffsetFetchOptions): Promise<GroupOffsets[]> {
    return offsetFetch(this.core, groups, options);
  }

  findCoordinator(key: string, type: CoordinatorType = 'group', options?: CallOptions): Promise<BrokerInfo> {
    return findCoordinator(this.core, key, type, options);
  }

  /**
   * Any request, at the highest version both sides know within bounds, for what the typed
   * operations do not cover (CreateTopics in tests, syncers to come). Retries connection failures
   * only: the response's own error codes are the caller's to read.
   */
  async sendRequest<T>(target: RequestTarget, apiKey: number, build: (version: number) => unknown, options: SendRequestOptions = {}): Promise<{ version: number; response: T }> {
    const { core } = this;
    const limits = core.limits(options);
    return core.retry(`request (API key ${apiKey})`, limits, async () => {
      const conn = await this.connectionFor(target, limits);
      return conn.request<T>(apiKey, build, core.requestTimeoutMs(limits), options);
    });
  }

  /** Closes every connection; operations in progress fail with STRAIT_LINK_CLOSED. */
  async close(): Promise<void> {
    this.core.close();
  }

  private async connectionFor(target: RequestTarget, limits: Limits): Promise<BrokerConnection> {
    const { core } = this;
    if (target === 'any') return core.anyConnection(limits);
    if (target === 'controller') {
      const metadata = await core.metadataFor([], limits);
      if (metadata.controllerId < 0) {
        throw new KafkaClientError('STRAIT_LINK_KAFKA_ERROR', 'the cluster metadata names no controller', ErrorCode.NOT_CONTROLLER, { retriable: true });
      }
      return core.connectionToNode(metadata.controllerId, limits);
    }
    return core.connectionToNode(target.nodeId, limits);
  }
}
