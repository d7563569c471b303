// Consumer groups of the other real clients: kafkajs (eager rebalances), franz-go (cooperative-sticky),
// confluent-kafka / librdkafka with the classic protocol (cooperative-sticky) and with the KIP-848
// consumer protocol. For each client, against one broker:
//   1. two members consume a 4-partition topic; a third joins (a rebalance); one is killed (kill -9,
//      a rebalance after its session timeout); records keep coming throughout;
//   2. every record is consumed by someone and the committed offsets reach the log end;
//   3. the members stop, more records arrive, and a new member resumes exactly at the committed
//      offsets: it reads each new record once and nothing that was committed.
// Against Strait by default, or Apache Kafka 4.3.1 with STRAIT_TEST_TARGET=kafka.
// Needs scripts/install-test-deps.sh.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { startApacheKafka, startStrait, testTarget, uniqueTopic, withBrokerDiagnostics, type BrokerHandle } from './harness.ts';
import { GroupMember, assertConsumedValues, atLogEnd, confluentMember, eventually, franzMember, gaps, groupOffsets, kafkajsMember, mergeRanges, readLogValues, type MemberOptions } from './groups/members.ts';

const { Kafka, logLevel } = kafkajs;
const target = testTarget();
const partitions = 4;
const straitArgs = ['--group-initial-rebalance-delay-ms', '0', '--group-consumer-session-timeout-ms', '6000', '--group-consumer-heartbeat-interval-ms', '500'];
const kafkaConfig = { 'group.consumer.session.timeout.ms': '6000', 'group.consumer.min.session.timeout.ms': '6000', 'group.consumer.heartbeat.interval.ms': '500', 'group.consumer.min.heartbeat.interval.ms': '500' };

type MakeMember = (name: string, opts: MemberOptions) => GroupMember;

const clients: { name: string; protocol: 'classic' | 'consumer'; make: MakeMember }[] = [
  { name: 'kafkajs', protocol: 'classic', make: kafkajsMember },
  { name: 'franz-go', protocol: 'classic', make: franzMember },
  { name: 'confluent-kafka', protocol: 'classic', make: confluentMember },
  { name: 'confluent-kafka (KIP-848)', protocol: 'consumer', make: confluentMember },
];

describe(`consumer groups of kafkajs, franz-go and confluent-kafka against ${target}`, () => {
  let broker: BrokerHandle;
  let producer: kafkajs.Producer;
  let admin: kafkajs.Admin;

  before(async () => {
    broker = target === 'kafka' ? await startApacheKafka({ config: kafkaConfig }) : await startStrait({ args: straitArgs });
    const kafka = new Kafka({ clientId: 'groups-setup', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    producer = kafka.producer();
    admin = kafka.admin();
    await Promise.all([producer.connect(), admin.connect()]);
  });
  after(async () => {
    await Promise.all([producer?.disconnect(), admin?.disconnect()]);
    await broker?.stop();
  });

  /** `count` records spread evenly over the partitions. */
  async function produce(topic: string, count: number): Promise<void> {
    const messages = [...Array(count).keys()].map((i) => ({ partition: i % partitions, key: `k${i}`, value: `v${i}` }));
    for (let i = 0; i < messages.length; i += 500) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 500) });
  }

  for (const client of clients) {
    test(`${client.name}: members added and killed, every record consumed, the next member resumes at the commits`, { timeout: 90_000 }, async (t) => {
      const started = Date.now();
      const phase = (what: string) => t.diagnostic(`${what} at +${Date.now() - started} ms`);
      const topic = uniqueTopic(`cg-${client.name.replace(/[^a-z0-9]+/gi, '-')}`);
      const groupId = uniqueTopic(`g-${client.name.replace(/[^a-z0-9]+/gi, '-')}`);
      const members: GroupMember[] = [];
      const member = (name: string) => {
        const m = client.make(name, { bootstrap: broker.bootstrap, topic, groupId, protocol: client.protocol, sessionTimeoutMs: 6000 });
        members.push(m);
        return m;
      };
      const describeAll = () => {
        const file = join(tmpdir(), `${groupId}-events.json`);
        writeFileSync(file, JSON.stringify(Object.fromEntries(members.map((m) => [m.name, m.events]))));
        return `${members.map((m) => m.diagnostics()).join('\n')}\n--- all events: ${file}\n--- broker:\n${broker.output().slice(-3000)}`;
      };
      const assigned = (m: GroupMember) => m.waitFor('an assignment', (e) => e.name === 'partitions_assigned' && e.partitions.length > 0, 45_000);
      try {
        await withBrokerDiagnostics(broker, async () => {
          await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
          const [a, b] = [member('a'), member('b')];
          await Promise.all([assigned(a), assigned(b)]);
          phase('two members assigned');
          await produce(topic, 2000);
          await eventually('the group to consume', async () => a.count() + b.count() > 0, 30_000, describeAll);
          // A third member joins while records arrive.
          const c = member('c');
          await produce(topic, 2000);
          await assigned(c);
          phase('third member assigned');
          // One member dies without leaving: its partitions move after its session timeout.
          await a.kill9();
          phase('member a killed');
          await produce(topic, 2000);
          const live = [b, c];
          let last = { end: [] as number[], committed: [] as number[] };
          await eventually(
            'committed offsets at the log end, the live members holding every partition',
            async () => {
              last = await groupOffsets(broker.bootstrap, groupId, topic, partitions);
              const held = live.flatMap((m) => m.currentAssignment()).sort((x, y) => x - y);
              return atLogEnd(last) && held.join() === [...Array(partitions).keys()].join();
            },
            45_000,
            () => `committed ${last.committed.join(',')} end ${last.end.join(',')}\n${describeAll()}`,
          );
          phase('all committed after the kill');
          assert.equal(last.end.reduce((x, y) => x + y, 0), 6000);
          assert.deepEqual(gaps(mergeRanges(members), last.end), [], 'every record was consumed by some member');
          // By value for the members that print their records (kafkajs, confluent-kafka), by count for franz-go.
          const checked = assertConsumedValues(members, await readLogValues(broker.bootstrap, topic, partitions), false);
          if (!client.name.startsWith('franz-go')) assert.ok(checked >= 6000, `${client.name}: ${checked} records checked by value`);
          await Promise.all(live.map((m) => m.stop()));
          phase('members stopped');
        });
        await produce(topic, 1000);
        const before = await groupOffsets(broker.bootstrap, groupId, topic, partitions);
        await withBrokerDiagnostics(broker, async () => {
          const next = member('next');
          await eventually('the next member to commit the log end', async () => atLogEnd(await groupOffsets(broker.bootstrap, groupId, topic, partitions)), 45_000, describeAll);
          const ranges = next.consumed();
          for (let p = 0; p < partitions; p++) {
            const rs = (ranges.get(p) ?? []).sort((x, y) => x[0] - y[0]);
            const from = Math.max(before.committed[p]!, 0);
            assert.equal(rs.reduce((n, [lo, hi]) => n + hi - lo + 1, 0), before.end[p]! - from, `p${p}: the new records once\n${describeAll()}`);
            assert.equal(rs[0]?.[0], from, `p${p} resumed at the committed offset`);
          }
          phase('next member resumed and committed');
          await next.stop();
        });
      } finally {
        await Promise.all(members.map((m) => m.kill9()));
      }
    });
  }
});
