// The link client's surface: a small Kafka client for reading from (and forwarding writes to) any
// Kafka-compatible cluster, used by mirror fetchers, syncers, write forwarding and reverse links.
//
//   const source = new KafkaClient({ bootstrap: 'kafka-1:9092,kafka-2:9092' });
//   const { topics } = await source.metadata({ topics: ['orders'] });
//   const [p] = await source.fetch([{ topic: 'orders', partition: 0, offset: 0 }], { maxWaitMs: 500 });
//   if (p.error === null) await log.appendAtOffsets(p.records, Date.now()); // whole batches, as stored
//   await source.close();
//
// Partition and group operations return one result per input, each with its own `error` (a
// KafkaClientError naming the Kafka error); retriable errors are retried first, with a metadata
// refresh when leadership may have moved. Whole-operation failures (closed client, refused
// credentials, timeouts of single-request operations) reject.
export { KafkaClient } from './client.ts';
export type { MetadataOptions, RequestTarget, SendRequestOptions } from './client.ts';
export { KafkaClientError } from './errors.ts';
export type { KafkaClientErrorCode } from './errors.ts';
export type { Endpoint, KafkaClientOptions, SaslMechanismName, SaslOptions, SecurityProtocol, TlsOptions } from './options.ts';
export type { CallOptions, CoordinatorType } from './core.ts';
export type { NegotiatedApi, VersionBounds, VersionRange } from './connection.ts';
export type { BrokerInfo, ClusterMetadata, PartitionInfo, TopicInfo } from './metadata.ts';
export type { TopicPartition } from './route.ts';
export type { AbortedTransaction, FetchedBatch, FetchedPartition, FetchOptions, FetchPartitionRequest, IsolationLevel } from './fetch.ts';
export type { EpochEndOffset, ListedOffset, ListOffsetsOptions, ListOffsetsRequest, OffsetForLeaderEpochRequest, OffsetSpec } from './offsets.ts';
export type { ProducedPartition, ProduceOptions, ProducePartitionRequest } from './produce.ts';
export type {
  AclBinding,
  AclFilter,
  AclOperation,
  AclPatternType,
  AclPermission,
  AclResourceType,
  ConfigEntry,
  ConfigResource,
  ConfigResourceResult,
  ConfigResourceType,
  ConfigSource,
  ConfigType,
  DescribeConfigsOptions,
} from './admin.ts';
export type {
  CommittedOffset,
  DescribedGroup,
  GroupMember,
  GroupOffsets,
  GroupOffsetsRequest,
  ListedGroup,
  ListGroupsOptions,
  OffsetFetchOptions,
} from './groups.ts';
// Kafka's API keys, for sendRequest.
export { ApiKey } from '../../protocol/generated/api-table.ts';
