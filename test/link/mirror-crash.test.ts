// A mirror survives kill -9 of Strait and an outage of the source broker with no gap and no
// duplicate (checked batch by batch against the source), while the source keeps taking writes.
// Then failover with the source down reports the loss window, and the topic takes local writes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startStrait, type StraitHandle } from '../compat/harness.ts';
import { startKafkaNode, type KafkaNode } from './kafka-node.ts';
import { ApiKey, KafkaClient } from '../../src/link/client/index.ts';
import { buildBatch } from '../../src/protocol/records/index.ts';
import type { Compression } from '../../src/protocol/records/index.ts';
import { compareTopic } from './compare.ts';

const KILLS = Number(process.env.STRAIT_TEST_MIRROR_KILLS ?? 5);
const CODECS: Compression[] = ['none', 'lz4', 'zstd', 'gzip', 'snappy'];

let kafka: KafkaNode;
let strait: StraitHandle;
let source: KafkaClient;

async function api(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${strait.adminUrl}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return json;
}

async function createTopic(name: string, partitions: number): Promise<void> {
  const { response } = await source.sendRequest<any>('controller', ApiKey.CreateTopics, () => ({
    topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 30_000,
    validateOnly: false,
  }));
  assert.equal(response.topics[0].errorCode, 0);
  await source.metadata({ topics: [name] });
}

/** Keeps producing small mixed batches to the source until stopped; counts acknowledged records. */
function producer(topic: string, partitions: number) {
  let stopped = false;
  let paused = false;
  let acked = 0;
  let n = 0;
  const done = (async () => {
    while (!stopped) {
      if (paused) {
        await sleep(50);
        continue;
      }
      const reqs = Array.from({ length: partitions }, (_, p) => ({
        topic,
        partition: p,
        records: buildBatch({ compression: CODECS[n % CODECS.length]!, records: Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `v${n}-${p}-${i}` })) }),
      }));
      n++;
      try {
        const out = await source.produce(reqs, { acks: -1, timeoutMs: 5_000 });
        acked += out.filter((o) => o.error === null).length * 50;
      } catch {
        await sleep(100);
      }
      await sleep(5);
    }
  })();
  return {
    pause: () => (paused = true),
    resume: () => (paused = false),
    acked: () => acked,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

async function waitCaughtUp(link: string, topic: string, timeoutMs = 120_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const listed = await source.listOffsets([0, 1, 2].map((p) => ({ topic, partition: p, spec: 'latest' as const })));
    const d = await api('GET', `/v1/links/${link}`);
    const m = d.mirrors.find((x: any) => x.topic === topic);
    if (m && listed.every((l) => m.partitions[l.partition]?.mirroredEndOffset === l.offset)) return d;
    if (Date.now() > deadline) assert.fail(`mirror did not catch up: ${JSON.stringify(m?.partitions)} vs ${JSON.stringify(listed.map((l) => l.offset))}`);
    await sleep(200);
  }
}

before(async () => {
  kafka = await startKafkaNode();
  source = new KafkaClient({ bootstrap: kafka.bootstrap, retriesMax: 3, apiTimeoutMs: 10_000 });
  strait = await startStrait({ args: ['--set', 'upload.interval.ms=300'] });
});

after(async () => {
  await source?.close();
  await strait?.stop();
  await kafka?.destroy();
});

