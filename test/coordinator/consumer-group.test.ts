// The KIP-848 consumer group protocol over the wire: ConsumerGroupHeartbeat joins, epochs, the
// revoke-before-assign reconciliation, leaving, fencing, session and rebalance timeouts, static
// members, regex subscriptions, server assignors, ConsumerGroupDescribe, offsets with member
// epochs, and restarts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import type { TestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { GroupClient, assigned, cgh, waitFor } from './group-client.ts';

const SETTINGS = {
  'group.initial.rebalance.delay.ms': '0',
  'group.min.session.timeout.ms': '100',
  'group.consumer.session.timeout.ms': '600',
  'group.consumer.heartbeat.interval.ms': '100',
};

let b: TestBroker;
let c: RawClient;
let topicId = '';
let seq = 0;
const newGroupId = () => `kg-${++seq}`;
const tp = (id: string, ...ps: number[]) => ps.map((p) => `${id}:${p}`);
const owned = (r: any) => (r.assignment ? r.assignment.topicPartitions.map((x: any) => ({ topicId: x.topicId, partitions: x.partitions })) : []);

async function createTopic(cl: RawClient, name: string, partitions: number): Promise<string> {
  const r = await cl.request(ApiKey.CreateTopics, 7, { topics: [{ name, numPartitions: partitions, replicationFactor: 1 }], timeoutMs: 1000 });
  assert.equal(r.topics[0].errorCode, 0);
  return r.topics[0].topicId;
}

before(async () => {
  b = await startTestBroker(SETTINGS);
  c = await RawClient.connect(b.port);
  topicId = await createTopic(c, 't', 4);
});
after(async () => {
  c.close();
  await b.stop();
});

test('a first member joins with epoch 0 and gets every partition at the group epoch', async () => {
  const g = newGroupId();
  for (const version of [0, 1]) {
    const r = await cgh(c, `${g}-v${version}`, { memberEpoch: 0, version });
    assert.equal(r.errorCode, 0, r.errorMessage);
    assert.equal(r.memberId.length, 22, 'a member id is generated when the client sends none');
    assert.equal(r.memberEpoch, 1);
    assert.equal(r.heartbeatIntervalMs, 100);
    assert.deepEqual(assigned(r), tp(topicId, 0, 1, 2, 3));
    const again = await cgh(c, `${g}-v${version}`, { memberId: r.memberId, memberEpoch: 1, owned: owned(r) });
    assert.deepEqual([again.errorCode, again.memberEpoch, again.assignment], [0, 1, null], 'nothing changed: no assignment in the response');
  }
});

