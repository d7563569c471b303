// Listeners are bound before the broker opens its storage; a client that connects meanwhile is
// accepted but not read: its request is answered once the server serves, never refused or dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaServer } from '../../src/network/index.ts';
import type { RequestHandler } from '../../src/network/index.ts';
import { silentLogger } from '../../src/common/logger.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';

const limits = { requestSizeBytesMax: 1 << 20, inflightRequestsMax: 10, inflightRequestBytesMax: -1, queuedRequestBytesMax: -1, idleMsMax: -1 };

/** Answers every request with an empty body after its correlation id. */
function echo(calls: number[]): RequestHandler {
  return {
    async handle(frame) {
      calls.push(Date.now());
      const out = Buffer.alloc(8);
      out.writeInt32BE(4, 0);
      out.writeInt32BE(frame.readInt32BE(4), 4);
      return [out];
    },
  };
}

test('a connection made before serve() is held unread, then answered', async () => {
  const server = new KafkaServer(limits, silentLogger);
  const [bound] = await server.listen([{ name: 'PLAINTEXT', host: '127.0.0.1', port: 0 }]);
  const calls: number[] = [];
  const c = await RawClient.connect(bound!.port);
  try {
    const frame = c.encodeRequest(ApiKey.ApiVersions, 3, { clientSoftwareName: 't', clientSoftwareVersion: '1' }, 41);
    const answer = c.send(frame, 41);
    let answered = false;
    void answer.then(() => (answered = true), () => undefined);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(calls.length, 0, 'no request is read before serve()');
    assert.equal(answered, false);
    assert.equal(c.isClosed, false, 'the connection is held open, not refused');
    const served = Date.now();
    server.serve(echo(calls));
    const response = await answer;
    assert.equal(response.readInt32BE(0), 41);
    assert.equal(calls.length, 1);
    assert.ok(calls[0]! >= served);
  } finally {
    c.close();
    await server.close(100);
  }
});

test('a server closed before it serves drops the connections it held', async () => {
  const server = new KafkaServer(limits, silentLogger);
  const [bound] = await server.listen([{ name: 'PLAINTEXT', host: '127.0.0.1', port: 0 }]);
  const c = await RawClient.connect(bound!.port);
  await new Promise((r) => setTimeout(r, 100));
  await server.close(100);
  await Promise.race([c.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the held connection was not closed')), 5000))]);
  assert.equal(c.isClosed, true);
});
