// Committed offsets and group administration over the wire: OffsetCommit (v0-9, member and
// generation checks, groupless commits), OffsetFetch (v0-9, all topics, batched groups), OffsetDelete,
// DescribeGroups, ListGroups (state and type filters), DeleteGroups, retention, deleted topics,
// and everything surviving a broker restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import type { TestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { GroupClient, assignment, subscription, waitFor } from './group-client.ts';

const SETTINGS = { 'group.initial.rebalance.delay.ms': '0', 'group.min.session.timeout.ms': '100', 'offset.metadata.max.bytes': '10' };

let b: TestBroker;
let c: RawClient;
let groupSeq = 0;
const newGroup = async (broker = b) => GroupClient.connect(broker.port, `og-${++groupSeq}`);

async function createTopic(cl: RawClient, name: string, partitions: number) {
  const r = await cl.request(ApiKey.CreateTopics, 7, { topics: [{ name, numPartitions: partitions, replicationFactor: 1 }], timeoutMs: 1000 });
  assert.equal(r.topics[0].errorCode, 0);
}

before(async () => {
  b = await startTestBroker(SETTINGS);
  c = await RawClient.connect(b.port);
  await createTopic(c, 'o1', 3);
  await createTopic(c, 'o2', 2);
});
after(async () => {
  c.close();
  await b.stop();
});

const codes = (r: any) => r.topics.flatMap((t: any) => t.partitions.map((p: any) => [t.name, p.partitionIndex, p.errorCode]));

test('a consumer without group management commits with generation -1 and reads its offsets back (every version)', async () => {
  for (let v = 0; v <= 9; v++) {
    const g = await newGroup();
    const r = await g.commit([{ topic: 'o1', partition: 0, offset: 10 + v }, { topic: 'o1', partition: 2, offset: 7 }, { topic: 'o2', partition: 1, offset: 3, metadata: null }], { version: v });
    assert.deepEqual(codes(r), [['o1', 0, 0], ['o1', 2, 0], ['o2', 1, 0]], `commit v${v}`);
    for (let fv = 0; fv <= 7; fv++) {
      const f = await c.request(ApiKey.OffsetFetch, fv, { groupId: g.groupId, topics: [{ name: 'o1', partitionIndexes: [0, 1, 2] }], requireStable: false });
      assert.deepEqual(
        f.topics[0].partitions.map((p: any) => [p.partitionIndex, Number(p.committedOffset), p.metadata, p.errorCode]),
        [[0, 10 + v, 'meta', 0], [1, -1, '', 0], [2, 7, 'meta', 0]],
        `commit v${v} fetch v${fv}`,
      );
      if (fv >= 5) assert.equal(f.topics[0].partitions[0].committedLeaderEpoch, v >= 6 ? 0 : -1);
    }
    const all = await g.fetchOffsets(null);
    assert.deepEqual([...all.offsets.keys()].sort(), ['o1', 'o2'], 'null topics = every committed offset');
    assert.equal(all.offsets.get('o2')!.get(1).metadata, '', 'null metadata reads back empty');
    g.close();
  }
  const v2all = await c.request(ApiKey.OffsetFetch, 2, { groupId: `og-${groupSeq}`, topics: null });
  assert.equal(v2all.topics.length, 2, 'v2+ null topics');
});

test('OffsetFetch of an unknown group answers -1 per partition and nothing for all topics; v8 batches groups', async () => {
  const g = await newGroup();
  await g.commit([{ topic: 'o1', partition: 1, offset: 42 }]);
  const r = await c.request(ApiKey.OffsetFetch, 8, {
    groups: [
      { groupId: g.groupId, topics: [{ name: 'o1', partitionIndexes: [1] }] },
      { groupId: 'no-such-group', topics: [{ name: 'o1', partitionIndexes: [0] }] },
      { groupId: 'no-such-group-2', topics: null },
    ],
    requireStable: false,
  });
  assert.deepEqual(r.groups.map((x: any) => [x.groupId, x.errorCode]), [[g.groupId, 0], ['no-such-group', 0], ['no-such-group-2', 0]]);
  assert.equal(Number(r.groups[0].topics[0].partitions[0].committedOffset), 42);
  assert.equal(Number(r.groups[1].topics[0].partitions[0].committedOffset), -1);
  assert.deepEqual(r.groups[2].topics, []);
  g.close();
});

