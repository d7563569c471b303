// The leader-epoch history against Kafka's LeaderEpochFileCache rules (assign, endOffsetFor,
// truncateFromEnd, truncateFromStart), and its write-through to a checkpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaderEpochCache, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET } from '../../src/log/leader-epochs.ts';
import type { EpochEntry } from '../../src/log/leader-epochs.ts';

const cacheOf = (...pairs: [number, number][]) => {
  const c = new LeaderEpochCache(null);
  for (const [epoch, start] of pairs) c.assign(epoch, start);
  return c;
};
const pairsOf = (c: LeaderEpochCache) => c.entries.map((e) => [e.epoch, e.startOffset]);

test('assign: a new epoch adds an entry; the same epoch at a later offset does not; contradicted entries go', () => {
  const cases: { name: string; assigns: [number, number][]; want: [number, number][] }[] = [
    { name: 'epochs rise', assigns: [[0, 0], [2, 10], [5, 30]], want: [[0, 0], [2, 10], [5, 30]] },
    { name: 'every batch of an epoch', assigns: [[1, 0], [1, 5], [1, 9], [2, 10], [2, 20]], want: [[1, 0], [2, 10]] },
    { name: 'same epoch, lower start replaces it', assigns: [[1, 0], [3, 20], [3, 15]], want: [[1, 0], [3, 15]] },
    { name: 'lower epoch drops the higher ones', assigns: [[1, 0], [3, 20], [4, 30], [2, 25]], want: [[1, 0], [2, 25]] },
    { name: 'higher epoch at an earlier offset drops later starts', assigns: [[1, 0], [2, 10], [3, 20], [4, 15]], want: [[1, 0], [2, 10], [4, 15]] },
    { name: 'same start offset, higher epoch replaces (no data in the old one)', assigns: [[1, 0], [2, 10], [3, 10]], want: [[1, 0], [3, 10]] },
    { name: 'negative epochs are not recorded', assigns: [[-1, 0], [1, 5], [-1, 9]], want: [[1, 5]] },
  ];
  for (const c of cases) assert.deepEqual(pairsOf(cacheOf(...c.assigns)), c.want, c.name);
});

test('endOffsetFor follows Kafka: latest epoch ends at the log end; others at the next epoch\'s start; unknown ones per rule', () => {
  // Epochs 2 from 10, 4 from 30, 7 from 50; log end 80.
  const c = cacheOf([2, 10], [4, 30], [7, 50]);
  const cases: { requested: number; want: [number, number]; why: string }[] = [
    { requested: 7, want: [7, 80], why: 'the latest epoch ends at the log end' },
    { requested: 4, want: [4, 50], why: 'a known epoch ends where the next starts' },
    { requested: 2, want: [2, 30], why: 'the first epoch' },
    { requested: 5, want: [4, 50], why: 'between known epochs: the largest epoch below, the next larger one\'s start' },
    { requested: 3, want: [2, 30], why: 'between 2 and 4' },
    { requested: 1, want: [1, 10], why: 'below every known epoch: itself and the first start offset' },
    { requested: 0, want: [0, 10], why: 'below every known epoch' },
    { requested: 8, want: [UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET], why: 'above the latest epoch' },
    { requested: UNDEFINED_EPOCH, want: [UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET], why: 'undefined epoch' },
  ];
  for (const k of cases) {
    const r = c.endOffsetFor(k.requested, 80);
    assert.deepEqual([r.epoch, r.endOffset], k.want, `epoch ${k.requested}: ${k.why}`);
  }
  assert.deepEqual(new LeaderEpochCache(null).endOffsetFor(0, 5), { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET }, 'an empty history knows no epoch');
});

test('truncateFromEnd drops entries starting at or past the cut; truncateFromStart keeps the last one before it, moved', () => {
  const end = cacheOf([2, 10], [4, 30], [7, 50]);
  end.truncateFromEnd(60);
  assert.deepEqual(pairsOf(end), [[2, 10], [4, 30], [7, 50]], 'a cut inside the latest epoch keeps it');
  end.truncateFromEnd(50);
  assert.deepEqual(pairsOf(end), [[2, 10], [4, 30]], 'a cut at an epoch start drops it');
  end.truncateFromEnd(11);
  assert.deepEqual(pairsOf(end), [[2, 10]]);
  assert.deepEqual(end.endOffsetFor(4, 11), { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET }, 'a dropped epoch is unknown (above the latest)');

  const start = cacheOf([2, 10], [4, 30], [7, 50]);
  start.truncateFromStart(5);
  assert.deepEqual(pairsOf(start), [[2, 10], [4, 30], [7, 50]], 'below the first entry nothing changes');
  start.truncateFromStart(35);
  assert.deepEqual(pairsOf(start), [[4, 35], [7, 50]], 'epoch 4 now starts at the log start');
  start.truncateFromStart(50);
  assert.deepEqual(pairsOf(start), [[7, 50]], 'exclusive: an entry starting at the offset stays');
  assert.deepEqual(start.endOffsetFor(4, 90), { epoch: 4, endOffset: 50 }, 'an epoch below the first answers the first start');

  const cleared = cacheOf([1, 0], [3, 7]);
  cleared.clear();
  assert.deepEqual(pairsOf(cleared), []);
});

