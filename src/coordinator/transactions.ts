// The transaction coordinator (KIP-98): one state machine per transactional id, kept in memory and
// written through to the metadata store before any answer depends on it.
//
//   Empty ──AddPartitions──▶ Ongoing ──EndTxn(commit)──▶ PrepareCommit ──markers──▶ CompleteCommit
//     ▲ InitProducerId          │    ──EndTxn(abort)───▶ PrepareAbort  ──markers──▶ CompleteAbort
//     └──────────────────────── │ ◀── AddPartitions (a new transaction) ───────────────┘
//                               └── timeout or InitProducerId: epoch bump, then PrepareAbort
//
// A transition is prepared (pendingState set, so concurrent requests get CONCURRENT_TRANSACTIONS),
// made durable, then applied: Kafka's TransactionMetadata discipline, with the metadata store in the
// role of the __transaction_state log. The Prepare* state is durable before any marker is written,
// so a restart finds every decided transaction and writes its markers again (a second marker for a
// closed transaction is harmless to the log). Offsets committed inside a transaction
// (TxnOffsetCommit) wait in the store and reach the group coordinator only when the transaction
// commits.
//
// Transactions V1 only (EndTxn up to v4, Produce up to v11): the epoch changes on InitProducerId
// and on coordinator aborts, never on every commit (KIP-890 part 2 is not advertised).
import { ErrorCode } from '../protocol/generated/errors.ts';
import { assert } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { TopicCatalog } from '../cluster/catalog.ts';
import type { LogManager } from '../log/log-manager.ts';
import type { ProducerStateView } from '../log/producer-state.ts';
import type { CommittedOffsetRecord, MetadataStore, TransactionRecord, TxnOffsetRecord } from '../metadata/store.ts';
import type { ProducerIdManager } from './producer-ids.ts';

export type TxnState = 'Empty' | 'Ongoing' | 'PrepareCommit' | 'PrepareAbort' | 'CompleteCommit' | 'CompleteAbort' | 'Dead';

/** Every state name ListTransactions accepts as a filter. PrepareEpochFence, Kafka's transient
 *  in-memory state, is folded into the epoch bump that precedes an abort here. */
export const TXN_STATES: readonly TxnState[] = ['Empty', 'Ongoing', 'PrepareCommit', 'PrepareAbort', 'CompleteCommit', 'CompleteAbort', 'Dead'];

const VALID_PREVIOUS: Record<TxnState, readonly TxnState[]> = {
  Empty: ['Empty', 'CompleteCommit', 'CompleteAbort'],
  Ongoing: ['Ongoing', 'Empty', 'CompleteCommit', 'CompleteAbort'],
  PrepareCommit: ['Ongoing'],
  PrepareAbort: ['Ongoing'],
  CompleteCommit: ['PrepareCommit'],
  CompleteAbort: ['PrepareAbort'],
  Dead: ['Empty', 'CompleteCommit', 'CompleteAbort'],
};

export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
const INT16_MAX = 32767;

/** Kafka never hands out the last two epochs, so the coordinator can always fence once more. */
export function isEpochExhausted(epoch: number): boolean {
  return epoch >= INT16_MAX - 1;
}

/** Kafka's offsets topic has this many partitions by default (offsets.topic.num.partitions). */
const OFFSETS_TOPIC_PARTITIONS = 50;
export const OFFSETS_TOPIC = '__consumer_offsets';

/** The __consumer_offsets partition Kafka would add to a transaction for a group (AddOffsetsToTxn):
 *  Utils.abs(groupId.hashCode) % partitions. DescribeTransactions shows groups this way, as Kafka does. */
export function offsetsPartitionFor(groupId: string, partitions = OFFSETS_TOPIC_PARTITIONS): number {
  let h = 0;
  for (let i = 0; i < groupId.length; i++) h = (Math.imul(h, 31) + groupId.charCodeAt(i)) | 0;
  return (h === -2147483648 ? 0 : Math.abs(h)) % partitions;
}

export interface TxnPartition {
  topic: string;
  partition: number;
}

export interface TransactionCoordinatorConfig {
  /** transaction.max.timeout.ms: the longest transaction timeout a producer may ask for. */
  maxTimeoutMs: number;
  /** transactional.id.expiration.ms: idle transactional ids (no transaction open) are forgotten after this long. */
  transactionalIdExpirationMs: number;
}

/** What the coordinator needs from the group coordinator for TxnOffsetCommit. */
export interface TxnOffsetsHost {
  /** The group checks of a TxnOffsetCommit (KIP-447: generation, member id, instance id); an error code, NONE to go on. */
  validateTxnOffsetCommit(groupId: string, memberId: string, groupInstanceId: string | null, generationId: number): number | Promise<number>;
  /** Makes a committed transaction's offsets committed offsets: durable, then visible to OffsetFetch. */
  commitTxnOffsets(offsets: CommittedOffsetRecord[]): Promise<void>;
}

export interface InitProducerIdResult {
  errorCode: number;
  producerId: number;
  producerEpoch: number;
}

