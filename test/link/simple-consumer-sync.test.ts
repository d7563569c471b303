// Link group sync and simple consumers (no group membership: assign() + commitSync, as Flink and
// Spark run, generation -1): once such a consumer commits on Strait, the group is Strait's and the
// source group's later commits are not copied over it, also after a restart. A real librdkafka
// consumer (confluent-kafka) commits on Strait; a real Apache Kafka 4.3.1 is the source.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { lastJsonLine, repoRoot, runPython, startApacheKafka, type KafkaHandle } from '../compat/harness.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { ApiKey, KafkaClient } from '../../src/link/client/index.ts';
import { buildBatch } from '../../src/protocol/records/index.ts';
import { commitOffsets } from './compare.ts';

let kafka: KafkaHandle;
let strait: TestBroker;
let source: KafkaClient;
let local: KafkaClient;

before(async () => {
  [kafka, strait] = await Promise.all([startApacheKafka({ config: { 'auto.create.topics.enable': 'false' } }), startTestBroker({ 'upload.interval.ms': '200' })]);
  source = new KafkaClient({ bootstrap: kafka.bootstrap });
  local = new KafkaClient({ bootstrap: `127.0.0.1:${strait.port}` });
});

after(async () => {
  await source?.close();
  await local?.close();
  await strait?.stop();
  await kafka?.stop();
});

/** commitOffsets on the source, retried while its group coordinator starts (its offsets topic being created). */
async function commitOnSource(group: string, offset: number): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      return await commitOffsets(source, group, 'sc', [[0, offset]]);
    } catch (err) {
      if (i >= 100 || !/error (14|15|16)$/.test((err as Error).message)) throw err;
      // FindCoordinator (which OffsetFetch sends) is what makes Kafka create its offsets topic.
      await source.offsetFetch([group]).catch(() => undefined);
      await sleep(200);
    }
  }
}

const committedOn = async (client: KafkaClient, group: string) => (await client.offsetFetch([group]))[0]!.offsets.find((o) => o.topic === 'sc' && o.partition === 0)?.offset ?? -1;

async function waitFor(ok: () => Promise<boolean>, what: () => Promise<string>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) assert.fail(await what());
    await sleep(100);
  }
}

/** Waits for `n` more group sync passes of the link. */
async function syncPasses(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const before = (await strait.broker.links!.describe('sc')).lastGroupSyncMs;
    await waitFor(async () => (await strait.broker.links!.describe('sc')).lastGroupSyncMs > before, async () => 'no group sync pass');
  }
}

test('a simple consumer commits on Strait: the group is Strait\'s, the source group\'s later commits are not copied over it', async () => {
  const { response } = await source.sendRequest<any>('controller', ApiKey.CreateTopics, () => ({ topics: [{ name: 'sc', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 30_000, validateOnly: false }));
  assert.equal(response.topics[0].errorCode, 0);
  await source.metadata({ topics: ['sc'] });
  const [out] = await source.produce([{ topic: 'sc', partition: 0, records: buildBatch({ records: Array.from({ length: 100 }, (_, i) => ({ value: `v${i}` })) }) }], { acks: -1 });
  assert.equal(out!.error, null);
  await strait.broker.links!.create({ name: 'sc', bootstrap: kafka.bootstrap, topics: { include: ['sc'], exclude: [] }, metadataSyncIntervalMs: 300, groupSyncIntervalMs: 300 });

  // The source's simple group is copied while nobody uses it on Strait.
  await commitOnSource('flink', 10);
  await waitFor(async () => (await committedOn(local, 'flink')) === 10, async () => `not synced: ${await committedOn(local, 'flink')}`);

  // A simple consumer on Strait reads and commits 40 (assign + commitSync, generation -1).
  const run = await runPython(join(repoRoot, 'test/link/simple_commit.py'), [`127.0.0.1:${strait.port}`, 'flink', 'sc', '0', '40'], { timeoutMs: 60_000 });
  const r = lastJsonLine(run, 'simple_commit.py') as { read: number | null; errors: string[]; committed: number };
  assert.deepEqual(r.errors, []);
  assert.equal(r.read, 40, 'the consumer read the mirror at its offset');
  assert.equal(r.committed, 40);

  // The source group keeps moving; Strait's commit must stay.
  await commitOnSource('flink', 20);
  await syncPasses(3);
  await commitOnSource('flink', 30);
  await syncPasses(3);
  assert.equal(await committedOn(source, 'flink'), 30, 'premise: the source group moved on');
  assert.equal(await committedOn(local, 'flink'), 40, 'the offset committed on Strait is kept');
  const g = (await strait.broker.links!.describe('sc')).groups.find((x) => x.groupId === 'flink');
  assert.equal(g?.state, 'active-on-strait');

  // After a restart of Strait the group is still Strait's.
  await local.close();
  await strait.stop({ keepData: true });
  strait = await startTestBroker({ 'upload.interval.ms': '200', 'data.dir': strait.dataDir });
  local = new KafkaClient({ bootstrap: `127.0.0.1:${strait.port}` });
  await commitOnSource('flink', 35);
  await syncPasses(3);
  assert.equal(await committedOn(local, 'flink'), 40, 'the offset committed on Strait is kept after a restart');

  // A group nobody used on Strait still follows the source (the sync itself works).
  await commitOnSource('other', 25);
  await waitFor(async () => (await committedOn(local, 'other')) === 25, async () => `the other group was not synced: ${await committedOn(local, 'other')}`);
});
