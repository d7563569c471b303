// The reverse copy's produces share requests: one batch per partition per request, answers back to
// the right partition, failures to every partition of the failed request, a bounded number out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProduceBatcher } from '../../src/link/produce-batcher.ts';
import type { ProducedPartition, ProducePartitionRequest } from '../../src/link/client/index.ts';

const answer = (r: ProducePartitionRequest, baseOffset: number): ProducedPartition => ({ topic: r.topic, partition: r.partition, error: null, baseOffset, logAppendTimeMs: -1, logStartOffset: 0, recordErrors: [] });
const request = (partition: number): ProducePartitionRequest => ({ topic: 't', partition, records: Buffer.from([partition]) });

test('produces queued in the same turn go in one request; each caller gets its own partition\'s answer', async () => {
  const sent: number[][] = [];
  const b = new ProduceBatcher(async (reqs) => {
    sent.push(reqs.map((r) => r.partition));
    return reqs.map((r) => answer(r, r.partition * 100));
  });
  const outs = await Promise.all([0, 1, 2, 3].map((p) => b.produce(request(p))));
  assert.deepEqual(sent, [[0, 1, 2, 3]]);
  assert.deepEqual(outs.map((o) => [o.partition, o.baseOffset]), [[0, 0], [1, 100], [2, 200], [3, 300]]);
});

test('while requests are out, new produces wait and then go together; at most inFlightMax requests are out', async () => {
  const sent: number[][] = [];
  let out = 0;
  let outMax = 0;
  const gates: (() => void)[] = [];
  const b = new ProduceBatcher(async (reqs) => {
    sent.push(reqs.map((r) => r.partition));
    outMax = Math.max(outMax, ++out);
    await new Promise<void>((resolve) => gates.push(resolve));
    out--;
    return reqs.map((r) => answer(r, 0));
  }, 1);
  const first = b.produce(request(0));
  await new Promise((r) => setImmediate(r));
  const later = [1, 2, 3].map((p) => b.produce(request(p)));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(sent, [[0]], 'the others wait for the request out');
  gates.shift()!();
  await first;
  // The next request leaves on a later turn of the event loop, once the first is settled.
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(sent, [[0], [1, 2, 3]]);
  gates.shift()!();
  await Promise.all(later);
  assert.equal(outMax, 1);
});

test('a request that fails rejects every produce in it, and later produces still go', async () => {
  let calls = 0;
  const b = new ProduceBatcher(async (reqs) => {
    if (++calls === 1) throw new Error('connection lost');
    return reqs.map((r) => answer(r, 7));
  });
  const results = await Promise.allSettled([b.produce(request(0)), b.produce(request(1))]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  assert.match(String((results[0] as PromiseRejectedResult).reason), /connection lost/);
  assert.equal((await b.produce(request(2))).baseOffset, 7);
});