test(`kill -9 Strait ${KILLS} times and stop the source while mirroring: no gap, no duplicate`, async () => {
  await createTopic('crash', 3);
  const d = await api('POST', '/v1/links', { name: 'crashy', bootstrap: kafka.bootstrap, topics: { include: ['crash'] }, metadataSyncIntervalMs: 300 });
  assert.equal(d.name, 'crashy');
  const prod = producer('crash', 3);
  try {
    for (let i = 0; i < KILLS; i++) {
      await sleep(800 + Math.floor(Math.random() * 800));
      await strait.kill9();
      strait = await startStrait({ dataDir: strait.dataDir, port: strait.port, httpPort: strait.httpPort, args: ['--set', 'upload.interval.ms=300'] });
    }
    // The source goes away for a while; the mirror reports it and waits.
    prod.pause();
    await sleep(300);
    await kafka.stop();
    try {
      let during: any;
      for (let i = 0; i < 100; i++) {
        during = await api('GET', '/v1/links/crashy');
        if (during.mirrors[0].partitions.every((p: any) => p.error !== null)) break;
        await sleep(200);
      }
      assert.ok(during.mirrors[0].partitions.every((p: any) => p.error !== null), `partition errors are reported while the source is down: ${JSON.stringify(during.mirrors[0].partitions)}`);
    } finally {
      await kafka.start();
    }
    prod.resume();
    await sleep(1500);
    // One more crash right after the source came back.
    await strait.kill9();
    strait = await startStrait({ dataDir: strait.dataDir, port: strait.port, httpPort: strait.httpPort, args: ['--set', 'upload.interval.ms=300'] });
    await sleep(1000);
  } finally {
    await prod.stop();
  }
  await waitCaughtUp('crashy', 'crash');
  const local = new KafkaClient({ bootstrap: strait.bootstrap });
  try {
    const cmp = await compareTopic(source, local, 'crash', 3);
    assert.deepEqual(cmp.differences, []);
    assert.ok(cmp.offsets >= prod.acked(), `every acknowledged source record is mirrored (${cmp.offsets} offsets, ${prod.acked()} acked)`);
    console.log(`# ${KILLS + 1} kill -9 cycles and one source outage: ${cmp.batches} batches / ${cmp.offsets} offsets identical`);
  } finally {
    await local.close();
  }
});

test('failover with the source down reports the loss window; the topic then takes writes at the next offset', async () => {
  await createTopic('fo', 3);
  // A small fetch size keeps this mirror behind the source, so a window is left when the source dies.
  await api('POST', '/v1/links', { name: 'slow', bootstrap: kafka.bootstrap, topics: { include: ['fo'] }, fetchPartitionMaxBytes: 1024, fetchMaxWaitMs: 50, metadataSyncIntervalMs: 300 });
  for (let i = 0; i < 300; i++) {
    await source.produce([0, 1, 2].map((p) => ({ topic: 'fo', partition: p, records: buildBatch({ records: Array.from({ length: 20 }, (_, j) => ({ value: `x${i}-${j}-${'y'.repeat(100)}` })) }) })), { acks: -1 });
  }
  // Wait until the fetcher has seen the source's end, then take the source away.
  for (let i = 0; i < 100; i++) {
    const d = await api('GET', '/v1/links/slow');
    if (d.mirrors[0]?.partitions.every((p: any) => p.sourceHighWatermark === 6000)) break;
    await sleep(100);
  }
  await kafka.stop();
  await assert.rejects(api('POST', '/v1/links/slow/promote', { timeoutMs: 2000 }), /50[34]/, 'promote needs the source');
  const report = await api('POST', '/v1/links/slow/failover', {});
  const t = report.topics[0];
  assert.equal(t.state, 'failed-over');
  const window = t.partitions.reduce((n: number, p: any) => n + (p.sourceEndOffsetLastSeen - p.endOffset), 0);
  assert.equal(t.lossWindowRecords, window);
  assert.ok(t.lossWindowRecords > 0, `the mirror was behind: ${JSON.stringify(t.partitions)}`);
  console.log(`# failover loss window: ${t.lossWindowRecords} records (${JSON.stringify(t.partitions)})`);
  const local = new KafkaClient({ bootstrap: strait.bootstrap });
  try {
    const [out] = await local.produce([{ topic: 'fo', partition: 1, records: buildBatch({ records: [{ value: 'after failover' }] }) }], { acks: -1 });
    assert.equal(out!.error, null);
    assert.equal(out!.baseOffset, t.partitions.find((p: any) => p.partition === 1).endOffset);
  } finally {
    await local.close();
    await kafka.start();
  }
});
