// A scripted Kafka broker on 127.0.0.1 for the link client's tests of what a real broker will not do
// on demand: advertise odd API versions, answer nothing, answer late. Each request frame is decoded
// with the generated codec and handed to a script that returns the response body, or null for no
// answer at all.
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { encodeResponseFrame } from '../../src/api/router.ts';
import { API_SPECS, ApiKey } from '../../src/protocol/generated/api-table.ts';
import { RequestHeader } from '../../src/protocol/generated/request-header.ts';
import { Reader } from '../../src/protocol/primitives.ts';

export interface FakeRequest {
  apiKey: number;
  version: number;
  correlationId: number;
  body: any;
  socket: Socket;
}

/** The response body, a Promise of it (to answer late), or null to never answer. */
export type Script = (req: FakeRequest) => unknown;

export interface FakeBroker {
  port: number;
  bootstrap: string;
  requests: FakeRequest[];
  connections: number;
  close(): Promise<void>;
}

export async function startFakeBroker(script: Script): Promise<FakeBroker> {
  const sockets = new Set<Socket>();
  const fake = { port: 0, bootstrap: '', requests: [] as FakeRequest[], connections: 0, close: async () => {} };
  const server: Server = createServer((socket) => {
    fake.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const frame = buffered.subarray(4, 4 + buffered.readInt32BE(0));
        buffered = buffered.subarray(4 + frame.length);
        void handle(frame, socket);
      }
    });
  });
  const handle = async (frame: Buffer, socket: Socket): Promise<void> => {
    const apiKey = frame.readInt16BE(0);
    const version = frame.readInt16BE(2);
    const spec = API_SPECS.get(apiKey)!;
    const flexible = spec.flexibleMinVersion >= 0 && version >= spec.flexibleMinVersion;
    const r = new Reader(frame);
    const header = RequestHeader.read(r, flexible ? 2 : 1);
    // An ApiVersions version we do not know is answered in v0 (KIP-511); its body is not read.
    const known = version <= spec.maxVersion;
    const req: FakeRequest = { apiKey, version, correlationId: header.correlationId, body: known ? spec.request.read(r, version) : null, socket };
    fake.requests.push(req);
    const body = await script(req);
    if (body === null || socket.destroyed) return;
    const answerVersion = apiKey === ApiKey.ApiVersions && (body as { errorCode?: number }).errorCode === 35 ? 0 : version;
    const headerVersion = flexible && apiKey !== ApiKey.ApiVersions ? 1 : 0;
    for (const part of encodeResponseFrame(spec.response, body, answerVersion, header.correlationId, headerVersion)) socket.write(part);
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  fake.port = typeof address === 'object' && address !== null ? address.port : 0;
  fake.bootstrap = `127.0.0.1:${fake.port}`;
  fake.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return fake;
}

/** An ApiVersions answer listing these ranges (and ApiVersions v0-maxApiVersions). */
export function apiVersionsBody(ranges: Record<number, [number, number]>, maxApiVersions = 4): unknown {
  const apiKeys = Object.entries({ [ApiKey.ApiVersions]: [0, maxApiVersions], ...ranges }).map(([k, [min, max]]) => ({
    apiKey: Number(k),
    minVersion: min,
    maxVersion: max,
  }));
  return { errorCode: 0, apiKeys, throttleTimeMs: 0 };
}
