// The mirror fetcher against a scripted source leader that diverged from the mirror (an unclean
// leader election at the source): the mirror must end up with exactly the leader's batches, cut as
// a Kafka follower cuts (KIP-101/KIP-279: to min(the leader's end offset for the epoch, the mirror's
// own end offset for it), asking again while the epochs differ), with no hot loop and every failure
// shown in the partition's status. The source is a fake broker on the wire (fake-broker.ts) that
// answers Fetch and OffsetForLeaderEpoch from its own log as Kafka's leader does; the mirror is a
// real partition log of an in-process Strait.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { startFakeBroker, apiVersionsBody, type FakeBroker } from './fake-broker.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { buildBatch, batchBaseOffset, batchLastOffset, batchPartitionLeaderEpoch, splitBatches } from '../../src/protocol/records/index.ts';
import { KafkaClient } from '../../src/link/client/index.ts';
import { MirrorFetcher, MirrorPartition } from '../../src/link/mirror-fetcher.ts';
import { silentLogger } from '../../src/common/logger.ts';
import type { LogManager } from '../../src/log/log-manager.ts';
import type { PartitionLog } from '../../src/log/partition-log.ts';

const TOPIC_ID = 'AAAAAAAAAAAAAAAAAAAAAQ';

/** One-record batches at consecutive offsets: [epoch, count] runs. */
function run(prefix: string, runs: [number, number][]): Buffer[] {
  const out: Buffer[] = [];
  for (const [epoch, count] of runs) {
    for (let i = 0; i < count; i++) {
      const offset = out.length;
      out.push(buildBatch({ baseOffset: offset, partitionLeaderEpoch: epoch, records: [{ value: `${prefix}-${offset}-e${epoch}`, timestamp: 1_700_000_000_000 }] }));
    }
  }
  return out;
}

/**
 * Kafka's leader-epoch cache answer for a log of one-record batches whose leader is at
 * `currentEpoch` (an entry at the log end when no batch has it yet): the largest epoch <= `epoch`
 * and where it ends; [-1, -1] (UNDEFINED) for an epoch above the current one.
 */
function endOffsetForEpoch(log: Buffer[], epoch: number, currentEpoch: number): [number, number] {
  if (epoch > currentEpoch) return [-1, -1];
  if (epoch === currentEpoch) return [epoch, log.length];
  let found = -1;
  let end = -1;
  for (let o = 0; o < log.length; o++) {
    const e = batchPartitionLeaderEpoch(log[o]!, 0);
    if (e <= epoch) {
      found = e;
      end = o + 1;
    } else if (found >= 0) break;
  }
  return [found, found < 0 ? -1 : end];
}

interface FakeLeader {
  broker: FakeBroker;
  fetches: { offset: number; lastFetchedEpoch: number; diverged: boolean }[];
  epochChecks: { leaderEpoch: number; answer: [number, number] }[];
}

