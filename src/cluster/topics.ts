// Topic lifecycle with Kafka's rules: name validation, partition and replication defaults, config
// validation, collision checks. Used by CreateTopics, DeleteTopics and Metadata's auto-creation.
//
// Replication factor: data durability comes from the WAL and object storage, not from copies on
// brokers, so any replication factor >= 1 is accepted and recorded (topics moved from a Kafka
// cluster keep theirs); Metadata lists the leader as the partition's one replica.
import { ErrorCode } from '../protocol/generated/errors.ts';
import { assert } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { randomKafkaUuid } from '../metadata/ids.ts';
import type { BrokerIncarnation, MetadataStore, TopicRecord } from '../metadata/store.ts';
import { validateTopicConfig } from '../config/topic-configs.ts';

export const TOPIC_NAME_LENGTH_MAX = 249;
/** Upper bound on partitions created by one request, so one call cannot exhaust the metadata store. */
export const TOPIC_PARTITIONS_MAX = 10000;

export interface TopicRequest {
  name: string;
  numPartitions: number; // -1: broker default
  replicationFactor: number; // -1: broker default
  assignments: { partitionIndex: number; brokerIds: number[] }[];
  configs: { name: string; value: string | null }[];
}

export interface TopicResult {
  errorCode: number;
  errorMessage: string | null;
  topic: TopicRecord | null;
}

export interface TopicDefaults {
  partitions: number;
  replicationFactor: number;
}

export function validateTopicName(name: string): string | null {
  if (name.length === 0) return 'Topic name is illegal, it can\'t be empty';
  if (name === '.' || name === '..') return 'Topic name cannot be "." or ".."';
  if (name.length > TOPIC_NAME_LENGTH_MAX) {
    return `Topic name is illegal, it can't be longer than ${TOPIC_NAME_LENGTH_MAX} characters, topic name: ${name}`;
  }
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) {
    return `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`;
  }
  return null;
}

/** Kafka treats '.' and '_' as the same character in metric names, so such topics may not coexist. */
function collisionKey(name: string): string {
  return name.replace(/\./g, '_');
}

const fail = (errorCode: number, errorMessage: string): TopicResult => ({ errorCode, errorMessage, topic: null });

/** Kafka's internal topics (Topic.isInternal): the logs of its group and transaction coordinators. */
export const OFFSETS_TOPIC_NAME = '__consumer_offsets';
export const TRANSACTION_STATE_TOPIC_NAME = '__transaction_state';

export function isInternalTopic(name: string): boolean {
  return name === OFFSETS_TOPIC_NAME || name === TRANSACTION_STATE_TOPIC_NAME;
}

/**
 * Strait keeps committed offsets and transaction state in its metadata store, so its internal
 * topics hold no records: they are created (see ensureInternal) so that Metadata lists them as
 * Kafka does. A client's change to one is refused with INVALID_TOPIC_EXCEPTION, the code Kafka
 * answers for the internal-topic writes it refuses (produce, DeleteRecords).
 */
export function internalTopicRefusal(name: string, what: string): { errorCode: number; message: string } {
  const kept = name === OFFSETS_TOPIC_NAME ? 'committed offsets' : 'transaction state';
  return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, message: `Cannot ${what} internal topic ${name}: Strait keeps ${kept} in its metadata store, and the topic holds no records.` };
}

/** How Kafka configures its internal topics; here they only show in DescribeConfigs. */
const INTERNAL_TOPIC_CONFIGS = [{ name: 'cleanup.policy', value: 'compact' }];

/** Told about topic changes so that in-memory state (catalog, partition logs) follows metadata. */
export interface TopicListener {
  created(topic: TopicRecord): void;
  deleted(topic: TopicRecord): void;
  changed(topic: TopicRecord): void;
}

export class TopicAdmin {
  private readonly store: MetadataStore;
  private readonly defaults: TopicDefaults;
  /** The broker (node id and incarnation) that leads new partitions. */
  private readonly leader: () => BrokerIncarnation;
  private readonly log: Logger;
  private readonly listener: TopicListener;

