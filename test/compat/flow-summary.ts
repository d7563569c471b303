// The normalised result every client's admin flow produces, whatever its language, so tests can
// compare clients with each other and Apache Kafka with Strait.

export interface PartitionSummary {
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

export interface ApiVersionsSummary {
  metadata: boolean;
  createTopics: boolean;
  deleteTopics: boolean;
}

export interface FlowSummary {
  client: string;
  topic: string;
  /** null where the client does not expose it. */
  clusterId: string | null;
  /** Broker ids from the client's view of the cluster, sorted. */
  brokers: number[];
  /** Whether the broker's ApiVersions answer offers the APIs the flow needs; null if not exposed. */
  apiVersions: ApiVersionsSummary | null;
  /** Partition count the CreateTopics answer reported (or that was requested, if not reported). */
  createdPartitions: number | null;
  listedAfterCreate: boolean;
  /** Whether describe returned a non-zero topic id (KIP-516); null if not exposed. */
  hasTopicId: boolean | null;
  partitions: PartitionSummary[];
  /** Kafka error name for creating the same topic again (TOPIC_ALREADY_EXISTS); null if none. */
  duplicateCreateError: string | null;
  /** Whether the topic was still listed after deletion, polled for a bounded time. */
  presentAfterDelete: boolean;
  /** Kafka error name for deleting the deleted topic again (UNKNOWN_TOPIC_OR_PARTITION). */
  deleteMissingError: string | null;
}

export interface FlowOptions {
  bootstrap: string;
  topic: string;
  partitions: number;
  timeoutMs: number;
}

export interface ClientFlow {
  client: string;
  /** False for a client with no admin requests (kcat), whose flow leaves the two error fields null. */
  sendsAdminRequests: boolean;
  run(options: FlowOptions): Promise<FlowSummary>;
}

export function emptySummary(client: string, topic: string): FlowSummary {
  return {
    client,
    topic,
    clusterId: null,
    brokers: [],
    apiVersions: null,
    createdPartitions: null,
    listedAfterCreate: false,
    hasTopicId: null,
    partitions: [],
    duplicateCreateError: null,
    presentAfterDelete: true,
    deleteMissingError: null,
  };
}

export function partitionSummary(partition: number, leader: number, replicas: number[], isr: number[]): PartitionSummary {
  const ascending = (a: number, b: number): number => a - b;
  return { partition, leader, replicas: [...replicas].sort(ascending), isr: [...isr].sort(ascending) };
}

/** Sorts the lists in a summary so that equal clusters give equal summaries. */
export function finishSummary(summary: FlowSummary): FlowSummary {
  summary.brokers.sort((a, b) => a - b);
  summary.partitions.sort((a, b) => a.partition - b.partition);
  return summary;
}

const pollIntervalMs = 100;

/** Calls check every 100 ms until it returns a value other than undefined; throws after timeoutMs. */
export async function pollFor<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
  }
}

/** Polls a bounded time for a deleted topic to leave the listing; true if it stayed. */
export async function stillPresentAfter(exists: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await exists()) {
    if (Date.now() > deadline) return true;
    await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
  }
  return false;
}

/** Whether partitions are all there and all led (leader >= 0). */
export function allLed(partitions: PartitionSummary[], expected: number): boolean {
  return partitions.length === expected && partitions.every((p) => p.leader >= 0);
}