/** A source leader of topic 'div', partition 0, holding `log`, answering as Kafka's leader does. */
async function fakeLeader(log: Buffer[], currentEpoch: number, o: { epochCheckUnknown?: boolean; alwaysDiverging?: boolean } = {}): Promise<FakeLeader> {
  const leader: FakeLeader = { broker: null as unknown as FakeBroker, fetches: [], epochChecks: [] };
  leader.broker = await startFakeBroker((req) => {
    const b = req.body;
    if (req.apiKey === ApiKey.ApiVersions) return apiVersionsBody({ [ApiKey.Metadata]: [0, 12], [ApiKey.Fetch]: [12, 12], [ApiKey.OffsetForLeaderEpoch]: [3, 4], [ApiKey.ListOffsets]: [1, 7] });
    if (req.apiKey === ApiKey.Metadata) {
      return {
        brokers: [{ nodeId: 1, host: '127.0.0.1', port: leader.broker.port, rack: null }],
        clusterId: 'diverged',
        controllerId: 1,
        topics: [{ errorCode: 0, name: 'div', topicId: TOPIC_ID, isInternal: false, partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: currentEpoch, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] }] }],
      };
    }
    if (req.apiKey === ApiKey.OffsetForLeaderEpoch) {
      const p = b.topics[0].partitions[0];
      const answer: [number, number] = o.epochCheckUnknown ? [-1, -1] : endOffsetForEpoch(log, p.leaderEpoch, currentEpoch);
      leader.epochChecks.push({ leaderEpoch: p.leaderEpoch, answer });
      return { throttleTimeMs: 0, topics: [{ topic: 'div', partitions: [{ errorCode: 0, partition: 0, leaderEpoch: answer[0], endOffset: BigInt(answer[1]) }] }] };
    }
    if (req.apiKey === ApiKey.ListOffsets) {
      const p = b.topics[0].partitions[0];
      const offset = p.timestamp === -2n ? 0 : log.length;
      return { throttleTimeMs: 0, topics: [{ name: 'div', partitions: [{ partitionIndex: 0, errorCode: 0, timestamp: -1n, offset: BigInt(offset), leaderEpoch: currentEpoch }] }] };
    }
    if (req.apiKey === ApiKey.Fetch) {
      const p = b.topics[0].partitions[0];
      const offset = Number(p.fetchOffset);
      const hw = BigInt(log.length);
      const base = { partitionIndex: 0, highWatermark: hw, lastStableOffset: hw, logStartOffset: 0n };
      // Kafka's leader (KIP-320, Partition.fetchRecords): the last fetched epoch must end at or
      // after the fetch offset; an epoch it cannot place is OFFSET_OUT_OF_RANGE.
      if (o.alwaysDiverging) {
        // A misbehaving leader: divergence at the mirror's own epoch, ending past the mirror's end.
        leader.fetches.push({ offset, lastFetchedEpoch: p.lastFetchedEpoch, diverged: true });
        return { errorCode: 0, responses: [{ topic: 'div', partitions: [{ ...base, errorCode: 0, divergingEpoch: { epoch: p.lastFetchedEpoch, endOffset: BigInt(log.length + 5) }, records: null }] }] };
      }
      if (p.lastFetchedEpoch >= 0) {
        const [epoch, end] = endOffsetForEpoch(log, p.lastFetchedEpoch, currentEpoch);
        if (end < 0) {
          leader.fetches.push({ offset, lastFetchedEpoch: p.lastFetchedEpoch, diverged: true });
          return { errorCode: 0, responses: [{ topic: 'div', partitions: [{ ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, records: null }] }] };
        }
        if (epoch < p.lastFetchedEpoch || end < offset) {
          leader.fetches.push({ offset, lastFetchedEpoch: p.lastFetchedEpoch, diverged: true });
          return { errorCode: 0, responses: [{ topic: 'div', partitions: [{ ...base, errorCode: 0, divergingEpoch: { epoch, endOffset: BigInt(end) }, records: null }] }] };
        }
      }
      leader.fetches.push({ offset, lastFetchedEpoch: p.lastFetchedEpoch, diverged: false });
      if (offset > log.length) return { errorCode: 0, responses: [{ topic: 'div', partitions: [{ ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, records: null }] }] };
      return { errorCode: 0, responses: [{ topic: 'div', partitions: [{ ...base, errorCode: 0, records: Buffer.concat(log.slice(offset)) }] }] };
    }
    return null;
  });
  return leader;
}

let strait: TestBroker;
let raw: RawClient;
let topicNo = 0;

before(async () => {
  strait = await startTestBroker({ 'upload.interval.ms': '200' });
  raw = await RawClient.connect(strait.port);
});

after(async () => {
  raw?.close();
  await strait?.stop();
});

