// The contract every metadata engine implements. Calls are async so that networked engines fit;
// each call is atomic on its own.
import { StraitError } from '../common/errors.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';

/** A partition whose leadership moved: a commit conditional on its leader (and epoch) was refused. */
export interface FencedPartition {
  topicId: string;
  partitionIndex: number;
}

/** A write for partitions this broker no longer leads (another broker claimed them): nothing was
 *  written. Clients get NOT_LEADER_OR_FOLLOWER and find the new leader. */
export class FencedError extends StraitError {
  readonly partitions: FencedPartition[];
  constructor(partitions: FencedPartition[]) {
    super('STRAIT_FENCED', `${partitions.length} partition(s) are led by another broker or at a newer leader epoch`, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    this.partitions = partitions;
  }
}

/**
 * One run of one broker: its node id and a number drawn at its start. A broker that leads a
 * partition leads it as one incarnation; a process with the same node id started later (while the
 * old one is only paused) is another incarnation and fences the old one.
 */
export interface BrokerIncarnation {
  nodeId: number;
  incarnation: number;
}

/** Who must still lead a partition for a commit to stand: this broker incarnation, at a leader
 *  epoch no newer than the one the data was written at. */
export interface LeaderFence extends BrokerIncarnation {
  /** The leader epoch each partition of the commit was written at. */
  leaderEpochs: { topicId: string; partitionIndex: number; leaderEpoch: number }[];
}

/** One partition's part of a WAL object (wal.kind=object): batches [baseOffset, endOffset) at
 *  `position`, written at `leaderEpoch`. A part without bytes is a truncation marker. */
export interface WalRange {
  topicId: string;
  partitionIndex: number;
  baseOffset: number;
  endOffset: number;
  position: number;
  sizeBytes: number;
  leaderEpoch: number;
}

/** A committed WAL object and its parts not yet uploaded into data objects, in position order. */
export interface WalObjectRecord {
  objectId: number;
  key: string;
  sizeBytes: number;
  nodeId: number;
  ranges: WalRange[];
}

export interface TopicRecord {
  topicId: string;
  name: string;
  partitionCount: number;
  replicationFactor: number;
  /** Topic-level overrides only; defaults are not stored. */
  configs: Record<string, string>;
  createdAtMs: number;
}

export interface PartitionRecord {
  topicId: string;
  partitionIndex: number;
  leaderId: number;
  leaderEpoch: number;
  logStartOffset: number;
  /** The leading broker's incarnation (BrokerIncarnation); absent where not read. */
  leaderIncarnation?: number;
}

/** Where one partition's batches for offsets [baseOffset, endOffset) live inside an object. */
export interface ObjectRange {
  topicId: string;
  partitionIndex: number;
  baseOffset: number;
  /** Exclusive: the offset after the last batch's last offset. */
  endOffset: number;
  objectId: number;
  objectKey: string;
  position: number;
  sizeBytes: number;
  maxTimestamp: number;
  /** Set on ranges the log cleaner wrote and deduplicated (cleanup.policy=compact); absent or
   *  false: dirty. Kafka keeps the same fact as the cleaner checkpoint (first dirty offset). */
  cleaned?: boolean;
}

export type NewObjectRange = Omit<ObjectRange, 'objectId' | 'objectKey'>;

/** Idempotent producer state of a partition as of endOffset (opaque JSON to the store). */
export interface ProducerSnapshot {
  topicId: string;
  partitionIndex: number;
  endOffset: number;
  state: string;
}

/**
 * A partition's leader-epoch history (Kafka's leader-epoch-checkpoint file): each leader epoch and
 * the first offset written in it, ascending. A partition without a saved history (data written
 * before histories were kept) is absent from `leaderEpochHistories()`; one saved empty is present.
 */
export interface LeaderEpochHistory {
  topicId: string;
  partitionIndex: number;
  entries: { epoch: number; startOffset: number }[];
}

export interface NewTopic {
  name: string;
  topicId: string;
  partitionCount: number;
  replicationFactor: number;
  configs: Record<string, string>;
  leaderId: number;
  /** The creating broker's incarnation (see BrokerIncarnation); 0 when none. */
  leaderIncarnation?: number;
}

export interface BrokerRecord {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

/** A consumer group's persisted state. The state is the group coordinator's own JSON document; the
 *  store keeps it as it is. */
export interface GroupRecord {
  groupId: string;
  /** 'classic' (JoinGroup/SyncGroup) or 'consumer' (KIP-848). */
  groupType: string;
  state: string;
  updatedAtMs: number;
}

/** One committed offset of a group, as OffsetCommit stored it. */
export interface CommittedOffsetRecord {
  groupId: string;
  topic: string;
  partitionIndex: number;
  committedOffset: number;
  /** -1 when the client sent none. */
  leaderEpoch: number;
  metadata: string | null;
  commitTimestampMs: number;
  /** Only OffsetCommit v2-v4 with an explicit retention time set it; null otherwise. */
  expireTimestampMs: number | null;
}

export interface MetadataStore {
  /** Opens the store and applies pending schema migrations. */
  open(): Promise<void>;
  close(): Promise<void>;
  schemaVersion(): Promise<number>;
  /** The cluster id, created on first use. */
  clusterId(): Promise<string>;
  registerBroker(broker: BrokerRecord): Promise<void>;
  brokers(): Promise<BrokerRecord[]>;
  /** Creates a topic with its partitions; returns null when the name is taken. */
  createTopic(topic: NewTopic): Promise<TopicRecord | null>;
  /** Deletes a topic and its partitions; returns false when it did not exist. */
  deleteTopic(topicId: string): Promise<boolean>;
  topics(): Promise<TopicRecord[]>;
  topicByName(name: string): Promise<TopicRecord | null>;
  topicById(topicId: string): Promise<TopicRecord | null>;
  partitions(topicId: string): Promise<PartitionRecord[]>;
  /** Every partition of every topic, for loading partition logs at start. */
  allPartitions(): Promise<PartitionRecord[]>;
  /** Adds partitions up to newCount (CreatePartitions); returns false when the topic is gone. */
  addPartitions(topicId: string, newCount: number, leaderId: number, leaderIncarnation?: number): Promise<boolean>;
  /** Replaces a topic's config overrides as a whole. */
  setTopicConfigs(topicId: string, configs: Record<string, string>): Promise<void>;
  /** Sets a partition's leader epoch (a promoted mirror starts above the source's epochs). */
  setLeaderEpoch(topicId: string, partitionIndex: number, leaderEpoch: number): Promise<void>;
  /**
   * Cuts a partition's log at `offset` (a mirror whose source diverged): ranges starting at or past
   * it are dropped; a range holding it is shortened to end there, `keepBytes` long. Atomic.
   */
  truncateRanges(
    topicId: string,
    partitionIndex: number,
    offset: number,
    cut: { objectId: number; baseOffset: number; keepBytes: number; maxTimestamp: number } | null,
    /** The producer state of the batches kept, saved in the same transaction. */
    producerSnapshot?: ProducerSnapshot,
  ): Promise<void>;
  /** Moves an empty (or wholly discarded) partition to start at `offset`: log start there, no ranges
   *  (WAL ranges of the partition go too). truncateRanges also drops WAL ranges ending past `offset`. */
  resetPartition(topicId: string, partitionIndex: number, offset: number): Promise<void>;