  constructor(store: MetadataStore, defaults: TopicDefaults, leader: () => BrokerIncarnation, log: Logger, listener: TopicListener) {
    this.store = store;
    this.defaults = defaults;
    this.leader = leader;
    this.log = log;
    this.listener = listener;
  }

  /** Internal topics being created, so that concurrent FindCoordinator requests create each once. */
  private readonly creatingInternal = new Map<string, Promise<TopicRecord | null>>();

  /**
   * Creates an internal topic if it does not exist yet, as Kafka does on the first FindCoordinator
   * of its kind. Null when it cannot be created now (the caller answers with a retriable error).
   */
  ensureInternal(name: string, partitions: number): Promise<TopicRecord | null> {
    assert(isInternalTopic(name), `${name} is not an internal topic`);
    let pending = this.creatingInternal.get(name);
    if (!pending) {
      pending = this.createInternal(name, partitions).finally(() => this.creatingInternal.delete(name));
      this.creatingInternal.set(name, pending);
    }
    return pending;
  }

  private async createInternal(name: string, partitions: number): Promise<TopicRecord | null> {
    try {
      const existing = (await this.store.topics()).find((t) => t.name === name);
      if (existing) return existing;
      const r = await this.create({ name, numPartitions: partitions, replicationFactor: -1, assignments: [], configs: INTERNAL_TOPIC_CONFIGS }, false, true);
      if (r.topic) return r.topic;
      this.log.warn('cannot create internal topic', { topic: name, errorCode: r.errorCode, error: r.errorMessage });
    } catch (err) {
      this.log.warn('cannot create internal topic', { topic: name, err: err as Error });
    }
    return null;
  }

  async create(req: TopicRequest, validateOnly: boolean, internal = false): Promise<TopicResult> {
    const nameProblem = validateTopicName(req.name);
    if (nameProblem) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameProblem);

    let partitions = req.numPartitions;
    let rf = req.replicationFactor;
    if (req.assignments.length > 0) {
      if (partitions !== -1 || rf !== -1) {
        return fail(ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but numPartitions or replicationFactor was not set to -1.');
      }
      const problem = await this.checkAssignments(req.assignments);
      if (problem) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, problem);
      partitions = req.assignments.length;
      rf = req.assignments[0]!.brokerIds.length;
    }
    if (partitions === -1) partitions = this.defaults.partitions;
    if (rf === -1) rf = this.defaults.replicationFactor;
    if (partitions <= 0) return fail(ErrorCode.INVALID_PARTITIONS, 'Number of partitions was set to an invalid non-positive value.');
    if (partitions > TOPIC_PARTITIONS_MAX) {
      return fail(ErrorCode.INVALID_PARTITIONS, `Number of partitions ${partitions} exceeds the maximum of ${TOPIC_PARTITIONS_MAX} per topic.`);
    }
    if (rf <= 0) return fail(ErrorCode.INVALID_REPLICATION_FACTOR, 'Replication factor must be larger than 0, or -1 to use the default value.');

    const configs: Record<string, string> = {};
    for (const c of req.configs) {
      if (c.name in configs) return fail(ErrorCode.INVALID_CONFIG, `Duplicate topic config: ${c.name}`);
      const problem = validateTopicConfig(c.name, c.value);
      if (problem) return fail(ErrorCode.INVALID_CONFIG, problem);
      configs[c.name] = c.value!;
    }

