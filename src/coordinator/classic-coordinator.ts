// The classic group protocol: JoinGroup, SyncGroup, Heartbeat and LeaveGroup with Kafka's rules for
// rebalances, member ids (KIP-394), static membership (KIP-345), session and rebalance timeouts and
// the delayed initial rebalance. Every entry point runs under the group's lock; a JoinGroup or
// SyncGroup that must wait is parked as a Deferred, answered later by another request or a timer.
import { ErrorCode } from '../protocol/generated/errors.ts';
import { ClassicGroup, ClassicMember, joinError, reject, rejectionCode, syncError } from './classic-group.ts';
import type { GroupProtocol, JoinResult, SyncResult } from './classic-group.ts';
import { Deferred } from './timers.ts';
import { timerKey } from './runtime.ts';
import type { GroupRuntime } from './runtime.ts';

export interface JoinRequest {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: GroupProtocol[];
  reason: string | null;
  clientId: string;
  clientHost: string;
  apiVersion: number;
}

export interface SyncRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string | null;
  protocolName: string | null;
  assignments: { memberId: string; assignment: Buffer }[];
}

export interface HeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export interface LeaveResult {
  errorCode: number;
  members: { memberId: string; groupInstanceId: string | null; errorCode: number }[];
}

const EMPTY = Buffer.alloc(0);
/** JoinGroup v4+ requires a known member id: the first join gets one with MEMBER_ID_REQUIRED (KIP-394). */
const REQUIRES_KNOWN_MEMBER_ID_VERSION = 4;
/** JoinGroup v9+ tells a rejoining static leader to skip the assignment it already made. */
const SKIP_ASSIGNMENT_VERSION = 9;

const heartbeatKey = (groupId: string, memberId: string) => timerKey(groupId, 'heartbeat', memberId);
const joinKey = (groupId: string) => timerKey(groupId, 'join');
const syncKey = (groupId: string) => timerKey(groupId, 'sync');

export class ClassicCoordinator {
  private readonly rt: GroupRuntime;

  constructor(rt: GroupRuntime) {
    this.rt = rt;
  }

  // --- JoinGroup -------------------------------------------------------------------------------

