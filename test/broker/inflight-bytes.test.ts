// Bounded in-flight request bytes in a real broker, with a raw client pipelining large JoinGroup
// requests (256 KiB of member metadata each) that the group coordinator parks for
// group.initial.rebalance.delay.ms: while they are parked, the broker's request bytes in flight
// (strait_request_bytes_inflight on /metrics) stay at the bound, and every request is answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const metadataBytes = 256 * KiB;

async function inflightBytes(adminUrl: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const m = /^strait_request_bytes_inflight (\d+)$/m.exec(text);
  assert.ok(m, 'strait_request_bytes_inflight is on /metrics');
  return Number(m[1]);
}

function join(c: RawClient, group: string): Promise<{ errorCode: number }> {
  return c.request(ApiKey.JoinGroup, 3, {
    groupId: group,
    sessionTimeoutMs: 30_000,
    rebalanceTimeoutMs: 30_000,
    memberId: '',
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.alloc(metadataBytes, 1) }],
  });
}

const cases = [
  { name: 'per connection', settings: { 'queued.max.request.bytes.per.connection': String(1 * MiB), 'queued.max.request.bytes': '-1' }, connections: 1, perConnection: 8 },
  { name: 'for the whole broker', settings: { 'queued.max.request.bytes.per.connection': '-1', 'queued.max.request.bytes': String(1 * MiB) }, connections: 2, perConnection: 4 },
];

for (const k of cases) {
  test(`request bytes in flight are bounded ${k.name}: large pipelined requests wait unread, then are all answered`, async () => {
    const b = await startTestBroker({ ...k.settings, 'group.initial.rebalance.delay.ms': '2000' });
    const clients: RawClient[] = [];
    try {
      const adminUrl = b.broker.http!.url;
      const answers: Promise<{ errorCode: number }>[] = [];
      for (let i = 0; i < k.connections; i++) {
        const c = await RawClient.connect(b.port);
        clients.push(c);
        for (let j = 0; j < k.perConnection; j++) answers.push(join(c, `inflight-${i}-${j}`));
      }
      let peak = 0;
      let settled = 0;
      for (const a of answers) void a.then(() => settled++, () => settled++);
      const sampleUntil = Date.now() + 1500;
      while (Date.now() < sampleUntil) {
        peak = Math.max(peak, await inflightBytes(adminUrl));
        await new Promise((r) => setTimeout(r, 50));
      }
      const total = answers.length * metadataBytes;
      // The premise: more was sent than the bound (else nothing needed holding back).
      assert.ok(total > 1 * MiB + metadataBytes);
      assert.ok(peak >= 1 * MiB - 4 * KiB, `the bound was reached (peak ${peak} bytes)`);
      assert.ok(peak < 1 * MiB + metadataBytes + 4 * KiB, `at most the bound plus one request in flight (peak ${peak} of ${total} bytes sent)`);
      assert.equal(settled, 0, 'the parked requests are not answered before the rebalance delay');
      const results = await Promise.all(answers);
      assert.deepEqual(results.map((r) => r.errorCode), results.map(() => 0), 'every request was answered without error');
      assert.equal(await inflightBytes(adminUrl), 0, 'nothing in flight once all are answered');
    } finally {
      for (const c of clients) c.close();
      await b.stop();
    }
  });
}
