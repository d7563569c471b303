// The composition root of one broker process: lock data.dir (and a wal.dir or object folder outside
// it) → bind the listeners → metadata store → object store → WAL replay → partition logs → services
// (coordinators, links) → API router → serve. Nothing is opened in a directory before its lock is
// held, and nothing is created before the listeners are bound, so a second broker on the same
// directory or port fails without touching the first one's files. Connections made while the
// broker starts wait unread until it serves. stop() drains in-flight requests, then closes the
// pieces in reverse order; it can be called during start(), which then stops at its next step.
import { randomInt } from 'node:crypto';
import type { BrokerConfig } from '../config/broker-config.ts';
import type { Logger } from '../common/logger.ts';
import { StraitError } from '../common/errors.ts';
import { isWithin, prepareDir } from '../common/dirs.ts';
import { lockDir } from '../common/dir-lock.ts';
import type { DirLock } from '../common/dir-lock.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import { createMetadataStore } from '../metadata/index.ts';
import type { MetadataStore, TopicRecord } from '../metadata/index.ts';
import { TopicAdmin } from '../cluster/topics.ts';
import { TopicCatalog } from '../cluster/catalog.ts';
import { createRouter } from '../api/index.ts';
import type { BrokerServices } from '../api/index.ts';
import { HeldListener, KafkaServer } from '../network/index.ts';
import type { ListenerSpec } from '../network/index.ts';
import { createObjectStore } from '../storage/objects/index.ts';
import type { ObjectStore } from '../storage/objects/index.ts';
import { FileWal, ObjectWal } from '../storage/wal/index.ts';
import type { Wal } from '../storage/wal/index.ts';
import { Uploader } from '../storage/uploader.ts';
import { ObjectWriter } from '../storage/object-writer.ts';
import { ObjectReader } from '../storage/object-reader.ts';
import { LogManager } from '../log/log-manager.ts';
import { ProducerIdManager } from '../coordinator/producer-ids.ts';
import { TransactionCoordinator } from '../coordinator/transactions.ts';
import { Jobs } from '../common/jobs.ts';
import { GroupCoordinator } from '../coordinator/group-coordinator.ts';
import { groupCoordinatorConfig } from '../coordinator/group-config.ts';
import { enforceRetention } from '../log/retention.ts';
import { collectGarbage } from '../storage/garbage-collector.ts';
import { compactObjects } from '../storage/object-compactor.ts';
import { cleanLogs } from '../log/log-cleaner.ts';
import { LinkManager } from '../link/link-manager.ts';
import { syncAcls } from '../link/acl-sync.ts';
import { startHttpServer } from '../http/index.ts';
import type { HttpServerHandle, MetricSample } from '../http/index.ts';

export class Broker {
  readonly config: BrokerConfig;
  private readonly log: Logger;
  private store: MetadataStore | null = null;
  private server: KafkaServer | null = null;
  private objects: ObjectStore | null = null;
  private wal: Wal | null = null;
  uploader: Uploader | null = null;
  logs: LogManager | null = null;
  reader: ObjectReader | null = null;
  jobs: Jobs | null = null;
  transactions: TransactionCoordinator | null = null;
  groups: GroupCoordinator | null = null;
  links: LinkManager | null = null;
  http: HttpServerHandle | null = null;
  private httpListener: HeldListener | null = null;
  private locks: DirLock[] = [];
  bound: ListenerSpec[] = [];
  /** What start() or stop() is doing now: a stop that does not finish in time names it. */
  step: string | null = null;
  private starting: Promise<void> | null = null;
  private services: BrokerServices | null = null;
  private leadershipCheck: Promise<unknown> | null = null;
  /** This run's incarnation (BrokerIncarnation), drawn at start. */
  incarnation = 0;
  /** Set once another broker took every partition over and this one stood down. */
  stoodDown = false;
  private stopRequested = false;
  private closed = false;

  /** Test hook handed to the WAL (see WalOptions.faults). */
  walFaults: ((step: 'write' | 'sync') => Error | null) | undefined;

