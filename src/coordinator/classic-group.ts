// A classic consumer group (JoinGroup/SyncGroup/Heartbeat/LeaveGroup): its members, generation,
// chosen protocol and state, with Kafka's state machine:
//
//   Empty ──join──▶ PreparingRebalance ──all joined──▶ CompletingRebalance ──leader sync──▶ Stable
//     ▲                  ▲   │ (no member left)                │                              │
//     └──────────────────┼───┘                                 └──────member change───────────┤
//                        └─────────────────────────────────────────────────────────────────────┘
//   Dead: deleted (or unloaded); never leaves it.
//
// This module holds the data and its invariants; classic-coordinator.ts drives the transitions.
import { randomUUID } from 'node:crypto';
import { StraitError } from '../common/errors.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import { Reader } from '../protocol/primitives.ts';
import { ConsumerProtocolSubscription } from '../protocol/generated/consumer-protocol-subscription.ts';
import { Deferred } from './timers.ts';

export type ClassicGroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

const VALID_PREVIOUS: Record<ClassicGroupState, ClassicGroupState[]> = {
  Empty: ['PreparingRebalance'],
  PreparingRebalance: ['Stable', 'CompletingRebalance', 'Empty'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  Dead: ['Stable', 'PreparingRebalance', 'CompletingRebalance', 'Empty', 'Dead'],
};

/** The consumer protocol type: groups of this type carry ConsumerProtocolSubscription metadata. */
export const CONSUMER_PROTOCOL_TYPE = 'consumer';

export interface GroupProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinResult {
  errorCode: number;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  skipAssignment: boolean;
  memberId: string;
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

export interface SyncResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

const EMPTY = Buffer.alloc(0);

export function joinError(errorCode: number, memberId = ''): JoinResult {
  return { errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', skipAssignment: false, memberId, members: [] };
}

export function syncError(errorCode: number): SyncResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}

/** A Kafka error answered to the client (not a Strait fault). */
export function reject(errorCode: number, message: string): never {
  throw new StraitError('STRAIT_GROUP_REQUEST_REJECTED', message, errorCode);
}

/** The Kafka error code of a rejection, or null for anything else (a bug, rethrown by the caller). */
export function rejectionCode(err: unknown): number | null {
  return err instanceof StraitError && err.code === 'STRAIT_GROUP_REQUEST_REJECTED' ? err.kafkaError : null;
}

export class ClassicMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  readonly protocolType: string;
  protocols: GroupProtocol[];
  assignment: Buffer = EMPTY;
  awaitingJoin: Deferred<JoinResult> | null = null;
  awaitingSync: Deferred<SyncResult> | null = null;
  /** Joined in the current rebalance: may still time out while its JoinGroup is parked. */
  isNew = false;

  constructor(m: {
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    rebalanceTimeoutMs: number;
    sessionTimeoutMs: number;
    protocolType: string;
    protocols: GroupProtocol[];
  }) {
    this.memberId = m.memberId;
    this.groupInstanceId = m.groupInstanceId;
    this.clientId = m.clientId;
    this.clientHost = m.clientHost;
    this.rebalanceTimeoutMs = m.rebalanceTimeoutMs;
    this.sessionTimeoutMs = m.sessionTimeoutMs;
    this.protocolType = m.protocolType;
    this.protocols = m.protocols;
  }

  get isAwaitingJoin(): boolean {
    return this.awaitingJoin !== null;
  }

  get isAwaitingSync(): boolean {
    return this.awaitingSync !== null;
  }

  /** Same protocols, in the same order, with the same metadata bytes. */
  matches(protocols: GroupProtocol[]): boolean {
    return protocols.length === this.protocols.length && protocols.every((p, i) => p.name === this.protocols[i]!.name && p.metadata.equals(this.protocols[i]!.metadata));
  }

  metadata(protocolName: string | null): Buffer {
    return this.protocols.find((p) => p.name === protocolName)?.metadata ?? EMPTY;
  }

  /** The member's most preferred protocol among the candidates. */
  vote(candidates: Set<string>): string {
    const p = this.protocols.find((x) => candidates.has(x.name));
    if (!p) throw new Error(`assertion failed: member ${this.memberId} supports none of the candidate protocols`);
    return p.name;
  }

  /** Members whose session is kept alive by a parked request need no heartbeat (Kafka's rule). */
  hasSatisfiedHeartbeat(): boolean {
    return this.isNew ? false : this.isAwaitingJoin || this.isAwaitingSync;
  }
}

export class ClassicGroup {
  readonly type = 'classic';
  readonly groupId: string;
  state: ClassicGroupState = 'Empty';
  previousState: ClassicGroupState = 'Empty';
  currentStateTimestampMs: number | null = null;
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, ClassicMember>();
  /** group.instance.id → member id (KIP-345). */
  readonly staticMembers = new Map<string, string>();
  /** Members given an id by MEMBER_ID_REQUIRED (KIP-394) that have not joined with it yet. */
  readonly pendingJoinMembers = new Set<string>();
  /** Members of the current generation that have not sent SyncGroup yet. */
  readonly pendingSyncMembers = new Set<string>();
  private readonly supportedProtocols = new Map<string, number>();
  numAwaitingJoin = 0;
  /** A member joined during the initial (delayed) rebalance: the delay may be extended. */
  newMemberAdded = false;
  /** Topics the members subscribe to (consumer protocol only), or null when unknown. */
  subscribedTopics: Set<string> | null = null;

  constructor(groupId: string, nowMs: number | null = null) {
    this.groupId = groupId;
    this.currentStateTimestampMs = nowMs;
  }

  is(state: ClassicGroupState): boolean {
    return this.state === state;
  }

  isEmpty(): boolean {
    return this.state === 'Empty';
  }

  transitionTo(state: ClassicGroupState, nowMs: number): void {
    if (!VALID_PREVIOUS[state].includes(this.state)) {
      throw new Error(`assertion failed: group ${this.groupId} cannot go from ${this.state} to ${state}`);
    }
    this.previousState = this.state;
    this.state = state;
    this.currentStateTimestampMs = nowMs;
  }

  /** Only states that may be followed by PreparingRebalance. */
  canRebalance(): boolean {
    return VALID_PREVIOUS.PreparingRebalance.includes(this.state);
  }

  generateMemberId(clientId: string, groupInstanceId: string | null): string {
    return `${groupInstanceId ?? clientId}-${randomUUID()}`;
  }

  member(memberId: string): ClassicMember {
    const m = this.members.get(memberId);
    if (!m) throw new Error(`assertion failed: ${memberId} is not a member of ${this.groupId}`);
    return m;
  }

  hasMember(memberId: string): boolean {
    return this.members.has(memberId);
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  staticMemberId(groupInstanceId: string | null): string | undefined {
    return groupInstanceId === null ? undefined : this.staticMembers.get(groupInstanceId);
  }

  add(member: ClassicMember, join: Deferred<JoinResult> | null): void {
    if (!this.supportsProtocols(member.protocolType, member.protocols.map((p) => p.name))) {
      throw new Error('assertion failed: none of the member\'s protocols can be supported');
    }
    if (this.members.size === 0) this.protocolType = member.protocolType;
    if (this.leaderId === null) this.leaderId = member.memberId;
    this.members.set(member.memberId, member);
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
    this.countProtocols(member, 1);
    member.awaitingJoin = join;
    if (join) this.numAwaitingJoin++;
    this.pendingJoinMembers.delete(member.memberId);
  }

  remove(memberId: string): void {
    const m = this.members.get(memberId);
    if (m) {
      this.members.delete(memberId);
      this.countProtocols(m, -1);
      if (m.isAwaitingJoin) this.numAwaitingJoin--;
      if (m.groupInstanceId !== null) this.staticMembers.delete(m.groupInstanceId);
    }
    if (this.isLeader(memberId)) {
      const next = this.members.keys().next();
      this.leaderId = next.done ? null : next.value;
    }
    this.pendingJoinMembers.delete(memberId);
    this.pendingSyncMembers.delete(memberId);
  }

  updateMember(member: ClassicMember, protocols: GroupProtocol[], rebalanceTimeoutMs: number, sessionTimeoutMs: number, join: Deferred<JoinResult> | null): void {
    this.countProtocols(member, -1);
    member.protocols = protocols;
    this.countProtocols(member, 1);
    member.rebalanceTimeoutMs = rebalanceTimeoutMs;
    member.sessionTimeoutMs = sessionTimeoutMs;
    if (join && !member.isAwaitingJoin) this.numAwaitingJoin++;
    else if (!join && member.isAwaitingJoin) this.numAwaitingJoin--;
    // A client that retries JoinGroup leaves its earlier request parked; answer it so nothing waits forever.
    if (member.awaitingJoin && join) member.awaitingJoin.resolve(joinError(ErrorCode.REBALANCE_IN_PROGRESS, member.memberId));
    member.awaitingJoin = join;
  }

  /** A static member rejoining with an unknown member id takes over the old member's place (KIP-345). */
  replaceStaticMember(groupInstanceId: string, oldMemberId: string, newMemberId: string): ClassicMember {
    const old = this.members.get(oldMemberId);
    if (!old) throw new Error(`assertion failed: cannot replace unknown member ${oldMemberId}`);
    this.members.delete(oldMemberId);
    if (old.isAwaitingJoin) {
      old.awaitingJoin!.resolve({ ...joinError(ErrorCode.FENCED_INSTANCE_ID, oldMemberId) });
      old.awaitingJoin = null;
      this.numAwaitingJoin--;
    }
    if (old.awaitingSync) {
      old.awaitingSync.resolve(syncError(ErrorCode.FENCED_INSTANCE_ID));
      old.awaitingSync = null;
    }
    const m = new ClassicMember({ ...old, memberId: newMemberId, groupInstanceId: old.groupInstanceId, protocols: old.protocols });
    m.assignment = old.assignment;
    this.members.set(newMemberId, m);
    if (this.isLeader(oldMemberId)) this.leaderId = newMemberId;
    this.pendingSyncMembers.delete(oldMemberId);
    this.staticMembers.set(groupInstanceId, newMemberId);
    return m;
  }

  /** Puts back a member loaded from the metadata store (it has no parked request). */
  restore(member: ClassicMember): void {
    this.members.set(member.memberId, member);
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
    this.countProtocols(member, 1);
  }

  /** Answers a member's parked JoinGroup; false when none was parked. */
  completeJoin(member: ClassicMember, result: JoinResult): boolean {
    if (!member.awaitingJoin) return false;
    member.awaitingJoin.resolve(result);
    member.awaitingJoin = null;
    this.numAwaitingJoin--;
    return true;
  }

  /** Answers a member's parked SyncGroup; false when none was parked. */
  completeSync(member: ClassicMember, result: SyncResult): boolean {
    if (!member.awaitingSync) return false;
    member.awaitingSync.resolve(result);
    member.awaitingSync = null;
    return true;
  }

  private countProtocols(member: ClassicMember, delta: number): void {
    for (const p of member.protocols) this.supportedProtocols.set(p.name, (this.supportedProtocols.get(p.name) ?? 0) + delta);
  }

  /** Whether a member with these protocols may join: an empty group takes any non-empty set; otherwise
   *  the type must match and one protocol must be supported by every member. */
  supportsProtocols(protocolType: string, names: string[]): boolean {
    if (this.state === 'Empty') return protocolType !== '' && names.length > 0;
    return this.protocolType === protocolType && names.some((n) => (this.supportedProtocols.get(n) ?? 0) === this.members.size);
  }

  /** The protocol every member supports with the most first-choice votes. */
  selectProtocol(): string {
    const candidates = new Set([...this.supportedProtocols].filter(([, n]) => n === this.members.size).map(([name]) => name));
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const v = m.vote(candidates);
      votes.set(v, (votes.get(v) ?? 0) + 1);
    }
    let best: string | null = null;
    let bestVotes = -1;
    for (const [name, n] of votes) {
      if (n > bestVotes) {
        best = name;
        bestVotes = n;
      }
    }
    if (best === null) throw new Error('assertion failed: cannot select a protocol for an empty group');
    return best;
  }

  hasAllMembersJoined(): boolean {
    return this.members.size === this.numAwaitingJoin && this.pendingJoinMembers.size === 0;
  }

  notYetRejoinedMembers(): ClassicMember[] {
    return [...this.members.values()].filter((m) => !m.isAwaitingJoin);
  }

  /** If the leader has not rejoined, hand leadership to a member that has. False when none has. */
  maybeElectNewJoinedLeader(): boolean {
    if (this.leaderId === null) return false;
    const leader = this.members.get(this.leaderId);
    if (leader?.isAwaitingJoin) return true;
    for (const m of this.members.values()) {
      if (m.isAwaitingJoin) {
        this.leaderId = m.memberId;
        return true;
      }
    }
    return false;
  }

  /** The largest rebalance timeout of any member: how long a rebalance may take. */
  rebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  /** The Kafka error code validateMember would reject this member with, or null when it is valid. */
  memberRejection(memberId: string, groupInstanceId: string | null): number | null {
    try {
      this.validateMember(memberId, groupInstanceId);
      return null;
    } catch (err) {
      const code = rejectionCode(err);
      if (code === null) throw err;
      return code;
    }
  }

  validateMember(memberId: string, groupInstanceId: string | null): void {
    if (groupInstanceId !== null) {
      const existing = this.staticMembers.get(groupInstanceId);
      if (existing === undefined) reject(ErrorCode.UNKNOWN_MEMBER_ID, `instance id ${groupInstanceId} is not a member of group ${this.groupId}`);
      if (existing !== memberId) reject(ErrorCode.FENCED_INSTANCE_ID, `static member ${memberId} of ${groupInstanceId} is fenced by ${existing}`);
    }
    if (!this.members.has(memberId)) reject(ErrorCode.UNKNOWN_MEMBER_ID, `member ${memberId} is not a member of group ${this.groupId}`);
  }

  initNextGeneration(nowMs: number): void {
    this.generationId++;
    if (this.members.size > 0) {
      this.protocolName = this.selectProtocol();
      this.subscribedTopics = this.computeSubscribedTopics();
      this.transitionTo('CompletingRebalance', nowMs);
    } else {
      this.protocolName = null;
      this.subscribedTopics = this.computeSubscribedTopics();
      this.transitionTo('Empty', nowMs);
    }
    this.pendingSyncMembers.clear();
  }

  /** Every member with the chosen protocol's metadata, for the leader's JoinGroup response. */
  currentMembers(): JoinResult['members'] {
    return [...this.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata(this.protocolName) }));
  }

  usesConsumerProtocol(): boolean {
    return this.protocolType === CONSUMER_PROTOCOL_TYPE;
  }

  /** Topics the members subscribe to, from their consumer-protocol metadata; null when unknown. */
  computeSubscribedTopics(): Set<string> | null {
    if (this.protocolType !== CONSUMER_PROTOCOL_TYPE) return null;
    if (this.members.size === 0) return new Set();
    if (this.protocolName === null) return null;
    const topics = new Set<string>();
    for (const m of this.members.values()) {
      const subscribed = subscriptionTopics(m.metadata(this.protocolName));
      if (subscribed === null) return null;
      for (const t of subscribed) topics.add(t);
    }
    return topics;
  }

  /** Whether committed offsets of this topic are in use (they must not be deleted or expire). */
  isSubscribedToTopic(topic: string): boolean {
    return this.subscribedTopics !== null ? this.subscribedTopics.has(topic) : this.usesConsumerProtocol();
  }
}

