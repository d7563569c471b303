// What every operation of the client shares: settings, the connection pool, the metadata view with
// its refresh rules, group coordinators, and the retry loop with its deadline and backoff.
import { ApiKey } from '../../protocol/generated/api-table.ts';
import { ErrorCode } from '../../protocol/generated/errors.ts';
import type { MetadataResponse } from '../../protocol/generated/metadata-response.ts';
import type { FindCoordinatorResponse } from '../../protocol/generated/find-coordinator-response.ts';
import { ZERO_UUID } from '../../protocol/primitives.ts';
import type { BrokerConnection } from './connection.ts';
import {
  KafkaClientError,
  asClientError,
  closedError,
  isCoordinatorMoved,
  kafkaError,
  needsMetadataRefresh,
  timeoutError,
} from './errors.ts';
import { EMPTY_METADATA, mergeMetadata } from './metadata.ts';
import type { BrokerInfo, ClusterMetadata } from './metadata.ts';
import { backoffMs, endpointKey } from './options.ts';
import type { ClientSettings, Endpoint } from './options.ts';
import { ConnectionPool } from './pool.ts';
import { nowMs, sleep } from './time.ts';

/** Per-call limits every operation accepts. */
export interface CallOptions {
  /** Time limit of the whole operation, retries included (default: the client's apiTimeoutMs). */
  timeoutMs?: number;
  /** Retries after retriable errors (default: the client's retriesMax). */
  retriesMax?: number;
}

export interface Limits {
  deadlineMs: number;
  retriesMax: number;
  startedAtMs: number;
}

/** A retry needs at least this long before the deadline to be worth starting. */
const LAST_TRY_MS_MIN = 20;

export type CoordinatorType = 'group' | 'transaction';
const COORDINATOR_KEY_TYPE: Record<CoordinatorType, number> = { group: 0, transaction: 1 };

interface Refresh {
  topics: Set<string> | null;
  promise: Promise<ClusterMetadata>;
}

export class ClientCore {
  readonly settings: ClientSettings;
  readonly pool: ConnectionPool;
  metadata: ClusterMetadata = EMPTY_METADATA;
  /** Topics the client routes requests for; every refresh asks about all of them. */
  private readonly tracked = new Set<string>();
  private stale = false;
  private readonly refreshes = new Set<Refresh>();
  private readonly coordinators = new Map<string, BrokerInfo>();
  private anyRotation = 0;

  constructor(settings: ClientSettings) {
    this.settings = settings;
    this.pool = new ConnectionPool(settings);
  }

  limits(options: CallOptions = {}): Limits {
    const startedAtMs = nowMs();
    return {
      startedAtMs,
      deadlineMs: startedAtMs + (options.timeoutMs ?? this.settings.apiTimeoutMs),
      retriesMax: options.retriesMax ?? this.settings.retriesMax,
    };
  }

  /** Time a request may take: the request timeout, cut to the operation's deadline. */
  requestTimeoutMs(limits: Limits, extraMs = 0): number {
    return Math.max(1, Math.min(this.settings.requestTimeoutMs + extraMs, limits.deadlineMs - nowMs()));
  }

  // ---- retries --------------------------------------------------------------------------------

  /**
   * Runs attempt until it succeeds, a non-retriable error, retriesMax retries or the deadline.
   * Retriable errors that suggest stale routing mark the metadata for refresh first.
   */
  async retry<T>(what: string, limits: Limits, attempt: (n: number) => Promise<T>): Promise<T> {
    for (let n = 0; ; n++) {
      this.checkOpen();
      let error: KafkaClientError;
      try {
        return await attempt(n);
      } catch (err) {
        error = asClientError(err, what);
      }
      if (!error.retriable || this.pool.closed) throw error;
      if (needsMetadataRefresh(error)) this.markStale();
      if (n >= limits.retriesMax) throw error;
      if (!(await this.backoff(n + 1, limits))) throw this.outOfTime(what, limits, n + 1, error);
    }
  }

  /**
   * Sleeps before retry number `retry`, cut short so one last try fits before the deadline (an
   * operation uses the time it was given); false when not even that fits.
   */
  async backoff(retry: number, limits: Limits): Promise<boolean> {
    const remainingMs = limits.deadlineMs - nowMs();
    if (remainingMs <= LAST_TRY_MS_MIN) return false;
    const waitMs = Math.min(backoffMs(retry, this.settings.retryBackoffMs, this.settings.retryBackoffMsMax), remainingMs - LAST_TRY_MS_MIN);
    if (!(await sleep(waitMs, this.pool.signal))) throw closedError();
    return true;
  }

