// One socket to one broker: size-prefixed frames, pipelined requests matched to responses by
// correlation id, a bounded number in flight (the rest wait in a bounded queue), a time limit per
// request, and the opening handshake — ApiVersions (KIP-511 fallback included) and SASL — after
// which every request uses the highest version both sides know.
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { API_SPECS, ApiKey } from '../../protocol/generated/api-table.ts';
import type { ApiSpec } from '../../protocol/generated/api-table.ts';
import { ErrorCode } from '../../protocol/generated/errors.ts';
import { RequestHeader } from '../../protocol/generated/request-header.ts';
import type { ApiVersionsResponse } from '../../protocol/generated/api-versions-response.ts';
import type { SaslHandshakeResponse } from '../../protocol/generated/sasl-handshake-response.ts';
import type { SaslAuthenticateResponse } from '../../protocol/generated/sasl-authenticate-response.ts';
import { Reader, SizeCache, Writer } from '../../protocol/primitives.ts';
import {
  KafkaClientError,
  asClientError,
  closedError,
  connectionError,
  kafkaError,
  protocolError,
  timeoutError,
} from './errors.ts';
import { CLIENT_SOFTWARE_NAME, CLIENT_SOFTWARE_VERSION } from './options.ts';
import type { ClientSettings, Endpoint } from './options.ts';
import { createSaslExchange, SaslError } from './sasl.ts';
import { nowMs } from './time.ts';

/** Responses larger than this close the connection: a broker never sends them honestly. */
const RESPONSE_BYTES_MAX = 1024 * 1024 * 1024;
/** Record fields at least this large go to the socket as they are instead of being copied. */
const SPLICE_BYTES_MIN = 16 * 1024;
const CORRELATION_ID_MAX = 0x7fffffff;

export interface VersionRange {
  minVersion: number;
  maxVersion: number;
}

export interface VersionBounds {
  /** Lowest version the operation can use (it needs a field that came later). */
  versionMin?: number;
  /** Highest version the operation can use (it lacks what a later version requires). */
  versionMax?: number;
}

export interface NegotiatedApi {
  apiKey: number;
  name: string;
  /** null when the broker does not serve the API, or this client does not know it. */
  broker: VersionRange | null;
  client: VersionRange | null;
  /** The version requests use: the highest both know; null when they share none. */
  version: number | null;
}

interface Pending {
  apiKey: number;
  version: number;
  body: unknown;
  correlationId: number;
  timer: NodeJS.Timeout | null;
  resolve: (response: unknown) => void;
  reject: (err: KafkaClientError) => void;
}

export class BrokerConnection {
  readonly endpoint: Endpoint;
  /**
   * "broker 1 at 127.0.0.1:9092", or "bootstrap 127.0.0.1:9092" until metadata names the broker
   * behind the address; for error messages.
   */
  label: string;
  private readonly socket: Socket;
  private readonly settings: ClientSettings;
  private versions = new Map<number, VersionRange>();
  private readonly inFlight = new Map<number, Pending>();
  private readonly queue: Pending[] = [];
  private nextCorrelationId = 1;
  private failure: KafkaClientError | null = null;
  private readonly closeListeners: ((err: KafkaClientError) => void)[] = [];
  private readonly frames = new FrameReader();

