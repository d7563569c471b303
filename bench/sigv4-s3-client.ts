// The hand-written S3 client Strait used before it moved to the AWS SDK (src/storage/objects/
// s3-store.ts), kept only as the baseline of bench/s3-client.ts: any S3-compatible service spoken to
// directly over node:http/node:https and signed with AWS Signature Version 4, static keys only.
//
// Requests go through one keep-alive agent with a bounded number of sockets. A request that fails
// on the network, times out (no byte moved for requestTimeoutMs) or gets a 5xx/429 is retried with
// exponential backoff and jitter, at most attemptsMax times in all; then the operation fails with
// ObjectStoreUnavailableError, so an outage is reported within a bounded time.
import { createHash, createHmac } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { assert, StraitError } from '../src/common/errors.ts';
import { ObjectStoreAccessDeniedError, ObjectStoreRequestError } from '../src/storage/objects/index.ts';
import {
  ObjectExistsError,
  ObjectKeyInvalidError,
  ObjectNotFoundError,
  ObjectRangeInvalidError,
  ObjectStoreUnavailableError,
  type ObjectInfo,
  type ObjectStore,
} from '../src/storage/objects/index.ts';

export interface S3StoreOptions {
  /** The service's URL, e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000. */
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** Put in front of every key, e.g. 'cluster-a/', so several clusters can share a bucket. */
  prefix?: string;
  /** Address the bucket in the path (http://host/bucket/key) instead of the host name
   *  (http://bucket.host/key). MinIO and most self-hosted services need it. */
  pathStyle?: boolean;
  /** Sockets open to the service at most; further requests queue. */
  socketsMax?: number;
  /** A request fails when no byte has moved for this long (connecting included). */
  requestTimeoutMs?: number;
  /** Attempts per operation, the first included. */
  attemptsMax?: number;
  /** The wait before the first retry; it doubles with each further retry, up to backoffMsMax. */
  backoffMsMin?: number;
  backoffMsMax?: number;
}

// The same error classes as the SDK engine, so a run of either is judged the same.
export { ObjectStoreAccessDeniedError, ObjectStoreRequestError };

const defaults = {
  socketsMax: 32,
  requestTimeoutMs: 10_000,
  attemptsMax: 4,
  backoffMsMin: 100,
  backoffMsMax: 2_000,
};
/** ListObjectsV2 returns at most this many keys a page (S3's own maximum). */
const listPageKeysMax = 1000;
/** S3's limit on a key's length in UTF-8 bytes, the prefix included. */
const keyBytesMax = 1024;
/** Error bodies (small XML documents) are read up to this size; the rest is dropped. */
const errorBodyBytesMax = 64 * 1024;
const emptyPayloadSha256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

interface S3Request {
  method: 'GET' | 'PUT' | 'HEAD' | 'DELETE';
  /** The full object key (prefix included), or undefined for a request on the bucket. */
  key?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer[];
}

interface S3Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

interface Sent {
  response: S3Response;
  /** True when an earlier attempt failed after the request may have reached the service, so a
   *  write may already have been applied. */
  retried: boolean;
}

/** A failure worth another attempt: the network, a timeout, or a 5xx/429 answer. */
class TransientError extends Error {
  override name = 'TransientError';
}

export class SigV4S3Store implements ObjectStore {
  readonly kind = 's3';
  private readonly options: Required<Omit<S3StoreOptions, 'sessionToken'>> & { sessionToken: string | undefined };
  private readonly endpoint: URL;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;
  private signingKeyCache: { date: string; key: Buffer } | null = null;
  private closed = false;

