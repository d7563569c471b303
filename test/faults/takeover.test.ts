// Takeover (issue #12): a broker keeps nothing of its own, so another broker process, with another
// node id and an empty data folder, pointed at the same PostgreSQL and bucket, can take over a dead
// one's partitions and serve every acknowledged record.
//
// Broker A (wal.kind=object, metadata.store=postgres, S3 on a real MinIO, a real PostgreSQL) takes
// writes from Apache Kafka's idempotent VerifiableProducer (acks=all) and serves a consumer group
// (VerifiableConsumer, classic protocol, committing offsets). A is then frozen with SIGSTOP — to
// everyone else it looks dead — and broker B starts: it claims every partition (leader epoch + 1),
// replays A's committed WAL objects and serves. The producer and the group go on through B (their
// bootstrap lists both brokers). Then A is let go with SIGCONT: its commits are fenced, so it
// acknowledges nothing more, and it stands down (NOT_LEADER_OR_FOLLOWER for produces and fetches,
// FindCoordinator and Metadata name B). At the end every acknowledged value is stored once, at the
// offset it was acknowledged with, and the group consumed all of them.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freePort, startMinio, startStrait, type MinioHandle, type StraitHandle } from '../compat/harness.ts';
import { startPostgres, type PostgresHandle } from '../helpers/postgres.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { buildBatch } from '../../src/protocol/records/index.ts';
import { createTopic, readTopic, s3Args, verify } from './crash-produce.ts';
import { writeIdempotentConfig } from './idempotent-kill.ts';
import { OpenEndedProducer } from './store-outage-kill.ts';
import { javaMember } from '../compat/groups/members.ts';

const TOPIC = 'takeover';
const PARTITIONS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let pg: PostgresHandle;
let minio: MinioHandle;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'strait-takeover-'));
  [pg, minio] = await Promise.all([startPostgres({ durable: true }), startMinio()]);
});

after(async () => {
  await Promise.allSettled([pg?.stop(), minio?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

/** Produce and Fetch answers of a broker for partition 0 of the topic. */
async function probe(port: number): Promise<{ produce: number; fetch: number; listOffsets: number; coordinator: number }> {
  const c = await RawClient.connect(port);
  try {
    const meta = await c.request(ApiKey.Metadata, 12, { topics: [{ name: TOPIC }] });
    const topicId = meta.topics[0].topicId;
    const produce = await c.request(ApiKey.Produce, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: TOPIC, partitionData: [{ index: 0, records: buildBatch({ records: [{ value: Buffer.from('zombie-write') }] }) }] }],
    });
    const fetch = await c.request(ApiKey.Fetch, 12, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic: TOPIC, topicId, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [],
      rackId: '',
    });
    const offsets = await c.request(ApiKey.ListOffsets, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }] });
    const coord = await c.request(ApiKey.FindCoordinator, 3, { key: 'g', keyType: 0 });
    return {
      produce: produce.responses[0].partitionResponses[0].errorCode,
      fetch: fetch.responses[0].partitions[0].errorCode,
      listOffsets: offsets.topics[0].partitions[0].errorCode,
      coordinator: coord.nodeId,
    };
  } finally {
    c.close();
  }
}

