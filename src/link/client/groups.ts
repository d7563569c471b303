// Consumer groups on the source: which groups exist (every broker is asked, each knows the groups it
// coordinates), what they look like, and their committed offsets. Per-group requests go to the
// group's coordinator; a coordinator that moved or is still loading is looked up again and retried.
import { ApiKey } from '../../protocol/generated/api-table.ts';
import { ErrorCode } from '../../protocol/generated/errors.ts';
import type { DescribeGroupsResponse } from '../../protocol/generated/describe-groups-response.ts';
import type { ListGroupsResponse } from '../../protocol/generated/list-groups-response.ts';
import type { OffsetFetchResponse, OffsetFetchResponsePartition } from '../../protocol/generated/offset-fetch-response.ts';
import type { BrokerConnection } from './connection.ts';
import { brokerLabel } from './core.ts';
import type { CallOptions, ClientCore, CoordinatorType, Limits } from './core.ts';
import { KafkaClientError, asClientError, isClientWide, kafkaError } from './errors.ts';
import { toNumber } from './int64.ts';
import type { BrokerInfo } from './metadata.ts';
import { Failed } from './route.ts';

export async function findCoordinator(core: ClientCore, key: string, type: CoordinatorType = 'group', options: CallOptions = {}): Promise<BrokerInfo> {
  const limits = core.limits(options);
  return core.retry(`FindCoordinator for ${type} ${key}`, limits, async () => {
    const found = (await core.findCoordinators([key], type, limits)).get(key)!;
    if (found instanceof KafkaClientError) throw found;
    return found;
  });
}

/** Sends per-group work to each group's coordinator, retrying groups whose coordinator moved. */
async function runOnCoordinators<Out>(
  core: ClientCore,
  groupIds: readonly string[],
  limits: Limits,
  send: (conn: BrokerConnection, groupIds: string[], limits: Limits) => Promise<(Out | Failed)[]>,
): Promise<(Out | KafkaClientError)[]> {
  const results = new Map<string, Out | KafkaClientError>();
  let pending = [...new Set(groupIds)];
  for (let attempt = 0; pending.length > 0; attempt++) {
    const retry: string[] = [];
    const fail = (groupId: string, f: Failed): void => {
      if (isClientWide(f.error)) throw f.error;
      results.set(groupId, f.error);
      core.coordinatorMoved(groupId, 'group', f.error.kafkaError);
      if (f.retry) retry.push(groupId);
    };
    try {
      const coordinators = await core.findCoordinators(pending, 'group', limits);
      const byBroker = new Map<number, { broker: BrokerInfo; groupIds: string[] }>();
      for (const groupId of pending) {
        const c = coordinators.get(groupId)!;
        if (c instanceof KafkaClientError) fail(groupId, new Failed(c));
        else {
          const entry = byBroker.get(c.nodeId);
          if (entry) entry.groupIds.push(groupId);
          else byBroker.set(c.nodeId, { broker: c, groupIds: [groupId] });
        }
      }
      await Promise.all([...byBroker.values()].map(async ({ broker, groupIds: ids }) => {
        try {
          const outs = await send(await core.connectionTo(broker, limits), ids, limits);
          ids.forEach((id, k) => (outs[k] instanceof Failed ? fail(id, outs[k]) : results.set(id, outs[k] as Out)));
        } catch (err) {
          const error = asClientError(err, `request to ${brokerLabel(broker)}`);
          for (const id of ids) fail(id, new Failed(error));
        }
      }));
    } catch (err) {
      const error = asClientError(err, 'FindCoordinator');
      for (const id of pending) fail(id, new Failed(error));
    }
    core.checkOpen();
    if (retry.length === 0 || attempt >= limits.retriesMax) break;
    if (!(await core.backoff(attempt + 1, limits))) {
      for (const id of retry) results.set(id, core.outOfTime(`group ${id}`, limits, attempt + 1, results.get(id) as KafkaClientError));
      break;
    }
    pending = retry;
  }
  return groupIds.map((id) => results.get(id)!);
}

function groupFailure(errorCode: number, groupId: string, what: string, message: string | null = null): Failed {
  return new Failed(kafkaError(errorCode, `${what} for group ${groupId}`, message));
}

// ---- ListGroups ---------------------------------------------------------------------------------

export interface ListGroupsOptions extends CallOptions {
  /** Only groups in these states (KIP-518, ListGroups v4+): Stable, Empty, PreparingRebalance… */
  states?: string[];
  /** Only groups of these types (KIP-848, v5+): classic, consumer, share, streams. */
  types?: string[];
}

