// The `s3` object store: any S3-compatible service (AWS S3, MinIO, Ceph RGW, R2, …), spoken to
// through the AWS SDK for JavaScript v3 (`@aws-sdk/client-s3`). The SDK signs requests (SigV4),
// takes credentials from static keys or from the standard AWS chain (environment, shared
// config/profile, web identity/IRSA, ECS/EKS container credentials, IMDSv2) and renews temporary
// ones before they expire, and sends a checksum the service checks. This file follows a region
// redirect once and keeps the region it names (see send). docs/s3.md says why the SDK replaced our own SigV4 client (bench/s3-client.ts measured both).
//
// Retries stay ours, not the SDK's: the SDK makes one attempt per call and this file decides. A
// request that fails on the network, times out (no byte moved for requestTimeoutMs) or gets a
// 5xx/429 (503 SlowDown included) is retried with exponential backoff and jitter, at most
// attemptsMax times in all; then the operation fails with ObjectStoreUnavailableError, so an outage
// is reported within a bounded time. Owning the loop lets a conditional PUT know whether an earlier
// attempt of its own may have created the object (see put), which the SDK's retries would hide.
import * as http from 'node:http';
import * as https from 'node:https';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type BucketLocationConstraint,
} from '@aws-sdk/client-s3';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { assert, StraitError } from '../../common/errors.ts';
import { createLogger, type Logger } from '../../common/logger.ts';
import { ErrorCode } from '../../protocol/generated/errors.ts';
import {
  ObjectExistsError,
  ObjectKeyInvalidError,
  ObjectNotFoundError,
  ObjectRangeInvalidError,
  ObjectStoreUnavailableError,
  type ObjectInfo,
  type ObjectStore,
} from './object-store.ts';

export interface S3StoreOptions {
  /** The service's URL, e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000. Leave it
   *  out for AWS S3 itself (the SDK then picks the region's endpoint). */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Static keys: both or neither. Without them credentials come from the standard AWS chain. */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** The shared config/credentials profile the chain reads (else AWS_PROFILE, else 'default'). */
  profile?: string;
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
  /** Where the store's warnings go (a region redirect, the SDK's own warnings); default stderr. */
  logger?: Logger;
}

/** The service refused the credentials or the request's permissions: retrying will not help until
 *  someone fixes the configuration (or an expired session token is renewed). */
export class ObjectStoreAccessDeniedError extends StraitError {
  constructor(message: string) {
    super('STRAIT_OBJECT_STORE_ACCESS_DENIED', message, ErrorCode.KAFKA_STORAGE_ERROR);
  }
}

/** No source of the credential chain produced credentials (nothing configured, an unreadable
 *  token file, a metadata endpoint that refused or did not answer, STS refusing the role). */
export class ObjectStoreCredentialsError extends StraitError {
  constructor(message: string) {
    super('STRAIT_OBJECT_STORE_CREDENTIALS_UNAVAILABLE', message, ErrorCode.KAFKA_STORAGE_ERROR);
  }
}

/** The service answered with an error that is neither transient nor one the contract names
 *  (a missing bucket, a malformed request, a checksum that did not match the body). */
export class ObjectStoreRequestError extends StraitError {
  readonly status: number;
  readonly s3Code: string;
  constructor(message: string, status: number, s3Code: string) {
    super('STRAIT_OBJECT_STORE_REQUEST_FAILED', message, ErrorCode.KAFKA_STORAGE_ERROR);
    this.status = status;
    this.s3Code = s3Code;
  }
}

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

/** What one attempt ended with, once the SDK's answer or error is sorted. */
type Outcome<T> =
  | { kind: 'ok'; value: T }
  /** The service answered with an error (status and S3 error code). */
  | { kind: 'answer'; status: number; code: string; message: string }
  /** Worth another attempt: the network, a timeout, a 5xx/429. */
  | { kind: 'transient'; reason: string }
  /** The bucket is in another region (301 PermanentRedirect, 400 AuthorizationHeaderMalformed). */
  | { kind: 'redirect'; region: string; status: number; code: string; message: string };

