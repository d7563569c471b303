// Producer ids: unique across the cluster and across restarts. A broker reserves a block of ids
// from the metadata store (as Kafka brokers do from the controller) and hands them out one by one.
import type { MetadataStore } from '../metadata/store.ts';

export const PRODUCER_ID_BLOCK_SIZE = 1000;

export class ProducerIdManager {
  private readonly store: MetadataStore;
  private next = 0;
  private end = 0;
  private refill: Promise<void> | null = null;

  constructor(store: MetadataStore) {
    this.store = store;
  }

  async nextId(): Promise<number> {
    while (this.next >= this.end) {
      this.refill ??= this.store.reserveIds('producer_id', PRODUCER_ID_BLOCK_SIZE).then((first) => {
        this.next = first;
        this.end = first + PRODUCER_ID_BLOCK_SIZE;
        this.refill = null;
      });
      await this.refill;
    }
    return this.next++;
  }
}
