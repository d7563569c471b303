// ConsumerGroupHeartbeat (KIP-848): joining, heartbeating, leaving, and the coordinator's side of
// the protocol: group epochs, target assignments from the server-side assignors, member
// reconciliation, session and rebalance timeouts, static membership and regex subscriptions.
// Every entry point runs under the group's lock; state is stored before the response is sent.
import { randomBytes } from 'node:crypto';
import { isInternalTopic } from '../cluster/topics.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import { reject, rejectionCode } from './classic-group.ts';
import { ASSIGNORS } from './assignors.ts';
import type { Assignment } from './assignors.ts';
import {
  ConsumerGroup,
  ConsumerMember,
  LEAVE_GROUP_MEMBER_EPOCH,
  LEAVE_GROUP_STATIC_MEMBER_EPOCH,
  assignmentsEqual,
  checkMemberEpoch,
  consumerGroupToJson,
  reconcile,
} from './consumer-group.ts';
import type { OwnedPartitions, TopicMetadata } from './consumer-group.ts';
import { timerKey } from './runtime.ts';
import type { GroupRuntime } from './runtime.ts';

export interface ConsumerHeartbeatRequest {
  groupId: string;
  memberId: string;
  memberEpoch: number;
  instanceId: string | null;
  rackId: string | null;
  rebalanceTimeoutMs: number;
  subscribedTopicNames: string[] | null;
  subscribedTopicRegex: string | null;
  serverAssignor: string | null;
  topicPartitions: OwnedPartitions;
  clientId: string;
  clientHost: string;
}

export interface ConsumerHeartbeatResult {
  errorCode: number;
  errorMessage: string | null;
  memberId: string | null;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  assignment: { topicId: string; partitions: number[] }[] | null;
}

const sessionKey = (groupId: string, memberId: string) => timerKey(groupId, 'session', memberId);
const rebalanceKey = (groupId: string, memberId: string) => timerKey(groupId, 'rebalance', memberId);

/** Compiled subscription regexes; Kafka matches the whole topic name (RE2J matches()). */
const REGEX_CACHE_ENTRIES_MAX = 1000;
const regexCache = new Map<string, RegExp | null>();

export function compileSubscriptionRegex(source: string): RegExp | null {
  let re = regexCache.get(source);
  if (re === undefined) {
    try {
      re = new RegExp(`^(?:${source})$`, 'u');
    } catch {
      re = null;
    }
    if (regexCache.size >= REGEX_CACHE_ENTRIES_MAX) regexCache.clear();
    regexCache.set(source, re);
  }
  return re;
}

/** A member id like the ones Kafka generates (a random UUID in base64url). */
function newMemberId(): string {
  return randomBytes(16).toString('base64url');
}

export class ConsumerCoordinator {
  private readonly rt: GroupRuntime;

  constructor(rt: GroupRuntime) {
    this.rt = rt;
  }

  async heartbeat(req: ConsumerHeartbeatRequest): Promise<ConsumerHeartbeatResult> {
    try {
      this.validate(req);
      if (req.memberEpoch === LEAVE_GROUP_MEMBER_EPOCH || req.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) return await this.leave(req);
      return await this.joinOrHeartbeat(req);
    } catch (err) {
      const code = rejectionCode(err);
      if (code === null) throw err;
      return { errorCode: code, errorMessage: (err as Error).message, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null };
    }
  }