interface Sent<T> {
  outcome: Exclude<Outcome<T>, { kind: 'transient' | 'redirect' }>;
  /** True when an earlier attempt failed after the request may have reached the service, so a
   *  write may already have been applied. */
  retried: boolean;
}

export class S3Store implements ObjectStore {
  readonly kind = 's3';
  private options: Required<Pick<S3StoreOptions, keyof typeof defaults | 'prefix' | 'bucket' | 'region'>>;
  private readonly endpoint: URL | undefined;
  private readonly pathStyle: boolean;
  private readonly log: Logger;
  /** The client for the region requests are signed for; replaced when the service names another. */
  private client: S3Client;
  private readonly credentials: ReturnType<typeof credentialSource>;
  private readonly agent: http.Agent;
  /** Aborts the requests under way when the store closes. */
  private readonly closing = new AbortController();
  private closed = false;

  constructor(options: S3StoreOptions) {
    const { logger: _logger, ...rest } = options;
    this.options = { ...defaults, prefix: '', ...stripUndefined(rest) };
    this.endpoint = options.endpoint === undefined ? undefined : parseEndpoint(options.endpoint);
    this.pathStyle = options.pathStyle === true;
    this.log = options.logger ?? createLogger('info', { component: 's3' });
    const agentOptions = { keepAlive: true, maxSockets: this.options.socketsMax, maxFreeSockets: this.options.socketsMax, scheduling: 'lifo' as const };
    this.agent = this.endpoint?.protocol === 'http:' ? new http.Agent(agentOptions) : new https.Agent(agentOptions);
    // One credential source for the store's life, so a region change keeps what it has fetched.
    this.credentials = credentialSource(options, this.describe());
    this.client = this.clientFor(this.options.region);
  }

  /** The region requests are signed for (the configured one, or the one the service redirected to). */
  get region(): string {
    return this.options.region;
  }

  private clientFor(region: string): S3Client {
    return new S3Client({
      region,
      ...(this.endpoint === undefined ? {} : { endpoint: this.endpoint.origin }),
      forcePathStyle: this.pathStyle,
      credentials: this.credentials,
      // One attempt per call: the loop in send() retries (see the header comment).
      maxAttempts: 1,
      // Region redirects are followed in send(), which then keeps the new region for every later
      // request; the SDK's own following would pay the redirect again on each request.
      followRegionRedirects: false,
      // Every PUT carries a checksum the service verifies (we compute the CRC32 ourselves, see put);
      // GETs of whole objects check the checksum the service returns.
      requestChecksumCalculation: 'WHEN_SUPPORTED',
      responseChecksumValidation: 'WHEN_SUPPORTED',
      logger: sdkLogger(this.log),
      requestHandler: {
        httpAgent: this.agent,
        httpsAgent: this.agent as https.Agent,
        connectionTimeout: this.options.requestTimeoutMs,
        // Applies to a socket that moves no byte, which is what requestTimeoutMs means.
        socketTimeout: this.options.requestTimeoutMs,
      },
    });
  }

  /** Where this store keeps its objects, for messages and logs. */
  describe(): string {
    const where = this.endpoint?.origin ?? `AWS S3 ${this.options.region}`;
    return `s3 ${where} bucket ${this.options.bucket}${this.options.prefix === '' ? '' : ` prefix ${this.options.prefix}`}`;
  }