  private constructor(socket: Socket, endpoint: Endpoint, label: string, settings: ClientSettings) {
    this.socket = socket;
    this.endpoint = endpoint;
    this.label = label;
    this.settings = settings;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(connectionError(`connection to ${this.label} failed: ${err.message}`, err)));
    socket.on('close', () => this.fail(connectionError(`connection to ${this.label} closed by the broker`)));
  }

  /**
   * Connects, negotiates API versions and authenticates. Everything must finish by deadlineMs
   * (a nowMs() value); the TCP/TLS connect alone also has settings.connectTimeoutMs.
   */
  static async open(endpoint: Endpoint, label: string, settings: ClientSettings, deadlineMs: number): Promise<BrokerConnection> {
    const socket = await connectSocket(endpoint, label, settings, deadlineMs);
    const conn = new BrokerConnection(socket, endpoint, label, settings);
    try {
      await conn.negotiateVersions(deadlineMs);
      if (settings.sasl) await conn.authenticate(deadlineMs);
      return conn;
    } catch (err) {
      const error = asClientError(err, `opening ${label}`);
      conn.close(error);
      throw error;
    }
  }

  get isOpen(): boolean {
    return this.failure === null;
  }

  get inFlightCount(): number {
    return this.inFlight.size + this.queue.length;
  }

  /** The broker's version range for an API, or null if it does not serve it. */
  supports(apiKey: number): VersionRange | null {
    return this.versions.get(apiKey) ?? null;
  }

  /** Every API the broker or this client knows, with both ranges and the version requests will use. */
  negotiated(): NegotiatedApi[] {
    const keys = new Set([...this.versions.keys(), ...API_SPECS.keys()]);
    return [...keys].sort((a, b) => a - b).map((apiKey) => {
      const spec = API_SPECS.get(apiKey);
      const broker = this.versions.get(apiKey) ?? null;
      const ours = spec ? ourVersions(spec) : null;
      // An API whose only version is still unstable is one this client does not speak yet.
      const client = ours && ours.maxVersion >= ours.minVersion ? ours : null;
      const lo = Math.max(broker?.minVersion ?? Infinity, client?.minVersion ?? Infinity);
      const hi = Math.min(broker?.maxVersion ?? -1, client?.maxVersion ?? -1);
      return { apiKey, name: spec?.name ?? `API ${apiKey}`, broker, client, version: lo <= hi ? hi : null };
    });
  }

  /** The highest version of an API both sides know within bounds; throws when there is none. */
  pickVersion(apiKey: number, bounds: VersionBounds = {}): number {
    const spec = API_SPECS.get(apiKey);
    if (!spec) throw protocolError(`API key ${apiKey} is unknown to this client`);
    const theirs = this.versions.get(apiKey);
    if (!theirs) throw unsupported(`${this.label} does not support ${spec.name} (API key ${apiKey})`);
    const ours = ourVersions(spec);
    if (ours.maxVersion < ours.minVersion) throw unsupported(`this client has no stable version of ${spec.name}`);
    const lo = Math.max(ours.minVersion, theirs.minVersion, bounds.versionMin ?? 0);
    const hi = Math.min(ours.maxVersion, theirs.maxVersion, bounds.versionMax ?? Infinity);
    if (lo > hi) {
      const needs = bounds.versionMin !== undefined || bounds.versionMax !== undefined
        ? `, the operation needs v${bounds.versionMin ?? 0}-${bounds.versionMax ?? ours.maxVersion}`
        : '';
      throw unsupported(
        `no common version of ${spec.name}: ${this.label} supports v${theirs.minVersion}-${theirs.maxVersion}, ` +
          `this client v${ours.minVersion}-${ours.maxVersion}${needs}`,
      );
    }
    return hi;
  }

  /** Sends a request at the highest common version; resolves with that version and the decoded response. */
  async request<T>(apiKey: number, build: (version: number) => unknown, timeoutMs: number, bounds: VersionBounds = {}): Promise<{ version: number; response: T }> {
    const version = this.pickVersion(apiKey, bounds);
    const response = await this.send<T>(apiKey, version, build(version), timeoutMs);
    return { version, response };
  }

  /** Sends one request at a given version. The timeout counts from now, queueing included. */
  send<T>(apiKey: number, version: number, body: unknown, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      const pending: Pending = { apiKey, version, body, correlationId: -1, timer: null, resolve: resolve as (r: unknown) => void, reject };
      pending.timer = setTimeout(() => this.onTimeout(pending, timeoutMs), Math.max(1, timeoutMs));
      if (this.inFlight.size < this.settings.inFlightRequestsMax) return this.dispatch(pending);
      if (this.queue.length >= this.settings.queuedRequestsMax) {
        clearTimeout(pending.timer);
        return reject(new KafkaClientError(
          'STRAIT_LINK_QUEUE_FULL',
          `${this.label}: ${this.queue.length} requests already wait for one of ${this.settings.inFlightRequestsMax} in-flight slots`,
          ErrorCode.NETWORK_EXCEPTION,
          { retriable: true },
        ));
      }
      this.queue.push(pending);
    });
  }

  onClose(listener: (err: KafkaClientError) => void): void {
    if (this.failure) listener(this.failure);
    else this.closeListeners.push(listener);
  }

  /** Closes the socket; requests in flight or queued fail with err (the client closed, by default). */
  close(err: KafkaClientError = closedError(`connection to ${this.label} was closed by the client`)): void {
    this.fail(err);
  }

  // ---- sending and receiving ------------------------------------------------------------------

  private dispatch(p: Pending): void {
    let parts: Buffer[];
    try {
      p.correlationId = this.nextCorrelationId;
      this.nextCorrelationId = this.nextCorrelationId >= CORRELATION_ID_MAX ? 1 : this.nextCorrelationId + 1;
      parts = encodeRequestFrame(p.apiKey, p.version, p.body, p.correlationId, this.settings.clientId);
    } catch (err) {
      // A value this version cannot carry: the caller's mistake, the connection is fine.
      clearTimeout(p.timer!);
      return p.reject(asClientError(err, `encoding ${apiName(p.apiKey)} v${p.version} for ${this.label}`));
    }
    this.inFlight.set(p.correlationId, p);
    this.socket.cork();
    for (const part of parts) this.socket.write(part);
    this.socket.uncork();
  }

  private onData(chunk: Buffer): void {
    try {
      this.frames.push(chunk, (frame) => this.onFrame(frame));
    } catch (err) {
      this.fail(asClientError(err, `response from ${this.label}`));
    }
  }

  private onFrame(frame: Buffer): void {
    if (frame.length < 4) throw protocolError(`${this.label} sent a ${frame.length}-byte response`);
    const correlationId = frame.readInt32BE(0);
    const p = this.inFlight.get(correlationId);
    // Kafka answers a connection's requests in order, so an unknown id means the stream is broken.
    if (!p) throw protocolError(`${this.label} answered correlation id ${correlationId}, which is not in flight`);
    this.inFlight.delete(correlationId);
    clearTimeout(p.timer!);
    let response: unknown;
    try {
      response = decodeResponse(p.apiKey, p.version, frame);
    } catch (err) {
      p.reject(asClientError(err, `decoding ${apiName(p.apiKey)} v${p.version} from ${this.label}`));
      throw err;
    }
    p.resolve(response);
    this.pump();
  }

  private pump(): void {
    while (this.failure === null && this.queue.length > 0 && this.inFlight.size < this.settings.inFlightRequestsMax) {
      this.dispatch(this.queue.shift()!);
    }
  }

  private onTimeout(p: Pending, timeoutMs: number): void {
    const error = timeoutError(`${apiName(p.apiKey)} request to ${this.label} got no response within ${Math.round(timeoutMs)} ms`);
    const queued = this.queue.indexOf(p);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      return p.reject(error);
    }
    if (!this.inFlight.has(p.correlationId)) return;
    // The answer may still come, behind others; as the Java client does, give up on the whole
    // connection rather than keep a stream whose state nobody knows.
    this.inFlight.delete(p.correlationId);
    p.reject(error);
    this.fail(connectionError(`connection to ${this.label} closed after a request timed out`));
  }

  private fail(err: KafkaClientError): void {
    if (this.failure) return;
    this.failure = err;
    this.socket.destroy();
    const pending = [...this.inFlight.values(), ...this.queue];
    this.inFlight.clear();
    this.queue.length = 0;
    for (const p of pending) {
      clearTimeout(p.timer!);
      p.reject(err);
    }
    for (const listener of this.closeListeners.splice(0)) listener(err);
  }

  // ---- opening handshake ----------------------------------------------------------------------

  private async negotiateVersions(deadlineMs: number): Promise<void> {
    // Until we know better, assume the broker speaks every ApiVersions version we do.
    const ours = ourVersions(API_SPECS.get(ApiKey.ApiVersions)!);
    this.versions.set(ApiKey.ApiVersions, ours);
    let version = ours.maxVersion;
    for (;;) {
      const body = { clientSoftwareName: CLIENT_SOFTWARE_NAME, clientSoftwareVersion: CLIENT_SOFTWARE_VERSION };
      const response = await this.send<ApiVersionsResponse>(ApiKey.ApiVersions, version, body, remaining(deadlineMs, this.settings));
      if (response.errorCode === ErrorCode.UNSUPPORTED_VERSION) {
        // KIP-511: the broker answered in v0 with its own ApiVersions range; ask again within it.
        const theirs = response.apiKeys.find((k) => k.apiKey === ApiKey.ApiVersions);
        const next = Math.min(theirs?.maxVersion ?? 0, version - 1);
        if (version === 0 || next < ours.minVersion) throw unsupported(`${this.label} supports no ApiVersions version this client knows`);
        version = next;
        continue;
      }
      if (response.errorCode !== ErrorCode.NONE) throw kafkaError(response.errorCode, `ApiVersions from ${this.label}`);
      this.versions = new Map(response.apiKeys.map((k) => [k.apiKey, { minVersion: k.minVersion, maxVersion: k.maxVersion }]));
      return;
    }
  }

  private async authenticate(deadlineMs: number): Promise<void> {
    const sasl = this.settings.sasl!;
    const exchange = createSaslExchange(sasl);
    // Handshake v0 sends the tokens unframed; v1 (Kafka 1.0+) wraps them in SaslAuthenticate.
    const { response: hs } = await this.request<SaslHandshakeResponse>(
      ApiKey.SaslHandshake, () => ({ mechanism: sasl.mechanism }), remaining(deadlineMs, this.settings), { versionMin: 1 },
    );
    if (hs.errorCode !== ErrorCode.NONE) {
      throw authError(`${this.label} refused SASL mechanism ${sasl.mechanism} (it enables ${hs.mechanisms.join(', ') || 'none'})`, hs.errorCode);
    }
    let token: Buffer | null = exchange.initial();
    while (token !== null) {
      const authBytes: Buffer = token;
      const { response } = await this.request<SaslAuthenticateResponse>(
        ApiKey.SaslAuthenticate, () => ({ authBytes }), remaining(deadlineMs, this.settings),
      );
      if (response.errorCode !== ErrorCode.NONE) {
        const why = response.errorMessage ?? '';
        throw authError(`SASL ${sasl.mechanism} authentication as ${sasl.username} to ${this.label} failed${why ? `: ${why}` : ''}`, response.errorCode);
      }
      try {
        token = exchange.respond(response.authBytes);
      } catch (err) {
        if (err instanceof SaslError) throw authError(`SASL ${sasl.mechanism} with ${this.label}: ${err.message}`, ErrorCode.SASL_AUTHENTICATION_FAILED);
        throw err;
      }
    }
  }
}

