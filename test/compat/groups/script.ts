// One scripted consumer-group sequence over the raw protocol (JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup, OffsetCommit/Fetch/Delete, Describe/List/DeleteGroups, ConsumerGroupHeartbeat and
// ConsumerGroupDescribe), recording what the broker answers at each step: error codes, generations,
// epochs, states, member counts and committed offsets. Member ids are random, so the transcript
// names members by role. Run against Apache Kafka and Strait, the transcripts must be equal.
import { RawClient } from '../../helpers/raw-client.ts';
import { ApiKey } from '../../../src/protocol/generated/api-table.ts';
import { buildBatch } from '../../../src/protocol/records/index.ts';
import { ConsumerProtocolSubscription } from '../../../src/protocol/generated/consumer-protocol-subscription.ts';

export type Transcript = [string, unknown][];

const TOPIC = 'script-t';
const OTHER = 'script-u';
const PARTITIONS = 3;

function subscription(topics: string[]): Buffer {
  return Buffer.concat([Buffer.alloc(2), ConsumerProtocolSubscription.encode({ topics, userData: null }, 0)]);
}

export async function runGroupScript(port: number): Promise<Transcript> {
  const out: Transcript = [];
  const log = (step: string, v: unknown) => out.push([step, v]);
  const c = await RawClient.connect(port);
  const c2 = await RawClient.connect(port);
  const ids = new Map<string, string>();
  const role = (id: string) => {
    for (const [r, v] of ids) if (v === id) return r;
    return id === '' ? '' : `?${/^raw-client-[0-9a-f-]{36}$/.test(id) ? 'client-uuid' : 'other'}`;
  };
  try {
    const created = await c.request(ApiKey.CreateTopics, 7, {
      topics: [
        { name: TOPIC, numPartitions: PARTITIONS, replicationFactor: 1 },
        { name: OTHER, numPartitions: 1, replicationFactor: 1 },
      ],
      timeoutMs: 10_000,
    });
    log('create topics', created.topics.map((t: any) => t.errorCode));
    await waitForLeaders(c);
    for (let p = 0; p < PARTITIONS; p++) {
      const records = buildBatch({ compression: 'none', records: [...Array(10).keys()].map((i) => ({ key: `k${i}`, value: `v${i}`, timestamp: Date.now() })) });
      // A new Kafka partition may refuse writes for a moment (NOT_LEADER_OR_FOLLOWER): retry.
      let error = -1;
      for (let i = 0; i < 100 && error !== 0; i++) {
        const r = await c.request(ApiKey.Produce, 9, { acks: -1, timeoutMs: 5000, topicData: [{ name: TOPIC, partitionData: [{ index: p, records }] }] });
        error = r.responses[0].partitionResponses[0].errorCode;
        if (error !== 0) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      log(`produce p${p}`, error);
    }

    // Kafka creates its offsets topic on the first FindCoordinator and loads it: wait until every
    // group's coordinator answers (Strait answers at once).
    for (const groupId of ['script-simple', 'script-nope', 'script-classic', 'script-consumer', 'script-none']) {
      for (let i = 0; ; i++) {
        const fc = await c.request(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: [groupId] });
        const of = fc.coordinators[0].errorCode === 0 ? await c.request(ApiKey.OffsetFetch, 8, { groups: [{ groupId, topics: null }], requireStable: false }) : null;
        if (of && of.groups[0].errorCode === 0) break;
        if (i > 300) throw new Error(`no coordinator for ${groupId}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }

    const fetchOffsets = async (groupId: string, version = 8) => {
      const r = await c.request(ApiKey.OffsetFetch, version, { groups: [{ groupId, topics: [{ name: TOPIC, partitionIndexes: [0, 1, 2] }] }], requireStable: false });
      const g = r.groups[0];
      return [g.errorCode, g.topics.map((t: any) => [t.name, t.partitions.map((p: any) => [p.partitionIndex, Number(p.committedOffset), p.metadata, p.errorCode])])];
    };
    const commit = async (groupId: string, generationIdOrMemberEpoch: number, memberId: string, offsets: [number, number][], version = 9, cl = c) => {
      const r = await cl.request(ApiKey.OffsetCommit, version, {
        groupId,
        generationIdOrMemberEpoch,
        memberId,
        groupInstanceId: null,
        topics: [{ name: TOPIC, partitions: offsets.map(([p, o]) => ({ partitionIndex: p, committedOffset: BigInt(o), committedLeaderEpoch: -1, committedMetadata: 'm' })) }],
      });
      return r.topics[0].partitions.map((p: any) => p.errorCode);
    };
    const join = async (cl: RawClient, groupId: string, memberId: string, version = 9, extra: Record<string, unknown> = {}) =>
      cl.request(ApiKey.JoinGroup, version, {
        groupId,
        sessionTimeoutMs: 30_000,
        rebalanceTimeoutMs: 30_000,
        memberId,
        groupInstanceId: null,
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: subscription([TOPIC]) }],
        reason: null,
        ...extra,
      });
    const joined = (r: any) => ({ error: r.errorCode, generation: r.generationId, leader: role(r.leader), member: role(r.memberId), members: r.members.map((m: any) => role(m.memberId)).sort(), protocol: r.protocolName, type: r.protocolType });
    const sync = async (cl: RawClient, groupId: string, memberId: string, generationId: number, assignments: { memberId: string; assignment: Buffer }[] = []) => {
      const r = await cl.request(ApiKey.SyncGroup, 5, { groupId, generationId, memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments });
      return { error: r.errorCode, assignment: r.assignment.toString('hex') };
    };
    const heartbeat = async (groupId: string, memberId: string, generationId: number) =>
      (await c.request(ApiKey.Heartbeat, 4, { groupId, generationId, memberId, groupInstanceId: null })).errorCode;
    const describe = async (groupId: string) => {
      const r = await c.request(ApiKey.DescribeGroups, 5, { groups: [groupId], includeAuthorizedOperations: false });
      const g = r.groups[0];
      return { error: g.errorCode, state: g.groupState, type: g.protocolType, protocol: g.protocolData, members: g.members.map((m: any) => [role(m.memberId), m.clientId, m.memberAssignment.toString('hex')]).sort() };
    };

    // Offsets of a consumer without group management.
    log('fetch unknown group', await fetchOffsets('script-simple'));
    log('fetch unknown group v7', (await c.request(ApiKey.OffsetFetch, 7, { groupId: 'script-simple', topics: null, requireStable: false })).topics);
    log('simple commit', await commit('script-simple', -1, '', [[0, 3], [1, 5]]));
    log('simple commit v2', await commit('script-simple', -1, '', [[2, 7]], 2));
    log('simple fetch', await fetchOffsets('script-simple'));
    log('commit unknown group with generation v9', await commit('script-nope', 1, 'm', [[0, 1]]));
    log('commit unknown group with generation v8', await commit('script-nope', 1, 'm', [[0, 1]], 8));
    log('commit unknown partition', await commit('script-simple', -1, '', [[7, 1]]));

    // A classic group: member ids, generations, rebalances.
    const G = 'script-classic';
    const firstA = await join(c, G, '');
    ids.set('A', firstA.memberId);
    log('A first join', joined(firstA));
    const a1 = await join(c, G, ids.get('A')!);
    log('A join', joined(a1));
    const assignA = Buffer.from('0001', 'hex');
    log('A sync', await sync(c, G, ids.get('A')!, 1, [{ memberId: ids.get('A')!, assignment: assignA }]));
    log('A heartbeat', await heartbeat(G, ids.get('A')!, 1));
    log('describe stable', await describe(G));
    log('A commit', await commit(G, 1, ids.get('A')!, [[0, 4]]));
    log('A commit wrong generation', await commit(G, 2, ids.get('A')!, [[0, 4]]));
    log('stranger commit', await commit(G, 1, 'stranger', [[0, 4]]));
    log('groupless commit to a live group', await commit(G, -1, '', [[0, 4]]));
    log('join v3 unknown member', joined(await join(c2, G, 'nobody', 3)));
    log('join bad session timeout', joined(await join(c2, G, '', 9, { sessionTimeoutMs: 1 })));
    log('join other protocol type', joined(await join(c2, G, '', 9, { protocolType: 'connect' })));

    const firstB = await join(c2, G, '');
    ids.set('B', firstB.memberId);
    log('B first join', joined(firstB));
    const joinB = join(c2, G, ids.get('B')!);
    let hb = await heartbeat(G, ids.get('A')!, 1);
    for (let i = 0; i < 50 && hb === 0; i++) hb = await heartbeat(G, ids.get('A')!, 1);
    log('A heartbeat during rebalance', hb);
    log('describe preparing', (await describe(G)).state);
    log('A commit during PreparingRebalance', await commit(G, 1, ids.get('A')!, [[0, 5]]));
    const [a2, b2] = await Promise.all([join(c, G, ids.get('A')!), joinB]);
    log('A rejoin', joined(a2));
    log('B join', joined(b2));
    log('A commit during CompletingRebalance', await commit(G, 2, ids.get('A')!, [[0, 6]]));
    const syncB = sync(c2, G, ids.get('B')!, 2);
    const assignB = Buffer.from('0002', 'hex');
    log('A sync gen 2', await sync(c, G, ids.get('A')!, 2, [{ memberId: ids.get('A')!, assignment: assignA }, { memberId: ids.get('B')!, assignment: assignB }]));
    log('B sync gen 2', await syncB);
    log('B commit', await commit(G, 2, ids.get('B')!, [[1, 8]], 9, c2));
    log('describe two members', await describe(G));
    const listed = await c.request(ApiKey.ListGroups, 5, { statesFilter: ['stable'], typesFilter: [] });
    log('list stable', listed.groups.filter((g: any) => g.groupId.startsWith('script-')).map((g: any) => [g.groupId, g.protocolType, g.groupState, g.groupType]));
    const del = await c.request(ApiKey.OffsetDelete, 0, { groupId: G, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0 }] }, { name: OTHER, partitions: [{ partitionIndex: 0 }] }] });
    log('offset delete', [del.errorCode, del.topics.map((t: any) => [t.name, t.partitions.map((p: any) => p.errorCode)])]);
    log('delete non-empty group', (await c.request(ApiKey.DeleteGroups, 2, { groupsNames: [G] })).results.map((r: any) => r.errorCode));
    const left = await c2.request(ApiKey.LeaveGroup, 5, { groupId: G, members: [{ memberId: ids.get('B')!, groupInstanceId: null, reason: 'script' }, { memberId: 'ghost', groupInstanceId: null, reason: null }] });
    log('B leaves', [left.errorCode, left.members.map((m: any) => [role(m.memberId), m.errorCode])]);
    log('A heartbeat after leave', await heartbeat(G, ids.get('A')!, 2));
    const a3 = await join(c, G, ids.get('A')!);
    log('A rejoin alone', joined(a3));
    log('A sync gen 3', await sync(c, G, ids.get('A')!, 3, [{ memberId: ids.get('A')!, assignment: assignA }]));
    log('A leaves v0', (await c.request(ApiKey.LeaveGroup, 0, { groupId: G, memberId: ids.get('A')! })).errorCode);
    log('describe empty', await describe(G));
    log('fetch classic group', await fetchOffsets(G));
    log('groupless commit to the empty group', await commit(G, -1, '', [[2, 9]]));
    log('list all', (await c.request(ApiKey.ListGroups, 5, { statesFilter: [], typesFilter: [] })).groups.filter((g: any) => g.groupId.startsWith('script-')).map((g: any) => [g.groupId, g.groupState, g.groupType]).sort());
    // Kafka answers per coordinator partition, so the order of results is not the request's.
    log('delete groups', (await c.request(ApiKey.DeleteGroups, 2, { groupsNames: [G, 'script-nope'] })).results.map((r: any) => [r.groupId, r.errorCode]).sort());
    log('fetch deleted group', await fetchOffsets(G));
    log('describe deleted group', await describe(G));

    // A KIP-848 consumer group.
    const K = 'script-consumer';
    const cgh = (memberId: string, memberEpoch: number, extra: Record<string, unknown> = {}) =>
      c.request(ApiKey.ConsumerGroupHeartbeat, 0, {
        groupId: K,
        memberId,
        memberEpoch,
        instanceId: null,
        rackId: null,
        rebalanceTimeoutMs: memberEpoch === 0 ? 30_000 : -1,
        subscribedTopicNames: memberEpoch === 0 ? [TOPIC] : null,
        serverAssignor: null,
        topicPartitions: memberEpoch === 0 ? [] : null,
        ...extra,
      });
    const count = (r: any) => (r.assignment ? r.assignment.topicPartitions.reduce((n: number, tp: any) => n + tp.partitions.length, 0) : null);
    // Epoch values are the coordinator's business (Kafka 4.3 batches assignment updates, so its epochs
    // move differently); what must agree is that they are positive and what the group settles on.
    const hbSummary = (r: any) => ({ error: r.errorCode, message: r.errorMessage?.replace(/\d+/g, 'N') ?? null, epochPositive: r.memberEpoch > 0, interval: r.heartbeatIntervalMs });
    const x0 = await cgh('member-x-000000000000', 0);
    log('X joins', { ...hbSummary(x0), partitions: count(x0) });
    const y0 = await cgh('member-y-000000000000', 0);
    log('Y joins', hbSummary(y0));
    // Heartbeat both members as clients would (reporting what they own) until the group is Stable.
    const state = new Map([
      ['member-x-000000000000', { epoch: x0.memberEpoch, owned: x0.assignment?.topicPartitions ?? [] }],
      ['member-y-000000000000', { epoch: y0.memberEpoch, owned: y0.assignment?.topicPartitions ?? [] }],
    ]);
    let settled: any = null;
    for (let i = 0; i < 100 && !settled; i++) {
      for (const [id, st] of state) {
        const r = await cgh(id, st.epoch, { topicPartitions: st.owned });
        if (r.errorCode !== 0) throw new Error(`heartbeat of ${id} failed: ${r.errorCode} ${r.errorMessage}`);
        state.set(id, { epoch: r.memberEpoch, owned: r.assignment ? r.assignment.topicPartitions : st.owned });
      }
      const d = await c.request(ApiKey.ConsumerGroupDescribe, 0, { groupIds: [K], includeAuthorizedOperations: false });
      const g = d.groups[0];
      if (g.groupState === 'Stable') settled = g;
      else await new Promise((r) => setTimeout(r, 100));
    }
    const owned = [...state.values()].map((st) => st.owned.reduce((n: number, tp: any) => n + tp.partitions.length, 0)).sort();
    log('settled', {
      state: settled?.groupState,
      owned,
      epochsAgree: settled ? settled.groupEpoch === settled.assignmentEpoch && settled.members.every((m: any) => m.memberEpoch === settled.assignmentEpoch) : false,
      described: settled?.members.map((m: any) => m.assignment.topicPartitions.reduce((n: number, tp: any) => n + tp.partitions.length, 0)).sort(),
    });
    const x2 = { memberEpoch: state.get('member-x-000000000000')!.epoch };
    log('X fenced epoch', hbSummary(await cgh('member-x-000000000000', 99)));
    log('unknown member', hbSummary(await cgh('member-z-000000000000', 1)));
    log('bad first heartbeat', hbSummary(await cgh('member-z-000000000000', 0, { rebalanceTimeoutMs: -1 })));
    log('unknown assignor', hbSummary(await cgh('member-z-000000000000', 0, { serverAssignor: 'nope' })));
    const d = await c.request(ApiKey.ConsumerGroupDescribe, 0, { groupIds: [K, 'script-none'], includeAuthorizedOperations: false });
    log('describe consumer group', d.groups.map((g: any) => [g.groupId, g.errorCode, g.groupState, g.assignorName, g.members.length]).sort());
    log('commit with member epoch', await commit(K, x2.memberEpoch, 'member-x-000000000000', [[0, 2]]));
    log('commit with newer epoch', await commit(K, x2.memberEpoch + 5, 'member-x-000000000000', [[0, 2]]));
    log('commit v8 from a consumer member', await commit(K, x2.memberEpoch, 'member-x-000000000000', [[0, 2]], 8));
    log('describe consumer group with DescribeGroups', (await describe(K)).state);
    log('list consumer', (await c.request(ApiKey.ListGroups, 5, { statesFilter: [], typesFilter: ['consumer'] })).groups.map((g: any) => [g.groupId, g.protocolType, g.groupType]));
    log('X leaves', hbSummary(await cgh('member-x-000000000000', -1)));
    log('Y leaves', hbSummary(await cgh('member-y-000000000000', -1)));
    log('delete consumer group', (await c.request(ApiKey.DeleteGroups, 2, { groupsNames: [K] })).results.map((r: any) => r.errorCode));
    return out;
  } finally {
    c.close();
    c2.close();
  }
}

async function waitForLeaders(c: RawClient): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const md = await c.request(ApiKey.Metadata, 12, { topics: [{ name: TOPIC }, { name: OTHER }], allowAutoTopicCreation: false });
    if (md.topics.every((t: any) => t.errorCode === 0 && t.partitions.every((p: any) => p.leaderId >= 0))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}
