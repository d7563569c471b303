// A consumer group of the KIP-848 protocol: the coordinator computes the assignment (no leader),
// members reconcile towards it one heartbeat at a time, and epochs order every change:
//   - the group epoch rises when a member joins, leaves or changes its subscription, or the
//     subscribed topics change (a topic created, partitions added);
//   - the target assignment is recomputed for the group epoch (assignment epoch);
//   - each member moves to the assignment epoch once it has revoked what it must give up, and gets
//     a partition only when its previous owner has released it.
// This module holds the data and the reconciliation rule (Kafka's CurrentAssignmentBuilder);
// consumer-coordinator.ts drives the heartbeats.
import { ErrorCode } from '../protocol/generated/errors.ts';
import { reject } from './classic-group.ts';
import type { Assignment } from './assignors.ts';

export type MemberState = 'stable' | 'unrevoked_partitions' | 'unreleased_partitions';
export type ConsumerGroupState = 'Empty' | 'Assigning' | 'Reconciling' | 'Stable';

/** A static member that left with epoch -2 keeps its place (and partitions) until its session ends. */
export const LEAVE_GROUP_STATIC_MEMBER_EPOCH = -2;
export const LEAVE_GROUP_MEMBER_EPOCH = -1;

export interface TopicMetadata {
  topicId: string;
  numPartitions: number;
}

export class ConsumerMember {
  memberId: string;
  instanceId: string | null = null;
  rackId: string | null = null;
  clientId = '';
  clientHost = '';
  rebalanceTimeoutMs = -1;
  serverAssignor: string | null = null;
  subscribedTopicNames: string[] = [];
  subscribedTopicRegex: string | null = null;
  memberEpoch = 0;
  previousMemberEpoch = 0;
  state: MemberState = 'stable';
  assigned: Assignment = new Map();
  pendingRevocation: Assignment = new Map();
  /** The member epoch at which each assigned (or pending-revocation) partition was assigned to it
   *  (KIP-1251): an offset commit of an older epoch is still accepted for partitions it held then. */
  partitionEpochs = new Map<string, Map<number, number>>();

  constructor(memberId: string) {
    this.memberId = memberId;
  }

  clone(memberId = this.memberId): ConsumerMember {
    const m = new ConsumerMember(memberId);
    Object.assign(m, this, {
      memberId,
      assigned: copyAssignment(this.assigned),
      pendingRevocation: copyAssignment(this.pendingRevocation),
      partitionEpochs: new Map([...this.partitionEpochs].map(([t, ps]) => [t, new Map(ps)])),
    });
    m.subscribedTopicNames = [...this.subscribedTopicNames];
    return m;
  }

  isReconciledTo(epoch: number): boolean {
    return this.state === 'stable' && this.memberEpoch === epoch;
  }

  /** The epoch at which the member got the partition, or undefined when it holds it no more. */
  assignmentEpoch(topicId: string, partition: number): number | undefined {
    if (!this.assigned.get(topicId)?.has(partition) && !this.pendingRevocation.get(topicId)?.has(partition)) return undefined;
    return this.partitionEpochs.get(topicId)?.get(partition) ?? this.memberEpoch;
  }
}

export class ConsumerGroup {
  readonly type = 'consumer';
  readonly groupId: string;
  groupEpoch = 0;
  assignmentEpoch = 0;
  readonly members = new Map<string, ConsumerMember>();
  /** instance id → member id. */
  readonly staticMembers = new Map<string, string>();
  /** member id → target assignment. */
  readonly targetAssignment = new Map<string, Assignment>();
  /** The subscribed topics as of the group epoch: topic name → id and partition count. */
  subscriptionMetadata = new Map<string, TopicMetadata>();
  /** The last state written to the metadata store, to skip writes that change nothing. */
  persistedState: string | null = null;

  constructor(groupId: string) {
    this.groupId = groupId;
  }

  isEmpty(): boolean {
    return this.members.size === 0;
  }

  state(): ConsumerGroupState {
    if (this.members.size === 0) return 'Empty';
    if (this.groupEpoch > this.assignmentEpoch) return 'Assigning';
    for (const m of this.members.values()) if (!m.isReconciledTo(this.assignmentEpoch)) return 'Reconciling';
    return 'Stable';
  }

  staticMember(instanceId: string): ConsumerMember | undefined {
    const id = this.staticMembers.get(instanceId);
    return id === undefined ? undefined : this.members.get(id);
  }

  /** Adds or replaces a member (keyed by its id). */
  updateMember(m: ConsumerMember): void {
    this.members.set(m.memberId, m);
    if (m.instanceId !== null) this.staticMembers.set(m.instanceId, m.memberId);
  }

  removeMember(memberId: string): void {
    const m = this.members.get(memberId);
    if (!m) return;
    this.members.delete(memberId);
    if (m.instanceId !== null && this.staticMembers.get(m.instanceId) === memberId) this.staticMembers.delete(m.instanceId);
    this.targetAssignment.delete(memberId);
  }