test('a second broker takes over a frozen one: producer and group go on, the old one acknowledges nothing more, nothing acknowledged is lost', { timeout: 300_000 }, async () => {
  const url = await pg.createDatabase('takeover');
  const shared = ['--metadata-store', 'postgres', '--metadata-postgres-url', url, '--wal-kind', 'object', ...(await s3Args(minio, 'takeover')), '--upload-interval-ms', '30000'];
  const groupArgs = ['--group-initial-rebalance-delay-ms', '0'];
  const portB = await freePort();
  let a: StraitHandle | null = await startStrait({ args: ['--node-id', '1', ...shared, ...groupArgs] });
  let b: StraitHandle | null = null;
  const bootstrap = `${a.bootstrap},127.0.0.1:${portB}`;
  const consumerConfig = join(work, 'consumer.properties');
  writeFileSync(consumerConfig, ['metadata.recovery.strategy=rebootstrap', 'metadata.recovery.rebootstrap.trigger.ms=5000', 'request.timeout.ms=5000', 'default.api.timeout.ms=10000', 'metadata.max.age.ms=2000', 'reconnect.backoff.max.ms=500', 'session.timeout.ms=6000', 'heartbeat.interval.ms=500'].join('\n') + '\n');
  let producer: OpenEndedProducer | null = null;
  const member = { current: null as ReturnType<typeof javaMember> | null };
  try {
    await createTopic(a.port, TOPIC, PARTITIONS);
    // A client learns brokers from Metadata, which A answered with itself alone (B did not exist
    // yet): like a client of any Kafka whose every known broker went away, it goes back to its
    // bootstrap list (KIP-899) to find B, here after 5 s instead of the default 5 min.
    const rebootstrap = ['metadata.recovery.strategy=rebootstrap', 'metadata.recovery.rebootstrap.trigger.ms=5000'];
    const producerConfig = writeIdempotentConfig(work);
    writeFileSync(producerConfig, readFileSync(producerConfig, 'utf8') + rebootstrap.join('\n') + '\n');
    producer = new OpenEndedProducer(bootstrap, TOPIC, producerConfig, 200, 1);
    member.current = javaMember('group-member', { bootstrap, topic: TOPIC, groupId: 'g', protocol: 'classic', extraArgs: ['--command-config', consumerConfig] });
    const waitAcks = async (n: number, what: string, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      while (producer!.acks.length < n) {
        assert.ok(Date.now() < deadline, `${what}: ${producer!.acks.length} of ${n} acknowledgements\n${producer!.output()}`);
        await sleep(100);
      }
    };
    await waitAcks(300, 'on A');
    await member.current.waitFor('a first commit', (e) => e.name === 'offsets_committed' && e.success, 60_000);

    // A freezes: it holds its connections, its PostgreSQL sessions and whatever it had in flight.
    process.kill(-a.proc.pid!, 'SIGSTOP');
    const ackedOnA = producer.acks.length;
    const eventsOnA = member.current.events.length;
    const started = Date.now();
    b = await startStrait({ port: portB, args: ['--node-id', '2', ...shared, ...groupArgs] });
    const serveMs = Date.now() - started;
    console.log(`takeover: broker B answered ${serveMs} ms after its start (A had acknowledged ${ackedOnA})`);
    assert.ok(serveMs < 15_000, `B took ${serveMs} ms to serve`);
    // What A acknowledged was not uploaded yet (upload.interval.ms=30 s): B served it from A's WAL objects.
    const replayed = /object WAL opened.*?"entries":(\d+)/.exec(b.output());
    assert.ok(replayed && Number(replayed[1]) > 0, `B replayed A's WAL objects:\n${b.output().slice(-3000)}`);
    console.log(`takeover: B replayed ${replayed[1]} WAL entries`);

    await waitAcks(ackedOnA + 300, 'on B after the takeover', 90_000);
    const consumedBefore = member.current.count();
    const deadline = Date.now() + 60_000;
    while (member.current.count() <= consumedBefore + 100) {
      assert.ok(Date.now() < deadline, `the group did not go on through B\n${member.current.diagnostics()}`);
      await sleep(200);
    }

    // A comes back: fenced, it stands down.
    process.kill(-a.proc.pid!, 'SIGCONT');
    const ackedAtResume = producer.acks.length;
    let answers = { produce: -1, fetch: -1, listOffsets: -1, coordinator: -1 };
    for (let i = 0; i < 50; i++) {
      answers = await probe(a.port);
      if (answers.produce === ErrorCode.NOT_LEADER_OR_FOLLOWER && answers.coordinator === 2) break;
      await sleep(200);
    }
    assert.deepEqual(
      answers,
      { produce: ErrorCode.NOT_LEADER_OR_FOLLOWER, fetch: ErrorCode.NOT_LEADER_OR_FOLLOWER, listOffsets: ErrorCode.NOT_LEADER_OR_FOLLOWER, coordinator: 2 },
      'A answers as a broker that stood down',
    );
    assert.equal(a.exitStatus(), null, 'A runs on (it stands down, it does not crash)');
    await waitAcks(ackedAtResume + 200, 'on B after A came back', 60_000);

    const exit = await producer.stop(60_000);
    assert.notEqual(exit, 'timeout', 'the producer closed');
    assert.deepEqual(producer.fatal, [], 'no fatal idempotence error');
    const stored = await readTopic(b.bootstrap, TOPIC, work);
    const v = verify(stored, producer.acks, PARTITIONS, 'takeover');
    console.log(`takeover: ${v.acked} acknowledged (${ackedOnA} by A), ${v.records} stored, ${v.unacknowledgedPresent} stored unacknowledged`);
    // The group: every acknowledged value was consumed (at least once), through A and then B.
    const deadline2 = Date.now() + 60_000;
    const acked = new Set(producer.acks.map((x) => x.value));
    for (;;) {
      const consumed = new Set(member.current.records().map((r) => r.value));
      const missing = [...acked].filter((x) => !consumed.has(x));
      if (missing.length === 0) break;
      assert.ok(Date.now() < deadline2, `the group never consumed ${missing.length} acknowledged values, e.g. ${missing.slice(0, 3).join(', ')}\n${member.current.diagnostics()}`);
      await sleep(300);
    }
    // Its offsets are committed through B (commits to the frozen A failed meanwhile, as they may).
    await member.current.waitFor('an offset commit through B', (e) => e.name === 'offsets_committed' && e.success, 30_000, eventsOnA);
  } finally {
    await member.current?.stop().catch(() => {});
    await producer?.stop(5_000).catch(() => {});
    if (a && a.proc.pid !== undefined) {
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