/** A fresh local partition log holding `batches` at their offsets. */
async function localLog(batches: Buffer[]): Promise<PartitionLog> {
  const name = `local-${topicNo++}`;
  await raw.request(ApiKey.CreateTopics, 7, { topics: [{ name, numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 });
  const topicId = (await raw.request(ApiKey.Metadata, 12, { topics: [{ name }] })).topics[0].topicId;
  const log = strait.broker.logs!.get(topicId, 0)!;
  if (batches.length > 0) {
    const out = await log.appendAtOffsets(Buffer.concat(batches), Date.now());
    assert.equal(out.errorCode, 0, out.errorMessage ?? undefined);
  }
  // Uploaded, so a truncation cuts stored objects as well as the tail.
  await strait.broker.uploader!.flush();
  return log;
}

/** Every batch of the log, from its start. */
async function batchesOf(log: PartitionLog): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let offset = log.logStartOffset;
  while (offset < log.highWatermark) {
    const r = await log.read(offset, 1 << 20, true);
    if (r.batches.length === 0) break;
    for (const buf of r.batches) {
      for (const { pos, size } of splitBatches(buf)) {
        out.push(Buffer.from(buf.subarray(pos, pos + size)));
        offset = batchLastOffset(buf, pos) + 1;
      }
    }
  }
  return out;
}

const describe = (bs: Buffer[]) => bs.map((b) => `${batchBaseOffset(b, 0)}@e${batchPartitionLeaderEpoch(b, 0)}:${b.toString('latin1').slice(-12)}`);

async function mirrorAgainst(leader: FakeLeader, log: PartitionLog, logs: LogManager) {
  const client = new KafkaClient({ bootstrap: [leader.broker.bootstrap], retryBackoffMs: 20 });
  const fetcher = new MirrorFetcher({ linkName: 'div', client, logs, store: (strait.broker as any).store, log: silentLogger, fetchMaxBytes: 1 << 20, fetchPartitionMaxBytes: 1 << 20, fetchMaxWaitMs: 50 });
  const p = new MirrorPartition('local', 'div', 0, log);
  fetcher.add(p);
  fetcher.start();
  return {
    p,
    fetcher,
    async stop() {
      await fetcher.close();
      await fetcher.stop();
      await leader.broker.close();
    },
  };
}

/** Waits until the mirror holds exactly the leader's batches. */
async function waitSame(log: PartitionLog, want: Buffer[], what: () => string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await batchesOf(log);
    if (got.length === want.length && got.every((b, i) => b.equals(want[i]!))) return;
    if (Date.now() > deadline) assert.fail(`the mirror did not converge to the leader's log:\n got  ${describe(got).join(' ')}\n want ${describe(want).join(' ')}\n ${what()}`);
    await sleep(100);
  }
}

// Mirror: epoch 1 at [0,10), epoch 3 at [10,20) (from a source leader that was later lost).
// Leader: epoch 1 at [0,15), epoch 2 at [15,30), now at epoch 4 with no batch of it yet. The
// leader's largest epoch <= 3 is 2, ending at 30, past the mirror's end: truncating to the leader's end alone cuts nothing and keeps the
// mirror's [10,20) of epoch 3, which the leader never had. Kafka's follower finds its own largest
// epoch <= 2 (epoch 1, ending at 10), cuts there and asks again for epoch 1: min(15, 10) = 10.
const LEADER = run('leader', [[1, 15], [2, 15]]);
const MIRROR = [...run('leader', [[1, 10]]), ...run('lost', [[1, 10], [3, 10]]).slice(10)];

test('divergence found by the epoch check at start: cut to the mirror\'s own end of the epoch, ask again, end up equal to the leader', async () => {
  const log = await localLog(MIRROR);
  const leader = await fakeLeader(LEADER, 4);
  const m = await mirrorAgainst(leader, log, strait.broker.logs!);
  try {
    await waitSame(log, LEADER, () => JSON.stringify({ checks: leader.epochChecks, fetches: leader.fetches.slice(-5), status: m.p.status(Date.now()) }));
    const t = m.p.status(Date.now()).truncations;
    assert.ok(t.length >= 1, 'the truncation is reported');
    assert.equal(t.at(-1)!.toOffset, 10, `cut to the end of the mirror's epoch 1: ${JSON.stringify(t)}`);
    assert.ok(leader.fetches.every((f) => f.offset <= 10 || f.offset >= 15 || !f.diverged), 'no fetch went on from the diverged offsets');
  } finally {
    await m.stop();
  }
});