  /** The epoch of the member that holds the partition (assigned or still to revoke), or -1 when free. */
  partitionOwnerEpochs(except: string): Map<string, Map<number, number>> {
    const owners = new Map<string, Map<number, number>>();
    const add = (a: Assignment, epoch: number) => {
      for (const [t, ps] of a) {
        let m = owners.get(t);
        if (!m) owners.set(t, (m = new Map()));
        for (const p of ps) m.set(p, epoch);
      }
    };
    for (const m of this.members.values()) {
      if (m.memberId === except) continue;
      add(m.assigned, m.memberEpoch);
      add(m.pendingRevocation, m.memberEpoch);
    }
    return owners;
  }

  /** Topic names some member subscribes to (by name or regex, resolved against existing topics). */
  subscribedTopics(resolve: (m: ConsumerMember) => string[]): Set<string> {
    const out = new Set<string>();
    for (const m of this.members.values()) for (const t of resolve(m)) out.add(t);
    return out;
  }
}

export function copyAssignment(a: Assignment): Assignment {
  return new Map([...a].map(([t, ps]) => [t, new Set(ps)]));
}

export function assignmentsEqual(a: Assignment, b: Assignment): boolean {
  const nonEmpty = (x: Assignment) => [...x].filter(([, ps]) => ps.size > 0);
  const ea = nonEmpty(a);
  const eb = nonEmpty(b);
  if (ea.length !== eb.length) return false;
  for (const [t, ps] of ea) {
    const other = b.get(t);
    if (!other || other.size !== ps.size) return false;
    for (const p of ps) if (!other.has(p)) return false;
  }
  return true;
}

/** Owned partitions as a heartbeat reports them: topic id → partitions. */
export type OwnedPartitions = { topicId: string; partitions: number[] }[] | null;

function ownsAnyOf(owned: OwnedPartitions, a: Assignment): boolean {
  // A member that did not say what it owns may still own anything.
  if (owned === null) return true;
  for (const tp of owned) {
    const ps = a.get(tp.topicId);
    if (ps && tp.partitions.some((p) => ps.has(p))) return true;
  }
  return false;
}

export function isSubset(owned: OwnedPartitions, a: Assignment): boolean {
  if (owned === null) return false;
  for (const tp of owned) {
    const ps = a.get(tp.topicId);
    if (!ps) {
      if (tp.partitions.length > 0) return false;
      continue;
    }
    if (!tp.partitions.every((p) => ps.has(p))) return false;
  }
  return true;
}

/** A request's epoch must be the member's, or its previous one when the client only missed the
 *  response that moved it on (and owns nothing it should not). */
export function checkMemberEpoch(member: ConsumerMember, receivedEpoch: number, owned: OwnedPartitions): void {
  // Kafka's messages, word for word.
  if (receivedEpoch > member.memberEpoch) {
    reject(
      ErrorCode.FENCED_MEMBER_EPOCH,
      `The consumer group member has a greater member epoch (${receivedEpoch}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`,
    );
  }
  if (receivedEpoch < member.memberEpoch && (receivedEpoch !== member.previousMemberEpoch || !isSubset(owned, member.assigned))) {
    reject(
      ErrorCode.FENCED_MEMBER_EPOCH,
      `The consumer group member has a smaller member epoch (${receivedEpoch}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`,
    );
  }
}

/**
 * Moves a member one step towards the target assignment (Kafka's CurrentAssignmentBuilder):
 * partitions it must give up are revoked first (the member keeps its epoch until it reports them
 * gone); then it takes the target epoch and every target partition nobody else holds.
 */
export function reconcile(
  member: ConsumerMember,
  targetEpoch: number,
  target: Assignment,
  ownerEpochs: Map<string, Map<number, number>>,
  owned: OwnedPartitions,
): ConsumerMember {
  switch (member.state) {
    case 'stable':
      return member.memberEpoch !== targetEpoch ? nextAssignment(member, member.memberEpoch, targetEpoch, target, ownerEpochs, owned) : member;
    case 'unrevoked_partitions':
      if (ownsAnyOf(owned, member.pendingRevocation)) return member;
      return nextAssignment(member, member.memberEpoch + 1, targetEpoch, target, ownerEpochs, owned);
    case 'unreleased_partitions':
      return nextAssignment(member, member.memberEpoch, targetEpoch, target, ownerEpochs, owned);
  }
}

