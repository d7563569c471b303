// The group coordinator of this broker: every consumer group (classic and KIP-848) and its committed
// offsets. A single broker coordinates every group, so FindCoordinator always names this node.
//
// State lives in memory for the request path and in the metadata store for restarts: offsets are
// durable before an OffsetCommit is answered, a classic group is stored when its assignment is set
// (SyncGroup from the leader) and when it becomes empty, a consumer group whenever a heartbeat
// changed it. Each group's operations run one at a time (KeyedMutex); JoinGroup and SyncGroup wait
// outside the lock for the rebalance to progress.
import type { Logger } from '../common/logger.ts';
import type { TopicCatalog } from '../cluster/catalog.ts';
import type { CommittedOffsetRecord, MetadataStore } from '../metadata/store.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import { StraitError } from '../common/errors.ts';
import type { GroupCoordinatorConfig } from './group-config.ts';
import { KeyedMutex, KeyedTimers } from './timers.ts';
import { CommittedOffsets, OffsetWriter } from './offsets.ts';
import { ClassicGroup, classicGroupFromJson, classicGroupToJson, joinError, reject, rejectionCode, syncError } from './classic-group.ts';
import type { JoinResult, SyncResult } from './classic-group.ts';
import { ClassicCoordinator } from './classic-coordinator.ts';
import type { JoinRequest, LeaveResult, SyncRequest, HeartbeatRequest } from './classic-coordinator.ts';
import { ConsumerGroup, consumerGroupFromJson, consumerGroupToJson } from './consumer-group.ts';
import { ConsumerCoordinator } from './consumer-coordinator.ts';
import type { ConsumerHeartbeatRequest, ConsumerHeartbeatResult } from './consumer-coordinator.ts';
import { groupTimerPrefix } from './runtime.ts';
import type { Group, GroupRuntime } from './runtime.ts';

export type { JoinRequest, SyncRequest, HeartbeatRequest, LeaveResult } from './classic-coordinator.ts';
export type { ConsumerHeartbeatRequest, ConsumerHeartbeatResult } from './consumer-coordinator.ts';
export type { JoinResult, SyncResult } from './classic-group.ts';

export interface OffsetCommitRequest {
  groupId: string;
  generationIdOrMemberEpoch: number;
  memberId: string;
  groupInstanceId: string | null;
  /** -1 unless OffsetCommit v2-v4 asked for an explicit retention. */
  retentionTimeMs: number;
  topics: { name: string; partitions: { partitionIndex: number; committedOffset: number; committedLeaderEpoch: number; committedMetadata: string | null }[] }[];
  apiVersion: number;
}

export interface TopicPartitionResults {
  name: string;
  partitions: { partitionIndex: number; errorCode: number }[];
}

export interface FetchedOffsets {
  errorCode: number;
  topics: { name: string; partitions: { partitionIndex: number; committedOffset: number; committedLeaderEpoch: number; metadata: string; errorCode: number }[] }[];
}

export interface DescribedClassicGroup {
  errorCode: number;
  groupId: string;
  groupState: string;
  protocolType: string;
  protocolData: string;
  members: { memberId: string; groupInstanceId: string | null; clientId: string; clientHost: string; memberMetadata: Buffer; memberAssignment: Buffer }[];
}

export interface ListedGroup {
  groupId: string;
  protocolType: string;
  groupState: string;
  groupType: string;
}

export interface DescribedConsumerGroup {
  errorCode: number;
  errorMessage: string | null;
  groupId: string;
  groupState: string;
  groupEpoch: number;
  assignmentEpoch: number;
  assignorName: string;
  members: {
    memberId: string;
    instanceId: string | null;
    rackId: string | null;
    memberEpoch: number;
    clientId: string;
    clientHost: string;
    subscribedTopicNames: string[];
    subscribedTopicRegex: string | null;
    assignment: { topicPartitions: { topicId: string; topicName: string; partitions: number[] }[] };
    targetAssignment: { topicPartitions: { topicId: string; topicName: string; partitions: number[] }[] };
  }[];
}

export interface GroupCoordinatorOptions {
  store: MetadataStore;
  catalog: TopicCatalog;
  config: GroupCoordinatorConfig;
  log: Logger;
  now?: () => number;
}

const EMPTY = Buffer.alloc(0);

