// The classic group protocol against Kafka's rules, over the wire: FindCoordinator, JoinGroup
// (KIP-394 member ids, protocol selection, initial delay), SyncGroup, Heartbeat, LeaveGroup,
// session and rebalance timeouts, static membership (KIP-345) and the error codes of each.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import type { TestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { GroupClient, assignment, sleep, subscription, waitFor } from './group-client.ts';

const SETTINGS = { 'group.initial.rebalance.delay.ms': '0', 'group.min.session.timeout.ms': '100', 'group.max.size': '3' };

let b: TestBroker;
let c: RawClient;
let groupSeq = 0;
const newGroup = async () => GroupClient.connect(b.port, `cg-${++groupSeq}`);

before(async () => {
  b = await startTestBroker(SETTINGS);
  c = await RawClient.connect(b.port);
  const r = await c.request(ApiKey.CreateTopics, 7, { topics: [{ name: 't', numPartitions: 4, replicationFactor: 1 }], timeoutMs: 1000 });
  assert.equal(r.topics[0].errorCode, 0);
});
after(async () => {
  c.close();
  await b.stop();
});

test('FindCoordinator names this broker for groups and transactions, one key (v0-3) or many (v4+)', async () => {
  for (let v = 0; v <= 3; v++) {
    const r = await c.request(ApiKey.FindCoordinator, v, { key: 'g', keyType: v >= 1 ? 1 : 0 });
    assert.deepEqual([r.errorCode, r.nodeId, r.host, r.port], [0, 1, '127.0.0.1', b.port], `v${v}`);
  }
  for (let v = 4; v <= 6; v++) {
    const r = await c.request(ApiKey.FindCoordinator, v, { keyType: 0, coordinatorKeys: ['a', 'b'] });
    assert.deepEqual(r.coordinators.map((x: any) => [x.key, x.errorCode, x.nodeId, x.port]), [['a', 0, 1, b.port], ['b', 0, 1, b.port]], `v${v}`);
  }
  const bad = await c.request(ApiKey.FindCoordinator, 4, { keyType: 7, coordinatorKeys: ['x'] });
  assert.equal(bad.coordinators[0].errorCode, ErrorCode.INVALID_REQUEST);
});

test('JoinGroup v4+ hands out a member id first (MEMBER_ID_REQUIRED); the leader gets every member and assigns', async () => {
  const g = await newGroup();
  const first = await g.join();
  assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  assert.match(first.memberId, /^raw-client-[0-9a-f-]{36}$/);
  const joined = await g.join({ memberId: first.memberId });
  assert.deepEqual([joined.errorCode, joined.generationId, joined.leader, joined.memberId, joined.protocolType, joined.protocolName], [0, 1, first.memberId, first.memberId, 'consumer', 'range']);
  assert.deepEqual(joined.members.map((m: any) => m.memberId), [first.memberId]);
  assert.deepEqual(joined.members[0].metadata, subscription(['t']));
  const mine = assignment([{ topic: 't', partitions: [0, 1, 2, 3] }]);
  const synced = await g.sync(first.memberId, 1, [{ memberId: first.memberId, assignment: mine }]);
  assert.deepEqual([synced.errorCode, synced.protocolType, synced.protocolName], [0, 'consumer', 'range']);
  assert.deepEqual(synced.assignment, mine);
  assert.equal((await g.heartbeat(first.memberId, 1)).errorCode, 0);
  const d = await g.describe();
  assert.deepEqual([d.groupState, d.protocolType, d.protocolData, d.members.length], ['Stable', 'consumer', 'range', 1]);
  assert.deepEqual([d.members[0].clientId, d.members[0].clientHost], ['raw-client', '/127.0.0.1']);
  assert.deepEqual(d.members[0].memberAssignment, mine);
  g.close();
});

test('JoinGroup v0-3 adds the member at once; every version works', async () => {
  for (let v = 0; v <= 9; v++) {
    const g = await newGroup();
    const r = await g.joinFully({ version: v });
    assert.equal(r.errorCode, 0, `v${v}`);
    assert.equal(r.generationId, 1, `v${v}`);
    const s = await g.sync(r.memberId, 1, [], { version: Math.min(v, 5), protocolType: null, protocolName: null });
    assert.equal(s.errorCode, 0, `v${v}`);
    g.close();
  }
});