export interface ListedGroup {
  groupId: string;
  protocolType: string;
  /** Empty when the broker does not report states (before v4). */
  state: string;
  /** Empty when the broker does not report types (before v5). */
  type: string;
  coordinatorId: number;
}

export async function listGroups(core: ClientCore, options: ListGroupsOptions = {}): Promise<ListedGroup[]> {
  const limits = core.limits(options);
  const metadata = await core.retry('metadata refresh', limits, () => core.metadataFor([], limits));
  const versionMin = options.types?.length ? 5 : options.states?.length ? 4 : 0;
  const perBroker = await Promise.all([...metadata.brokers.values()].map((broker) =>
    core.retry(`ListGroups on ${brokerLabel(broker)}`, limits, async () => {
      const conn = await core.connectionTo(broker, limits);
      const { response } = await conn.request<ListGroupsResponse>(
        ApiKey.ListGroups,
        () => ({ statesFilter: options.states ?? [], typesFilter: options.types ?? [] }),
        core.requestTimeoutMs(limits),
        { versionMin },
      );
      if (response.errorCode !== ErrorCode.NONE) throw kafkaError(response.errorCode, `ListGroups on ${brokerLabel(broker)}`);
      return response.groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, state: g.groupState, type: g.groupType, coordinatorId: broker.nodeId }));
    }),
  ));
  return perBroker.flat().sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
}

// ---- DescribeGroups -----------------------------------------------------------------------------

export interface GroupMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  /** The member's subscription and assignment, in its protocol's encoding (ConsumerProtocol for consumers). */
  metadata: Buffer;
  assignment: Buffer;
}

export interface DescribedGroup {
  groupId: string;
  error: KafkaClientError | null;
  /** Stable, Empty, Dead (also for a group that does not exist)… */
  state: string;
  protocolType: string;
  /** The chosen assignor for consumer groups (range, cooperative-sticky…). */
  protocol: string;
  members: GroupMember[];
}

export async function describeGroups(core: ClientCore, groupIds: readonly string[], options: CallOptions = {}): Promise<DescribedGroup[]> {
  const limits = core.limits(options);
  const outcomes = await runOnCoordinators(core, groupIds, limits, async (conn, ids, l) => {
    const { response } = await conn.request<DescribeGroupsResponse>(
      ApiKey.DescribeGroups,
      () => ({ groups: ids, includeAuthorizedOperations: false }),
      core.requestTimeoutMs(l),
    );
    const byId = new Map(response.groups.map((g) => [g.groupId, g]));
    return ids.map((id): DescribedGroup | Failed => {
      const g = byId.get(id);
      if (!g) return groupFailure(ErrorCode.UNKNOWN_SERVER_ERROR, id, `DescribeGroups response from ${conn.label} lacks it`);
      if (g.errorCode !== ErrorCode.NONE) return groupFailure(g.errorCode, id, 'DescribeGroups');
      return {
        groupId: id,
        error: null,
        state: g.groupState,
        protocolType: g.protocolType,
        protocol: g.protocolData,
        members: g.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          metadata: m.memberMetadata,
          assignment: m.memberAssignment,
        })),
      };
    });
  });
  return outcomes.map((o, i) => (o instanceof KafkaClientError ? { groupId: groupIds[i]!, error: o, state: '', protocolType: '', protocol: '', members: [] } : o));
}

// ---- OffsetFetch --------------------------------------------------------------------------------

export interface GroupOffsetsRequest {
  groupId: string;
  /** The partitions to look up; null or left out: every partition the group has committed. */
  topics?: { topic: string; partitions: number[] }[] | null;
}

export interface OffsetFetchOptions extends CallOptions {
  /** Wait for pending transactional commits to settle (KIP-447, v7+) instead of skipping them. */
  requireStable?: boolean;
}

export interface CommittedOffset {
  topic: string;
  partition: number;
  /** -1 when the group has no committed offset for the partition. */
  offset: number;
  leaderEpoch: number;
  metadata: string | null;
  error: KafkaClientError | null;
}

export interface GroupOffsets {
  groupId: string;
  error: KafkaClientError | null;
  offsets: CommittedOffset[];
}

