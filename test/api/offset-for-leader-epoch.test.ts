// OffsetForLeaderEpoch answers from the partition's leader-epoch history, as Kafka's leader does
// (Partition.lastOffsetForLeaderEpoch -> LeaderEpochFileCache.endOffsetFor), so a consumer's KIP-320
// check sees that a mirror was truncated under it: the end offset of the epoch it last read is
// below its position. The history survives a restart, whether the data was uploaded or only in the WAL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { startTestBroker } from '../helpers/broker.ts';
import type { TestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { buildBatch } from '../../src/protocol/records/index.ts';

const batch = (base: number, epoch: number, n = 10) => buildBatch({ baseOffset: base, partitionLeaderEpoch: epoch, records: Array.from({ length: n }, (_, i) => ({ value: `e${epoch}-${base + i}` })) });

/** [epoch, endOffset, errorCode] for each requested epoch, asked of partition 0 of `topic`. */
async function ask(port: number, topic: string, epochs: number[], currentLeaderEpoch = -1): Promise<[number, number, number][]> {
  const c = await RawClient.connect(port);
  try {
    const r = await c.request(ApiKey.OffsetForLeaderEpoch, 4, {
      replicaId: -1,
      topics: [{ topic, partitions: epochs.map((leaderEpoch) => ({ partition: 0, currentLeaderEpoch, leaderEpoch })) }],
    });
    return r.topics[0].partitions.map((p: any) => [p.leaderEpoch, Number(p.endOffset), p.errorCode]);
  } finally {
    c.close();
  }
}

async function createTopic(b: TestBroker, name: string): Promise<string> {
  const c = await RawClient.connect(b.port);
  try {
    await c.request(ApiKey.CreateTopics, 7, { topics: [{ name, numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 });
    return (await c.request(ApiKey.Metadata, 12, { topics: [{ name }] })).topics[0].topicId;
  } finally {
    c.close();
  }
}

const U: [number, number, number] = [-1, -1, ErrorCode.NONE];

test('OffsetForLeaderEpoch answers each epoch of a mirror from its history, sees a truncation, and keeps it across restarts', async () => {
  let b = await startTestBroker({ 'upload.interval.ms': '100000' });
  const dataDir = b.dataDir;
  let stopped = false;
  try {
    const topicId = await createTopic(b, 'm');
    let log = b.broker.logs!.get(topicId, 0)!;
    // Epoch 1 holds 0..39 (uploaded), epoch 3 holds 40..99 (half uploaded, half only in the WAL).
    for (let base = 0; base < 70; base += 10) assert.equal((await log.appendAtOffsets(batch(base, base < 40 ? 1 : 3), Date.now())).errorCode, 0);
    await b.broker.uploader!.flush();
    for (let base = 70; base < 100; base += 10) assert.equal((await log.appendAtOffsets(batch(base, 3), Date.now())).errorCode, 0);
    assert.deepEqual(await ask(b.port, 'm', [0, 1, 2, 3, 4]), [
      [0, 0, 0], // below every known epoch: itself and the first epoch's start
      [1, 40, 0], // epoch 1 ends where epoch 3 starts
      [1, 40, 0], // unknown epoch 2: the largest epoch below it, and the next one's start
      [3, 100, 0], // the latest epoch ends at the log end
      U, // above the latest: undefined
    ]);
    // The source diverged (an unclean election there): the mirror is cut back to 70 and takes the
    // source's epoch 5 from there. A consumer that read up to 100 in epoch 3 must learn that epoch 3
    // now ends at 70.
    assert.equal(await b.broker.logs!.truncateTo(log, 70), 70);
    for (let base = 70; base < 90; base += 10) assert.equal((await log.appendAtOffsets(batch(base, 5), Date.now())).errorCode, 0);
    const afterCut: [number, number, number][] = [
      [1, 40, 0],
      [3, 70, 0],
      [3, 70, 0],
      [5, 90, 0],
      U,
    ];
    assert.deepEqual(await ask(b.port, 'm', [1, 3, 4, 5, 6]), afterCut, 'epoch 3 ends at the cut');

    // A restart with epoch 5 only in the WAL, then one with everything uploaded: the same answers.
    await b.stop({ keepData: true });
    b = await startTestBroker({ 'upload.interval.ms': '100000', 'data.dir': dataDir });
    assert.deepEqual(await ask(b.port, 'm', [1, 3, 4, 5, 6]), afterCut, 'after a restart (epoch 5 from the WAL)');
    await b.broker.uploader!.flush();
    await b.stop({ keepData: true });
    b = await startTestBroker({ 'upload.interval.ms': '100000', 'data.dir': dataDir });
    assert.deepEqual(await ask(b.port, 'm', [1, 3, 4, 5, 6]), afterCut, 'after a restart (everything uploaded)');

    // The log start moves into epoch 3: epoch 3 now starts there, epoch 1 is below every known epoch.
    log = b.broker.logs!.get(topicId, 0)!;
    await b.broker.logs!.advanceLogStartOffset(log, 50);
    assert.deepEqual(await ask(b.port, 'm', [1, 3, 5]), [
      [1, 50, 0],
      [3, 70, 0],
      [5, 90, 0],
    ]);
  } finally {
    if (!stopped) await b.stop();
    stopped = true;
  }
});

test('OffsetForLeaderEpoch: local appends record the partition\'s epoch; current_leader_epoch is checked; unknown partitions are refused', async () => {
  const b = await startTestBroker();
  try {
    await createTopic(b, 'local');
    const c = await RawClient.connect(b.port);
    try {
      const records = buildBatch({ baseOffset: 0, partitionLeaderEpoch: -1, records: [{ value: 'a' }, { value: 'b' }] });
      const r = await c.request(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'local', partitionData: [{ index: 0, records }] }] });
      assert.equal(r.responses[0].partitionResponses[0].errorCode, 0);
    } finally {
      c.close();
    }
    assert.deepEqual(await ask(b.port, 'local', [0, 1]), [[0, 2, 0], U], 'epoch 0 is the latest and ends at the log end');
    assert.deepEqual(await ask(b.port, 'local', [0], 0), [[0, 2, 0]], 'the current epoch matches');
    assert.deepEqual(await ask(b.port, 'local', [0], 1), [[-1, -1, ErrorCode.UNKNOWN_LEADER_EPOCH]], 'a newer current epoch than ours');
    assert.deepEqual(await ask(b.port, 'nope', [0]), [[-1, -1, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]);
  } finally {
    await b.stop();
  }
});

test('data uploaded before leader-epoch histories were kept: the history is rebuilt once from batch headers on load', async () => {
  let b = await startTestBroker({ 'upload.interval.ms': '100000' });
  const dataDir = b.dataDir;
  try {
    const topicId = await createTopic(b, 'old');
    const log = b.broker.logs!.get(topicId, 0)!;
    for (let base = 0; base < 60; base += 10) assert.equal((await log.appendAtOffsets(batch(base, base < 20 ? 2 : base < 50 ? 4 : 6), Date.now())).errorCode, 0);
    await b.broker.uploader!.flush();
    const want: [number, number, number][] = [[2, 20, 0], [4, 50, 0], [6, 60, 0], [2, 20, 0]];
    assert.deepEqual(await ask(b.port, 'old', [2, 4, 6, 3]), want);
    await b.stop({ keepData: true });
    // What a data directory from before migration 9 looks like: no saved history.
    const db = new DatabaseSync(join(dataDir, 'metadata.sqlite'));
    assert.equal(Number(db.prepare('DELETE FROM leader_epochs').run().changes), 1, 'the history was saved');
    db.close();
    b = await startTestBroker({ 'upload.interval.ms': '100000', 'data.dir': dataDir });
    assert.deepEqual(await ask(b.port, 'old', [2, 4, 6, 3]), want, 'rebuilt from the uploaded batches');
    await b.stop({ keepData: true });
    const again = new DatabaseSync(join(dataDir, 'metadata.sqlite'));
    assert.equal((again.prepare('SELECT entries FROM leader_epochs').get() as { entries: string }).entries, '[[2,0],[4,20],[6,50]]', 'and saved, so it is rebuilt only once');
    again.close();
    b = await startTestBroker({ 'upload.interval.ms': '100000', 'data.dir': dataDir });
    assert.deepEqual(await ask(b.port, 'old', [2, 4, 6, 3]), want);
  } finally {
    await b.stop();
  }
});

test('on load the history is made to agree with the log: epochs only in the WAL come back from batch headers, entries past the log end go', async () => {
  let b = await startTestBroker({ 'upload.interval.ms': '100000' });
  const dataDir = b.dataDir;
  const setSaved = (entries: string) => {
    const db = new DatabaseSync(join(dataDir, 'metadata.sqlite'));
    assert.equal(Number(db.prepare('UPDATE leader_epochs SET entries = ?').run(entries).changes), 1);
    db.close();
  };
  try {
    const topicId = await createTopic(b, 'load');
    const log = b.broker.logs!.get(topicId, 0)!;
    for (let base = 0; base < 30; base += 10) assert.equal((await log.appendAtOffsets(batch(base, 1), Date.now())).errorCode, 0);
    await b.broker.uploader!.flush();
    for (let base = 30; base < 60; base += 10) assert.equal((await log.appendAtOffsets(batch(base, 3), Date.now())).errorCode, 0);
    const want: [number, number, number][] = [[1, 30, 0], [3, 60, 0], U];
    assert.deepEqual(await ask(b.port, 'load', [1, 3, 7]), want);
    await b.stop({ keepData: true });
    // A crash before epoch 3 was saved: the saved history lacks it; the WAL replay has its batches.
    setSaved('[[1,0]]');
    b = await startTestBroker({ 'upload.interval.ms': '100000', 'data.dir': dataDir });
    assert.deepEqual(await ask(b.port, 'load', [1, 3, 7]), want, 'epoch 3 from the replayed batch headers');
    await b.stop({ keepData: true });
    // A saved entry past the log end (its data never became durable, or a cut did not reach the
    // history before a crash): dropped on load.
    setSaved('[[1,0],[3,30],[7,80]]');
    b = await startTestBroker({ 'upload.interval.ms': '100000', 'data.dir': dataDir });
    assert.deepEqual(await ask(b.port, 'load', [1, 3, 7]), want, 'epoch 7 at 80 is past the log end 60');
  } finally {
    await b.stop();
  }
});

test('promotion starts the new epoch at the log end (Kafka\'s makeLeader); local writes follow in it', async () => {
  const b = await startTestBroker();
  try {
    const topicId = await createTopic(b, 'promoted');
    const log = b.broker.logs!.get(topicId, 0)!;
    for (let base = 0; base < 20; base += 10) assert.equal((await log.appendAtOffsets(batch(base, 3), Date.now())).errorCode, 0);
    log.promote(9);
    assert.deepEqual(await ask(b.port, 'promoted', [3, 9, 10]), [[3, 20, 0], [9, 20, 0], U], 'epoch 9 is known before it wrote anything');
    const c = await RawClient.connect(b.port);
    try {
      const records = buildBatch({ records: [{ value: 'local-1' }, { value: 'local-2' }] });
      const r = await c.request(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'promoted', partitionData: [{ index: 0, records }] }] });
      assert.equal(r.responses[0].partitionResponses[0].errorCode, 0);
    } finally {
      c.close();
    }
    assert.deepEqual(await ask(b.port, 'promoted', [3, 9]), [[3, 20, 0], [9, 22, 0]]);
    assert.deepEqual(log.leaderEpochHistory, [{ epoch: 3, startOffset: 0 }, { epoch: 9, startOffset: 20 }]);
    assert.deepEqual(await ask(b.port, 'promoted', [3], 3), [[-1, -1, ErrorCode.FENCED_LEADER_EPOCH]], 'a client still on epoch 3 is fenced');
    assert.deepEqual(await ask(b.port, 'promoted', [3], 9), [[3, 20, 0]], 'one on epoch 9 is answered');
  } finally {
    await b.stop();
  }
});