test('divergence reported by the leader in a fetch (divergingEpoch): same cut, no hot loop', async () => {
  // The epoch check at start is answered with no epoch known (-1), so the fetch finds the divergence.
  const log = await localLog(MIRROR);
  const leader = await fakeLeader(LEADER, 4, { epochCheckUnknown: true });
  const m = await mirrorAgainst(leader, log, strait.broker.logs!);
  try {
    await waitSame(log, LEADER, () => JSON.stringify({ checks: leader.epochChecks, fetches: leader.fetches.slice(-5), count: leader.fetches.length, status: m.p.status(Date.now()) }));
    const started = leader.fetches.length;
    await sleep(1000);
    // Caught up: the fetcher long-polls (fetchMaxWaitMs 50 in the script answers at once), but
    // diverged answers must not repeat.
    const diverged = leader.fetches.filter((f) => f.diverged).length;
    assert.ok(diverged <= 3, `diverged fetch answers: ${diverged} (a loop asks again and again): ${JSON.stringify(leader.fetches.slice(0, 10))}`);
    assert.ok(leader.fetches.some((f) => f.diverged), 'the divergence was found by a fetch');
    void started;
  } finally {
    await m.stop();
  }
});

test('a truncation that fails after its cut: the error is shown, retried with backoff, and the epoch state follows the log', async () => {
  const log = await localLog(MIRROR);
  const leader = await fakeLeader(LEADER, 4);
  const real = strait.broker.logs!;
  let failures = 0;
  // The real truncation runs, then fails once (as when the WAL marker write fails after the cut).
  const faulty = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'truncateTo') {
        return async (l: PartitionLog, offset: number) => {
          const to = await target.truncateTo(l, offset);
          if (failures++ === 0) throw new Error('injected: WAL marker write failed after the cut');
          return to;
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as LogManager;
  const m = await mirrorAgainst(leader, log, faulty);
  let errorSeen: string | null = null;
  const watch = setInterval(() => {
    errorSeen ??= m.p.status(Date.now()).error;
  }, 5);
  try {
    await waitSame(log, LEADER, () => JSON.stringify({ failures, checks: leader.epochChecks, fetches: leader.fetches.slice(-5), count: leader.fetches.length, status: m.p.status(Date.now()) }));
    assert.ok(failures >= 1, 'the fault was hit');
    assert.match(String(errorSeen), /truncat/, 'the failed truncation is shown in the partition status');
    const diverged = leader.fetches.filter((f) => f.diverged).length;
    assert.ok(diverged <= 4, `diverged fetch answers: ${diverged}: ${JSON.stringify(leader.fetches.slice(0, 12))}`);
    assert.equal(m.p.status(Date.now()).error, null, 'the error clears once the mirror makes progress');
  } finally {
    clearInterval(watch);
    await m.stop();
  }
});

test('a source that knows none of the mirror\'s epochs and ends before it: cut to its end, then an error with backoff, not a loop', async () => {
  // The source topic was re-created: epoch 0 at [0,10); the mirror holds epoch 5 at [0,20).
  const log = await localLog(run('old', [[5, 20]]));
  const leader = await fakeLeader(run('new', [[0, 10]]), 0);
  const m = await mirrorAgainst(leader, log, strait.broker.logs!);
  try {
    const deadline = Date.now() + 15_000;
    while (!/knows none of the mirror's leader epochs/.test(String(m.p.status(Date.now()).error))) {
      if (Date.now() > deadline) assert.fail(`no error shown: ${JSON.stringify({ status: m.p.status(Date.now()), fetches: leader.fetches.length, checks: leader.epochChecks.slice(0, 5) })}`);
      await sleep(50);
    }
    assert.equal(log.highWatermark, 10, 'nothing past the source\'s end is kept');
    const before = leader.fetches.length;
    await sleep(2000);
    const during = leader.fetches.length - before;
    assert.ok(during <= 6, `fetches in 2 s while the error stands: ${during} (backoff, not a loop)`);
    assert.match(String(m.p.status(Date.now()).error), /re-created/);
  } finally {
    await m.stop();
  }
});

test('a source that reports a divergence the mirror has nothing to cut for: an error with backoff, not a hot loop', async () => {
  const same = run('same', [[1, 10]]);
  const log = await localLog(same);
  const leader = await fakeLeader(same, 1, { alwaysDiverging: true });
  const m = await mirrorAgainst(leader, log, strait.broker.logs!);
  try {
    await sleep(3000);
    assert.match(String(m.p.status(Date.now()).error), /reports divergence .* nothing past it to cut/);
    assert.ok(leader.fetches.length <= 12, `fetches in 3 s: ${leader.fetches.length} (backoff, not a loop)`);
    assert.equal(log.highWatermark, 10, 'nothing was cut');
  } finally {
    await m.stop();
  }
});

test('the mirror takes the source leader\'s epoch before it cuts, so consumers past the cut are fenced and validate (KIP-320)', async () => {
  // A consumer that read the diverged offsets holds the mirror's old epoch. Raised before the cut, a
  // fetch with that epoch is fenced (FENCED_LEADER_EPOCH), the consumer asks OffsetForLeaderEpoch
  // and finds the truncation; raised after it, the consumer is told OFFSET_OUT_OF_RANGE and falls
  // back to auto.offset.reset without ever knowing.
  const log = await localLog(MIRROR);
  const leader = await fakeLeader(LEADER, 4, { epochCheckUnknown: true });
  const real = strait.broker.logs!;
  const epochsAtCut: number[] = [];
  const watching = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'truncateTo') {
        return async (l: PartitionLog, offset: number) => {
          epochsAtCut.push(l.leaderEpoch);
          return target.truncateTo(l, offset);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as LogManager;
  const before = log.leaderEpoch;
  const m = await mirrorAgainst(leader, log, watching);
  try {
    await waitSame(log, LEADER, () => JSON.stringify({ epochsAtCut, fetches: leader.fetches.slice(-5), status: m.p.status(Date.now()) }));
    assert.ok(epochsAtCut.length >= 1, 'the mirror was cut');
    assert.ok(before < 4, `the mirror started below the leader's epoch (${before})`);
    assert.deepEqual(epochsAtCut, epochsAtCut.map(() => 4), `the partition's leader epoch at each cut: ${epochsAtCut}`);
  } finally {
    await m.stop();
  }
});

test('removing a partition waits for a truncation under way, and nothing of the fetcher touches the log after it (promotion owns it)', async () => {
  const log = await localLog(MIRROR);
  const leader = await fakeLeader(LEADER, 4, { epochCheckUnknown: true });
  const real = strait.broker.logs!;
  let entered!: () => void;
  const cutStarted = new Promise<void>((r) => (entered = r));
  let cutDone = false;
  const changesAfterRemove: string[] = [];
  let removed = false;
  const slow = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'truncateTo' || prop === 'resetTo' || prop === 'advanceLogStartOffset') {
        return async (l: PartitionLog, offset: number) => {
          if (removed) changesAfterRemove.push(`${String(prop)} ${offset}`);
          entered();
          await sleep(300);
          const to = await (target as any)[prop](l, offset);
          cutDone = true;
          return to;
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as LogManager;
  const appendAtOffsets = log.appendAtOffsets.bind(log);
  (log as any).appendAtOffsets = (records: Buffer, now: number) => {
    if (removed) changesAfterRemove.push('appendAtOffsets');
    return appendAtOffsets(records, now);
  };
  const m = await mirrorAgainst(leader, log, slow);
  try {
    await cutStarted;
    const removing = m.fetcher.remove('div');
    removed = true;
    await removing;
    assert.ok(cutDone, 'remove() resolved only after the truncation under way finished');
    // The promotion's part: the log opens and takes a local write, which must stay.
    await log.promote(9);
    const end = log.highWatermark;
    const local = await log.append(buildBatch({ records: [{ value: 'local' }] }), Date.now());
    assert.equal(local.errorCode, 0);
    await sleep(800);
    assert.deepEqual(changesAfterRemove, [], 'the fetcher changed the log after remove()');
    assert.equal(log.highWatermark, end + 1, 'the local write is still there');
    assert.equal(log.leaderEpoch, 9, "the promotion's epoch stands");
  } finally {
    await m.stop();
  }
});