export class GroupCoordinator implements GroupRuntime {
  readonly config: GroupCoordinatorConfig;
  readonly log: Logger;
  readonly timers = new KeyedTimers();
  readonly catalog: TopicCatalog;
  readonly groups = new Map<string, Group>();
  readonly offsets = new CommittedOffsets();
  private readonly store: MetadataStore;
  private readonly writer: OffsetWriter;
  private readonly mutex = new KeyedMutex();
  private readonly classic: ClassicCoordinator;
  private readonly consumer: ConsumerCoordinator;
  private readonly clock: () => number;
  private persistChain: Promise<void> = Promise.resolve();
  private active = false;

  constructor(opts: GroupCoordinatorOptions) {
    this.store = opts.store;
    this.catalog = opts.catalog;
    this.config = opts.config;
    this.log = opts.log;
    this.clock = opts.now ?? Date.now;
    this.writer = new OffsetWriter(opts.store);
    this.classic = new ClassicCoordinator(this);
    this.consumer = new ConsumerCoordinator(this);
  }

  now(): number {
    return this.clock();
  }

  /** Loads groups and offsets from the metadata store and starts serving. */
  async load(): Promise<void> {
    this.groups.clear();
    for (const r of await this.store.groups()) {
      try {
        this.groups.set(r.groupId, r.groupType === 'consumer' ? consumerGroupFromJson(r.groupId, r.state) : classicGroupFromJson(r.groupId, r.state));
      } catch (err) {
        this.log.error('cannot load stored group; it starts empty', { groupId: r.groupId, err: err as Error });
      }
    }
    this.offsets.load(await this.store.committedOffsets());
    // Offsets without a group belong to a groupless consumer: a simple classic group, as Kafka loads it.
    for (const groupId of this.offsets.groupIds()) if (!this.groups.has(groupId)) this.groups.set(groupId, new ClassicGroup(groupId));
    for (const g of this.groups.values()) {
      if (g.type === 'classic') this.classic.onLoaded(g);
      else this.consumer.onLoaded(g);
    }
    this.active = true;
    this.log.info('group coordinator loaded', { groups: this.groups.size, groupsWithOffsets: this.offsets.groupIds().length });
  }

  /** Stops serving: parked JoinGroup/SyncGroup requests get NOT_COORDINATOR, timers stop. */
  shutdown(): void {
    this.active = false;
    this.timers.clear();
    for (const g of this.groups.values()) if (g.type === 'classic' && !g.is('Dead')) this.classic.onUnloaded(g);
  }

  // --- GroupRuntime ------------------------------------------------------------------------------

  runLocked(groupId: string, what: string, fn: () => void | Promise<void>): void {
    if (!this.active) return;
    this.mutex.run(groupId, fn).catch((err: unknown) => this.log.error('group operation failed', { groupId, what, err: err as Error, stack: (err as Error)?.stack }));
  }

  persist(group: Group, assignment?: Map<string, Buffer>): Promise<void> {
    const state = group.type === 'classic' ? classicGroupToJson(group, assignment) : consumerGroupToJson(group);
    const record = { groupId: group.groupId, groupType: group.type, state, updatedAtMs: this.now() };
    const write = this.persistChain.then(() => this.store.saveGroup(record));
    this.persistChain = write.catch(() => undefined);
    return write;
  }

  dropGroup(group: Group): void {
    if (this.groups.get(group.groupId) === group) this.groups.delete(group.groupId);
    this.timers.cancelPrefix(groupTimerPrefix(group.groupId));
    if (group.type === 'classic' && !group.is('Dead')) group.transitionTo('Dead', this.now());
  }

  // --- classic protocol --------------------------------------------------------------------------

  /**
   * Set by the link manager: why a group may not start here yet (it still has members on a linked
   * source cluster; a group moves as a whole), or null. Consulted for groups not used here yet.
   */
  joinGate: ((groupId: string) => string | null) | null = null;

  /**
   * Set by the link manager: awaited under the group's lock before a client's first offset commit
   * of a group here is written, so the link records the group as Strait's (durably) before the
   * commit is acknowledged and never copies a source group's offsets over it. Simple consumers
   * (generation -1, assign()) commit without members, so membership alone does not show use.
   */
  offsetCommitHook: ((groupId: string) => Promise<void>) | null = null;
  /** Groups a client committed offsets for here since start (the link manager keeps this durable). */
  private readonly committedHere = new Set<string>();

