// Helpers for group-coordinator tests over the raw protocol: JoinGroup/SyncGroup/Heartbeat and
// friends at chosen versions, and consumer-protocol metadata bytes.
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ConsumerProtocolSubscription } from '../../src/protocol/generated/consumer-protocol-subscription.ts';
import { ConsumerProtocolAssignment } from '../../src/protocol/generated/consumer-protocol-assignment.ts';

/** Consumer-protocol subscription bytes: int16 version, then the v0 body. */
export function subscription(topics: string[]): Buffer {
  const body = ConsumerProtocolSubscription.encode({ topics, userData: null }, 0);
  const v = Buffer.alloc(2);
  return Buffer.concat([v, body]);
}

export function assignment(parts: { topic: string; partitions: number[] }[]): Buffer {
  const body = ConsumerProtocolAssignment.encode({ assignedPartitions: parts, userData: null }, 0);
  return Buffer.concat([Buffer.alloc(2), body]);
}

export interface JoinOpts {
  memberId?: string;
  instanceId?: string | null;
  sessionTimeoutMs?: number;
  rebalanceTimeoutMs?: number;
  protocolType?: string;
  protocols?: { name: string; metadata: Buffer }[];
  version?: number;
}

export class GroupClient {
  readonly c: RawClient;
  readonly groupId: string;

  private constructor(c: RawClient, groupId: string) {
    this.c = c;
    this.groupId = groupId;
  }

  static async connect(port: number, groupId: string): Promise<GroupClient> {
    return new GroupClient(await RawClient.connect(port), groupId);
  }

  close(): void {
    this.c.close();
  }

  join(o: JoinOpts = {}): Promise<any> {
    return this.c.request(ApiKey.JoinGroup, o.version ?? 9, {
      groupId: this.groupId,
      sessionTimeoutMs: o.sessionTimeoutMs ?? 10_000,
      rebalanceTimeoutMs: o.rebalanceTimeoutMs ?? 10_000,
      memberId: o.memberId ?? '',
      groupInstanceId: o.instanceId ?? null,
      protocolType: o.protocolType ?? 'consumer',
      protocols: o.protocols ?? [{ name: 'range', metadata: subscription(['t']) }],
      reason: null,
    });
  }

  /** JoinGroup v4+ twice when the coordinator asks for a member id (KIP-394). */
  async joinFully(o: JoinOpts = {}): Promise<any> {
    const first = await this.join(o);
    if (first.errorCode !== 79) return first;
    return this.join({ ...o, memberId: first.memberId });
  }

  sync(memberId: string, generationId: number, assignments: { memberId: string; assignment: Buffer }[] = [], o: { version?: number; instanceId?: string | null; protocolType?: string | null; protocolName?: string | null } = {}): Promise<any> {
    return this.c.request(ApiKey.SyncGroup, o.version ?? 5, {
      groupId: this.groupId,
      generationId,
      memberId,
      groupInstanceId: o.instanceId ?? null,
      protocolType: o.protocolType === undefined ? 'consumer' : o.protocolType,
      protocolName: o.protocolName === undefined ? 'range' : o.protocolName,
      assignments,
    });
  }

  heartbeat(memberId: string, generationId: number, instanceId: string | null = null, version = 4): Promise<any> {
    return this.c.request(ApiKey.Heartbeat, version, { groupId: this.groupId, generationId, memberId, groupInstanceId: instanceId });
  }

