// The contract every metadata engine implements. Calls are async so that networked engines fit;
// each call is atomic on its own.

export interface TopicRecord {
  topicId: string;
  name: string;
  partitionCount: number;
  replicationFactor: number;
  /** Topic-level overrides only; defaults are not stored. */
  configs: Record<string, string>;
  createdAtMs: number;
}

export interface PartitionRecord {
  topicId: string;
  partitionIndex: number;
  leaderId: number;
  leaderEpoch: number;
}

export interface NewTopic {
  name: string;
  topicId: string;
  partitionCount: number;
  replicationFactor: number;
  configs: Record<string, string>;
  leaderId: number;
}

export interface BrokerRecord {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface MetadataStore {
  /** Opens the store and applies pending schema migrations. */
  open(): Promise<void>;
  close(): Promise<void>;
  schemaVersion(): Promise<number>;
  /** The cluster id, created on first use. */
  clusterId(): Promise<string>;
  registerBroker(broker: BrokerRecord): Promise<void>;
  brokers(): Promise<BrokerRecord[]>;
  /** Creates a topic with its partitions; returns null when the name is taken. */
  createTopic(topic: NewTopic): Promise<TopicRecord | null>;
  /** Deletes a topic and its partitions; returns false when it did not exist. */
  deleteTopic(topicId: string): Promise<boolean>;
  topics(): Promise<TopicRecord[]>;
  topicByName(name: string): Promise<TopicRecord | null>;
  topicById(topicId: string): Promise<TopicRecord | null>;
  partitions(topicId: string): Promise<PartitionRecord[]>;
}