  async put(key: string, body: Buffer | Buffer[], opts: { ifNoneMatch?: boolean } = {}): Promise<void> {
    const fullKey = this.fullKey(key);
    const buffers = (Array.isArray(body) ? body : [body]).filter((b) => b.length > 0);
    // CRC32 (the SDK's default algorithm; zlib computes it natively) over the parts as they are: no
    // joined copy of the body, and (since the body goes as a stream) no SHA-256 of it for the
    // signature either. The service recomputes it and refuses the PUT (400 BadDigest /
    // XAmzContentChecksumMismatch) if a byte changed on the way; a whole-object GET gets it back and
    // the SDK checks it (natively too: its CRC32C is byte-at-a-time JavaScript, 5x the CPU).
    let crc = 0;
    let sizeBytes = 0;
    for (const b of buffers) {
      crc = crc32(b, crc);
      sizeBytes += b.length;
    }
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32BE(crc >>> 0);
    const { outcome, retried } = await this.send(`put ${key}`, (abortSignal) =>
      this.client
        .send(
          new PutObjectCommand({
            Bucket: this.options.bucket,
            Key: fullKey,
            // A fresh stream per attempt; Readable.from hands each buffer on as it is.
            Body: Readable.from(buffers, { objectMode: false }),
            ContentLength: sizeBytes,
            ContentType: 'application/octet-stream',
            ChecksumCRC32: checksum.toString('base64'),
            ...(opts.ifNoneMatch === true ? { IfNoneMatch: '*' } : {}),
          }),
          { abortSignal },
        )
        .then(() => undefined),
    );
    if (outcome.kind === 'ok') return;
    if (outcome.status === 412 && opts.ifNoneMatch === true) {
      // An earlier attempt of ours may have created the object before its answer was lost; the
      // object is then ours if it holds exactly our bytes (the ETag of a single PUT is its MD5).
      if (retried && (await this.holdsBytes(key, buffers))) return;
      throw new ObjectExistsError(key);
    }
    throw this.failure(`put ${key}`, outcome);
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Buffer> {
    if (range !== undefined) {
      assert(
        Number.isSafeInteger(range.start) && Number.isSafeInteger(range.end) && range.start >= 0 && range.end > range.start,
        `an object range needs whole numbers 0 <= start < end, got [${range.start}, ${range.end})`,
      );
    }
    const fullKey = this.fullKey(key);
    const { outcome } = await this.send(`get ${key}`, async (abortSignal) => {
      const answer = await this.client.send(
        new GetObjectCommand({
          Bucket: this.options.bucket,
          Key: fullKey,
          ...(range === undefined ? {} : { Range: `bytes=${range.start}-${range.end - 1}` }),
        }),
        { abortSignal },
      );
      const body = await readBody(answer.Body as Readable | undefined, answer.ContentLength, this.options.requestTimeoutMs);
      return { status: answer.$metadata.httpStatusCode ?? 200, contentRange: answer.ContentRange, body };
    });
    if (outcome.kind === 'ok') {
      const { status, contentRange, body } = outcome.value;
      if (range === undefined) return body;
      if (status === 206) {
        const from = /^bytes (\d+)-/.exec(contentRange ?? '');
        if (from === null || Number(from[1]) !== range.start) {
          throw new ObjectStoreUnavailableError(`${this.describe()}: get ${key} answered range ${contentRange} for bytes=${range.start}-`);
        }
        return body;
      }
      // A service that ignores Range sends the whole object; cut it the way a 206 would have.
      if (range.start >= body.length) throw new ObjectRangeInvalidError(key, range.start, body.length);
      return body.subarray(range.start, Math.min(range.end, body.length));
    }
    if (outcome.status === 416 && range !== undefined) throw new ObjectRangeInvalidError(key, range.start);
    if (outcome.status === 404 && outcome.code !== 'NoSuchBucket') throw new ObjectNotFoundError(key);
    throw this.failure(`get ${key}`, outcome);
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const fullKey = this.fullKey(key);
    const { outcome } = await this.send(`head ${key}`, (abortSignal) =>
      this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: fullKey }), { abortSignal }),
    );
    if (outcome.kind === 'ok') return { key, sizeBytes: outcome.value.ContentLength ?? 0 };
    // A HEAD answer has no body, so a missing bucket looks like a missing object here.
    if (outcome.status === 404) return null;
    throw this.failure(`head ${key}`, outcome);
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    const strip = this.options.prefix.length;
    let token: string | undefined;
    for (;;) {
      const { outcome } = await this.send(`list ${JSON.stringify(prefix)}`, (abortSignal) =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.options.bucket,
            Prefix: this.options.prefix + prefix,
            MaxKeys: listPageKeysMax,
            // Lets any key, even one with control characters, travel in the XML answer.
            EncodingType: 'url',
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
          { abortSignal },
        ),
      );
      if (outcome.kind !== 'ok') throw this.failure(`list ${JSON.stringify(prefix)}`, outcome);
      const page = outcome.value;
      const urlEncoded = page.EncodingType === 'url';
      for (const item of page.Contents ?? []) {
        if (item.Key === undefined || item.Size === undefined) {
          throw new ObjectStoreUnavailableError(`${this.describe()}: a list answer has an entry without Key or Size`);
        }
        // S3 encodes a space as '+' in url-encoded keys.
        const fullKey = urlEncoded ? decodeURIComponent(item.Key.replaceAll('+', ' ')) : item.Key;
        out.push({ key: fullKey.slice(strip), sizeBytes: item.Size });
      }
      if (page.IsTruncated !== true) return out;
      if (page.NextContinuationToken === undefined || page.NextContinuationToken === token) {
        throw new ObjectStoreUnavailableError(`${this.describe()}: list ${JSON.stringify(prefix)} got a truncated page without a new continuation token`);
      }
      token = page.NextContinuationToken;
    }
  }

  async delete(key: string): Promise<void> {
    const fullKey = this.fullKey(key);
    const { outcome } = await this.send(`delete ${key}`, (abortSignal) =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: fullKey }), { abortSignal }),
    );
    if (outcome.kind === 'ok') return;
    // S3 answers 204 for a missing key; some compatible services answer 404 NoSuchKey.
    if (outcome.status === 404 && outcome.code === 'NoSuchKey') return;
    throw this.failure(`delete ${key}`, outcome);
  }

  /** Creates the bucket unless this account already owns it. For tests and first-time setup. */
  async createBucket(): Promise<void> {
    const { region, bucket } = this.options;
    const { outcome } = await this.send('create bucket', (abortSignal) =>
      this.client.send(
        new CreateBucketCommand({
          Bucket: bucket,
          ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
        }),
        { abortSignal },
      ),
    );
    if (outcome.kind === 'ok' || outcome.code === 'BucketAlreadyOwnedByYou') return;
    throw this.failure('create bucket', outcome);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    this.client.destroy();
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
    const fullKey = this.fullKey(key);
    const { outcome } = await this.send(`head ${key}`, (abortSignal) =>
      this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: fullKey }), { abortSignal }),
    );
    if (outcome.kind !== 'ok') return false;
    const md5 = createHash('md5');
    for (const b of buffers) md5.update(b);
    return (outcome.value.ETag ?? '').replaceAll('"', '') === md5.digest('hex');
  }

  /** Maps an answer the caller did not expect to an error that says what to fix. */
  private failure(what: string, outcome: { status: number; code: string; message: string }): StraitError {
    const answer = outcome.code === '' ? `HTTP ${outcome.status}` : `${outcome.status} ${outcome.code}`;
    const detail = `${this.describe()}: ${what} failed with ${answer}${outcome.message === '' ? '' : `: ${outcome.message}`}`;
    if (outcome.status === 403 || outcome.status === 401) {
      return new ObjectStoreAccessDeniedError(`${detail} (check the access key id, secret access key, session token and the bucket policy)`);
    }
    return new ObjectStoreRequestError(detail, outcome.status, outcome.code);
  }

  /** Runs one operation, retrying transient failures; resolves with the first non-transient one.
   *  A redirect to the bucket's region is followed once per operation, at once (not an attempt),
   *  and the store keeps that region for every later request. */
  private async send<T>(what: string, call: (abortSignal: AbortSignal) => Promise<T>): Promise<Sent<T>> {
    assert(!this.closed, `${this.describe()} used after close()`);
    const started = Date.now();
    let lastError = '';
    let redirected = false;
    for (let attempt = 1; attempt <= this.options.attemptsMax; attempt++) {
      if (attempt > 1) await sleep(this.backoffMs(attempt - 1));
      let outcome = await this.attempt(call);
      if (outcome.kind === 'redirect' && !redirected) {
        redirected = true;
        this.useRegion(outcome.region);
        outcome = await this.attempt(call);
      }
      if (outcome.kind === 'redirect') {
        const { status, code, message } = outcome;
        const tail = `the bucket is in region ${outcome.region}, and a second redirect in one operation is not followed`;
        return { outcome: { kind: 'answer', status, code, message: message === '' ? tail : `${message} (${tail})` }, retried: attempt > 1 };
      }
      if (outcome.kind !== 'transient') return { outcome, retried: attempt > 1 };
      lastError = outcome.reason;
      if (this.closed) break;
    }
    throw new ObjectStoreUnavailableError(
      `${this.describe()}: ${what} failed after ${this.options.attemptsMax} attempts in ${Date.now() - started} ms: ${lastError}`,
    );
  }

  /** Signs from now on for the region the service named (a wrong s3.region, or a moved bucket). */
  private useRegion(region: string): void {
    if (region === this.options.region) return;
    this.log.warn(`the service says the bucket is in region ${region}, not ${this.options.region}; using ${region} (set s3.region=${region})`, { store: this.describe() });
    this.options = { ...this.options, region };
    // The old client is not destroyed: that would close the shared agent under requests in flight.
    this.client = this.clientFor(region);
  }

  private backoffMs(retry: number): number {
    const ceiling = Math.min(this.options.backoffMsMax, this.options.backoffMsMin * 2 ** (retry - 1));
    // "Equal jitter": half fixed, half random, so retries of many callers spread out.
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  private async attempt<T>(call: (abortSignal: AbortSignal) => Promise<T>): Promise<Outcome<T>> {
    try {
      return { kind: 'ok', value: await call(this.closing.signal) };
    } catch (error) {
      return classify(error, this.options.requestTimeoutMs, this.describe());
    }
  }
}

