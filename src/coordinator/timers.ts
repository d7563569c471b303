// Small helpers of the group coordinator: timers named by key (a member's session, a group's join
// phase) that replace each other, and promises resolved later by another request or a timer.

/** One timer per key; scheduling a key again replaces its timer. Timers never keep the process alive. */
export class KeyedTimers {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  schedule(key: string, delayMs: number, fn: () => void): void {
    this.cancel(key);
    const t = setTimeout(() => {
      if (this.timers.get(key) === t) this.timers.delete(key);
      fn();
    }, Math.max(0, delayMs));
    t.unref();
    this.timers.set(key, t);
  }

  scheduleIfAbsent(key: string, delayMs: number, fn: () => void): void {
    if (!this.timers.has(key)) this.schedule(key, delayMs, fn);
  }

  has(key: string): boolean {
    return this.timers.has(key);
  }

  cancel(key: string): void {
    const t = this.timers.get(key);
    if (t) {
      clearTimeout(t);
      this.timers.delete(key);
    }
  }

  /** Cancels every timer whose key starts with prefix. */
  cancelPrefix(prefix: string): void {
    for (const key of [...this.timers.keys()]) if (key.startsWith(prefix)) this.cancel(key);
  }

  clear(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  get size(): number {
    return this.timers.size;
  }
}

/** A promise with its resolve function at hand; resolving twice is a no-op. */
export class Deferred<T> {
  readonly promise: Promise<T>;
  private resolveFn!: (value: T) => void;
  settled = false;

  constructor() {
    this.promise = new Promise<T>((resolve) => {
      this.resolveFn = resolve;
    });
  }

  resolve(value: T): void {
    if (this.settled) return;
    this.settled = true;
    this.resolveFn(value);
  }
}

/** Runs functions one at a time per key, in arrival order (a group's operations never interleave,
 *  even across awaits on the metadata store). */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => T | Promise<T>): Promise<T> {
    const prev = this.tails.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = prev ? prev.then(() => mine) : mine;
    this.tails.set(key, tail);
    try {
      if (prev) await prev;
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
