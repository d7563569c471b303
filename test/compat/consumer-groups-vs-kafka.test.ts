// The same consumer-group sequences against Apache Kafka 4.3.1 and Strait (both started here), and
// the answers compared step by step:
//   - a raw-protocol script (groups/script.ts): classic joins, rebalances, commits with and without
//     generations, offset deletion, listing, deletion, and a KIP-848 group, recording error codes,
//     generations, epochs, states and committed offsets;
//   - Kafka's own kafka-consumer-groups tool (ConsumerGroupCommand): offsets reset to an offset,
//     shifted, reset to the latest, described, deleted per topic, listed, and the group deleted.
// Needs scripts/install-test-deps.sh.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runJava, startApacheKafka, startStrait, withBrokerDiagnostics, type BrokerHandle } from './harness.ts';
import { runGroupScript, type Transcript } from './groups/script.ts';
import { produce } from './groups/members.ts';

const TOOL = 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand';

/** Rows of `--describe --offsets` as [topic, partition, current offset, log end offset, lag]. */
function offsetRows(stdout: string): string[][] {
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 6 && f[0] === 'tool-group' && /^\d+$/.test(f[2]!))
    .map((f) => [f[1]!, f[2]!, f[3]!, f[4]!, f[5]!]);
}

/** Rows of `--reset-offsets` output as [topic, partition, new offset]. */
function resetRows(stdout: string): string[][] {
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 4 && f[0] === 'tool-group' && /^\d+$/.test(f[2]!))
    .map((f) => [f[1]!, f[2]!, f[3]!]);
}

async function toolSequence(broker: BrokerHandle): Promise<Transcript> {
  const out: Transcript = [];
  const tool = async (...args: string[]) => {
    const r = await runJava(TOOL, ['--bootstrap-server', broker.bootstrap, ...args], { timeoutMs: 60_000 });
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  };
  const topicArgs = ['--topic', 'tool-topic'];
  const created = await runJava('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', broker.bootstrap, '--create', '--topic', 'tool-topic', '--partitions', '3', '--replication-factor', '1'], { timeoutMs: 60_000 });
  assert.equal(created.code, 0, created.stderr);
  await produce(broker.bootstrap, 'tool-topic', 300);
  const toOffset = await tool('--group', 'tool-group', ...topicArgs, '--reset-offsets', '--to-offset', '40', '--execute');
  out.push(['reset to offset 40', [toOffset.code, resetRows(toOffset.stdout)]]);
  const shifted = await tool('--group', 'tool-group', ...topicArgs, '--reset-offsets', '--shift-by', '-15', '--execute');
  out.push(['shift by -15', [shifted.code, resetRows(shifted.stdout)]]);
  const latest = await tool('--group', 'tool-group', '--topic', 'tool-topic:1', '--reset-offsets', '--to-latest', '--execute');
  out.push(['partition 1 to latest', [latest.code, resetRows(latest.stdout)]]);
  const described = await tool('--group', 'tool-group', '--describe', '--offsets');
  const rows = offsetRows(described.stdout).sort();
  out.push(['describe offsets', [described.code, rows.map((r) => [r[0], r[1], r[2], r[4]])]]);
  const state = await tool('--group', 'tool-group', '--describe', '--state');
  out.push(['describe state', [state.code, /\bEmpty\b/.test(state.stdout)]]);
  const listed = await tool('--list');
  out.push(['list', [listed.code, listed.stdout.split('\n').map((l) => l.trim()).filter((l) => l === 'tool-group')]]);
  const deletedOffsets = await tool('--group', 'tool-group', '--delete-offsets', '--topic', 'tool-topic:2');
  out.push(['delete offsets of partition 2', [deletedOffsets.code, /tool-topic\s+2\s+Successful/.test(deletedOffsets.stdout)]]);
  const after = await tool('--group', 'tool-group', '--describe', '--offsets');
  out.push(['describe after delete-offsets', [after.code, offsetRows(after.stdout).map((r) => [r[0], r[1], r[2]]).sort()]]);
  const deleted = await tool('--group', 'tool-group', '--delete');
  out.push(['delete group', [deleted.code, /successful/i.test(deleted.stdout)]]);
  const gone = await tool('--group', 'tool-group', '--describe', '--offsets');
  out.push(['describe deleted group', [gone.code, offsetRows(gone.stdout)]]);
  return out;
}

describe('consumer groups: Apache Kafka 4.3.1 and Strait answer the same sequences alike', () => {
  let kafka: BrokerHandle;
  let strait: BrokerHandle;
  const transcripts = { kafka: new Map<string, Transcript>(), strait: new Map<string, Transcript>() };

  before(async () => {
    [kafka, strait] = await Promise.all([startApacheKafka(), startStrait({ args: ['--group-initial-rebalance-delay-ms', '0'] })]);
  }, { timeout: 120_000 });
  after(async () => {
    await Promise.all([kafka?.stop(), strait?.stop()]);
  });

  test('raw protocol script: the same answers at every step', { timeout: 120_000 }, async (t) => {
    const port = (b: BrokerHandle) => Number(b.bootstrap.split(':')[1]);
    const [fromKafka, fromStrait] = await Promise.all([
      withBrokerDiagnostics(kafka, () => runGroupScript(port(kafka))),
      withBrokerDiagnostics(strait, () => runGroupScript(port(strait))),
    ]);
    t.diagnostic(`${fromKafka.length} steps`);
    // Guard against a vacuous comparison: Kafka's answers must show a working group.
    assert.deepEqual(fromKafka.find(([s]) => s === 'A join')?.[1], { error: 0, generation: 1, leader: 'A', member: 'A', members: ['A'], protocol: 'range', type: 'consumer' });
    for (let i = 0; i < fromKafka.length; i++) assert.deepEqual(fromStrait[i], fromKafka[i], `step ${i}: ${fromKafka[i]![0]}`);
    assert.equal(fromStrait.length, fromKafka.length);
  });

  test('kafka-consumer-groups: resets, describe, delete-offsets, list and delete give the same results', { timeout: 180_000 }, async () => {
    const [fromKafka, fromStrait] = await Promise.all([withBrokerDiagnostics(kafka, () => toolSequence(kafka)), withBrokerDiagnostics(strait, () => toolSequence(strait))]);
    assert.deepEqual(fromKafka[0]![1], [0, [['tool-topic', '0', '40'], ['tool-topic', '1', '40'], ['tool-topic', '2', '40']]], 'Kafka reset the offsets');
    for (let i = 0; i < fromKafka.length; i++) assert.deepEqual(fromStrait[i], fromKafka[i], `step ${i}: ${fromKafka[i]![0]}`);
  });
});