    const existing = await this.store.topics();
    if (existing.some((t) => t.name === req.name)) return fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${req.name}' already exists.`);
    const collides = existing.find((t) => collisionKey(t.name) === collisionKey(req.name));
    if (collides) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic '${req.name}' collides with existing topic: ${collides.name}`);
    // Kafka would make a client's topic of such a name an ordinary topic listed as internal.
    if (isInternalTopic(req.name) && !internal) {
      return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic '${req.name}' is an internal topic: Strait creates it when the first ${req.name === OFFSETS_TOPIC_NAME ? 'consumer group' : 'transactional id'} looks for its coordinator.`);
    }

    const draft = { name: req.name, topicId: randomKafkaUuid(), partitionCount: partitions, replicationFactor: rf, configs, leaderId: this.leader().nodeId, leaderIncarnation: this.leader().incarnation };
    if (validateOnly) {
      return { errorCode: ErrorCode.NONE, errorMessage: null, topic: { ...draft, createdAtMs: Date.now() } };
    }
    const topic = await this.store.createTopic(draft);
    if (!topic) return fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${req.name}' already exists.`);
    this.listener.created(topic);
    this.log.info('topic created', { topic: topic.name, topicId: topic.topicId, partitions, replicationFactor: rf });
    return { errorCode: ErrorCode.NONE, errorMessage: null, topic };
  }

  private async checkAssignments(assignments: TopicRequest['assignments']): Promise<string | null> {
    const brokers = new Set((await this.store.brokers()).map((b) => b.nodeId));
    const seen = new Set<number>();
    const rf = assignments[0]!.brokerIds.length;
    for (const a of assignments) {
      if (seen.has(a.partitionIndex)) return `Partition ${a.partitionIndex} is assigned more than once.`;
      seen.add(a.partitionIndex);
      if (a.brokerIds.length === 0) return `The manual partition assignment includes an empty replica list for partition ${a.partitionIndex}.`;
      if (a.brokerIds.length !== rf) return 'All partitions in the manual partition assignment must have the same number of replicas.';
      if (new Set(a.brokerIds).size !== a.brokerIds.length) return `The manual partition assignment includes duplicate replicas for partition ${a.partitionIndex}.`;
      for (const id of a.brokerIds) {
        if (!brokers.has(id)) return `The manual partition assignment includes broker ${id}, but no such broker is registered.`;
      }
    }
    for (let p = 0; p < assignments.length; p++) {
      if (!seen.has(p)) return `Partitions should be consecutive and start at 0; partition ${p} is missing.`;
    }
    return null;
  }

  async delete(topic: TopicRecord): Promise<boolean> {
    const deleted = await this.store.deleteTopic(topic.topicId);
    if (deleted) {
      this.listener.deleted(topic);
      this.log.info('topic deleted', { topic: topic.name, topicId: topic.topicId });
    }
    return deleted;
  }

  /** Replaces a topic's config overrides after validating every one. Returns an error or null. */
  async setConfigs(topic: TopicRecord, configs: Record<string, string>, validateOnly: boolean): Promise<{ errorCode: number; message: string } | null> {
    if (isInternalTopic(topic.name)) return internalTopicRefusal(topic.name, 'change the configs of');
    for (const [name, value] of Object.entries(configs)) {
      const problem = validateTopicConfig(name, value);
      if (problem) return { errorCode: ErrorCode.INVALID_CONFIG, message: problem };
    }
    if (validateOnly) return null;
    await this.store.setTopicConfigs(topic.topicId, configs);
    const updated = { ...topic, configs: { ...configs } };
    this.listener.changed(updated);
    this.log.info('topic configs changed', { topic: topic.name, configs });
    return null;
  }

  /** Grows a topic to newCount partitions (CreatePartitions). */
  async addPartitions(topic: TopicRecord, newCount: number, validateOnly: boolean): Promise<{ errorCode: number; message: string } | null> {
    if (isInternalTopic(topic.name)) return internalTopicRefusal(topic.name, 'add partitions to');
    if (newCount < topic.partitionCount) {
      return { errorCode: ErrorCode.INVALID_PARTITIONS, message: `Topic currently has ${topic.partitionCount} partitions, which is higher than the requested ${newCount}.` };
    }
    if (newCount === topic.partitionCount) {
      return { errorCode: ErrorCode.INVALID_PARTITIONS, message: `Topic already has ${topic.partitionCount} partitions.` };
    }
    if (newCount > TOPIC_PARTITIONS_MAX) {
      return { errorCode: ErrorCode.INVALID_PARTITIONS, message: `Number of partitions ${newCount} exceeds the maximum of ${TOPIC_PARTITIONS_MAX} per topic.` };
    }
    if (validateOnly) return null;
    if (!(await this.store.addPartitions(topic.topicId, newCount, this.leader().nodeId, this.leader().incarnation))) {
      return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: `Topic ${topic.name} no longer exists.` };
    }
    this.listener.changed({ ...topic, partitionCount: newCount });
    this.log.info('partitions added', { topic: topic.name, from: topic.partitionCount, to: newCount });
    return null;
  }
}
