// Rollback through the link, as an operator runs it, against a real Apache Kafka 4.3.1: `strait link
// create`, `promote`, then `strait link reverse` while a live idempotent VerifiableProducer writes to
// Strait and Strait is killed -9 (twice; STRAIT_TEST_REVERSE_KILLS sets how often); `reverse --wait-ms`
// returns once the copy has caught up. Then every record written on Strait sits on Kafka at the same
// offset, the VerifiableConsumer group that read part of the topic on Strait continues on Kafka with
// nothing lost or read twice, and /metrics shows the copy caught up.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot, runCommand, startStrait, type StraitHandle } from '../compat/harness.ts';
import { eventually, javaMember, produce, type GroupMember } from '../compat/groups/members.ts';
import { ApiKey, KafkaClient } from '../../src/link/client/index.ts';
import { readBatchRecords } from '../../src/protocol/records/index.ts';
import type { LinkDescription } from '../../src/link/service.ts';
import { startKafkaNode, type KafkaNode } from './kafka-node.ts';
import { readBatchFacts } from './compare.ts';
import { acknowledged, assertHandedOver, consumedCount, logValues, verifiableProducer } from './clients.ts';
import { readTopic } from '../compat/txn-client.ts';
import { verify } from '../faults/crash-produce.ts';
import { writeIdempotentConfig } from '../faults/idempotent-kill.ts';

const TOPIC = 'rollback-cli';
const N = 3;
const KILLS = Number(process.env.STRAIT_TEST_REVERSE_KILLS ?? 2);
/** Records the producer on Strait writes at 400/s: enough to outlast the kills (about 3 s each). */
const RECORDS = 400 * (3 + KILLS * 3);
const STRAIT_ARGS = ['--set', 'upload.interval.ms=300'];

let kafka: KafkaNode;
let strait: StraitHandle;
let source: KafkaClient;
const procs: GroupMember[] = [];
const workDir = mkdtempSync(join(tmpdir(), 'strait-reverse-link-'));

before(async () => {
  [kafka, strait] = await Promise.all([startKafkaNode({ 'auto.create.topics.enable': 'false' }), startStrait({ args: STRAIT_ARGS })]);
  source = new KafkaClient({ bootstrap: kafka.bootstrap });
});

after(async () => {
  for (const p of procs) await p.kill9();
  await source?.close();
  await strait?.stop();
  await kafka?.destroy();
  rmSync(workDir, { recursive: true, force: true });
});