  leave(members: { memberId: string; groupInstanceId?: string | null }[], version = 5): Promise<any> {
    if (version < 3) return this.c.request(ApiKey.LeaveGroup, version, { groupId: this.groupId, memberId: members[0]!.memberId });
    return this.c.request(ApiKey.LeaveGroup, version, { groupId: this.groupId, members: members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? null, reason: 'test' })) });
  }

  commit(offsets: { topic: string; partition: number; offset: number; metadata?: string | null }[], o: { generationId?: number; memberId?: string; instanceId?: string | null; version?: number } = {}): Promise<any> {
    const byTopic = new Map<string, { partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number; committedMetadata: string | null }[]>();
    for (const x of offsets) {
      if (!byTopic.has(x.topic)) byTopic.set(x.topic, []);
      byTopic.get(x.topic)!.push({ partitionIndex: x.partition, committedOffset: BigInt(x.offset), committedLeaderEpoch: 0, committedMetadata: x.metadata === undefined ? 'meta' : x.metadata });
    }
    const v = o.version ?? 9;
    return this.c.request(ApiKey.OffsetCommit, v, {
      groupId: this.groupId,
      generationIdOrMemberEpoch: v >= 1 ? (o.generationId ?? -1) : undefined,
      memberId: v >= 1 ? (o.memberId ?? '') : undefined,
      groupInstanceId: v >= 7 ? (o.instanceId ?? null) : undefined,
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions: partitions.map((p) => (v >= 6 ? p : { ...p, committedLeaderEpoch: undefined })) })),
    });
  }

  /** OffsetFetch v8+ for this group; topics null = all. Returns topic → partition → offset. */
  async fetchOffsets(topics: { name: string; partitionIndexes: number[] }[] | null, o: { memberId?: string | null; memberEpoch?: number; version?: number } = {}): Promise<{ errorCode: number; offsets: Map<string, Map<number, any>> }> {
    const v = o.version ?? 9;
    const r = await this.c.request(ApiKey.OffsetFetch, v, {
      groups: [{ groupId: this.groupId, memberId: v >= 9 ? (o.memberId ?? null) : undefined, memberEpoch: v >= 9 ? (o.memberEpoch ?? -1) : undefined, topics }],
      requireStable: true,
    });
    const g = r.groups[0];
    const offsets = new Map<string, Map<number, any>>();
    for (const t of g.topics) offsets.set(t.name, new Map(t.partitions.map((p: any) => [p.partitionIndex, p])));
    return { errorCode: g.errorCode, offsets };
  }

  describe(version = 5): Promise<any> {
    return this.c.request(ApiKey.DescribeGroups, version, { groups: [this.groupId], includeAuthorizedOperations: version >= 3 }).then((r: any) => r.groups[0]);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until check() returns a truthy value, or fails after timeoutMs. */
export async function waitFor<T>(what: string, check: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 10_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export interface CghOpts {
  memberId?: string;
  memberEpoch: number;
  instanceId?: string | null;
  rebalanceTimeoutMs?: number;
  topics?: string[] | null;
  regex?: string | null;
  assignor?: string | null;
  /** Owned partitions by topic id; null = not sent. */
  owned?: { topicId: string; partitions: number[] }[] | null;
  version?: number;
}

/** One ConsumerGroupHeartbeat (KIP-848). */
export function cgh(c: RawClient, groupId: string, o: CghOpts): Promise<any> {
  const v = o.version ?? 1;
  return c.request(ApiKey.ConsumerGroupHeartbeat, v, {
    groupId,
    memberId: o.memberId ?? '',
    memberEpoch: o.memberEpoch,
    instanceId: o.instanceId ?? null,
    rackId: null,
    rebalanceTimeoutMs: o.rebalanceTimeoutMs ?? (o.memberEpoch === 0 ? 30_000 : -1),
    subscribedTopicNames: o.topics === undefined ? (o.memberEpoch === 0 ? ['t'] : null) : o.topics,
    subscribedTopicRegex: v >= 1 ? (o.regex ?? null) : undefined,
    serverAssignor: o.assignor ?? null,
    topicPartitions: o.owned === undefined ? (o.memberEpoch === 0 ? [] : null) : o.owned,
  });
}

/** Partitions of a heartbeat response's assignment, as "topicId:p" strings, sorted. */
export function assigned(r: any): string[] {
  if (!r.assignment) return [];
  return r.assignment.topicPartitions.flatMap((tp: any) => tp.partitions.map((p: number) => `${tp.topicId}:${p}`)).sort();
}
