// Transactions with Apache Kafka's own Java client (test/java/.../TxnClient.java) and tools:
//   - a scripted transactional producer (several partitions, sendOffsetsToTransaction, commit and
//     abort alternately, then a zombie fenced by a new instance): a read_committed consumer in assign
//     mode sees exactly the committed records, and the group's offsets are those of the last commit;
//   - consume-transform-produce (TxnClient copy): output == input exactly once, offsets follow, and
//     a second run copies nothing;
//   - Kafka's TransactionalMessageCopier (group mode, random aborts) over 900 records;
//   - the scripted sequence against Apache Kafka 4.3.1 and against Strait: the same read_committed
//     records at the same offsets, the same read_uncommitted offsets and the same committed offsets.
// Against Strait by default, or Apache Kafka 4.3.1 with STRAIT_TEST_TARGET=kafka (the comparison
// runs both). Needs scripts/install-test-deps.sh.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runJava, startApacheKafka, startStrait, testTarget, uniqueTopic, withBrokerDiagnostics, type BrokerHandle } from './harness.ts';
import { createTopics, groupOffsets, readTopic, txnClient } from './txn-client.ts';

const target = testTarget();
const partitions = 3;
const rounds = 6;

/** What a read_committed consumer must see after the script: even rounds and the fresh producer. */
function expectedScriptValues(partition: number): string[] {
  const out: string[] = [];
  for (let r = 0; r < rounds; r += 2) for (let k = 0; k < 3; k++) out.push(`r${r}-p${partition}-${k}`);
  out.push(`fresh-p${partition}`);
  return out;
}

/**
 * What the scripted sequence must produce on any broker: committed rounds seen by read_committed,
 * aborted ones (and the zombie's record) not, though read_uncommitted sees them, and the group's
 * offsets of the last committed round.
 */
function assertScriptOutcome(r: Awaited<ReturnType<typeof runScript>>, broker: string): void {
  assert.deepEqual(r.summary, { committed: rounds / 2, aborted: rounds / 2, zombieFenced: true }, `${broker}: the script's summary`);
  for (let p = 0; p < partitions; p++) {
    assert.deepEqual(r.committed.records.filter((x) => x.p === p).map((x) => x.v), expectedScriptValues(p), `${broker}: read_committed records of partition ${p}`);
    const uncommitted = r.uncommitted.records.filter((x) => x.p === p).map((x) => x.v);
    for (let round = 1; round < rounds; round += 2) assert.ok(uncommitted.includes(`r${round}-p${p}-0`), `${broker}: read_uncommitted sees aborted round ${round} in partition ${p}`);
    assert.ok(uncommitted.includes(`zombie-p${p}`), `${broker}: read_uncommitted sees the zombie's record in partition ${p}`);
  }
  assert.ok(!r.committed.records.some((x) => /^r\d*[13579]-|^zombie/.test(x.v)), `${broker}: read_committed sees no aborted record`);
  assert.ok(r.uncommitted.records.length > r.committed.records.length, `${broker}: aborted records are in the log`);
  assert.equal(Object.keys(r.offsets).length, partitions, `${broker}: committed offsets for every partition`);
}

async function runScript(bootstrap: string, topic: string, group: string, txnId: string) {
  await createTopics(bootstrap, [{ name: topic, partitions }]);
  const lines = await txnClient('script', { bootstrap, topic, partitions, group, 'txn-id': txnId, rounds });
  const committed = await readTopic(bootstrap, topic, partitions);
  const uncommitted = await readTopic(bootstrap, topic, partitions, 'read_uncommitted');
  const offsets = await groupOffsets(bootstrap, group);
  return { summary: lines[lines.length - 1], committed, uncommitted, offsets };
}