// ---- helpers ------------------------------------------------------------------------------------

function ourVersions(spec: ApiSpec): VersionRange {
  // A version the generator marks unstable may still change shape; never use it against a broker.
  return { minVersion: spec.minVersion, maxVersion: spec.latestVersionUnstable ? spec.maxVersion - 1 : spec.maxVersion };
}

function apiName(apiKey: number): string {
  return API_SPECS.get(apiKey)?.name ?? `API ${apiKey}`;
}

function unsupported(message: string): KafkaClientError {
  return new KafkaClientError('STRAIT_LINK_UNSUPPORTED_VERSION', message, ErrorCode.UNSUPPORTED_VERSION, { retriable: false });
}

function authError(message: string, errorCode: number): KafkaClientError {
  return new KafkaClientError('STRAIT_LINK_AUTHENTICATION', message, errorCode, { retriable: false });
}

function remaining(deadlineMs: number, settings: ClientSettings): number {
  return Math.max(1, Math.min(settings.requestTimeoutMs, deadlineMs - nowMs()));
}

function isFlexible(spec: ApiSpec, version: number): boolean {
  return spec.flexibleMinVersion >= 0 && version >= spec.flexibleMinVersion;
}

/** Size prefix, request header (v1, or v2 for flexible versions) and body, large records not copied. */
export function encodeRequestFrame(apiKey: number, version: number, body: unknown, correlationId: number, clientId: string): Buffer[] {
  const spec = API_SPECS.get(apiKey)!;
  const headerVersion = isFlexible(spec, version) ? 2 : 1;
  const header = { requestApiKey: apiKey, requestApiVersion: version, correlationId, clientId };
  const c = new SizeCache();
  c.spliceBytesMin = SPLICE_BYTES_MIN;
  const headerSize = RequestHeader.size(header, headerVersion, c);
  const bodySize = spec.request.size(body, version, c);
  const w = new Writer(Buffer.allocUnsafe(4 + headerSize + bodySize - c.splicedBytes));
  w.enableSplicing();
  w.int32(headerSize + bodySize);
  RequestHeader.write(w, header, headerVersion, c);
  spec.request.write(w, body, version, c);
  return w.finish();
}

