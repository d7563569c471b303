// Runs every client's admin flow against Apache Kafka 4.3.1 and then against Strait, and
// requires the normalised summaries to match (cluster ids and broker ids aside). One broker
// runs at a time. Needs scripts/install-test-deps.sh to have run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { adminFlows, comparableSummary } from './flows.ts';
import type { FlowSummary } from './flow-summary.ts';
import { startApacheKafka, startStrait, uniqueTopic, withBrokerDiagnostics, type BrokerHandle } from './harness.ts';

const partitions = 3;
const flowTimeoutMs = 30_000;
const summaries = { kafka: new Map<string, FlowSummary>(), strait: new Map<string, FlowSummary>() };

function runAllFlows(name: keyof typeof summaries, start: () => Promise<BrokerHandle>): void {
  describe(name, () => {
    let broker: BrokerHandle | undefined;
    before(async () => {
      broker = await start();
    }, { timeout: 120_000 });
    after(async () => {
      await broker?.stop();
    });
    for (const flow of adminFlows) {
      test(flow.client, { timeout: flowTimeoutMs * 4 }, async (t) => {
        assert.ok(broker !== undefined, `${name} did not start`);
        const topic = uniqueTopic(`compare-${flow.client.replace(/[^a-z0-9]+/gi, '-')}`);
        const running = broker;
        const summary = await withBrokerDiagnostics(running, () =>
          flow.run({ bootstrap: running.bootstrap, topic, partitions, timeoutMs: flowTimeoutMs }),
        );
        assert.equal(summary.topic, topic);
        summaries[name].set(flow.client, summary);
        t.diagnostic(JSON.stringify(summary));
      });
    }
  });
}

describe('Apache Kafka and Strait answer every client alike', () => {
  runAllFlows('kafka', () => startApacheKafka());
  runAllFlows('strait', () => startStrait());

  describe('comparison', () => {
    for (const flow of adminFlows) {
      test(flow.client, () => {
        const fromKafka = summaries.kafka.get(flow.client);
        const fromStrait = summaries.strait.get(flow.client);
        assert.ok(fromKafka !== undefined, `no summary from Apache Kafka for ${flow.client} (its flow failed above)`);
        assert.ok(fromStrait !== undefined, `no summary from Strait for ${flow.client} (its flow failed above)`);
        // Guard against a vacuous comparison: Kafka's own answer must show a real topic.
        assert.equal(fromKafka.partitions.length, partitions);
        assert.deepEqual(comparableSummary(fromStrait), comparableSummary(fromKafka));
      });
    }
  });
});
