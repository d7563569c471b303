// Server-side assignors (uniform, range) and the KIP-848 reconciliation step, as pure functions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rangeAssignor, uniformAssignor } from '../../src/coordinator/assignors.ts';
import type { Assignment, AssignmentSpec } from '../../src/coordinator/assignors.ts';
import { ConsumerMember, checkMemberEpoch, reconcile } from '../../src/coordinator/consumer-group.ts';

function spec(members: Record<string, string[]>, topics: Record<string, number>, previous: Record<string, Record<string, number[]>> = {}): AssignmentSpec {
  return {
    members: new Map(Object.entries(members).map(([m, ts]) => [m, new Set(ts)])),
    topics: new Map(Object.entries(topics)),
    previous: new Map(Object.entries(previous).map(([m, a]) => [m, new Map(Object.entries(a).map(([t, ps]) => [t, new Set(ps)]))])),
  };
}

const flat = (a: Assignment | undefined) => [...(a ?? new Map())].flatMap(([t, ps]) => [...ps].map((p) => `${t}:${p}`)).sort();
const count = (a: Assignment | undefined) => flat(a).length;

function checkComplete(s: AssignmentSpec, out: Map<string, Assignment>): void {
  const seen = new Set<string>();
  for (const [m, a] of out) {
    for (const [t, ps] of a) {
      assert.ok(s.members.get(m)!.has(t), `${m} got ${t} without subscribing`);
      for (const p of ps) {
        const key = `${t}:${p}`;
        assert.ok(!seen.has(key), `${key} assigned twice`);
        seen.add(key);
      }
    }
  }
  for (const [t, n] of s.topics) {
    const subscribed = [...s.members.values()].some((x) => x.has(t));
    for (let p = 0; p < n; p++) assert.equal(seen.has(`${t}:${p}`), subscribed, `${t}:${p}`);
  }
}

test('uniform: balanced counts for the same subscriptions', () => {
  for (const [members, partitions] of [[1, 4], [3, 10], [4, 4], [5, 3], [2, 7]] as const) {
    const m: Record<string, string[]> = {};
    for (let i = 0; i < members; i++) m[`m${i}`] = ['t'];
    const s = spec(m, { t: partitions });
    const out = uniformAssignor(s);
    checkComplete(s, out);
    const counts = [...out.values()].map(count);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `${members} members, ${partitions} partitions: ${counts}`);
  }
});

test('uniform: sticky — a new member takes partitions only from the members with the most', () => {
  const s = spec({ a: ['t'], b: ['t'], c: ['t'] }, { t: 6 }, { a: { t: [0, 1, 2] }, b: { t: [3, 4, 5] } });
  const out = uniformAssignor(s);
  checkComplete(s, out);
  assert.deepEqual([count(out.get('a')), count(out.get('b')), count(out.get('c'))], [2, 2, 2]);
  for (const m of ['a', 'b']) for (const p of flat(out.get(m))) assert.ok(flat(s.previous.get(m)).includes(p), `${m} kept only its own partitions`);
  // Nothing changes when nothing needs to.
  const again = uniformAssignor({ ...s, previous: out });
  for (const m of ['a', 'b', 'c']) assert.deepEqual(flat(again.get(m)), flat(out.get(m)));
});

test('uniform: different subscriptions, deleted topics and shrunk partition counts', () => {
  const s = spec({ a: ['x'], b: ['x', 'y'], c: ['y', 'gone'] }, { x: 4, y: 4 }, { a: { x: [0, 1, 2, 3], gone: [0] }, c: { y: [0, 1, 2, 3, 9] } });
  const out = uniformAssignor(s);
  checkComplete(s, out);
  const counts = ['a', 'b', 'c'].map((m) => count(out.get(m)));
  assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, String(counts));
});

test('uniform and range: random subscriptions always give every subscribed partition to exactly one subscriber', () => {
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
  for (let i = 0; i < 200; i++) {
    const topics: Record<string, number> = {};
    for (let t = 0; t < 1 + rnd(4); t++) topics[`t${t}`] = 1 + rnd(8);
    const members: Record<string, string[]> = {};
    for (let m = 0; m < 1 + rnd(6); m++) members[`m${m}`] = Object.keys(topics).filter(() => rnd(3) > 0);
    const s = spec(members, topics);
    checkComplete(s, uniformAssignor(s));
    checkComplete(s, rangeAssignor(s));
    const again = spec(members, topics);
    again.previous = uniformAssignor(s);
    checkComplete(again, uniformAssignor(again));
  }
});