test('a second member: the first revokes before the second gets the partitions (epochs move in order)', async () => {
  const g = newGroupId();
  const a = await cgh(c, g, { memberId: 'member-a', memberEpoch: 0 });
  assert.deepEqual([a.memberId, a.memberEpoch, assigned(a).length], ['member-a', 1, 4], 'a client-chosen member id is kept');
  const bj = await cgh(c, g, { memberId: 'member-b', memberEpoch: 0 });
  assert.equal(bj.memberEpoch, 2, 'the group epoch rose');
  assert.deepEqual(assigned(bj), [], 'its partitions are still held by A');
  // A learns it must give two up; it stays at epoch 1 until it says they are gone.
  const a2 = await cgh(c, g, { memberId: 'member-a', memberEpoch: 1, owned: owned(a) });
  assert.equal(a2.memberEpoch, 1);
  assert.equal(assigned(a2).length, 2);
  const d = await c.request(ApiKey.ConsumerGroupDescribe, 0, { groupIds: [g], includeAuthorizedOperations: false });
  assert.deepEqual([d.groups[0].groupState, d.groups[0].groupEpoch, d.groups[0].assignmentEpoch, d.groups[0].assignorName], ['Reconciling', 2, 2, 'uniform']);
  const a3 = await cgh(c, g, { memberId: 'member-a', memberEpoch: 1, owned: owned(a2) });
  assert.equal(a3.memberEpoch, 2, 'revocation acknowledged: A moves to epoch 2');
  // KIP-1251: a commit still carrying epoch 1 counts for partitions A has held since epoch 1 only.
  const gc = await GroupClient.connect(b.port, g);
  const kept = a2.assignment.topicPartitions[0].partitions[0] as number;
  const given = [0, 1, 2, 3].find((p) => !a2.assignment.topicPartitions[0].partitions.includes(p))!;
  const late = await gc.commit([{ topic: 't', partition: kept, offset: 1 }, { topic: 't', partition: given, offset: 1 }], { generationId: 1, memberId: 'member-a' });
  assert.deepEqual(late.topics[0].partitions.map((p: any) => p.errorCode), [ErrorCode.NONE, ErrorCode.STALE_MEMBER_EPOCH]);
  gc.close();
  const b2 = await cgh(c, g, { memberId: 'member-b', memberEpoch: 2, owned: [] });
  assert.equal(assigned(b2).length, 2);
  assert.deepEqual([...assigned(a2), ...assigned(b2)].sort(), tp(topicId, 0, 1, 2, 3), 'every partition exactly once');
  const desc = await c.request(ApiKey.ConsumerGroupDescribe, 0, { groupIds: [g], includeAuthorizedOperations: true });
  const dg = desc.groups[0];
  assert.equal(dg.groupState, 'Stable');
  assert.deepEqual(dg.members.map((m: any) => [m.memberId, m.memberEpoch, m.clientId, m.clientHost, m.subscribedTopicNames]).sort(), [
    ['member-a', 2, 'raw-client', '/127.0.0.1', ['t']],
    ['member-b', 2, 'raw-client', '/127.0.0.1', ['t']],
  ]);
  assert.equal(dg.members[0].assignment.topicPartitions[0].topicName, 't');
  // B leaves: A gets everything back at the next epoch.
  const left = await cgh(c, g, { memberId: 'member-b', memberEpoch: -1 });
  assert.deepEqual([left.errorCode, left.memberEpoch], [0, -1]);
  const a4 = await cgh(c, g, { memberId: 'member-a', memberEpoch: 2, owned: owned(a2) });
  assert.deepEqual([a4.memberEpoch, assigned(a4)], [3, tp(topicId, 0, 1, 2, 3)]);
});

