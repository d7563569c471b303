// The composition root of one broker process: config → metadata store → services → API router →
// network server. start() and stop() are the only lifecycle; stop() drains in-flight requests first.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrokerConfig } from '../config/broker-config.ts';
import type { Logger } from '../common/logger.ts';
import { StraitError } from '../common/errors.ts';
import { SqliteMetadataStore } from '../metadata/index.ts';
import type { MetadataStore } from '../metadata/index.ts';
import { TopicAdmin } from '../cluster/topics.ts';
import { createRouter } from '../api/index.ts';
import type { BrokerServices } from '../api/index.ts';
import { KafkaServer } from '../network/index.ts';
import type { ListenerSpec } from '../network/index.ts';

export class Broker {
  readonly config: BrokerConfig;
  private readonly log: Logger;
  private store: MetadataStore | null = null;
  private server: KafkaServer | null = null;
  bound: ListenerSpec[] = [];

  constructor(config: BrokerConfig, log: Logger) {
    this.config = config;
    this.log = log;
  }

  async start(): Promise<void> {
    const cfg = this.config;
    try {
      mkdirSync(cfg.dataDir, { recursive: true });
    } catch (err) {
      throw new StraitError('STRAIT_DATA_DIR_UNUSABLE', `cannot create data directory ${cfg.dataDir}: ${(err as Error).message}`);
    }
    const store = new SqliteMetadataStore(join(cfg.dataDir, 'metadata.sqlite'));
    await store.open();
    this.store = store;
    const clusterId = await store.clusterId();

    const router = createRouter();
    const services: BrokerServices = {
      config: cfg,
      log: this.log,
      store,
      clusterId,
      nodeId: cfg.nodeId,
      topics: new TopicAdmin(store, { partitions: cfg.defaultPartitions, replicationFactor: cfg.defaultReplicationFactor }, () => cfg.nodeId, this.log),
      apiVersions: () => router.apiVersions(),
    };
    router.bind(services);
    this.server = new KafkaServer(
      router,
      { requestSizeBytesMax: cfg.requestSizeBytesMax, inflightRequestsMax: cfg.inflightRequestsMax, idleMsMax: cfg.connectionIdleMsMax },
      this.log,
    );
    this.bound = await this.server.listen(cfg.listeners);
    // A listener on port 0 got a free port from the OS: advertise that one.
    for (const a of cfg.advertisedListeners) {
      const b = this.bound.find((l) => l.name === a.name);
      if (a.port === 0 && b) a.port = b.port;
    }
    const advertised = cfg.advertisedListeners[0]!;
    await store.registerBroker({ nodeId: cfg.nodeId, host: advertised.host, port: advertised.port, rack: cfg.rack });
    this.log.info('broker started', { nodeId: cfg.nodeId, clusterId, dataDir: cfg.dataDir, listeners: this.bound.map((l) => `${l.name}://${l.host}:${l.port}`) });
  }

  async stop(): Promise<void> {
    await this.server?.close();
    await this.store?.close();
    this.server = null;
    this.store = null;
    this.log.info('broker stopped', { nodeId: this.config.nodeId });
  }
}