  /** Records an uploaded object, the ranges it holds and the producer state at each range's end,
   *  atomically; returns the object id. WAL ranges (wal.kind=object) of the same partitions that end
   *  at or before a committed range's end are uploaded now and are deleted in the same transaction.
   *  With a fence, nothing is written unless every partition named in it still has that leader and
   *  leader epoch; otherwise it throws FencedError naming those that do not. */
  commitObject(key: string, sizeBytes: number, ranges: NewObjectRange[], producerSnapshots?: ProducerSnapshot[], fence?: LeaderFence): Promise<number>;
  /**
   * Records a WAL object (wal.kind=object) and its parts, atomically, provided every partition in
   * `ranges` is still led by `leader` (that node id and incarnation) at a leader epoch no newer than
   * the range's; otherwise writes nothing and
   * answers the partitions that are not (every one of them). A key already committed (a retry whose
   * first answer was lost) answers its object id again and writes nothing.
   */
  commitWalObject(key: string, sizeBytes: number, leader: BrokerIncarnation, ranges: WalRange[]): Promise<{ objectId: number; fenced: null } | { objectId: null; fenced: FencedPartition[] }>;
  /** Every WAL object that still has parts not uploaded, by object id (commit order). */
  walObjects(): Promise<WalObjectRecord[]>;
  /**
   * Makes `leader` the leader of every partition led by another node id or another incarnation (a
   * broker taking over a dead one's partitions, or starting again), atomically. The leader epoch of
   * each partition taken from another node id goes up by one, except for partitions of topics a link
   * still mirrors (their epoch follows the source's); the incarnation alone fences a paused process
   * of the same node id, and the old leader of a mirror. Returns the partitions claimed with their
   * new epochs and previous leader ids.
   */
  claimPartitions(leader: BrokerIncarnation): Promise<(PartitionRecord & { previousLeaderId: number })[]>;
  /** The latest producer-state snapshot of every partition. */
  producerSnapshots(): Promise<ProducerSnapshot[]>;
  /** Replaces a partition's leader-epoch history as a whole, atomically; ignored for a deleted topic. */
  saveLeaderEpochs(history: LeaderEpochHistory): Promise<void>;
  /** The saved leader-epoch history of every partition that has one. */
  leaderEpochHistories(): Promise<LeaderEpochHistory[]>;
  /** Replaces ranges of one partition by ranges in a new object (compaction, cleaning), atomically.
   *  Each old range must still be exactly as given (same offsets, same object); otherwise nothing
   *  changes and the answer is null: retention or another rewrite got there first. */
  replaceRanges(
    topicId: string,
    partitionIndex: number,
    oldRanges: { baseOffset: number; endOffset: number; objectId: number }[],
    key: string,
    sizeBytes: number,
    ranges: NewObjectRange[],
  ): Promise<number | null>;
  /** A partition's ranges in offset order. */
  objectRanges(topicId: string, partitionIndex: number): Promise<ObjectRange[]>;
  /** Moves the log start offset forward (never back) and drops ranges wholly below it. */
  advanceLogStartOffset(topicId: string, partitionIndex: number, offset: number): Promise<number>;
  /** Objects no range refers to any more: marks new ones with a grace deadline, returns those past it. */
  unreferencedObjects(nowMs: number, graceMs: number): Promise<{ objectId: number; key: string }[]>;
  forgetObject(objectId: number): Promise<void>;
  /** Whether metadata knows an object by this key (committed, or unreferenced and not yet deleted). */
  hasObject(key: string): Promise<boolean>;
  /** Reserves `count` consecutive values of a cluster-wide counter; returns the first. */
  reserveIds(counter: string, count: number): Promise<number>;