test('a second member triggers a rebalance: the first must rejoin, both land in the next generation', async () => {
  const a = await newGroup();
  const bb = await GroupClient.connect(b.port, a.groupId);
  const ja = await a.joinFully();
  await a.sync(ja.memberId, 1, [{ memberId: ja.memberId, assignment: assignment([{ topic: 't', partitions: [0, 1, 2, 3] }]) }]);
  const memberB = (await bb.join()).memberId;
  const joinB = bb.join({ memberId: memberB });
  await waitFor('rebalance', async () => (await a.heartbeat(ja.memberId, 1)).errorCode === ErrorCode.REBALANCE_IN_PROGRESS);
  assert.equal((await a.describe()).groupState, 'PreparingRebalance');
  const [ra, rb] = await Promise.all([a.join({ memberId: ja.memberId }), joinB]);
  assert.deepEqual([ra.errorCode, rb.errorCode, ra.generationId, rb.generationId], [0, 0, 2, 2]);
  assert.equal(ra.leader, ja.memberId, 'the leader stays');
  assert.deepEqual(ra.members.map((m: any) => m.memberId).sort(), [ja.memberId, memberB].sort());
  assert.deepEqual(rb.members, [], 'followers get no member list');
  // The follower's SyncGroup waits for the leader's.
  const syncB = bb.sync(memberB, 2);
  await sleep(50);
  assert.equal((await a.heartbeat(ja.memberId, 2)).errorCode, 0, 'heartbeats are fine while completing the rebalance');
  assert.equal((await a.describe()).groupState, 'CompletingRebalance');
  const give = [
    { memberId: ja.memberId, assignment: assignment([{ topic: 't', partitions: [0, 1] }]) },
    { memberId: memberB, assignment: assignment([{ topic: 't', partitions: [2, 3] }]) },
  ];
  const sa = await a.sync(ja.memberId, 2, give);
  assert.deepEqual(sa.assignment, give[0]!.assignment);
  assert.deepEqual((await syncB).assignment, give[1]!.assignment);
  assert.equal((await bb.heartbeat(memberB, 1)).errorCode, ErrorCode.ILLEGAL_GENERATION);
  a.close();
  bb.close();
});

