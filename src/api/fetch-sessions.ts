// Incremental fetch sessions (KIP-227): the broker remembers what a consumer fetches so that later
// requests name only what changed and responses carry only partitions with news.
import { ErrorCode } from '../protocol/generated/errors.ts';

export interface SessionPartition {
  topicId: string;
  topicName: string;
  partition: number;
  fetchOffset: number;
  partitionMaxBytes: number;
  currentLeaderEpoch: number;
  /** What the consumer last heard, to decide whether a partition has news. */
  lastHighWatermark: number;
  lastLogStartOffset: number;
  lastLastStableOffset: number;
}

export interface FetchSession {
  id: number;
  epoch: number;
  partitions: Map<string, SessionPartition>;
  lastUsedMs: number;
}

export const FINAL_EPOCH = -1;
export const INITIAL_EPOCH = 0;

export const sessionKey = (topicId: string, partition: number) => `${topicId}:${partition}`;

export class FetchSessionCache {
  private readonly sessions = new Map<number, FetchSession>();
  private readonly slotsMax: number;
  private readonly idleMsMax: number;
  private nextId = 1;

  constructor(slotsMax: number, idleMsMax: number) {
    this.slotsMax = slotsMax;
    this.idleMsMax = idleMsMax;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** A new session, or null when the cache is full even after dropping idle sessions. */
  create(nowMs: number): FetchSession | null {
    if (this.sessions.size >= this.slotsMax) this.expire(nowMs);
    if (this.sessions.size >= this.slotsMax) {
      // Make room by dropping the least recently used session, as Kafka's cache does for sessions past their idle time.
      let oldest: FetchSession | null = null;
      for (const s of this.sessions.values()) if (!oldest || s.lastUsedMs < oldest.lastUsedMs) oldest = s;
      if (!oldest || nowMs - oldest.lastUsedMs < this.idleMsMax / 2) return null;
      this.sessions.delete(oldest.id);
    }
    let id = this.nextId;
    while (this.sessions.has(id) || id === 0) id = (id % 0x7fffffff) + 1;
    this.nextId = (id % 0x7fffffff) + 1;
    const s: FetchSession = { id, epoch: 1, partitions: new Map(), lastUsedMs: nowMs };
    this.sessions.set(id, s);
    return s;
  }

  /** Looks a session up for an incremental request; returns an error code when it cannot be used. */
  lookup(id: number, epoch: number, nowMs: number): FetchSession | number {
    const s = this.sessions.get(id);
    if (!s) return ErrorCode.FETCH_SESSION_ID_NOT_FOUND;
    if (s.epoch !== epoch) return ErrorCode.INVALID_FETCH_SESSION_EPOCH;
    s.lastUsedMs = nowMs;
    return s;
  }

  remove(id: number): void {
    this.sessions.delete(id);
  }

  private expire(nowMs: number): void {
    for (const [id, s] of this.sessions) if (nowMs - s.lastUsedMs > this.idleMsMax) this.sessions.delete(id);
  }
}
