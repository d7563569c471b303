// The link manager: every link of this broker, its client to the source cluster, its mirror fetcher
// and its periodic syncs (topics, partitions and configs; group offsets; ACLs), plus promotion and
// failover, and the reverse copy of promoted topics back to the source (rollback). Links and mirror
// topics live in metadata, so after a restart (or kill -9) everything resumes from there: each mirror
// partition goes on from its own log end, checked against the source's leader epochs first; a
// reverse copy starts again from the promotion point and adopts what it finds already copied.
import type { Logger } from '../common/logger.ts';
import { StraitError } from '../common/errors.ts';
import { Jobs } from '../common/jobs.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { TopicAdmin } from '../cluster/topics.ts';
import type { TopicCatalog } from '../cluster/catalog.ts';
import type { GroupCoordinator } from '../coordinator/group-coordinator.ts';
import type { ProducerIdManager } from '../coordinator/producer-ids.ts';
import type { TransactionCoordinator } from '../coordinator/transactions.ts';
import type { LogManager } from '../log/log-manager.ts';
import type { PartitionLog } from '../log/partition-log.ts';
import { randomKafkaUuid } from '../metadata/ids.ts';
import type { LinkRecord, MetadataStore, MirrorRecord, TopicRecord } from '../metadata/store.ts';
import { ApiKey, KafkaClient } from './client/index.ts';
import type { AclBinding, KafkaClientOptions } from './client/index.ts';
import type { MetricSample } from '../http/metrics.ts';
import { ACTIVE, ownedStatus, syncGroupOffsets } from './group-sync.ts';
import { MirrorFetcher, MirrorPartition } from './mirror-fetcher.ts';
import type {
  GroupSyncStatus,
  LinkDescription,
  LinkService,
  LinkState,
  MirrorState,
  MirrorStatus,
  PromoteOptions,
  PromotionReport,
  ReverseOptions,
  ReverseReport,
} from './service.ts';
import { ReverseCopier } from './reverse-copier.ts';
import { matcher, parseLinkSpec, redactedSpec } from './spec.ts';
import type { LinkSpec, LinkSpecInput } from './spec.ts';
import { mirrorConfigs, sameConfigs } from './topic-sync.ts';
import { LinkForwarder } from './write-forwarder.ts';
import { TransactionForwarder } from './transaction-forwarder.ts';

export interface LinkManagerOptions {
  store: MetadataStore;
  logs: LogManager;
  topics: TopicAdmin;
  catalog: TopicCatalog;
  groups: GroupCoordinator;
  transactions: TransactionCoordinator;
  producerIds: ProducerIdManager;
  log: Logger;
  /** Copies the source's ACLs that `accept` keeps into the store under `source` (see acl-sync.ts). */
  syncAcls?: (client: KafkaClient, source: string, accept: (b: AclBinding) => boolean) => Promise<{ synced: number; securityDisabled: boolean }>;
  /** Drops the ACLs a link synced, when the link is deleted. */
  dropAcls?: (source: string) => Promise<unknown>;
}

const PROMOTE_TIMEOUT_MS_DEFAULT = 60_000;
const SOURCE_CHECK_TIMEOUT_MS = 10_000;
/** Bytes of forwarded writes in flight to a link's source; more wait (back-pressure). */
const FORWARD_BYTES_MAX = 64 * 1024 * 1024;

interface Mirror {
  record: MirrorRecord;
  /** Source configs Strait could not take (unknown or invalid here), with why. */
  skippedConfigs: { name: string; reason: string }[];
  /** The reverse copy while it runs (record.reverse set and the link active). */
  reverse: ReverseCopier | null;
}

/** What MirrorRecord.reverse holds. */
interface ReverseRecord {
  /** Per partition, where the copy starts: the promotion's end offset. */
  fromOffsets: Record<string, number>;
  startedAtMs: number;
}

const PROMOTED: readonly string[] = ['promoted', 'failed-over'];

/** What MirrorRecord.lastPromotion holds: the topic's report, decided before the topic opens. */
type TopicPromotion = PromotionReport['topics'][number];

/** Producers of a partition with a transaction still open (in its durable data). */
function openTransactions(log: PartitionLog) {
  return [...log.durableProducers.producers.values()].filter((x) => x.txnFirstOffset >= 0);
}

/** One link at run time. */
class Link {
  record: LinkRecord;
  spec: LinkSpec;
  client: KafkaClient;
  fetcher: MirrorFetcher;
  forwarder: LinkForwarder;
  txns: TransactionForwarder | null = null;
  forwardsTxnId: (id: string) => boolean;
  jobs: Jobs | null = null;
  readonly mirrors = new Map<string, Mirror>();
  readonly groupStatus = new Map<string, GroupSyncStatus>();
  sourceError: string | null = null;
  sourceClusterId: string | null = null;
  lastConfigSyncMs = 0;
  lastGroupSyncMs = 0;
  lastAclSyncMs = 0;
  aclsSynced = 0;
  aclSyncNote: string | null = null;
  /** Serialises metadata syncs with mirror creation and promotion. */
  busy: Promise<unknown> = Promise.resolve();

  constructor(record: LinkRecord, spec: LinkSpec, client: KafkaClient, fetcher: MirrorFetcher) {
    this.record = record;
    this.spec = spec;
    this.client = client;
    this.fetcher = fetcher;
    this.forwarder = new LinkForwarder(client, FORWARD_BYTES_MAX);
    this.forwardsTxnId = matcher({ include: spec.forwardTransactionalIds, exclude: [] });
  }

  /** Whether the link still forwards: active, forwarding on, and some topic still a mirror. */
  get forwarding(): boolean {
    return this.record.state === 'active' && this.spec.writeForwarding && [...this.mirrors.values()].some((m) => m.record.state === 'mirroring');
  }

  async close(): Promise<void> {
    await this.client.close();
    await this.fetcher.close();
  }