function nextAssignment(
  member: ConsumerMember,
  memberEpoch: number,
  targetEpoch: number,
  target: Assignment,
  ownerEpochs: Map<string, Map<number, number>>,
  owned: OwnedPartitions,
): ConsumerMember {
  let hasUnreleased = false;
  const assigned: Assignment = new Map();
  const revoke: Assignment = new Map();
  const pendingAssignment: Assignment = new Map();
  const topicIds = new Set([...target.keys(), ...member.assigned.keys()]);
  for (const t of topicIds) {
    const want = target.get(t) ?? new Set<number>();
    const have = member.assigned.get(t) ?? new Set<number>();
    const keep = new Set([...have].filter((p) => want.has(p)));
    const drop = new Set([...have].filter((p) => !keep.has(p)));
    const add = new Set<number>();
    for (const p of want) {
      if (keep.has(p)) continue;
      if ((ownerEpochs.get(t)?.get(p) ?? -1) !== -1) hasUnreleased = true;
      else add.add(p);
    }
    if (keep.size) assigned.set(t, keep);
    if (drop.size) revoke.set(t, drop);
    if (add.size) pendingAssignment.set(t, add);
  }
  const next = member.clone();
  // Kept and revoking partitions keep their assignment epoch; new ones get the target epoch.
  const epochs = new Map<string, Map<number, number>>();
  const keepEpochs = (a: Assignment) => {
    for (const [t, ps] of a) {
      for (const p of ps) {
        if (!epochs.has(t)) epochs.set(t, new Map());
        epochs.get(t)!.set(p, member.partitionEpochs.get(t)?.get(p) ?? member.memberEpoch);
      }
    }
  };
  keepEpochs(assigned);
  keepEpochs(revoke);
  next.partitionEpochs = epochs;
  if (revoke.size > 0 && ownsAnyOf(owned, revoke)) {
    // Revoke first, at the current epoch; the member acknowledges by no longer reporting them.
    next.state = 'unrevoked_partitions';
    setEpoch(next, memberEpoch);
    next.assigned = assigned;
    next.pendingRevocation = revoke;
    return next;
  }
  for (const [t, ps] of pendingAssignment) {
    let set = assigned.get(t);
    if (!set) assigned.set(t, (set = new Set()));
    if (!epochs.has(t)) epochs.set(t, new Map());
    for (const p of ps) {
      set.add(p);
      epochs.get(t)!.set(p, targetEpoch);
    }
  }
  for (const [t, ps] of revoke) for (const p of ps) epochs.get(t)?.delete(p);
  next.state = hasUnreleased ? 'unreleased_partitions' : 'stable';
  setEpoch(next, targetEpoch);
  next.assigned = assigned;
  next.pendingRevocation = new Map();
  return next;
}

/** Like Kafka, the previous epoch is the epoch before this step, even when the epoch stays. */
function setEpoch(m: ConsumerMember, epoch: number): void {
  m.previousMemberEpoch = m.memberEpoch;
  m.memberEpoch = epoch;
}

// --- persistence ------------------------------------------------------------------------------

type StoredAssignment = [string, number[]][];
const toStored = (a: Assignment): StoredAssignment => [...a].filter(([, ps]) => ps.size > 0).map(([t, ps]) => [t, [...ps].sort((x, y) => x - y)]);
const fromStored = (s: StoredAssignment): Assignment => new Map(s.map(([t, ps]) => [t, new Set(ps)]));

export function consumerGroupToJson(g: ConsumerGroup): string {
  return JSON.stringify({
    groupEpoch: g.groupEpoch,
    assignmentEpoch: g.assignmentEpoch,
    subscriptionMetadata: [...g.subscriptionMetadata],
    members: [...g.members.values()].map((m) => ({
      memberId: m.memberId,
      instanceId: m.instanceId,
      rackId: m.rackId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      serverAssignor: m.serverAssignor,
      subscribedTopicNames: m.subscribedTopicNames,
      subscribedTopicRegex: m.subscribedTopicRegex,
      memberEpoch: m.memberEpoch,
      previousMemberEpoch: m.previousMemberEpoch,
      state: m.state,
      assigned: toStored(m.assigned),
      pendingRevocation: toStored(m.pendingRevocation),
      partitionEpochs: [...m.partitionEpochs].map(([t, ps]) => [t, [...ps]]),
      target: toStored(g.targetAssignment.get(m.memberId) ?? new Map()),
    })),
  });
}

export function consumerGroupFromJson(groupId: string, json: string): ConsumerGroup {
  const s = JSON.parse(json) as {
    groupEpoch: number;
    assignmentEpoch: number;
    subscriptionMetadata: [string, TopicMetadata][];
    members: (Omit<ConsumerMember, 'assigned' | 'pendingRevocation' | 'partitionEpochs' | 'clone' | 'isReconciledTo' | 'assignmentEpoch'> & {
      assigned: StoredAssignment;
      pendingRevocation: StoredAssignment;
      partitionEpochs?: [string, [number, number][]][];
      target: StoredAssignment;
    })[];
  };
  const g = new ConsumerGroup(groupId);
  g.groupEpoch = s.groupEpoch;
  g.assignmentEpoch = s.assignmentEpoch;
  g.subscriptionMetadata = new Map(s.subscriptionMetadata);
  for (const sm of s.members) {
    const m = new ConsumerMember(sm.memberId);
    const { assigned, pendingRevocation, target, partitionEpochs, ...rest } = sm;
    Object.assign(m, rest);
    m.assigned = fromStored(assigned);
    m.pendingRevocation = fromStored(pendingRevocation);
    m.partitionEpochs = new Map((partitionEpochs ?? []).map(([t, ps]) => [t, new Map(ps)]));
    g.updateMember(m);
    g.targetAssignment.set(m.memberId, fromStored(target));
  }
  g.persistedState = json;
  return g;
}
