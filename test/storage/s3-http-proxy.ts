// An HTTP proxy a test puts in front of MinIO to play the parts of S3 that MinIO does not: it reads
// each request whole, asks the test's hook what to do, and then forwards it (maybe with its body
// changed), answers in MinIO's place (503 SlowDown, a region redirect), or forwards it and changes
// the answer's body. Headers pass unchanged, so a client's signature (over the proxy's host) still
// checks out at MinIO. Listens on 127.0.0.1 on a free port.
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** performance.now() when the request had fully arrived. */
  atMs: number;
}

export type ProxyAction =
  | { kind: 'forward'; body?: Buffer; mapAnswerBody?: (body: Buffer) => Buffer }
  | { kind: 'answer'; status: number; headers?: Record<string, string>; body?: string };

export interface S3HttpProxy {
  endpoint: string;
  seen: SeenRequest[];
  /** Decides per request; the default forwards everything unchanged. */
  hook: (request: SeenRequest) => ProxyAction;
  close(): Promise<void>;
}

/** The region a request was signed for, from its Authorization header's credential scope. */
export function signedRegion(request: SeenRequest): string | undefined {
  return /Credential=[^/]+\/\d{8}\/([^/]+)\/s3\/aws4_request/.exec(String(request.headers['authorization'] ?? ''))?.[1];
}

export function s3ErrorXml(code: string, message: string, extra: Record<string, string> = {}): string {
  const fields = Object.entries(extra)
    .map(([name, value]) => `<${name}>${value}</${name}>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message>${fields}<RequestId>proxy</RequestId></Error>`;
}

export async function startS3HttpProxy(upstreamPort: number): Promise<S3HttpProxy> {
  const proxy: S3HttpProxy = { endpoint: '', seen: [], hook: () => ({ kind: 'forward' }), close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => {
      const seen: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), atMs: performance.now() };
      proxy.seen.push(seen);
      const action = proxy.hook(seen);
      if (action.kind === 'answer') {
        const body = req.method === 'HEAD' ? '' : (action.body ?? '');
        res.writeHead(action.status, { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)), ...action.headers });
        res.end(body);
        return;
      }
      const upstream = httpRequest(
        { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers, agent: false },
        (answer: IncomingMessage) => {
          if (action.mapAnswerBody === undefined) {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
            return;
          }
          const parts: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => parts.push(chunk));
          answer.once('end', () => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(action.mapAnswerBody!(Buffer.concat(parts)));
          });
        },
      );
      upstream.once('error', () => req.socket.destroy());
      upstream.end(action.body ?? seen.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}

/** A copy of buffer with one byte flipped at index. */
export function flipByte(buffer: Buffer, index: number): Buffer {
  const copy = Buffer.from(buffer);
  copy[index] = (copy[index] ?? 0) ^ 0xff;
  return copy;
}