  /** Runs fn after every earlier serialised operation of this link. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.busy.then(fn, fn);
    this.busy = run.catch(() => undefined);
    return run;
  }
}

/**
 * Steps of a promotion where a test may stop it (to crash the process there): 'decided' once the
 * topic is saved as promoting (still closed), 'opened' once it takes local writes (not yet saved as
 * promoted).
 */
export type PromotionStep = 'decided' | 'opened';

export class LinkManager implements LinkService {
  private readonly o: LinkManagerOptions;
  private readonly links = new Map<string, Link>();
  private started = false;
  /** Test hook: awaited at each step of a promotion (see PromotionStep). */
  private promotionHook: ((step: PromotionStep, topic: string) => Promise<void> | void) | null = null;

  constructor(o: LinkManagerOptions) {
    this.o = o;
  }

  /** Loads links and mirrors and makes mirror partitions read-only; call before clients connect. */
  async load(): Promise<void> {
    const mirrors = await this.o.store.mirrors();
    for (const rec of await this.o.store.links()) {
      const { spec } = parseLinkSpec({ name: rec.name, ...JSON.parse(rec.spec) });
      const link = this.newLink(rec, spec);
      for (const m of mirrors.filter((x) => x.linkName === rec.name)) {
        const mirror: Mirror = { record: m, skippedConfigs: [], reverse: null };
        link.mirrors.set(m.sourceTopic, mirror);
        if (m.state === 'mirroring') this.attach(link, m);
        // A promotion interrupted by a crash was decided (and the topic may have taken local
        // writes): it is finished, never mirrored again.
        else if (m.state === 'promoting') {
          await this.finishPromotion(rec.name, mirror);
          this.o.log.info('interrupted promotion finished', { link: rec.name, topic: m.sourceTopic });
        }
      }
    }
    this.o.log.info('links loaded', { links: this.links.size, mirrors: mirrors.length });
  }

  /** Starts fetching and syncing for every active link. */
  start(): void {
    this.started = true;
    for (const link of this.links.values()) if (link.record.state === 'active') this.run(link);
  }

  async stop(): Promise<void> {
    this.started = false;
    // Closing the clients first ends fetches and syncs waiting on the source at once.
    for (const l of this.links.values()) await l.close();
    await Promise.all([...this.links.values()].map((l) => this.halt(l)));
  }

  /** Test hook: `hook` is awaited at each step of every later promotion (fault injection). */
  onPromotionStep(hook: ((step: PromotionStep, topic: string) => Promise<void> | void) | null): void {
    this.promotionHook = hook;
  }

  // --- LinkService -------------------------------------------------------------------------------

  async create(input: LinkSpecInput): Promise<LinkDescription> {
    const { name, spec } = parseLinkSpec(input);
    if (this.links.has(name)) throw new StraitError('STRAIT_LINK_EXISTS', `link '${name}' already exists`);
    const now = Date.now();
    const record: LinkRecord = { name, linkId: randomKafkaUuid(), spec: JSON.stringify(spec), state: 'active', createdAtMs: now, updatedAtMs: now };
    const link = this.newLink(record, spec);
    try {
      const md = await link.client.metadata({ topics: [], timeoutMs: SOURCE_CHECK_TIMEOUT_MS });
      link.sourceClusterId = md.clusterId;
    } catch (err) {
      this.links.delete(name);
      await link.close();
      throw new StraitError('STRAIT_LINK_SOURCE_UNAVAILABLE', `cannot reach the source cluster of link '${name}' at ${spec.bootstrap.join(',')}: ${(err as Error).message}`);
    }
    await this.o.store.saveLink(record);
    this.o.log.info('link created', { link: name, bootstrap: spec.bootstrap.join(','), topics: spec.topics });
    if (this.started) this.run(link);
    await link.serial(() => this.syncMetadata(link)).catch(() => undefined);
    if (link.spec.aclSync && this.o.syncAcls) await this.syncAcls(link).catch((err: unknown) => this.o.log.warn('ACL sync failed', { link: name, err: err as Error }));
    return this.describe(name);
  }

  async list(): Promise<LinkDescription[]> {
    return Promise.all([...this.links.keys()].sort().map((n) => this.describe(n)));
  }

  async describe(name: string): Promise<LinkDescription> {
    const link = this.get(name);
    const now = Date.now();
    const mirrors: MirrorStatus[] = [];
    for (const m of link.mirrors.values()) mirrors.push(this.mirrorStatus(link, m, now));
    return {
      name,
      linkId: link.record.linkId,
      state: link.record.state as LinkState,
      spec: redactedSpec(link.spec),
      createdAtMs: link.record.createdAtMs,
      sourceError: link.sourceError,
      sourceClusterId: link.sourceClusterId,
      mirrors,
      groups: [...link.groupStatus.values()].sort((a, b) => a.groupId.localeCompare(b.groupId)),
      aclsSynced: link.aclsSynced,
      aclSyncNote: link.aclSyncNote,
      lastConfigSyncMs: link.lastConfigSyncMs,
      lastGroupSyncMs: link.lastGroupSyncMs,
      lastAclSyncMs: link.lastAclSyncMs,
    };
  }

  async pause(name: string): Promise<LinkDescription> {
    const link = this.get(name);
    if (link.record.state !== 'paused') {
      await this.halt(link);
      await this.saveState(link, 'paused');
      this.o.log.info('link paused', { link: name });
    }
    return this.describe(name);
  }

  async resume(name: string): Promise<LinkDescription> {
    const link = this.get(name);
    if (link.record.state !== 'active') {
      await this.saveState(link, 'active');
      if (this.started) this.run(link);
      this.o.log.info('link resumed', { link: name });
    }
    return this.describe(name);
  }

  async delete(name: string, options: { force?: boolean } = {}): Promise<void> {
    const link = this.get(name);
    const live = [...link.mirrors.values()].filter((m) => m.record.state === 'mirroring' || m.record.state === 'promoting').map((m) => m.record.sourceTopic);
    if (live.length > 0 && !options.force) {
      throw new StraitError(
        'STRAIT_LINK_HAS_MIRRORS',
        `link '${name}' still mirrors ${live.join(', ')}: promote or fail them over first, or delete with force (which fails them over)`,
      );
    }
    if (live.length > 0) await this.failover(name, { topics: live });
    await this.halt(link);
    await link.close();
    for (const m of link.mirrors.values()) await this.o.store.deleteMirror(m.record.topicId);
    await this.o.dropAcls?.(aclSource(name));
    await this.o.store.deleteLink(name);
    this.links.delete(name);
    this.o.log.info('link deleted', { link: name });
  }