test('heartbeat errors: unknown member, fenced epochs, invalid requests, unknown assignor, classic groups', async () => {
  const g = newGroupId();
  const a = await cgh(c, g, { memberEpoch: 0 });
  const code = async (o: Parameters<typeof cgh>[2], group = g) => (await cgh(c, group, o)).errorCode;
  assert.equal(await code({ memberId: 'ghost', memberEpoch: 1 }), ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(await code({ memberId: a.memberId, memberEpoch: 5 }), ErrorCode.FENCED_MEMBER_EPOCH);
  assert.equal(await code({ memberId: 'x', memberEpoch: 3 }, 'no-such-group'), ErrorCode.GROUP_ID_NOT_FOUND);
  assert.equal(await code({ memberEpoch: 0, rebalanceTimeoutMs: -1 }), ErrorCode.INVALID_REQUEST);
  assert.equal(await code({ memberEpoch: 0, topics: null }), ErrorCode.INVALID_REQUEST, 'neither topic names nor a regex');
  // An empty list is a subscription (a Java pattern that matches nothing yet), as on Kafka 4.3; the
  // new member gets an epoch of its own, so its next heartbeat is not taken for another join.
  const emptyGroup = newGroupId();
  const empty = await cgh(c, emptyGroup, { memberId: 'no-topics-yet', memberEpoch: 0, topics: [] });
  assert.equal(empty.errorCode, ErrorCode.NONE);
  assert.ok(empty.memberEpoch > 0, `member epoch ${empty.memberEpoch}`);
  assert.equal((await cgh(c, emptyGroup, { memberId: 'no-topics-yet', memberEpoch: empty.memberEpoch })).errorCode, ErrorCode.NONE);
  assert.equal(await code({ memberEpoch: 0, owned: null }), ErrorCode.INVALID_REQUEST);
  assert.equal(await code({ memberEpoch: -3, memberId: 'x' }), ErrorCode.INVALID_REQUEST);
  assert.equal(await code({ memberEpoch: 1, memberId: '' }), ErrorCode.INVALID_REQUEST);
  assert.equal(await code({ memberEpoch: -2, memberId: 'x' }), ErrorCode.INVALID_REQUEST, 'a static leave needs an instance id');
  assert.equal(await code({ memberEpoch: 0, assignor: 'sticky' }), ErrorCode.UNSUPPORTED_ASSIGNOR);
  assert.equal(await code({ memberEpoch: 0, regex: '(' }), ErrorCode.INVALID_REGULAR_EXPRESSION);
  assert.equal(await code({ memberEpoch: 0 }, ''), ErrorCode.INVALID_REQUEST);
  // A classic group with members is not taken over.
  const classic = await GroupClient.connect(b.port, newGroupId());
  const j = await classic.joinFully();
  await classic.sync(j.memberId, 1);
  assert.equal(await code({ memberEpoch: 0 }, classic.groupId), ErrorCode.GROUP_ID_NOT_FOUND);
  assert.equal((await classic.join({ memberId: '' })).errorCode === ErrorCode.MEMBER_ID_REQUIRED, true);
  // ... and classic members cannot join a consumer group that has members.
  const intruder = await GroupClient.connect(b.port, g);
  assert.equal((await intruder.join()).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  intruder.close();
  classic.close();
});

test('a member without heartbeats is removed after group.consumer.session.timeout.ms; its partitions move', async () => {
  const g = newGroupId();
  const a = await cgh(c, g, { memberId: 'a', memberEpoch: 0 });
  await cgh(c, g, { memberId: 'b', memberEpoch: 0 });
  const told = await cgh(c, g, { memberId: 'a', memberEpoch: a.memberEpoch, owned: owned(a) });
  assert.equal(assigned(told).length, 2);
  const last = await cgh(c, g, { memberId: 'a', memberEpoch: told.memberEpoch, owned: owned(told) });
  assert.equal(last.memberEpoch, 2);
  // Only A keeps heartbeating.
  let state = last;
  let mine = owned(told);
  const r = await waitFor('B expired, A owns all', async () => {
    state = await cgh(c, g, { memberId: 'a', memberEpoch: state.memberEpoch, owned: mine });
    if (state.assignment) mine = owned(state);
    return mine.flatMap((x: any) => x.partitions).length === 4 ? state : null;
  }, 5000, 50);
  assert.ok(r.memberEpoch > last.memberEpoch);
  assert.equal((await cgh(c, g, { memberId: 'b', memberEpoch: 2, owned: [] })).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
});

test('a member that does not revoke within its rebalance timeout is fenced', async () => {
  const g = newGroupId();
  const a = await cgh(c, g, { memberId: 'slow', memberEpoch: 0, rebalanceTimeoutMs: 300 });
  const o = await cgh(c, g, { memberId: 'other', memberEpoch: 0, rebalanceTimeoutMs: 300 });
  const told = await cgh(c, g, { memberId: 'slow', memberEpoch: a.memberEpoch, owned: owned(a) });
  assert.equal(assigned(told).length, 2, 'asked to revoke two');
  // "other" heartbeats like a client: it keeps what the last assignment said.
  let other = { epoch: o.memberEpoch, owns: owned(o) };
  const beatOther = async () => {
    const r = await cgh(c, g, { memberId: 'other', memberEpoch: other.epoch, owned: other.owns });
    assert.equal(r.errorCode, 0);
    other = { epoch: r.memberEpoch, owns: r.assignment ? owned(r) : other.owns };
  };
  // "slow" keeps reporting all four partitions: it never revokes.
  const started = Date.now();
  await waitFor('slow fenced', async () => {
    const s = await cgh(c, g, { memberId: 'slow', memberEpoch: a.memberEpoch, owned: owned(a) });
    await beatOther();
    return s.errorCode === ErrorCode.UNKNOWN_MEMBER_ID;
  }, 5000, 50);
  assert.ok(Date.now() - started >= 250, 'not before the rebalance timeout');
  await waitFor('other owns all', async () => {
    await beatOther();
    return other.owns.flatMap((x: any) => x.partitions).length === 4;
  });
});

test('static members: a temporary leave (-2) keeps the partitions for the next incarnation; the instance id is exclusive', async () => {
  const g = newGroupId();
  const s1 = await cgh(c, g, { memberId: 's-1', instanceId: 'inst', memberEpoch: 0 });
  assert.deepEqual(assigned(s1), tp(topicId, 0, 1, 2, 3));
  assert.equal((await cgh(c, g, { memberId: 's-x', instanceId: 'inst', memberEpoch: 0 })).errorCode, ErrorCode.UNRELEASED_INSTANCE_ID);
  assert.equal((await cgh(c, g, { memberId: 's-x', instanceId: 'inst', memberEpoch: 1 })).errorCode, ErrorCode.FENCED_INSTANCE_ID);
  const away = await cgh(c, g, { memberId: 's-1', instanceId: 'inst', memberEpoch: -2 });
  assert.deepEqual([away.errorCode, away.memberEpoch], [0, -2]);
  const s2 = await cgh(c, g, { memberId: 's-2', instanceId: 'inst', memberEpoch: 0 });
  assert.equal(s2.errorCode, 0);
  assert.deepEqual(assigned(s2), tp(topicId, 0, 1, 2, 3), 'the new incarnation keeps the partitions');
  assert.equal(s2.memberEpoch, s1.memberEpoch, 'no rebalance: the group epoch did not move');
  assert.equal((await cgh(c, g, { memberId: 's-1', instanceId: 'inst', memberEpoch: 1 })).errorCode, ErrorCode.FENCED_INSTANCE_ID);
});

test('regex subscriptions (v1) follow topics created later; the range assignor gives contiguous ranges', async () => {
  const g = newGroupId();
  const r = await cgh(c, g, { memberId: 'rx', memberEpoch: 0, topics: null, regex: 'rx-.*' });
  assert.deepEqual([r.errorCode, assigned(r)], [0, []]);
  const id1 = await createTopic(c, 'rx-one', 2);
  await createTopic(c, 'not-rx', 2);
  const r2 = await cgh(c, g, { memberId: 'rx', memberEpoch: r.memberEpoch, owned: [] });
  assert.deepEqual(assigned(r2), tp(id1, 0, 1), 'the new matching topic is assigned at the next heartbeat');
  assert.ok(r2.memberEpoch > r.memberEpoch);

  const rg = newGroupId();
  const id5 = await createTopic(c, 'ranged', 5);
  const m1 = await cgh(c, rg, { memberId: 'm1', memberEpoch: 0, topics: ['ranged'], assignor: 'range' });
  const m2 = await cgh(c, rg, { memberId: 'm2', memberEpoch: 0, topics: ['ranged'], assignor: 'range' });
  const x1 = await cgh(c, rg, { memberId: 'm1', memberEpoch: m1.memberEpoch, owned: owned(m1) });
  await cgh(c, rg, { memberId: 'm1', memberEpoch: x1.memberEpoch, owned: owned(x1) });
  const x2 = await cgh(c, rg, { memberId: 'm2', memberEpoch: m2.memberEpoch, owned: [] });
  assert.deepEqual(assigned(x1), tp(id5, 0, 1, 2));
  assert.deepEqual(assigned(x2), tp(id5, 3, 4));
  const d = await c.request(ApiKey.ConsumerGroupDescribe, 0, { groupIds: [rg, 'nope', ''], includeAuthorizedOperations: false });
  assert.deepEqual(d.groups.map((x: any) => [x.errorCode, x.assignorName]), [[0, 'range'], [ErrorCode.GROUP_ID_NOT_FOUND, ''], [ErrorCode.INVALID_GROUP_ID, '']]);
});

test('offsets of consumer groups: commits carry the member epoch (v9+), fetches may check it; admin views', async () => {
  const g = newGroupId();
  const m = await cgh(c, g, { memberId: 'om', memberEpoch: 0 });
  const gc = await GroupClient.connect(b.port, g);
  const commit = async (o: Parameters<GroupClient['commit']>[1]) => (await gc.commit([{ topic: 't', partition: 0, offset: 7 }], o)).topics[0].partitions[0].errorCode;
  assert.equal(await commit({ generationId: m.memberEpoch, memberId: 'om' }), 0);
  assert.equal(await commit({ generationId: m.memberEpoch + 1, memberId: 'om' }), ErrorCode.STALE_MEMBER_EPOCH);
  assert.equal(await commit({ generationId: m.memberEpoch, memberId: 'nobody' }), ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(await commit({ generationId: m.memberEpoch, memberId: 'om', version: 8 }), ErrorCode.UNSUPPORTED_VERSION);
  assert.equal(await commit({}), ErrorCode.UNKNOWN_MEMBER_ID, 'no groupless commits while it has members');
  const ok = await gc.fetchOffsets([{ name: 't', partitionIndexes: [0] }], { memberId: 'om', memberEpoch: m.memberEpoch });
  assert.deepEqual([ok.errorCode, Number(ok.offsets.get('t')!.get(0).committedOffset)], [0, 7]);
  assert.equal((await gc.fetchOffsets([{ name: 't', partitionIndexes: [0] }], { memberId: 'om', memberEpoch: 99 })).errorCode, ErrorCode.STALE_MEMBER_EPOCH);
  assert.equal((await gc.fetchOffsets([{ name: 't', partitionIndexes: [0] }], { memberId: 'x', memberEpoch: 1 })).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal((await gc.fetchOffsets(null)).errorCode, 0, 'an admin fetch (no member) is fine');
  const listed = await c.request(ApiKey.ListGroups, 5, { typesFilter: ['consumer'] });
  const mine = listed.groups.find((x: any) => x.groupId === g);
  assert.deepEqual([mine.protocolType, mine.groupType, mine.groupState], ['consumer', 'consumer', 'Stable']);
  assert.equal((await gc.describe()).groupState, 'Dead', 'DescribeGroups covers classic groups only');
  const del = await c.request(ApiKey.DeleteGroups, 2, { groupsNames: [g] });
  assert.equal(del.results[0].errorCode, ErrorCode.NON_EMPTY_GROUP);
  await cgh(c, g, { memberId: 'om', memberEpoch: -1 });
  assert.equal((await c.request(ApiKey.DeleteGroups, 2, { groupsNames: [g] })).results[0].errorCode, 0);
  gc.close();
});

test('an empty classic group becomes a consumer group (and back) keeping its offsets', async () => {
  const gc = await GroupClient.connect(b.port, newGroupId());
  await gc.commit([{ topic: 't', partition: 1, offset: 11 }]);
  const m = await cgh(c, gc.groupId, { memberId: 'conv', memberEpoch: 0 });
  assert.equal(m.errorCode, 0);
  assert.equal(Number((await gc.fetchOffsets([{ name: 't', partitionIndexes: [1] }])).offsets.get('t')!.get(1).committedOffset), 11);
  await cgh(c, gc.groupId, { memberId: 'conv', memberEpoch: -1 });
  const j = await gc.joinFully();
  assert.equal(j.errorCode, 0, 'an empty consumer group becomes classic again');
  assert.equal(Number((await gc.fetchOffsets([{ name: 't', partitionIndexes: [1] }])).offsets.get('t')!.get(1).committedOffset), 11);
  gc.close();
});

test('consumer groups survive a restart: members keep epochs and assignments, and must heartbeat in time', async () => {
  const d = await startTestBroker(SETTINGS);
  const cl = await RawClient.connect(d.port);
  const tid = await createTopic(cl, 'kept', 2);
  const a = await cgh(cl, 'kg-restart', { memberId: 'a', memberEpoch: 0, topics: ['kept'] });
  const gc = await GroupClient.connect(d.port, 'kg-restart');
  await gc.commit([{ topic: 'kept', partition: 0, offset: 5 }], { generationId: a.memberEpoch, memberId: 'a' });
  cl.close();
  gc.close();
  await d.stop({ keepData: true });
  const e = await startTestBroker({ ...SETTINGS, 'data.dir': d.dataDir });
  try {
    const cl2 = await RawClient.connect(e.port);
    const hb = await cgh(cl2, 'kg-restart', { memberId: 'a', memberEpoch: a.memberEpoch, owned: owned(a) });
    assert.deepEqual([hb.errorCode, hb.memberEpoch, hb.assignment], [0, a.memberEpoch, null], 'same epoch, same assignment');
    const desc = await cl2.request(ApiKey.ConsumerGroupDescribe, 0, { groupIds: ['kg-restart'], includeAuthorizedOperations: false });
    assert.deepEqual(desc.groups[0].members[0].assignment.topicPartitions.map((x: any) => [x.topicId, x.partitions]), [[tid, [0, 1]]]);
    const gc2 = await GroupClient.connect(e.port, 'kg-restart');
    assert.equal(Number((await gc2.fetchOffsets([{ name: 'kept', partitionIndexes: [0] }])).offsets.get('kept')!.get(0).committedOffset), 5);
    await waitFor('session expiry after restart', async () => {
      const x = await cl2.request(ApiKey.ConsumerGroupDescribe, 0, { groupIds: ['kg-restart'], includeAuthorizedOperations: false });
      return x.groups[0].groupState === 'Empty';
    }, 5000);
    cl2.close();
    gc2.close();
  } finally {
    await e.stop();
  }
});
