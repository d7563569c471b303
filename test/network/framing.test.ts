// Framing, pipelining and connection-level error handling, driven over real sockets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import type { TestBroker } from '../helpers/broker.ts';
import { RawClient, decodeResponse } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';

let b: TestBroker;
before(async () => {
  b = await startTestBroker({ 'socket.request.max.bytes': '65536', 'queued.max.requests': '4' });
});
after(async () => b.stop());

test('pipelined requests are answered in the order they were sent', async () => {
  const c = await RawClient.connect(b.port);
  // Interleave a slow-ish request (topic creation) with fast ones; answers must keep send order.
  const order: number[] = [];
  const reqs = [];
  for (let i = 0; i < 20; i++) {
    const p =
      i % 5 === 0
        ? c.request(ApiKey.CreateTopics, 7, { topics: [{ name: `pipe-${i}`, numPartitions: 2, replicationFactor: 1 }], timeoutMs: 1000 })
        : c.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });
    reqs.push(p.then(() => order.push(i)));
  }
  await Promise.all(reqs);
  assert.deepEqual(order, [...Array(20).keys()]);
  c.close();
});

test('a frame larger than socket.request.max.bytes closes only that connection', async () => {
  const bad = await RawClient.connect(b.port);
  const good = await RawClient.connect(b.port);
  const header = Buffer.alloc(4);
  header.writeInt32BE(65537);
  bad.write(header);
  await bad.closed;
  const md = await good.request(ApiKey.Metadata, 12, { topics: null });
  assert.equal(md.brokers.length, 1);
  good.close();
});

test('a negative frame size closes the connection', async () => {
  const bad = await RawClient.connect(b.port);
  bad.write(Buffer.from([0xff, 0xff, 0xff, 0xfe]));
  await bad.closed;
  assert.ok(bad.isClosed);
});

test('an unknown API key closes the connection', async () => {
  const c = await RawClient.connect(b.port);
  const frame = Buffer.alloc(4 + 10);
  frame.writeInt32BE(10, 0);
  frame.writeInt16BE(999, 4);
  frame.writeInt16BE(0, 6);
  frame.writeInt32BE(7, 8);
  frame.writeInt16BE(-1, 12);
  c.write(frame);
  await c.closed;
  assert.ok(c.isClosed);
});

test('an unsupported version of a known API closes the connection', async () => {
  const c = await RawClient.connect(b.port);
  const frame = c.encodeRequest(ApiKey.Metadata, 12, { topics: null }, 3);
  frame.writeInt16BE(99, 6); // request_api_version
  c.write(frame);
  await c.closed;
  assert.ok(c.isClosed);
});

test('KIP-511: a too-new ApiVersions gets a v0 answer with UNSUPPORTED_VERSION and our range', async () => {
  const c = await RawClient.connect(b.port);
  const frame = c.encodeRequest(ApiKey.ApiVersions, 3, { clientSoftwareName: 'x', clientSoftwareVersion: '1' }, 11);
  frame.writeInt16BE(77, 6);
  const resp = (await c.send(frame, 11)) as Buffer;
  const body = decodeResponse(ApiKey.ApiVersions, 0, resp) as any;
  assert.equal(body.errorCode, ErrorCode.UNSUPPORTED_VERSION);
  assert.deepEqual(
    body.apiKeys.map((k: any) => [k.apiKey, k.minVersion, k.maxVersion]),
    [[ApiKey.ApiVersions, 0, 4]],
  );
  // The connection stays usable: the client retries with a version we serve.
  const ok = await c.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'x', clientSoftwareVersion: '1' });
  assert.equal(ok.errorCode, ErrorCode.NONE);
  c.close();
});

test('ApiVersions v3 rejects an invalid client software name with INVALID_REQUEST', async () => {
  const c = await RawClient.connect(b.port);
  const r = await c.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'bad name!', clientSoftwareVersion: '1' });
  assert.equal(r.errorCode, ErrorCode.INVALID_REQUEST);
  c.close();
});

test('ApiVersions advertises exactly the served APIs, every version of them decodable', async () => {
  const c = await RawClient.connect(b.port);
  for (let v = 0; v <= 4; v++) {
    const r = await c.request(ApiKey.ApiVersions, v, { clientSoftwareName: 'x', clientSoftwareVersion: '1' });
    assert.equal(r.errorCode, 0);
    const keys = r.apiKeys.map((k: any) => k.apiKey);
    assert.ok(keys.includes(ApiKey.Metadata) && keys.includes(ApiKey.CreateTopics) && keys.includes(ApiKey.DeleteTopics));
    assert.ok(!keys.includes(ApiKey.LeaderAndIsr), 'inter-broker APIs are not served and must not be advertised');
    const produce = r.apiKeys.find((k: any) => k.apiKey === ApiKey.Produce);
    assert.deepEqual([produce.minVersion, produce.maxVersion], [3, 11]);
  }
  c.close();
});

test('a truncated body closes the connection; a request with a garbled string length too', async () => {
  const c = await RawClient.connect(b.port);
  const frame = c.encodeRequest(ApiKey.CreateTopics, 4, { topics: [{ name: 'abc', numPartitions: 1, replicationFactor: 1 }] }, 5);
  const cut = frame.subarray(0, frame.length - 6);
  cut.writeInt32BE(cut.length - 4, 0);
  c.write(cut);
  await c.closed;
  const d = await RawClient.connect(b.port);
  const f2 = d.encodeRequest(ApiKey.Metadata, 4, { topics: [{ name: 'abc' }] }, 6);
  f2.writeInt16BE(0x7fff, 4 + 8 + 2 + 'raw-client'.length + 4); // topic name length far past the end
  d.write(f2);
  await d.closed;
  assert.ok(c.isClosed && d.isClosed);
});

test('requests split across many small TCP writes are reassembled', async () => {
  const c = await RawClient.connect(b.port);
  const frame = c.encodeRequest(ApiKey.Metadata, 9, { topics: null }, 42);
  const answer = new Promise<Buffer>((resolve) => {
    void c.send(Buffer.alloc(0), 42).then(resolve);
  });
  for (let i = 0; i < frame.length; i++) {
    c.write(frame.subarray(i, i + 1));
    if (i % 7 === 0) await new Promise((r) => setImmediate(r));
  }
  const resp = decodeResponse(ApiKey.Metadata, 9, await answer) as any;
  assert.equal(resp.brokers[0].nodeId, 1);
  c.close();
});

test('more pipelined requests than queued.max.requests are all answered (reading pauses, then resumes)', async () => {
  const c = await RawClient.connect(b.port);
  const answers = await Promise.all(
    Array.from({ length: 200 }, () => c.request(ApiKey.Metadata, 12, { topics: [] })),
  );
  assert.equal(answers.length, 200);
  assert.ok(answers.every((a: any) => a.brokers.length === 1));
  c.close();
});