/** Response header (v0, or v1 for flexible versions except ApiVersions, KIP-511) and body. */
export function decodeResponse(apiKey: number, version: number, frame: Buffer): unknown {
  const spec = API_SPECS.get(apiKey)!;
  const r = new Reader(frame, 4);
  if (apiKey === ApiKey.ApiVersions) {
    // A broker that does not know our version answers UNSUPPORTED_VERSION in v0 (KIP-511). The
    // error code is the first field in every version, so peek at it before choosing how to read.
    const errorCode = r.remaining >= 2 ? frame.readInt16BE(4) : 0;
    return spec.response.read(r, errorCode === ErrorCode.UNSUPPORTED_VERSION ? 0 : version);
  }
  if (isFlexible(spec, version)) {
    const tags = r.uvarint();
    for (let i = 0; i < tags; i++) {
      r.uvarint();
      r.view(r.uvarint());
    }
  }
  return spec.response.read(r, version);
}

/** Cuts a byte stream into size-prefixed frames, copying only frames that span chunks. */
class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private frameSize = -1;

  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.frameSize < 0) {
        if (this.buffered < 4) return;
        const size = this.take(4).readInt32BE(0);
        if (size < 0 || size > RESPONSE_BYTES_MAX) throw protocolError(`response frame of ${size} bytes`);
        this.frameSize = size;
      }
      if (this.buffered < this.frameSize) return;
      const frame = this.take(this.frameSize);
      this.frameSize = -1;
      onFrame(frame);
    }
  }

  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const used = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, used);
      filled += used;
      if (used === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(used);
    }
    return out;
  }
}

