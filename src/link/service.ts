// What the broker offers about links to the HTTP API, the CLI and the console: the operations and
// the shapes they answer with. The link manager (link-manager.ts) implements it.
import type { MetricSample } from '../http/metrics.ts';
import type { LinkSpec, LinkSpecInput } from './spec.ts';
import type { ReverseCopierStatus } from './reverse-copier.ts';

export type { CopyKind, ReverseCopierStatus, ReverseGroupStatus, ReversePartitionStatus } from './reverse-copier.ts';

export type LinkState = 'active' | 'paused';
/** mirroring: fed by the link, read-only; promoted / failed-over: local writes, no longer fed. */
export type MirrorState = 'mirroring' | 'promoting' | 'promoted' | 'failed-over';

export interface MirrorPartitionStatus {
  partition: number;
  /** Next offset the mirror will append (its log end offset). */
  mirroredEndOffset: number;
  logStartOffset: number;
  /** Source high watermark and log start offset as last seen in a fetch; -1 before the first. */
  sourceHighWatermark: number;
  sourceLogStartOffset: number;
  sourceLeaderEpoch: number;
  /** sourceHighWatermark − mirroredEndOffset, never below 0. */
  lagRecords: number;
  /** Seconds since the mirror last had everything the source had (0 when caught up). */
  lagSeconds: number;
  /** Set while the partition cannot make progress (source error, storage error…). */
  error: string | null;
  /** Log truncations after source divergence (unclean leader election), most recent last. */
  truncations: { atMs: number; fromOffset: number; toOffset: number; reason: string }[];
}

export interface MirrorStatus {
  topic: string;
  sourceTopic: string;
  state: MirrorState;
  partitions: MirrorPartitionStatus[];
  lagRecords: number;
  /** The latest promote or failover report of this topic, when there was one. */
  lastPromotion: PromotionReport['topics'][number] | null;
  /** True while the topic is copied back to the source (rollback after promotion), even if paused. */
  reversing: boolean;
  /** Progress of that copy while it runs; null when not reversing or while the link is paused. */
  reverse: ReverseCopierStatus | null;
}

export interface GroupSyncStatus {
  groupId: string;
  /**
   * synced: offsets copied; pending: some held back until mirrored; active-on-source: the group has
   * members on the source, so it may not start on Strait yet (joins answer a retriable error);
   * active-on-strait: the group has been used on Strait and is no longer synced.
   */
  state: 'synced' | 'pending' | 'active-on-source' | 'active-on-strait' | 'error';
  lastSyncMs: number;
  /** Partitions whose source offset is beyond what the mirror holds yet: held back until mirrored. */
  heldBack: number;
  offsetsSynced: number;
  error: string | null;
  /** Joins on Strait are refused (retriable) because the group has members on the source. */
  gatedOnSource: boolean;
}

export interface LinkDescription {
  name: string;
  linkId: string;
  state: LinkState;
  spec: LinkSpec;
  createdAtMs: number;
  /** null when the source answers; otherwise what went wrong the last time it was asked. */
  sourceError: string | null;
  sourceClusterId: string | null;
  mirrors: MirrorStatus[];
  groups: GroupSyncStatus[];
  aclsSynced: number;
  /** Why nothing is synced, when the source has no authorizer; null otherwise. */
  aclSyncNote: string | null;
  lastConfigSyncMs: number;
  lastGroupSyncMs: number;
  lastAclSyncMs: number;
}

export interface PromoteOptions {
  /** Topics to promote; every mirror of the link when left out. */
  topics?: string[];
  /** How long to wait for the mirror to reach the source's high watermark (promote only). */
  timeoutMs?: number;
}

export interface PromotionReport {
  link: string;
  kind: 'promote' | 'failover';
  /** Transactional ids whose coordination moved from the source to Strait (transaction forwarding). */
  transactionalIdsAdopted?: number;
  topics: {
    topic: string;
    state: MirrorState;
    /**
     * Per partition: where local writes start, the leader epoch they are written at, and
     * (failover) the source end offset last seen.
     */
    /** mirrorEndOffset: where the mirror ended when promotion was decided; the source's transactions
     *  still open below it are aborted, and the topic opens at endOffset (after those markers). */
    partitions: { partition: number; endOffset: number; mirrorEndOffset?: number; sourceEndOffsetLastSeen: number; lossWindowRecords: number; leaderEpoch: number }[];
    /** Total records the source may hold that the mirror does not (failover; 0 for promote). */
    lossWindowRecords: number;
    /** Transactions left open in the mirrored data that promotion aborted with markers. */
    abortedTransactions: number;
    groupsSynced: number;
  }[];
}

export interface ReverseOptions {
  /** Promoted topics to copy back (or stop copying); every promoted topic of the link when left out. */
  topics?: string[];
}

export interface ReverseReport {
  link: string;
  /** One entry per topic the request named (or every reversing topic); null progress while paused. */
  topics: { topic: string; reversing: boolean; status: ReverseCopierStatus | null }[];
}

export interface LinkService {
  create(input: LinkSpecInput): Promise<LinkDescription>;
  list(): Promise<LinkDescription[]>;
  describe(name: string): Promise<LinkDescription>;
  pause(name: string): Promise<LinkDescription>;
  resume(name: string): Promise<LinkDescription>;
  /** Refused while mirror topics still mirror unless force (they are then failed over). */
  delete(name: string, options?: { force?: boolean }): Promise<void>;
  /** Creates a mirror of one source topic (also done by auto-create for matching topics). */
  mirrorTopic(name: string, sourceTopic: string): Promise<MirrorStatus>;
  promote(name: string, options?: PromoteOptions): Promise<PromotionReport>;
  failover(name: string, options?: PromoteOptions): Promise<PromotionReport>;
  /**
   * Rollback after promotion: copies what was written to promoted topics since promotion back to
   * the source cluster at the same offsets, and committed group offsets with them (reverse-copier.ts).
   * Runs until stopped, across restarts; starting it again is a no-op.
   */
  reverse(name: string, options?: ReverseOptions): Promise<ReverseReport>;
  stopReverse(name: string, options?: ReverseOptions): Promise<ReverseReport>;
  metrics(): MetricSample[];
}