test('join, sync and heartbeat errors: unknown group or member, generation, protocol, session timeout, group id, size', async () => {
  const g = await newGroup();
  assert.equal((await g.join({ memberId: 'nobody' })).errorCode, ErrorCode.UNKNOWN_MEMBER_ID, 'a member id for a group that does not exist');
  assert.equal((await g.sync('nobody', 1)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal((await g.heartbeat('nobody', 1)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal((await g.join({ sessionTimeoutMs: 50 })).errorCode, ErrorCode.INVALID_SESSION_TIMEOUT);
  assert.equal((await g.join({ sessionTimeoutMs: 2_000_000 })).errorCode, ErrorCode.INVALID_SESSION_TIMEOUT);
  const empty = await GroupClient.connect(b.port, '');
  assert.equal((await empty.join()).errorCode, ErrorCode.INVALID_GROUP_ID);
  assert.equal((await empty.heartbeat('x', 1)).errorCode, ErrorCode.INVALID_GROUP_ID);
  empty.close();
  assert.equal((await g.join({ protocolType: '' })).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL, 'an empty protocol type');
  const j = await g.joinFully({ rebalanceTimeoutMs: 300 });
  await g.sync(j.memberId, 1);
  assert.equal((await g.join({ protocolType: 'connect' })).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL, 'another protocol type');
  assert.equal((await g.join({ protocols: [{ name: 'roundrobin', metadata: Buffer.alloc(0) }] })).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL, 'no common protocol');
  assert.equal((await g.heartbeat(j.memberId, 7)).errorCode, ErrorCode.ILLEGAL_GENERATION);
  assert.equal((await g.sync(j.memberId, 7)).errorCode, ErrorCode.ILLEGAL_GENERATION);
  assert.equal((await g.sync(j.memberId, 1, [], { protocolName: 'roundrobin' })).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  assert.equal((await g.heartbeat('stranger', 1)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  // group.max.size=3: a fourth member is turned away.
  const others = await Promise.all([1, 2, 3].map(() => GroupClient.connect(b.port, g.groupId)));
  const ids = await Promise.all(others.map(async (o) => (await o.join({ rebalanceTimeoutMs: 300 })).memberId as string));
  const joins = others.map((o, i) => o.join({ memberId: ids[i], rebalanceTimeoutMs: 300 }));
  await waitFor('rebalance', async () => (await g.heartbeat(j.memberId, 1)).errorCode === ErrorCode.REBALANCE_IN_PROGRESS);
  const rejoin = g.join({ memberId: j.memberId, rebalanceTimeoutMs: 300 });
  const results = await Promise.all([rejoin, ...joins]);
  assert.deepEqual(results.map((r) => r.errorCode).sort(), [0, 0, 0, ErrorCode.GROUP_MAX_SIZE_REACHED]);
  for (const o of others) o.close();
  g.close();
});

test('a member that stops heartbeating is removed after its session timeout and the others rebalance', async () => {
  const a = await newGroup();
  const bb = await GroupClient.connect(b.port, a.groupId);
  const ja = await a.joinFully({ sessionTimeoutMs: 300 });
  await a.sync(ja.memberId, 1);
  const mb = (await bb.join({ sessionTimeoutMs: 5000 })).memberId;
  const joinB = bb.join({ memberId: mb, sessionTimeoutMs: 5000 });
  // A never heartbeats or rejoins: once its session ends, B's join completes alone.
  const rb = await joinB;
  assert.deepEqual([rb.errorCode, rb.generationId, rb.leader], [0, 2, mb], 'B became leader of generation 2');
  assert.deepEqual(rb.members.map((m: any) => m.memberId), [mb]);
  assert.equal((await a.heartbeat(ja.memberId, 1)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  await bb.sync(mb, 2);
  a.close();
  bb.close();
});

test('a member that does not rejoin within the rebalance timeout is dropped from the next generation', async () => {
  const a = await newGroup();
  const bb = await GroupClient.connect(b.port, a.groupId);
  const ja = await a.joinFully({ sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 400 });
  await a.sync(ja.memberId, 1);
  const mb = (await bb.join({ rebalanceTimeoutMs: 400 })).memberId;
  const started = Date.now();
  // A keeps heartbeating (so its session lives) but never rejoins.
  const beat = setInterval(() => void a.heartbeat(ja.memberId, 1).catch(() => {}), 50);
  const rb = await bb.join({ memberId: mb, rebalanceTimeoutMs: 400 });
  clearInterval(beat);
  assert.ok(Date.now() - started >= 350, 'the join phase waited for the rebalance timeout');
  assert.deepEqual([rb.errorCode, rb.generationId, rb.members.length], [0, 2, 1]);
  assert.equal((await a.heartbeat(ja.memberId, 1)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  a.close();
  bb.close();
});

test('members that never send SyncGroup are removed after the rebalance timeout', async () => {
  const a = await newGroup();
  const bb = await GroupClient.connect(b.port, a.groupId);
  const ja = await a.joinFully({ rebalanceTimeoutMs: 300 });
  await a.sync(ja.memberId, 1);
  const mb = (await bb.join({ rebalanceTimeoutMs: 300 })).memberId;
  const joinB = bb.join({ memberId: mb, rebalanceTimeoutMs: 300 });
  await waitFor('rebalance', async () => (await a.heartbeat(ja.memberId, 1)).errorCode === ErrorCode.REBALANCE_IN_PROGRESS);
  const ra = await a.join({ memberId: ja.memberId, rebalanceTimeoutMs: 300 });
  await joinB;
  // Only the leader syncs: B is removed once the sync deadline passes, and A must rejoin.
  await a.sync(ja.memberId, ra.generationId, []);
  await waitFor('sync expiration', async () => (await a.heartbeat(ja.memberId, ra.generationId)).errorCode === ErrorCode.REBALANCE_IN_PROGRESS);
  const again = await a.join({ memberId: ja.memberId, rebalanceTimeoutMs: 300 });
  assert.deepEqual([again.generationId, again.members.length], [ra.generationId + 1, 1]);
  a.close();
  bb.close();
});

test('group.initial.rebalance.delay.ms: the first rebalance waits and takes in members joining meanwhile', async () => {
  const d = await startTestBroker({ ...SETTINGS, 'group.initial.rebalance.delay.ms': '400' });
  try {
    const a = await GroupClient.connect(d.port, 'delayed');
    const bb = await GroupClient.connect(d.port, 'delayed');
    const started = Date.now();
    const ida = (await a.join()).memberId;
    const joinA = a.join({ memberId: ida });
    await sleep(200);
    const idb = (await bb.join()).memberId;
    const joinB = bb.join({ memberId: idb });
    const [ra, rb] = await Promise.all([joinA, joinB]);
    assert.ok(Date.now() - started >= 550, `the delay was extended for the second member (${Date.now() - started} ms)`);
    assert.deepEqual([ra.generationId, rb.generationId, ra.members.length + rb.members.length], [1, 1, 2]);
    a.close();
    bb.close();
  } finally {
    await d.stop();
  }
});

test('LeaveGroup v0-5: the leaving member is gone and the rest rebalance; unknown members are reported', async () => {
  for (const version of [0, 2, 3, 5]) {
    const a = await newGroup();
    const bb = await GroupClient.connect(b.port, a.groupId);
    const ja = await a.joinFully();
    await a.sync(ja.memberId, 1);
    const mb = (await bb.join()).memberId;
    const joinB = bb.join({ memberId: mb });
    await waitFor('rebalance', async () => (await a.heartbeat(ja.memberId, 1)).errorCode === ErrorCode.REBALANCE_IN_PROGRESS);
    const left = await a.leave([{ memberId: ja.memberId }], version);
    assert.equal(left.errorCode, 0, `v${version}`);
    if (version >= 3) assert.deepEqual(left.members.map((m: any) => [m.memberId, m.errorCode]), [[ja.memberId, 0]]);
    const rb = await joinB;
    assert.deepEqual([rb.errorCode, rb.leader, rb.members.length], [0, mb, 1], `v${version}`);
    const unknown = await a.leave([{ memberId: 'ghost' }], version);
    if (version >= 3) assert.equal(unknown.members[0].errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    else assert.equal(unknown.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    await bb.leave([{ memberId: mb }], version);
    assert.equal((await a.describe()).groupState, 'Empty', `v${version}`);
    a.close();
    bb.close();
  }
  const none = await GroupClient.connect(b.port, 'never-existed');
  assert.equal((await none.leave([{ memberId: 'x' }])).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  none.close();
});

test('static membership (KIP-345): no member-id round trip, a restart keeps the generation, the old id is fenced', async () => {
  const g = await newGroup();
  const first = await g.join({ instanceId: 'inst-1' });
  assert.equal(first.errorCode, 0, 'static members join at once');
  assert.match(first.memberId, /^inst-1-/);
  const mine = assignment([{ topic: 't', partitions: [0, 1, 2, 3] }]);
  await g.sync(first.memberId, 1, [{ memberId: first.memberId, assignment: mine }], { instanceId: 'inst-1' });
  // The same instance comes back with no member id (a restarted process): same generation, no rebalance.
  const again = await g.join({ instanceId: 'inst-1' });
  assert.equal(again.errorCode, 0);
  assert.notEqual(again.memberId, first.memberId);
  assert.equal(again.generationId, 1);
  assert.equal(again.skipAssignment, true, 'the rejoining leader need not assign again (v9)');
  const s = await g.sync(again.memberId, 1, [], { instanceId: 'inst-1' });
  assert.deepEqual(s.assignment, mine, 'it keeps its assignment');
  assert.equal((await g.heartbeat(first.memberId, 1, 'inst-1')).errorCode, ErrorCode.FENCED_INSTANCE_ID);
  assert.equal((await g.heartbeat(again.memberId, 1, 'inst-1')).errorCode, 0);
  assert.equal((await g.heartbeat(again.memberId, 1, 'inst-2')).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal((await g.commit([{ topic: 't', partition: 0, offset: 1 }], { generationId: 1, memberId: first.memberId, instanceId: 'inst-1' })).topics[0].partitions[0].errorCode, ErrorCode.FENCED_INSTANCE_ID);
  // An admin removes it by instance id alone.
  const left = await g.leave([{ memberId: '', groupInstanceId: 'inst-1' }]);
  assert.deepEqual(left.members.map((m: any) => m.errorCode), [0]);
  assert.equal((await g.describe()).groupState, 'Empty');
  g.close();
});

test('a follower rejoining a Stable group with the same metadata gets the current generation without a rebalance', async () => {
  const a = await newGroup();
  const bb = await GroupClient.connect(b.port, a.groupId);
  const ida = (await a.join()).memberId;
  const idb = (await bb.join()).memberId;
  const [ra, rb] = await Promise.all([a.join({ memberId: ida }), bb.join({ memberId: idb })]);
  const leader = ra.leader as string;
  const follower = leader === ida ? { c: bb, id: idb } : { c: a, id: ida };
  const leaderC = leader === ida ? a : bb;
  await Promise.all([leaderC.sync(leader, ra.generationId, []), follower.c.sync(follower.id, rb.generationId)]);
  const re = await follower.c.join({ memberId: follower.id });
  assert.deepEqual([re.errorCode, re.generationId, re.members.length], [0, ra.generationId, 0]);
  assert.equal((await a.describe()).groupState, 'Stable');
  a.close();
  bb.close();
});

test('broker shutdown answers parked JoinGroup requests with NOT_COORDINATOR', async () => {
  const d = await startTestBroker({ ...SETTINGS, 'group.initial.rebalance.delay.ms': '60000' });
  const g = await GroupClient.connect(d.port, 'parked');
  const id = (await g.join()).memberId;
  const parked = g.join({ memberId: id });
  await sleep(50);
  const stopping = d.stop();
  const r = await parked;
  assert.equal(r.errorCode, ErrorCode.NOT_COORDINATOR);
  await stopping;
  g.close();
});
