// The group checks themselves (members.ts, test/link/clients.ts), on events written by hand: a run
// that loses one record and reads another twice, or reads a wrong value, must fail them. Before
// issue #11 these checks looked at offset ranges only, and each case below passed.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupMember, assertConsumedValues, gaps, mergeRanges, type VerifiableEvent } from './members.ts';
import { assertHandedOver } from '../../link/clients.ts';

const made: GroupMember[] = [];
after(async () => {
  // Their processes end on their own at once; wait for that rather than race a kill against it.
  for (const m of made) while (m.running) await new Promise((resolve) => setTimeout(resolve, 20));
});

/** A member whose events are the given ones (its process exits at once and prints nothing). */
function member(name: string, events: VerifiableEvent[]): GroupMember {
  const m = new GroupMember(name, process.execPath, ['-e', '']);
  made.push(m);
  m.events.push(...events);
  return m;
}

const record = (partition: number, offset: number, value: string): VerifiableEvent => ({ name: 'record_data', topic: 't', partition, offset, key: null, value });
const summary = (partition: number, count: number, minOffset: number, maxOffset: number): VerifiableEvent => ({
  name: 'records_consumed',
  count,
  partitions: [{ topic: 't', partition, count, minOffset, maxOffset }],
});
const log = new Map([0, 1, 2, 3].map((o) => [`0/${o}`, `v${o}`]));

test('a record lost and another read twice inside one poll: a gap, though the summary spans every offset', () => {
  // Offsets 0, 1, 2, 2: four records, summarised as [0, 3].
  const m = member('lossy', [record(0, 0, 'v0'), record(0, 1, 'v1'), record(0, 2, 'v2'), record(0, 2, 'v2'), summary(0, 4, 0, 3)]);
  assert.deepEqual(gaps(mergeRanges([m]), [4]), ['p0:[3,4)']);
  assert.throws(() => assertConsumedValues([m], log, true), /consumed twice/);
});

test('a member that reports summaries only: a summary with fewer records than offsets throws', () => {
  const m = member('summaries', [summary(0, 3, 0, 3)]);
  assert.throws(() => mergeRanges([m]), /3 records over offsets \[0, 3\]/);
});

test('a wrong value at an offset is reported', () => {
  const m = member('wrong', [record(0, 0, 'v0'), record(0, 1, 'v9'), summary(0, 2, 0, 1)]);
  assert.throws(() => assertConsumedValues([m], log, false), /consumed "v9" at 0\/1, where the log holds "v1"/);
  const right = member('right', [record(0, 0, 'v0'), record(0, 1, 'v1'), summary(0, 2, 0, 1)]);
  assert.equal(assertConsumedValues([right], log, true), 2);
});

test('a hand-over where one side reads a record twice: the counts do not add up', () => {
  const first = member('first', [record(0, 0, 'v0'), record(0, 1, 'v1'), summary(0, 2, 0, 1), record(0, 1, 'v1'), summary(0, 1, 1, 1)]);
  const then = member('then', [record(0, 2, 'v2'), record(0, 3, 'v3'), summary(0, 2, 2, 3)]);
  assert.throws(() => assertHandedOver([first], [then], [4]), /every record consumed exactly once/);
  const once = member('once', [record(0, 0, 'v0'), record(0, 1, 'v1'), summary(0, 2, 0, 1)]);
  assertHandedOver([once], [then], [4], log);
});