  outOfTime(what: string, limits: Limits, attempts: number, last: KafkaClientError): KafkaClientError {
    const tookMs = Math.round(nowMs() - limits.startedAtMs);
    return timeoutError(`${what} did not succeed within its ${Math.round(limits.deadlineMs - limits.startedAtMs)} ms time limit ` +
      `(${attempts} attempts in ${tookMs} ms); last error: ${last.message}`, last);
  }

  checkOpen(): void {
    if (this.pool.closed) throw closedError();
  }

  // ---- connections ------------------------------------------------------------------------------

  /** A connection to any broker: an open one with the fewest requests waiting, else the first that connects. */
  async anyConnection(limits: Limits): Promise<BrokerConnection> {
    const candidates = this.candidates();
    let best: BrokerConnection | null = null;
    for (const { endpoint } of candidates) {
      const conn = this.pool.openConnection(endpoint);
      if (conn && (!best || conn.inFlightCount < best.inFlightCount)) best = conn;
    }
    if (best) return best;
    // Rotate where to start, so a dead first bootstrap server is not everyone's first try.
    const start = this.anyRotation++ % candidates.length;
    const ordered = [...candidates.slice(start), ...candidates.slice(0, start)]
      .sort((a, b) => Math.max(0, this.pool.retryAtMs(a.endpoint) - nowMs()) - Math.max(0, this.pool.retryAtMs(b.endpoint) - nowMs()));
    let lastError: KafkaClientError | null = null;
    for (const { endpoint, label } of ordered) {
      if (nowMs() >= limits.deadlineMs) break;
      try {
        return await this.pool.get(endpoint, label, limits.deadlineMs);
      } catch (err) {
        lastError = asClientError(err, label);
        if (!lastError.retriable) throw lastError;
      }
    }
    throw lastError ?? timeoutError('no broker could be reached before the deadline');
  }

  /** A connection to the broker with this node id, as the latest metadata locates it. */
  async connectionToNode(nodeId: number, limits: Limits): Promise<BrokerConnection> {
    let broker = this.metadata.brokers.get(nodeId);
    if (!broker) {
      await this.refreshMetadata([...this.tracked], limits);
      broker = this.metadata.brokers.get(nodeId);
    }
    if (!broker) {
      throw new KafkaClientError('STRAIT_LINK_KAFKA_ERROR', `broker ${nodeId} is not in the cluster metadata`, ErrorCode.BROKER_NOT_AVAILABLE, { retriable: true });
    }
    return this.pool.get(broker, brokerLabel(broker), limits.deadlineMs);
  }

  private candidates(): { endpoint: Endpoint; label: string }[] {
    const seen = new Set<string>();
    const out: { endpoint: Endpoint; label: string }[] = [];
    for (const b of this.metadata.brokers.values()) {
      const key = endpointKey(b);
      if (!seen.has(key)) out.push({ endpoint: b, label: brokerLabel(b) });
      seen.add(key);
    }
    for (const e of this.settings.bootstrap) {
      const key = endpointKey(e);
      if (!seen.has(key)) out.push({ endpoint: e, label: `bootstrap ${key}` });
      seen.add(key);
    }
    return out;
  }

  // ---- metadata ---------------------------------------------------------------------------------

  markStale(): void {
    this.stale = true;
  }

  track(topics: Iterable<string>): void {
    for (const t of topics) this.tracked.add(t);
  }

  /**
   * Metadata good enough to route requests for these topics: refreshed when it is marked stale,
   * older than metadataMaxAgeMs, lacks a topic, or says a topic is missing but predates the
   * operation (a topic created a moment ago must not be reported missing from an old view).
   */
  async metadataFor(topics: Iterable<string>, limits: Limits): Promise<ClusterMetadata> {
    const names = [...new Set(topics)];
    this.track(names);
    const m = this.metadata;
    const needed = this.stale ||
      nowMs() - m.updatedAtMs > this.settings.metadataMaxAgeMs ||
      names.some((t) => !m.topics.has(t) && (!m.topicErrors.has(t) || m.updatedAtMs < limits.startedAtMs));
    if (!needed) return m;
    return this.refreshMetadata([...this.tracked], limits);
  }

