// The mirror fetcher of one link: a Kafka follower of every mirrored source partition. Each round
// is one Fetch per source leader for all partitions of the link; the batches are appended byte for
// byte at their source offsets (PartitionLog.appendAtOffsets). The next round's Fetch goes out while
// the WAL makes the previous round durable, and at most two rounds are held in memory.
//
// Divergence (the source truncated its log, e.g. after an unclean leader election) is found as a
// follower finds it: the leader's divergingEpoch in Fetch v12+ (we send lastFetchedEpoch), and an
// OffsetForLeaderEpoch check when mirroring starts or the source answered OFFSET_OUT_OF_RANGE beyond
// its end. Either answer names the leader's largest epoch at or below ours and where it ends; the
// mirror is cut as Kafka's follower cuts (AbstractFetcherThread.getOffsetTruncationState, KIP-101 and
// KIP-279): to the smaller of that end and the mirror's own end for the same epoch, or, when the
// mirror does not have that epoch, to its own end of the largest epoch below it, and then it asks
// again. A failed cut is shown in the partition's status and retried after a backoff, with the epoch
// state read again from the log as it is. The mirror's log start offset follows the source's
// (retention, DeleteRecords).
import type { Logger } from '../common/logger.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { LogManager } from '../log/log-manager.ts';
import type { PartitionLog } from '../log/partition-log.ts';
import type { MetadataStore } from '../metadata/store.ts';
import type { FetchedPartition, KafkaClient } from './client/index.ts';
import type { MirrorPartitionStatus } from './service.ts';

const RETRY_BACKOFF_MS = 500;
const RETRY_BACKOFF_MS_MAX = 5_000;
const TRUNCATIONS_KEPT = 10;
const FETCH_TIMEOUT_MS = 5_000;

/** One mirrored partition: its local log and what the fetcher knows of the source. */
export class MirrorPartition {
  readonly topic: string;
  readonly sourceTopic: string;
  readonly partition: number;
  readonly log: PartitionLog;
  sourceHighWatermark = -1;
  sourceLogStartOffset = -1;
  sourceLeaderEpoch = -1;
  /** Leader epoch of the last batch in the local log (-1: empty or unknown yet). */
  lastFetchedEpoch = -1;
  /** The epoch check (OffsetForLeaderEpoch) must run before the next fetch. */
  needsEpochCheck = true;
  /** The source's end offset, when a fetch found the mirror past it (-1: not the case). */
  sourceEndBelowMirror = -1;
  caughtUpAtMs = Date.now();
  error: string | null = null;
  retryAtMs = 0;
  private failures = 0;
  truncations: MirrorPartitionStatus['truncations'] = [];

  constructor(topic: string, sourceTopic: string, partition: number, log: PartitionLog) {
    this.topic = topic;
    this.sourceTopic = sourceTopic;
    this.partition = partition;
    this.log = log;
  }

  get lagRecords(): number {
    return this.sourceHighWatermark < 0 ? 0 : Math.max(0, this.sourceHighWatermark - this.log.highWatermark);
  }

  /** Records a failure and schedules the retry; returns whether the error is new (to log it once). */
  fail(message: string, nowMs: number): boolean {
    const fresh = this.error !== message;
    this.error = message;
    this.failures++;
    this.retryAtMs = nowMs + Math.min(RETRY_BACKOFF_MS_MAX, RETRY_BACKOFF_MS * 2 ** Math.min(this.failures - 1, 10));
    return fresh;
  }

  ok(): void {
    this.error = null;
    this.failures = 0;
    this.retryAtMs = 0;
  }

  status(nowMs: number): MirrorPartitionStatus {
    const lag = this.lagRecords;
    return {
      partition: this.partition,
      mirroredEndOffset: this.log.highWatermark,
      logStartOffset: this.log.logStartOffset,
      sourceHighWatermark: this.sourceHighWatermark,
      sourceLogStartOffset: this.sourceLogStartOffset,
      sourceLeaderEpoch: this.sourceLeaderEpoch,
      lagRecords: lag,
      lagSeconds: lag > 0 ? Math.max(0, nowMs - this.caughtUpAtMs) / 1000 : 0,
      error: this.error,
      truncations: [...this.truncations],
    };
  }
}