  /** A retriable answer for a group that is gated: its consumers retry until the gate opens. */
  private gated(groupId: string): string | null {
    if (!this.joinGate || this.usedHere(groupId)) return null;
    return this.joinGate(groupId);
  }

  async joinGroup(req: JoinRequest): Promise<JoinResult> {
    if (!this.active) return joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, req.memberId);
    if (this.gated(req.groupId)) return joinError(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, req.memberId);
    if (req.groupId === '') return joinError(ErrorCode.INVALID_GROUP_ID, req.memberId);
    if (req.sessionTimeoutMs < this.config.minSessionTimeoutMs || req.sessionTimeoutMs > this.config.maxSessionTimeoutMs) {
      return joinError(ErrorCode.INVALID_SESSION_TIMEOUT, req.memberId);
    }
    const parked = await this.mutex.run(req.groupId, () => this.classic.join(req));
    return parked.promise;
  }

  async syncGroup(req: SyncRequest): Promise<SyncResult> {
    if (!this.active) return syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (req.groupId === '') return syncError(ErrorCode.INVALID_GROUP_ID);
    const parked = await this.mutex.run(req.groupId, () => this.classic.sync(req));
    return parked.promise;
  }

  async heartbeat(req: HeartbeatRequest): Promise<number> {
    if (!this.active) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (req.groupId === '') return ErrorCode.INVALID_GROUP_ID;
    return this.mutex.run(req.groupId, () => this.classic.heartbeat(req));
  }

  async leaveGroup(groupId: string, members: { memberId: string; groupInstanceId: string | null; reason: string | null }[]): Promise<LeaveResult> {
    if (!this.active) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    if (groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID, members: [] };
    return this.mutex.run(groupId, () => this.classic.leave(groupId, members));
  }

  // --- KIP-848 -----------------------------------------------------------------------------------

  async consumerGroupHeartbeat(req: ConsumerHeartbeatRequest): Promise<ConsumerHeartbeatResult> {
    if (!this.active) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: null, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null };
    const gate = this.gated(req.groupId);
    if (gate) return { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, errorMessage: gate, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null };
    return this.mutex.run(req.groupId, () => this.consumer.heartbeat(req));
  }

  consumerGroupDescribe(groupIds: string[]): DescribedConsumerGroup[] {
    return groupIds.map((groupId) => {
      const empty = { groupId, errorMessage: null, groupState: '', groupEpoch: 0, assignmentEpoch: 0, assignorName: '', members: [] };
      if (!this.active) return { ...empty, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE };
      if (groupId === '') return { ...empty, errorCode: ErrorCode.INVALID_GROUP_ID };
      const g = this.groups.get(groupId);
      if (!g) return { ...empty, errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: `Group ${groupId} not found.` };
      if (g.type !== 'consumer') return { ...empty, errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: `Group ${groupId} is not a consumer group.` };
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        groupId,
        groupState: g.state(),
        groupEpoch: g.groupEpoch,
        assignmentEpoch: g.assignmentEpoch,
        assignorName: this.consumer.preferredAssignor(g),
        members: [...g.members.values()].map((m) => ({
          memberId: m.memberId,
          instanceId: m.instanceId,
          rackId: m.rackId,
          memberEpoch: m.memberEpoch,
          clientId: m.clientId,
          clientHost: m.clientHost,
          subscribedTopicNames: m.subscribedTopicNames,
          subscribedTopicRegex: m.subscribedTopicRegex,
          assignment: { topicPartitions: this.consumer.describeAssignment(m.assigned) },
          targetAssignment: { topicPartitions: this.consumer.describeAssignment(g.targetAssignment.get(m.memberId) ?? new Map()) },
        })),
      };
    });
  }

  // --- offsets -----------------------------------------------------------------------------------

  async commitOffsets(req: OffsetCommitRequest): Promise<TopicPartitionResults[]> {
    const all = (errorCode: number) => req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) }));
    if (!this.active) return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    return this.mutex.run(req.groupId, async () => {
      let group = this.groups.get(req.groupId);
      let created = false;
      let partitionCheck: ((topic: string, partition: number) => number) | null = null;
      try {
        if (!group) {
          // No group and generation -1: the admin client or a consumer without group management
          // commits for a "simple" group, created here.
          if (req.generationIdOrMemberEpoch >= 0) reject(req.apiVersion >= 9 ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.ILLEGAL_GENERATION, `group ${req.groupId} does not exist`);
          group = new ClassicGroup(req.groupId, this.now());
          created = true;
        }
        if (group.type === 'classic') {
          this.classic.validateOffsetCommit(group, req.memberId, req.groupInstanceId, req.generationIdOrMemberEpoch);
          this.classic.touchMember(group, req.memberId);
        } else {
          partitionCheck = this.consumer.validateOffsetCommit(group, req.memberId, req.generationIdOrMemberEpoch, req.apiVersion);
        }
      } catch (err) {
        const code = rejectionCode(err);
        if (code === null) throw err;
        return all(code);
      }
      const now = this.now();
      const expireTimestampMs = req.retentionTimeMs >= 0 ? now + req.retentionTimeMs : null;
      const records: CommittedOffsetRecord[] = [];
      const results = req.topics.map((t) => {
        const topic = this.catalog.byName(t.name);
        return {
          name: t.name,
          partitions: t.partitions.map((p) => {
            let errorCode: number = ErrorCode.NONE;
            if (p.committedMetadata !== null && Buffer.byteLength(p.committedMetadata) > this.config.offsetMetadataBytesMax) errorCode = ErrorCode.OFFSET_METADATA_TOO_LARGE;
            else if (!topic || p.partitionIndex < 0 || p.partitionIndex >= topic.partitionCount) errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
            else if (partitionCheck !== null && (errorCode = partitionCheck(t.name, p.partitionIndex)) !== ErrorCode.NONE) {
              // refused for this partition (KIP-1251)
            } else {
              records.push({
                groupId: req.groupId,
                topic: t.name,
                partitionIndex: p.partitionIndex,
                committedOffset: p.committedOffset,
                leaderEpoch: p.committedLeaderEpoch,
                metadata: p.committedMetadata ?? '',
                commitTimestampMs: now,
                expireTimestampMs,
              });
            }
            return { partitionIndex: p.partitionIndex, errorCode };
          }),
        };
      });
      if (records.length === 0) return results;
      try {
        if (!this.committedHere.has(req.groupId)) {
          await this.offsetCommitHook?.(req.groupId);
          this.committedHere.add(req.groupId);
        }
        await this.writer.write(records);
      } catch (err) {
        this.log.warn('could not store committed offsets', { groupId: req.groupId, err: err as Error });
        for (const t of results) for (const p of t.partitions) if (p.errorCode === ErrorCode.NONE) p.errorCode = ErrorCode.COORDINATOR_NOT_AVAILABLE;
        return results;
      }
      for (const r of records) {
        this.offsets.set(r.groupId, r.topic, r.partitionIndex, {
          committedOffset: r.committedOffset,
          leaderEpoch: r.leaderEpoch,
          metadata: r.metadata ?? '',
          commitTimestampMs: r.commitTimestampMs,
          expireTimestampMs: r.expireTimestampMs,
        });
      }
      if (created) this.groups.set(req.groupId, group);
      return results;
    });
  }

  /** OffsetFetch for one group; topics null means every committed offset of the group. */
  async fetchOffsets(groupId: string, topics: { name: string; partitionIndexes: number[] }[] | null, memberId: string | null, memberEpoch: number): Promise<FetchedOffsets> {
    if (!this.active) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, topics: [] };
    const group = this.groups.get(groupId);
    let known = group !== undefined && !(group.type === 'classic' && group.is('Dead'));
    if (group?.type === 'consumer') {
      try {
        this.consumer.validateOffsetFetch(group, memberId, memberEpoch);
      } catch (err) {
        const code = rejectionCode(err);
        if (code === null) throw err;
        return { errorCode: code, topics: [] };
      }
    }
    const offsets = known ? this.offsets.group(groupId) : undefined;
    if (topics === null) {
      return {
        errorCode: ErrorCode.NONE,
        topics: [...(offsets ?? new Map())].map(([name, parts]) => ({
          name,
          partitions: [...parts].sort(([a], [b]) => a - b).map(([partitionIndex, o]) => ({ partitionIndex, committedOffset: o.committedOffset, committedLeaderEpoch: o.leaderEpoch, metadata: o.metadata, errorCode: ErrorCode.NONE })),
        })),
      };
    }
    known = known && offsets !== undefined;
    return {
      errorCode: ErrorCode.NONE,
      topics: topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) => {
          const o = known ? offsets!.get(t.name)?.get(partitionIndex) : undefined;
          return o
            ? { partitionIndex, committedOffset: o.committedOffset, committedLeaderEpoch: o.leaderEpoch, metadata: o.metadata, errorCode: ErrorCode.NONE }
            : { partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE };
        }),
      })),
    };
  }

  async deleteOffsets(groupId: string, topics: { name: string; partitions: number[] }[]): Promise<{ errorCode: number; topics: TopicPartitionResults[] }> {
    if (!this.active) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, topics: [] };
    if (groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID, topics: [] };
    return this.mutex.run(groupId, async () => {
      const group = this.groups.get(groupId);
      if (!group || (group.type === 'classic' && group.is('Dead'))) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, topics: [] };
      if (group.type === 'classic' && !group.isEmpty() && !group.usesConsumerProtocol()) return { errorCode: ErrorCode.NON_EMPTY_GROUP, topics: [] };
      const toDelete: { topic: string; partitionIndex: number }[] = [];
      const results = topics.map((t) => {
        const subscribed = group.type === 'classic' ? group.isSubscribedToTopic(t.name) : this.consumer.isSubscribedToTopic(group, t.name);
        return {
          name: t.name,
          partitions: t.partitions.map((partitionIndex) => {
            if (subscribed) return { partitionIndex, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC };
            if (this.offsets.get(groupId, t.name, partitionIndex)) toDelete.push({ topic: t.name, partitionIndex });
            return { partitionIndex, errorCode: ErrorCode.NONE };
          }),
        };
      });
      if (toDelete.length > 0) {
        await this.store.deleteOffsets(groupId, toDelete);
        for (const d of toDelete) this.offsets.delete(groupId, d.topic, d.partitionIndex);
      }
      return { errorCode: ErrorCode.NONE, topics: results };
    });
  }

  // --- admin -------------------------------------------------------------------------------------

  describeGroups(groupIds: string[]): DescribedClassicGroup[] {
    return groupIds.map((groupId) => {
      const dead = { errorCode: ErrorCode.NONE, groupId, groupState: 'Dead', protocolType: '', protocolData: '', members: [] };
      if (!this.active) return { ...dead, groupState: '', errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE };
      const g = this.groups.get(groupId);
      if (!g || g.type !== 'classic') return dead;
      const stable = g.is('Stable');
      return {
        errorCode: ErrorCode.NONE,
        groupId,
        groupState: g.state,
        protocolType: g.protocolType ?? '',
        protocolData: stable ? (g.protocolName ?? '') : '',
        members: [...g.members.values()].map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: stable ? m.metadata(g.protocolName) : EMPTY,
          memberAssignment: stable ? m.assignment : EMPTY,
        })),
      };
    });
  }

  listGroups(statesFilter: string[], typesFilter: string[]): { errorCode: number; groups: ListedGroup[] } {
    if (!this.active) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, groups: [] };
    const states = new Set(statesFilter.map((s) => s.toLowerCase()));
    const types = new Set(typesFilter.map((s) => s.toLowerCase()));
    const out: ListedGroup[] = [];
    for (const g of this.groups.values()) {
      const listed =
        g.type === 'classic'
          ? { groupId: g.groupId, protocolType: g.protocolType ?? '', groupState: g.state, groupType: 'classic' }
          : { groupId: g.groupId, protocolType: 'consumer', groupState: g.state(), groupType: 'consumer' };
      if (listed.groupState === 'Dead') continue;
      if (states.size > 0 && !states.has(listed.groupState.toLowerCase())) continue;
      if (types.size > 0 && !types.has(listed.groupType)) continue;
      out.push(listed);
    }
    out.sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
    return { errorCode: ErrorCode.NONE, groups: out };
  }

  async deleteGroups(groupIds: string[]): Promise<{ groupId: string; errorCode: number }[]> {
    const out: { groupId: string; errorCode: number }[] = [];
    for (const groupId of groupIds) {
      if (!this.active) {
        out.push({ groupId, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE });
        continue;
      }
      out.push({ groupId, errorCode: await this.mutex.run(groupId, () => this.deleteGroup(groupId)) });
    }
    return out;
  }

  private async deleteGroup(groupId: string): Promise<number> {
    const g = this.groups.get(groupId);
    if (!g || (g.type === 'classic' && g.is('Dead'))) return ErrorCode.GROUP_ID_NOT_FOUND;
    if (!g.isEmpty()) return ErrorCode.NON_EMPTY_GROUP;
    await this.store.deleteGroup(groupId);
    this.offsets.deleteGroup(groupId);
    this.dropGroup(g);
    this.log.info('group deleted', { groupId });
    return ErrorCode.NONE;
  }

  // --- housekeeping ------------------------------------------------------------------------------

  /** A deleted topic's committed offsets go with it. */
  async onTopicDeleted(topic: string): Promise<void> {
    const groups = this.offsets.deleteTopic(topic);
    if (groups.length > 0) await this.store.deleteTopicOffsets(topic);
  }

  /**
   * offsets.retention.minutes: removes committed offsets nobody uses any more (Kafka's rules: for an
   * empty group, counted from when it became empty; for a groupless consumer, or topics a
   * consumer group no longer subscribes to, from the commit), then empty groups without offsets.
   * Returns how many offsets and groups were removed.
   */
  async expireOffsets(nowMs = this.now()): Promise<{ offsets: number; groups: number }> {
    let removedOffsets = 0;
    let removedGroups = 0;
    for (const groupId of [...this.groups.keys()]) {
      const r = await this.mutex.run(groupId, () => this.expireGroupOffsets(groupId, nowMs));
      removedOffsets += r.offsets;
      removedGroups += r.group ? 1 : 0;
    }
    if (removedOffsets + removedGroups > 0) this.log.info('expired committed offsets', { offsets: removedOffsets, groups: removedGroups });
    return { offsets: removedOffsets, groups: removedGroups };
  }

  private async expireGroupOffsets(groupId: string, nowMs: number): Promise<{ offsets: number; group: boolean }> {
    const g = this.groups.get(groupId);
    if (!g || !this.active) return { offsets: 0, group: false };
    const base = this.expiryBase(g);
    const expired: { topic: string; partitionIndex: number }[] = [];
    let allExpired = true;
    if (base !== null) {
      for (const [topic, parts] of this.offsets.group(groupId) ?? new Map()) {
        const subscribed = g.type === 'classic' ? g.isSubscribedToTopic(topic) : this.consumer.isSubscribedToTopic(g, topic);
        for (const [partitionIndex, o] of parts) {
          const isExpired = !subscribed && (o.expireTimestampMs !== null ? nowMs >= o.expireTimestampMs : nowMs - base(o.commitTimestampMs) >= this.config.offsetsRetentionMs);
          if (isExpired) expired.push({ topic, partitionIndex });
          else allExpired = false;
        }
      }
    } else {
      allExpired = !this.offsets.has(groupId);
    }
    if (expired.length > 0) {
      await this.store.deleteOffsets(groupId, expired);
      for (const e of expired) this.offsets.delete(groupId, e.topic, e.partitionIndex);
    }
    if (allExpired && g.isEmpty()) {
      await this.store.deleteGroup(groupId);
      this.offsets.deleteGroup(groupId);
      this.dropGroup(g);
      return { offsets: expired.length, group: true };
    }
    return { offsets: expired.length, group: false };
  }

  /** From when an offset's retention counts, or null when the group's offsets do not expire now. */
  private expiryBase(g: Group): ((commitTimestampMs: number) => number) | null {
    if (g.type === 'consumer') return (ts) => ts;
    if (g.protocolType === null) return (ts) => ts; // groupless consumer
    if (g.is('Empty')) return (ts) => g.currentStateTimestampMs ?? ts;
    if (g.usesConsumerProtocol() && g.subscribedTopics !== null && g.is('Stable')) return (ts) => ts;
    return null;
  }

  /** Committed offsets of a group (for tests and tools). */
  committed(groupId: string): ReturnType<CommittedOffsets['group']> {
    return this.offsets.group(groupId);
  }

  /** Waits for group state writes issued so far (tests). */
  async flush(): Promise<void> {
    await this.persistChain;
  }

  isConsumerGroup(groupId: string): boolean {
    return this.groups.get(groupId) instanceof ConsumerGroup;
  }

  // --- transactional offsets (the transaction coordinator's hooks, see coordinator/transactions.ts) ---

  /** Whether an open transaction holds an offset of the group and partition not yet committed;
   *  OffsetFetch with requireStable answers UNSTABLE_OFFSET_COMMIT for it (KIP-447). The broker
   *  sets it to the transaction coordinator's answer. */
  pendingTxnOffset: (groupId: string, topic: string, partition: number) => boolean = () => false;

  /** The group checks of a TxnOffsetCommit (Kafka's validateTransactionalOffsetCommit): an error code. */
  async validateTxnOffsetCommit(groupId: string, memberId: string, groupInstanceId: string | null, generationId: number): Promise<number> {
    if (!this.active) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    return this.mutex.run(groupId, () => {
      const group = this.groups.get(groupId);
      // No group: a producer outside group management commits for a simple group (created on commit).
      if (!group) return generationId < 0 ? ErrorCode.NONE : ErrorCode.ILLEGAL_GENERATION;
      if (group.type === 'classic' && group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
      // Before v3 a TxnOffsetCommit names no member: accepted whatever the group's state.
      if (generationId < 0 && memberId === '' && groupInstanceId === null) return ErrorCode.NONE;
      try {
        if (group.type === 'classic') this.classic.validateOffsetCommit(group, memberId, groupInstanceId, generationId);
        else this.consumer.validateOffsetCommit(group, memberId, generationId, 9);
      } catch (err) {
        const code = rejectionCode(err);
        if (code === null) throw err;
        return code === ErrorCode.STALE_MEMBER_EPOCH ? ErrorCode.ILLEGAL_GENERATION : code;
      }
      return ErrorCode.NONE;
    });
  }

  /** Makes the offsets of a committed transaction committed offsets: durable first, then visible to
   *  OffsetFetch. A group that does not exist becomes a simple classic group, as with OffsetCommit. */
  async commitTxnOffsets(records: CommittedOffsetRecord[]): Promise<void> {
    const byGroup = new Map<string, CommittedOffsetRecord[]>();
    for (const r of records) byGroup.set(r.groupId, [...(byGroup.get(r.groupId) ?? []), r]);
    for (const [groupId, list] of byGroup) {
      await this.mutex.run(groupId, () => this.writeOffsets(groupId, list));
    }
  }

  // --- offsets synced from a linked source cluster (see link/group-sync.ts) -----------------------

  /**
   * Whether consumers have used the group here: members now, or a generation (group epoch) that
   * only a join moves past 0, so a group whose consumers came and went is recognised too.
   */
  usedHere(groupId: string): boolean {
    if (this.committedHere.has(groupId)) return true;
    const g = this.groups.get(groupId);
    if (!g) return false;
    return g.members.size > 0 || (g.type === 'classic' ? g.generationId > 0 : g.groupEpoch > 0);
  }

  /**
   * Copies committed offsets from a source cluster into a group no consumer has used here, durable
   * first. Checked under the group's lock: a used group gets nothing ('active'), so a consumer that
   * moved here never has its commits overwritten.
   */
  async importOffsets(groupId: string, records: CommittedOffsetRecord[]): Promise<'imported' | 'active'> {
    if (!this.active) throw new StraitError('STRAIT_COORDINATOR_UNAVAILABLE', 'the group coordinator is not serving');
    return this.mutex.run(groupId, async () => {
      if (this.usedHere(groupId)) return 'active' as const;
      if (records.length > 0) await this.writeOffsets(groupId, records);
      return 'imported' as const;
    });
  }

  /** Offsets written outside OffsetCommit (a committed transaction, a link): durable, then visible.
   *  A group that does not exist becomes a simple classic group, as with OffsetCommit. Under the lock. */
  private async writeOffsets(groupId: string, records: CommittedOffsetRecord[]): Promise<void> {
    await this.writer.write(records);
    for (const r of records) {
      this.offsets.set(groupId, r.topic, r.partitionIndex, {
        committedOffset: r.committedOffset,
        leaderEpoch: r.leaderEpoch,
        metadata: r.metadata ?? '',
        commitTimestampMs: r.commitTimestampMs,
        expireTimestampMs: r.expireTimestampMs,
      });
    }
    if (!this.groups.has(groupId)) this.groups.set(groupId, new ClassicGroup(groupId, this.now()));
  }
}