/** The SDK's own log lines. Its error lines repeat, as whole objects, the failures this store
 *  turns into StraitErrors, so they are dropped; its warnings go to the store's logger, except the one it
 *  prints for every failed PUT with a stream body (which it does not retry; our loop does). */
function sdkLogger(log: Logger) {
  return {
    debug: (): void => undefined,
    info: (): void => undefined,
    trace: (): void => undefined,
    warn: (...message: unknown[]): void => {
      const text = message.map(String).join(' ');
      if (!text.startsWith('An error was encountered in a non-retryable streaming request')) log.warn(`AWS SDK: ${text}`);
    },
    error: (): void => undefined,
  };
}

/** Static keys when given (they win), else the standard AWS chain, whose failures become a
 *  StraitError that names every source it tried. */
function credentialSource(options: S3StoreOptions, where: string) {
  if (options.accessKeyId !== undefined || options.secretAccessKey !== undefined) {
    if (options.accessKeyId === undefined || options.secretAccessKey === undefined || options.accessKeyId === '' || options.secretAccessKey === '') {
      throw new StraitError('STRAIT_CONFIG_INVALID', 'S3 static credentials need both the access key id and the secret access key (or neither, for the AWS credential chain)');
    }
    const sessionToken = options.sessionToken === '' ? undefined : options.sessionToken;
    return { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) };
  }
  // The chain memoizes what it found and fetches again once the credentials are within five
  // minutes of their expiration, so a session token is renewed before it runs out.
  const chain = fromNodeProviderChain(options.profile === undefined ? {} : { profile: options.profile });
  return async (identityProperties?: Record<string, unknown>) => {
    try {
      return await chain(identityProperties);
    } catch (error) {
      throw new ObjectStoreCredentialsError(
        `${where}: no AWS credentials: ${(error as Error).message} (the chain tries, in order: the environment AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the shared config and credentials files for AWS_PROFILE or s3.profile, web identity AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, container credentials AWS_CONTAINER_CREDENTIALS_FULL_URI/RELATIVE_URI, EC2 instance metadata; or set s3.access.key.id and s3.secret.access.key)`,
      );
    }
  };
}