export interface TxnDescription {
  errorCode: number;
  transactionalId: string;
  state: string;
  timeoutMs: number;
  startTimestampMs: number;
  producerId: number;
  producerEpoch: number;
  partitions: TxnPartition[];
}

export interface TxnListing {
  transactionalId: string;
  producerId: number;
  state: TxnState;
}

export interface TxnOffsetCommitInput {
  transactionalId: string;
  groupId: string;
  producerId: number;
  producerEpoch: number;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  offsets: { topic: string; partition: number; offset: number; leaderEpoch: number; metadata: string | null }[];
}

const partitionKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;
const offsetKey = (groupId: string, topic: string, partition: number) => `${groupId}\u0000${topic}\u0000${partition}`;

/** One transactional id's state in memory. */
class TxnMetadata {
  readonly transactionalId: string;
  producerId: number;
  previousProducerId: number;
  producerEpoch: number;
  lastProducerEpoch: number;
  timeoutMs: number;
  state: TxnState;
  /** Partitions of the transaction; while Prepare*, only those still waiting for their marker. */
  partitions = new Map<string, TxnPartition>();
  groups = new Set<string>();
  startTimestampMs: number;
  lastUpdateTimestampMs: number;
  /** The state a transition in flight leads to; other requests wait (CONCURRENT_TRANSACTIONS). */
  pendingState: TxnState | null = null;
  /** A fencing epoch bump was applied in memory but failed to persist: the next fence reuses it (Kafka's hasFailedEpochFence). */
  hasFailedEpochFence = false;
  /** TxnOffsetCommit offsets of the ongoing transaction, by group, topic and partition. */
  offsets = new Map<string, TxnOffsetRecord>();
  /** Marker writing and completion in progress. */
  completion: Promise<boolean> | null = null;
  retryTimer: NodeJS.Timeout | null = null;
  retryDelayMs = 0;

  constructor(r: TransactionRecord) {
    this.transactionalId = r.transactionalId;
    this.producerId = r.producerId;
    this.previousProducerId = r.previousProducerId;
    this.producerEpoch = r.producerEpoch;
    this.lastProducerEpoch = r.lastProducerEpoch;
    this.timeoutMs = r.timeoutMs;
    this.state = r.state as TxnState;
    assert(TXN_STATES.includes(this.state), `unknown transaction state ${r.state} of ${r.transactionalId}`);
    for (const p of r.partitions) this.partitions.set(partitionKey(p.topic, p.partition), p);
    for (const g of r.groups) this.groups.add(g);
    this.startTimestampMs = r.startTimestampMs;
    this.lastUpdateTimestampMs = r.lastUpdateTimestampMs;
  }

  /** The current state as a record, the base every transition edits. */
  record(): TransactionRecord {
    return {
      transactionalId: this.transactionalId,
      producerId: this.producerId,
      previousProducerId: this.previousProducerId,
      producerEpoch: this.producerEpoch,
      lastProducerEpoch: this.lastProducerEpoch,
      timeoutMs: this.timeoutMs,
      state: this.state,
      partitions: sortedPartitions(this.partitions.values()),
      groups: [...this.groups].sort(),
      startTimestampMs: this.startTimestampMs,
      lastUpdateTimestampMs: this.lastUpdateTimestampMs,
    };
  }

  apply(t: TransactionRecord): void {
    this.producerId = t.producerId;
    this.previousProducerId = t.previousProducerId;
    this.producerEpoch = t.producerEpoch;
    this.lastProducerEpoch = t.lastProducerEpoch;
    this.timeoutMs = t.timeoutMs;
    this.state = t.state as TxnState;
    this.partitions = new Map(t.partitions.map((p) => [partitionKey(p.topic, p.partition), p]));
    this.groups = new Set(t.groups);
    this.startTimestampMs = t.startTimestampMs;
    this.lastUpdateTimestampMs = t.lastUpdateTimestampMs;
  }

  get isPreparing(): boolean {
    return this.state === 'PrepareCommit' || this.state === 'PrepareAbort';
  }
}

function sortedPartitions(ps: Iterable<TxnPartition>): TxnPartition[] {
  return [...ps].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
}

/** Marker writes that failed are retried after this long, doubling up to the maximum. */
const MARKER_RETRY_MS_MIN = 100;
const MARKER_RETRY_MS_MAX = 5000;

export interface TransactionCoordinatorOptions {
  store: MetadataStore;
  producerIds: ProducerIdManager;
  logs: LogManager;
  catalog: TopicCatalog;
  log: Logger;
  config: TransactionCoordinatorConfig;
  now?: () => number;
}

export class TransactionCoordinator {
  private readonly store: MetadataStore;
  private readonly ids: ProducerIdManager;
  private readonly logs: LogManager;
  private readonly catalog: TopicCatalog;
  private readonly log: Logger;
  readonly config: TransactionCoordinatorConfig;
  private readonly now: () => number;
  private readonly txns = new Map<string, TxnMetadata>();
  private offsetsHost: TxnOffsetsHost;
  /** Written into every marker; a new one each time the coordinator loads (Kafka's txn partition leader epoch). */
  coordinatorEpoch = 0;
  private closed = false;
  /** Topics that are mirrors according to the store, while load() completes decided transactions. */
  private mirrorsAtLoad: Set<string> | null = null;
  /** Topics a promotion was finishing when the broker stopped (see isMirror). */
  private promotingAtLoad: Set<string> | null = null;

