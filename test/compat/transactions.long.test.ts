// Exactly once through crashes: the Java consume-transform-produce loop (TxnClient copy: read
// committed input, write each record to the output and commit the input offsets in the same
// transaction) runs while Strait is killed with SIGKILL at random moments, at least ten times, each
// time restarting on the same data folder with a new copier instance (which fences the last one and
// aborts whatever it left open). At the end the output, read_committed, must be the input exactly
// once, in order per partition, and the group's committed offsets the input's end.
// Decided transactions are completed on restart (markers written again), ongoing ones are aborted
// by the next instance, and pending transactional offsets survive or vanish with their transaction.
// STRAIT_TEST_SEED repeats a run's kill timings. Needs scripts/install-test-deps.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStrait, type StraitHandle } from './harness.ts';
import { createTopics, groupOffsets, readTopic, startCopier, txnClient } from './txn-client.ts';

const cycles = Number(process.env['STRAIT_TEST_CYCLES'] ?? 10);
const partitions = 3;
const count = 6000;
const straitArgs = ['--upload-interval-ms', '300'];

/** A small seeded generator, so a failing run can be repeated. */
function random(seed: number): (min: number, max: number) => number {
  let state = seed >>> 0;
  return (min, max) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.round(min + (((t ^ (t >>> 14)) >>> 0) / 4294967296) * (max - min));
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test(`consume-transform-produce through ${cycles} kill -9 cycles: read_committed output is the input exactly once`, async (t) => {
  const seed = Number(process.env['STRAIT_TEST_SEED'] ?? Date.now() % 1_000_000);
  const between = random(seed);
  t.diagnostic(`seed ${seed}`);
  const workDir = mkdtempSync(join(tmpdir(), 'strait-txn-crash-'));
  const dataDir = join(workDir, 'data');
  const input = 'eos-in';
  const output = 'eos-out';
  const group = 'eos-group';
  const copy = (bootstrap: string) => ({ bootstrap, input, output, partitions, group, 'txn-id': 'eos-copier', batch: 20, 'timeout-ms': 600_000 });
  let broker: StraitHandle | undefined = await startStrait({ dataDir, args: straitArgs });
  const started = Date.now();
  try {
    await createTopics(broker.bootstrap, [
      { name: input, partitions },
      { name: output, partitions },
    ]);
    await txnClient('produce', { bootstrap: broker.bootstrap, topic: input, partitions, count });

    let killedMidRun = 0;
    let txnsBeforeKills = 0;
    let completedAfterRestart = 0;
    for (let cycle = 1; cycle <= cycles; cycle++) {
      const copier = await startCopier(copy(broker.bootstrap));
      // Let it commit a few transactions, then kill the broker somewhere inside the next one.
      const want = between(1, 12);
      const deadline = Date.now() + 60_000;
      let exited = false;
      void copier.exited.then(() => (exited = true));
      while (copier.txns() < want && !exited && Date.now() < deadline) await sleep(20);
      await sleep(between(0, 120));
      const txns = copier.txns();
      const running = !exited;
      await broker.kill9();
      if (running) killedMidRun++;
      txnsBeforeKills += txns;
      copier.kill();
      await copier.exited;
      t.diagnostic(`cycle ${cycle}: broker killed after ${txns} transactions of this copier${running ? '' : ' (it had already exited)'}`);
      assert.ok(txns > 0 || !running, `copier made no progress in cycle ${cycle}:\n${copier.output().slice(-3000)}`);
      broker = await startStrait({ dataDir, args: straitArgs, readyTimeoutMs: 60_000 });
      // How the restart found the copier's last transaction: decided (completed now) or still open.
      await sleep(100);
      const loaded = /"msg":"transactions loaded".*?"completedAfterRestart":(\d+)/.exec(broker.output());
      completedAfterRestart += Number(loaded?.[1] ?? 0);
    }
    t.diagnostic(`${completedAfterRestart} decided transactions completed by a restart`);
    assert.ok(killedMidRun >= cycles - 1, `only ${killedMidRun} of ${cycles} kills hit a running copier`);

    // A last instance finishes the copy; a crash may leave a transaction it has to abort first.
    const final = await txnClient('copy', copy(broker.bootstrap), 300_000);
    assert.equal(final.at(-1).done, true, JSON.stringify(final.at(-1)));
    t.diagnostic(`${txnsBeforeKills} transactions committed before the kills, ${final.at(-1).txns} after; ${final.at(-1).copied} records in the last run`);

    const out = await readTopic(broker.bootstrap, output, partitions);
    for (let p = 0; p < partitions; p++) {
      const got = out.records.filter((x) => x.p === p).map((x) => x.v);
      const want = [...Array(count).keys()].filter((i) => i % partitions === p).map((i) => `copy:v${i}`);
      assert.equal(got.length, want.length, `partition ${p}: ${got.length} records, ${new Set(got).size} distinct, want ${want.length}`);
      assert.deepEqual(got, want, `partition ${p}: every input record once, in order`);
    }
    assert.deepEqual(await groupOffsets(broker.bootstrap, group), Object.fromEntries([...Array(partitions).keys()].map((p) => [`${input}:${p}`, `${count / partitions}/`])));
    t.diagnostic(`${cycles} kill -9 cycles, ${count} records copied exactly once in ${Date.now() - started} ms`);
  } finally {
    await broker?.stop().catch(() => undefined);
    rmSync(workDir, { recursive: true, force: true });
  }
});
