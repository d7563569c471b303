// The HTTP admin API and /metrics: JSON in and out over node:http, for the `strait link` CLI,
// scripts and Prometheus. Link operations go to the LinkService; this module only routes, checks
// request shapes, and turns StraitError codes into HTTP statuses. Every error answers
// { "error": { "code": "STRAIT_…", "message": "…" } } with the code unchanged from the service.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HeldListener } from '../network/index.ts';
import { StraitError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { LinkDescription, LinkService, PromoteOptions, ReverseOptions } from '../link/service.ts';
import { redactedSpec } from '../link/spec.ts';
import { formatPrometheus, processMetrics, PROMETHEUS_CONTENT_TYPE } from './metrics.ts';
import type { MetricSample } from './metrics.ts';

/** Largest request body read; a larger one is answered 413 without being parsed. */
export const HTTP_BODY_BYTES_MAX = 1024 * 1024;
/** A client that takes longer than this to send its headers, or its whole request, is cut off. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
/** close() waits this long for requests in flight (a promote may be waiting) before cutting them. */
const CLOSE_GRACE_MS = 5_000;

export interface HttpServerOptions {
  host: string;
  /** 0 takes a free port; the handle says which. */
  port: number;
  links: LinkService;
  log: Logger;
  /** Merged into GET /v1/health (node id, cluster id, listeners…). */
  brokerInfo: () => object;
  /** The broker's own samples for GET /metrics (storage, caches), next to the links' and the process's. */
  brokerMetrics?: () => MetricSample[];
  /** A listener the broker bound before opening its storage: serve its connections instead of
   *  binding host:port here (connections it held while the broker started are served first). */
  listener?: HeldListener;
}

export interface HttpServerHandle {
  /** The bound address, as the OS reports it. */
  host: string;
  port: number;
  /** http://host:port ([host] for IPv6), for logs and for `strait link --admin`. */
  url: string;
  close(): Promise<void>;
}

/** Status of each StraitError code the API can answer with; any other code is a 500. */
const STATUS_OF_CODE: Record<string, number> = {
  STRAIT_LINK_NOT_FOUND: 404,
  STRAIT_MIRROR_NOT_FOUND: 404,
  STRAIT_LINK_EXISTS: 409,
  STRAIT_LINK_HAS_MIRRORS: 409,
  STRAIT_MIRROR_EXISTS: 409,
  STRAIT_MIRROR_STATE: 409,
  STRAIT_LINK_INVALID: 400,
  STRAIT_REVERSE_INVALID: 409,
  STRAIT_PROMOTE_TIMEOUT: 504,
  STRAIT_LINK_SOURCE_UNAVAILABLE: 503,
  // The API's own.
  STRAIT_HTTP_BAD_REQUEST: 400,
  STRAIT_HTTP_INVALID_JSON: 400,
  STRAIT_HTTP_NOT_FOUND: 404,
  STRAIT_HTTP_METHOD_NOT_ALLOWED: 405,
  STRAIT_HTTP_BODY_TOO_LARGE: 413,
};

export function httpStatusOf(code: string): number {
  return STATUS_OF_CODE[code] ?? 500;
}

interface Reply {
  status: number;
  /** Sent as JSON; absent for 204. */
  json?: unknown;
  /** Sent as is (the metrics text). */
  text?: { body: string; contentType: string };
  headers?: Record<string, string>;
}

interface RequestContext {
  /** Decoded path parameters, in order (the link name). */
  params: string[];
  query: URLSearchParams;
  /** Parsed JSON body of a POST; undefined when it was empty. */
  body: unknown;
}

type Handler = (ctx: RequestContext) => Promise<Reply>;

interface Route {
  pattern: RegExp;
  methods: Record<string, Handler>;
}

function badRequest(message: string): StraitError {
  return new StraitError('STRAIT_HTTP_BAD_REQUEST', message);
}

/** A JSON object (or nothing), with no key outside `allowed`: a misspelt option must not be ignored. */
function objectBody(body: unknown, allowed: string[], what: string): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest(`the body of ${what} must be a JSON object`);
  const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw badRequest(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} in ${what} (known: ${allowed.join(', ') || 'none'})`);
  }
  return body as Record<string, unknown>;
}

function promoteOptions(body: unknown, kind: 'promote' | 'failover'): PromoteOptions {
  const b = objectBody(body, kind === 'promote' ? ['topics', 'timeoutMs'] : ['topics'], kind);
  const options: PromoteOptions = {};
  if (b.topics !== undefined) {
    if (!Array.isArray(b.topics) || b.topics.length === 0 || b.topics.some((t) => typeof t !== 'string' || t === '')) {
      throw badRequest('topics must be a non-empty list of topic names (leave it out for every mirror of the link)');
    }
    options.topics = b.topics as string[];
  }
  if (b.timeoutMs !== undefined) {
    if (typeof b.timeoutMs !== 'number' || !Number.isSafeInteger(b.timeoutMs) || b.timeoutMs < 0) throw badRequest('timeoutMs must be an integer of at least 0');
    options.timeoutMs = b.timeoutMs;
  }
  return options;
}

function reverseOptions(body: unknown, what: string): ReverseOptions {
  const b = objectBody(body, ['topics'], what);
  if (b.topics === undefined) return {};
  if (!Array.isArray(b.topics) || b.topics.length === 0 || b.topics.some((t) => typeof t !== 'string' || t === '')) {
    throw badRequest('topics must be a non-empty list of topic names (leave it out for every promoted topic of the link)');
  }
  return { topics: b.topics as string[] };
}

/** Whatever the link service answers, the SASL password and TLS key never leave the broker. */
function shown(link: LinkDescription): LinkDescription {
  return { ...link, spec: redactedSpec(link.spec) };
}

function forceFlag(query: URLSearchParams): boolean {
  const v = query.get('force');
  if (v === null || v === 'false') return false;
  if (v === 'true' || v === '') return true;
  throw badRequest(`force must be true or false, got '${v}'`);
}

function routes(links: LinkService, brokerInfo: () => object, brokerMetrics: () => MetricSample[]): Route[] {
  const json = (status: number, body: unknown): Reply => ({ status, json: body });
  const name = (ctx: RequestContext) => ctx.params[0]!;
  return [
    { pattern: /^\/v1\/health$/, methods: { GET: async () => json(200, { status: 'ok', ...brokerInfo() }) } },
    {
      pattern: /^\/v1\/links$/,
      methods: {
        GET: async () => json(200, { links: (await links.list()).map(shown) }),
        POST: async ({ body }) => {
          // The service validates every field (parseLinkSpec); only the outer shape is checked here.
          if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new StraitError('STRAIT_LINK_INVALID', 'a link is a JSON object');
          return json(201, shown(await links.create(body as Parameters<LinkService['create']>[0])));
        },
      },
    },
    {
      pattern: /^\/v1\/links\/([^/]+)$/,
      methods: {
        GET: async (ctx) => json(200, shown(await links.describe(name(ctx)))),
        DELETE: async (ctx) => {
          await links.delete(name(ctx), { force: forceFlag(ctx.query) });
          return { status: 204 };
        },
      },
    },
    { pattern: /^\/v1\/links\/([^/]+)\/pause$/, methods: { POST: async (ctx) => json(200, shown(await links.pause(name(ctx)))) } },
    { pattern: /^\/v1\/links\/([^/]+)\/resume$/, methods: { POST: async (ctx) => json(200, shown(await links.resume(name(ctx)))) } },
    {
      pattern: /^\/v1\/links\/([^/]+)\/mirrors$/,
      methods: {
        POST: async (ctx) => {
          const b = objectBody(ctx.body, ['topic'], 'a mirror request');
          if (typeof b.topic !== 'string' || b.topic === '') throw badRequest('topic must name the source topic to mirror');
          return json(201, await links.mirrorTopic(name(ctx), b.topic));
        },
      },
    },
    { pattern: /^\/v1\/links\/([^/]+)\/promote$/, methods: { POST: async (ctx) => json(200, await links.promote(name(ctx), promoteOptions(ctx.body, 'promote'))) } },
    { pattern: /^\/v1\/links\/([^/]+)\/failover$/, methods: { POST: async (ctx) => json(200, await links.failover(name(ctx), promoteOptions(ctx.body, 'failover'))) } },
    { pattern: /^\/v1\/links\/([^/]+)\/reverse$/, methods: { POST: async (ctx) => json(200, await links.reverse(name(ctx), reverseOptions(ctx.body, 'reverse'))) } },
    { pattern: /^\/v1\/links\/([^/]+)\/reverse\/stop$/, methods: { POST: async (ctx) => json(200, await links.stopReverse(name(ctx), reverseOptions(ctx.body, 'reverse stop'))) } },
    {
      pattern: /^\/metrics$/,
      methods: {
        GET: async () => ({ status: 200, text: { body: formatPrometheus([...brokerMetrics(), ...links.metrics(), ...processMetrics()]), contentType: PROMETHEUS_CONTENT_TYPE } }),
      },
    },
  ];
}

/** Reads the body up to HTTP_BODY_BYTES_MAX; parses it as JSON (an empty body is undefined). */
async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new StraitError('STRAIT_HTTP_INVALID_JSON', `request body is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Events rather than `for await`: leaving that loop early destroys the request, and with it the
 * socket the 413 must still be written to. Past the limit the rest is discarded unread while the
 * answer (with Connection: close) goes out.
 */
function readBody(req: IncomingMessage): Promise<string> {
  const tooLarge = () => new StraitError('STRAIT_HTTP_BODY_TOO_LARGE', `request body is larger than ${HTTP_BODY_BYTES_MAX} bytes`);
  if (Number(req.headers['content-length'] ?? 0) > HTTP_BODY_BYTES_MAX) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= HTTP_BODY_BYTES_MAX) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.off('end', onEnd);
      req.resume();
      reject(tooLarge());
    };
    const onEnd = () => resolve(Buffer.concat(chunks, bytes).toString('utf8'));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', reject);
  });
}