export interface MirrorFetcherOptions {
  linkName: string;
  client: KafkaClient;
  logs: LogManager;
  store: MetadataStore;
  log: Logger;
  fetchMaxBytes: number;
  fetchPartitionMaxBytes: number;
  fetchMaxWaitMs: number;
}

const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class MirrorFetcher {
  private readonly o: MirrorFetcherOptions;
  private readonly partitions = new Map<string, MirrorPartition>();
  /** Appends of the previous round, per partition, not yet known durable. */
  private readonly pending = new Map<MirrorPartition, Promise<unknown>>();
  /** Changes of a partition's log under way (truncation, reset, log start, epoch): remove() waits for them. */
  private readonly changing = new Map<MirrorPartition, Set<Promise<unknown>>>();
  private running: Promise<void> | null = null;
  private stopped = true;
  private wakeUp: (() => void) | null = null;

  constructor(o: MirrorFetcherOptions) {
    this.o = o;
  }

  add(p: MirrorPartition): void {
    this.partitions.set(keyOf(p.sourceTopic, p.partition), p);
    this.wakeUp?.();
  }

  /**
   * Stops fetching a topic's partitions; resolves once nothing of the fetcher changes their logs any
   * more: appends durable (or failed), truncations and other changes under way finished. Changes
   * not started yet are refused (see change), so a promotion that follows owns the logs alone.
   */
  async remove(sourceTopic: string): Promise<void> {
    const gone = [...this.partitions.values()].filter((p) => p.sourceTopic === sourceTopic);
    for (const p of gone) this.partitions.delete(keyOf(p.sourceTopic, p.partition));
    await Promise.all(gone.flatMap((p) => [this.pending.get(p), ...(this.changing.get(p) ?? [])]));
    await Promise.all(gone.map((p) => this.pending.get(p)));
  }

  private fed(p: MirrorPartition): boolean {
    return this.partitions.get(keyOf(p.sourceTopic, p.partition)) === p;
  }

  /**
   * Runs a change of p's log only if p is still fed, checked right before it starts (the fetcher's
   * work on a partition spans awaits, during which a promotion may take it away). Null when refused.
   */
  private change<T>(p: MirrorPartition, fn: () => Promise<T>): Promise<T> | null {
    if (!this.fed(p)) return null;
    const op = fn();
    let set = this.changing.get(p);
    if (!set) this.changing.set(p, (set = new Set()));
    const settled: Promise<unknown> = op.then(
      () => undefined,
      () => undefined,
    );
    set.add(settled);
    void settled.then(() => {
      set.delete(settled);
      if (set.size === 0 && this.changing.get(p) === set) this.changing.delete(p);
    });
    return op;
  }

  get(sourceTopic: string, partition: number): MirrorPartition | undefined {
    return this.partitions.get(keyOf(sourceTopic, partition));
  }

  all(): MirrorPartition[] {
    return [...this.partitions.values()];
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    for (const p of this.partitions.values()) p.needsEpochCheck = true;
    this.running = this.loop().catch((err: unknown) => this.o.log.error('mirror fetcher stopped on an unexpected error', { link: this.o.linkName, err: err as Error }));
  }

  /** Closes the fetcher's client: a fetch in flight ends at once. */
  async close(): Promise<void> {
    await this.o.client.close();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    await this.running;
    this.running = null;
    await Promise.all(this.pending.values());
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const now = Date.now();
      const ready = [...this.partitions.values()].filter((p) => p.retryAtMs <= now);
      if (ready.length === 0) {
        await this.sleep(200);
        continue;
      }
      const checking = ready.filter((p) => p.needsEpochCheck);
      if (checking.length > 0) await this.checkEpochs(checking);
      const fetching = ready.filter((p) => !p.needsEpochCheck && p.retryAtMs <= Date.now() && this.partitions.get(keyOf(p.sourceTopic, p.partition)) === p);
      if (fetching.length === 0) {
        await this.sleep(100);
        continue;
      }
      let results: FetchedPartition[];
      try {
        results = await this.o.client.fetch(
          fetching.map((p) => ({ topic: p.sourceTopic, partition: p.partition, offset: p.log.nextOffset, ...(p.lastFetchedEpoch >= 0 ? { lastFetchedEpoch: p.lastFetchedEpoch } : {}) })),
          // Bounded, so an unreachable source shows up as partition errors within seconds.
          { maxWaitMs: this.o.fetchMaxWaitMs, maxBytes: this.o.fetchMaxBytes, partitionMaxBytes: this.o.fetchPartitionMaxBytes, timeoutMs: FETCH_TIMEOUT_MS + this.o.fetchMaxWaitMs },
        );
      } catch (err) {
        for (const p of fetching) this.failed(p, `fetch from the source failed: ${(err as Error).message}`);
        continue;
      }
      for (let i = 0; i < results.length; i++) {
        if (this.stopped) break;
        await this.handle(fetching[i]!, results[i]!);
      }
    }
  }

  private async handle(p: MirrorPartition, r: FetchedPartition): Promise<void> {
    const now = Date.now();
    // Removed (promoted, deleted) while the fetch was out: the answer is for a log no longer fed.
    if (this.partitions.get(keyOf(p.sourceTopic, p.partition)) !== p) return;
    if (r.error) {
      if (r.error.kafkaError === ErrorCode.OFFSET_OUT_OF_RANGE) return this.outOfRange(p);
      this.failed(p, `${r.error.errorName}: ${r.error.message}`);
      return;
    }
    // Known before a divergence is handled: the mirror takes the leader's epoch before it cuts.
    if (r.leaderEpoch > p.sourceLeaderEpoch) p.sourceLeaderEpoch = r.leaderEpoch;
    if (r.divergingEpoch) {
      await this.diverged(p, r.divergingEpoch.epoch, r.divergingEpoch.endOffset, `source leader reports divergence: its epoch ${r.divergingEpoch.epoch} ends at ${r.divergingEpoch.endOffset}`);
      return;
    }
    // The previous round's appends must be durable (or failed) before this round's go behind them.
    const before = this.pending.get(p);
    if (before) await before;
    // A failed earlier append moved the log end back: this answer was for offsets no longer next.
    if (r.fetchOffset !== p.log.nextOffset) return;
    p.sourceHighWatermark = r.highWatermark;
    p.sourceLogStartOffset = r.logStartOffset;
    await this.followLeaderEpoch(p);
    if (r.records.length > 0) {
      p.lastFetchedEpoch = r.batches[r.batches.length - 1]!.partitionLeaderEpoch;
      const appending = this.change(p, () => p.log.appendAtOffsets(r.records, now));
      if (!appending) return;
      const append = appending.then((out) => {
        if (out.errorCode !== ErrorCode.NONE) this.failed(p, `appending to the mirror failed: ${out.errorMessage ?? out.errorCode}`);
        else p.ok();
        return out;
      });
      this.pending.set(p, append);
    } else {
      p.ok();
    }
    if (r.nextOffset >= r.highWatermark) p.caughtUpAtMs = now;
    if (r.logStartOffset > p.log.logStartOffset && r.logStartOffset <= p.log.highWatermark) {
      await this.change(p, () => this.o.logs.advanceLogStartOffset(p.log, r.logStartOffset));
    }
  }

  /** The mirror's partition leader epoch is the source's, so clients' epochs stay valid on both sides. */
  private async followLeaderEpoch(p: MirrorPartition): Promise<void> {
    const epoch = Math.max(p.sourceLeaderEpoch, p.lastFetchedEpoch);
    if (epoch <= p.log.leaderEpoch) return;
    await this.change(p, async () => {
      await this.o.store.setLeaderEpoch(p.log.topicId, p.partition, epoch);
      // Promoted meanwhile: the promotion's epoch stands.
      if (this.fed(p)) p.log.setLeaderEpoch(epoch);
    });
  }

  /** The source no longer has our fetch offset: we are behind its log start, or past its end. */
  private async outOfRange(p: MirrorPartition): Promise<void> {
    const now = Date.now();
    try {
      const [earliest, latest] = await this.o.client.listOffsets([
        { topic: p.sourceTopic, partition: p.partition, spec: 'earliest' },
        { topic: p.sourceTopic, partition: p.partition, spec: 'latest' },
      ]);
      if (earliest!.error || latest!.error) throw earliest!.error ?? latest!.error;
      await this.pending.get(p);
      const next = p.log.nextOffset;
      if (next < earliest!.offset) {
        const from = p.log.logStartOffset;
        const resetting = this.change(p, () => this.o.logs.resetTo(p.log, earliest!.offset));
        if (!resetting) return;
        await resetting;
        p.lastFetchedEpoch = -1;
        this.o.log.info('mirror starts at the source log start offset', { link: this.o.linkName, topic: p.topic, partition: p.partition, from, to: earliest!.offset });
      } else if (next > latest!.offset) {
        p.needsEpochCheck = true;
        // The epoch check cuts to here if the source knows none of the mirror's epochs.
        p.sourceEndBelowMirror = latest!.offset;
        if (p.lastFetchedEpoch < 0 && !(await this.truncate(p, latest!.offset, 'source log ends before the mirror'))) return;
      } else {
        // The offset is inside the source's log, so the source refused the last fetched epoch: it
        // knows none of the mirror's epochs (a source topic re-created under the same name, say).
        // Nothing here can be cut safely; shown as an error and retried, not fetched in a loop.
        p.needsEpochCheck = true;
        p.lastFetchedEpoch = -1;
        this.failed(p, `the source answers OFFSET_OUT_OF_RANGE at offset ${next}, inside its log [${earliest!.offset}, ${latest!.offset}): it knows none of the mirror's leader epochs (was the source topic re-created?)`);
        return;
      }
      p.ok();
    } catch (err) {
      this.failed(p, `listing source offsets failed: ${(err as Error).message}`);
    }
  }

  /** OffsetForLeaderEpoch for partitions that (re)start: truncate what the source no longer has. */
  private async checkEpochs(parts: MirrorPartition[]): Promise<void> {
    for (const p of parts) {
      await this.pending.get(p);
      if (p.lastFetchedEpoch < 0) p.lastFetchedEpoch = await this.o.logs.lastBatchEpoch(p.log);
    }
    const known = parts.filter((p) => p.lastFetchedEpoch >= 0 && p.log.nextOffset > p.log.logStartOffset);
    for (const p of parts) if (!known.includes(p)) p.needsEpochCheck = false;
    if (known.length === 0) return;
    let answers;
    try {
      answers = await this.o.client.offsetForLeaderEpoch(known.map((p) => ({ topic: p.sourceTopic, partition: p.partition, leaderEpoch: p.lastFetchedEpoch })));
    } catch (err) {
      for (const p of known) this.failed(p, `epoch check failed: ${(err as Error).message}`);
      return;
    }
    for (let i = 0; i < known.length; i++) {
      const p = known[i]!;
      const a = answers[i]!;
      if (a.error) {
        this.failed(p, `epoch check failed: ${a.error.errorName}: ${a.error.message}`);
        continue;
      }
      p.needsEpochCheck = false;
      const sourceEnd = p.sourceEndBelowMirror;
      p.sourceEndBelowMirror = -1;
      if (a.endOffset >= 0) await this.diverged(p, a.leaderEpoch, a.endOffset, `source epoch ${a.leaderEpoch} ends at ${a.endOffset}`, false);
      // UNDEFINED_EPOCH_OFFSET: the source knows none of the mirror's epochs. After a fetch past
      // the source's end, cut to that end, as a Kafka follower falls back to its high watermark;
      // otherwise keep going: a fetch answers OFFSET_OUT_OF_RANGE if the source lost what we hold.
      else if (sourceEnd >= 0 && !(await this.truncate(p, sourceEnd, `the source ends at ${sourceEnd}, before the mirror, and knows none of its epochs (the mirror's last is ${p.lastFetchedEpoch})`))) continue;
      else if (sourceEnd >= 0) p.lastFetchedEpoch = await this.o.logs.lastBatchEpoch(p.log);
    }
  }

  /**
   * The source leader's largest epoch at or below ours is `leaderEpoch`, ending at `leaderEndOffset`
   * (a divergingEpoch, or an OffsetForLeaderEpoch answer). Cuts the mirror where Kafka's follower
   * would; when the mirror lacks that epoch the cut is partial and the epochs are checked again.
   * `diverging`: the leader said the logs differ, so a cut that changes nothing is an error (shown,
   * retried after a backoff) rather than a fetch that would get the same answer at once.
   */
  private async diverged(p: MirrorPartition, leaderEpoch: number, leaderEndOffset: number, reason: string, diverging = true): Promise<void> {
    await this.pending.get(p);
    const end = p.log.highWatermark;
    const own = p.log.endOffsetForEpoch(leaderEpoch);
    let target: number;
    let complete = true;
    if (own.endOffset < 0) target = Math.min(leaderEndOffset, end);
    else if (own.epoch !== leaderEpoch) {
      // The mirror never had the leader's epoch: cut to the end of its own largest epoch below
      // it, then ask the leader about that one (KIP-279).
      target = Math.min(own.endOffset, end);
      complete = target >= end;
    } else target = Math.min(own.endOffset, leaderEndOffset, end);
    const epochBefore = p.lastFetchedEpoch;
    // The source's current epoch first, as a Kafka follower's is its leader's: a consumer that read
    // past the cut at the old epoch is then fenced and finds the truncation (KIP-320) instead of
    // being told its offset is out of range.
    if (target < end) await this.followLeaderEpoch(p);
    if (target < end && !(await this.truncate(p, target, `${reason}; the mirror's epoch ${own.epoch} ends at ${own.endOffset}`))) return;
    p.lastFetchedEpoch = await this.o.logs.lastBatchEpoch(p.log);
    if (!complete) {
      p.needsEpochCheck = true;
      return;
    }
    if (diverging && target >= end && p.lastFetchedEpoch === epochBefore) {
      // Nothing to cut, yet the leader says we differ: the same fetch would get the same answer.
      this.failed(p, `the source reports divergence (${reason}) but the mirror holds nothing past it to cut; checking epochs again`);
      p.needsEpochCheck = true;
    }
  }

  /** Cuts the mirror back to `offset`; false (and the partition fails, to retry later) if that failed. */
  private async truncate(p: MirrorPartition, offset: number, reason: string): Promise<boolean> {
    await this.pending.get(p);
    const from = p.log.highWatermark;
    if (offset >= from) return true;
    try {
      const cutting = this.change(p, () => this.o.logs.truncateTo(p.log, offset));
      if (!cutting) return false; // no longer fed (promoted, deleted): nothing to cut, nothing to report
      const to = await cutting;
      p.truncations.push({ atMs: Date.now(), fromOffset: from, toOffset: to, reason });
      if (p.truncations.length > TRUNCATIONS_KEPT) p.truncations.shift();
      this.o.log.warn('mirror truncated: the source log diverged', { link: this.o.linkName, topic: p.topic, partition: p.partition, fromOffset: from, toOffset: to, reason });
      p.ok();
      return true;
    } catch (err) {
      // The log may or may not have been cut: what was fetched last is read again from the log,
      // and the epochs are checked again, before the next fetch.
      p.lastFetchedEpoch = -1;
      p.needsEpochCheck = true;
      this.failed(p, `truncating the mirror to offset ${offset} failed: ${(err as Error).message}`);
      return false;
    }
  }

  /** The partition cannot make progress: shown in its status and metrics, logged once per error, retried after a backoff. */
  private failed(p: MirrorPartition, message: string): void {
    if (p.fail(message, Date.now())) this.o.log.warn('mirror partition error', { link: this.o.linkName, topic: p.topic, partition: p.partition, error: message });
  }
}