  constructor(config: BrokerConfig, log: Logger) {
    this.config = config;
    this.log = log;
  }

  async start(): Promise<void> {
    // A broker object may be started again after a stop (tests restart one in place).
    this.stopRequested = false;
    this.closed = false;
    this.starting = this.startSteps().catch(async (err: unknown) => {
      // Whatever was opened is closed again (and the locks released) before the error is seen.
      await this.close();
      throw err;
    });
    try {
      await this.starting;
    } finally {
      this.starting = null;
    }
  }

  /** Between start-up steps: a stop requested meanwhile ends the start here. */
  private next(step: string): void {
    if (this.stopRequested) throw new StraitError('STRAIT_SHUTTING_DOWN', `stopped during start-up, before ${step}`);
    this.step = step;
  }

  /**
   * Takes the directory locks, checks every directory and binds the listeners: all before any file
   * is opened or created, so a clash with another broker (directory or port) touches nothing.
   */
  private async claim(): Promise<void> {
    const cfg = this.config;
    const st = cfg.storage;
    this.next('locking data.dir');
    const dataDir = prepareDir(cfg.dataDir, 'data.dir', 'STRAIT_DATA_DIR_UNUSABLE');
    this.locks.push(await lockDir(dataDir, 'data.dir'));
    // A wal.dir or object folder outside data.dir is locked too (each distinct directory once);
    // those inside it are covered by its lock and created only once the listeners are bound.
    const dirs: { dir: string; setting: string; code: string }[] = [{ dir: st.walDir, setting: 'wal.dir', code: 'STRAIT_WAL_DIR_UNUSABLE' }];
    if (st.objectStore.engine === 'folder') dirs.push({ dir: st.objectStore.path, setting: 'object.store.path', code: 'STRAIT_OBJECT_STORE_PATH_UNUSABLE' });
    const inside: typeof dirs = [];
    for (const d of dirs) {
      if (isWithin(d.dir, dataDir)) {
        inside.push(d);
        continue;
      }
      this.next(`locking ${d.setting}`);
      const abs = prepareDir(d.dir, d.setting, d.code);
      if (!this.locks.some((l) => isWithin(abs, l.dir))) this.locks.push(await lockDir(abs, d.setting));
    }
    this.next('binding the listeners');
    this.server = new KafkaServer(
      {
        requestSizeBytesMax: cfg.requestSizeBytesMax,
        inflightRequestsMax: cfg.inflightRequestsMax,
        inflightRequestBytesMax: cfg.inflightRequestBytesMax,
        queuedRequestBytesMax: cfg.queuedRequestBytesMax,
        idleMsMax: cfg.connectionIdleMsMax,
      },
      this.log,
    );
    this.bound = await this.server.listen(cfg.listeners);
    // A listener on port 0 got a free port from the OS: advertise that one.
    for (const a of cfg.advertisedListeners) {
      const b = this.bound.find((l) => l.name === a.name);
      if (a.port === 0 && b) a.port = b.port;
    }
    if (cfg.httpListener) {
      const { host, port } = cfg.httpListener;
      this.httpListener = await HeldListener.bind(host, port).catch((err: NodeJS.ErrnoException) => {
        throw new StraitError('STRAIT_HTTP_LISTEN_FAILED', `cannot listen on ${host}:${port} for the HTTP admin API (http.listener): ${err.message}`);
      });
    }
    for (const d of inside) prepareDir(d.dir, d.setting, d.code);
  }