describe(`transactions with the Java client (${target})`, () => {
  let broker: BrokerHandle | undefined;
  const bootstrap = () => {
    assert.ok(broker, 'the broker did not start');
    return broker.bootstrap;
  };

  before(async () => {
    broker = target === 'kafka' ? await startApacheKafka() : await startStrait({ args: ['--upload-interval-ms', '200'] });
  });
  after(async () => {
    await broker?.stop();
  });

  test('scripted producer: commits and aborts alternate, a zombie is fenced; read_committed sees exactly the commits', async (t) => {
    const started = Date.now();
    await withBrokerDiagnostics(broker!, async () => {
      const topic = uniqueTopic('txn-script');
      const r = await runScript(bootstrap(), topic, `g-${topic}`, `tx-${topic}`);
      assert.deepEqual(r.summary, { committed: rounds / 2, aborted: rounds / 2, zombieFenced: true });
      for (let p = 0; p < partitions; p++) {
        const values = r.committed.records.filter((x) => x.p === p).map((x) => x.v);
        assert.deepEqual(values, expectedScriptValues(p), `partition ${p}`);
      }
      // Per partition and round: 3 records and a marker; the zombie's record and its abort marker;
      // the fresh producer's record and its commit marker.
      const perPartition = rounds * 4 + 2 + 2;
      assert.deepEqual(r.committed.end, Object.fromEntries([...Array(partitions).keys()].map((p) => [String(p), perPartition])), 'LSO = HW: nothing left open');
      const all = r.uncommitted.records.filter((x) => x.p === 0).map((x) => x.v);
      assert.ok(all.includes('r1-p0-0') && all.includes('zombie-p0'), 'read_uncommitted sees aborted records');
      const last = rounds - 2;
      assert.deepEqual(r.offsets, Object.fromEntries([...Array(partitions).keys()].map((p) => [`${topic}:${p}`, `${(last + 1) * 10 + p}/round-${last}`])));
      // Kafka's kafka-transactions.sh sees the same (ListTransactions, DescribeTransactions, DescribeProducers).
      const tool = async (...args: string[]) => {
        const out = await runJava('org.apache.kafka.tools.TransactionsCommand', ['--bootstrap-server', bootstrap(), ...args]);
        assert.equal(out.code, 0, out.stderr);
        return out.stdout;
      };
      assert.match(await tool('list'), new RegExp(`tx-${topic}\\s+\\d+\\s+\\d+\\s+CompleteCommit`));
      assert.match(await tool('describe', '--transactional-id', `tx-${topic}`), /CompleteCommit\s+60000/);
      assert.match(await tool('describe-producers', '--topic', topic, '--partition', '0'), /ProducerId\s+ProducerEpoch[^\n]*\n\d+\s+\d+/);
      assert.doesNotMatch(await tool('find-hanging', '--broker-id', '1'), new RegExp(topic), 'no hanging transaction');
    });
    t.diagnostic(`script, reads and offsets in ${Date.now() - started} ms`);
  });

  test('consume-transform-produce: output equals input exactly once, offsets follow, a second run copies nothing', async (t) => {
    const started = Date.now();
    await withBrokerDiagnostics(broker!, async () => {
      const input = uniqueTopic('txn-in');
      const output = uniqueTopic('txn-out');
      const group = `g-${input}`;
      await createTopics(bootstrap(), [
        { name: input, partitions },
        { name: output, partitions },
      ]);
      const count = 600;
      await txnClient('produce', { bootstrap: bootstrap(), topic: input, partitions, count });
      const copy = await txnClient('copy', { bootstrap: bootstrap(), input, output, partitions, group, 'txn-id': `tx-${input}`, batch: 25 });
      assert.deepEqual([copy.at(-1).done, copy.at(-1).copied], [true, count]);
      const again = await txnClient('copy', { bootstrap: bootstrap(), input, output, partitions, group, 'txn-id': `tx-${input}`, batch: 25 });
      assert.deepEqual([again.at(-1).done, again.at(-1).copied], [true, 0], 'the committed offsets say everything was copied');
      const out = await readTopic(bootstrap(), output, partitions);
      for (let p = 0; p < partitions; p++) {
        const want = [...Array(count).keys()].filter((i) => i % partitions === p).map((i) => `copy:v${i}`);
        assert.deepEqual(
          out.records.filter((x) => x.p === p).map((x) => x.v),
          want,
          `partition ${p}`,
        );
      }
      assert.deepEqual(await groupOffsets(bootstrap(), group), Object.fromEntries([...Array(partitions).keys()].map((p) => [`${input}:${p}`, `${count / partitions}/`])));
    });
    t.diagnostic(`600 records copied in ${Date.now() - started} ms (with produce and reads)`);
  });

  test("Kafka's TransactionalMessageCopier (group mode, random aborts): every record copied once", async (t) => {
    const started = Date.now();
    await withBrokerDiagnostics(broker!, async () => {
      const input = uniqueTopic('tmc-in');
      const output = uniqueTopic('tmc-out');
      const group = `g-${input}`;
      await createTopics(bootstrap(), [
        { name: input, partitions: 1 },
        { name: output, partitions },
      ]);
      const count = 900;
      await txnClient('produce', { bootstrap: bootstrap(), topic: input, partitions: 1, count });
      const r = await runJava(
        'org.apache.kafka.tools.TransactionalMessageCopier',
        ['--broker-list', bootstrap(), '--input-topic', input, '--input-partition', '0', '--output-topic', output, '--transactional-id', `tx-${input}`, '--consumer-group', group, '--transaction-size', '50', '--enable-random-aborts', '--group-mode', '--use-group-metadata'],
        { timeoutMs: 120_000 },
      );
      assert.equal(r.code, 0, `TransactionalMessageCopier failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
      assert.match(r.stdout, /"stage":"ShutdownComplete".*"totalProcessed":900/);
      const out = await readTopic(bootstrap(), output, partitions);
      const values = out.records.map((x) => x.v).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
      assert.deepEqual(values, [...Array(count).keys()].map((i) => `v${i}`), 'each input record once in the output');
      assert.deepEqual(await groupOffsets(bootstrap(), group), { [`${input}:0`]: `${count}/` });
    });
    t.diagnostic(`900 records in ${Date.now() - started} ms`);
  });
});

describe('the scripted transactional sequence: Apache Kafka 4.3.1 and Strait agree', () => {
  test('same read_committed records at the same offsets, same read_uncommitted offsets, same committed offsets', async (t) => {
    const started = Date.now();
    const topic = 'txn-compare';
    const kafka = await startApacheKafka();
    let onKafka: Awaited<ReturnType<typeof runScript>>;
    try {
      onKafka = await withBrokerDiagnostics(kafka, () => runScript(kafka.bootstrap, topic, 'g-compare', 'tx-compare'));
    } finally {
      await kafka.stop();
    }
    const strait = await startStrait({ args: ['--upload-interval-ms', '200'] });
    let onStrait: Awaited<ReturnType<typeof runScript>>;
    try {
      onStrait = await withBrokerDiagnostics(strait, () => runScript(strait.bootstrap, topic, 'g-compare', 'tx-compare'));
    } finally {
      await strait.stop();
    }
    // Kafka's own answers first: an empty or degenerate run there (nothing committed, aborted records
    // visible, no offsets) would make "Strait agrees" mean nothing.
    assertScriptOutcome(onKafka, 'Apache Kafka');
    assert.deepEqual(onStrait.summary, onKafka.summary);
    assert.deepEqual(onStrait.committed, onKafka.committed, 'read_committed: records, offsets, end offsets');
    assert.deepEqual(
      onStrait.uncommitted.records.map((x) => [x.p, x.o, x.v]),
      onKafka.uncommitted.records.map((x) => [x.p, x.o, x.v]),
      'read_uncommitted: aborted records at the same offsets too',
    );
    assert.deepEqual(onStrait.offsets, onKafka.offsets, 'committed offsets and metadata');
    t.diagnostic(`${onKafka.committed.records.length} committed records compared in ${Date.now() - started} ms`);
  });
});
