// The HTTP admin API's port is bound before the broker opens its storage (HeldListener): a request
// made meanwhile waits unread and is answered once the admin API serves; new connections are then
// served by node:http listening on the same port, and closing frees the port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import type { Socket } from 'node:net';
import { HeldListener } from '../../src/network/index.ts';
import { startHttpServer } from '../../src/http/index.ts';
import { silentLogger } from '../../src/common/logger.ts';
import { FakeLinkService } from '../http/fake-link-service.ts';

function rawGet(port: number, path: string): { socket: Socket; response: Promise<string> } {
  const socket = connect(port, '127.0.0.1');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString()));
  return { socket, response: new Promise((resolve) => socket.on('close', () => resolve(text))) };
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

test('an admin API request made before the API serves is answered once it does', async () => {
  const listener = await HeldListener.bind('127.0.0.1', 0);
  const early = rawGet(listener.port, '/v1/health');
  let answered = false;
  void early.response.then(() => (answered = true));
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(answered, false, 'held: not answered before the admin API serves');
  const http = await startHttpServer({ host: '127.0.0.1', port: listener.port, listener, links: new FakeLinkService(), log: silentLogger, brokerInfo: () => ({ nodeId: 3 }) });
  try {
    assert.equal(http.port, listener.port);
    assert.match(await early.response, /^HTTP\/1\.1 200 /, 'the held request is answered');
    const res = await fetch(`${http.url}/v1/health`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { nodeId: number }).nodeId, 3, 'a new connection is served by the admin API');
  } finally {
    await http.close();
  }
  assert.equal(await portFree(listener.port), true, 'the port is free once closed');
});
