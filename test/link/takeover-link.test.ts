// A link resumes on the broker that took over (issue #12): broker A mirrors a topic from a real
// Apache Kafka 4.3.1 with the object WAL on MinIO and metadata on PostgreSQL; A is frozen (SIGSTOP),
// broker B (another node id, an empty data folder) takes its partitions over and resumes the link
// from metadata exactly where the mirror ended, while the source keeps taking writes. A is then let
// go: its fenced mirror writes are refused and it stands down. In the end the mirror on B equals
// the source batch for batch.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startMinio, startStrait, type MinioHandle, type StraitHandle } from '../compat/harness.ts';
import { startPostgres, type PostgresHandle } from '../helpers/postgres.ts';
import { startKafkaNode, type KafkaNode } from './kafka-node.ts';
import { ApiKey, KafkaClient } from '../../src/link/client/index.ts';
import { buildBatch } from '../../src/protocol/records/index.ts';
import { s3Args } from '../faults/crash-produce.ts';
import { compareTopic } from './compare.ts';

let kafka: KafkaNode;
let pg: PostgresHandle;
let minio: MinioHandle;
let source: KafkaClient;

before(async () => {
  [kafka, pg, minio] = await Promise.all([startKafkaNode(), startPostgres(), startMinio()]);
  source = new KafkaClient({ bootstrap: kafka.bootstrap, retriesMax: 3, apiTimeoutMs: 10_000 });
});

after(async () => {
  await source?.close();
  await Promise.allSettled([kafka?.destroy(), pg?.stop(), minio?.stop()]);
});

async function api(broker: StraitHandle, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${broker.adminUrl}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function produce(rounds: number, tag: string): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const out = await source.produce(
      [0, 1].map((p) => ({ topic: 'm', partition: p, records: buildBatch({ records: Array.from({ length: 20 }, (_, j) => ({ key: `k${j}`, value: `${tag}-${i}-${p}-${j}` })) }) })),
      { acks: -1, timeoutMs: 10_000 },
    );
    assert.deepEqual(out.map((o) => o.error), [null, null]);
  }
}

async function mirroredEnd(broker: StraitHandle): Promise<number[] | null> {
  const d = await api(broker, 'GET', '/v1/links/l');
  const m = d.mirrors.find((x: any) => x.topic === 'm');
  return m ? m.partitions.map((p: any) => p.mirroredEndOffset) : null;
}

async function waitCaughtUp(broker: StraitHandle, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const latest = (await source.listOffsets([0, 1].map((p) => ({ topic: 'm', partition: p, spec: 'latest' as const })))).map((l) => l.offset);
    const ends = await mirroredEnd(broker).catch(() => null);
    if (ends && JSON.stringify(ends) === JSON.stringify(latest)) return;
    if (Date.now() > deadline) assert.fail(`the mirror did not catch up: ${JSON.stringify(ends)} vs ${JSON.stringify(latest)}`);
    await sleep(200);
  }
}

test('a link resumes on the broker that took over, where the mirror ended; the frozen one is fenced', { timeout: 240_000 }, async () => {
  const { response } = await source.sendRequest<any>('controller', ApiKey.CreateTopics, () => ({
    topics: [{ name: 'm', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 30_000,
    validateOnly: false,
  }));
  assert.equal(response.topics[0].errorCode, 0);
  await source.metadata({ topics: ['m'] });
  const url = await pg.createDatabase('takeover_link');
  const shared = ['--metadata-store', 'postgres', '--metadata-postgres-url', url, '--wal-kind', 'object', ...(await s3Args(minio, 'takeover-link')), '--upload-interval-ms', '30000'];
  let a: StraitHandle | null = await startStrait({ args: ['--node-id', '1', ...shared] });
  let b: StraitHandle | null = null;
  try {
    await api(a, 'POST', '/v1/links', { name: 'l', bootstrap: kafka.bootstrap, topics: { include: ['m'] }, metadataSyncIntervalMs: 300 });
    await produce(50, 'before');
    await waitCaughtUp(a);
    const endOnA = await mirroredEnd(a);
    process.kill(-a.proc.pid!, 'SIGSTOP');
    await produce(50, 'during');
    b = await startStrait({ port: await freePort(), args: ['--node-id', '2', ...shared] });
    await waitCaughtUp(b);
    process.kill(-a.proc.pid!, 'SIGCONT');
    await produce(50, 'after');
    await waitCaughtUp(b);
    // A stands down (its fenced commits, or its leadership check, showed B leads everything).
    const deadline = Date.now() + 15_000;
    while (!/standing down/.test(a.output())) {
      assert.ok(Date.now() < deadline, `A did not stand down:\n${a.output().slice(-3000)}`);
      await sleep(200);
    }
    assert.equal(a.exitStatus(), null, 'A stands down without crashing');
    const local = new KafkaClient({ bootstrap: b.bootstrap });
    try {
      const cmp = await compareTopic(source, local, 'm', 2);
      assert.deepEqual(cmp.differences, []);
      assert.equal(cmp.offsets, 150 * 2 * 20, 'every source record is mirrored once');
      console.log(`# link takeover: mirror ended at ${JSON.stringify(endOnA)} on A; B resumed there: ${cmp.batches} batches / ${cmp.offsets} offsets identical to the source`);
    } finally {
      await local.close();
    }
  } finally {
    if (a?.proc.pid !== undefined) {
      try {
        process.kill(-a.proc.pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
    await a?.stop().catch(() => a?.kill9());
    await b?.stop().catch(() => b?.kill9());
    a = null;
    b = null;
  }
});
