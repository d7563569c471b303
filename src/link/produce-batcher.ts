// Puts produces of different partitions into shared requests. A Kafka broker works through one
// connection's requests one at a time, and takes one batch per partition per request: partitions
// that each send their own request (the reverse copy keeps one produce in flight per partition)
// queue behind each other, a round trip each. Gathered, the next batch of every partition that has
// one ready goes in one request.
import type { ProducedPartition, ProducePartitionRequest } from './client/index.ts';

interface Waiting {
  request: ProducePartitionRequest;
  resolve(out: ProducedPartition): void;
  reject(err: unknown): void;
}

export class ProduceBatcher {
  private readonly send: (requests: ProducePartitionRequest[]) => Promise<ProducedPartition[]>;
  private readonly inFlightMax: number;
  private queue: Waiting[] = [];
  private inFlight = 0;
  private scheduled = false;

  /** `send` produces one request's partitions and answers per partition, in order; `inFlightMax`
   *  requests may be out at once, so one slow request does not hold back every partition. */
  constructor(send: (requests: ProducePartitionRequest[]) => Promise<ProducedPartition[]>, inFlightMax = 2) {
    this.send = send;
    this.inFlightMax = inFlightMax;
  }

  /** Produces one partition's batch; the caller keeps at most one produce per partition waiting. */
  produce(request: ProducePartitionRequest): Promise<ProducedPartition> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.schedule();
    });
  }

  // Sent on the next turn of the event loop, so that partitions answered by the same response
  // (each queues its next batch as it resumes) go out together.
  private schedule(): void {
    if (this.scheduled || this.queue.length === 0 || this.inFlight >= this.inFlightMax) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.queue.length === 0 || this.inFlight >= this.inFlightMax) return;
    const batch = this.queue;
    this.queue = [];
    this.inFlight++;
    this.send(batch.map((w) => w.request))
      .then(
        (outs) => batch.forEach((w, i) => w.resolve(outs[i]!)),
        (err: unknown) => batch.forEach((w) => w.reject(err)),
      )
      .finally(() => {
        this.inFlight--;
        this.schedule();
      });
  }
}