/** Sorts an SDK error: an answer from the service, a transient failure, or one to throw as is. */
function classify(error: unknown, requestTimeoutMs: number, where: string): Outcome<never> {
  if (error instanceof StraitError) throw error;
  const e = error as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number }; $response?: { statusCode?: number } };
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  if (status !== undefined && status > 0) {
    // The SDK names a modelled or XML-parsed error by its S3 code; a bodiless answer (HEAD, some
    // proxies) gets a generic name such as 'NotFound', 'Forbidden' or 'Unknown'.
    const code = e.name === undefined || e.name === 'Unknown' || /^\d+$/.test(e.name) ? '' : e.name;
    const message = e.message === undefined || e.message === 'UnknownError' || e.message === code ? '' : e.message;
    if (isTransientStatus(status, code)) return { kind: 'transient', reason: `${status} ${code}`.trim() };
    const region = redirectRegion(status, code, error);
    if (region !== undefined) return { kind: 'redirect', region, status, code, message };
    return { kind: 'answer', status, code, message };
  }
  if (e.name === 'AbortError') throw new ObjectStoreUnavailableError(`${where}: the store was closed`);
  if (e.name === 'TimeoutError' || e.code === 'ETIMEDOUT') return { kind: 'transient', reason: `no answer for ${requestTimeoutMs} ms` };
  const code = e.code;
  const message = e.message ?? String(error);
  if (code !== undefined) return { kind: 'transient', reason: message.includes(code) ? message : `${code} ${message}` };
  // An error of the SDK itself with no answer behind it (e.g. an XML it could not parse): the
  // connection or the answer was damaged on the way, which another attempt may fix.
  return { kind: 'transient', reason: `${e.name ?? 'Error'}: ${message}` };
}

