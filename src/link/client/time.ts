// Monotonic time for deadlines (the wall clock may jump) and a sleep that a closing client can cut short.
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';

export function nowMs(): number {
  return performance.now();
}

/** Resolves after ms, or false at once when signal aborts (the client is closing). */
export async function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  try {
    await delay(Math.max(0, ms), undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