  constructor(opts: TransactionCoordinatorOptions) {
    this.store = opts.store;
    this.ids = opts.producerIds;
    this.logs = opts.logs;
    this.catalog = opts.catalog;
    this.log = opts.log.child({ component: 'transactions' });
    this.config = opts.config;
    this.now = opts.now ?? Date.now;
    // Until a group coordinator is attached, committed transactional offsets go straight to the store.
    this.offsetsHost = {
      validateTxnOffsetCommit: () => ErrorCode.NONE,
      commitTxnOffsets: (offsets) => this.store.commitOffsets(offsets),
    };
  }

  /** The group coordinator takes over validating and applying transactional offsets. */
  attachOffsetsHost(host: TxnOffsetsHost): void {
    this.offsetsHost = host;
  }

  /** Whether a partition is a mirror fed by a link: no marker of this coordinator may go there. */
  private isMirror(topicId: string, log: { mirrorOf: string | null; durableProducers: ProducerStateView }, producerId: number): boolean {
    if (log.mirrorOf !== null || (this.mirrorsAtLoad?.has(topicId) ?? false)) return true;
    // A topic left 'promoting' may already have taken local transactions (it opens before it is
    // saved as promoted). The producer's own open transaction there is local: it gets its marker.
    // Without one, the partition is treated as the mirror it was.
    if (this.promotingAtLoad?.has(topicId)) return !((log.durableProducers.producers.get(producerId)?.txnFirstOffset ?? -1) >= 0);
    return false;
  }

  /** Loads every transactional id, then completes the transactions a restart interrupted after
   *  their outcome was decided (markers are written again). Call after the partition logs are open. */
  async load(): Promise<void> {
    this.coordinatorEpoch = await this.store.reserveIds('transaction_coordinator_epoch', 1);
    // The links start after this coordinator, so the logs do not know yet which topics are
    // mirrors: the store does (a mirror being promoted still follows its source until it is).
    const mirrors = await this.store.mirrors();
    this.mirrorsAtLoad = new Set(mirrors.filter((m) => m.state === 'mirroring').map((m) => m.topicId));
    this.promotingAtLoad = new Set(mirrors.filter((m) => m.state === 'promoting').map((m) => m.topicId));
    this.txns.clear();
    for (const r of await this.store.transactions()) this.txns.set(r.transactionalId, new TxnMetadata(r));
    for (const o of await this.store.txnOffsets()) {
      const md = this.txns.get(o.transactionalId);
      if (md) md.offsets.set(offsetKey(o.groupId, o.topic, o.partitionIndex), o);
    }
    const preparing = [...this.txns.values()].filter((md) => md.isPreparing);
    try {
      await Promise.all(preparing.map((md) => this.complete(md)));
    } finally {
      this.mirrorsAtLoad = null;
      this.promotingAtLoad = null;
    }
    this.log.info('transactions loaded', { transactionalIds: this.txns.size, completedAfterRestart: preparing.length, coordinatorEpoch: this.coordinatorEpoch });
  }

  /** Stops retrying marker writes and waits for completions in flight. */
  async close(): Promise<void> {
    this.closed = true;
    for (const md of this.txns.values()) {
      if (md.retryTimer) clearTimeout(md.retryTimer);
      md.retryTimer = null;
    }
    await Promise.all([...this.txns.values()].map((md) => md.completion));
  }

  /**
   * Takes over a transactional id from a source cluster at promotion (its transactions were
   * forwarded there): the producer id and epoch become this coordinator's, no transaction open, so
   * the producer's next transaction starts here without a new InitProducerId.
   */
  async adopt(t: { transactionalId: string; producerId: number; producerEpoch: number; timeoutMs: number }): Promise<void> {
    const record: TransactionRecord = {
      transactionalId: t.transactionalId,
      producerId: t.producerId,
      previousProducerId: NO_PRODUCER_ID,
      producerEpoch: t.producerEpoch,
      lastProducerEpoch: NO_PRODUCER_EPOCH,
      timeoutMs: t.timeoutMs,
      state: 'CompleteCommit',
      partitions: [],
      groups: [],
      startTimestampMs: -1,
      lastUpdateTimestampMs: this.now(),
    };
    await this.ids.reserveAbove(t.producerId);
    await this.store.saveTransaction(record);
    const md = this.txns.get(t.transactionalId);
    if (md) md.apply(record);
    else this.txns.set(t.transactionalId, new TxnMetadata(record));
  }

  // --- InitProducerId -------------------------------------------------------------------------

