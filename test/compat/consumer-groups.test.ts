// Consumer groups with Apache Kafka's own Java client (VerifiableConsumer from Kafka 4.3.1), with the
// classic protocol and with the KIP-848 consumer protocol (group.protocol=consumer):
//   1. a producer fills a 6-partition topic while three members consume it;
//   2. one member is killed (kill -9, so only its session timeout tells the coordinator) and a new
//      member joins later: both force rebalances in the middle of the run;
//   3. every record must be consumed by someone (no gap in any partition) and the committed offsets
//      must reach the log end;
//   4. the members stop, more records are produced, the broker is killed (kill -9) and restarted, and
//      a new incarnation of the group must resume exactly at the committed offsets: it reads every
//      new record once and nothing it had already committed.
// Against Strait by default, or Apache Kafka 4.3.1 with STRAIT_TEST_TARGET=kafka (which runs the
// same steps, so the test itself is checked against Kafka). Needs scripts/install-test-deps.sh.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApacheKafka, startStrait, straitOnly, testTarget, uniqueTopic, withBrokerDiagnostics, runJava, type BrokerHandle, type KafkaHandle, type StraitHandle } from './harness.ts';
import { GroupMember, assertConsumedValues, atLogEnd, eventually, gaps, groupOffsets, javaMember, mergeRanges, produce, readLogValues } from './groups/members.ts';

const target = testTarget();
const partitions = 6;
const firstRecords = 12_000;
const firstThroughput = 1_000;
const laterRecords = 3_000;
// Coordinator settings shared by both brokers: quick failure detection and no initial delay.
const straitArgs = ['--log-level', process.env['STRAIT_TEST_LOG_LEVEL'] ?? 'info', '--group-initial-rebalance-delay-ms', '0', '--group-consumer-session-timeout-ms', '6000', '--group-consumer-heartbeat-interval-ms', '500'];
const kafkaConfig = { 'group.initial.rebalance.delay.ms': '0', 'group.consumer.session.timeout.ms': '6000', 'group.consumer.min.session.timeout.ms': '6000', 'group.consumer.heartbeat.interval.ms': '500', 'group.consumer.min.heartbeat.interval.ms': '500' };

interface Broker {
  handle: BrokerHandle;
  /** kill -9 and start again on the same data (Strait); Kafka is only killed and started again. */
  crashAndRestart(): Promise<void>;
  stop(): Promise<void>;
}

async function startTarget(): Promise<Broker> {
  if (target === 'kafka') {
    // Kafka keeps its data in a folder the harness deletes on stop: restart means "restart the group" only.
    const k: KafkaHandle = await startApacheKafka({ config: kafkaConfig });
    const crashAndRestart = async () => {
      straitOnly(target, 'the broker crash', "the harness's Kafka keeps no data across a restart; the group's next incarnation runs on the same broker");
    };
    return { handle: k, crashAndRestart, stop: () => k.stop() };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'strait-groups-'));
  let s: StraitHandle = await startStrait({ args: straitArgs, dataDir });
  const broker: Broker = {
    handle: s,
    async crashAndRestart() {
      await s.kill9();
      s = await startStrait({ args: straitArgs, dataDir });
      broker.handle = s;
    },
    stop: () => s.stop(),
  };
  return broker;
}

async function createTopic(bootstrap: string, topic: string): Promise<void> {
  const r = await runJava('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', bootstrap, '--create', '--topic', topic, '--partitions', String(partitions), '--replication-factor', '1'], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
}

