// In-flight request bytes are bounded per connection (queued.max.request.bytes.per.connection) and
// for the whole broker (queued.max.request.bytes, Kafka's name): over a bound the server stops
// reading (back-pressure), it does not fail the requests. Driven over real sockets with a handler
// that holds every request until the test releases it, so "in flight" is under the test's control.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { KafkaServer } from '../../src/network/index.ts';
import type { RequestHandler } from '../../src/network/index.ts';
import { silentLogger } from '../../src/common/logger.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A handler that answers each request (by correlation id) only when release() is called. */
function gatedHandler() {
  const seen: number[] = [];
  let open = false;
  const waiting: (() => void)[] = [];
  const handler: RequestHandler = {
    async handle(frame) {
      seen.push(frame.length);
      if (!open) await new Promise<void>((resolve) => waiting.push(resolve));
      const out = Buffer.alloc(8);
      out.writeInt32BE(4, 0);
      out.writeInt32BE(frame.readInt32BE(0), 4);
      return [out];
    },
  };
  return {
    handler,
    seen,
    release() {
      open = true;
      for (const w of waiting.splice(0)) w();
    },
  };
}

/** A request frame of frameBytes after its size prefix, starting with its correlation id. */
function frame(correlationId: number, frameBytes: number): Buffer {
  const b = Buffer.alloc(4 + frameBytes, 7);
  b.writeInt32BE(frameBytes, 0);
  b.writeInt32BE(correlationId, 4);
  return b;
}

async function client(port: number): Promise<{ socket: Socket; answered: Set<number> }> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
  const answered = new Set<number>();
  let buf = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 8) {
      answered.add(buf.readInt32BE(4));
      buf = buf.subarray(8);
    }
  });
  return { socket, answered };
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const settle = () => new Promise((r) => setTimeout(r, 500));

async function startServer(handler: RequestHandler, bounds: { perConnection: number; total: number }) {
  const server = new KafkaServer(
    { requestSizeBytesMax: 4 * MiB, inflightRequestsMax: 1000, idleMsMax: -1, inflightRequestBytesMax: bounds.perConnection, queuedRequestBytesMax: bounds.total },
    silentLogger,
  );
  const [bound] = await server.listen([{ name: 'PLAINTEXT', host: '127.0.0.1', port: 0 }]);
  server.serve(handler);
  return { server, port: bound!.port };
}

test('one connection stops being read once its in-flight request bytes reach the per-connection bound', async () => {
  const gate = gatedHandler();
  const { server, port } = await startServer(gate.handler, { perConnection: 1 * MiB, total: -1 });
  const c = await client(port);
  try {
    for (let i = 1; i <= 10; i++) c.socket.write(frame(i, 256 * KiB));
    await until(() => gate.seen.length >= 4, 'the first requests');
    await settle();
    // 4 x 256 KiB reach 1 MiB: the fifth is not read while they are in flight.
    assert.equal(gate.seen.length, 4, `requests handed to the handler while 1 MiB is in flight: ${gate.seen.length}`);
    assert.equal(c.answered.size, 0);
    gate.release();
    await until(() => c.answered.size === 10, 'all ten answers');
    assert.equal(gate.seen.length, 10, 'every request was read once the bytes were answered');
    assert.ok(!c.socket.destroyed, 'back-pressure, not a closed connection');
  } finally {
    c.socket.destroy();
    await server.close(100);
  }
});

test('the global bound holds across connections, and a request larger than the bound is still served alone', async () => {
  const gate = gatedHandler();
  const { server, port } = await startServer(gate.handler, { perConnection: -1, total: 1 * MiB });
  const a = await client(port);
  const b = await client(port);
  try {
    for (let i = 1; i <= 4; i++) {
      a.socket.write(frame(i, 256 * KiB));
      b.socket.write(frame(100 + i, 256 * KiB));
    }
    await until(() => gate.seen.length >= 4, 'the first requests');
    await settle();
    assert.equal(gate.seen.length, 4, `requests handed to the handler across two connections with 1 MiB in flight: ${gate.seen.length}`);
    gate.release();
    await until(() => a.answered.size === 4 && b.answered.size === 4, 'all eight answers');
    // One frame above the whole bound: admitted when nothing else is in flight (else it never would be).
    a.socket.write(frame(9, 3 * MiB));
    await until(() => a.answered.has(9), 'the answer to a 3 MiB request');
  } finally {
    a.socket.destroy();
    b.socket.destroy();
    await server.close(100);
  }
});

test('requests of a closed connection count until the handler is done with them, then are given back', async () => {
  const gate = gatedHandler();
  const { server, port } = await startServer(gate.handler, { perConnection: -1, total: 1 * MiB });
  const a = await client(port);
  try {
    for (let i = 1; i <= 4; i++) a.socket.write(frame(i, 256 * KiB));
    await until(() => gate.seen.length === 4, 'four requests of the first connection');
    a.socket.destroy();
    await settle();
    const b = await client(port);
    try {
      b.socket.write(frame(50, 256 * KiB));
      await settle();
      // The handler still holds the closed connection's 1 MiB.
      assert.equal(gate.seen.length, 4, 'the second connection waits while the bound is used');
      gate.release();
      await until(() => b.answered.has(50), 'the answer once the first connection\'s requests were done');
      assert.equal(gate.seen.length, 5);
    } finally {
      b.socket.destroy();
    }
  } finally {
    await server.close(100);
  }
});
