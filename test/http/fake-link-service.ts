// An in-memory LinkService for the HTTP API and CLI tests: it keeps links, mirrors and groups in
// maps, validates specs with the real parseLinkSpec, refuses what the link manager refuses (with
// the same error codes), and records every call so tests can check what reached the service.
import { StraitError } from '../../src/common/errors.ts';
import { parseLinkSpec } from '../../src/link/spec.ts';
import type { LinkSpecInput } from '../../src/link/spec.ts';
import type { MetricSample } from '../../src/http/metrics.ts';
import type {
  GroupSyncStatus,
  LinkDescription,
  LinkService,
  MirrorStatus,
  PromoteOptions,
  PromotionReport,
  ReverseCopierStatus,
  ReverseOptions,
  ReverseReport,
} from '../../src/link/service.ts';

export interface FakeCall {
  op: string;
  args: unknown[];
}

export class FakeLinkService implements LinkService {
  readonly links = new Map<string, LinkDescription>();
  readonly calls: FakeCall[] = [];
  /** Thrown by the next call (then cleared), to drive the error paths. */
  failNext: Error | null = null;
  /** Added to metrics() after the link samples. */
  extraMetrics: MetricSample[] = [];
  /** Partitions of every mirror the fake creates. */
  partitionsPerMirror = 2;

  private enter(op: string, ...args: unknown[]): void {
    this.calls.push({ op, args });
    const err = this.failNext;
    this.failNext = null;
    if (err !== null) throw err;
  }

  private get(name: string): LinkDescription {
    const link = this.links.get(name);
    if (link === undefined) throw new StraitError('STRAIT_LINK_NOT_FOUND', `link '${name}' does not exist`);
    return link;
  }

  async create(input: LinkSpecInput): Promise<LinkDescription> {
    this.enter('create', input);
    const { name, spec } = parseLinkSpec(input);
    if (this.links.has(name)) throw new StraitError('STRAIT_LINK_EXISTS', `link '${name}' already exists`);
    const link: LinkDescription = {
      name,
      linkId: `link-${this.links.size + 1}`,
      state: 'active',
      spec,
      createdAtMs: Date.UTC(2026, 0, 2, 3, 4, 5),
      sourceError: null,
      sourceClusterId: 'source-cluster',
      mirrors: [],
      groups: [],
      aclsSynced: 0,
      aclSyncNote: null,
      lastConfigSyncMs: 0,
      lastGroupSyncMs: 0,
      lastAclSyncMs: 0,
    };
    this.links.set(name, link);
    return structuredClone(link);
  }

  async list(): Promise<LinkDescription[]> {
    this.enter('list');
    return [...this.links.values()].map((l) => structuredClone(l));
  }

  async describe(name: string): Promise<LinkDescription> {
    this.enter('describe', name);
    return structuredClone(this.get(name));
  }

  async pause(name: string): Promise<LinkDescription> {
    this.enter('pause', name);
    const link = this.get(name);
    link.state = 'paused';
    return structuredClone(link);
  }

  async resume(name: string): Promise<LinkDescription> {
    this.enter('resume', name);
    const link = this.get(name);
    link.state = 'active';
    return structuredClone(link);
  }

  async delete(name: string, options?: { force?: boolean }): Promise<void> {
    this.enter('delete', name, options);
    const link = this.get(name);
    const mirroring = link.mirrors.filter((m) => m.state === 'mirroring');
    if (mirroring.length > 0 && !options?.force) {
      throw new StraitError('STRAIT_LINK_HAS_MIRRORS', `link '${name}' still mirrors ${mirroring.map((m) => m.topic).join(', ')}; promote them or delete with force`);
    }
    this.links.delete(name);
  }

  async mirrorTopic(name: string, sourceTopic: string): Promise<MirrorStatus> {
    this.enter('mirrorTopic', name, sourceTopic);
    const link = this.get(name);
    if (link.mirrors.some((m) => m.topic === sourceTopic)) throw new StraitError('STRAIT_MIRROR_EXISTS', `topic '${sourceTopic}' is already a mirror of link '${name}'`);
    const partitions = Array.from({ length: this.partitionsPerMirror }, (_, p) => ({
      partition: p,
      mirroredEndOffset: 100 * (p + 1),
      logStartOffset: 0,
      sourceHighWatermark: 100 * (p + 1) + 5 * p,
      sourceLogStartOffset: 0,
      sourceLeaderEpoch: 3,
      lagRecords: 5 * p,
      lagSeconds: p === 0 ? 0 : 1.5,
      error: p === 1 ? 'NOT_LEADER_OR_FOLLOWER from source broker 2' : null,
      truncations: [],
    }));
    const mirror: MirrorStatus = {
      topic: sourceTopic,
      sourceTopic,
      state: 'mirroring',
      partitions,
      lagRecords: partitions.reduce((n, p) => n + p.lagRecords, 0),
      lastPromotion: null,
      reversing: false,
      reverse: null,
    };
    link.mirrors.push(mirror);
    return structuredClone(mirror);
  }

  /** Adds a group to a link's description, as the group syncer would. */
  addGroup(name: string, group: GroupSyncStatus): void {
    this.get(name).groups.push(group);
  }

  async promote(name: string, options?: PromoteOptions): Promise<PromotionReport> {
    this.enter('promote', name, options);
    return this.promotion(name, 'promote', options);
  }

  async failover(name: string, options?: PromoteOptions): Promise<PromotionReport> {
    this.enter('failover', name, options);
    return this.promotion(name, 'failover', options);
  }

