// KIP-320 end to end with Apache Kafka's own Java consumer: a consumer that has read a mirror
// partition up to offset 100 in leader epoch 3 must notice when the mirror is cut back to 70 (its
// source diverged) and continues in epoch 5 past 100. It notices through OffsetForLeaderEpoch: epoch
// 3 now ends at 70, below its position. With auto.offset.reset=none the client raises
// LogTruncationException at the divergent offset 70; without the leader-epoch history the answer was
// "epoch 5 ends at 130", the check passed, and the consumer skipped 70..99 of the new data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { runJavaProgram } from '../compat/java-program.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { buildBatch } from '../../src/protocol/records/index.ts';
import { SqliteMetadataStore } from '../../src/metadata/index.ts';

const batch = (base: number, epoch: number, n = 10) => buildBatch({ baseOffset: base, partitionLeaderEpoch: epoch, records: Array.from({ length: n }, (_, i) => ({ value: `e${epoch}-${base + i}` })) });

test('a Java consumer detects that a mirror partition was truncated under it (KIP-320) and reads the new data from the divergent offset', { timeout: 180_000 }, async () => {
  const b = await startTestBroker();
  const dir = mkdtempSync(join(tmpdir(), 'strait-kip320-'));
  try {
    const c = await RawClient.connect(b.port);
    await c.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'kip320', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 });
    const topicId = (await c.request(ApiKey.Metadata, 12, { topics: [{ name: 'kip320' }] })).topics[0].topicId;
    c.close();
    const logs = b.broker.logs!;
    const log = logs.get(topicId, 0)!;
    // What a mirror fetcher does for a source in epoch 3: its partition epoch follows the source's
    // (Metadata reads it from the store; a second connection to the broker's metadata database).
    const store = new SqliteMetadataStore(join(b.dataDir, 'metadata.sqlite'));
    await store.open();
    const followEpoch = async (epoch: number) => {
      await store.setLeaderEpoch(topicId, 0, epoch);
      log.setLeaderEpoch(epoch);
    };
    await followEpoch(3);
    for (let base = 0; base < 100; base += 10) assert.equal((await log.appendAtOffsets(batch(base, base < 40 ? 1 : 3), Date.now())).errorCode, 0);

    const ready = join(dir, 'ready');
    const go = join(dir, 'go');
    const consumer = runJavaProgram('EpochConsumer', [`127.0.0.1:${b.port}`, 'kip320', '100', ready, go, '130', 'none'], { timeoutMs: 150_000 });
    const deadline = Date.now() + 120_000;
    while (!existsSync(ready)) {
      if (Date.now() > deadline) throw new Error('the consumer did not read the first 100 records');
      await new Promise((r) => setTimeout(r, 100));
    }
    // The source's unclean election: the mirror takes the source's new epoch 5, is cut back to 70
    // and follows epoch 5 from there. The epoch moves first, so a fetch with epoch 3 is fenced
    // rather than answered OFFSET_OUT_OF_RANGE past the cut (Kafka's order too: a new leader, then
    // the truncation). The consumer does not poll until all of this is done.
    await followEpoch(5);
    assert.equal(await logs.truncateTo(log, 70), 70);
    for (let base = 70; base < 130; base += 10) assert.equal((await log.appendAtOffsets(batch(base, 5), Date.now())).errorCode, 0);
    writeFileSync(go, 'go');
    const r = await consumer;
    assert.equal(r.code, 0, `consumer failed:\n${r.stdout}\n${r.stderr}`);

    const lines = r.stdout.split('\n').filter((l) => l.startsWith('RECORD ') || l.startsWith('TRUNCATED '));
    const cut = lines.indexOf('TRUNCATED 70');
    assert.ok(cut >= 0, `the client raised LogTruncationException at 70:\n${lines.slice(95).join('\n')}`);
    const parse = (l: string) => {
      const [, offset, epoch, value] = l.split(' ');
      return { offset: Number(offset), epoch: Number(epoch), value };
    };
    const before = lines.slice(0, cut).map(parse);
    const after = lines.slice(cut + 1).map(parse);
    assert.deepEqual(before.map((x) => x.offset), Array.from({ length: 100 }, (_, i) => i), 'first phase: 0..99, once each');
    assert.equal(before[99]!.value, 'e3-99');
    assert.deepEqual(after.map((x) => x.offset), Array.from({ length: 60 }, (_, i) => 70 + i), 'after the truncation: 70..129, once each');
    assert.deepEqual(
      after.map((x) => x.value),
      Array.from({ length: 60 }, (_, i) => `e5-${70 + i}`),
      'the new epoch\'s records',
    );
    assert.ok(after.every((x) => x.epoch === 5));
    await store.close();
  } finally {
    await b.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
