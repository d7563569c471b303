// What a link client is configured with: where the source cluster is, how to reach it securely, and
// the bounds on time, retries and queues. Defaults follow the Java client's where it has the same
// setting (request.timeout.ms, reconnect.backoff.ms, retry.backoff.ms, metadata.max.age.ms).
import type { ConnectionOptions as NodeTlsOptions } from 'node:tls';
import type { Logger } from '../../common/logger.ts';
import { silentLogger } from '../../common/logger.ts';
import { invalidArgument } from './errors.ts';

export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
export type SaslMechanismName = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

export interface SaslOptions {
  mechanism: SaslMechanismName;
  username: string;
  password: string;
  /** PLAIN only: the identity to act as, when it differs from username (rarely used). */
  authorizationId?: string;
}

/**
 * TLS settings, handed to node:tls connect as they are (ca, cert, key, passphrase, servername,
 * rejectUnauthorized, minVersion…). host and port come from the broker address and are not settable.
 */
export type TlsOptions = Omit<NodeTlsOptions, 'host' | 'port' | 'socket' | 'path'>;

export interface KafkaClientOptions {
  /** Bootstrap brokers as "host:port", a list or one comma-separated string. */
  bootstrap: string | string[];
  clientId?: string;
  /** PLAINTEXT unless set; SSL and SASL_SSL need `tls` (at least `{}` to trust the system CAs). */
  securityProtocol?: SecurityProtocol;
  tls?: TlsOptions;
  /** Required for SASL_PLAINTEXT and SASL_SSL. */
  sasl?: SaslOptions;
  /** Time to open a TCP (and TLS) connection, before the ApiVersions and SASL exchange. */
  connectTimeoutMs?: number;
  /** Longest wait for one response (a fetch adds its maxWaitMs to this). */
  requestTimeoutMs?: number;
  /** Default time limit of one operation, retries included; each call may set its own. */
  apiTimeoutMs?: number;
  /** Requests written to one connection and not yet answered. */
  inFlightRequestsMax?: number;
  /** Requests waiting for a connection's in-flight slot; beyond this a request fails at once. */
  queuedRequestsMax?: number;
  /** First wait before reconnecting to a broker; doubles per failure up to reconnectBackoffMsMax. */
  reconnectBackoffMs?: number;
  reconnectBackoffMsMax?: number;
  /** First wait before retrying an operation after a retriable error; doubles up to retryBackoffMsMax. */
  retryBackoffMs?: number;
  retryBackoffMsMax?: number;
  /** Retries of one operation after retriable errors, on top of the first attempt. */
  retriesMax?: number;
  /** Metadata older than this is refreshed before it is used to route a request. */
  metadataMaxAgeMs?: number;
  log?: Logger;
}

export interface Endpoint {
  host: string;
  port: number;
}

/** Options with every default applied and checked; what the rest of the client reads. */
export interface ClientSettings {
  bootstrap: Endpoint[];
  clientId: string;
  securityProtocol: SecurityProtocol;
  tls: TlsOptions | null;
  sasl: SaslOptions | null;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  apiTimeoutMs: number;
  inFlightRequestsMax: number;
  queuedRequestsMax: number;
  reconnectBackoffMs: number;
  reconnectBackoffMsMax: number;
  retryBackoffMs: number;
  retryBackoffMsMax: number;
  retriesMax: number;
  metadataMaxAgeMs: number;
  log: Logger;
}

export const CLIENT_SOFTWARE_NAME = 'strait-link';
export const CLIENT_SOFTWARE_VERSION = '0.1.0';

export function parseEndpoint(text: string): Endpoint {
  const s = text.trim();
  // "[::1]:9092" for IPv6, "host:9092" otherwise.
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:\s]+):(\d+)$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalidArgument(`bootstrap server ${JSON.stringify(text)} is not host:port`);
  }
  return { host: m[1]!, port };
}

export function endpointKey(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

function positive(name: string, value: number | undefined, fallback: number, min = 1): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < min) throw invalidArgument(`${name} must be a number >= ${min}, not ${value}`);
  return v;
}

export function resolveSettings(options: KafkaClientOptions): ClientSettings {
  const list = typeof options.bootstrap === 'string' ? options.bootstrap.split(',') : options.bootstrap;
  const bootstrap = list.filter((s) => s.trim() !== '').map(parseEndpoint);
  if (bootstrap.length === 0) throw invalidArgument('at least one bootstrap server is required');
  const securityProtocol = options.securityProtocol ?? 'PLAINTEXT';
  const usesTls = securityProtocol === 'SSL' || securityProtocol === 'SASL_SSL';
  const usesSasl = securityProtocol === 'SASL_PLAINTEXT' || securityProtocol === 'SASL_SSL';
  if (usesSasl && !options.sasl) throw invalidArgument(`securityProtocol ${securityProtocol} needs sasl options`);
  if (!usesSasl && options.sasl) throw invalidArgument(`sasl options need securityProtocol SASL_PLAINTEXT or SASL_SSL, not ${securityProtocol}`);
  if (!usesTls && options.tls) throw invalidArgument(`tls options need securityProtocol SSL or SASL_SSL, not ${securityProtocol}`);
  const reconnectBackoffMs = positive('reconnectBackoffMs', options.reconnectBackoffMs, 50);
  const retryBackoffMs = positive('retryBackoffMs', options.retryBackoffMs, 100);
  return {
    bootstrap,
    clientId: options.clientId ?? 'strait-link',
    securityProtocol,
    tls: usesTls ? (options.tls ?? {}) : null,
    sasl: usesSasl ? options.sasl! : null,
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, 10_000),
    requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, 30_000),
    apiTimeoutMs: positive('apiTimeoutMs', options.apiTimeoutMs, 60_000),
    inFlightRequestsMax: positive('inFlightRequestsMax', options.inFlightRequestsMax, 16),
    queuedRequestsMax: positive('queuedRequestsMax', options.queuedRequestsMax, 1024, 0),
    reconnectBackoffMs,
    reconnectBackoffMsMax: positive('reconnectBackoffMsMax', options.reconnectBackoffMsMax, Math.max(1000, reconnectBackoffMs)),
    retryBackoffMs,
    retryBackoffMsMax: positive('retryBackoffMsMax', options.retryBackoffMsMax, Math.max(1000, retryBackoffMs)),
    retriesMax: positive('retriesMax', options.retriesMax, 20, 0),
    metadataMaxAgeMs: positive('metadataMaxAgeMs', options.metadataMaxAgeMs, 300_000),
    log: options.log ?? silentLogger,
  };
}

/** Exponential backoff with ±20 % jitter (so many clients do not retry in step), capped at maxMs. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(1, Math.round(exp * (0.8 + Math.random() * 0.4)));
}