/** The topic list of ConsumerProtocolSubscription metadata (every version starts with it), or null
 *  when the bytes are not one. */
export function subscriptionTopics(metadata: Buffer): string[] | null {
  try {
    const r = new Reader(metadata);
    r.int16();
    return ConsumerProtocolSubscription.read(r, 0).topics;
  } catch {
    return null;
  }
}

// --- persistence ------------------------------------------------------------------------------

interface StoredClassicMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  protocolType: string;
  protocols: { name: string; metadata: string }[];
  assignment: string;
}

interface StoredClassicGroup {
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leaderId: string | null;
  currentStateTimestampMs: number | null;
  members: StoredClassicMember[];
}

/** The group as the metadata store keeps it, with the given assignment (by member id) if any. */
export function classicGroupToJson(g: ClassicGroup, assignment?: Map<string, Buffer>): string {
  const stored: StoredClassicGroup = {
    generationId: g.generationId,
    protocolType: g.protocolType,
    protocolName: g.protocolName,
    leaderId: g.leaderId,
    currentStateTimestampMs: g.currentStateTimestampMs,
    members: [...g.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      sessionTimeoutMs: m.sessionTimeoutMs,
      protocolType: m.protocolType,
      protocols: m.protocols.map((p) => ({ name: p.name, metadata: p.metadata.toString('base64') })),
      assignment: (assignment?.get(m.memberId) ?? m.assignment).toString('base64'),
    })),
  };
  return JSON.stringify(stored);
}

/** A group loaded after a restart: Stable with its members and their assignments, or Empty (as Kafka
 *  loads a group from its offsets topic). Members must heartbeat within their session timeout. */
export function classicGroupFromJson(groupId: string, json: string): ClassicGroup {
  const s = JSON.parse(json) as StoredClassicGroup;
  const g = new ClassicGroup(groupId, s.currentStateTimestampMs);
  g.generationId = s.generationId;
  g.protocolType = s.protocolType;
  g.protocolName = s.protocolName;
  for (const sm of s.members) {
    const m = new ClassicMember({ ...sm, protocols: sm.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata, 'base64') })) });
    m.assignment = Buffer.from(sm.assignment, 'base64');
    g.restore(m);
  }
  g.leaderId = s.leaderId !== null && g.members.has(s.leaderId) ? s.leaderId : (g.members.keys().next().value ?? null);
  g.state = g.members.size > 0 && g.protocolName !== null ? 'Stable' : 'Empty';
  g.previousState = g.state;
  g.subscribedTopics = g.computeSubscribedTopics();
  return g;
}