async function scenario(protocol: 'classic' | 'consumer'): Promise<void> {
  const broker = await startTarget();
  const topic = uniqueTopic(`vc-${protocol}`);
  const groupId = uniqueTopic(`vg-${protocol}`);
  const members: GroupMember[] = [];
  // On failure: the last events of each member, and every event in a file to read at leisure.
  const describeAll = () => {
    const file = join(tmpdir(), `${groupId}-events.json`);
    writeFileSync(file, JSON.stringify(Object.fromEntries(members.map((m) => [m.name, m.events]))));
    writeFileSync(`${file}.broker.log`, broker.handle.output());
    return `${members.map((m) => m.diagnostics()).join('\n')}\n--- all events: ${file}\n--- broker:\n${broker.handle.output().slice(-4000)}`;
  };
  const member = (name: string) => {
    const m = javaMember(name, { bootstrap: broker.handle.bootstrap, topic, groupId, protocol, sessionTimeoutMs: 6000 });
    members.push(m);
    return m;
  };
  try {
    await withBrokerDiagnostics(broker.handle, async () => {
      await createTopic(broker.handle.bootstrap, topic);
      // 1. Produce for ~8 s while three members consume.
      const producing = produce(broker.handle.bootstrap, topic, firstRecords, firstThroughput, 90_000);
      const [a, b, c] = [member('a'), member('b'), member('c')];
      for (const m of [a, b, c]) await m.waitFor('an assignment', (e) => e.name === 'partitions_assigned' && e.partitions.length > 0, 45_000);
      await eventually('all three members to consume', async () => [a, b, c].every((m) => m.count() > 0), 30_000, describeAll);
      // 2. Kill one member outright (its partitions wait for its session timeout); later add one.
      await b.kill9();
      await new Promise((r) => setTimeout(r, 1500));
      const d = member('d');
      await d.waitFor('an assignment', (e) => e.name === 'partitions_assigned' && e.partitions.length > 0, 45_000);
      await producing;
      const { end } = await groupOffsets(broker.handle.bootstrap, groupId, topic, partitions);
      assert.equal(end.reduce((x, y) => x + y, 0), firstRecords);
      let lastCommitted: number[] = [];
      // 3. Everything consumed and committed; the live members share the partitions.
      await eventually(
        'committed offsets at the log end',
        async () => {
          const o = await groupOffsets(broker.handle.bootstrap, groupId, topic, partitions);
          lastCommitted = o.committed;
          return atLogEnd(o);
        },
        45_000,
        () => `committed ${lastCommitted.join(',')} end ${end.join(',')}\n${describeAll()}`,
      );
      const live = [a, c, d];
      await eventually('the live members to hold every partition once', async () => {
        const held = live.flatMap((m) => m.currentAssignment()).sort((x, y) => x - y);
        return held.join() === [...Array(partitions).keys()].join();
      }, 30_000, describeAll);
      assert.deepEqual(gaps(mergeRanges(members), end), [], 'every record was consumed by some member');
      assert.ok(assertConsumedValues(members, await readLogValues(broker.handle.bootstrap, topic, partitions), false) > 0, 'each record consumed has the value stored at its offset');
      for (const m of members) assert.deepEqual(m.failedCommits(), [], `${m.name} had failed commits\n${describeAll()}`);
      await Promise.all(live.map((m) => m.stop()));
    });

    // 4. More records, a broker crash, and the group's next incarnation.
    await produce(broker.handle.bootstrap, topic, laterRecords);
    const before = await groupOffsets(broker.handle.bootstrap, groupId, topic, partitions);
    await broker.crashAndRestart();
    await withBrokerDiagnostics(broker.handle, async () => {
      const after = await groupOffsets(broker.handle.bootstrap, groupId, topic, partitions);
      assert.deepEqual(after.committed, before.committed, 'committed offsets survived the crash');
      const next = [member('e'), member('f')];
      await eventually(
        'the next incarnation to commit the log end',
        async () => {
          return atLogEnd(await groupOffsets(broker.handle.bootstrap, groupId, topic, partitions));
        },
        45_000,
        describeAll,
      );
      const ranges = mergeRanges(next);
      for (let p = 0; p < partitions; p++) {
        const rs = (ranges.get(p) ?? []).sort((x, y) => x[0] - y[0]);
        const consumed = rs.reduce((n, [lo, hi]) => n + hi - lo + 1, 0);
        const from = Math.max(before.committed[p]!, 0);
        assert.equal(consumed, before.end[p]! - from, `p${p}: exactly the records after the committed offset, once`);
        if (rs.length > 0) assert.equal(rs[0]![0], from, `p${p} resumed at the committed offset`);
      }
      await Promise.all(next.map((m) => m.stop()));
    });
  } finally {
    await Promise.all(members.map((m) => m.kill9()));
    await broker.stop();
  }
}

describe(`Java consumer groups (VerifiableConsumer, Kafka ${'4.3.1'} client) against ${target}`, () => {
  test(`classic protocol: kill -9 a member, add a member, every record consumed, offsets resume after ${target === 'kafka' ? 'a restart of the group (no broker crash against Kafka)' : 'a broker crash'}`, { timeout: 150_000 }, async () => {
    await scenario('classic');
  });
  test('consumer protocol (KIP-848): the same run with group.protocol=consumer', { timeout: 150_000 }, async () => {
    await scenario('consumer');
  });
});