  /** Asks any broker for metadata of these topics (null: all topics) and merges the answer. */
  refreshMetadata(topics: string[] | null, limits: Limits): Promise<ClusterMetadata> {
    const wanted = topics === null ? null : new Set(topics);
    for (const r of this.refreshes) {
      if (r.topics === null || (wanted !== null && [...wanted].every((t) => r.topics!.has(t)))) return r.promise;
    }
    this.stale = false;
    const refresh: Refresh = { topics: wanted, promise: this.fetchMetadata(topics, limits) };
    this.refreshes.add(refresh);
    const done = (): void => {
      this.refreshes.delete(refresh);
    };
    refresh.promise.then(done, done);
    return refresh.promise;
  }

  private async fetchMetadata(topics: string[] | null, limits: Limits): Promise<ClusterMetadata> {
    try {
      const conn = await this.anyConnection(limits);
      const { response } = await conn.request<MetadataResponse>(
        ApiKey.Metadata,
        (version) => ({
          // Before v1 an empty list meant all topics, so ask for none only where that is expressible.
          topics: topics === null ? (version >= 1 ? null : []) : topics.map((name) => ({ topicId: ZERO_UUID, name })),
          // A mirror must never create topics on the source by asking about them.
          allowAutoTopicCreation: false,
          includeClusterAuthorizedOperations: false,
          includeTopicAuthorizedOperations: false,
        }),
        this.requestTimeoutMs(limits),
        topics !== null && topics.length === 0 ? { versionMin: 1 } : {},
      );
      const previous = this.metadata;
      this.metadata = mergeMetadata(previous, response, topics, nowMs());
      return this.metadata;
    } catch (err) {
      this.stale = true;
      throw err;
    }
  }

  // ---- coordinators -----------------------------------------------------------------------------

  /** The coordinator of each key (group id or transactional id), from the cache or FindCoordinator. */
  async findCoordinators(keys: string[], type: CoordinatorType, limits: Limits): Promise<Map<string, BrokerInfo | KafkaClientError>> {
    const out = new Map<string, BrokerInfo | KafkaClientError>();
    const missing = keys.filter((k) => {
      const cached = this.coordinators.get(`${type}:${k}`);
      if (cached) out.set(k, cached);
      return !cached;
    });
    if (missing.length === 0) return out;
    const conn = await this.anyConnection(limits);
    // KIP-699 (v4+): one request for many keys; earlier versions take one key per request.
    const batched = (conn.supports(ApiKey.FindCoordinator)?.maxVersion ?? 0) >= 4;
    const groups = batched ? [missing] : missing.map((k) => [k]);
    await Promise.all(groups.map(async (group) => {
      const { response } = await conn.request<FindCoordinatorResponse>(
        ApiKey.FindCoordinator,
        (v) => (v >= 4 ? { keyType: COORDINATOR_KEY_TYPE[type], coordinatorKeys: group } : { key: group[0]!, keyType: COORDINATOR_KEY_TYPE[type] }),
        this.requestTimeoutMs(limits),
        batched ? {} : { versionMax: 3 },
      );
      const answers = batched
        ? response.coordinators
        : [{ key: group[0]!, nodeId: response.nodeId, host: response.host, port: response.port, errorCode: response.errorCode, errorMessage: response.errorMessage }];
      for (const a of answers) {
        if (a.errorCode !== ErrorCode.NONE) {
          out.set(a.key, kafkaError(a.errorCode, `FindCoordinator for ${type} ${a.key}`, a.errorMessage));
          continue;
        }
        const broker: BrokerInfo = { nodeId: a.nodeId, host: a.host, port: a.port, rack: null };
        this.coordinators.set(`${type}:${a.key}`, broker);
        out.set(a.key, broker);
      }
    }));
    return out;
  }

  /** Forgets a coordinator after NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE. */
  coordinatorMoved(key: string, type: CoordinatorType, errorCode: number): void {
    if (isCoordinatorMoved(errorCode)) this.coordinators.delete(`${type}:${key}`);
  }

  async connectionTo(broker: BrokerInfo, limits: Limits): Promise<BrokerConnection> {
    return this.pool.get(broker, brokerLabel(broker), limits.deadlineMs);
  }

  close(): void {
    this.pool.close();
  }
}

export function brokerLabel(b: BrokerInfo): string {
  return `broker ${b.nodeId} at ${endpointKey(b)}`;
}