/** Opens TCP (or TLS) within the connect timeout and the deadline, whichever comes first. */
function connectSocket(endpoint: Endpoint, label: string, settings: ClientSettings, deadlineMs: number): Promise<Socket> {
  const timeoutMs = Math.max(1, Math.min(settings.connectTimeoutMs, deadlineMs - nowMs()));
  return new Promise((resolve, reject) => {
    const tls = settings.tls;
    let tcpUp = false;
    const socket: Socket = tls
      ? tlsConnect({ ...tls, host: endpoint.host, port: endpoint.port, servername: tls.servername ?? serverNameFor(endpoint.host) })
      : netConnect({ host: endpoint.host, port: endpoint.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(timeoutError(`connecting to ${label} took longer than ${Math.round(timeoutMs)} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      tcpUp = true;
    });
    socket.once(tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      // A TLS handshake that fails after TCP is up is a trust or configuration problem (a
      // certificate the client does not accept): retrying will not fix it.
      if (tls && tcpUp) reject(authError(`TLS handshake with ${label} failed: ${err.message}`, ErrorCode.SASL_AUTHENTICATION_FAILED));
      else reject(connectionError(`cannot connect to ${label}: ${err.code ?? err.message}`, err));
    });
  });
}

/** SNI must be a host name, never an IP address (RFC 6066). */
function serverNameFor(host: string): string | undefined {
  return /^[\d.]+$/.test(host) || host.includes(':') ? undefined : host;
}