  async mirrorTopic(name: string, sourceTopic: string): Promise<MirrorStatus> {
    const link = this.get(name);
    const m = await link.serial(() => this.createMirror(link, sourceTopic, null));
    return this.mirrorStatus(link, m, Date.now());
  }

  async promote(name: string, options: PromoteOptions = {}): Promise<PromotionReport> {
    const link = this.get(name);
    const mirrors = this.selectMirrors(link, options.topics);
    const deadline = Date.now() + (options.timeoutMs ?? PROMOTE_TIMEOUT_MS_DEFAULT);
    if (link.txns && !link.txns.isEnded) await this.settleTransactions(link, mirrors, deadline);
    // Forwarded writes are held (and those in flight finish) so the source's end stops moving for
    // writes that came through Strait; once promoted, the held writes are appended here.
    const releases = await Promise.all(mirrors.map((m) => link.forwarder.hold(m.record.sourceTopic)));
    try {
      const sourceEnds = await this.waitForSourceEnd(link, mirrors, deadline);
      // Final group sync while the mirror still holds everything the source has.
      const groupsSynced = await syncGroupOffsets(this.groupContext(link)).catch((err: unknown) => {
        this.o.log.warn('final group offset sync before promotion failed', { link: name, err: err as Error });
        return 0;
      });
      return await this.switchToLocal(link, mirrors, 'promote', sourceEnds, groupsSynced);
    } finally {
      for (const release of releases) release();
      link.txns?.openGate();
    }
  }

