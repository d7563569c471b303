// A minimal Kafka client over the generated codec, for tests that need exact control of the bytes:
// any API and version, pipelining, raw frames, and observing when the broker closes the socket.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { API_SPECS } from '../../src/protocol/generated/api-table.ts';
import { RequestHeader } from '../../src/protocol/generated/request-header.ts';
import { Reader, SizeCache, Writer } from '../../src/protocol/primitives.ts';

export class RawClient {
  private socket: Socket;
  private buffer = Buffer.alloc(0);
  private waiting = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void }>();
  private nextCorrelationId = 1;
  closed: Promise<void>;
  isClosed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        for (const w of this.waiting.values()) w.reject(new Error('connection closed'));
        this.waiting.clear();
        resolve();
      }),
    );
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 4) {
      const size = this.buffer.readInt32BE(0);
      if (this.buffer.length < 4 + size) return;
      const frame = this.buffer.subarray(4, 4 + size);
      this.buffer = this.buffer.subarray(4 + size);
      const correlationId = frame.readInt32BE(0);
      const w = this.waiting.get(correlationId);
      this.waiting.delete(correlationId);
      w?.resolve(frame);
    }
  }

  encodeRequest(apiKey: number, version: number, body: unknown, correlationId: number, clientId = 'raw-client'): Buffer {
    return encodeRequest(apiKey, version, body, correlationId, clientId);
  }

  /** Sends a request and resolves with the decoded response body. */
  async request<T = any>(apiKey: number, version: number, body: unknown): Promise<T> {
    const correlationId = this.nextCorrelationId++;
    const frame = await this.send(this.encodeRequest(apiKey, version, body, correlationId), correlationId);
    return decodeResponse(apiKey, version, frame) as T;
  }

  /** Sends raw bytes; resolves with the response frame for correlationId (header included). */
  send(bytes: Buffer, correlationId: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.isClosed) return reject(new Error('connection closed'));
      this.waiting.set(correlationId, { resolve, reject });
      this.socket.write(bytes);
    });
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A whole request frame (size prefix, header, body), for tests that mangle bytes before sending. */
export function encodeRequest(apiKey: number, version: number, body: unknown, correlationId: number, clientId = 'raw-client'): Buffer {
  const spec = API_SPECS.get(apiKey)!;
  const flexible = spec.flexibleMinVersion >= 0 && version >= spec.flexibleMinVersion;
  const hv = flexible ? 2 : 1;
  const header = { requestApiKey: apiKey, requestApiVersion: version, correlationId, clientId };
  const c = new SizeCache();
  const hs = RequestHeader.size(header, hv, c);
  const bs = spec.request.size(body, version, c);
  const buf = Buffer.allocUnsafe(4 + hs + bs);
  const w = new Writer(buf);
  w.int32(hs + bs);
  RequestHeader.write(w, header, hv, c);
  spec.request.write(w, body, version, c);
  return buf;
}

export function decodeResponse(apiKey: number, version: number, frame: Buffer): unknown {
  const spec = API_SPECS.get(apiKey)!;
  const flexible = spec.flexibleMinVersion >= 0 && version >= spec.flexibleMinVersion;
  const r = new Reader(frame, 4);
  if (flexible && apiKey !== 18) {
    const tags = r.uvarint();
    for (let i = 0; i < tags; i++) {
      r.uvarint();
      r.view(r.uvarint());
    }
  }
  return spec.response.read(r, version);
}
