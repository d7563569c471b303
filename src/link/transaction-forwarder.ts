// Transaction forwarding: while a link forwards writes, the transactional ids it is configured for
// keep their transaction coordinator on the source cluster. Strait answers FindCoordinator itself
// and relays InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn and TxnOffsetCommit to
// the source's coordinators at the client's own version, so the source decides every transaction;
// the data and the markers come back through the mirror.
//
// Offsets a forwarded transaction commits for a group are also applied to Strait's group
// coordinator when the source commits the transaction, so a consumer group that moved to Strait
// reads them there.
//
// At promotion: new transactions wait (their first AddPartitionsToTxn is held), transactions under
// way finish at the source, then each transactional id is adopted by Strait's coordinator with the
// source's producer id and epoch, and the held requests are answered here.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { CommittedOffsetRecord } from '../metadata/store.ts';
import type { KafkaClient } from './client/index.ts';

export interface TransactionForwarderHost {
  /** Applies offsets of a committed transaction to Strait's group coordinator. */
  commitTxnOffsets(records: CommittedOffsetRecord[]): Promise<void>;
  /** Ids handed out by the source: Strait's own must stay above them. */
  reserveProducerIdsAbove(producerId: number): Promise<void>;
}

export interface ForwardedProducer {
  producerId: number;
  producerEpoch: number;
  timeoutMs: number;
}

const FORWARDED = new Set<number>([ApiKey.InitProducerId, ApiKey.AddPartitionsToTxn, ApiKey.AddOffsetsToTxn, ApiKey.EndTxn, ApiKey.TxnOffsetCommit]);

export class TransactionForwarder {
  private readonly client: KafkaClient;
  private readonly host: TransactionForwarderHost;
  /** Transactional ids with a transaction under way at the source. */
  readonly ongoing = new Set<string>();
  /** Producer id and epoch of each forwarded transactional id, from its InitProducerId. */
  readonly producers = new Map<string, ForwardedProducer>();
  private readonly offsets = new Map<string, CommittedOffsetRecord[]>();
  private gate: { promise: Promise<void>; open: () => void } | null = null;
  private ended = false;

  constructor(client: KafkaClient, host: TransactionForwarderHost) {
    this.client = client;
    this.host = host;
  }

  static handles(apiKey: number): boolean {
    return FORWARDED.has(apiKey);
  }

  /** The source's response, or null once the ids are Strait's (the caller handles the request). */
  async forward(apiKey: number, version: number, transactionalId: string, req: any): Promise<object | null> {
    if (this.ended) return null;
    const starts = (apiKey === ApiKey.AddPartitionsToTxn || apiKey === ApiKey.AddOffsetsToTxn) && !this.ongoing.has(transactionalId);
    if (starts && this.gate) {
      await this.gate.promise;
      if (this.ended) return null;
    }
    // A transaction counts as under way from the moment its first request leaves, not when the source
    // answers: a promotion that saw no transaction would otherwise switch the topics while this one
    // begins at the source, and its writes would then reach a coordinator that never heard of it.
    if (starts) this.ongoing.add(transactionalId);
    const group = apiKey === ApiKey.TxnOffsetCommit;
    let response: any;
    try {
      const coordinator = await this.client.findCoordinator(group ? req.groupId : transactionalId, group ? 'group' : 'transaction', { timeoutMs: 10_000 });
      ({ response } = await this.client.sendRequest<any>({ nodeId: coordinator.nodeId }, apiKey, () => req, { versionMin: version, versionMax: version, timeoutMs: 15_000 }));
    } catch {
      if (starts) this.ongoing.delete(transactionalId);
      // Retriable for the client: it looks the coordinator up again and retries.
      return errorResponse(apiKey, req, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    }
    await this.track(apiKey, transactionalId, req, response, starts);
    return response;
  }

  private async track(apiKey: number, transactionalId: string, req: any, res: any, starts: boolean): Promise<void> {
    switch (apiKey) {
      case ApiKey.InitProducerId:
        if (res.errorCode === ErrorCode.NONE) {
          this.producers.set(transactionalId, { producerId: Number(res.producerId), producerEpoch: res.producerEpoch, timeoutMs: req.transactionTimeoutMs });
          this.ongoing.delete(transactionalId);
          this.offsets.delete(transactionalId);
          await this.host.reserveProducerIdsAbove(Number(res.producerId));
        }
        return;
      case ApiKey.AddPartitionsToTxn:
      case ApiKey.AddOffsetsToTxn: {
        const ok = apiKey === ApiKey.AddOffsetsToTxn ? res.errorCode === ErrorCode.NONE : res.resultsByTopicV3AndBelow.every((t: any) => t.resultsByPartition.every((p: any) => p.partitionErrorCode === ErrorCode.NONE));
        // A refused first request began nothing at the source.
        if (!ok && starts) this.ongoing.delete(transactionalId);
        return;
      }
      case ApiKey.TxnOffsetCommit: {
        const ok = new Set<string>();
        for (const t of res.topics) for (const p of t.partitions) if (p.errorCode === ErrorCode.NONE) ok.add(`${t.name}\u0000${p.partitionIndex}`);
        const list = this.offsets.get(transactionalId) ?? [];
        for (const t of req.topics) {
          for (const p of t.partitions) {
            if (!ok.has(`${t.name}\u0000${p.partitionIndex}`)) continue;
            list.push({ groupId: req.groupId, topic: t.name, partitionIndex: p.partitionIndex, committedOffset: Number(p.committedOffset), leaderEpoch: p.committedLeaderEpoch, metadata: p.committedMetadata, commitTimestampMs: Date.now(), expireTimestampMs: null });
          }
        }
        this.offsets.set(transactionalId, list);
        return;
      }
      case ApiKey.EndTxn:
        if (res.errorCode !== ErrorCode.NONE) return;
        this.ongoing.delete(transactionalId);
        if (req.committed) {
          const list = this.offsets.get(transactionalId) ?? [];
          if (list.length > 0) await this.host.commitTxnOffsets(list);
        }
        this.offsets.delete(transactionalId);
        return;
    }
  }

  /** Holds the start of new transactions (promotion: their first AddPartitionsToTxn or AddOffsetsToTxn); transactions under way go on. */
  closeGate(): void {
    if (this.gate) return;
    let open!: () => void;
    const promise = new Promise<void>((r) => (open = r));
    this.gate = { promise, open };
  }

  openGate(): void {
    this.gate?.open();
    this.gate = null;
  }

  /** From now on Strait's coordinator answers; requests held at the gate are handed back. */
  end(): void {
    this.ended = true;
    this.openGate();
  }

  get isEnded(): boolean {
    return this.ended;
  }
}

/** The response of a forwarded request that could not reach the source, with a retriable error. */
function errorResponse(apiKey: number, req: any, errorCode: number): object {
  switch (apiKey) {
    case ApiKey.AddPartitionsToTxn:
      return {
        throttleTimeMs: 0,
        resultsByTopicV3AndBelow: req.v3AndBelowTopics.map((t: any) => ({ name: t.name, resultsByPartition: t.partitions.map((p: number) => ({ partitionIndex: p, partitionErrorCode: errorCode })) })),
      };
    case ApiKey.TxnOffsetCommit:
      return { throttleTimeMs: 0, topics: req.topics.map((t: any) => ({ name: t.name, partitions: t.partitions.map((p: any) => ({ partitionIndex: p.partitionIndex, errorCode })) })) };
    case ApiKey.InitProducerId:
      return { throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 };
    default:
      return { throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 };
  }
}