  /** Creates or replaces a consumer group's state. */
  saveGroup(group: GroupRecord): Promise<void>;
  /** Deletes a group's state and all its committed offsets, atomically; false when neither existed. */
  deleteGroup(groupId: string): Promise<boolean>;
  groups(): Promise<GroupRecord[]>;
  /** Stores committed offsets (of one or several groups), replacing earlier ones, atomically. */
  commitOffsets(offsets: CommittedOffsetRecord[]): Promise<void>;
  /** Committed offsets of one group, or of every group when groupId is omitted. */
  committedOffsets(groupId?: string): Promise<CommittedOffsetRecord[]>;
  /** Deletes some committed offsets of a group, atomically; returns how many existed. */
  deleteOffsets(groupId: string, partitions: { topic: string; partitionIndex: number }[]): Promise<number>;
  /** Deletes every group's committed offsets for a topic (the topic was deleted); returns how many. */
  deleteTopicOffsets(topic: string): Promise<number>;

  /** Creates or replaces a transactional id's transaction state. */
  saveTransaction(txn: TransactionRecord): Promise<void>;
  /** Every transactional id's transaction state, by transactional id. */
  transactions(): Promise<TransactionRecord[]>;
  /** Deletes a transactional id's state and its pending offsets, atomically; false when it had no state. */
  deleteTransaction(transactionalId: string): Promise<boolean>;
  /** Stores offsets of ongoing transactions, replacing the same transaction's earlier ones for the
   *  same group and partitions, atomically. */
  saveTxnOffsets(offsets: TxnOffsetRecord[]): Promise<void>;
  /** The pending offsets of every transaction, by transactional id. */
  txnOffsets(): Promise<TxnOffsetRecord[]>;
  saveLink(link: LinkRecord): Promise<void>;
  /** Deletes a link with its group sync state, atomically; false when it did not exist. */
  deleteLink(name: string): Promise<boolean>;
  links(): Promise<LinkRecord[]>;
  saveMirror(mirror: MirrorRecord): Promise<void>;
  deleteMirror(topicId: string): Promise<void>;
  mirrors(): Promise<MirrorRecord[]>;
  saveLinkGroup(group: LinkGroupRecord): Promise<void>;
  linkGroups(linkName: string): Promise<LinkGroupRecord[]>;