/** `strait link ARGS… --admin <this broker>`; answers the exit code and output. */
async function link(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await runCommand(process.execPath, [join(repoRoot, 'src', 'cli', 'main.ts'), 'link', ...args, '--admin', strait.adminUrl], { timeoutMs: 120_000 });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

async function describe(): Promise<LinkDescription> {
  const r = await link('describe', 'east', '--json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as LinkDescription;
}

async function endOffsets(client: KafkaClient): Promise<number[]> {
  const l = await client.listOffsets(Array.from({ length: N }, (_, p) => ({ topic: TOPIC, partition: p, spec: 'latest' as const })));
  return l.map((x) => {
    if (x.error) throw x.error;
    return x.offset;
  });
}

test(`strait link reverse copies a promoted topic back to Kafka at the same offsets through ${KILLS} kill -9 of Strait; the group moves back`, async () => {
  const { response } = await source.sendRequest<any>('controller', ApiKey.CreateTopics, () => ({
    topics: [{ name: TOPIC, numPartitions: N, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 30_000,
    validateOnly: false,
  }));
  assert.equal(response.topics[0].errorCode, 0);
  await produce(kafka.bootstrap, TOPIC, 600);

  const created = await link('create', 'east', '--bootstrap', kafka.bootstrap, '--include', TOPIC, '--group-include', 'movers', '--set', 'metadataSyncIntervalMs=300', '--set', 'groupSyncIntervalMs=300');
  assert.equal(created.code, 0, created.stderr);
  const kafkaEnds = await endOffsets(source);
  await eventually('mirrored', async () => (await describe()).mirrors[0]?.partitions.every((p) => p.mirroredEndOffset === kafkaEnds[p.partition]), 60_000);
  const early = await link('reverse', 'east');
  assert.equal(early.code, 1, 'nothing promoted yet');
  assert.match(early.stderr, /STRAIT_MIRROR_STATE/);
  const promoted = await link('promote', 'east', '--json');
  assert.equal(promoted.code, 0, promoted.stderr);
  const fromOffsets = (JSON.parse(promoted.stdout).topics[0].partitions as { partition: number; endOffset: number }[]).map((p) => p.endOffset);
  assert.deepEqual(fromOffsets, kafkaEnds);

  // Clients on Strait now: a live idempotent producer (ids from Strait), and the copy back starts.
  const straitBootstrap = () => `127.0.0.1:${strait.port}`;
  const producer = verifiableProducer('on-strait', straitBootstrap(), TOPIC, RECORDS, 400, 7, writeIdempotentConfig(workDir));
  procs.push(producer);
  await producer.waitFor('first acks', (e) => e.name === 'producer_send_success', 30_000);
  const started = await link('reverse', 'east');
  assert.equal(started.code, 0, started.stderr);
  assert.match(started.stdout, /^rollback-cli:\n  copy back to the source: running/);

  // Strait dies twice while both the producer and the copy run; the copy resumes from the promotion
  // point, adopting what it finds already on Kafka.
  for (let k = 0; k < KILLS; k++) {
    await sleep(1500);
    await strait.kill9();
    strait = await startStrait({ dataDir: strait.dataDir, port: strait.port, httpPort: strait.httpPort, args: STRAIT_ARGS });
  }
  await producer.waitFor('producer done', (e) => e.name === 'shutdown_complete', 90_000);
  const acked = producer.events.filter((e) => e.name === 'producer_send_success').length;
  assert.equal(acked, RECORDS, 'every record acknowledged');

  // A group reads part of the topic on Strait (from the start) and commits.
  const onStrait = javaMember('movers-on-strait', { bootstrap: straitBootstrap(), topic: TOPIC, groupId: 'movers', protocol: 'classic', maxMessages: 1200 });
  procs.push(onStrait);
  await onStrait.waitFor('shutdown', (e) => e.name === 'shutdown_complete', 60_000);
  assert.equal(consumedCount(onStrait), 1200);

  const waited = await link('reverse', 'east', '--wait-ms', '90000', '--json');
  assert.equal(waited.code, 0, waited.stderr);
  const local = new KafkaClient({ bootstrap: straitBootstrap() });
  const straitEnds = await endOffsets(local);
  // Strait's log, value by value: below the promotion point the 600 values written on Kafka ("0" to
  // "599") once each; above it each value the producer on Strait had acknowledged exactly once at its
  // acknowledged offset, and nothing it had not (verify() of crash-produce.ts: also offsets 0, 1, 2, …
  // per partition and send order kept).
  const { records: stored } = await readTopic(straitBootstrap(), TOPIC, N, 'read_uncommitted');
  const acks = acknowledged(producer);
  // The values written on Kafka carry no run prefix: named "source.N" for verify()'s send-order check.
  const v = verify(stored.map((r) => ({ partition: r.p, offset: r.o, value: r.o < fromOffsets[r.p]! ? `source.${r.v}` : r.v })), acks, N, 'Strait after the kills');
  const before = stored.filter((r) => r.o < fromOffsets[r.p]!).map((r) => Number(r.v)).sort((a, b) => a - b);
  assert.deepEqual(before, [...Array(600).keys()], 'below the promotion point: the values written on Kafka, once each');
  assert.equal(v.unacknowledgedPresent, 600, 'above the promotion point: only acknowledged values');
  assert.equal(stored.length, 600 + RECORDS, 'Strait holds every record once');
  assert.deepEqual(straitEnds, [...Array(N).keys()].map((p) => stored.filter((r) => r.p === p).length), 'end offsets match the records read');
  const status = JSON.parse(waited.stdout).topics[0].status;
  assert.equal(status.offsetsIdentical, true);
  assert.deepEqual(status.partitions.map((p: any) => [p.nextOffset, p.kafkaNextOffset, p.lagRecords, p.error]), straitEnds.map((e) => [e, e, 0, null]));
  assert.deepEqual(await endOffsets(source), straitEnds, 'Kafka ends where Strait ends');

  // Batch by batch past the promotion point: the same offsets and the same records on both sides.
  try {
    for (let p = 0; p < N; p++) {
      const [k, s] = await Promise.all([readBatchFacts(source, TOPIC, p), readBatchFacts(local, TOPIC, p)]);
      const records = (f: typeof k) =>
        f.bytes.flatMap((b) => readBatchRecords(b).records.map((r) => `${r.offset}:${r.key?.toString()}:${r.value?.toString()}`)).filter((x) => Number(x.split(':')[0]) >= fromOffsets[p]!);
      const [kr, sr] = [records(k), records(s)];
      assert.equal(sr.length, straitEnds[p]! - fromOffsets[p]!, `p${p}: Strait's records since promotion`);
      assert.deepEqual(kr, sr, `p${p}: Kafka holds Strait's records at Strait's offsets`);
    }
  } finally {
    await local.close();
  }

  // Group offsets come back as they are; the group continues on Kafka: nothing lost or read twice.
  await eventually('group offsets copied', async () => (await describe()).mirrors[0]?.reverse?.groups.find((g) => g.groupId === 'movers')?.state === 'synced', 20_000);
  const total = straitEnds.reduce((a, b) => a + b, 0);
  const onKafka = javaMember('movers-on-kafka', { bootstrap: kafka.bootstrap, topic: TOPIC, groupId: 'movers', protocol: 'classic', maxMessages: total - 1200 });
  procs.push(onKafka);
  await onKafka.waitFor('shutdown', (e) => e.name === 'shutdown_complete', 60_000);
  assert.equal(consumedCount(onKafka), total - 1200);
  assertHandedOver([onStrait], [onKafka], straitEnds, logValues(stored));

  const metrics = await (await fetch(`${strait.adminUrl}/metrics`)).text();
  for (let p = 0; p < N; p++) assert.match(metrics, new RegExp(`strait_reverse_lag_records\\{link="east",topic="${TOPIC}",partition="${p}"\\} 0\\n`));
  assert.match(metrics, new RegExp(`strait_reverse_offsets_identical\\{link="east",topic="${TOPIC}"\\} 1\\n`));

  const stopped = await link('reverse', 'east', '--stop');
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.equal(stopped.stdout, `${TOPIC}: no longer copied back to the source\n`);
  assert.equal((await describe()).mirrors[0]?.reversing, false);
});
