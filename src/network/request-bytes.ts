// The broker-wide budget of request bytes being read or handled: Kafka's queued.max.request.bytes.
// Like the memory pool Kafka's socket server reads requests into, it is not strict: a reservation
// succeeds while any of the budget is left, so one request larger than the whole budget is still
// read (alone), and the bytes in flight never exceed the bound by more than one request. A
// connection that finds the budget used up stops reading and waits for room (back-pressure).
import { assert } from '../common/errors.ts';

export class RequestBytesBudget {
  /** -1: unbounded. */
  readonly bytesMax: number;
  private used = 0;
  private readonly waiters = new Set<() => void>();

  constructor(bytesMax: number) {
    this.bytesMax = bytesMax;
  }

  get usedBytes(): number {
    return this.used;
  }

  private hasRoom(): boolean {
    return this.bytesMax < 0 || this.used < this.bytesMax;
  }

  /** Takes n bytes if any of the budget is left; otherwise calls onRoom once some is given back. */
  tryReserve(n: number, onRoom: () => void): boolean {
    if (!this.hasRoom()) {
      this.waiters.add(onRoom);
      return false;
    }
    this.used += n;
    return true;
  }

  release(n: number): void {
    this.used -= n;
    assert(this.used >= 0, `request bytes in flight went below zero (${this.used})`);
    if (this.waiters.size === 0 || !this.hasRoom()) return;
    // Every waiter tries again; those that find the budget used up again wait again.
    const woken = [...this.waiters];
    this.waiters.clear();
    for (const w of woken) w();
  }

  cancel(onRoom: () => void): void {
    this.waiters.delete(onRoom);
  }
}