/** The region a 301 PermanentRedirect (or a bodiless 301 of a HEAD) or a 400
 *  AuthorizationHeaderMalformed names, from the x-amz-bucket-region header or the error's Region. */
function redirectRegion(status: number, code: string, error: unknown): string | undefined {
  if (status !== 301 && !(status === 400 && code === 'AuthorizationHeaderMalformed')) return undefined;
  const e = error as { Region?: unknown; $response?: { headers?: Record<string, string | undefined> } };
  const header = e.$response?.headers?.['x-amz-bucket-region'];
  const region = typeof header === 'string' && header !== '' ? header : typeof e.Region === 'string' ? e.Region : '';
  return /^[a-z0-9-]{1,64}$/.test(region) ? region : undefined;
}

function isTransientStatus(status: number, code: string): boolean {
  if (status >= 500 || status === 429 || status === 408) return true;
  // S3 asks for a retry when two conditional writes to one key overlap, and when it gave up
  // waiting for a slow request body.
  return (status === 409 && code === 'ConditionalRequestConflict') || (status === 400 && code === 'RequestTimeout');
}

/** Reads a response body into one buffer (of the declared length when there is one), failing when
 *  no byte arrives for idleMsMax (a frozen service after the headers). */
async function readBody(stream: Readable | undefined, declared: number | undefined, idleMsMax: number): Promise<Buffer> {
  if (stream === undefined) return Buffer.alloc(0);
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => stream.destroy(Object.assign(new Error(`no answer for ${idleMsMax} ms`), { name: 'TimeoutError' })), idleMsMax);
    };
    arm();
    stream.on('data', (chunk: Buffer) => {
      arm();
      chunks.push(chunk);
      total += chunk.length;
    });
    stream.once('error', (error) => {
      clearTimeout(timer);
      reject(Object.assign(error, { code: (error as NodeJS.ErrnoException).code ?? 'ECONNRESET' }));
    });
    stream.once('end', () => {
      clearTimeout(timer);
      if (declared !== undefined && total !== declared) {
        reject(Object.assign(new Error(`the body ended after ${total} of ${declared} bytes`), { code: 'ECONNRESET' }));
        return;
      }
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
    });
  });
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

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