test('range: contiguous ranges per topic in member-id order, the first members take the extras', () => {
  const s = spec({ b: ['t', 'u'], a: ['t', 'u'] }, { t: 5, u: 2 });
  const out = rangeAssignor(s);
  assert.deepEqual(flat(out.get('a')), ['t:0', 't:1', 't:2', 'u:0']);
  assert.deepEqual(flat(out.get('b')), ['t:3', 't:4', 'u:1']);
  const few = rangeAssignor(spec({ a: ['t'], b: ['t'], c: ['t'] }, { t: 2 }));
  assert.deepEqual([count(few.get('a')), count(few.get('b')), count(few.get('c'))], [1, 1, 0]);
});

function member(epoch: number, assigned: Record<string, number[]>, state: ConsumerMember['state'] = 'stable', pending: Record<string, number[]> = {}): ConsumerMember {
  const m = new ConsumerMember('m');
  m.memberEpoch = epoch;
  m.previousMemberEpoch = epoch - 1;
  m.state = state;
  m.assigned = new Map(Object.entries(assigned).map(([t, ps]) => [t, new Set(ps)]));
  m.pendingRevocation = new Map(Object.entries(pending).map(([t, ps]) => [t, new Set(ps)]));
  return m;
}
const target = (a: Record<string, number[]>): Assignment => new Map(Object.entries(a).map(([t, ps]) => [t, new Set(ps)]));
const owners = (a: Record<string, Record<number, number>>) => new Map(Object.entries(a).map(([t, ps]) => [t, new Map(Object.entries(ps).map(([p, e]) => [Number(p), e]))]));

test('reconcile: revoke first at the current epoch, then take free partitions at the target epoch', () => {
  const m = member(3, { t: [0, 1, 2] });
  const step1 = reconcile(m, 4, target({ t: [0, 3] }), owners({}), [{ topicId: 't', partitions: [0, 1, 2] }]);
  assert.deepEqual([step1.state, step1.memberEpoch, flat(step1.assigned), flat(step1.pendingRevocation)], ['unrevoked_partitions', 3, ['t:0'], ['t:1', 't:2']]);
  const still = reconcile(step1, 4, target({ t: [0, 3] }), owners({}), [{ topicId: 't', partitions: [0, 1] }]);
  assert.equal(still, step1, 'no progress while a revoked partition is still reported');
  const noReport = reconcile(step1, 4, target({ t: [0, 3] }), owners({}), null);
  assert.equal(noReport, step1, 'no progress when the member did not say what it owns');
  const step2 = reconcile(step1, 4, target({ t: [0, 3] }), owners({ t: { 3: 4 } }), [{ topicId: 't', partitions: [0] }]);
  assert.deepEqual([step2.state, step2.memberEpoch, step2.previousMemberEpoch, flat(step2.assigned)], ['unreleased_partitions', 4, 3, ['t:0']], 't:3 is still held by another member');
  const step3 = reconcile(step2, 4, target({ t: [0, 3] }), owners({}), [{ topicId: 't', partitions: [0] }]);
  assert.deepEqual([step3.state, step3.memberEpoch, flat(step3.assigned)], ['stable', 4, ['t:0', 't:3']]);
  const direct = reconcile(member(1, {}), 2, target({ t: [5] }), owners({}), []);
  assert.deepEqual([direct.state, direct.memberEpoch, flat(direct.assigned)], ['stable', 2, ['t:5']]);
});

test('member epochs: newer is fenced; the previous epoch is accepted only with a subset of the assignment', () => {
  const m = member(5, { t: [0, 1] });
  assert.doesNotThrow(() => checkMemberEpoch(m, 5, null));
  assert.doesNotThrow(() => checkMemberEpoch(m, 4, [{ topicId: 't', partitions: [1] }]));
  assert.throws(() => checkMemberEpoch(m, 6, null), /greater/);
  assert.throws(() => checkMemberEpoch(m, 4, null), /smaller/);
  assert.throws(() => checkMemberEpoch(m, 4, [{ topicId: 't', partitions: [2] }]), /smaller/);
  assert.throws(() => checkMemberEpoch(m, 3, []), /smaller/);
});