  private async startSteps(): Promise<void> {
    const cfg = this.config;
    const st = cfg.storage;
    await this.claim();
    this.next('opening the metadata store');
    const store = createMetadataStore(cfg.metadata, this.log.child({ component: 'metadata' }));
    await store.open();
    this.store = store;
    const clusterId = await store.clusterId();
    this.next('opening the object store');
    const objects = await createObjectStore(st.objectStore);
    this.objects = objects;
    // With the object WAL the store must answer before partitions are claimed: a broker that cannot
    // read the WAL objects must not fence the one that can (a wrong key or endpoint fails the start
    // here). The file WAL needs no object store to start: uploads wait for it.
    if (st.walKind === 'object') {
      this.next('checking the object store');
      // Tried for up to 30 s (an object store restarting), then the start fails.
      await this.retrying('the object store does not answer yet; waiting before claiming partitions', 30_000, 500, () => objects.head('strait-reachability-check')).catch((err: Error) => {
        throw new StraitError('STRAIT_OBJECT_STORE_UNAVAILABLE', `the object store does not answer, so no partition is claimed: ${err.message}`);
      });
    }
    // This broker leads every partition (one broker per metadata store until the cluster issue): it
    // claims every partition not led by this run's incarnation, its own node id's too, which fences
    // any other process that led them (another node id, or a paused process of this one). With
    // wal.kind=object their committed WAL objects are replayed below; nothing acknowledged is lost.
    // The claim locks every partition row; a broker frozen in the middle of a commit holds some
    // until PostgreSQL ends its session (3 s idle in a transaction), so a claim that fails is tried
    // again for up to a minute.
    const incarnation = randomInt(1, 2 ** 31 - 1);
    this.incarnation = incarnation;
    const claim = () => store.claimPartitions({ nodeId: cfg.nodeId, incarnation });
    const claimed = (await this.retrying('claiming the partitions failed (rows held by a broker that stopped mid-commit, or metadata unreachable); trying again', 60_000, 1000, claim, (err) => (err as StraitError).code === 'STRAIT_METADATA_UNAVAILABLE')).filter(
      (c) => c.previousLeaderId !== cfg.nodeId,
    );
    if (claimed.length > 0) {
      this.log.warn('took over partitions led by another broker', { partitions: claimed.length, from: [...new Set(claimed.map((c) => c.previousLeaderId))] });
    }
    // One writer for every object this broker writes: uploads, compaction and cleaning.
    const writer = new ObjectWriter({ objects, nodeId: cfg.nodeId, keyPrefix: '', log: this.log });

    this.next('replaying the WAL');
    const wal: Wal =
      st.walKind === 'object'
        ? new ObjectWal({
            store,
            writer,
            nodeId: cfg.nodeId,
            incarnation,
            flushMs: st.walObjectFlushMs,
            flushBytes: st.walObjectFlushBytes,
            inflightMax: st.walObjectInflightMax,
            log: this.log.child({ component: 'wal' }),
            onFenced: () => void this.checkLeadership().catch((err: unknown) => this.log.warn('could not check who leads fenced partitions; the next check will', { err: err as Error })),
          })
        : new FileWal({ dir: st.walDir, segmentBytesMax: st.walSegmentBytesMax, flushBytesMax: st.walFlushBytesMax, flushLingerMs: st.walFlushLingerMs, log: this.log, faults: (step) => this.walFaults?.(step) ?? null });
    const replay = await wal.open();
    this.wal = wal;
    const reader = new ObjectReader({ objects, store, blockBytes: st.blockBytes, blockCacheBytesMax: st.blockCacheBytesMax, readTimeoutMs: st.objectReadTimeoutMs });
    this.reader = reader;
    const logs = new LogManager({ tailCacheBytesMax: st.tailCacheBytesMax, log: this.log });
    this.logs = logs;
    const uploader = new Uploader({
      writer,
      store,
      trimWal: (upTo) => wal.trim(upTo),
      producerSnapshots: (items) => logs.producerSnapshots(items),
      onCommitted: (ranges) => {
        reader.addRanges(ranges);
        logs.evict();
      },
      uploadBytesMax: st.uploadBytesMax,
      uploadIntervalMs: st.uploadIntervalMs,
      log: this.log,
      fence: (items) => ({ nodeId: cfg.nodeId, incarnation, leaderEpochs: logs.leaderEpochsOf(items) }),
      onFenced: () => this.checkLeadership(),
    });
    this.uploader = uploader;
    // New data is refused with a retriable error while too much durable data waits for object
    // storage. The check runs before offsets are assigned (LogShared.admit), so a refusal changes
    // nothing of appends already on their way to the WAL.
    const admit = () =>
      uploader.pendingBytes > st.uploadPendingBytesMax
        ? new StraitError('STRAIT_UPLOAD_BACKLOG', `object storage is behind: ${uploader.pendingBytes} bytes wait for upload`, ErrorCode.KAFKA_STORAGE_ERROR)
        : wal.pendingBytes > st.walObjectPendingBytesMax
          ? new StraitError('STRAIT_WAL_BACKLOG', `the WAL is behind: ${wal.pendingBytes} bytes wait to be written (wal.object.pending.bytes.max)`, ErrorCode.KAFKA_STORAGE_ERROR)
          : null;
    await logs.open(store, { wal, sink: uploader, cold: reader, admit }, replay);
    uploader.start();
    this.next('loading groups and transactions');
    // Paused until the links have marked their mirrors: retention, compaction and the cleaner leave
    // mirrors alone, which they can only tell once links.load() has run.
    const jobs = new Jobs(this.log, { paused: true });
    this.jobs = jobs;
    jobs.add('retention', st.retentionCheckIntervalMs, () => enforceRetention(logs, reader, Date.now(), this.log));
    jobs.add('object-compaction', st.objectCompactionIntervalMs, () =>
      compactObjects([...logs.all()], { writer, store, reader, smallBytes: st.objectCompactionSmallBytes, targetBytes: st.objectCompactionTargetBytes, log: this.log }),
    );
    jobs.add('log-cleaner', st.logCleanerBackoffMs, () => cleanLogs(logs, { writer, store, reader, objectBytesTarget: st.objectCompactionTargetBytes, log: this.log }));
    // On a shared metadata store another broker may claim this one's partitions (it found this one
    // dead, but it was only paused): looked for every few seconds, and at once when a commit is fenced.
    if (cfg.metadata.engine === 'postgres') jobs.add('leadership-check', 2000, async () => void (await this.checkLeadership()));
    jobs.add('object-gc', Math.max(1000, Math.min(st.objectDeleteDelayMs, 60000)), () => collectGarbage(store, objects, Date.now(), st.objectDeleteDelayMs, this.log));

    const catalog = new TopicCatalog();
    await catalog.load(store);
    // Group coordinator: consumer groups and committed offsets, loaded before clients can connect.
    const groupConfig = groupCoordinatorConfig(cfg.values);
    const groups = new GroupCoordinator({ store, catalog, config: groupConfig, log: this.log.child({ component: 'group-coordinator' }) });
    await groups.load();
    this.groups = groups;
    jobs.add('offsets-retention', groupConfig.offsetsRetentionCheckIntervalMs, () => groups.expireOffsets());

    // Transaction coordinator: after the logs (it completes decided transactions with markers).
    const producerIds = new ProducerIdManager(store);
    const transactions = new TransactionCoordinator({
      store,
      producerIds,
      logs,
      catalog,
      log: this.log,
      config: { maxTimeoutMs: Number(cfg.values['transaction.max.timeout.ms']), transactionalIdExpirationMs: Number(cfg.values['transactional.id.expiration.ms']) },
    });
    // TxnOffsetCommit goes through the group coordinator's checks; committed transactional offsets
    // become its committed offsets, and OffsetFetch(requireStable) asks about pending ones.
    transactions.attachOffsetsHost(groups);
    groups.pendingTxnOffset = (groupId, topic, partition) => transactions.hasPendingOffset(groupId, topic, partition);
    await transactions.load();
    this.transactions = transactions;
    jobs.add('transaction-abort', Number(cfg.values['transaction.abort.timed.out.transaction.cleanup.interval.ms']), () => transactions.abortTimedOut());
    jobs.add('transactional-id-expiration', Number(cfg.values['transaction.remove.expired.transaction.cleanup.interval.ms']), () => transactions.expireTransactionalIds());
    jobs.add('producer-id-expiration', Number(cfg.values['producer.id.expiration.check.interval.ms']), () => transactions.expireProducers(Number(cfg.values['producer.id.expiration.ms'])));

    const router = createRouter({ fetchSessionSlots: cfg.fetchSessionSlots, transactions, groups });
    const topicListener = {
      created: (t: TopicRecord) => {
        catalog.put(t);
        logs.ensureTopic(t);
      },
      deleted: (t: TopicRecord) => {
        catalog.remove(t.topicId);
        logs.dropTopic(t.topicId);
        for (let p = 0; p < t.partitionCount; p++) reader.invalidate(t.topicId, p);
        groups.onTopicDeleted(t.name).catch((err: unknown) => this.log.warn('could not delete committed offsets of a deleted topic', { topic: t.name, err: err as Error }));
        this.links?.onTopicDeleted(t.topicId).catch((err: unknown) => this.log.warn('could not stop mirroring a deleted topic', { topic: t.name, err: err as Error }));
      },
      changed: (t: TopicRecord) => {
        catalog.put(t);
        logs.ensureTopic(t);
        logs.updateSettings(t.topicId, t.configs);
      },
    };
    const services: BrokerServices = {
      config: cfg,
      log: this.log,
      store,
      clusterId,
      nodeId: cfg.nodeId,
      catalog,
      logs,
      topics: new TopicAdmin(store, { partitions: cfg.defaultPartitions, replicationFactor: cfg.defaultReplicationFactor }, () => ({ nodeId: cfg.nodeId, incarnation: this.incarnation }), this.log, topicListener),
      apiVersions: () => router.apiVersions(),
      forwarding: null,
      successor: null,
    };
    this.services = services;
    router.bind(services);
    // Links: mirror topics are made read-only before any client can connect.
    const links = new LinkManager({
      store,
      logs,
      topics: services.topics,
      catalog,
      groups,
      transactions,
      producerIds,
      log: this.log.child({ component: 'links' }),
      syncAcls: (client, source, accept) => syncAcls(client, store, source, accept),
      dropAcls: (source) => store.deleteAcls(source),
    });
    this.next('loading links');
    await links.load();
    jobs.start();
    this.links = links;
    services.forwarding = links;
    groups.joinGate = (groupId) => links.joinGate(groupId);
    groups.offsetCommitHook = (groupId) => links.groupCommittedHere(groupId);
    this.next('serving');
    links.start();
    if (cfg.httpListener && this.httpListener) {
      this.http = await startHttpServer({
        host: cfg.httpListener.host,
        port: cfg.httpListener.port,
        listener: this.httpListener,
        links,
        log: this.log.child({ component: 'http' }),
        brokerInfo: () => ({ nodeId: cfg.nodeId, clusterId, listeners: this.bound.map((l) => `${l.name}://${l.host}:${l.port}`) }),
        brokerMetrics: () => [...storageMetrics(logs, uploader, reader, wal, writer), ...this.networkMetrics()],
      });
    }
    this.httpListener = null;
    const advertised = cfg.advertisedListeners[0]!;
    await store.registerBroker({ nodeId: cfg.nodeId, host: advertised.host, port: advertised.port, rack: cfg.rack });
    // Ready: requests are read from now on, those of connections made during start-up first.
    this.server!.serve(router);
    this.step = null;
    this.log.info('broker started', {
      nodeId: cfg.nodeId,
      clusterId,
      dataDir: cfg.dataDir,
      objectStore: st.objectStore.engine,
      listeners: this.bound.map((l) => `${l.name}://${l.host}:${l.port}`),
      http: this.http?.url ?? null,
    });
  }