export async function offsetFetch(core: ClientCore, groups: readonly (string | GroupOffsetsRequest)[], options: OffsetFetchOptions = {}): Promise<GroupOffsets[]> {
  const limits = core.limits(options);
  const requests = groups.map((g) => (typeof g === 'string' ? { groupId: g, topics: null } : { groupId: g.groupId, topics: g.topics ?? null }));
  const requireStable = options.requireStable ?? false;
  // A group asked about twice (different partitions) goes in separate requests: one request names a group once.
  const rounds: number[][] = [];
  const seen = new Map<string, number>();
  requests.forEach((r, i) => {
    const n = seen.get(r.groupId) ?? 0;
    seen.set(r.groupId, n + 1);
    (rounds[n] ??= []).push(i);
  });
  const results: GroupOffsets[] = new Array(requests.length);
  await Promise.all(rounds.map(async (round) => {
    const byId = new Map(round.map((i) => [requests[i]!.groupId, requests[i]!]));
    const outcomes = await runOnCoordinators(core, [...byId.keys()], limits, (conn, ids, l) =>
      // KIP-709 (v8+): one request for all of a coordinator's groups; before, one request per group.
      (conn.supports(ApiKey.OffsetFetch)?.maxVersion ?? 0) >= 8
        ? offsetFetchBatched(core, conn, ids.map((id) => byId.get(id)!), requireStable, l)
        : Promise.all(ids.map((id) => offsetFetchOne(core, conn, byId.get(id)!, requireStable, l))),
    );
    round.forEach((i, k) => {
      const o = outcomes[k]!;
      results[i] = o instanceof KafkaClientError ? { groupId: requests[i]!.groupId, error: o, offsets: [] } : o;
    });
  }));
  return results;
}

type Topics = { topic: string; partitions: number[] }[] | null;

const toRequestTopics = (topics: Topics) => topics?.map((t) => ({ name: t.topic, partitionIndexes: t.partitions })) ?? null;

async function offsetFetchBatched(core: ClientCore, conn: BrokerConnection, groups: GroupOffsetsRequest[], requireStable: boolean, limits: Limits): Promise<(GroupOffsets | Failed)[]> {
  const { response } = await conn.request<OffsetFetchResponse>(
    ApiKey.OffsetFetch,
    () => ({
      groups: groups.map((g) => ({ groupId: g.groupId, memberId: null, memberEpoch: -1, topics: toRequestTopics(g.topics ?? null) })),
      requireStable,
    }),
    core.requestTimeoutMs(limits),
    { versionMin: 8 },
  );
  const byId = new Map(response.groups.map((g) => [g.groupId, g]));
  return groups.map((g) => {
    const answer = byId.get(g.groupId);
    if (!answer) return groupFailure(ErrorCode.UNKNOWN_SERVER_ERROR, g.groupId, `OffsetFetch response from ${conn.label} lacks it`);
    return groupOffsets(g.groupId, answer.errorCode, answer.topics);
  });
}

async function offsetFetchOne(core: ClientCore, conn: BrokerConnection, g: GroupOffsetsRequest, requireStable: boolean, limits: Limits): Promise<GroupOffsets | Failed> {
  const topics = g.topics ?? null;
  const { response } = await conn.request<OffsetFetchResponse>(
    ApiKey.OffsetFetch,
    (version) => ({ groupId: g.groupId, topics: toRequestTopics(topics), ...(version >= 7 ? { requireStable } : {}) }),
    core.requestTimeoutMs(limits),
    // All of a group's offsets (null topics) came with v2; requireStable with v7.
    { versionMin: requireStable ? 7 : topics === null ? 2 : 0, versionMax: 7 },
  );
  return groupOffsets(g.groupId, response.errorCode, response.topics);
}

function groupOffsets(groupId: string, errorCode: number, topics: { name: string; partitions: OffsetFetchResponsePartition[] }[]): GroupOffsets | Failed {
  if (errorCode !== ErrorCode.NONE) return groupFailure(errorCode, groupId, 'OffsetFetch');
  const offsets: CommittedOffset[] = [];
  for (const t of topics) {
    for (const p of t.partitions) {
      // An unsettled transactional commit (KIP-447): ask again, as the Java consumer does.
      if (p.errorCode === ErrorCode.UNSTABLE_OFFSET_COMMIT) return groupFailure(p.errorCode, groupId, `OffsetFetch of ${t.name}-${p.partitionIndex}`);
      offsets.push({
        topic: t.name,
        partition: p.partitionIndex,
        offset: toNumber(p.committedOffset, 'committedOffset'),
        leaderEpoch: p.committedLeaderEpoch,
        metadata: p.metadata,
        error: p.errorCode === ErrorCode.NONE ? null : kafkaError(p.errorCode, `committed offset of group ${groupId} for ${t.name}-${p.partitionIndex}`),
      });
    }
  }
  offsets.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  return { groupId, error: null, offsets };
}