test('OffsetCommit errors: unknown topic or partition, metadata too large, unknown group with a generation', async () => {
  const g = await newGroup();
  const r = await g.commit([
    { topic: 'o1', partition: 0, offset: 1 },
    { topic: 'o1', partition: 9, offset: 1 },
    { topic: 'nope', partition: 0, offset: 1 },
    { topic: 'o2', partition: 0, offset: 1, metadata: 'x'.repeat(11) },
  ]);
  assert.deepEqual(codes(r), [['o1', 0, 0], ['o1', 9, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION], ['nope', 0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION], ['o2', 0, ErrorCode.OFFSET_METADATA_TOO_LARGE]]);
  const other = await newGroup();
  assert.deepEqual(codes(await other.commit([{ topic: 'o1', partition: 0, offset: 1 }], { generationId: 3, memberId: 'm' })), [['o1', 0, ErrorCode.GROUP_ID_NOT_FOUND]], 'v9');
  assert.deepEqual(codes(await other.commit([{ topic: 'o1', partition: 0, offset: 1 }], { generationId: 3, memberId: 'm', version: 8 })), [['o1', 0, ErrorCode.ILLEGAL_GENERATION]], 'before v9');
  g.close();
  other.close();
});

test('group members commit with their generation; stale generations, strangers and mid-rebalance commits are refused', async () => {
  const a = await newGroup();
  const bb = await GroupClient.connect(b.port, a.groupId);
  const ja = await a.joinFully({ protocols: [{ name: 'range', metadata: subscription(['o1']) }] });
  await a.sync(ja.memberId, 1, [{ memberId: ja.memberId, assignment: assignment([{ topic: 'o1', partitions: [0, 1, 2] }]) }]);
  const commit = (o: Parameters<GroupClient['commit']>[1]) => a.commit([{ topic: 'o1', partition: 0, offset: 5 }], o).then((r) => r.topics[0].partitions[0].errorCode);
  assert.equal(await commit({ generationId: 1, memberId: ja.memberId }), 0);
  assert.equal(await commit({ generationId: 2, memberId: ja.memberId }), ErrorCode.ILLEGAL_GENERATION);
  assert.equal(await commit({ generationId: 1, memberId: 'stranger' }), ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(await commit({ generationId: -1, memberId: '' }), ErrorCode.UNKNOWN_MEMBER_ID, 'groupless commits only while the group is empty');
  const mb = (await bb.join({ protocols: [{ name: 'range', metadata: subscription(['o1']) }] })).memberId;
  const joinB = bb.join({ memberId: mb, protocols: [{ name: 'range', metadata: subscription(['o1']) }] });
  await waitFor('rebalance', async () => (await a.heartbeat(ja.memberId, 1)).errorCode === ErrorCode.REBALANCE_IN_PROGRESS);
  assert.equal(await commit({ generationId: 1, memberId: ja.memberId }), 0, 'PreparingRebalance: the old generation may still commit');
  const ra = await a.join({ memberId: ja.memberId, protocols: [{ name: 'range', metadata: subscription(['o1']) }] });
  await joinB;
  assert.equal(await commit({ generationId: ra.generationId, memberId: ja.memberId }), ErrorCode.REBALANCE_IN_PROGRESS, 'CompletingRebalance');
  await Promise.all([a.sync(ja.memberId, ra.generationId, []), bb.sync(mb, ra.generationId)]);
  assert.equal(await commit({ generationId: ra.generationId, memberId: ja.memberId }), 0);

  // OffsetDelete: a subscribed topic of a consumer-protocol group is protected.
  const del = await c.request(ApiKey.OffsetDelete, 0, { groupId: a.groupId, topics: [{ name: 'o1', partitions: [{ partitionIndex: 0 }] }, { name: 'o2', partitions: [{ partitionIndex: 0 }] }] });
  assert.deepEqual([del.errorCode, ...codes(del)], [0, ['o1', 0, ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC], ['o2', 0, 0]]);
  // DeleteGroups refuses a group with members.
  const dg = await c.request(ApiKey.DeleteGroups, 2, { groupsNames: [a.groupId, 'no-such-group'] });
  assert.deepEqual(dg.results.map((x: any) => [x.groupId, x.errorCode]), [[a.groupId, ErrorCode.NON_EMPTY_GROUP], ['no-such-group', ErrorCode.GROUP_ID_NOT_FOUND]]);
  a.close();
  bb.close();
});

test('OffsetDelete: non-consumer groups with members refuse, empty groups lose the offsets, unknown groups are reported', async () => {
  const g = await newGroup();
  const j = await g.joinFully({ protocolType: 'connect', protocols: [{ name: 'default', metadata: Buffer.from('x') }] });
  await g.sync(j.memberId, 1, [], { protocolType: 'connect', protocolName: 'default' });
  await g.commit([{ topic: 'o1', partition: 0, offset: 5 }], { generationId: 1, memberId: j.memberId });
  const refused = await c.request(ApiKey.OffsetDelete, 0, { groupId: g.groupId, topics: [{ name: 'o1', partitions: [{ partitionIndex: 0 }] }] });
  assert.equal(refused.errorCode, ErrorCode.NON_EMPTY_GROUP);
  await g.leave([{ memberId: j.memberId }]);
  const ok = await c.request(ApiKey.OffsetDelete, 0, { groupId: g.groupId, topics: [{ name: 'o1', partitions: [{ partitionIndex: 0 }, { partitionIndex: 1 }] }] });
  assert.deepEqual([ok.errorCode, ...codes(ok)], [0, ['o1', 0, 0], ['o1', 1, 0]]);
  assert.equal(Number((await g.fetchOffsets([{ name: 'o1', partitionIndexes: [0] }])).offsets.get('o1')!.get(0).committedOffset), -1);
  const unknown = await c.request(ApiKey.OffsetDelete, 0, { groupId: 'nobody-here', topics: [] });
  assert.equal(unknown.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  g.close();
});

test('DescribeGroups, ListGroups with state and type filters, DeleteGroups with the offsets', async () => {
  const stable = await newGroup();
  const j = await stable.joinFully();
  await stable.sync(j.memberId, 1);
  const simple = await newGroup();
  await simple.commit([{ topic: 'o1', partition: 0, offset: 1 }]);
  for (let v = 0; v <= 5; v++) {
    const r = await c.request(ApiKey.DescribeGroups, v, { groups: [stable.groupId, simple.groupId, 'no-such'], includeAuthorizedOperations: v >= 3 });
    assert.deepEqual(r.groups.map((g: any) => [g.groupId, g.errorCode, g.groupState, g.protocolType, g.members.length]), [
      [stable.groupId, 0, 'Stable', 'consumer', 1],
      [simple.groupId, 0, 'Empty', '', 0],
      ['no-such', 0, 'Dead', '', 0],
    ], `v${v}`);
    if (v >= 3) assert.notEqual(r.groups[0].authorizedOperations, -2147483648);
  }
  const ids = (r: any) => r.groups.map((g: any) => g.groupId).filter((id: string) => id === stable.groupId || id === simple.groupId).sort();
  for (let v = 0; v <= 5; v++) assert.deepEqual(ids(await c.request(ApiKey.ListGroups, v, {})), [stable.groupId, simple.groupId].sort(), `v${v}`);
  const listed = await c.request(ApiKey.ListGroups, 5, {});
  const mine = listed.groups.find((g: any) => g.groupId === stable.groupId);
  assert.deepEqual([mine.protocolType, mine.groupState, mine.groupType], ['consumer', 'Stable', 'classic']);
  assert.deepEqual(ids(await c.request(ApiKey.ListGroups, 4, { statesFilter: ['STABLE'] })), [stable.groupId]);
  assert.deepEqual(ids(await c.request(ApiKey.ListGroups, 4, { statesFilter: ['empty'] })), [simple.groupId]);
  assert.deepEqual(ids(await c.request(ApiKey.ListGroups, 5, { typesFilter: ['Classic'] })), [stable.groupId, simple.groupId].sort());
  assert.deepEqual(ids(await c.request(ApiKey.ListGroups, 5, { typesFilter: ['consumer'] })), []);
  for (let v = 0; v <= 2; v++) {
    const g = await newGroup();
    await g.commit([{ topic: 'o1', partition: 0, offset: 1 }]);
    const r = await c.request(ApiKey.DeleteGroups, v, { groupsNames: [g.groupId] });
    assert.deepEqual(r.results.map((x: any) => x.errorCode), [0], `v${v}`);
    assert.equal((await g.describe()).groupState, 'Dead');
    assert.equal(Number((await g.fetchOffsets([{ name: 'o1', partitionIndexes: [0] }])).offsets.get('o1')!.get(0).committedOffset), -1, 'offsets went with the group');
    g.close();
  }
  stable.close();
  simple.close();
});

test('deleting a topic deletes its committed offsets', async () => {
  await createTopic(c, 'short-lived', 1);
  const g = await newGroup();
  await g.commit([{ topic: 'short-lived', partition: 0, offset: 9 }, { topic: 'o1', partition: 0, offset: 9 }]);
  const r = await c.request(ApiKey.DeleteTopics, 6, { topics: [{ name: 'short-lived' }], timeoutMs: 1000 });
  assert.equal(r.responses[0].errorCode, 0);
  await waitFor('offsets gone', async () => !(await g.fetchOffsets(null)).offsets.has('short-lived'));
  assert.ok((await g.fetchOffsets(null)).offsets.has('o1'));
  g.close();
});

test('offsets.retention.minutes: offsets of empty groups expire, then the group; groups with members keep theirs', async () => {
  const groups = b.broker.groups!;
  const simple = await newGroup();
  await simple.commit([{ topic: 'o1', partition: 0, offset: 1 }]);
  const active = await newGroup();
  const j = await active.joinFully({ protocols: [{ name: 'range', metadata: subscription(['o1']) }] });
  await active.sync(j.memberId, 1);
  await active.commit([{ topic: 'o1', partition: 0, offset: 2 }, { topic: 'o2', partition: 0, offset: 2 }], { generationId: 1, memberId: j.memberId });
  assert.equal((await groups.expireOffsets(Date.now())).offsets, 0, 'nothing is old yet');
  const later = Date.now() + 7 * 24 * 60 * 60 * 1000 + 1000;
  await groups.expireOffsets(later);
  assert.equal((await simple.describe()).groupState, 'Dead', 'the groupless consumer\'s group is gone with its offsets');
  const left = await active.fetchOffsets(null);
  assert.deepEqual([...left.offsets.keys()], ['o1'], 'a Stable consumer group keeps offsets of subscribed topics only');
  simple.close();
  active.close();
});

test('groups and offsets survive a restart: members keep their generation and must heartbeat in time', async () => {
  const d = await startTestBroker(SETTINGS);
  const cl = await RawClient.connect(d.port);
  await createTopic(cl, 'r1', 2);
  const g = await GroupClient.connect(d.port, 'restart-me');
  const j = await g.joinFully({ sessionTimeoutMs: 1500, protocols: [{ name: 'range', metadata: subscription(['r1']) }] });
  const mine = assignment([{ topic: 'r1', partitions: [0, 1] }]);
  await g.sync(j.memberId, 1, [{ memberId: j.memberId, assignment: mine }]);
  await g.commit([{ topic: 'r1', partition: 0, offset: 100 }, { topic: 'r1', partition: 1, offset: 200 }], { generationId: 1, memberId: j.memberId });
  const simple = await GroupClient.connect(d.port, 'restart-simple');
  await simple.commit([{ topic: 'r1', partition: 1, offset: 7 }]);
  cl.close();
  g.close();
  simple.close();
  await d.stop({ keepData: true });

  const e = await startTestBroker({ ...SETTINGS, 'data.dir': d.dataDir });
  try {
    const g2 = await GroupClient.connect(e.port, 'restart-me');
    const f = await g2.fetchOffsets(null);
    assert.deepEqual([...f.offsets.get('r1')!.values()].map((p: any) => Number(p.committedOffset)), [100, 200]);
    const desc = await g2.describe();
    assert.deepEqual([desc.groupState, desc.members.map((m: any) => m.memberId)], ['Stable', [j.memberId]]);
    assert.deepEqual(desc.members[0].memberAssignment, mine, 'the assignment was stored');
    assert.equal((await g2.heartbeat(j.memberId, 1)).errorCode, 0, 'the member carries on in its generation');
    const s = await g2.sync(j.memberId, 1);
    assert.deepEqual(s.assignment, mine);
    const simple2 = await GroupClient.connect(e.port, 'restart-simple');
    assert.equal(Number((await simple2.fetchOffsets([{ name: 'r1', partitionIndexes: [1] }])).offsets.get('r1')!.get(1).committedOffset), 7);
    assert.equal((await simple2.describe()).groupState, 'Empty');
    // Without heartbeats the member's restarted session ends and the group empties.
    await waitFor('session expiry after restart', async () => (await g2.describe()).groupState === 'Empty', 5000);
    assert.equal((await g2.describe()).members.length, 0);
    g2.close();
    simple2.close();
  } finally {
    await e.stop();
  }
});
