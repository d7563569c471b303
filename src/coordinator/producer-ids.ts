// Producer ids: unique across the cluster and across restarts. A broker reserves a block of ids
// from the metadata store (as Kafka brokers do from the controller) and hands them out one by one.
import type { MetadataStore } from '../metadata/store.ts';

export const PRODUCER_ID_BLOCK_SIZE = 1000;

export class ProducerIdManager {
  private readonly store: MetadataStore;
  private next = 0;
  private end = 0;
  /** Ids below this are never handed out (reserveAbove); a block answered late may lie below it. */
  private floor = 0;
  private refill: Promise<void> | null = null;

  constructor(store: MetadataStore) {
    this.store = store;
  }

  async nextId(): Promise<number> {
    for (;;) {
      if (this.next < this.floor) this.next = Math.min(this.floor, this.end);
      if (this.next < this.end) break;
      this.refill ??= this.store.reserveIds('producer_id', PRODUCER_ID_BLOCK_SIZE).then((first) => {
        this.next = first;
        this.end = first + PRODUCER_ID_BLOCK_SIZE;
        this.refill = null;
      });
      await this.refill;
    }
    return this.next++;
  }

  /**
   * Makes every id this manager hands out from now on larger than `producerId`: ids found in
   * mirrored data belong to the source cluster's producers, whose state a promoted mirror keeps.
   */
  async reserveAbove(producerId: number): Promise<void> {
    this.floor = Math.max(this.floor, producerId + 1);
    if (producerId < this.next) return;
    const counter = await this.store.reserveIds('producer_id', 0);
    if (producerId >= counter) await this.store.reserveIds('producer_id', producerId + 1 - counter);
    // The block in hand may hold ids at or below producerId: skip past them.
    this.next = Math.max(this.next, Math.min(producerId + 1, this.end));
  }
}