  /** Replaces the whole set of ACL bindings of one source (`source` wins over any `source` field
   *  of the bindings; duplicates count once), atomically; returns how many bindings are new and how
   *  many are gone. */
  replaceAcls(source: string, bindings: readonly AclBindingRecord[]): Promise<{ added: number; removed: number }>;
  /** Every ACL binding of every source, ordered by resource, then entry, then source. */
  acls(): Promise<AclRecord[]>;
  /** Deletes every ACL binding of one source; returns how many there were. */
  deleteAcls(source: string): Promise<number>;

  /** Saves a transaction's state and deletes its pending offsets, atomically: the transaction ended
   *  (a commit has made its offsets committed offsets before). */
  finishTransaction(txn: TransactionRecord): Promise<void>;
}

/** A transactional id's transaction state as the transaction coordinator persists it (KIP-98). */
export interface TransactionRecord {
  transactionalId: string;
  producerId: number;
  /** The producer id before the last rotation (epoch exhaustion), or -1. */
  previousProducerId: number;
  producerEpoch: number;
  /** The epoch before the last bump, so a retried InitProducerId is recognised (KIP-360), or -1. */
  lastProducerEpoch: number;
  timeoutMs: number;
  /** Kafka's state names: Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort. */
  state: string;
  /** Partitions in the transaction, in (topic, partition) order. */
  partitions: { topic: string; partition: number }[];
  /** Consumer groups whose offsets the transaction commits (AddOffsetsToTxn), sorted. */
  groups: string[];
  /** When the transaction's first partition was added, or -1. */
  startTimestampMs: number;
  lastUpdateTimestampMs: number;
}

/** An offset committed inside a transaction (TxnOffsetCommit); it becomes a committed offset only
 *  when the transaction commits. */
export interface TxnOffsetRecord extends CommittedOffsetRecord {
  transactionalId: string;
  producerId: number;
}

/** A link to a source cluster; `spec` is the link's settings as JSON (see link/spec.ts). */
export interface LinkRecord {
  name: string;
  linkId: string;
  spec: string;
  /** 'active' or 'paused'. */
  state: string;
  createdAtMs: number;
  updatedAtMs: number;
}

/** A topic fed by a link. */
export interface MirrorRecord {
  topicId: string;
  linkName: string;
  sourceTopic: string;
  /** 'mirroring', 'promoting', 'promoted' or 'failed-over'. */
  state: string;
  /** JSON of the last promote/failover report of the topic, or null. */
  lastPromotion: string | null;
  /**
   * JSON of the reverse copy back to the source after promotion (where it starts per partition,
   * when it was started), or null when the topic is not copied back.
   */
  reverse: string | null;
  updatedAtMs: number;
}

/** Sync state of one consumer group of a link; 'active-on-strait' groups are never synced again. */
export interface LinkGroupRecord {
  linkName: string;
  groupId: string;
  state: string;
  updatedAtMs: number;
}

/** One ACL binding as Kafka describes it (AclBinding: a resource pattern and an access control
 *  entry). The enum fields hold Kafka's codes: resource type (TOPIC 2, GROUP 3, CLUSTER 4,
 *  TRANSACTIONAL_ID 5, DELEGATION_TOKEN 6, USER 7), pattern type (LITERAL 3, PREFIXED 4), operation
 *  (ALL 2, READ 3, …) and permission type (DENY 2, ALLOW 3). */
export interface AclBindingRecord {
  resourceType: number;
  /** '*' in a LITERAL pattern is Kafka's wildcard; CLUSTER's only name is 'kafka-cluster'. */
  resourceName: string;
  patternType: number;
  /** 'User:alice', 'User:*', … */
  principal: string;
  /** '*' for any host. */
  host: string;
  operation: number;
  permissionType: number;
}

/** An ACL binding and who owns it: 'link:<name>' for a binding synced from a link's source cluster. */
export interface AclRecord extends AclBindingRecord {
  source: string;
}
