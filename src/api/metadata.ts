// Metadata: brokers, cluster id, controller, and topics with their partitions and leaders.
// Unknown topics are created when the client allows it and auto.create.topics.enable is on.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import { ZERO_UUID } from '../protocol/primitives.ts';
import type { Input } from '../protocol/primitives.ts';
import type { MetadataRequest } from '../protocol/generated/metadata-request.ts';
import type { MetadataResponse, MetadataResponseTopic } from '../protocol/generated/metadata-response.ts';
import { OFFSETS_TOPIC_NAME, isInternalTopic, validateTopicName } from '../cluster/topics.ts';
import type { TopicRecord } from '../metadata/store.ts';
import type { ApiHandler, RequestContext } from './context.ts';
import { partitionView } from './topic-view.ts';
import { CLUSTER_OPERATIONS, OPERATIONS_NOT_REQUESTED, TOPIC_OPERATIONS } from './acl-operations.ts';

export const metadataHandler: ApiHandler<MetadataRequest, MetadataResponse> = {
  apiKey: ApiKey.Metadata,
  minVersion: 0,
  maxVersion: 12,
  async handle(req, ctx) {
    const b = ctx.broker;
    const listener = ctx.conn.listenerName;
    const brokers = b.config.advertisedListeners
      .filter((l) => l.name === listener)
      .slice(0, 1)
      .map((l) => ({ nodeId: b.nodeId, host: l.host, port: l.port, rack: b.config.rack }));
    const includeOps = req.includeTopicAuthorizedOperations;
    // v0 uses an empty list for "all topics"; v1+ uses null.
    const all = req.topics === null || (ctx.apiVersion === 0 && req.topics.length === 0);
    const topics: Input<MetadataResponseTopic>[] = [];
    if (all) {
      for (const t of b.catalog.all()) topics.push(await describeTopic(t, ctx, includeOps));
    } else {
      for (const wanted of req.topics!) topics.push(await lookupTopic(wanted.name, wanted.topicId, req.allowAutoTopicCreation, ctx, includeOps));
    }
    // Partitions another broker claimed (it took this one's over) name it as leader: clients need
    // its address, which it registered in the shared metadata.
    const others = new Set<number>();
    for (const t of topics) for (const p of t.partitions ?? []) if (p.leaderId !== undefined && p.leaderId !== b.nodeId && p.leaderId >= 0) others.add(p.leaderId);
    if (others.size > 0) {
      for (const r of await b.store.brokers()) if (others.has(r.nodeId)) brokers.push({ nodeId: r.nodeId, host: r.host, port: r.port, rack: r.rack });
    }
    return {
      throttleTimeMs: 0,
      brokers,
      clusterId: b.clusterId,
      controllerId: b.nodeId,
      topics,
      clusterAuthorizedOperations: req.includeClusterAuthorizedOperations ? CLUSTER_OPERATIONS : OPERATIONS_NOT_REQUESTED,
    };
  },
};

async function lookupTopic(
  name: string | null,
  topicId: string,
  allowAutoCreate: boolean,
  ctx: RequestContext,
  includeOps: boolean,
): Promise<Input<MetadataResponseTopic>> {
  const b = ctx.broker;
  if (name === null) {
    const byId = topicId === ZERO_UUID ? null : b.catalog.byId(topicId);
    if (!byId) return { errorCode: ErrorCode.UNKNOWN_TOPIC_ID, name: null, topicId, partitions: [] };
    return describeTopic(byId, ctx, includeOps);
  }
  if (validateTopicName(name) !== null) return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, name, partitions: [] };
  let topic = b.catalog.byName(name);
  if (!topic && allowAutoCreate && b.config.autoCreateTopics && isInternalTopic(name)) {
    // Kafka's auto-creation makes an internal topic as its coordinator would.
    const setting = name === OFFSETS_TOPIC_NAME ? 'offsets.topic.num.partitions' : 'transaction.state.log.num.partitions';
    topic = (await b.topics.ensureInternal(name, Number(b.config.values[setting]))) ?? undefined;
    if (!topic) return { errorCode: ErrorCode.LEADER_NOT_AVAILABLE, name, partitions: [] };
  } else if (!topic && allowAutoCreate && b.config.autoCreateTopics) {
    const created = await b.topics.create({ name, numPartitions: -1, replicationFactor: -1, assignments: [], configs: [] }, false);
    if (created.errorCode !== ErrorCode.NONE && created.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) {
      return { errorCode: created.errorCode, name, partitions: [] };
    }
    topic = created.topic ?? b.catalog.byName(name);
  }
  if (!topic) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, partitions: [] };
  return describeTopic(topic, ctx, includeOps);
}

async function describeTopic(t: TopicRecord, ctx: RequestContext, includeOps: boolean): Promise<Input<MetadataResponseTopic>> {
  const partitions = ctx.broker.logs.partitionRecords(t.topicId, ctx.broker.nodeId);
  return {
    errorCode: ErrorCode.NONE,
    name: t.name,
    topicId: t.topicId,
    isInternal: isInternalTopic(t.name),
    partitions: partitions.map(partitionView),
    topicAuthorizedOperations: includeOps ? TOPIC_OPERATIONS : OPERATIONS_NOT_REQUESTED,
  };
}
