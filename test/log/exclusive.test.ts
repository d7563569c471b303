// PartitionLog.exclusive (truncation, reset) against appends waiting for it: when one exclusive
// transition ends and another was queued behind it, an append that waited must not slip into the
// second one and be acknowledged there (a truncation would then cut an acknowledged write).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionLog } from '../../src/log/partition-log.ts';
import type { LogShared } from '../../src/log/partition-log.ts';
import { topicSettings } from '../../src/log/topic-settings.ts';
import { buildBatch } from '../../src/protocol/records/index.ts';
import { ProducerState } from '../../src/log/producer-state.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';

function memoryLog(): PartitionLog {
  let position = 0;
  const shared: LogShared = {
    wal: { append: async () => ({ segment: 0, offset: ++position }) },
    sink: { onDurable() {}, flush: async () => {} },
    cold: { read: async () => [], ranges: async () => [], readRange: async () => [] },
    admit: () => null,
    tailAdded() {},
  };
  return new PartitionLog('t', 0, { logStartOffset: 0, nextOffset: 0, leaderEpoch: 0 }, topicSettings({}), shared);
}

test('an append waiting for an exclusive transition does not run inside the next one queued behind it', async () => {
  const log = memoryLog();
  let release!: () => void;
  const first = log.exclusive(() => new Promise<void>((r) => (release = r)));
  await new Promise((r) => setImmediate(r));
  const seenInside: string[] = [];
  const append = log.append(buildBatch({ records: [{ value: 'x' }] }), Date.now());
  const second = log.exclusive(async () => {
    // What the transition sees must stay put while it runs (a truncation computes its cut from it):
    // nothing in flight, and the log end where it was when the transition began.
    for (let i = 0; i < 5; i++) {
      seenInside.push(`next ${log.nextOffset} hw ${log.highWatermark} in flight ${log.inflightCount}`);
      for (let j = 0; j < 3; j++) await Promise.resolve();
      await new Promise((r) => setImmediate(r));
    }
  });
  release();
  await first;
  const out = await append;
  await second;
  assert.equal(out.errorCode, ErrorCode.NONE);
  assert.ok(seenInside.every((v) => v === seenInside[0] && v.endsWith('in flight 0')), `the log moved under the second transition: ${seenInside.join(' | ')}`);
});

test('promote waits for an exclusive transition under way, and its abort markers come first', async () => {
  const log = memoryLog();
  log.becomeMirror('a mirror', null);
  // A transaction the source left open at 0, then more source data.
  await log.appendAtOffsets(buildBatch({ baseOffset: 0, producerId: 9, producerEpoch: 2, baseSequence: 0, isTransactional: true, records: [{ value: 'open' }] }), Date.now());
  await log.appendAtOffsets(buildBatch({ baseOffset: 1, records: [{ value: 'plain' }] }), Date.now());
  let release!: () => void;
  const cut = log.exclusive(() => new Promise<void>((r) => (release = r)));
  await new Promise((r) => setImmediate(r));
  const promoted = log.promote(5, { abortOpenTransactionsBelow: 2 });
  assert.ok(log.isMirror, 'still a mirror while the exclusive transition runs');
  release();
  await cut;
  const markers = await promoted;
  assert.deepEqual(markers.map((m) => [m.errorCode, m.baseOffset]), [[ErrorCode.NONE, 2]]);
  assert.equal(log.isMirror, false);
  assert.equal(log.lastStableOffset, 3, 'the open transaction is aborted');
  // A transaction opened after the promotion is not the source's: a second promote leaves it alone.
  const local = await log.append(buildBatch({ producerId: 11, producerEpoch: 0, baseSequence: 0, isTransactional: true, records: [{ value: 'local' }] }), Date.now());
  assert.equal(local.errorCode, ErrorCode.NONE);
  assert.deepEqual(await log.promote(5, { abortOpenTransactionsBelow: 2 }), [], 'nothing more to abort');
  assert.equal(log.lastStableOffset, 3, "the local transaction is still open");
});
