// What a handler sees: the decoded request header, the connection, and the broker's services.
import type { Logger } from '../common/logger.ts';
import type { BrokerConfig } from '../config/broker-config.ts';
import type { MetadataStore } from '../metadata/store.ts';
import type { TopicAdmin } from '../cluster/topics.ts';
import type { TopicCatalog } from '../cluster/catalog.ts';
import type { LogManager } from '../log/log-manager.ts';
import type { ConnectionInfo } from '../network/connection.ts';
import type { Input } from '../protocol/primitives.ts';

export interface BrokerServices {
  config: BrokerConfig;
  log: Logger;
  store: MetadataStore;
  topics: TopicAdmin;
  catalog: TopicCatalog;
  logs: LogManager;
  clusterId: string;
  nodeId: number;
  /** Requests that links forward to their source cluster (null: no links). */
  forwarding: RequestForwarding | null;
  /** Versions this broker serves, per API key, as ApiVersions advertises them. */
  apiVersions(): { apiKey: number; minVersion: number; maxVersion: number }[];
  /** The broker that took every partition of this one over (this one stood down and coordinates
   *  nothing): FindCoordinator names it. Null while this broker serves. */
  successor: { nodeId: number; host: string; port: number } | null;
}

/** What a link answers for the source cluster while topics are mirrored (see link/link-manager.ts). */
export interface RequestForwarding {
  /** An idempotent producer's id from the source, or null when no link forwards writes. */
  producerIdFromSource(req: { transactionTimeoutMs: number; producerId: bigint; producerEpoch: number }): Promise<{ errorCode: number; producerId: bigint; producerEpoch: number } | null>;
  /** Whether the source coordinates this transactional id's transactions now. */
  forwardsTransactionalId(transactionalId: string): boolean;
  /** A transactional request of such an id, answered by the source; null: handle it here. */
  forwardTransactional(apiKey: number, version: number, transactionalId: string, req: object): Promise<object | null>;
}

export interface RequestContext {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  conn: ConnectionInfo;
  broker: BrokerServices;
}

export interface ApiHandler<Req = any, Res = any> {
  apiKey: number;
  /** Lowest and highest versions served; the router closes the connection outside them. */
  minVersion: number;
  maxVersion: number;
  /** Returns the response, or null when none is due (acks=0 produce). */
  handle(req: Req, ctx: RequestContext): Promise<Input<Res> | null> | Input<Res> | null;
}