  private validate(req: ConsumerHeartbeatRequest): void {
    const invalid = (msg: string) => reject(ErrorCode.INVALID_REQUEST, msg);
    if (req.groupId === '') invalid('GroupId can\'t be empty.');
    if (req.instanceId === '') invalid('InstanceId can\'t be empty.');
    if (req.rackId === '') invalid('RackId can\'t be empty.');
    if (req.subscribedTopicRegex !== null && req.subscribedTopicRegex !== '' && compileSubscriptionRegex(req.subscribedTopicRegex) === null) {
      reject(ErrorCode.INVALID_REGULAR_EXPRESSION, `SubscribedTopicRegex ${req.subscribedTopicRegex} is not a valid regular expression.`);
    }
    if (req.memberEpoch > 0 || req.memberEpoch === LEAVE_GROUP_MEMBER_EPOCH) {
      if (req.memberId === '') invalid('MemberId can\'t be empty.');
    } else if (req.memberEpoch === 0) {
      if (req.rebalanceTimeoutMs === -1) invalid('RebalanceTimeoutMs must be provided in first request.');
      if (req.topicPartitions === null || req.topicPartitions.length > 0) invalid('TopicPartitions must be empty when (re-)joining.');
      // An empty list is a subscription: Kafka's Java consumer joins with one when its pattern
      // matches no topic yet (Kafka 4.3 checks only that one of the two is there).
      if (req.subscribedTopicNames === null && req.subscribedTopicRegex === null) invalid('Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.');
    } else if (req.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      if (req.memberId === '') invalid('MemberId can\'t be empty.');
      if (req.instanceId === null) invalid('InstanceId can\'t be null.');
    } else {
      invalid('MemberEpoch is invalid.');
    }
    if (req.serverAssignor !== null && !this.rt.config.consumerAssignors.includes(req.serverAssignor)) {
      reject(ErrorCode.UNSUPPORTED_ASSIGNOR, `ServerAssignor ${req.serverAssignor} is not supported. Supported assignors: ${this.rt.config.consumerAssignors.join(', ')}.`);
    }
  }