test('every change is written through, whole and in order; flush waits for it and reports a failed write', async () => {
  const stored: EpochEntry[][] = [];
  let fail = false;
  let release: (() => void) | null = null;
  const checkpoint = {
    async write(entries: readonly EpochEntry[]) {
      if (release === null) {
        await new Promise<void>((r) => (release = r));
      }
      if (fail) throw new Error('disk gone');
      stored.push(entries.map((e) => ({ ...e })));
    },
  };
  const c = new LeaderEpochCache(checkpoint, [{ epoch: 1, startOffset: 0 }]);
  assert.equal(stored.length, 0, 'loading writes nothing');
  c.assign(1, 5);
  const idle = c.flush();
  await idle;
  assert.equal(stored.length, 0, 'an assign that changes nothing writes nothing');
  c.assign(2, 10);
  c.assign(3, 20); // made while the first write is under way: coalesced into the next one
  const flushed = c.flush();
  let done = false;
  void flushed.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(done, false, 'flush waits for the write');
  release!();
  await flushed;
  assert.deepEqual(stored.at(-1), [{ epoch: 1, startOffset: 0 }, { epoch: 2, startOffset: 10 }, { epoch: 3, startOffset: 20 }]);
  assert.ok(stored.length <= 2, `changes during a write are coalesced (${stored.length} writes)`);
  fail = true;
  c.truncateFromEnd(15);
  await assert.rejects(c.flush(), /disk gone/);
  fail = false;
  c.assign(4, 15);
  await c.flush();
  assert.deepEqual(stored.at(-1), [{ epoch: 1, startOffset: 0 }, { epoch: 2, startOffset: 10 }, { epoch: 4, startOffset: 15 }], 'after a failure the next write stores the whole history');
});

test('a loaded history that is not monotonic is repaired as assign would', () => {
  const c = new LeaderEpochCache(null, [
    { epoch: 1, startOffset: 0 },
    { epoch: 3, startOffset: 20 },
    { epoch: 2, startOffset: 25 },
  ]);
  assert.deepEqual(pairsOf(c), [[1, 0], [2, 25]]);
});

test('random logs: the history is always the epoch runs of the log, and endOffsetFor answers from them (seeded; the seed is printed on failure)', () => {
  // A tiny deterministic generator, so a failing seed replays.
  const rng = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let seed = 1; seed <= 300; seed++) {
    const rand = rng(seed);
    const int = (n: number) => Math.floor(rand() * n);
    /** The model: the epoch of every record from logStart on. */
    let logStart = 0;
    let records: number[] = [];
    let cache = new LeaderEpochCache(null);
    let epoch = 0;
    const steps: string[] = [];
    for (let step = 0; step < 60; step++) {
      const op = int(10);
      const logEnd = logStart + records.length;
      if (op < 5) {
        epoch += int(3); // epochs never go down in a log; some appends start a new one
        const n = 1 + int(5);
        steps.push(`append ${n}@e${epoch}`);
        for (let i = 0; i < n; i++) cache.assign(epoch, logEnd + i);
        records.push(...Array(n).fill(epoch));
      } else if (op < 7 && records.length > 0) {
        const at = logStart + int(records.length + 1);
        steps.push(`truncateFromEnd ${at}`);
        cache.truncateFromEnd(at);
        records = records.slice(0, at - logStart);
      } else if (op < 9 && records.length > 1) {
        const at = logStart + int(records.length);
        steps.push(`truncateFromStart ${at}`);
        cache.truncateFromStart(at);
        records = records.slice(at - logStart);
        logStart = at;
      } else {
        steps.push('reload');
        cache = new LeaderEpochCache(null, cache.entries);
      }
      const runs: [number, number][] = [];
      records.forEach((e, i) => {
        if (runs.length === 0 || runs[runs.length - 1]![0] !== e) runs.push([e, logStart + i]);
      });
      const where = `seed ${seed}, after ${steps.join(', ')}`;
      assert.deepEqual(pairsOf(cache), runs, where);
      const end = logStart + records.length;
      for (let requested = -1; requested <= epoch + 1; requested++) {
        const higher = runs.findIndex(([e]) => e > requested);
        const floor = higher < 0 ? runs.length - 1 : higher - 1;
        let want: [number, number];
        if (requested === -1) want = [-1, -1];
        else if (runs.length > 0 && runs[runs.length - 1]![0] === requested) want = [requested, end];
        else if (higher < 0) want = [-1, -1];
        else if (floor < 0) want = [requested, runs[0]![1]];
        else want = [runs[floor]![0], runs[higher]![1]];
        const got = cache.endOffsetFor(requested, end);
        assert.deepEqual([got.epoch, got.endOffset], want, `${where}: endOffsetFor(${requested})`);
      }
    }
  }
});