  /** Runs op until it succeeds; errors `retriable` accepts are retried `everyMs` apart for up to
   *  `forMs` (not after stop()), the first one logged as `warning`. */
  private async retrying<T>(warning: string, forMs: number, everyMs: number, op: () => Promise<T>, retriable: (err: unknown) => boolean = () => true): Promise<T> {
    const deadline = Date.now() + forMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await op();
      } catch (err) {
        if (!retriable(err) || Date.now() > deadline || this.stopRequested) throw err;
        if (attempt === 0) this.log.warn(warning, { err: err as Error });
        await new Promise((r) => setTimeout(r, everyMs));
      }
    }
  }

  /**
   * Partitions another broker leads now stop being served here (see LogManager.relinquish); returns
   * them. When it took every partition (a broker started on the same metadata claims them all),
   * this one stands down: it coordinates no group or transaction, runs no link or background job,
   * and sends clients to the new leader (Metadata, FindCoordinator). A restart claims them back.
   */
  private async checkLeadership(): Promise<{ topicId: string; partitionIndex: number; leaderId: number }[]> {
    // One check at a time (a fenced commit and the periodic job may ask at once).
    const previous = this.leadershipCheck;
    const run = (async () => {
      await previous?.catch(() => {});
      return this.checkLeadershipNow();
    })();
    this.leadershipCheck = run;
    return run;
  }

  private async checkLeadershipNow(): Promise<{ topicId: string; partitionIndex: number; leaderId: number }[]> {
    const store = this.store;
    const logs = this.logs;
    if (!store || !logs) return [];
    const partitions = await store.allPartitions();
    // Led by another node id, or by a later process of this one (a new incarnation).
    const elsewhere = partitions
      .filter((p) => p.leaderId !== this.config.nodeId || (p.leaderIncarnation !== undefined && p.leaderIncarnation !== this.incarnation))
      .map((p) => ({ topicId: p.topicId, partitionIndex: p.partitionIndex, leaderId: p.leaderId }));
    logs.relinquish(elsewhere);
    if (elsewhere.length > 0 && elsewhere.length === partitions.length && !this.stoodDown) {
      const successor = elsewhere[elsewhere.length - 1]!.leaderId;
      const registered = (await store.brokers()).find((b) => b.nodeId === successor);
      this.standDown(successor, registered ?? null);
    }
    return elsewhere;
  }

  private standDown(successor: number, at: { host: string; port: number } | null): void {
    this.stoodDown = true;
    if (this.services && at) this.services.successor = { nodeId: successor, host: at.host, port: at.port };
    this.log.error('another broker took over every partition of this one; standing down (restart to claim them back)', { successor, at: at ? `${at.host}:${at.port}` : null });
    this.groups?.shutdown();
    // Not awaited: the leadership check that got here runs as one of the jobs being stopped.
    void (async () => {
      await this.links?.stop();
      await this.jobs?.stop();
      await this.transactions?.close();
    })().catch((err: unknown) => this.log.warn('standing down did not finish cleanly', { err: err as Error }));
  }

  private networkMetrics(): MetricSample[] {
    const server = this.server;
    if (!server) return [];
    return [
      { name: 'strait_request_bytes_inflight', help: 'Request bytes being read or handled on all connections (queued.max.request.bytes).', type: 'gauge', labels: {}, value: server.inflightRequestBytes },
      { name: 'strait_connections', help: 'Open client connections.', type: 'gauge', labels: {}, value: server.connectionCount },
    ];
  }

  /** Stops the broker; during start(), stops it at its next step and closes what it opened. */
  async stop(): Promise<void> {
    this.stopRequested = true;
    if (this.starting) {
      // start() closes what it opened when it fails; if it got to the end anyway, close below.
      const started = await this.starting.then(
        () => true,
        () => false,
      );
      if (!started) return;
    }
    await this.close();
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const step = async (name: string, f: () => Promise<void> | void) => {
      this.step = name;
      await f();
    };
    // The directory locks go even when a step fails: the error is reported, and a start in the same
    // process (or the next one) must not find the directories locked by a broker that is gone.
    try {
      await this.closeSteps(step);
    } finally {
      this.step = 'releasing the directory locks';
      for (const l of this.locks.splice(0)) await l.release().catch((err: unknown) => this.log.warn('could not release a directory lock', { err: err as Error }));
      this.step = null;
    }
    // A start refused before it opened anything (a lock, a directory, a port) has nothing to report.
    if (this.store) this.log.info('broker stopped', { nodeId: this.config.nodeId });
    this.server = null;
    this.store = null;
  }

  private async closeSteps(step: (name: string, f: () => Promise<void> | void) => Promise<void>): Promise<void> {
    // Parked JoinGroup/SyncGroup requests are answered (NOT_COORDINATOR) so the server can drain.
    this.groups?.shutdown();
    await step('closing the HTTP admin API', async () => {
      await this.http?.close();
      await this.httpListener?.close();
    });
    await step('draining client requests', () => this.server?.close());
    await step('stopping links', () => this.links?.stop());
    await step('stopping background jobs', () => this.jobs?.stop());
    await step('closing the transaction coordinator', () => this.transactions?.close());
    await step('finishing the upload to object storage', () => this.uploader?.close());
    await step('closing the WAL', () => this.wal?.close());
    await step('closing the object store', () => this.objects?.close());
    await step('closing the metadata store', () => this.store?.close());
  }
}