  /** The consumer group, created for a joining member; an empty classic group is replaced. */
  private groupFor(groupId: string, create: boolean): { group: ConsumerGroup; isNew: boolean } {
    const existing = this.rt.groups.get(groupId);
    if (existing?.type === 'consumer') return { group: existing, isNew: false };
    if (!existing) {
      if (!create) reject(ErrorCode.GROUP_ID_NOT_FOUND, `Consumer group ${groupId} not found.`);
      return { group: new ConsumerGroup(groupId), isNew: true };
    }
    // A classic group with members cannot be taken over (no online migration).
    if (create && existing.isEmpty()) return { group: new ConsumerGroup(groupId), isNew: true };
    reject(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${groupId} is not a consumer group.`);
  }

  private async joinOrHeartbeat(req: ConsumerHeartbeatRequest): Promise<ConsumerHeartbeatResult> {
    const joining = req.memberEpoch === 0;
    const { group, isNew } = this.groupFor(req.groupId, joining);
    const memberId = req.memberId === '' ? newMemberId() : req.memberId;
    if (group.members.size >= this.rt.config.consumerGroupSizeMax && (req.memberId === '' || !group.members.has(memberId))) {
      reject(ErrorCode.GROUP_MAX_SIZE_REACHED, `The consumer group has reached its maximum capacity of ${this.rt.config.consumerGroupSizeMax} members.`);
    }
    const { member, replaces } = this.memberFor(group, memberId, req, joining);

    // 1. The member with what the request changed; a new subscription bumps the group epoch.
    const updated = member.clone();
    if (req.instanceId !== null) updated.instanceId = req.instanceId;
    if (req.rackId !== null) updated.rackId = req.rackId;
    if (req.rebalanceTimeoutMs !== -1) updated.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    if (req.serverAssignor !== null) updated.serverAssignor = req.serverAssignor;
    if (req.subscribedTopicNames !== null) updated.subscribedTopicNames = [...req.subscribedTopicNames];
    if (req.subscribedTopicRegex !== null) updated.subscribedTopicRegex = req.subscribedTopicRegex === '' ? null : req.subscribedTopicRegex;
    updated.clientId = req.clientId;
    updated.clientHost = req.clientHost;
    // A member new to the group bumps it too, whatever it subscribes to (an empty list included):
    // its epoch must move off 0, or its next heartbeat would read as another join.
    const newMember = !group.members.has(updated.memberId) && replaces === null;
    let bumpGroupEpoch = newMember || !sameNames(member.subscribedTopicNames, updated.subscribedTopicNames) || member.subscribedTopicRegex !== updated.subscribedTopicRegex;

    if (isNew) {
      const old = this.rt.groups.get(group.groupId);
      if (old) this.rt.dropGroup(old);
      this.rt.groups.set(group.groupId, group);
    }
    if (replaces !== null) {
      // KIP-345: the static member's new incarnation inherits the old one's target assignment.
      const target = group.targetAssignment.get(replaces);
      group.removeMember(replaces);
      this.cancelMemberTimers(group.groupId, replaces);
      if (target) group.targetAssignment.set(updated.memberId, target);
    }
    group.updateMember(updated);

    // 2. The subscribed topics as they are now; a change (topic created, partitions added) bumps too.
    const metadata = this.subscriptionMetadata(group);
    if (!sameMetadata(metadata, group.subscriptionMetadata)) bumpGroupEpoch = true;
    group.subscriptionMetadata = metadata;
    if (bumpGroupEpoch) {
      group.groupEpoch++;
      this.rt.log.info('bumped consumer group epoch', { groupId: group.groupId, groupEpoch: group.groupEpoch, memberId: updated.memberId });
    }
    if (group.groupEpoch > group.assignmentEpoch) this.computeTargetAssignment(group);

    // 3. Reconcile the member towards its target.
    let reconciled = updated;
    if (!updated.isReconciledTo(group.assignmentEpoch)) {
      reconciled = reconcile(updated, group.assignmentEpoch, group.targetAssignment.get(updated.memberId) ?? new Map(), group.partitionOwnerEpochs(updated.memberId), req.topicPartitions);
      // The revocation deadline starts when the member is asked to revoke, not at every heartbeat.
      if (reconciled !== updated) {
        group.updateMember(reconciled);
        if (reconciled.state === 'unrevoked_partitions') this.scheduleRebalanceTimeout(group, reconciled);
        else this.rt.timers.cancel(rebalanceKey(group.groupId, reconciled.memberId));
      }
    }
    this.scheduleSessionTimeout(group, reconciled.memberId);
    await this.persistIfChanged(group);
    if (reconciled.memberEpoch !== member.memberEpoch || reconciled.state !== member.state) {
      this.rt.log.debug('member moved', { groupId: group.groupId, memberId: reconciled.memberId, from: member.memberEpoch, to: reconciled.memberEpoch, state: reconciled.state, requestEpoch: req.memberEpoch });
    }

    const full = joining || (req.rebalanceTimeoutMs !== -1 && req.subscribedTopicNames !== null && req.topicPartitions !== null);
    const changed = !assignmentsEqual(member.assigned, reconciled.assigned);
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: reconciled.memberId,
      memberEpoch: reconciled.memberEpoch,
      heartbeatIntervalMs: this.rt.config.consumerHeartbeatIntervalMs,
      assignment: full || changed ? [...reconciled.assigned].map(([topicId, ps]) => ({ topicId, partitions: [...ps].sort((a, b) => a - b) })) : null,
    };
  }

  /** The member the request speaks for: an existing one (epoch checked), a new one, or a static
   *  member's new incarnation replacing the old (`replaces`). */
  private memberFor(group: ConsumerGroup, memberId: string, req: ConsumerHeartbeatRequest, joining: boolean): { member: ConsumerMember; replaces: string | null } {
    if (req.instanceId === null) {
      const existing = group.members.get(memberId);
      if (!existing) {
        if (!joining) reject(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${memberId} is not a member of group ${group.groupId}.`);
        return { member: new ConsumerMember(memberId), replaces: null };
      }
      if (joining) return { member: restarted(existing), replaces: null };
      checkMemberEpoch(existing, req.memberEpoch, req.topicPartitions);
      return { member: existing, replaces: null };
    }
    const existing = group.staticMember(req.instanceId);
    if (joining) {
      if (!existing) return { member: new ConsumerMember(memberId), replaces: null };
      if (existing.memberId === memberId) return { member: restarted(existing), replaces: null };
      // The instance id is free only once its holder left with epoch -2 (a temporary leave).
      if (existing.memberEpoch !== LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
        reject(ErrorCode.UNRELEASED_INSTANCE_ID, `Static member ${memberId} with instance id ${req.instanceId} cannot join the group because the instance id is owned by ${existing.memberId} member.`);
      }
      const copy = existing.clone(memberId);
      copy.memberEpoch = 0;
      copy.previousMemberEpoch = 0;
      copy.state = 'stable';
      return { member: copy, replaces: existing.memberId };
    }
    if (!existing) reject(ErrorCode.UNKNOWN_MEMBER_ID, `Instance id ${req.instanceId} is unknown.`);
    if (existing.memberId !== memberId) reject(ErrorCode.FENCED_INSTANCE_ID, `Static member ${memberId} with instance id ${req.instanceId} was fenced by member ${existing.memberId}.`);
    checkMemberEpoch(existing, req.memberEpoch, req.topicPartitions);
    return { member: existing, replaces: null };
  }

  private async leave(req: ConsumerHeartbeatRequest): Promise<ConsumerHeartbeatResult> {
    const g = this.rt.groups.get(req.groupId);
    if (!g || g.type !== 'consumer') reject(ErrorCode.GROUP_ID_NOT_FOUND, `Consumer group ${req.groupId} not found.`);
    const group = g;
    let member: ConsumerMember | undefined;
    if (req.instanceId === null) {
      member = group.members.get(req.memberId);
      if (!member) reject(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${req.memberId} is not a member of group ${group.groupId}.`);
    } else {
      member = group.staticMember(req.instanceId);
      if (!member) reject(ErrorCode.UNKNOWN_MEMBER_ID, `Instance id ${req.instanceId} is unknown.`);
      if (member.memberId !== req.memberId) reject(ErrorCode.FENCED_INSTANCE_ID, `Static member ${req.memberId} with instance id ${req.instanceId} was fenced by member ${member.memberId}.`);
    }
    if (req.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      // A static member going away for a while keeps its partitions until its session expires.
      const away = member.clone();
      away.memberEpoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
      away.pendingRevocation = new Map();
      group.updateMember(away);
      this.rt.timers.cancel(rebalanceKey(group.groupId, away.memberId));
      this.rt.log.info('static member left temporarily', { groupId: group.groupId, memberId: away.memberId, instanceId: away.instanceId });
    } else {
      this.fence(group, member, 'left the group');
    }
    await this.persistIfChanged(group);
    return { errorCode: ErrorCode.NONE, errorMessage: null, memberId: req.memberId, memberEpoch: req.memberEpoch, heartbeatIntervalMs: 0, assignment: null };
  }

  /** Removes a member: its partitions become free and the group epoch rises. */
  private fence(group: ConsumerGroup, member: ConsumerMember, reason: string): void {
    group.removeMember(member.memberId);
    group.subscriptionMetadata = this.subscriptionMetadata(group);
    group.groupEpoch++;
    this.cancelMemberTimers(group.groupId, member.memberId);
    this.rt.log.info('member removed from consumer group', { groupId: group.groupId, memberId: member.memberId, reason, groupEpoch: group.groupEpoch });
  }

  private cancelMemberTimers(groupId: string, memberId: string): void {
    this.rt.timers.cancel(sessionKey(groupId, memberId));
    this.rt.timers.cancel(rebalanceKey(groupId, memberId));
  }

  private scheduleSessionTimeout(group: ConsumerGroup, memberId: string): void {
    this.rt.timers.schedule(sessionKey(group.groupId, memberId), this.rt.config.consumerSessionTimeoutMs, () =>
      this.rt.runLocked(group.groupId, 'consumer session expiration', async () => {
        const member = group.members.get(memberId);
        if (this.rt.groups.get(group.groupId) !== group || !member) return;
        this.fence(group, member, 'session expired');
        await this.persistIfChanged(group);
      }),
    );
  }

  /** A member that does not revoke in time is removed (its partitions go to others). */
  private scheduleRebalanceTimeout(group: ConsumerGroup, member: ConsumerMember): void {
    const epoch = member.memberEpoch;
    const timeoutMs = member.rebalanceTimeoutMs > 0 ? member.rebalanceTimeoutMs : this.rt.config.consumerSessionTimeoutMs;
    this.rt.timers.schedule(rebalanceKey(group.groupId, member.memberId), timeoutMs, () =>
      this.rt.runLocked(group.groupId, 'consumer rebalance timeout', async () => {
        const current = group.members.get(member.memberId);
        if (this.rt.groups.get(group.groupId) !== group || !current || current.memberEpoch !== epoch) return;
        this.fence(group, current, `did not revoke partitions within ${timeoutMs} ms`);
        await this.persistIfChanged(group);
      }),
    );
  }

  /** Topics a member subscribes to that exist, by name or by regex. */
  resolveSubscription(member: ConsumerMember): string[] {
    const out = member.subscribedTopicNames.filter((t) => this.rt.catalog.byName(t) !== undefined);
    if (member.subscribedTopicRegex !== null) {
      const re = compileSubscriptionRegex(member.subscribedTopicRegex);
      // Internal topics are never matched: Kafka's consumers leave them out (exclude.internal.topics).
      if (re) for (const t of this.rt.catalog.all()) if (!isInternalTopic(t.name) && re.test(t.name) && !out.includes(t.name)) out.push(t.name);
    }
    return out;
  }

  private subscriptionMetadata(group: ConsumerGroup): Map<string, TopicMetadata> {
    const out = new Map<string, TopicMetadata>();
    for (const name of [...group.subscribedTopics((m) => this.resolveSubscription(m))].sort()) {
      const t = this.rt.catalog.byName(name);
      if (t) out.set(name, { topicId: t.topicId, numPartitions: t.partitionCount });
    }
    return out;
  }

  private computeTargetAssignment(group: ConsumerGroup): void {
    const assignorName = this.preferredAssignor(group);
    const members = new Map<string, Set<string>>();
    for (const m of group.members.values()) {
      const ids = new Set<string>();
      for (const name of this.resolveSubscription(m)) {
        const md = group.subscriptionMetadata.get(name);
        if (md) ids.add(md.topicId);
      }
      members.set(m.memberId, ids);
    }
    const topics = new Map<string, number>();
    for (const md of group.subscriptionMetadata.values()) topics.set(md.topicId, md.numPartitions);
    const result = ASSIGNORS[assignorName]!({ members, topics, previous: group.targetAssignment });
    group.targetAssignment.clear();
    for (const [memberId, a] of result) group.targetAssignment.set(memberId, a);
    group.assignmentEpoch = group.groupEpoch;
    this.rt.log.debug('computed target assignment', { groupId: group.groupId, assignmentEpoch: group.assignmentEpoch, assignor: assignorName });
  }

  /** The server assignor most members ask for, else the configured default. */
  preferredAssignor(group: ConsumerGroup): string {
    const votes = new Map<string, number>();
    for (const m of group.members.values()) if (m.serverAssignor !== null) votes.set(m.serverAssignor, (votes.get(m.serverAssignor) ?? 0) + 1);
    let best = this.rt.config.consumerAssignors[0]!;
    let bestVotes = 0;
    for (const [name, n] of [...votes].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (n > bestVotes && ASSIGNORS[name]) {
        best = name;
        bestVotes = n;
      }
    }
    return best;
  }

  async persistIfChanged(group: ConsumerGroup): Promise<void> {
    if (this.rt.groups.get(group.groupId) !== group) return;
    const json = consumerGroupToJson(group);
    if (json === group.persistedState) return;
    await this.rt.persist(group);
    group.persistedState = json;
  }

  /**
   * OffsetCommit's checks for a consumer group (member epoch instead of generation). Throws for the
   * whole request; returns a per-partition check when the epoch is older than the member's (KIP-1251:
   * a commit still in flight when the epoch moved on is accepted for the partitions the member held
   * at that epoch), or null when every partition may be committed.
   */
  validateOffsetCommit(group: ConsumerGroup, memberId: string, memberEpoch: number, apiVersion: number): ((topic: string, partition: number) => number) | null {
    // Epoch -1 is the admin client or a consumer without group management: allowed while empty.
    if (memberEpoch < 0 && group.isEmpty()) return null;
    const member = group.members.get(memberId);
    if (!member) reject(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${memberId} is not a member of group ${group.groupId}.`);
    if (apiVersion < 9) reject(ErrorCode.UNSUPPORTED_VERSION, 'OffsetCommit version 9 or above must be used by members using the consumer group protocol');
    if (memberEpoch === member.memberEpoch) return null;
    if (memberEpoch > member.memberEpoch) reject(ErrorCode.STALE_MEMBER_EPOCH, `Received member epoch ${memberEpoch} is newer than current member epoch ${member.memberEpoch}.`);
    return (topic, partition) => {
      const topicId = this.rt.catalog.byName(topic)?.topicId;
      const since = topicId === undefined ? undefined : member.assignmentEpoch(topicId, partition);
      if (since === undefined || memberEpoch < since) {
        this.rt.log.debug('offset commit with a stale member epoch', { groupId: group.groupId, memberId, memberEpoch, currentEpoch: member.memberEpoch, topic, partition, assignedAtEpoch: since ?? null });
        return ErrorCode.STALE_MEMBER_EPOCH;
      }
      return ErrorCode.NONE;
    };
  }

  validateOffsetFetch(group: ConsumerGroup, memberId: string | null, memberEpoch: number): void {
    if (memberId === null && memberEpoch < 0) return;
    const member = memberId === null ? undefined : group.members.get(memberId);
    if (!member) reject(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${memberId} is not a member of group ${group.groupId}.`);
    if (memberEpoch !== member.memberEpoch) reject(ErrorCode.STALE_MEMBER_EPOCH, `The member epoch ${memberEpoch} is stale; the current one is ${member.memberEpoch}.`);
  }

  /** Whether committed offsets of this topic are in use by a member. */
  isSubscribedToTopic(group: ConsumerGroup, topic: string): boolean {
    for (const m of group.members.values()) if (this.resolveSubscription(m).includes(topic) || m.subscribedTopicNames.includes(topic)) return true;
    return false;
  }

  /** After a restart every loaded member gets a fresh session to heartbeat in. */
  onLoaded(group: ConsumerGroup): void {
    for (const m of group.members.values()) {
      this.scheduleSessionTimeout(group, m.memberId);
      if (m.state === 'unrevoked_partitions') this.scheduleRebalanceTimeout(group, m);
    }
  }

  /** The topic names of an assignment, for ConsumerGroupDescribe. */
  describeAssignment(a: Assignment): { topicId: string; topicName: string; partitions: number[] }[] {
    return [...a]
      .filter(([, ps]) => ps.size > 0)
      .map(([topicId, ps]) => ({ topicId, topicName: this.rt.catalog.byId(topicId)?.name ?? '', partitions: [...ps].sort((x, y) => x - y) }));
  }
}

/** A known member joining again with epoch 0 gave up everything: it starts over. */
function restarted(existing: ConsumerMember): ConsumerMember {
  const m = existing.clone();
  m.memberEpoch = 0;
  m.previousMemberEpoch = 0;
  m.state = 'stable';
  m.assigned = new Map();
  m.pendingRevocation = new Map();
  m.partitionEpochs = new Map();
  return m;
}

function sameNames(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const sa = [...a].sort();
  const sb = [...b].sort();
  return sa.every((x, i) => x === sb[i]);
}

function sameMetadata(a: Map<string, TopicMetadata>, b: Map<string, TopicMetadata>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, md] of a) {
    const o = b.get(name);
    if (!o || o.topicId !== md.topicId || o.numPartitions !== md.numPartitions) return false;
  }
  return true;
}
