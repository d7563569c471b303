// Each real client's admin flow against one broker: Strait by default, or Apache Kafka with
// STRAIT_TEST_TARGET=kafka (to check the clients and this test itself). Needs
// scripts/install-test-deps.sh to have run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { adminFlows, assertAdminFlow } from './flows.ts';
import type { FlowSummary } from './flow-summary.ts';
import { startBroker, testTarget, uniqueTopic, withBrokerDiagnostics, type BrokerHandle } from './harness.ts';

const target = testTarget();
const partitions = 3;
const flowTimeoutMs = 30_000;

describe(`admin flow of every client against ${target}`, () => {
  let broker: BrokerHandle | undefined;
  const summaries: FlowSummary[] = [];

  before(async () => {
    broker = await startBroker(target);
  }, { timeout: 120_000 });

  after(async () => {
    await broker?.stop();
  });

  for (const flow of adminFlows) {
    test(flow.client, { timeout: flowTimeoutMs * 4 }, async (t) => {
      assert.ok(broker !== undefined, 'broker did not start');
      const topic = uniqueTopic(`compat-${flow.client.replace(/[^a-z0-9]+/gi, '-')}`);
      const running = broker;
      const summary = await withBrokerDiagnostics(running, () =>
        flow.run({ bootstrap: running.bootstrap, topic, partitions, timeoutMs: flowTimeoutMs }),
      );
      assertAdminFlow(flow, summary, topic, partitions);
      summaries.push(summary);
      t.diagnostic(JSON.stringify(summary));
    });
  }

  test('all clients see the same cluster', () => {
    assert.equal(summaries.length, adminFlows.length, 'every client flow passed');
    const clusterIds = new Set(summaries.flatMap((s) => (s.clusterId === null ? [] : [s.clusterId])));
    assert.equal(clusterIds.size, 1, `one cluster id across clients, got ${JSON.stringify([...clusterIds])}`);
    const brokerLists = new Set(summaries.map((s) => JSON.stringify(s.brokers)));
    assert.equal(brokerLists.size, 1, `one broker list across clients, got ${JSON.stringify([...brokerLists])}`);
  });
});