  async initProducerId(transactionalId: string | null, timeoutMs: number, expected: { producerId: number; producerEpoch: number } | null): Promise<InitProducerIdResult> {
    // An idempotent producer gets a fresh producer id, whatever it had before.
    if (transactionalId === null) return { errorCode: ErrorCode.NONE, producerId: await this.ids.nextId(), producerEpoch: 0 };
    if (transactionalId === '') return initError(ErrorCode.INVALID_REQUEST);
    if (!(timeoutMs > 0 && timeoutMs <= this.config.maxTimeoutMs)) return initError(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    let md = this.txns.get(transactionalId);
    if (!md) {
      const producerId = await this.ids.nextId();
      md = this.txns.get(transactionalId);
      if (!md) {
        const now = this.now();
        md = new TxnMetadata({
          transactionalId,
          producerId,
          previousProducerId: NO_PRODUCER_ID,
          producerEpoch: NO_PRODUCER_EPOCH,
          lastProducerEpoch: NO_PRODUCER_EPOCH,
          timeoutMs,
          state: 'Empty',
          partitions: [],
          groups: [],
          startTimestampMs: -1,
          lastUpdateTimestampMs: now,
        });
        this.txns.set(transactionalId, md);
      }
    }
    if (md.pendingState !== null) return initError(ErrorCode.CONCURRENT_TRANSACTIONS);
    // KIP-360: a producer naming its current id (or, after an epoch overflow, the previous one) may resume.
    if (expected !== null) {
      const known =
        md.producerEpoch === NO_PRODUCER_EPOCH ||
        expected.producerId === md.producerId ||
        (expected.producerId === md.previousProducerId && isEpochExhausted(expected.producerEpoch));
      if (!known) return initError(ErrorCode.PRODUCER_FENCED);
    }
    switch (md.state) {
      case 'PrepareCommit':
      case 'PrepareAbort':
        return initError(ErrorCode.CONCURRENT_TRANSACTIONS);
      case 'Ongoing': {
        // Abort the open transaction with a fencing epoch bump; the client retries and then gets an
        // epoch of its own, which is why this epoch is never handed out (Kafka does the same).
        const err = await this.fenceAndAbort(md, 'a new producer initialised the transactional id');
        return initError(err === ErrorCode.NONE ? ErrorCode.CONCURRENT_TRANSACTIONS : err);
      }
      case 'Empty':
      case 'CompleteCommit':
      case 'CompleteAbort':
        return this.bumpOrRotate(md, timeoutMs, expected);
      case 'Dead':
        return initError(ErrorCode.CONCURRENT_TRANSACTIONS);
    }
  }

  private async bumpOrRotate(md: TxnMetadata, timeoutMs: number, expected: { producerId: number; producerEpoch: number } | null): Promise<InitProducerIdResult> {
    // The new state: no transaction, the requested timeout, the current producer id as the previous one.
    const base = (): TransactionRecord => ({ ...md.record(), previousProducerId: md.producerId, timeoutMs, state: 'Empty', partitions: [], groups: [], startTimestampMs: -1, lastUpdateTimestampMs: this.now() });
    let next: TransactionRecord;
    if (isEpochExhausted(md.producerEpoch) && (expected === null || expected.producerEpoch === md.producerEpoch)) {
      // The epochs of this producer id are used up: continue under a new producer id at epoch 0.
      const exhaustedEpoch = md.producerEpoch;
      const producerId = await this.ids.nextId();
      // Another request may have moved the transactional id on while the id was reserved.
      if (md.pendingState !== null || md.producerEpoch !== exhaustedEpoch || !['Empty', 'CompleteCommit', 'CompleteAbort'].includes(md.state)) return initError(ErrorCode.CONCURRENT_TRANSACTIONS);
      next = { ...base(), producerId, producerEpoch: 0, lastProducerEpoch: expected !== null ? exhaustedEpoch : NO_PRODUCER_EPOCH };
    } else if (expected === null) {
      next = { ...base(), producerEpoch: md.producerEpoch + 1, lastProducerEpoch: NO_PRODUCER_EPOCH };
    } else if (md.producerEpoch === NO_PRODUCER_EPOCH || expected.producerEpoch === md.producerEpoch) {
      // The producer resumes after an error and nobody else took over: bump, remembering the old epoch.
      if (isEpochExhausted(md.producerEpoch)) return initError(ErrorCode.PRODUCER_FENCED);
      next = { ...base(), producerEpoch: md.producerEpoch + 1, lastProducerEpoch: md.producerEpoch };
    } else if (expected.producerEpoch === md.lastProducerEpoch) {
      // A retry of a bump whose answer was lost: answer the same epoch again.
      next = { ...base(), producerEpoch: md.producerEpoch, lastProducerEpoch: md.lastProducerEpoch };
    } else {
      return initError(ErrorCode.PRODUCER_FENCED);
    }
    const err = await this.transition(md, next);
    if (err !== ErrorCode.NONE) return initError(err);
    md.offsets.clear();
    this.log.info('producer initialised', { transactionalId: md.transactionalId, producerId: md.producerId, producerEpoch: md.producerEpoch });
    return { errorCode: ErrorCode.NONE, producerId: md.producerId, producerEpoch: md.producerEpoch };
  }

  // --- AddPartitionsToTxn, AddOffsetsToTxn --------------------------------------------------------

  /** Adds partitions (and consumer groups, for AddOffsetsToTxn) to the producer's transaction,
   *  starting one if none is open. */
  async addToTransaction(transactionalId: string, producerId: number, producerEpoch: number, partitions: TxnPartition[], groups: string[] = []): Promise<number> {
    if (transactionalId === '') return ErrorCode.INVALID_REQUEST;
    const md = this.txns.get(transactionalId);
    const err = this.checkProducer(md, producerId, producerEpoch);
    if (err !== ErrorCode.NONE) return err;
    if (md!.pendingState !== null || md!.isPreparing) return ErrorCode.CONCURRENT_TRANSACTIONS;
    const m = md!;
    const fresh = partitions.filter((p) => !m.partitions.has(partitionKey(p.topic, p.partition)));
    const freshGroups = groups.filter((g) => !m.groups.has(g));
    if (m.state === 'Ongoing' && fresh.length === 0 && freshGroups.length === 0) return ErrorCode.NONE;
    const now = this.now();
    const starting = m.state !== 'Ongoing';
    const base = m.record();
    const next: TransactionRecord = {
      ...base,
      state: 'Ongoing',
      partitions: sortedPartitions(dedupe([...base.partitions, ...fresh])),
      groups: [...new Set([...base.groups, ...freshGroups])].sort(),
      startTimestampMs: starting ? now : m.startTimestampMs,
      lastUpdateTimestampMs: now,
    };
    if (starting) {
      // A new transaction: nothing of the last one may linger.
      next.partitions = sortedPartitions(dedupe(fresh));
      next.groups = [...new Set(freshGroups)].sort();
      m.offsets.clear();
    }
    return this.transition(m, next);
  }

  /**
   * KIP-890 verification (AddPartitionsToTxn v4+ with verifyOnly): whether each partition is in the
   * producer's ongoing transaction. One error for all partitions, or a code per partition.
   */
  verifyPartitions(transactionalId: string, producerId: number, producerEpoch: number, partitions: TxnPartition[]): number | number[] {
    if (transactionalId === '') return ErrorCode.INVALID_REQUEST;
    const md = this.txns.get(transactionalId);
    const err = this.checkProducer(md, producerId, producerEpoch);
    if (err !== ErrorCode.NONE) return err;
    if (md!.isPreparing) return ErrorCode.CONCURRENT_TRANSACTIONS;
    return partitions.map((p) => (md!.partitions.has(partitionKey(p.topic, p.partition)) ? ErrorCode.NONE : ErrorCode.TRANSACTION_ABORTABLE));
  }

  /**
   * The check a transactional produce passes before its batches are appended (KIP-890 part 1): the
   * partition must be in the producer's ongoing transaction. Synchronous, so the caller can append
   * in the same turn of the event loop, before any EndTxn can move the transaction on.
   */
  checkProduce(transactionalId: string, producerId: number, producerEpoch: number, topic: string, partition: number): number {
    const md = this.txns.get(transactionalId);
    const err = this.checkProducer(md, producerId, producerEpoch);
    if (err !== ErrorCode.NONE) return err;
    if (md!.isPreparing || md!.pendingState === 'PrepareCommit' || md!.pendingState === 'PrepareAbort') return ErrorCode.CONCURRENT_TRANSACTIONS;
    if (md!.state !== 'Ongoing' || !md!.partitions.has(partitionKey(topic, partition))) return ErrorCode.TRANSACTION_ABORTABLE;
    return ErrorCode.NONE;
  }

  private checkProducer(md: TxnMetadata | undefined, producerId: number, producerEpoch: number): number {
    if (!md || md.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (md.producerEpoch !== producerEpoch) return ErrorCode.PRODUCER_FENCED;
    return ErrorCode.NONE;
  }

  // --- EndTxn -----------------------------------------------------------------------------------

  /**
   * Commits or aborts the producer's transaction: the decision is made durable (Prepare*), then a
   * marker goes to every partition, then the transaction completes. Answers once the decision is
   * durable and the first attempt at the markers is over; failed markers are retried in the
   * background, as Kafka's marker channel does.
   */
  async endTransaction(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean): Promise<number> {
    if (transactionalId === '') return ErrorCode.INVALID_REQUEST;
    const md = this.txns.get(transactionalId);
    const err = this.checkProducer(md, producerId, producerEpoch);
    if (err !== ErrorCode.NONE) return err;
    const m = md!;
    if (m.pendingState !== null) return ErrorCode.CONCURRENT_TRANSACTIONS;
    switch (m.state) {
      case 'Ongoing': {
        const e = await this.transition(m, { ...m.record(), state: commit ? 'PrepareCommit' : 'PrepareAbort', lastUpdateTimestampMs: this.now() });
        if (e !== ErrorCode.NONE) return e;
        await this.complete(m);
        return ErrorCode.NONE;
      }
      // A retry of an EndTxn that already went through gets the same answer.
      case 'CompleteCommit':
        return commit ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE;
      case 'CompleteAbort':
        return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE;
      case 'PrepareCommit':
        return commit ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.INVALID_TXN_STATE;
      case 'PrepareAbort':
        return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.CONCURRENT_TRANSACTIONS;
      case 'Empty':
      case 'Dead':
        return ErrorCode.INVALID_TXN_STATE;
    }
  }

  /** Bumps the epoch (fencing the current producer) and aborts its open transaction. */
  private async fenceAndAbort(md: TxnMetadata, reason: string): Promise<number> {
    assert(md.state === 'Ongoing' && md.pendingState === null, `fencing ${md.transactionalId} in state ${md.state}`);
    // Like Kafka, the bump applies in memory at once, so the fenced producer's requests fail from now
    // on; if it cannot be persisted, the next fence reuses it rather than bumping again.
    if (!md.hasFailedEpochFence) md.producerEpoch += 1;
    md.lastProducerEpoch = NO_PRODUCER_EPOCH;
    assert(md.producerEpoch <= INT16_MAX, `epoch of ${md.transactionalId} overflows`);
    const err = await this.transition(md, { ...md.record(), state: 'PrepareAbort', lastUpdateTimestampMs: this.now() });
    if (err !== ErrorCode.NONE) {
      md.hasFailedEpochFence = true;
      return err;
    }
    this.log.info('aborting transaction', { transactionalId: md.transactionalId, producerId: md.producerId, producerEpoch: md.producerEpoch, reason });
    await this.complete(md);
    return ErrorCode.NONE;
  }

  /** Writes the markers of a Prepare* transaction, applies committed offsets, completes it. One run at a time. */
  private complete(md: TxnMetadata): Promise<boolean> {
    md.completion ??= this.runCompletion(md).finally(() => {
      md.completion = null;
    });
    return md.completion;
  }

  private async runCompletion(md: TxnMetadata): Promise<boolean> {
    assert(md.isPreparing, `completing ${md.transactionalId} in state ${md.state}`);
    if (md.retryTimer) clearTimeout(md.retryTimer);
    md.retryTimer = null;
    const commit = md.state === 'PrepareCommit';
    const now = this.now();
    const written = await Promise.all(
      [...md.partitions.entries()].map(async ([key, p]) => {
        const topic = this.catalog.byName(p.topic);
        const log = topic ? this.logs.get(topic.topicId, p.partition) : undefined;
        if (!log) {
          // The topic was deleted meanwhile: there is nothing left to mark.
          this.log.warn('transaction marker skipped: partition is gone', { transactionalId: md.transactionalId, topic: p.topic, partition: p.partition });
          return key;
        }
        if (this.isMirror(topic!.topicId, log, md.producerId)) {
          // A mirror's offsets are the source's: a marker of this coordinator would make it diverge.
          // Produce refuses transactional writes of local ids there, so no batch of this
          // transaction is in it and there is nothing to mark (a transaction of an older Strait, or
          // one that raced the creation of a mirror partition, can still list it).
          this.log.warn('transaction marker skipped: partition is a mirror', { transactionalId: md.transactionalId, topic: p.topic, partition: p.partition });
          return key;
        }
        try {
          const r = await log.appendMarker(md.producerId, md.producerEpoch, this.coordinatorEpoch, commit, now);
          if (r.errorCode === ErrorCode.NONE) return key;
          if (this.isMirror(topic!.topicId, log, md.producerId)) return key;
          this.log.warn('transaction marker failed', { transactionalId: md.transactionalId, topic: p.topic, partition: p.partition, errorCode: r.errorCode, error: r.errorMessage });
        } catch (err) {
          this.log.warn('transaction marker failed', { transactionalId: md.transactionalId, topic: p.topic, partition: p.partition, err: err as Error });
        }
        return null;
      }),
    );
    for (const key of written) if (key !== null) md.partitions.delete(key);
    if (md.partitions.size > 0) return this.retryLater(md);
    if (commit && md.offsets.size > 0) {
      try {
        await this.offsetsHost.commitTxnOffsets([...md.offsets.values()].map(toCommittedOffset));
      } catch (err) {
        this.log.warn('committing transactional offsets failed', { transactionalId: md.transactionalId, err: err as Error });
        return this.retryLater(md);
      }
    }
    const done: TransactionRecord = { ...md.record(), state: commit ? 'CompleteCommit' : 'CompleteAbort', partitions: [], groups: [], lastUpdateTimestampMs: this.now() };
    const err = await this.transition(md, done, (r) => this.store.finishTransaction(r));
    if (err !== ErrorCode.NONE) return this.retryLater(md);
    md.offsets.clear();
    md.hasFailedEpochFence = false;
    md.retryDelayMs = 0;
    return true;
  }

  private retryLater(md: TxnMetadata): false {
    if (this.closed) return false;
    md.retryDelayMs = Math.min(MARKER_RETRY_MS_MAX, Math.max(MARKER_RETRY_MS_MIN, md.retryDelayMs * 2));
    md.retryTimer = setTimeout(() => {
      md.retryTimer = null;
      if (md.isPreparing && !this.closed) void this.complete(md);
    }, md.retryDelayMs);
    md.retryTimer.unref();
    return false;
  }

  /**
   * Prepares a transition, makes it durable, applies it. While the write is in flight the
   * transactional id is busy (CONCURRENT_TRANSACTIONS); a failed write leaves the state as it was.
   */
  private async transition(md: TxnMetadata, next: TransactionRecord, write: (r: TransactionRecord) => Promise<void> = (r) => this.store.saveTransaction(r)): Promise<number> {
    assert(md.pendingState === null, `transition of ${md.transactionalId} to ${next.state} while ${md.pendingState} is pending`);
    const to = next.state as TxnState;
    assert(VALID_PREVIOUS[to].includes(md.state), `invalid transition of ${md.transactionalId} from ${md.state} to ${to}`);
    assert(next.producerEpoch >= 0 && next.producerEpoch <= INT16_MAX && next.producerId >= 0, `invalid producer ${next.producerId}/${next.producerEpoch} for ${md.transactionalId}`);
    md.pendingState = to;
    try {
      await write(next);
    } catch (err) {
      this.log.warn('transaction state write failed', { transactionalId: md.transactionalId, to, err: err as Error });
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    } finally {
      md.pendingState = null;
    }
    md.apply(next);
    return ErrorCode.NONE;
  }

  // --- TxnOffsetCommit ---------------------------------------------------------------------------

  /** Records offsets of the producer's transaction; they become committed offsets if it commits.
   *  Returns one error code for all the given offsets. */
  async commitOffsets(req: TxnOffsetCommitInput): Promise<number> {
    if (req.groupId === '') return ErrorCode.INVALID_GROUP_ID;
    const md = this.txns.get(req.transactionalId);
    const err = this.checkProducer(md, req.producerId, req.producerEpoch);
    // A stale epoch fails like a fenced write to the offsets log would.
    if (err === ErrorCode.PRODUCER_FENCED) return ErrorCode.INVALID_PRODUCER_EPOCH;
    if (err !== ErrorCode.NONE) return err;
    const m = md!;
    if (m.pendingState !== null || m.isPreparing) return ErrorCode.CONCURRENT_TRANSACTIONS;
    // KIP-890: the group must have been added to the transaction (AddOffsetsToTxn).
    if (m.state !== 'Ongoing' || !m.groups.has(req.groupId)) return ErrorCode.TRANSACTION_ABORTABLE;
    const groupErr = await this.offsetsHost.validateTxnOffsetCommit(req.groupId, req.memberId, req.groupInstanceId, req.generationId);
    if (groupErr !== ErrorCode.NONE) return groupErr;
    // The transaction may have moved on while the group was checked.
    if (m.producerId !== req.producerId || m.producerEpoch !== req.producerEpoch || m.state !== 'Ongoing' || m.pendingState !== null) return ErrorCode.CONCURRENT_TRANSACTIONS;
    const now = this.now();
    const records: TxnOffsetRecord[] = req.offsets.map((o) => ({
      transactionalId: req.transactionalId,
      producerId: req.producerId,
      groupId: req.groupId,
      topic: o.topic,
      partitionIndex: o.partition,
      committedOffset: o.offset,
      leaderEpoch: o.leaderEpoch,
      metadata: o.metadata,
      commitTimestampMs: now,
      expireTimestampMs: null,
    }));
    // In memory first, so an EndTxn that follows this request includes them whatever the store's timing.
    for (const r of records) m.offsets.set(offsetKey(r.groupId, r.topic, r.partitionIndex), r);
    try {
      await this.store.saveTxnOffsets(records);
    } catch (e) {
      for (const r of records) m.offsets.delete(offsetKey(r.groupId, r.topic, r.partitionIndex));
      this.log.warn('transactional offsets write failed', { transactionalId: req.transactionalId, err: e as Error });
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    return ErrorCode.NONE;
  }

  /** Whether an open transaction holds an offset of this group and partition not yet committed
   *  (OffsetFetch with requireStable answers UNSTABLE_OFFSET_COMMIT then, KIP-447). */
  hasPendingOffset(groupId: string, topic: string, partition: number): boolean {
    const key = offsetKey(groupId, topic, partition);
    for (const md of this.txns.values()) if (md.offsets.has(key)) return true;
    return false;
  }

  // --- timeouts and expiration -------------------------------------------------------------------

  /** Aborts, with an epoch bump, every ongoing transaction older than its timeout (Kafka's
   *  transaction.abort.timed.out.transaction.cleanup.interval.ms job). */
  async abortTimedOut(): Promise<number> {
    const now = this.now();
    const expired = [...this.txns.values()].filter((md) => md.state === 'Ongoing' && md.pendingState === null && md.startTimestampMs + md.timeoutMs < now);
    let aborted = 0;
    for (const md of expired) {
      if (md.state !== 'Ongoing' || md.pendingState !== null) continue;
      if ((await this.fenceAndAbort(md, `transaction timed out after ${md.timeoutMs} ms`)) === ErrorCode.NONE) aborted++;
    }
    return aborted;
  }

  /** Forgets transactional ids idle past transactional.id.expiration.ms with no transaction open. */
  async expireTransactionalIds(): Promise<number> {
    const cutoff = this.now() - this.config.transactionalIdExpirationMs;
    let removed = 0;
    for (const md of [...this.txns.values()]) {
      if (md.pendingState !== null || !VALID_PREVIOUS.Dead.includes(md.state) || md.lastUpdateTimestampMs > cutoff) continue;
      md.pendingState = 'Dead';
      try {
        await this.store.deleteTransaction(md.transactionalId);
        this.txns.delete(md.transactionalId);
        removed++;
      } catch (err) {
        this.log.warn('transactional id expiration failed', { transactionalId: md.transactionalId, err: err as Error });
      } finally {
        md.pendingState = null;
      }
    }
    if (removed > 0) this.log.info('expired transactional ids', { removed });
    return removed;
  }

  /**
   * Drops producers idle longer than producer.id.expiration.ms from every partition's producer
   * state (Kafka's producer expiration check, scheduled by producer.id.expiration.check.interval.ms),
   * so the maps stay bounded. The partition keeps producers with a transaction open: they go once
   * this coordinator has ended it.
   */
  async expireProducers(producerIdExpirationMs: number): Promise<number> {
    const now = this.now();
    let removed = 0;
    for (const log of this.logs.all()) removed += log.expireProducers(now, producerIdExpirationMs);
    if (removed > 0) this.log.info('expired idle producers', { removed, producerIdExpirationMs });
    return removed;
  }

  // --- DescribeTransactions, ListTransactions ----------------------------------------------------

  describe(transactionalId: string): TxnDescription {
    const none = { transactionalId, state: '', timeoutMs: 0, startTimestampMs: -1, producerId: -1, producerEpoch: -1, partitions: [] };
    if (transactionalId === '') return { ...none, errorCode: ErrorCode.INVALID_REQUEST };
    const md = this.txns.get(transactionalId);
    if (!md || md.state === 'Dead') return { ...none, errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND };
    // The partition count of the listed __consumer_offsets (offsets.topic.num.partitions), so the
    // partition shown is one that Metadata lists.
    const offsetsPartitions = this.catalog.byName(OFFSETS_TOPIC)?.partitionCount ?? OFFSETS_TOPIC_PARTITIONS;
    const partitions = [...md.partitions.values(), ...[...md.groups].map((g) => ({ topic: OFFSETS_TOPIC, partition: offsetsPartitionFor(g, offsetsPartitions) }))];
    return {
      errorCode: ErrorCode.NONE,
      transactionalId,
      state: md.state,
      timeoutMs: md.timeoutMs,
      startTimestampMs: md.startTimestampMs,
      producerId: md.producerId,
      producerEpoch: md.producerEpoch,
      partitions: sortedPartitions(dedupe(partitions)),
    };
  }

  list(filter: { states: string[]; producerIds: number[]; durationMs: number }): { unknownStates: string[]; transactions: TxnListing[] } {
    const unknownStates = filter.states.filter((s) => !TXN_STATES.includes(s as TxnState));
    const states = new Set(filter.states);
    const pids = new Set(filter.producerIds);
    const now = this.now();
    const transactions: TxnListing[] = [];
    for (const md of this.txns.values()) {
      if (md.state === 'Dead') continue;
      if (pids.size > 0 && !pids.has(md.producerId)) continue;
      if (states.size > 0 && !states.has(md.state)) continue;
      if (filter.durationMs >= 0 && now - md.startTimestampMs <= filter.durationMs) continue;
      transactions.push({ transactionalId: md.transactionalId, producerId: md.producerId, state: md.state });
    }
    transactions.sort((a, b) => (a.transactionalId < b.transactionalId ? -1 : a.transactionalId > b.transactionalId ? 1 : 0));
    return { unknownStates, transactions };
  }

  /** The state of one transactional id, for tests and operators. */
  state(transactionalId: string): TransactionRecord | null {
    return this.txns.get(transactionalId)?.record() ?? null;
  }
}

function initError(errorCode: number): InitProducerIdResult {
  return { errorCode, producerId: NO_PRODUCER_ID, producerEpoch: NO_PRODUCER_EPOCH };
}

function dedupe(ps: TxnPartition[]): TxnPartition[] {
  const m = new Map<string, TxnPartition>();
  for (const p of ps) m.set(partitionKey(p.topic, p.partition), { topic: p.topic, partition: p.partition });
  return [...m.values()];
}

function toCommittedOffset(o: TxnOffsetRecord): CommittedOffsetRecord {
  return {
    groupId: o.groupId,
    topic: o.topic,
    partitionIndex: o.partitionIndex,
    committedOffset: o.committedOffset,
    leaderEpoch: o.leaderEpoch,
    metadata: o.metadata,
    commitTimestampMs: o.commitTimestampMs,
    expireTimestampMs: null,
  };
}