function send(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { 'cache-control': 'no-store', ...reply.headers };
  let body: Buffer | undefined;
  if (reply.text !== undefined) {
    headers['content-type'] = reply.text.contentType;
    body = Buffer.from(reply.text.body, 'utf8');
  } else if (reply.json !== undefined) {
    headers['content-type'] = 'application/json; charset=utf-8';
    body = Buffer.from(JSON.stringify(reply.json) + '\n', 'utf8');
  }
  if (body !== undefined) headers['content-length'] = String(body.length);
  res.writeHead(reply.status, headers);
  res.end(body);
}

function errorReply(err: StraitError, headers?: Record<string, string>): Reply {
  return { status: httpStatusOf(err.code), json: { error: { code: err.code, message: err.message } }, headers };
}

export function startHttpServer(opts: HttpServerOptions): Promise<HttpServerHandle> {
  const log = opts.log.child({ component: 'http' });
  const table = routes(opts.links, opts.brokerInfo, opts.brokerMetrics ?? (() => []));

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = Date.now();
    const method = req.method ?? 'GET';
    // The host part is irrelevant (and may be missing or odd); only the path and query matter.
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/$/, '') : url.pathname;
    let reply: Reply;
    try {
      reply = await dispatch(table, method, path, url.searchParams, req);
    } catch (err) {
      if (err instanceof StraitError) {
        reply = errorReply(err);
        // A body that was not read to its end leaves the connection unusable for a next request.
        if (err.code === 'STRAIT_HTTP_BODY_TOO_LARGE') reply.headers = { connection: 'close' };
      } else {
        reply = errorReply(new StraitError('STRAIT_INTERNAL', (err as Error)?.message ?? String(err)));
      }
      // 503 and 504 are answers about the source or a deadline; only a 500 is a fault of ours.
      if (reply.status === 500) log.error('admin API request failed', { method, path, status: reply.status, code: (reply.json as { error: { code: string } }).error.code, err: err as Error });
    }
    if (!res.headersSent && !res.destroyed) send(res, reply);
    log.debug('admin API request', { method, path, status: reply.status, ms: Date.now() - started });
  };

  const server: Server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      // Only a failure to write the response lands here (the client went away); nothing to answer.
      log.debug('admin API response not sent', { err: err as Error });
      res.destroy();
    });
  });

  if (opts.listener) {
    const listener = opts.listener;
    return new Promise((resolve) => {
      // Listening on the bound handle keeps node:http's own connection tracking (headers and
      // request timeouts); the connections held while the broker started are handed over.
      server.listen(listener.boundServer, () => {
        server.on('error', (err) => log.error('admin API server error', { err }));
        listener.handOver((socket) => {
          server.emit('connection', socket);
          socket.resume();
        });
        const url = `http://${listener.host.includes(':') ? `[${listener.host}]` : listener.host}:${listener.port}`;
        log.info('admin API listening', { url });
        resolve({ host: listener.host, port: listener.port, url, close: () => closeServer(server) });
      });
    });
  }
  return new Promise((resolve, reject) => {
    const onListenError = (err: NodeJS.ErrnoException) => {
      reject(new StraitError('STRAIT_HTTP_LISTEN_FAILED', `cannot listen on ${opts.host}:${opts.port} for the HTTP admin API (http.listener): ${err.message}`));
    };
    server.once('error', onListenError);
    server.listen(opts.port, opts.host, () => {
      server.off('error', onListenError);
      server.on('error', (err) => log.error('admin API server error', { err }));
      const address = server.address() as AddressInfo;
      const host = address.address;
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
      log.info('admin API listening', { url });
      resolve({ host, port: address.port, url, close: () => closeServer(server) });
    });
  });
}

async function dispatch(table: Route[], method: string, path: string, query: URLSearchParams, req: IncomingMessage): Promise<Reply> {
  for (const route of table) {
    const m = route.pattern.exec(path);
    if (m === null) continue;
    const handler = route.methods[method];
    if (handler === undefined) {
      const allow = Object.keys(route.methods).join(', ');
      return errorReply(new StraitError('STRAIT_HTTP_METHOD_NOT_ALLOWED', `${method} is not allowed on ${path} (allowed: ${allow})`), { allow });
    }
    let params: string[];
    try {
      params = m.slice(1).map((p) => decodeURIComponent(p));
    } catch {
      throw badRequest(`malformed percent-encoding in ${path}`);
    }
    const body = method === 'POST' ? await readJsonBody(req) : undefined;
    return handler({ params, query, body });
  }
  throw new StraitError('STRAIT_HTTP_NOT_FOUND', `no such route: ${method} ${path}`);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
    cut.unref();
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
}