  /**
   * Before promoting a link whose transactional ids the source coordinates: new transactions wait,
   * those under way finish at the source (bounded). Transactions span topics, so the whole link
   * is promoted at once.
   */
  private async settleTransactions(link: Link, mirrors: Mirror[], deadlineMs: number): Promise<void> {
    const live = [...link.mirrors.values()].filter((m) => m.record.state === 'mirroring');
    if (live.some((m) => !mirrors.includes(m))) {
      throw new StraitError('STRAIT_MIRROR_STATE', `link '${link.record.name}' forwards transactions: promote all its mirror topics at once (leave --topic out)`);
    }
    const txns = link.txns!;
    txns.closeGate();
    while (txns.ongoing.size > 0) {
      if (Date.now() >= deadlineMs) {
        txns.openGate();
        throw new StraitError('STRAIT_PROMOTE_TIMEOUT', `transactions still open at the source: ${[...txns.ongoing].join(', ')}; nothing was promoted`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async failover(name: string, options: PromoteOptions = {}): Promise<PromotionReport> {
    const link = this.get(name);
    const mirrors = this.selectMirrors(link, options.topics);
    const lastSeen = new Map<string, number>();
    for (const m of mirrors) {
      for (const p of link.fetcher.all().filter((x) => x.sourceTopic === m.record.sourceTopic)) lastSeen.set(`${m.record.sourceTopic}-${p.partition}`, p.sourceHighWatermark);
    }
    const releases = await Promise.all(mirrors.map((m) => link.forwarder.hold(m.record.sourceTopic)));
    try {
      return await this.switchToLocal(link, mirrors, 'failover', lastSeen, 0);
    } finally {
      for (const release of releases) release();
    }
  }

  async reverse(name: string, options: ReverseOptions = {}): Promise<ReverseReport> {
    const link = this.get(name);
    return link.serial(async () => {
      const mirrors = this.selectPromoted(link, options.topics, false);
      await this.checkReverseTarget(link, mirrors.filter((m) => !m.record.reverse));
      for (const m of mirrors) {
        if (m.record.reverse) continue;
        const promotion = JSON.parse(m.record.lastPromotion!) as PromotionReport['topics'][number];
        const reverse: ReverseRecord = { fromOffsets: Object.fromEntries(promotion.partitions.map((p) => [String(p.partition), p.endOffset])), startedAtMs: Date.now() };
        m.record = { ...m.record, reverse: JSON.stringify(reverse), updatedAtMs: Date.now() };
        await this.o.store.saveMirror(m.record);
        this.o.log.info('reverse copy requested', { link: name, topic: this.topicName(m.record), fromOffsets: reverse.fromOffsets });
        if (link.jobs) this.startReverse(link, m);
      }
      return this.reverseReport(link, mirrors);
    });
  }

  async stopReverse(name: string, options: ReverseOptions = {}): Promise<ReverseReport> {
    const link = this.get(name);
    return link.serial(async () => {
      const mirrors = this.selectPromoted(link, options.topics, true);
      for (const m of mirrors) {
        if (!m.record.reverse) continue;
        await this.stopReverseCopier(m);
        m.record = { ...m.record, reverse: null, updatedAtMs: Date.now() };
        await this.o.store.saveMirror(m.record);
        this.o.log.info('reverse copy stopped by request', { link: name, topic: this.topicName(m.record) });
      }
      return this.reverseReport(link, mirrors);
    });
  }

  metrics(): MetricSample[] {
    const out: MetricSample[] = [];
    const now = Date.now();
    for (const link of this.links.values()) {
      out.push({ name: 'strait_link_active', help: '1 while the link fetches and syncs, 0 while paused.', type: 'gauge', labels: { link: link.record.name }, value: link.record.state === 'active' ? 1 : 0 });
      out.push({ name: 'strait_link_source_available', help: '1 when the last request to the source cluster succeeded.', type: 'gauge', labels: { link: link.record.name }, value: link.sourceError === null ? 1 : 0 });
      for (const p of link.fetcher.all()) {
        const s = p.status(now);
        const labels = { link: link.record.name, topic: p.topic, partition: String(p.partition) };
        out.push({ name: 'strait_mirror_lag_records', help: 'Records the source partition has that the mirror does not have yet.', type: 'gauge', labels, value: s.lagRecords });
        out.push({ name: 'strait_mirror_lag_seconds', help: 'Seconds since the mirror partition last had everything its source had.', type: 'gauge', labels, value: s.lagSeconds });
        out.push({ name: 'strait_mirror_end_offset', help: 'Log end offset of the mirror partition.', type: 'gauge', labels, value: s.mirroredEndOffset });
        out.push({ name: 'strait_mirror_source_high_watermark', help: 'High watermark of the source partition, as last fetched.', type: 'gauge', labels, value: s.sourceHighWatermark });
        out.push({ name: 'strait_mirror_truncations_total', help: 'Truncations of the mirror after the source log diverged.', type: 'counter', labels, value: s.truncations.length });
        out.push({ name: 'strait_mirror_partition_error', help: '1 while the mirror partition cannot make progress.', type: 'gauge', labels, value: s.error === null ? 0 : 1 });
      }
      for (const g of link.groupStatus.values()) {
        out.push({ name: 'strait_link_group_offsets_synced_total', help: 'Committed offsets copied from the source group.', type: 'counter', labels: { link: link.record.name, group: g.groupId }, value: g.offsetsSynced });
      }
      for (const m of link.mirrors.values()) {
        const st = m.reverse?.status();
        if (!st) continue;
        out.push({ name: 'strait_reverse_offsets_identical', help: '1 while every record copied back sits at its Strait offset on the source.', type: 'gauge', labels: { link: link.record.name, topic: st.topic }, value: st.offsetsIdentical ? 1 : 0 });
        for (const p of st.partitions) {
          const labels = { link: link.record.name, topic: st.topic, partition: String(p.partition) };
          out.push({ name: 'strait_reverse_lag_records', help: 'Offsets of the promoted partition not yet copied back to the source.', type: 'gauge', labels, value: p.lagRecords });
          out.push({ name: 'strait_reverse_records_copied_total', help: 'Records copied back to the source since the reverse copy (re)started.', type: 'counter', labels, value: p.recordsCopied });
          out.push({ name: 'strait_reverse_partition_error', help: '1 while the reverse copy of the partition is retrying or stopped.', type: 'gauge', labels, value: p.state === 'retrying' || p.state === 'stopped' ? 1 : 0 });
        }
      }
    }
    return out;
  }

  /**
   * An idempotent producer's id from the source cluster while a link forwards writes there, so its
   * id and sequences are valid on the source and, after promotion, here (the mirrored batches carry
   * them). Null when no link forwards: Strait allocates the id itself.
   */
  async producerIdFromSource(req: { transactionTimeoutMs: number; producerId: bigint; producerEpoch: number }): Promise<{ errorCode: number; producerId: bigint; producerEpoch: number } | null> {
    const link = [...this.links.values()].find((l) => l.record.state === 'active' && l.spec.writeForwarding && [...l.mirrors.values()].some((m) => m.record.state === 'mirroring'));
    if (!link) return null;
    try {
      const { response } = await link.client.sendRequest<{ errorCode: number; producerId: bigint; producerEpoch: number }>(
        'any',
        ApiKey.InitProducerId,
        () => ({ transactionalId: null, transactionTimeoutMs: req.transactionTimeoutMs, producerId: req.producerId, producerEpoch: req.producerEpoch }),
        { timeoutMs: 15_000 },
      );
      if (response.errorCode === ErrorCode.NONE) await this.o.producerIds.reserveAbove(Number(response.producerId));
      return { errorCode: response.errorCode, producerId: response.producerId, producerEpoch: response.producerEpoch };
    } catch (err) {
      this.o.log.warn('cannot get a producer id from the source cluster', { link: link.record.name, err: err as Error });
      return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, producerId: -1n, producerEpoch: -1 };
    }
  }

  forwardsTransactionalId(transactionalId: string): boolean {
    return this.transactionLink(transactionalId) !== null;
  }

  async forwardTransactional(apiKey: number, version: number, transactionalId: string, req: object): Promise<object | null> {
    if (!TransactionForwarder.handles(apiKey)) return null;
    const link = this.transactionLink(transactionalId);
    return link ? link.txns!.forward(apiKey, version, transactionalId, req) : null;
  }

  private transactionLink(transactionalId: string): Link | null {
    for (const l of this.links.values()) if (l.txns && !l.txns.isEnded && l.forwarding && l.forwardsTxnId(transactionalId)) return l;
    return null;
  }

  /** Why a group may not start on Strait yet (members on a link's source), or null. */
  joinGate(groupId: string): string | null {
    for (const l of this.links.values()) {
      if (l.record.state === 'active' && l.groupStatus.get(groupId)?.gatedOnSource) {
        return `group ${groupId} still has members on the source cluster of link '${l.record.name}': a group moves to Strait as a whole, once its members there have stopped`;
      }
    }
    return null;
  }

  /**
   * A client commits offsets for a group on Strait (the group coordinator awaits this before the
   * first such commit of each group is written): every link that syncs the group records it as
   * Strait's, durably, and never copies the source group's offsets over it again.
   */
  async groupCommittedHere(groupId: string): Promise<void> {
    for (const l of this.links.values()) {
      const st = l.groupStatus.get(groupId);
      if (st?.state === ACTIVE || !matcher(l.spec.groups)(groupId)) continue;
      await this.o.store.saveLinkGroup({ linkName: l.record.name, groupId, state: ACTIVE, updatedAtMs: Date.now() });
      l.groupStatus.set(groupId, ownedStatus(st, groupId));
      this.o.log.info('group committed offsets on Strait: no longer synced from the source', { link: l.record.name, groupId });
    }
  }

  /** A deleted topic stops being mirrored; the link creates it again if it still matches. */
  async onTopicDeleted(topicId: string): Promise<void> {
    for (const link of this.links.values()) {
      for (const [sourceTopic, m] of link.mirrors) {
        if (m.record.topicId !== topicId) continue;
        link.mirrors.delete(sourceTopic);
        await link.fetcher.remove(sourceTopic);
        this.o.log.info('mirror topic deleted', { link: link.record.name, topic: sourceTopic });
      }
    }
  }

  /** The mirror partition of a local topic, for tests and tools. */
  mirrorPartition(topic: string, partition: number): MirrorPartition | undefined {
    for (const l of this.links.values()) for (const p of l.fetcher.all()) if (p.topic === topic && p.partition === partition) return p;
    return undefined;
  }

  // --- internals ---------------------------------------------------------------------------------

  private get(name: string): Link {
    const link = this.links.get(name);
    if (!link) throw new StraitError('STRAIT_LINK_NOT_FOUND', `no link named '${name}'`);
    return link;
  }

  private newLink(record: LinkRecord, spec: LinkSpec): Link {
    const client = new KafkaClient(clientOptions(record.name, spec, this.o.log));
    // The fetcher's long polls get connections of their own: a broker answers one request per
    // connection at a time, so a forwarded write behind a 500 ms fetch would wait for it.
    const fetchClient = new KafkaClient(clientOptions(`${record.name}-fetch`, spec, this.o.log));
    const fetcher = new MirrorFetcher({
      linkName: record.name,
      client: fetchClient,
      logs: this.o.logs,
      store: this.o.store,
      log: this.o.log.child({ component: 'mirror-fetcher', link: record.name }),
      fetchMaxBytes: spec.fetchMaxBytes,
      fetchPartitionMaxBytes: spec.fetchPartitionMaxBytes,
      fetchMaxWaitMs: spec.fetchMaxWaitMs,
    });
    const link = new Link(record, spec, client, fetcher);
    if (spec.forwardTransactionalIds.length > 0) {
      link.txns = new TransactionForwarder(client, {
        commitTxnOffsets: (records) => this.o.groups.commitTxnOffsets(records),
        reserveProducerIdsAbove: (pid) => this.o.producerIds.reserveAbove(pid),
      });
    }
    this.links.set(record.name, link);
    return link;
  }

  private run(link: Link): void {
    link.fetcher.start();
    const jobs = new Jobs(this.o.log.child({ link: link.record.name }));
    link.jobs = jobs;
    jobs.add('link-metadata-sync', link.spec.metadataSyncIntervalMs, () => link.serial(() => this.syncMetadata(link)));
    jobs.add('link-group-sync', link.spec.groupSyncIntervalMs, () => this.syncGroups(link));
    if (link.spec.aclSync && this.o.syncAcls) jobs.add('link-acl-sync', link.spec.aclSyncIntervalMs, () => this.syncAcls(link));
    for (const m of link.mirrors.values()) if (m.record.reverse) this.startReverse(link, m);
  }

  private async halt(link: Link): Promise<void> {
    await link.jobs?.stop();
    link.jobs = null;
    await link.fetcher.stop();
    for (const m of link.mirrors.values()) await this.stopReverseCopier(m);
  }

  private async saveState(link: Link, state: LinkState): Promise<void> {
    link.record = { ...link.record, state, updatedAtMs: Date.now() };
    await this.o.store.saveLink(link.record);
  }

  /** Marks a mirror topic's logs read-only and hands its partitions to the fetcher. */
  private attach(link: Link, m: MirrorRecord): void {
    const reason = `Topic '${this.topicName(m)}' is a mirror of '${m.sourceTopic}' fed by link '${m.linkName}'; it accepts writes once promoted (strait link promote ${m.linkName}).`;
    // Held-back writes of a promotion check mirrorOf, so it is cleared last on promotion.
    for (const log of this.o.logs.partitionsOf(m.topicId)) {
      log.becomeMirror(reason, link.spec.writeForwarding ? link.forwarder.partition(m.sourceTopic, log.partition, () => log.mirrorOf === null) : null);
      if (!link.fetcher.get(m.sourceTopic, log.partition)) link.fetcher.add(new MirrorPartition(this.topicName(m), m.sourceTopic, log.partition, log));
    }
  }

  private topicName(m: MirrorRecord): string {
    return this.o.catalog.byId(m.topicId)?.name ?? m.sourceTopic;
  }

  /** Topic list, partition counts and configs from the source; new matching topics become mirrors. */
  private async syncMetadata(link: Link): Promise<void> {
    let md;
    try {
      md = await link.client.metadata({ topics: null });
      link.sourceError = null;
      link.sourceClusterId = md.clusterId;
    } catch (err) {
      link.sourceError = (err as Error).message;
      throw err;
    }
    const wanted = matcher(link.spec.topics);
    const byName = md.topics;
    if (link.spec.autoCreateMirrors) {
      for (const t of md.topics.values()) {
        if (t.isInternal || !wanted(t.name) || link.mirrors.has(t.name)) continue;
        await this.createMirror(link, t.name, t.partitions.length).catch((err: unknown) =>
          this.o.log.warn('cannot create a mirror topic', { link: link.record.name, topic: t.name, err: err as Error }),
        );
      }
    }
    const live = [...link.mirrors.values()].filter((m) => m.record.state === 'mirroring');
    if (live.length === 0) return;
    const described = await link.client.describeConfigs(live.map((m) => ({ type: 'topic' as const, name: m.record.sourceTopic })));
    for (let i = 0; i < live.length; i++) {
      const m = live[i]!;
      const topic = this.o.catalog.byId(m.record.topicId);
      const src = byName.get(m.record.sourceTopic);
      if (!topic || !src) continue;
      if (src.partitions.length > topic.partitionCount) {
        const problem = await this.o.topics.addPartitions(topic, src.partitions.length, false);
        if (problem) this.o.log.warn('cannot follow the source partition count', { link: link.record.name, topic: topic.name, problem: problem.message });
        else this.attach(link, m.record);
      }
      const d = described[i]!;
      if (d.error) continue;
      const synced = mirrorConfigs(d, link.spec.configExclude);
      m.skippedConfigs = synced.skipped;
      const current = this.o.catalog.byId(m.record.topicId)!;
      if (!sameConfigs(current.configs, synced.configs)) {
        const problem = await this.o.topics.setConfigs(current, synced.configs, false);
        if (problem) this.o.log.warn('cannot sync topic configs', { link: link.record.name, topic: current.name, problem: problem.message });
      }
    }
    await this.reserveProducerIds(link.fetcher.all().map((p) => p.log));
    link.lastConfigSyncMs = Date.now();
  }

  /** Creates a local topic mirroring a source topic (same name, partition count and configs). */
  private async createMirror(link: Link, sourceTopic: string, partitions: number | null): Promise<Mirror> {
    const known = link.mirrors.get(sourceTopic);
    if (known) return known;
    const local = this.o.catalog.byName(sourceTopic);
    if (local) throw new StraitError('STRAIT_MIRROR_EXISTS', `topic '${sourceTopic}' already exists on Strait and is not a mirror of link '${link.record.name}'`);
    if (partitions === null) {
      const md = await link.client.metadata({ topics: [sourceTopic] });
      const t = md.topics.get(sourceTopic);
      if (!t) throw new StraitError('STRAIT_MIRROR_NOT_FOUND', `the source cluster of link '${link.record.name}' has no topic '${sourceTopic}'`);
      partitions = t.partitions.length;
    }
    const [described] = await link.client.describeConfigs([{ type: 'topic', name: sourceTopic }]);
    const synced = described && !described.error ? mirrorConfigs(described, link.spec.configExclude) : { configs: {}, skipped: [] };
    const created = await this.o.topics.create(
      { name: sourceTopic, numPartitions: partitions, replicationFactor: -1, assignments: [], configs: Object.entries(synced.configs).map(([name, value]) => ({ name, value })) },
      false,
    );
    if (!created.topic) throw new StraitError('STRAIT_MIRROR_EXISTS', `cannot create mirror topic '${sourceTopic}': ${created.errorMessage}`);
    // No await between the topic's creation and this point: no client can write to it first.
    const record: MirrorRecord = { topicId: created.topic.topicId, linkName: link.record.name, sourceTopic, state: 'mirroring', lastPromotion: null, reverse: null, updatedAtMs: Date.now() };
    const mirror: Mirror = { record, skippedConfigs: synced.skipped, reverse: null };
    link.mirrors.set(sourceTopic, mirror);
    this.attach(link, record);
    await this.o.store.saveMirror(record);
    this.o.log.info('mirror topic created', { link: link.record.name, topic: sourceTopic, partitions, configs: synced.configs });
    return mirror;
  }

  private groupContext(link: Link) {
    const accept = matcher(link.spec.groups);
    return {
      linkName: link.record.name,
      client: link.client,
      groups: this.o.groups,
      store: this.o.store,
      mirrorOf: (sourceTopic: string, partition: number) => {
        const m = link.mirrors.get(sourceTopic);
        return m && m.record.state === 'mirroring' ? link.fetcher.get(sourceTopic, partition) : undefined;
      },
      accept,
      status: link.groupStatus,
    };
  }

  private async syncGroups(link: Link): Promise<void> {
    await syncGroupOffsets(this.groupContext(link));
    link.lastGroupSyncMs = Date.now();
  }

  /**
   * ACLs of mirrored topics (literal names, '*', and prefixes covering one), of synced groups
   * (literal, '*', any prefix), and every cluster, transactional-id, user and token ACL.
   */
  private async syncAcls(link: Link): Promise<void> {
    const topics = [...link.mirrors.keys()];
    const groups = matcher(link.spec.groups);
    const covers = (b: AclBinding, names: (n: string) => boolean, list: string[] | null) => {
      if (b.resourceName === '*') return true;
      if (b.patternType === 'PREFIXED') return list === null || list.some((n) => n.startsWith(b.resourceName));
      return names(b.resourceName);
    };
    const result = await this.o.syncAcls!(link.client, aclSource(link.record.name), (b) =>
      b.resourceType === 'TOPIC' ? covers(b, (n) => link.mirrors.has(n), topics) : b.resourceType === 'GROUP' ? covers(b, groups, null) : true,
    );
    link.aclsSynced = result.synced;
    link.aclSyncNote = result.securityDisabled ? 'the source has no authorizer: no ACLs to sync' : null;
    link.lastAclSyncMs = Date.now();
  }

  /** Promoted (or failed-over) topics of the link; `reversing` picks, when none are named, those being copied back. */
  private selectPromoted(link: Link, topics: string[] | undefined, reversing: boolean): Mirror[] {
    if (!topics || topics.length === 0) {
      const all = [...link.mirrors.values()].filter((m) => PROMOTED.includes(m.record.state) && (!reversing || m.record.reverse !== null));
      if (all.length === 0) {
        throw new StraitError('STRAIT_MIRROR_STATE', reversing ? `link '${link.record.name}' copies no topic back` : `link '${link.record.name}' has no promoted topic to copy back (promote first)`);
      }
      return all;
    }
    return topics.map((t) => {
      const m = link.mirrors.get(t);
      if (!m) throw new StraitError('STRAIT_MIRROR_NOT_FOUND', `link '${link.record.name}' does not mirror topic '${t}'`);
      if (!PROMOTED.includes(m.record.state)) throw new StraitError('STRAIT_MIRROR_STATE', `topic '${t}' is ${m.record.state}: only a promoted topic is copied back (promote it first)`);
      return m;
    });
  }

  /**
   * The source must still have each topic with at least the partitions promoted, and Strait no more
   * partitions than were promoted (a partition added since has no promotion point to start from).
   */
  private async checkReverseTarget(link: Link, mirrors: Mirror[]): Promise<void> {
    if (mirrors.length === 0) return;
    let md;
    try {
      md = await link.client.metadata({ topics: mirrors.map((m) => m.record.sourceTopic), timeoutMs: SOURCE_CHECK_TIMEOUT_MS });
    } catch (err) {
      throw new StraitError('STRAIT_LINK_SOURCE_UNAVAILABLE', `cannot reach the source cluster of link '${link.record.name}' to copy back to it: ${(err as Error).message}`);
    }
    for (const m of mirrors) {
      const name = this.topicName(m.record);
      const promoted = (JSON.parse(m.record.lastPromotion!) as PromotionReport['topics'][number]).partitions.length;
      const here = this.o.catalog.byId(m.record.topicId)?.partitionCount ?? 0;
      const there = md.topics.get(m.record.sourceTopic);
      if (!there) {
        const code = md.topicErrors.get(m.record.sourceTopic);
        throw new StraitError('STRAIT_REVERSE_INVALID', `the source has no topic '${m.record.sourceTopic}' to copy '${name}' back to${code !== undefined ? ` (error ${code})` : ''}`);
      }
      if (there.partitions.length < promoted) {
        throw new StraitError('STRAIT_REVERSE_INVALID', `the source's '${m.record.sourceTopic}' has ${there.partitions.length} partitions, fewer than the ${promoted} promoted`);
      }
      if (here > promoted) {
        throw new StraitError('STRAIT_REVERSE_INVALID', `'${name}' has ${here} partitions on Strait but had ${promoted} when promoted: partitions added since have no promotion point, so they cannot be copied back at the same offsets`);
      }
    }
  }

  private startReverse(link: Link, m: Mirror): void {
    if (m.reverse) return;
    const topic = this.o.catalog.byId(m.record.topicId);
    if (!topic) return;
    const r = JSON.parse(m.record.reverse!) as ReverseRecord;
    m.reverse = new ReverseCopier({
      linkName: link.record.name,
      client: link.client,
      logs: this.o.logs,
      topic,
      fromOffsets: new Map(Object.entries(r.fromOffsets).map(([p, o]) => [Number(p), o])),
      groups: this.o.groups,
      acceptGroup: matcher(link.spec.groups),
      log: this.o.log.child({ component: 'reverse-copier', link: link.record.name }),
      groupSyncIntervalMs: link.spec.groupSyncIntervalMs,
    });
    m.reverse.start();
  }

  private async stopReverseCopier(m: Mirror): Promise<void> {
    const copier = m.reverse;
    m.reverse = null;
    await copier?.stop();
  }

  private reverseReport(link: Link, mirrors: Mirror[]): ReverseReport {
    return { link: link.record.name, topics: mirrors.map((m) => ({ topic: this.topicName(m.record), reversing: m.record.reverse !== null, status: m.reverse?.status() ?? null })) };
  }

  private selectMirrors(link: Link, topics: string[] | undefined): Mirror[] {
    const all = [...link.mirrors.values()];
    // A topic left 'promoting' (an error in the middle of a promotion) is finished by the next one.
    const live = (m: Mirror) => m.record.state === 'mirroring' || m.record.state === 'promoting';
    if (!topics || topics.length === 0) {
      const all2 = all.filter(live);
      if (all2.length === 0) throw new StraitError('STRAIT_MIRROR_STATE', `link '${link.record.name}' has no topic in state mirroring`);
      return all2;
    }
    return topics.map((t) => {
      const m = link.mirrors.get(t);
      if (!m) throw new StraitError('STRAIT_MIRROR_NOT_FOUND', `link '${link.record.name}' does not mirror topic '${t}'`);
      if (!live(m)) throw new StraitError('STRAIT_MIRROR_STATE', `topic '${t}' is ${m.record.state}, not mirroring`);
      return m;
    });
  }

  /**
   * Waits until each mirror partition holds everything the source partition has (its high
   * watermark, asked again each round) and no mirrored transaction is open. Times out with the lag.
   */
  private async waitForSourceEnd(link: Link, mirrors: Mirror[], deadlineMs: number): Promise<Map<string, number>> {
    const parts = mirrors.flatMap((m) => link.fetcher.all().filter((p) => p.sourceTopic === m.record.sourceTopic));
    for (;;) {
      let ends: Map<string, number>;
      try {
        const listed = await link.client.listOffsets(
          parts.map((p) => ({ topic: p.sourceTopic, partition: p.partition, spec: 'latest' as const })),
          { timeoutMs: Math.max(1000, deadlineMs - Date.now()) },
        );
        ends = new Map();
        for (let i = 0; i < parts.length; i++) {
          const l = listed[i]!;
          if (l.error) throw l.error;
          ends.set(`${parts[i]!.sourceTopic}-${parts[i]!.partition}`, l.offset);
        }
      } catch (err) {
        throw new StraitError('STRAIT_LINK_SOURCE_UNAVAILABLE', `cannot read the source's end offsets to promote (use failover when the source is gone): ${(err as Error).message}`);
      }
      const behind = parts.filter((p) => p.log.highWatermark < ends.get(`${p.sourceTopic}-${p.partition}`)!);
      const open = parts.filter((p) => p.log.durableProducers.firstOpenTxnOffset() >= 0);
      if (behind.length === 0 && open.length === 0) return ends;
      if (Date.now() >= deadlineMs) {
        if (behind.length === 0) return ends; // only open transactions left: promotion aborts them
        const lag = behind.map((p) => `${p.topic}-${p.partition}: ${p.log.highWatermark} of ${ends.get(`${p.sourceTopic}-${p.partition}`)}`).join(', ');
        throw new StraitError('STRAIT_PROMOTE_TIMEOUT', `the mirror did not reach the source's end in time (${lag}); nothing was promoted`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Stops mirroring and opens the topics to local writes; records the report on each topic. Each
   * topic goes mirroring -> promoting -> promoted (or failed-over), and 'promoting' is durable, with
   * the epoch and end offset of every partition, before the topic takes its first local write: a
   * crash after that finishes the promotion at the next start (load) instead of mirroring again
   * over local writes. Every step can be run again; a topic left 'promoting' by an error here is
   * finished by the next promote or failover.
   */
  private async switchToLocal(link: Link, mirrors: Mirror[], kind: PromotionReport['kind'], sourceEnds: Map<string, number>, groupsSynced: number): Promise<PromotionReport> {
    return link.serial(async () => {
      const report: PromotionReport = { link: link.record.name, kind, topics: [] };
      // Forwarded transactional ids move to Strait's coordinator with the source's producer id and
      // epoch; requests held at the gate are answered here once the topics are open (a mirror
      // refuses local transactions).
      const adopting = link.txns && !link.txns.isEnded && mirrors.length === [...link.mirrors.values()].filter((m) => m.record.state === 'mirroring').length ? link.txns : null;
      try {
        if (adopting) {
          for (const [transactionalId, p] of adopting.producers) await this.o.transactions.adopt({ transactionalId, ...p });
          report.transactionalIdsAdopted = adopting.producers.size;
        }
        for (const m of mirrors) {
          if (m.record.state === 'mirroring') await this.decidePromotion(link, m, kind, sourceEnds, groupsSynced);
          if (m.record.state !== 'promoting') continue;
          report.topics.push(await this.finishPromotion(link.record.name, m));
        }
      } finally {
        adopting?.end();
      }
      return report;
    });
  }

  /**
   * Promotion, step 1: stops fetching the topic and saves it as 'promoting' with what each
   * partition opens at (epoch above every epoch of the source, end offset after the abort markers
   * of transactions the source left open). Nothing local is written yet.
   */
  private async decidePromotion(link: Link, m: Mirror, kind: PromotionReport['kind'], sourceEnds: Map<string, number>, groupsSynced: number): Promise<void> {
    const parts = link.fetcher.all().filter((p) => p.sourceTopic === m.record.sourceTopic);
    await link.fetcher.remove(m.record.sourceTopic);
    const t: TopicPromotion = { topic: this.topicName(m.record), state: kind === 'promote' ? 'promoted' : 'failed-over', partitions: [], lossWindowRecords: 0, abortedTransactions: 0, groupsSynced };
    for (const p of parts.sort((a, b) => a.partition - b.partition)) {
      const log = p.log;
      const open = openTransactions(log).length;
      // Each abort marker is a batch of one offset.
      const endOffset = log.nextOffset + open;
      const seen = sourceEnds.get(`${p.sourceTopic}-${p.partition}`) ?? -1;
      const loss = Math.max(0, seen - endOffset);
      t.partitions.push({ partition: p.partition, endOffset, mirrorEndOffset: log.nextOffset, sourceEndOffsetLastSeen: seen, lossWindowRecords: loss, leaderEpoch: Math.max(log.leaderEpoch, p.lastFetchedEpoch, p.sourceLeaderEpoch) + 1 });
      t.lossWindowRecords += loss;
      t.abortedTransactions += open;
    }
    m.record = { ...m.record, state: 'promoting', lastPromotion: JSON.stringify(t), updatedAtMs: Date.now() };
    await this.o.store.saveMirror(m.record);
    await this.promotionHook?.('decided', m.record.sourceTopic);
  }

  /**
   * Promotion, step 2, from the saved decision (also at start-up after a crash): producer ids
   * reserved, epochs saved, each partition opened at its epoch with the abort markers first, then
   * the topic saved as promoted. Each part is a no-op when already done.
   */
  private async finishPromotion(linkName: string, m: Mirror): Promise<TopicPromotion> {
    const t = JSON.parse(m.record.lastPromotion!) as TopicPromotion;
    const logs = this.o.logs.partitionsOf(m.record.topicId);
    await this.reserveProducerIds(logs);
    for (const entry of t.partitions) {
      const log = logs.find((l) => l.partition === entry.partition);
      if (!log) continue;
      if (log.leaderEpoch < entry.leaderEpoch) await this.o.store.setLeaderEpoch(log.topicId, log.partition, entry.leaderEpoch);
      // Transactions the source never ended would hold the last stable offset forever: the log
      // aborts them as part of the promotion, so they take the first offsets after it.
      // Only transactions that began below the mirror's end at the decision: finishing again (after
      // a crash or a failed marker) must not abort local transactions begun since the topic opened.
      const abortOpenTransactionsBelow = entry.mirrorEndOffset ?? entry.endOffset;
      for (const r of await log.promote(Math.max(log.leaderEpoch, entry.leaderEpoch), { abortOpenTransactionsBelow })) {
        if (r.errorCode !== ErrorCode.NONE) throw new StraitError('STRAIT_PROMOTE_FAILED', `cannot abort a transaction the source left open in ${t.topic}-${entry.partition}: ${r.errorMessage ?? r.errorCode}; promote again to finish`);
      }
    }
    await this.promotionHook?.('opened', m.record.sourceTopic);
    m.record = { ...m.record, state: t.state, updatedAtMs: Date.now() };
    await this.o.store.saveMirror(m.record);
    this.o.log.info(t.state === 'promoted' ? 'mirror topic promoted' : 'mirror topic failed over', { link: linkName, ...t });
    return t;
  }

  /** Producer ids of mirrored producers are the source's: Strait's own ids must not reuse them. */
  private async reserveProducerIds(logs: PartitionLog[]): Promise<void> {
    let max = -1;
    for (const log of logs) for (const pid of log.producers.producers.keys()) if (pid > max) max = pid;
    if (max >= 0) await this.o.producerIds.reserveAbove(max);
  }

  private mirrorStatus(link: Link, m: Mirror, now: number): MirrorStatus {
    const topic = this.topicName(m.record);
    const partitions =
      m.record.state === 'mirroring'
        ? link.fetcher.all().filter((p) => p.sourceTopic === m.record.sourceTopic).sort((a, b) => a.partition - b.partition).map((p) => p.status(now))
        : this.o.logs.partitionsOf(m.record.topicId).map((log) => ({
            partition: log.partition,
            mirroredEndOffset: log.highWatermark,
            logStartOffset: log.logStartOffset,
            sourceHighWatermark: -1,
            sourceLogStartOffset: -1,
            sourceLeaderEpoch: -1,
            lagRecords: 0,
            lagSeconds: 0,
            error: null,
            truncations: [],
          }));
    return {
      topic,
      sourceTopic: m.record.sourceTopic,
      state: m.record.state as MirrorState,
      partitions,
      lagRecords: partitions.reduce((n, p) => n + p.lagRecords, 0),
      lastPromotion: m.record.lastPromotion ? JSON.parse(m.record.lastPromotion) : null,
      reversing: m.record.reverse !== null,
      reverse: m.reverse?.status() ?? null,
    };
  }
}

/** Where a link's ACLs are filed in the store. */
const aclSource = (linkName: string) => `link:${linkName}`;

function clientOptions(name: string, spec: LinkSpec, log: Logger): KafkaClientOptions {
  return {
    bootstrap: spec.bootstrap,
    clientId: `strait-link-${name}`,
    // A source that does not answer is reported within seconds rather than after the Java defaults.
    requestTimeoutMs: 15_000,
    apiTimeoutMs: 20_000,
    securityProtocol: spec.securityProtocol,
    ...(spec.tls ? { tls: spec.tls } : {}),
    ...(spec.sasl ? { sasl: spec.sasl } : {}),
    log: log.child({ component: 'link-client', link: name }),
  };
}