/** Where the broker's memory and object storage stand: the bounded caches and the upload backlog. */
function storageMetrics(logs: LogManager, uploader: Uploader, reader: ObjectReader, wal: Wal, writer: ObjectWriter): MetricSample[] {
  const gauge = (name: string, help: string, value: number): MetricSample => ({ name, help, type: 'gauge', labels: {}, value });
  const counter = (name: string, help: string, value: number): MetricSample => ({ name, help, type: 'counter', labels: {}, value });
  return [
    gauge('strait_tail_cache_bytes', 'Recent batches held in memory (tail.cache.bytes.max bounds the uploaded part).', logs.tailBytes),
    gauge('strait_block_cache_bytes', 'Object blocks held in memory (block.cache.bytes.max).', reader.blockCacheBytes),
    gauge('strait_upload_pending_bytes', 'Durable WAL data waiting for object storage (upload.pending.bytes.max).', uploader.pendingBytes),
    counter('strait_uploaded_objects_total', 'Objects uploaded to object storage.', uploader.stats.objects),
    counter('strait_uploaded_bytes_total', 'Bytes uploaded to object storage.', uploader.stats.bytes),
    counter('strait_upload_failures_total', 'Failed upload attempts (retried).', uploader.stats.failures),
    gauge('strait_wal_pending_bytes', 'Produced bytes waiting to become durable in the WAL (wal.object.pending.bytes.max bounds it for wal.kind=object).', wal.pendingBytes),
    counter('strait_wal_flushes_total', 'Durable WAL writes: fsyncs (wal.kind=file) or object PUT plus commit (wal.kind=object).', wal.stats.flushes),
    counter('strait_wal_bytes_total', 'Bytes made durable in the WAL.', wal.stats.bytes),
    ...(wal instanceof ObjectWal
      ? [
          counter('strait_wal_object_put_failures_total', 'Failed WAL object PUTs (retried while the produces wait).', wal.stats.putFailures),
          counter('strait_wal_object_commit_failures_total', 'Failed WAL object metadata commits (retried while the produces wait).', wal.stats.commitFailures),
          counter('strait_wal_object_fenced_total', 'WAL object commits refused for some partitions because another broker leads them now.', wal.stats.fenced),
          counter('strait_wal_object_commit_seconds_total', 'Time spent in WAL object metadata commits (with strait_wal_flushes_total: the mean commit latency).', wal.stats.commitMsTotal / 1000),
        ]
      : []),
    ...(['data', 'compacted', 'cleaned', 'wal'] as const).flatMap((kind) => [
      { name: 'strait_object_puts_total', help: 'Object PUT requests sent, retries included, by kind of object.', type: 'counter' as const, labels: { kind }, value: writer.statsByKind[kind].puts },
      { name: 'strait_object_put_bytes_total', help: 'Bytes of objects written and committed, by kind of object.', type: 'counter' as const, labels: { kind }, value: writer.statsByKind[kind].bytes },
    ]),
    counter('strait_block_cache_hits_total', 'Object reads served from the block cache.', reader.stats.blockHits),
    counter('strait_block_cache_misses_total', 'Object reads that went to object storage.', reader.stats.blockMisses),
  ];
}