  private promotion(name: string, kind: 'promote' | 'failover', options?: PromoteOptions): PromotionReport {
    const link = this.get(name);
    const chosen = options?.topics ?? link.mirrors.filter((m) => m.state === 'mirroring').map((m) => m.topic);
    const report: PromotionReport = { link: name, kind, topics: [] };
    for (const topic of chosen) {
      const mirror = link.mirrors.find((m) => m.topic === topic);
      if (mirror === undefined) throw new StraitError('STRAIT_MIRROR_NOT_FOUND', `topic '${topic}' is not a mirror of link '${name}'`);
      if (mirror.state !== 'mirroring') throw new StraitError('STRAIT_MIRROR_STATE', `topic '${topic}' is ${mirror.state}, not mirroring`);
      mirror.state = kind === 'promote' ? 'promoted' : 'failed-over';
      const partitions = mirror.partitions.map((p) => ({
        partition: p.partition,
        endOffset: kind === 'promote' ? p.sourceHighWatermark : p.mirroredEndOffset,
        sourceEndOffsetLastSeen: p.sourceHighWatermark,
        lossWindowRecords: kind === 'promote' ? 0 : p.lagRecords,
        leaderEpoch: p.sourceLeaderEpoch + 1,
      }));
      const entry = {
        topic,
        state: mirror.state,
        partitions,
        lossWindowRecords: partitions.reduce((n, p) => n + p.lossWindowRecords, 0),
        abortedTransactions: kind === 'promote' ? 1 : 0,
        groupsSynced: link.groups.length,
      };
      mirror.lastPromotion = entry;
      report.topics.push(entry);
    }
    return structuredClone(report);
  }

  async reverse(name: string, options?: ReverseOptions): Promise<ReverseReport> {
    this.enter('reverse', name, options);
    return this.reversal(name, options, true);
  }

  async stopReverse(name: string, options?: ReverseOptions): Promise<ReverseReport> {
    this.enter('stopReverse', name, options);
    return this.reversal(name, options, false);
  }

  private reversal(name: string, options: ReverseOptions | undefined, on: boolean): ReverseReport {
    const link = this.get(name);
    const promoted = (m: MirrorStatus) => m.state === 'promoted' || m.state === 'failed-over';
    const chosen = options?.topics ?? link.mirrors.filter(promoted).map((m) => m.topic);
    if (chosen.length === 0) throw new StraitError('STRAIT_MIRROR_STATE', `link '${name}' has no promoted topic to copy back (promote first)`);
    const report: ReverseReport = { link: name, topics: [] };
    for (const topic of chosen) {
      const mirror = link.mirrors.find((m) => m.topic === topic);
      if (mirror === undefined) throw new StraitError('STRAIT_MIRROR_NOT_FOUND', `link '${name}' does not mirror topic '${topic}'`);
      if (!promoted(mirror)) throw new StraitError('STRAIT_MIRROR_STATE', `topic '${topic}' is ${mirror.state}: only a promoted topic is copied back (promote it first)`);
      mirror.reversing = on;
      mirror.reverse = on ? reverseStatus(name, mirror) : null;
      report.topics.push({ topic, reversing: on, status: mirror.reverse });
    }
    return structuredClone(report);
  }

  metrics(): MetricSample[] {
    const out: MetricSample[] = [];
    // Interleaved on purpose: lag, then state, per link; the exposition must group them by name.
    for (const link of this.links.values()) {
      for (const m of link.mirrors) {
        for (const p of m.partitions) {
          out.push({ name: 'strait_link_mirror_lag_records', help: 'Records the mirror is behind the source high watermark.', type: 'gauge', labels: { link: link.name, topic: m.topic, partition: String(p.partition) }, value: p.lagRecords });
        }
      }
      out.push({ name: 'strait_link_active', help: 'Whether the link is active (1) or paused (0).', type: 'gauge', labels: { link: link.name }, value: link.state === 'active' ? 1 : 0 });
    }
    return [...out, ...this.extraMetrics];
  }
}

/** A reverse copy in progress: partition 0 caught up at the same offsets, partition 1 behind and retrying. */
function reverseStatus(link: string, m: MirrorStatus): ReverseCopierStatus {
  const from = (p: number) => m.lastPromotion?.partitions.find((x) => x.partition === p)?.endOffset ?? 0;
  return {
    link,
    topic: m.topic,
    state: 'running',
    offsetsIdentical: true,
    partitions: m.partitions.map((p) => ({
      partition: p.partition,
      state: p.partition === 0 ? 'caught-up' : 'retrying',
      fromOffset: from(p.partition),
      nextOffset: from(p.partition) + 10,
      kafkaNextOffset: from(p.partition) + 10,
      targetEndOffset: from(p.partition) + 10 + 7 * p.partition,
      lagRecords: 7 * p.partition,
      error: p.partition === 0 ? null : 'NOT_LEADER_OR_FOLLOWER',
      batchesCopied: { identical: 2, 'without-producer-id': 1, 'committed-transaction': 0, renumbered: 0 },
      recordsCopied: 10,
      offsetsSkipped: 0,
      offsetMap: [],
      offsetMapEntries: 0,
      notes: [],
    })),
    groups: [{ groupId: 'billing', state: 'pending', offsetsCopied: 3, heldBack: 1, error: null, lastSyncMs: Date.UTC(2026, 0, 2, 3, 6, 0) }],
  };
}