  constructor(options: S3StoreOptions) {
    this.options = {
      ...defaults,
      prefix: '',
      pathStyle: false,
      ...options,
      sessionToken: options.sessionToken === '' ? undefined : options.sessionToken,
    };
    this.endpoint = parseEndpoint(options.endpoint);
    const secure = this.endpoint.protocol === 'https:';
    this.transport = secure ? https : http;
    const agentOptions = { keepAlive: true, maxSockets: this.options.socketsMax, maxFreeSockets: this.options.socketsMax, scheduling: 'lifo' as const };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  /** Where this store keeps its objects, for messages and logs. */
  describe(): string {
    return `s3 ${this.endpoint.origin} bucket ${this.options.bucket}${this.options.prefix === '' ? '' : ` prefix ${this.options.prefix}`}`;
  }

  async put(key: string, body: Buffer | Buffer[], opts: { ifNoneMatch?: boolean } = {}): Promise<void> {
    const fullKey = this.fullKey(key);
    const buffers = (Array.isArray(body) ? body : [body]).filter((b) => b.length > 0);
    const hash = createHash('sha256');
    let sizeBytes = 0;
    for (const b of buffers) {
      hash.update(b);
      sizeBytes += b.length;
    }
    const headers: Record<string, string> = {
      'content-length': String(sizeBytes),
      'content-type': 'application/octet-stream',
      'x-amz-content-sha256': hash.digest('hex'),
    };
    if (opts.ifNoneMatch === true) headers['if-none-match'] = '*';
    const { response, retried } = await this.send({ method: 'PUT', key: fullKey, headers, body: buffers }, `put ${key}`);
    if (response.status === 200) return;
    if (response.status === 412 && opts.ifNoneMatch === true) {
      // An earlier attempt of ours may have created the object before its answer was lost; the
      // object is then ours if it holds exactly our bytes (the ETag of a single PUT is its MD5).
      if (retried && (await this.holdsBytes(key, buffers))) return;
      throw new ObjectExistsError(key);
    }
    throw this.failure(`put ${key}`, response);
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Buffer> {
    const headers: Record<string, string> = {};
    if (range !== undefined) {
      assert(
        Number.isSafeInteger(range.start) && Number.isSafeInteger(range.end) && range.start >= 0 && range.end > range.start,
        `an object range needs whole numbers 0 <= start < end, got [${range.start}, ${range.end})`,
      );
      headers['range'] = `bytes=${range.start}-${range.end - 1}`;
    }
    const { response } = await this.send({ method: 'GET', key: this.fullKey(key), headers }, `get ${key}`);
    if (response.status === 200) {
      // A service that ignores Range sends the whole object; cut it the way a 206 would have.
      if (range === undefined) return response.body;
      if (range.start >= response.body.length) throw new ObjectRangeInvalidError(key, range.start, response.body.length);
      return response.body.subarray(range.start, Math.min(range.end, response.body.length));
    }
    if (response.status === 206 && range !== undefined) {
      const from = /^bytes (\d+)-/.exec(String(response.headers['content-range'] ?? ''));
      if (from === null || Number(from[1]) !== range.start) {
        throw new ObjectStoreUnavailableError(`${this.describe()}: get ${key} answered range ${response.headers['content-range']} for bytes=${range.start}-`);
      }
      return response.body;
    }
    if (response.status === 416 && range !== undefined) throw new ObjectRangeInvalidError(key, range.start);
    if (response.status === 404 && errorCode(response) !== 'NoSuchBucket') throw new ObjectNotFoundError(key);
    throw this.failure(`get ${key}`, response);
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const { response } = await this.send({ method: 'HEAD', key: this.fullKey(key) }, `head ${key}`);
    if (response.status === 200) return { key, sizeBytes: Number(response.headers['content-length'] ?? 0) };
    // A HEAD answer has no body, so a missing bucket looks like a missing object here.
    if (response.status === 404) return null;
    throw this.failure(`head ${key}`, response);
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    const strip = this.options.prefix.length;
    let token: string | undefined;
    for (;;) {
      const query: Record<string, string> = {
        'list-type': '2',
        prefix: this.options.prefix + prefix,
        'max-keys': String(listPageKeysMax),
        'encoding-type': 'url',
      };
      if (token !== undefined) query['continuation-token'] = token;
      const { response } = await this.send({ method: 'GET', query }, `list ${JSON.stringify(prefix)}`);
      if (response.status !== 200) throw this.failure(`list ${JSON.stringify(prefix)}`, response);
      const page = parseListPage(response.body.toString('utf8'));
      for (const item of page.contents) out.push({ key: item.key.slice(strip), sizeBytes: item.sizeBytes });
      if (!page.truncated) return out;
      if (page.nextToken === undefined || page.nextToken === token) {
        throw new ObjectStoreUnavailableError(`${this.describe()}: list ${JSON.stringify(prefix)} got a truncated page without a new continuation token`);
      }
      token = page.nextToken;
    }
  }

  async delete(key: string): Promise<void> {
    const { response } = await this.send({ method: 'DELETE', key: this.fullKey(key) }, `delete ${key}`);
    if (response.status === 204 || response.status === 200) return;
    // S3 answers 204 for a missing key; some compatible services answer 404 NoSuchKey.
    if (response.status === 404 && errorCode(response) === 'NoSuchKey') return;
    throw this.failure(`delete ${key}`, response);
  }

  /** Creates the bucket unless this account already owns it. For tests and first-time setup. */
  async createBucket(): Promise<void> {
    const body =
      this.options.region === 'us-east-1'
        ? []
        : [Buffer.from(`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>${escapeXml(this.options.region)}</LocationConstraint></CreateBucketConfiguration>`)];
    const hash = createHash('sha256');
    for (const b of body) hash.update(b);
    const headers = { 'content-length': String(body.reduce((n, b) => n + b.length, 0)), 'x-amz-content-sha256': hash.digest('hex') };
    const { response } = await this.send({ method: 'PUT', headers, body }, 'create bucket');
    if (response.status === 200 || errorCode(response) === 'BucketAlreadyOwnedByYou') return;
    throw this.failure('create bucket', response);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.agent.destroy();
  }

  private fullKey(key: string): string {
    if (typeof key !== 'string' || key === '') throw new ObjectKeyInvalidError(String(key), 'it is empty');
    if (!key.isWellFormed()) throw new ObjectKeyInvalidError(key, 'it is not valid Unicode (a lone surrogate)');
    const fullKey = this.options.prefix + key;
    if (Buffer.byteLength(fullKey) > keyBytesMax) throw new ObjectKeyInvalidError(key, `with the prefix it is longer than ${keyBytesMax} bytes`);
    return fullKey;
  }

  private async holdsBytes(key: string, buffers: Buffer[]): Promise<boolean> {
    const { response } = await this.send({ method: 'HEAD', key: this.fullKey(key) }, `head ${key}`);
    if (response.status !== 200) return false;
    const md5 = createHash('md5');
    for (const b of buffers) md5.update(b);
    return String(response.headers['etag'] ?? '').replaceAll('"', '') === md5.digest('hex');
  }

  /** Maps an answer the caller did not expect to an error that says what to fix. */
  private failure(what: string, response: S3Response): StraitError {
    const code = errorCode(response);
    const message = errorMessage(response);
    const answer = code === undefined ? `HTTP ${response.status}` : `${response.status} ${code}`;
    const detail = `${this.describe()}: ${what} failed with ${answer}${message === undefined ? '' : `: ${message}`}`;
    if (response.status === 403 || response.status === 401) {
      return new ObjectStoreAccessDeniedError(`${detail} (check the access key id, secret access key, session token and the bucket policy)`);
    }
    return new ObjectStoreRequestError(detail, response.status, code ?? '');
  }

  /** Sends a request, retrying transient failures; resolves with the first non-transient answer. */
  private async send(request: S3Request, what: string): Promise<Sent> {
    assert(!this.closed, `${this.describe()} used after close()`);
    const started = Date.now();
    let lastError = '';
    for (let attempt = 1; attempt <= this.options.attemptsMax; attempt++) {
      if (attempt > 1) await sleep(this.backoffMs(attempt - 1));
      try {
        const response = await this.attempt(request);
        if (!isTransientStatus(response)) return { response, retried: attempt > 1 };
        lastError = `${response.status} ${errorCode(response) ?? ''}`.trim();
      } catch (error) {
        if (!(error instanceof TransientError)) throw error;
        lastError = error.message;
      }
      if (this.closed) break;
    }
    throw new ObjectStoreUnavailableError(
      `${this.describe()}: ${what} failed after ${this.options.attemptsMax} attempts in ${Date.now() - started} ms: ${lastError}`,
    );
  }

  private backoffMs(retry: number): number {
    const ceiling = Math.min(this.options.backoffMsMax, this.options.backoffMsMin * 2 ** (retry - 1));
    // "Equal jitter": half fixed, half random, so retries of many callers spread out.
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  /** One HTTP exchange. Network failures and timeouts reject with TransientError. */
  private attempt(request: S3Request): Promise<S3Response> {
    const { bucket, pathStyle } = this.options;
    const host = pathStyle ? this.endpoint.host : `${bucket}.${this.endpoint.host}`;
    const keyPath = request.key === undefined ? '' : encodeUri(request.key, true);
    const path = pathStyle ? `/${encodeUri(bucket, false)}${request.key === undefined ? '' : `/${keyPath}`}` : `/${keyPath}`;
    const query = canonicalQuery(request.query ?? {});
    const headers: Record<string, string> = { host, 'x-amz-content-sha256': emptyPayloadSha256, ...request.headers };
    if (this.options.sessionToken !== undefined) headers['x-amz-security-token'] = this.options.sessionToken;
    headers['authorization'] = this.sign(request.method, path, query, headers, new Date());

    return new Promise<S3Response>((resolve, reject) => {
      const req = this.transport.request({
        agent: this.agent,
        protocol: this.endpoint.protocol,
        // URL keeps the brackets of an IPv6 address; the socket wants it bare.
        hostname: pathStyle ? this.endpoint.hostname.replace(/^\[(.*)\]$/, '$1') : `${bucket}.${this.endpoint.hostname}`,
        port: this.endpoint.port === '' ? undefined : Number(this.endpoint.port),
        method: request.method,
        path: query === '' ? path : `${path}?${query}`,
        headers,
        // Applies while connecting too, unlike req.setTimeout().
        timeout: this.options.requestTimeoutMs,
      });
      let settled = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        reject(error instanceof TransientError || error instanceof StraitError ? error : new TransientError(describeNetworkError(error)));
      };
      req.on('timeout', () => req.destroy(new TransientError(`no answer for ${this.options.requestTimeoutMs} ms`)));
      req.on('error', fail);
      req.on('response', (res) => {
        res.on('error', fail);
        readBody(res, request.method === 'HEAD', (error, body) => {
          if (error !== null) return fail(error);
          if (settled) return;
          settled = true;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      });
      // Each buffer goes to the socket as it is; none is copied into a joined body.
      for (const buffer of request.body ?? []) req.write(buffer);
      req.end();
    });
  }

  /** AWS Signature Version 4 over the given headers (all of them are signed). */
  private sign(method: string, path: string, query: string, headers: Record<string, string>, now: Date): string {
    const amzDate = now.toISOString().replace(/[-:]|\.\d{3}/g, '');
    headers['x-amz-date'] = amzDate;
    const date = amzDate.slice(0, 8);
    if (this.signingKeyCache?.date !== date) {
      this.signingKeyCache = { date, key: signingKey(this.options.secretAccessKey, date, this.options.region, 's3') };
    }
    return authorizationHeader({
      method,
      path,
      query,
      headers,
      amzDate,
      region: this.options.region,
      accessKeyId: this.options.accessKeyId,
      signingKey: this.signingKeyCache.key,
    });
  }
}

export interface SignatureInput {
  method: string;
  /** URI-encoded path, e.g. /bucket/a%20b. */
  path: string;
  /** Canonical (sorted, encoded) query string, or ''. */
  query: string;
  /** Lower-case header names; every one is signed. Must hold x-amz-content-sha256. */
  headers: Record<string, string>;
  amzDate: string;
  region: string;
  accessKeyId: string;
  signingKey: Buffer;
}

/** The Authorization header value of AWS Signature Version 4 (service s3). */
export function authorizationHeader(input: SignatureInput): string {
  const names = Object.keys(input.headers)
    .map((name) => name.toLowerCase())
    .filter((name) => name !== 'authorization')
    .sort();
  const lowered: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers)) lowered[name.toLowerCase()] = value;
  const canonicalHeaders = names.map((name) => `${name}:${(lowered[name] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const signedHeaders = names.join(';');
  const payloadHash = lowered['x-amz-content-sha256'];
  assert(payloadHash !== undefined, 'an S3 request needs x-amz-content-sha256');
  const canonicalRequest = [input.method, input.path, input.query, canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${input.amzDate.slice(0, 8)}/${input.region}/s3/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', input.amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const signature = createHmac('sha256', input.signingKey).update(stringToSign).digest('hex');
  return `AWS4-HMAC-SHA256 Credential=${input.accessKeyId}/${scope},SignedHeaders=${signedHeaders},Signature=${signature}`;
}

export function signingKey(secretAccessKey: string, date: string, region: string, service: string): Buffer {
  const kDate = createHmac('sha256', `AWS4${secretAccessKey}`).update(date).digest();
  const kRegion = createHmac('sha256', kDate).update(region).digest();
  const kService = createHmac('sha256', kRegion).update(service).digest();
  return createHmac('sha256', kService).update('aws4_request').digest();
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ is %XX-escaped
 *  (and '/' too unless keepSlash). */
export function encodeUri(text: string, keepSlash: boolean): string {
  const encoded = encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return keepSlash ? encoded.replaceAll('%2F', '/') : encoded;
}

function canonicalQuery(query: Record<string, string>): string {
  return Object.entries(query)
    .map(([name, value]) => [encodeUri(name, false), encodeUri(value, false)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

function parseEndpoint(endpoint: string): URL {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new StraitError('STRAIT_CONFIG_INVALID', `S3 endpoint ${JSON.stringify(endpoint)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new StraitError('STRAIT_CONFIG_INVALID', `S3 endpoint ${JSON.stringify(endpoint)} must start with http:// or https://`);
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new StraitError('STRAIT_CONFIG_INVALID', `S3 endpoint ${JSON.stringify(endpoint)} must be scheme://host[:port] only, without a path, query or credentials`);
  }
  return url;
}

function isTransientStatus(response: S3Response): boolean {
  const { status } = response;
  if (status >= 500 || status === 429 || status === 408) return true;
  // S3 asks for a retry when two conditional writes to one key overlap, and when it gave up
  // waiting for a slow request body. (Only those answers are parsed: the client as it was in
  // src/ decoded every body here, a whole 8 MiB GET included, which made its large GETs 5x slower;
  // the baseline is kept without that defect so the benchmark compares the designs.)
  if (status !== 409 && status !== 400) return false;
  const code = errorCode(response);
  return (status === 409 && code === 'ConditionalRequestConflict') || (status === 400 && code === 'RequestTimeout');
}

function describeNetworkError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code !== undefined && !error.message.includes(code) ? `${code} ${error.message}` : error.message;
}

/** Reads a response body. With a Content-Length it fills one buffer of that size (no second copy). */
function readBody(res: http.IncomingMessage, isHead: boolean, done: (error: Error | null, body: Buffer) => void): void {
  const declared = res.headers['content-length'];
  const status = res.statusCode ?? 0;
  const isError = status >= 300;
  if (isHead || status === 204 || status === 304) {
    res.resume();
    res.once('end', () => done(null, Buffer.alloc(0)));
    return;
  }
  if (declared !== undefined && !isError) {
    const length = Number(declared);
    const out = Buffer.allocUnsafe(length);
    let filled = 0;
    res.on('data', (chunk: Buffer) => {
      if (filled + chunk.length > length) {
        res.destroy(new TransientError(`the body is longer than its Content-Length ${length}`));
        return;
      }
      chunk.copy(out, filled);
      filled += chunk.length;
    });
    res.once('end', () => {
      if (filled !== length) done(new TransientError(`the body ended after ${filled} of ${length} bytes`), out);
      else done(null, out);
    });
    return;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  res.on('data', (chunk: Buffer) => {
    if (isError && total >= errorBodyBytesMax) return;
    chunks.push(chunk);
    total += chunk.length;
  });
  res.once('end', () => done(null, Buffer.concat(chunks)));
}

function xmlText(xml: string, tag: string): string | undefined {
  const match = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
  return match === null ? undefined : unescapeXml(match[1] ?? '');
}

function errorCode(response: S3Response): string | undefined {
  return response.body.length === 0 ? undefined : xmlText(response.body.toString('utf8'), 'Code');
}

function errorMessage(response: S3Response): string | undefined {
  return response.body.length === 0 ? undefined : xmlText(response.body.toString('utf8'), 'Message');
}

const xmlEntities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10));
    return xmlEntities[entity] ?? whole;
  });
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${Object.keys(xmlEntities).find((name) => xmlEntities[name] === c)};`);
}

export interface ListPage {
  contents: { key: string; sizeBytes: number }[];
  truncated: boolean;
  nextToken: string | undefined;
}

/** Parses a ListObjectsV2 answer (ListBucketResult). Keys are URL-decoded when the service says it
 *  encoded them (encoding-type=url, which lets any key, even one with control characters, travel
 *  in XML); S3 encodes a space as '+' there. */
export function parseListPage(xml: string): ListPage {
  const urlEncoded = xmlText(xml, 'EncodingType') === 'url';
  const contents: ListPage['contents'] = [];
  for (const match of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
    const block = match[1] ?? '';
    const rawKey = xmlText(block, 'Key');
    const size = xmlText(block, 'Size');
    if (rawKey === undefined || size === undefined) throw new ObjectStoreUnavailableError(`a list answer has an entry without Key or Size: ${block.slice(0, 200)}`);
    const key = urlEncoded ? decodeURIComponent(rawKey.replaceAll('+', ' ')) : rawKey;
    contents.push({ key, sizeBytes: Number(size) });
  }
  return { contents, truncated: xmlText(xml, 'IsTruncated') === 'true', nextToken: xmlText(xml, 'NextContinuationToken') };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
