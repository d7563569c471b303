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
  /** Versions this broker serves, per API key, as ApiVersions advertises them. */
  apiVersions(): { apiKey: number; minVersion: number; maxVersion: number }[];
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