  /** Returns at once; the result resolves when the join phase completes (or at once on errors). */
  async join(req: JoinRequest): Promise<Deferred<JoinResult>> {
    const out = new Deferred<JoinResult>();
    let existing = this.rt.groups.get(req.groupId);
    if (existing && existing.type === 'consumer') {
      if (!existing.isEmpty()) {
        // Classic members cannot join a KIP-848 group that has members (no online migration).
        out.resolve(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId));
        return out;
      }
      // An empty consumer group becomes a classic group; its committed offsets stay.
      this.rt.dropGroup(existing);
      existing = undefined;
    }
    const isUnknownMember = req.memberId === '';
    if (!existing && !isUnknownMember) {
      out.resolve(joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId));
      return out;
    }
    const isNewGroup = !existing;
    const group = (existing as ClassicGroup | undefined) ?? new ClassicGroup(req.groupId, this.rt.now());
    if (isNewGroup) this.rt.groups.set(req.groupId, group);

    if (!this.acceptJoiningMember(group, req.memberId)) {
      group.remove(req.memberId);
      out.resolve(joinError(ErrorCode.GROUP_MAX_SIZE_REACHED, ''));
    } else if (isUnknownMember) {
      await this.joinNewMember(group, req, out);
    } else {
      await this.joinExistingMember(group, req, out);
    }
    // Kafka records a newly created group at once, so it is listed (Empty) even after a restart.
    if (isNewGroup) await this.persistQuietly(group);
    return out;
  }

  private acceptJoiningMember(group: ClassicGroup, memberId: string): boolean {
    const max = this.rt.config.classicGroupSizeMax;
    switch (group.state) {
      case 'Empty':
      case 'Dead':
        return true;
      case 'PreparingRebalance':
        // Counting parked joins (not members) lets the last members to rejoin be turned away when over size.
        return (group.hasMember(memberId) && group.member(memberId).isAwaitingJoin) || group.numAwaitingJoin < max;
      default:
        return group.hasMember(memberId) || group.members.size < max;
    }
  }

  private async joinNewMember(group: ClassicGroup, req: JoinRequest, out: Deferred<JoinResult>): Promise<void> {
    if (group.is('Dead')) return out.resolve(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, ''));
    if (!group.supportsProtocols(req.protocolType, req.protocols.map((p) => p.name))) {
      return out.resolve(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, ''));
    }
    const newMemberId = group.generateMemberId(req.clientId, req.groupInstanceId);
    if (req.groupInstanceId !== null) {
      const existingMemberId = group.staticMemberId(req.groupInstanceId);
      if (existingMemberId !== undefined) return this.replaceStaticMember(group, req, existingMemberId, newMemberId, out);
      return this.addMemberThenRebalanceOrCompleteJoin(group, req, newMemberId, out);
    }
    if (req.apiVersion >= REQUIRES_KNOWN_MEMBER_ID_VERSION) {
      // KIP-394: remember the id and ask the client to join again with it. A client that never comes
      // back is forgotten after its session timeout.
      group.pendingJoinMembers.add(newMemberId);
      this.scheduleHeartbeatExpiry(group, newMemberId, req.sessionTimeoutMs);
      return out.resolve(joinError(ErrorCode.MEMBER_ID_REQUIRED, newMemberId));
    }
    this.addMemberThenRebalanceOrCompleteJoin(group, req, newMemberId, out);
  }

  private async joinExistingMember(group: ClassicGroup, req: JoinRequest, out: Deferred<JoinResult>): Promise<void> {
    const memberId = req.memberId;
    if (group.is('Dead')) return out.resolve(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, memberId));
    if (!group.supportsProtocols(req.protocolType, req.protocols.map((p) => p.name))) {
      return out.resolve(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, memberId));
    }
    if (group.pendingJoinMembers.has(memberId)) return this.addMemberThenRebalanceOrCompleteJoin(group, req, memberId, out);
    const rejected = group.memberRejection(memberId, req.groupInstanceId);
    if (rejected !== null) return out.resolve(joinError(rejected, memberId));
    const member = group.member(memberId);
    switch (group.state) {
      case 'PreparingRebalance':
        return this.updateMemberThenRebalanceOrCompleteJoin(group, member, req, out, `member ${memberId} is joining during PreparingRebalance`);
      case 'CompletingRebalance':
        // The same metadata again: the client probably lost the JoinGroup response, so resend it.
        if (member.matches(req.protocols)) return out.resolve(this.currentGenerationJoin(group, memberId, group.isLeader(memberId)));
        return this.updateMemberThenRebalanceOrCompleteJoin(group, member, req, out, `member ${memberId} changed its metadata during CompletingRebalance`);
      case 'Stable':
        // The leader rejoining forces a rebalance (e.g. it saw new partitions); so does changed metadata.
        if (group.isLeader(memberId) || !member.matches(req.protocols)) {
          return this.updateMemberThenRebalanceOrCompleteJoin(group, member, req, out, `member ${memberId} rejoined a Stable group`);
        }
        return out.resolve(this.currentGenerationJoin(group, memberId, false));
      default:
        // Empty: let the member reset its generation and join again.
        return out.resolve(joinError(ErrorCode.UNKNOWN_MEMBER_ID, memberId));
    }
  }

  private currentGenerationJoin(group: ClassicGroup, memberId: string, withMembers: boolean, skipAssignment = false): JoinResult {
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? '',
      skipAssignment,
      memberId,
      members: withMembers ? group.currentMembers() : [],
    };
  }

  private updateMemberThenRebalanceOrCompleteJoin(group: ClassicGroup, member: ClassicMember, req: JoinRequest, out: Deferred<JoinResult>, reason: string): void {
    group.updateMember(member, req.protocols, req.rebalanceTimeoutMs, req.sessionTimeoutMs, out);
    this.maybePrepareRebalanceOrCompleteJoin(group, reason);
  }

  private addMemberThenRebalanceOrCompleteJoin(group: ClassicGroup, req: JoinRequest, memberId: string, out: Deferred<JoinResult>): void {
    const member = new ClassicMember({
      memberId,
      groupInstanceId: req.groupInstanceId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      sessionTimeoutMs: req.sessionTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols,
    });
    member.isNew = true;
    // During the initial (delayed) rebalance each new member may extend the delay.
    if (group.is('PreparingRebalance') && group.previousState === 'Empty') group.newMemberAdded = true;
    group.add(member, out);
    // A parked JoinGroup of a new member cannot heartbeat; if the client gave up and retries it would
    // leave a defunct member behind, so new members' joins time out on their own.
    this.scheduleHeartbeatExpiry(group, memberId, this.rt.config.newMemberJoinTimeoutMs);
    this.maybePrepareRebalanceOrCompleteJoin(group, `new member ${memberId} joined`);
  }

  /** KIP-345: a static member rejoining with an unknown member id replaces its earlier incarnation. */
  private async replaceStaticMember(group: ClassicGroup, req: JoinRequest, oldMemberId: string, newMemberId: string, out: Deferred<JoinResult>): Promise<void> {
    const instanceId = req.groupInstanceId!;
    const currentLeader = group.leaderId;
    const member = group.replaceStaticMember(instanceId, oldMemberId, newMemberId);
    this.rt.timers.cancel(heartbeatKey(group.groupId, oldMemberId));
    this.scheduleHeartbeatExpiry(group, newMemberId, member.sessionTimeoutMs);
    const old = { protocols: member.protocols, rebalanceTimeoutMs: member.rebalanceTimeoutMs, sessionTimeoutMs: member.sessionTimeoutMs };
    group.updateMember(member, req.protocols, req.rebalanceTimeoutMs, req.sessionTimeoutMs, out);

    if (group.is('Stable')) {
      if (group.protocolName !== group.selectProtocol()) {
        return this.maybePrepareRebalanceOrCompleteJoin(group, `static member ${instanceId} rejoined with a protocol change`);
      }
      // Nothing the assignment depends on changed: keep the generation, record the new member id.
      try {
        await this.rt.persist(group);
      } catch (err) {
        this.rt.log.warn('could not store group after static member replacement; reverting', { groupId: group.groupId, err: err as Error });
        const restored = group.replaceStaticMember(instanceId, newMemberId, oldMemberId);
        group.updateMember(restored, old.protocols, old.rebalanceTimeoutMs, old.sessionTimeoutMs, null);
        this.rt.timers.cancel(heartbeatKey(group.groupId, newMemberId));
        this.scheduleHeartbeatExpiry(group, oldMemberId, restored.sessionTimeoutMs);
        return out.resolve({ ...joinError(ErrorCode.UNKNOWN_SERVER_ERROR, ''), generationId: group.generationId, leader: currentLeader ?? '' });
      }
      if (req.apiVersion >= SKIP_ASSIGNMENT_VERSION) {
        const isLeader = group.isLeader(newMemberId);
        group.completeJoin(member, this.currentGenerationJoin(group, newMemberId, isLeader, isLeader));
      } else {
        group.completeJoin(member, { ...this.currentGenerationJoin(group, newMemberId, false), leader: currentLeader ?? '' });
      }
      return;
    }
    if (group.is('CompletingRebalance')) {
      // The leader may already hold the old member id for its assignment: rebalance again.
      return this.prepareRebalance(group, `static member ${instanceId} rejoined during CompletingRebalance`);
    }
    this.maybeCompleteJoinPhase(group);
  }

  private maybePrepareRebalanceOrCompleteJoin(group: ClassicGroup, reason: string): void {
    if (group.canRebalance()) this.prepareRebalance(group, reason);
    else this.maybeCompleteJoinPhase(group);
  }

  prepareRebalance(group: ClassicGroup, reason: string): void {
    if (group.is('CompletingRebalance')) this.resetAndPropagateAssignment(group, ErrorCode.REBALANCE_IN_PROGRESS);
    this.removeSyncExpiration(group);
    const isInitialRebalance = group.is('Empty');
    if (isInitialRebalance) {
      // A new group waits a little for more members, so it does not rebalance once per member.
      const delayMs = this.rt.config.initialRebalanceDelayMs;
      const remainingMs = Math.max(group.rebalanceTimeoutMs() - delayMs, 0);
      this.scheduleInitialRebalance(group, delayMs, remainingMs);
    }
    group.transitionTo('PreparingRebalance', this.rt.now());
    this.rt.log.info('preparing to rebalance group', { groupId: group.groupId, generationId: group.generationId, reason });
    if (!isInitialRebalance) this.maybeCompleteJoinElseSchedule(group);
  }

  private scheduleInitialRebalance(group: ClassicGroup, delayMs: number, remainingMs: number): void {
    this.rt.timers.schedule(joinKey(group.groupId), delayMs, () =>
      this.rt.runLocked(group.groupId, 'initial rebalance', () => {
        if (!this.isCurrent(group)) return;
        if (group.newMemberAdded && remainingMs !== 0) {
          group.newMemberAdded = false;
          const nextDelayMs = Math.min(this.rt.config.initialRebalanceDelayMs, remainingMs);
          this.scheduleInitialRebalance(group, nextDelayMs, Math.max(remainingMs - delayMs, 0));
        } else {
          this.completeJoin(group);
        }
      }),
    );
  }

  private maybeCompleteJoinElseSchedule(group: ClassicGroup): void {
    if (group.hasAllMembersJoined()) return this.completeJoin(group);
    this.scheduleJoinCompletion(group, group.rebalanceTimeoutMs());
  }

  private scheduleJoinCompletion(group: ClassicGroup, delayMs: number): void {
    this.rt.timers.schedule(joinKey(group.groupId), delayMs, () =>
      this.rt.runLocked(group.groupId, 'join completion', () => {
        if (this.isCurrent(group)) this.completeJoin(group);
      }),
    );
  }

  private maybeCompleteJoinPhase(group: ClassicGroup): void {
    // The initial rebalance only completes on its timer.
    if (group.is('PreparingRebalance') && group.previousState !== 'Empty' && group.hasAllMembersJoined()) this.completeJoin(group);
  }

  /** Ends the join phase: members that did not rejoin are dropped, the next generation starts and
   *  every parked JoinGroup is answered (the leader gets the members and their metadata). */
  private completeJoin(group: ClassicGroup): void {
    this.rt.timers.cancel(joinKey(group.groupId));
    for (const m of group.notYetRejoinedMembers()) {
      if (m.groupInstanceId !== null) continue; // static members keep their place
      group.remove(m.memberId);
      this.rt.timers.cancel(heartbeatKey(group.groupId, m.memberId));
    }
    if (group.is('Dead')) return;
    if (!group.maybeElectNewJoinedLeader() && group.members.size > 0) {
      // Nobody rejoined: try again later, when session timeouts have removed the silent members.
      this.scheduleJoinCompletion(group, group.rebalanceTimeoutMs());
      return;
    }
    group.initNextGeneration(this.rt.now());
    if (group.is('Empty')) {
      this.rt.log.info('group is now empty', { groupId: group.groupId, generationId: group.generationId });
      void this.persistQuietly(group);
      return;
    }
    this.rt.log.info('group stabilized', { groupId: group.groupId, generationId: group.generationId, members: group.members.size, protocol: group.protocolName });
    for (const m of group.members.values()) {
      group.completeJoin(m, this.currentGenerationJoin(group, m.memberId, group.isLeader(m.memberId)));
      this.scheduleHeartbeatExpiry(group, m.memberId, m.sessionTimeoutMs);
      m.isNew = false;
      group.pendingSyncMembers.add(m.memberId);
    }
    this.schedulePendingSync(group);
  }

  private schedulePendingSync(group: ClassicGroup): void {
    const generationId = group.generationId;
    this.rt.timers.schedule(syncKey(group.groupId), group.rebalanceTimeoutMs(), () =>
      this.rt.runLocked(group.groupId, 'sync expiration', () => {
        if (!this.isCurrent(group) || group.generationId !== generationId) return;
        if (!(group.is('CompletingRebalance') || group.is('Stable')) || group.pendingSyncMembers.size === 0) return;
        const silent = [...group.pendingSyncMembers];
        for (const memberId of silent) {
          group.remove(memberId);
          this.rt.timers.cancel(heartbeatKey(group.groupId, memberId));
        }
        this.prepareRebalance(group, `members ${silent.join(', ')} sent no SyncGroup in time`);
      }),
    );
  }

  private removeSyncExpiration(group: ClassicGroup): void {
    group.pendingSyncMembers.clear();
    this.rt.timers.cancel(syncKey(group.groupId));
  }

  private resetAndPropagateAssignment(group: ClassicGroup, errorCode: number): void {
    for (const m of group.members.values()) m.assignment = EMPTY;
    this.propagateAssignment(group, errorCode);
  }

  private propagateAssignment(group: ClassicGroup, errorCode: number): void {
    const ok = errorCode === ErrorCode.NONE;
    for (const m of group.members.values()) {
      const answered = group.completeSync(m, {
        errorCode,
        protocolType: ok ? group.protocolType : null,
        protocolName: ok ? group.protocolName : null,
        assignment: m.assignment,
      });
      // The session restarts with the assignment (an expiry while the sync was parked was ignored).
      if (answered) this.scheduleHeartbeatExpiry(group, m.memberId, m.sessionTimeoutMs);
    }
  }

  // --- SyncGroup -------------------------------------------------------------------------------

  async sync(req: SyncRequest): Promise<Deferred<SyncResult>> {
    const out = new Deferred<SyncResult>();
    const group = this.rt.groups.get(req.groupId);
    if (!group || group.type !== 'classic' || group.isEmpty()) {
      out.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      return out;
    }
    const error = this.validateSync(group, req);
    if (error !== null) {
      out.resolve(syncError(error));
    } else if (group.is('PreparingRebalance')) {
      out.resolve(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
    } else if (group.is('CompletingRebalance')) {
      const member = group.member(req.memberId);
      member.awaitingSync?.resolve(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      member.awaitingSync = out;
      this.removePendingSyncMember(group, req.memberId);
      if (group.isLeader(req.memberId)) await this.applyLeaderAssignment(group, req);
    } else {
      // Stable: the assignment is settled; answer it.
      this.removePendingSyncMember(group, req.memberId);
      const member = group.member(req.memberId);
      out.resolve({ errorCode: ErrorCode.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment });
    }
    return out;
  }

  private validateSync(group: ClassicGroup, req: SyncRequest): number | null {
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const rejected = group.memberRejection(req.memberId, req.groupInstanceId);
    if (rejected !== null) return rejected;
    if (req.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    const inconsistent = (a: string | null, b: string | null) => a !== null && b !== null && a !== b;
    if (inconsistent(req.protocolType, group.protocolType) || inconsistent(req.protocolName, group.protocolName)) return ErrorCode.INCONSISTENT_GROUP_PROTOCOL;
    return null;
  }

  /** The leader's assignment is stored before anyone sees it, so it survives a restart. */
  private async applyLeaderAssignment(group: ClassicGroup, req: SyncRequest): Promise<void> {
    const assignment = new Map<string, Buffer>();
    for (const a of req.assignments) assignment.set(a.memberId, a.assignment);
    for (const memberId of group.members.keys()) if (!assignment.has(memberId)) assignment.set(memberId, EMPTY);
    const generationId = group.generationId;
    let failed = false;
    try {
      await this.rt.persist(group, assignment);
    } catch (err) {
      this.rt.log.warn('could not store group assignment', { groupId: group.groupId, err: err as Error });
      failed = true;
    }
    if (!group.is('CompletingRebalance') || group.generationId !== generationId) return;
    if (failed) {
      this.resetAndPropagateAssignment(group, ErrorCode.COORDINATOR_NOT_AVAILABLE);
      this.maybePrepareRebalanceOrCompleteJoin(group, 'storing the assignment failed');
      return;
    }
    for (const m of group.members.values()) m.assignment = assignment.get(m.memberId) ?? EMPTY;
    this.propagateAssignment(group, ErrorCode.NONE);
    group.transitionTo('Stable', this.rt.now());
  }

  private removePendingSyncMember(group: ClassicGroup, memberId: string): void {
    group.pendingSyncMembers.delete(memberId);
    if (group.pendingSyncMembers.size === 0 || !(group.is('CompletingRebalance') || group.is('Stable'))) {
      this.rt.timers.cancel(syncKey(group.groupId));
    }
  }

  // --- Heartbeat -------------------------------------------------------------------------------

  heartbeat(req: HeartbeatRequest): number {
    const group = this.rt.groups.get(req.groupId);
    if (!group || group.type !== 'classic') return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const rejected = group.memberRejection(req.memberId, req.groupInstanceId);
    if (rejected !== null) return rejected;
    if (req.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    if (group.is('Empty')) return ErrorCode.UNKNOWN_MEMBER_ID;
    const member = group.member(req.memberId);
    this.scheduleHeartbeatExpiry(group, member.memberId, member.sessionTimeoutMs);
    return group.is('PreparingRebalance') ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  /** An offset commit of a member keeps its session alive like a heartbeat. */
  touchMember(group: ClassicGroup, memberId: string): void {
    const member = group.members.get(memberId);
    if (member && (group.is('Stable') || group.is('PreparingRebalance'))) this.scheduleHeartbeatExpiry(group, memberId, member.sessionTimeoutMs);
  }

  private scheduleHeartbeatExpiry(group: ClassicGroup, memberId: string, timeoutMs: number): void {
    this.rt.timers.schedule(heartbeatKey(group.groupId, memberId), timeoutMs, () =>
      this.rt.runLocked(group.groupId, 'session expiration', () => {
        if (this.isCurrent(group)) this.expireHeartbeat(group, memberId);
      }),
    );
  }

  private expireHeartbeat(group: ClassicGroup, memberId: string): void {
    if (group.is('Dead')) return;
    if (group.pendingJoinMembers.has(memberId)) {
      this.rt.log.info('pending member removed after session timeout', { groupId: group.groupId, memberId });
      group.remove(memberId);
      if (group.is('PreparingRebalance') && group.hasAllMembersJoined()) this.completeJoin(group);
      return;
    }
    const member = group.members.get(memberId);
    if (!member || member.hasSatisfiedHeartbeat()) return;
    this.rt.log.info('member failed to heartbeat; removing it', { groupId: group.groupId, memberId });
    this.removeMemberAndUpdateGroup(group, member, `member ${memberId} session expired`);
  }

  private removeMemberAndUpdateGroup(group: ClassicGroup, member: ClassicMember, reason: string): void {
    // A new member may time out with its JoinGroup parked: answer it so a live client retries.
    group.completeJoin(member, joinError(ErrorCode.UNKNOWN_MEMBER_ID, ''));
    group.completeSync(member, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    group.remove(member.memberId);
    if (group.is('Stable') || group.is('CompletingRebalance')) this.maybePrepareRebalanceOrCompleteJoin(group, reason);
    else if (group.is('PreparingRebalance') && group.hasAllMembersJoined()) this.completeJoin(group);
  }

  // --- LeaveGroup ------------------------------------------------------------------------------

  leave(groupId: string, members: { memberId: string; groupInstanceId: string | null; reason: string | null }[]): LeaveResult {
    const group = this.rt.groups.get(groupId);
    if (!group || group.type !== 'classic') return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID, members: [] };
    if (group.is('Dead')) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    const responses: LeaveResult['members'] = [];
    let left = 0;
    for (const m of members) {
      const answer = (errorCode: number) => {
        responses.push({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode });
        if (errorCode === ErrorCode.NONE) left++;
      };
      if (m.memberId === '') {
        // An admin may remove a static member by its instance id alone.
        const existing = group.staticMemberId(m.groupInstanceId);
        if (existing === undefined) answer(ErrorCode.UNKNOWN_MEMBER_ID);
        else {
          this.removeLeavingMember(group, existing);
          answer(ErrorCode.NONE);
        }
      } else if (group.pendingJoinMembers.has(m.memberId)) {
        group.remove(m.memberId);
        this.rt.timers.cancel(heartbeatKey(group.groupId, m.memberId));
        answer(ErrorCode.NONE);
      } else {
        const rejected = group.memberRejection(m.memberId, m.groupInstanceId);
        if (rejected !== null) {
          answer(rejected);
          continue;
        }
        this.removeLeavingMember(group, m.memberId);
        answer(ErrorCode.NONE);
      }
      this.rt.log.info('member left group', { groupId, memberId: m.memberId, groupInstanceId: m.groupInstanceId, reason: m.reason ?? 'not provided' });
    }
    if (left > 0) {
      if (group.is('Stable') || group.is('CompletingRebalance')) this.maybePrepareRebalanceOrCompleteJoin(group, 'members left');
      else if (group.is('PreparingRebalance')) this.maybeCompleteJoinPhase(group);
    }
    return { errorCode: ErrorCode.NONE, members: responses };
  }

  private removeLeavingMember(group: ClassicGroup, memberId: string): void {
    const member = group.member(memberId);
    this.rt.timers.cancel(heartbeatKey(group.groupId, memberId));
    group.completeJoin(member, joinError(ErrorCode.UNKNOWN_MEMBER_ID, ''));
    group.completeSync(member, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    group.remove(memberId);
  }

  // --- offsets, loading, unloading ---------------------------------------------------------------

  /** OffsetCommit's checks for a classic group (Kafka's ClassicGroup.validateOffsetCommit). */
  validateOffsetCommit(group: ClassicGroup, memberId: string, groupInstanceId: string | null, generationId: number): void {
    if (group.is('Dead')) reject(ErrorCode.COORDINATOR_NOT_AVAILABLE, `group ${group.groupId} is being deleted`);
    // Generation -1 comes from the admin client or a consumer without group management: allowed
    // while nobody is a member.
    if (generationId < 0 && group.is('Empty')) return;
    if (generationId >= 0 || memberId !== '' || groupInstanceId !== null) {
      group.validateMember(memberId, groupInstanceId);
      if (generationId !== group.generationId) reject(ErrorCode.ILLEGAL_GENERATION, `generation ${generationId} is not the group's ${group.generationId}`);
    } else if (!group.is('Empty')) {
      reject(ErrorCode.UNKNOWN_MEMBER_ID, `group ${group.groupId} has members; commits need a member id and generation`);
    }
    if (group.is('CompletingRebalance')) reject(ErrorCode.REBALANCE_IN_PROGRESS, `group ${group.groupId} is completing a rebalance`);
  }

  /** After a restart every loaded member gets a fresh session to heartbeat in. */
  onLoaded(group: ClassicGroup): void {
    for (const m of group.members.values()) this.scheduleHeartbeatExpiry(group, m.memberId, m.sessionTimeoutMs);
    if (group.members.size > this.rt.config.classicGroupSizeMax) this.prepareRebalance(group, 'loaded group is over group.max.size');
  }

  /** Answers every parked request with NOT_COORDINATOR (the broker is shutting down). */
  onUnloaded(group: ClassicGroup): void {
    group.transitionTo('Dead', this.rt.now());
    for (const m of group.members.values()) {
      group.completeJoin(m, joinError(ErrorCode.NOT_COORDINATOR, m.memberId));
      group.completeSync(m, syncError(ErrorCode.NOT_COORDINATOR));
    }
  }

  private isCurrent(group: ClassicGroup): boolean {
    return this.rt.groups.get(group.groupId) === group;
  }

  private async persistQuietly(group: ClassicGroup): Promise<void> {
    try {
      await this.rt.persist(group);
    } catch (err) {
      this.rt.log.warn('could not store group', { groupId: group.groupId, err: err as Error });
    }
  }
}
