// Write forwarding: while a topic is mirrored, a produce to it on Strait goes to the source
// partition's leader and the client gets the source's answer (offset or error); the record comes
// back through the mirror. Producers can so move to Strait before the topic is promoted.
//
// Forwards of one turn of the event loop leave as one Produce per source leader. Bytes in flight are
// bounded per link (back-pressure: later writes wait). During a promotion the topic's writes are
// held; once it is promoted they are appended locally instead, in the order they arrived.
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { AppendOutcome } from '../log/partition-log.ts';
import type { KafkaClient, ProducedPartition } from './client/index.ts';
import { KafkaClientError } from './client/index.ts';

export interface ForwardOptions {
  acks: number;
  timeoutMs: number;
  transactionalId: string | null;
}

/** What a mirror partition's log calls instead of appending (see PartitionLog.forwarder). */
export interface PartitionForwarder {
  /** The source's answer; null when the topic was promoted while the write was held: append locally. */
  forward(records: Buffer, o: ForwardOptions): Promise<AppendOutcome | null>;
}

interface Queued {
  topic: string;
  partition: number;
  records: Buffer;
  o: ForwardOptions;
  resolve: (r: AppendOutcome) => void;
}

const failed = (errorCode: number, errorMessage: string): AppendOutcome => ({ errorCode, errorMessage, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [] });

export class LinkForwarder {
  private readonly client: KafkaClient;
  private readonly bytesMax: number;
  private queue: Queued[] = [];
  private scheduled = false;
  private inflightBytes = 0;
  private spaceWaiters: (() => void)[] = [];
  /** Per source topic: writes in flight to the source, and the hold of a promotion. */
  private readonly inflight = new Map<string, Set<Promise<unknown>>>();
  private readonly holds = new Map<string, Promise<void>>();
  forwarded = 0;

  constructor(client: KafkaClient, bytesMax: number) {
    this.client = client;
    this.bytesMax = bytesMax;
  }

  /** The forwarder of one mirror partition; `promoted` says whether the topic now takes local writes. */
  partition(topic: string, partition: number, promoted: () => boolean): PartitionForwarder {
    return {
      forward: async (records, o) => {
        const hold = this.holds.get(topic);
        if (hold) await hold;
        if (promoted()) return null;
        while (this.inflightBytes > 0 && this.inflightBytes + records.length > this.bytesMax) await new Promise<void>((r) => this.spaceWaiters.push(r));
        // Checked again: a promotion may have begun while this write waited for room.
        const held = this.holds.get(topic);
        if (held) {
          await held;
          if (promoted()) return null;
        }
        return this.send(topic, partition, records, o);
      },
    };
  }

  /** Holds new writes to a topic and waits for those in flight; the returned function releases. */
  async hold(topic: string): Promise<() => void> {
    let release!: () => void;
    this.holds.set(topic, new Promise<void>((r) => (release = r)));
    await Promise.all([...(this.inflight.get(topic) ?? [])]);
    return () => {
      this.holds.delete(topic);
      release();
    };
  }

  private send(topic: string, partition: number, records: Buffer, o: ForwardOptions): Promise<AppendOutcome> {
    this.inflightBytes += records.length;
    const done = new Promise<AppendOutcome>((resolve) => {
      this.queue.push({ topic, partition, records, o, resolve });
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => this.flush());
      }
    });
    const set = this.inflight.get(topic) ?? new Set();
    this.inflight.set(topic, set);
    set.add(done);
    return done.finally(() => {
      set.delete(done);
      this.inflightBytes -= records.length;
      this.forwarded++;
      const waiters = this.spaceWaiters;
      this.spaceWaiters = [];
      for (const w of waiters) w();
    });
  }

  private flush(): void {
    this.scheduled = false;
    const items = this.queue;
    this.queue = [];
    // One Produce per (acks, timeout, transactional id): those are request-level fields.
    const groups = new Map<string, Queued[]>();
    for (const q of items) {
      const k = `${q.o.acks}\u0000${q.o.timeoutMs}\u0000${q.o.transactionalId ?? ''}`;
      groups.set(k, [...(groups.get(k) ?? []), q]);
    }
    for (const list of groups.values()) void this.produce(list);
  }

  private async produce(list: Queued[]): Promise<void> {
    const o = list[0]!.o;
    let out: ProducedPartition[];
    try {
      // No retries here: the client retries as it is configured to, and idempotent producers are
      // deduplicated by the source. A failure is retriable for the client, never an acknowledgement.
      out = await this.client.produce(
        list.map((q) => ({ topic: q.topic, partition: q.partition, records: q.records })),
        { acks: o.acks === 1 ? 1 : -1, transactionalId: o.transactionalId, replicationTimeoutMs: o.timeoutMs, timeoutMs: o.timeoutMs + 5000, retriesMax: 0 },
      );
    } catch (err) {
      const code = err instanceof KafkaClientError && err.retriable ? err.kafkaError : ErrorCode.NETWORK_EXCEPTION;
      for (const q of list) q.resolve(failed(code, `forwarding to the source cluster failed: ${(err as Error).message}`));
      return;
    }
    list.forEach((q, i) => {
      const r = out[i]!;
      if (r.error) {
        // Connection-level failures have no Kafka code of the source's: NETWORK_EXCEPTION is retriable.
        const code = r.error.kafkaError > 0 ? r.error.kafkaError : ErrorCode.NETWORK_EXCEPTION;
        q.resolve({ ...failed(code, r.error.brokerMessage ?? r.error.message), recordErrors: r.recordErrors.map((e) => ({ batchIndex: e.batchIndex, message: e.message ?? '' })) });
        return;
      }
      q.resolve({ errorCode: ErrorCode.NONE, errorMessage: null, baseOffset: r.baseOffset, logAppendTimeMs: r.logAppendTimeMs, logStartOffset: r.logStartOffset, recordErrors: [] });
    });
  }
}
