// The embedded metadata engine: one SQLite file beside the data, via node:sqlite. SQLite calls are
// synchronous and fast; the async contract is kept so PostgreSQL can stand in without caller changes.
import { DatabaseSync } from 'node:sqlite';
import type { StatementSync } from 'node:sqlite';
import { StraitError } from '../../common/errors.ts';
import { randomKafkaUuid } from '../ids.ts';
import { FencedError } from '../store.ts';
import type { BrokerIncarnation, FencedPartition, LeaderFence, WalObjectRecord, WalRange } from '../store.ts';
import type { BrokerRecord, LeaderEpochHistory, MetadataStore, NewObjectRange, NewTopic, ObjectRange, PartitionRecord, ProducerSnapshot, TopicRecord } from '../store.ts';
import type { CommittedOffsetRecord, GroupRecord } from '../store.ts';
import type { TransactionRecord, TxnOffsetRecord } from '../store.ts';
import type { LinkGroupRecord, LinkRecord, MirrorRecord } from '../store.ts';
import type { AclBindingRecord, AclRecord } from '../store.ts';
import { SQLITE_MIGRATIONS } from './migrations.ts';

type Row = Record<string, unknown>;

export class SqliteMetadataStore implements MetadataStore {
  readonly path: string;
  private db: DatabaseSync | null = null;
  private stmts = new Map<string, StatementSync>();

  constructor(path: string) {
    this.path = path;
  }

  async open(): Promise<void> {
    try {
      this.db = new DatabaseSync(this.path);
      this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;');
      this.migrate();
    } catch (err) {
      throw new StraitError('STRAIT_METADATA_UNAVAILABLE', `cannot open metadata database ${this.path}: ${(err as Error).message}`);
    }
  }

  private migrate(): void {
    const db = this.db!;
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at_ms INTEGER NOT NULL)');
    const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as Row[]).map((r) => r.version as number));
    const latest = Math.max(...SQLITE_MIGRATIONS.map((m) => m.version));
    const newest = Math.max(0, ...applied);
    if (newest > latest) {
      throw new Error(`schema version ${newest} is newer than this Strait understands (${latest}); upgrade Strait`);
    }
    // Every known migration not applied yet runs, in version order, each in its own transaction.
    for (const m of [...SQLITE_MIGRATIONS].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      this.transaction(() => {
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_migrations (version, description, applied_at_ms) VALUES (?, ?, ?)').run(m.version, m.description, Date.now());
      });
    }
  }

  async close(): Promise<void> {
    this.stmts.clear();
    this.db?.close();
    this.db = null;
  }

  private stmt(sql: string): StatementSync {
    let s = this.stmts.get(sql);
    if (!s) {
      if (!this.db) throw new StraitError('STRAIT_METADATA_UNAVAILABLE', 'metadata store is closed');
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  /** Runs fn atomically. An error of type `expected` rolls back and yields null instead of throwing. */
  private transaction<T>(fn: () => T): T;
  private transaction<T>(fn: () => T, expected: new () => Error): T | null;
  private transaction<T>(fn: () => T, expected?: new () => Error): T | null {
    const db = this.db!;
    db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      db.exec('COMMIT');
      return out;
    } catch (err) {
      db.exec('ROLLBACK');
      if (expected && err instanceof expected) return null;
      throw err;
    }
  }

  async schemaVersion(): Promise<number> {
    return (this.stmt('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations').get() as Row).v as number;
  }

  async clusterId(): Promise<string> {
    return this.transaction(() => {
      const row = this.stmt('SELECT cluster_id FROM cluster WHERE id = 1').get() as Row | undefined;
      if (row) return row.cluster_id as string;
      const id = randomKafkaUuid();
      this.stmt('INSERT INTO cluster (id, cluster_id, created_at_ms) VALUES (1, ?, ?)').run(id, Date.now());
      return id;
    });
  }

  async registerBroker(b: BrokerRecord): Promise<void> {
    this.stmt(
      `INSERT INTO brokers (node_id, host, port, rack, registered_at_ms) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (node_id) DO UPDATE SET host = excluded.host, port = excluded.port, rack = excluded.rack, registered_at_ms = excluded.registered_at_ms`,
    ).run(b.nodeId, b.host, b.port, b.rack, Date.now());
  }

  async brokers(): Promise<BrokerRecord[]> {
    const rows = this.stmt('SELECT node_id, host, port, rack FROM brokers ORDER BY node_id').all() as Row[];
    return rows.map((r) => ({ nodeId: r.node_id as number, host: r.host as string, port: r.port as number, rack: (r.rack as string | null) ?? null }));
  }

  async createTopic(t: NewTopic): Promise<TopicRecord | null> {
    return this.transaction(() => {
      if (this.stmt('SELECT 1 FROM topics WHERE name = ?').get(t.name)) return null;
      const now = Date.now();
      this.stmt('INSERT INTO topics (topic_id, name, partition_count, replication_factor, created_at_ms) VALUES (?, ?, ?, ?, ?)').run(
        t.topicId,
        t.name,
        t.partitionCount,
        t.replicationFactor,
        now,
      );
      const cfg = this.stmt('INSERT INTO topic_configs (topic_id, name, value) VALUES (?, ?, ?)');
      for (const [k, v] of Object.entries(t.configs)) cfg.run(t.topicId, k, v);
      const part = this.stmt('INSERT INTO partitions (topic_id, partition_index, leader_id, leader_incarnation, leader_epoch) VALUES (?, ?, ?, ?, 0)');
      for (let p = 0; p < t.partitionCount; p++) part.run(t.topicId, p, t.leaderId, t.leaderIncarnation ?? 0);
      return { topicId: t.topicId, name: t.name, partitionCount: t.partitionCount, replicationFactor: t.replicationFactor, configs: { ...t.configs }, createdAtMs: now };
    });
  }

  async deleteTopic(topicId: string): Promise<boolean> {
    return this.transaction(() => {
      this.stmt('DELETE FROM mirror_topics WHERE topic_id = ?').run(topicId);
      return Number(this.stmt('DELETE FROM topics WHERE topic_id = ?').run(topicId).changes) > 0;
    });
  }

  private topicFromRow(r: Row): TopicRecord {
    const configs: Record<string, string> = {};
    for (const c of this.stmt('SELECT name, value FROM topic_configs WHERE topic_id = ?').all(r.topic_id as string) as Row[]) {
      configs[c.name as string] = c.value as string;
    }
    return {
      topicId: r.topic_id as string,
      name: r.name as string,
      partitionCount: r.partition_count as number,
      replicationFactor: r.replication_factor as number,
      configs,
      createdAtMs: r.created_at_ms as number,
    };
  }

  async topics(): Promise<TopicRecord[]> {
    const rows = this.stmt('SELECT * FROM topics ORDER BY name').all() as Row[];
    return rows.map((r) => this.topicFromRow(r));
  }

  async topicByName(name: string): Promise<TopicRecord | null> {
    const r = this.stmt('SELECT * FROM topics WHERE name = ?').get(name) as Row | undefined;
    return r ? this.topicFromRow(r) : null;
  }

  async topicById(topicId: string): Promise<TopicRecord | null> {
    const r = this.stmt('SELECT * FROM topics WHERE topic_id = ?').get(topicId) as Row | undefined;
    return r ? this.topicFromRow(r) : null;
  }

  private partitionFromRow(r: Row): PartitionRecord {
    return {
      topicId: r.topic_id as string,
      partitionIndex: r.partition_index as number,
      leaderId: r.leader_id as number,
      leaderEpoch: r.leader_epoch as number,
      leaderIncarnation: r.leader_incarnation as number,
      logStartOffset: r.log_start_offset as number,
    };
  }

  async partitions(topicId: string): Promise<PartitionRecord[]> {
    const rows = this.stmt('SELECT * FROM partitions WHERE topic_id = ? ORDER BY partition_index').all(topicId) as Row[];
    return rows.map((r) => this.partitionFromRow(r));
  }

  async allPartitions(): Promise<PartitionRecord[]> {
    const rows = this.stmt('SELECT * FROM partitions ORDER BY topic_id, partition_index').all() as Row[];
    return rows.map((r) => this.partitionFromRow(r));
  }

  async addPartitions(topicId: string, newCount: number, leaderId: number, leaderIncarnation = 0): Promise<boolean> {
    return this.transaction(() => {
      const row = this.stmt('SELECT partition_count FROM topics WHERE topic_id = ?').get(topicId) as Row | undefined;
      if (!row) return false;
      const current = row.partition_count as number;
      const part = this.stmt('INSERT INTO partitions (topic_id, partition_index, leader_id, leader_incarnation, leader_epoch) VALUES (?, ?, ?, ?, 0)');
      for (let p = current; p < newCount; p++) part.run(topicId, p, leaderId, leaderIncarnation);
      this.stmt('UPDATE topics SET partition_count = ? WHERE topic_id = ?').run(newCount, topicId);
      return true;
    });
  }

  async setTopicConfigs(topicId: string, configs: Record<string, string>): Promise<void> {
    this.transaction(() => {
      this.stmt('DELETE FROM topic_configs WHERE topic_id = ?').run(topicId);
      const cfg = this.stmt('INSERT INTO topic_configs (topic_id, name, value) VALUES (?, ?, ?)');
      for (const [k, v] of Object.entries(configs)) cfg.run(topicId, k, v);
    });
  }

  private insertObject(key: string, sizeBytes: number, ranges: NewObjectRange[]): number {
    const id = Number(this.stmt('INSERT INTO objects (object_key, size_bytes, created_at_ms) VALUES (?, ?, ?)').run(key, sizeBytes, Date.now()).lastInsertRowid);
    const ins = this.stmt(
      'INSERT INTO object_ranges (topic_id, partition_index, base_offset, end_offset, object_id, position, size_bytes, max_timestamp, cleaned) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    for (const r of ranges) {
      // A range for a topic deleted meanwhile is dropped: its object becomes garbage.
      if (!this.stmt('SELECT 1 FROM topics WHERE topic_id = ?').get(r.topicId)) continue;
      ins.run(r.topicId, r.partitionIndex, r.baseOffset, r.endOffset, id, r.position, r.sizeBytes, r.maxTimestamp, r.cleaned ? 1 : 0);
    }
    return id;
  }

  /** The partitions of `leaderEpochs` not led by `leader` at a leader epoch no newer than given (or gone). */
  private fenced(leader: BrokerIncarnation, leaderEpochs: { topicId: string; partitionIndex: number; leaderEpoch: number }[]): FencedPartition[] {
    const get = this.stmt('SELECT leader_id, leader_incarnation, leader_epoch FROM partitions WHERE topic_id = ? AND partition_index = ?');
    const out: FencedPartition[] = [];
    const seen = new Set<string>();
    for (const e of leaderEpochs) {
      const k = `${e.topicId}:${e.partitionIndex}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const row = get.get(e.topicId, e.partitionIndex) as Row | undefined;
      if (!row || row.leader_id !== leader.nodeId || row.leader_incarnation !== leader.incarnation || (row.leader_epoch as number) > e.leaderEpoch) {
        out.push({ topicId: e.topicId, partitionIndex: e.partitionIndex });
      }
    }
    return out;
  }

  async commitObject(key: string, sizeBytes: number, ranges: NewObjectRange[], producerSnapshots: ProducerSnapshot[] = [], fence?: LeaderFence): Promise<number> {
    return this.transaction(() => {
      if (fence) {
        const fenced = this.fenced(fence, fence.leaderEpochs);
        if (fenced.length > 0) throw new FencedError(fenced);
      }
      const id = this.insertObject(key, sizeBytes, ranges);
      // WAL parts now inside this object are uploaded: they go, and their WAL object with its last part.
      const uploaded = this.stmt('DELETE FROM wal_ranges WHERE topic_id = ? AND partition_index = ? AND end_offset <= ?');
      for (const r of ranges) uploaded.run(r.topicId, r.partitionIndex, r.endOffset);
      const put = this.stmt(
        `INSERT INTO producer_snapshots (topic_id, partition_index, end_offset, state) SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM topics WHERE topic_id = ?)
         ON CONFLICT (topic_id, partition_index) DO UPDATE SET end_offset = excluded.end_offset, state = excluded.state`,
      );
      for (const p of producerSnapshots) put.run(p.topicId, p.partitionIndex, p.endOffset, p.state, p.topicId);
      return id;
    });
  }

  async commitWalObject(key: string, sizeBytes: number, leader: BrokerIncarnation, ranges: WalRange[]): Promise<{ objectId: number; fenced: null } | { objectId: null; fenced: FencedPartition[] }> {
    const nodeId = leader.nodeId;
    return this.transaction(() => {
      const existing = this.stmt('SELECT object_id FROM objects WHERE object_key = ?').get(key) as Row | undefined;
      if (existing) return { objectId: existing.object_id as number, fenced: null };
      const fenced = this.fenced(leader, ranges);
      if (fenced.length > 0) return { objectId: null, fenced };
      const id = Number(this.stmt('INSERT INTO objects (object_key, size_bytes, created_at_ms) VALUES (?, ?, ?)').run(key, sizeBytes, Date.now()).lastInsertRowid);
      const ins = this.stmt(
        'INSERT INTO wal_ranges (object_id, topic_id, partition_index, base_offset, end_offset, position, size_bytes, leader_epoch, node_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      for (const r of ranges) ins.run(id, r.topicId, r.partitionIndex, r.baseOffset, r.endOffset, r.position, r.sizeBytes, r.leaderEpoch, nodeId);
      return { objectId: id, fenced: null };
    });
  }

  async walObjects(): Promise<WalObjectRecord[]> {
    const rows = this.stmt(
      `SELECT w.*, o.object_key, o.size_bytes AS object_size FROM wal_ranges w JOIN objects o ON o.object_id = w.object_id ORDER BY w.object_id, w.position, w.base_offset`,
    ).all() as Row[];
    const out: WalObjectRecord[] = [];
    for (const r of rows) {
      let last = out[out.length - 1];
      if (!last || last.objectId !== r.object_id) {
        last = { objectId: r.object_id as number, key: r.object_key as string, sizeBytes: r.object_size as number, nodeId: r.node_id as number, ranges: [] };
        out.push(last);
      }
      last.ranges.push({
        topicId: r.topic_id as string,
        partitionIndex: r.partition_index as number,
        baseOffset: r.base_offset as number,
        endOffset: r.end_offset as number,
        position: r.position as number,
        sizeBytes: r.size_bytes as number,
        leaderEpoch: r.leader_epoch as number,
      });
    }
    return out;
  }

  async claimPartitions(leader: BrokerIncarnation): Promise<(PartitionRecord & { previousLeaderId: number })[]> {
    return this.transaction(() => {
      const rows = this.stmt(
        `SELECT p.*, EXISTS (SELECT 1 FROM mirror_topics m WHERE m.topic_id = p.topic_id AND m.state IN ('mirroring', 'promoting')) AS mirrored
         FROM partitions p WHERE p.leader_id <> ? OR p.leader_incarnation <> ? ORDER BY p.topic_id, p.partition_index`,
      ).all(leader.nodeId, leader.incarnation) as Row[];
      const set = this.stmt('UPDATE partitions SET leader_id = ?, leader_incarnation = ?, leader_epoch = ? WHERE topic_id = ? AND partition_index = ?');
      return rows.map((r) => {
        const epoch = (r.leader_epoch as number) + (r.mirrored || r.leader_id === leader.nodeId ? 0 : 1);
        set.run(leader.nodeId, leader.incarnation, epoch, r.topic_id as string, r.partition_index as number);
        return {
          topicId: r.topic_id as string,
          partitionIndex: r.partition_index as number,
          leaderId: leader.nodeId,
          leaderEpoch: epoch,
          logStartOffset: r.log_start_offset as number,
          previousLeaderId: r.leader_id as number,
        };
      });
    });
  }

  async producerSnapshots(): Promise<ProducerSnapshot[]> {
    const rows = this.stmt('SELECT * FROM producer_snapshots').all() as Row[];
    return rows.map((r) => ({ topicId: r.topic_id as string, partitionIndex: r.partition_index as number, endOffset: r.end_offset as number, state: r.state as string }));
  }

  async saveLeaderEpochs(h: LeaderEpochHistory): Promise<void> {
    // One JSON document per partition, [[epoch, startOffset], ...]: rewritten whole like Kafka's
    // checkpoint file, and short (one entry per leader change that wrote data).
    const entries = JSON.stringify(h.entries.map((e) => [e.epoch, e.startOffset]));
    this.stmt(
      `INSERT INTO leader_epochs (topic_id, partition_index, entries) SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM topics WHERE topic_id = ?)
       ON CONFLICT (topic_id, partition_index) DO UPDATE SET entries = excluded.entries`,
    ).run(h.topicId, h.partitionIndex, entries, h.topicId);
  }

  async leaderEpochHistories(): Promise<LeaderEpochHistory[]> {
    const rows = this.stmt('SELECT * FROM leader_epochs ORDER BY topic_id, partition_index').all() as Row[];
    return rows.map((r) => ({
      topicId: r.topic_id as string,
      partitionIndex: r.partition_index as number,
      entries: (JSON.parse(r.entries as string) as [number, number][]).map(([epoch, startOffset]) => ({ epoch, startOffset })),
    }));
  }

  async replaceRanges(
    topicId: string,
    partitionIndex: number,
    oldRanges: { baseOffset: number; endOffset: number; objectId: number }[],
    key: string,
    sizeBytes: number,
    ranges: NewObjectRange[],
  ): Promise<number | null> {
    return this.transaction(() => {
      const del = this.stmt('DELETE FROM object_ranges WHERE topic_id = ? AND partition_index = ? AND base_offset = ? AND end_offset = ? AND object_id = ?');
      for (const r of oldRanges) {
        if (Number(del.run(topicId, partitionIndex, r.baseOffset, r.endOffset, r.objectId).changes) !== 1) throw new RangeGone();
      }
      return this.insertObject(key, sizeBytes, ranges);
    }, RangeGone);
  }

  async objectRanges(topicId: string, partitionIndex: number): Promise<ObjectRange[]> {
    const rows = this.stmt(
      `SELECT r.*, o.object_key FROM object_ranges r JOIN objects o ON o.object_id = r.object_id
       WHERE r.topic_id = ? AND r.partition_index = ? ORDER BY r.base_offset`,
    ).all(topicId, partitionIndex) as Row[];
    return rows.map((r) => ({
      topicId,
      partitionIndex,
      baseOffset: r.base_offset as number,
      endOffset: r.end_offset as number,
      objectId: r.object_id as number,
      objectKey: r.object_key as string,
      position: r.position as number,
      sizeBytes: r.size_bytes as number,
      maxTimestamp: r.max_timestamp as number,
      cleaned: r.cleaned === 1,
    }));
  }

  async advanceLogStartOffset(topicId: string, partitionIndex: number, offset: number): Promise<number> {
    return this.transaction(() => {
      this.stmt('UPDATE partitions SET log_start_offset = MAX(log_start_offset, ?) WHERE topic_id = ? AND partition_index = ?').run(offset, topicId, partitionIndex);
      const row = this.stmt('SELECT log_start_offset FROM partitions WHERE topic_id = ? AND partition_index = ?').get(topicId, partitionIndex) as Row | undefined;
      const start = (row?.log_start_offset as number | undefined) ?? offset;
      this.stmt('DELETE FROM object_ranges WHERE topic_id = ? AND partition_index = ? AND end_offset <= ?').run(topicId, partitionIndex, start);
      return start;
    });
  }

  async setLeaderEpoch(topicId: string, partitionIndex: number, leaderEpoch: number): Promise<void> {
    this.stmt('UPDATE partitions SET leader_epoch = ? WHERE topic_id = ? AND partition_index = ?').run(leaderEpoch, topicId, partitionIndex);
  }

  async truncateRanges(
    topicId: string,
    partitionIndex: number,
    offset: number,
    cut: { objectId: number; baseOffset: number; keepBytes: number; maxTimestamp: number } | null,
    producerSnapshot?: ProducerSnapshot,
  ): Promise<void> {
    this.transaction(() => {
      this.stmt('DELETE FROM object_ranges WHERE topic_id = ? AND partition_index = ? AND base_offset >= ?').run(topicId, partitionIndex, offset);
      if (cut) {
        this.stmt('UPDATE object_ranges SET end_offset = ?, size_bytes = ?, max_timestamp = ? WHERE topic_id = ? AND partition_index = ? AND base_offset = ? AND object_id = ?').run(
          offset,
          cut.keepBytes,
          cut.maxTimestamp,
          topicId,
          partitionIndex,
          cut.baseOffset,
          cut.objectId,
        );
      }
      this.stmt('DELETE FROM producer_snapshots WHERE topic_id = ? AND partition_index = ? AND end_offset > ?').run(topicId, partitionIndex, offset);
      this.stmt('DELETE FROM wal_ranges WHERE topic_id = ? AND partition_index = ? AND end_offset > ?').run(topicId, partitionIndex, offset);
      if (producerSnapshot) {
        this.stmt('INSERT OR REPLACE INTO producer_snapshots (topic_id, partition_index, end_offset, state) VALUES (?, ?, ?, ?)').run(
          producerSnapshot.topicId,
          producerSnapshot.partitionIndex,
          producerSnapshot.endOffset,
          producerSnapshot.state,
        );
      }
    });
  }

  async resetPartition(topicId: string, partitionIndex: number, offset: number): Promise<void> {
    this.transaction(() => {
      this.stmt('DELETE FROM object_ranges WHERE topic_id = ? AND partition_index = ?').run(topicId, partitionIndex);
      this.stmt('DELETE FROM producer_snapshots WHERE topic_id = ? AND partition_index = ?').run(topicId, partitionIndex);
      this.stmt('DELETE FROM wal_ranges WHERE topic_id = ? AND partition_index = ?').run(topicId, partitionIndex);
      this.stmt('UPDATE partitions SET log_start_offset = ? WHERE topic_id = ? AND partition_index = ?').run(offset, topicId, partitionIndex);
    });
  }

  async saveLink(l: LinkRecord): Promise<void> {
    this.stmt(
      `INSERT INTO links (name, link_id, spec, state, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, state = excluded.state, updated_at_ms = excluded.updated_at_ms`,
    ).run(l.name, l.linkId, l.spec, l.state, l.createdAtMs, l.updatedAtMs);
  }

  async deleteLink(name: string): Promise<boolean> {
    return this.transaction(() => {
      this.stmt('DELETE FROM link_groups WHERE link_name = ?').run(name);
      return Number(this.stmt('DELETE FROM links WHERE name = ?').run(name).changes) > 0;
    });
  }

  async links(): Promise<LinkRecord[]> {
    const rows = this.stmt('SELECT * FROM links ORDER BY name').all() as Row[];
    return rows.map((r) => ({ name: r.name as string, linkId: r.link_id as string, spec: r.spec as string, state: r.state as string, createdAtMs: r.created_at_ms as number, updatedAtMs: r.updated_at_ms as number }));
  }

  async saveMirror(m: MirrorRecord): Promise<void> {
    this.stmt(
      `INSERT INTO mirror_topics (topic_id, link_name, source_topic, state, last_promotion, reverse, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (topic_id) DO UPDATE SET link_name = excluded.link_name, source_topic = excluded.source_topic, state = excluded.state,
         last_promotion = excluded.last_promotion, reverse = excluded.reverse, updated_at_ms = excluded.updated_at_ms`,
    ).run(m.topicId, m.linkName, m.sourceTopic, m.state, m.lastPromotion, m.reverse, m.updatedAtMs);
  }

  async deleteMirror(topicId: string): Promise<void> {
    this.stmt('DELETE FROM mirror_topics WHERE topic_id = ?').run(topicId);
  }

  async mirrors(): Promise<MirrorRecord[]> {
    const rows = this.stmt('SELECT * FROM mirror_topics ORDER BY link_name, source_topic').all() as Row[];
    return rows.map((r) => ({
      topicId: r.topic_id as string,
      linkName: r.link_name as string,
      sourceTopic: r.source_topic as string,
      state: r.state as string,
      lastPromotion: (r.last_promotion as string | null) ?? null,
      reverse: (r.reverse as string | null) ?? null,
      updatedAtMs: r.updated_at_ms as number,
    }));
  }

  async saveLinkGroup(g: LinkGroupRecord): Promise<void> {
    this.stmt(
      `INSERT INTO link_groups (link_name, group_id, state, updated_at_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT (link_name, group_id) DO UPDATE SET state = excluded.state, updated_at_ms = excluded.updated_at_ms`,
    ).run(g.linkName, g.groupId, g.state, g.updatedAtMs);
  }

  async linkGroups(linkName: string): Promise<LinkGroupRecord[]> {
    const rows = this.stmt('SELECT * FROM link_groups WHERE link_name = ? ORDER BY group_id').all(linkName) as Row[];
    return rows.map((r) => ({ linkName: r.link_name as string, groupId: r.group_id as string, state: r.state as string, updatedAtMs: r.updated_at_ms as number }));
  }

  // --- ACLs ----------------------------------------------------------------------------------------

  async replaceAcls(source: string, bindings: readonly AclBindingRecord[]): Promise<{ added: number; removed: number }> {
    const wanted = new Map<string, AclBindingRecord>();
    for (const b of bindings) wanted.set(aclKey(b), b);
    return this.transaction(() => {
      const rows = this.stmt('SELECT * FROM acls WHERE source = ?').all(source) as Row[];
      const present = new Set<string>();
      const del = this.stmt(
        `DELETE FROM acls WHERE source = ? AND resource_type = ? AND resource_name = ? AND pattern_type = ? AND principal = ? AND host = ?
         AND operation = ? AND permission_type = ?`,
      );
      let removed = 0;
      for (const r of rows) {
        const b = aclFromRow(r);
        const key = aclKey(b);
        present.add(key);
        if (wanted.has(key)) continue;
        del.run(source, b.resourceType, b.resourceName, b.patternType, b.principal, b.host, b.operation, b.permissionType);
        removed++;
      }
      const put = this.stmt(
        'INSERT INTO acls (source, resource_type, resource_name, pattern_type, principal, host, operation, permission_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      );
      let added = 0;
      for (const [key, b] of wanted) {
        if (present.has(key)) continue;
        put.run(source, b.resourceType, b.resourceName, b.patternType, b.principal, b.host, b.operation, b.permissionType);
        added++;
      }
      return { added, removed };
    });
  }

  async acls(): Promise<AclRecord[]> {
    const rows = this.stmt(
      'SELECT * FROM acls ORDER BY resource_type, resource_name, pattern_type, principal, host, operation, permission_type, source',
    ).all() as Row[];
    return rows.map((r) => ({ source: r.source as string, ...aclFromRow(r) }));
  }

  async deleteAcls(source: string): Promise<number> {
    return Number(this.stmt('DELETE FROM acls WHERE source = ?').run(source).changes);
  }

  async unreferencedObjects(nowMs: number, graceMs: number): Promise<{ objectId: number; key: string }[]> {
    return this.transaction(() => {
      this.stmt(
        `UPDATE objects SET delete_after_ms = ? WHERE delete_after_ms IS NULL
         AND NOT EXISTS (SELECT 1 FROM object_ranges r WHERE r.object_id = objects.object_id)
         AND NOT EXISTS (SELECT 1 FROM wal_ranges w WHERE w.object_id = objects.object_id)`,
      ).run(nowMs + graceMs);
      const rows = this.stmt('SELECT object_id, object_key FROM objects WHERE delete_after_ms IS NOT NULL AND delete_after_ms <= ?').all(nowMs) as Row[];
      return rows.map((r) => ({ objectId: r.object_id as number, key: r.object_key as string }));
    });
  }

  async reserveIds(counter: string, count: number): Promise<number> {
    return this.transaction(() => {
      const row = this.stmt('SELECT value FROM counters WHERE name = ?').get(counter) as Row | undefined;
      const first = (row?.value as number | undefined) ?? 0;
      this.stmt('INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value').run(counter, first + count);
      return first;
    });
  }

  async hasObject(key: string): Promise<boolean> {
    return this.stmt('SELECT 1 FROM objects WHERE object_key = ?').get(key) !== undefined;
  }

  async forgetObject(objectId: number): Promise<void> {
    this.stmt(
      'DELETE FROM objects WHERE object_id = ? AND NOT EXISTS (SELECT 1 FROM object_ranges r WHERE r.object_id = ?) AND NOT EXISTS (SELECT 1 FROM wal_ranges w WHERE w.object_id = ?)',
    ).run(objectId, objectId, objectId);
  }

  async saveGroup(g: GroupRecord): Promise<void> {
    this.stmt(
      `INSERT INTO consumer_groups (group_id, group_type, state, updated_at_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT (group_id) DO UPDATE SET group_type = excluded.group_type, state = excluded.state, updated_at_ms = excluded.updated_at_ms`,
    ).run(g.groupId, g.groupType, g.state, g.updatedAtMs);
  }

  async deleteGroup(groupId: string): Promise<boolean> {
    return this.transaction(() => {
      const offsets = Number(this.stmt('DELETE FROM committed_offsets WHERE group_id = ?').run(groupId).changes);
      const groups = Number(this.stmt('DELETE FROM consumer_groups WHERE group_id = ?').run(groupId).changes);
      return offsets + groups > 0;
    });
  }

  async groups(): Promise<GroupRecord[]> {
    const rows = this.stmt('SELECT * FROM consumer_groups ORDER BY group_id').all() as Row[];
    return rows.map((r) => ({ groupId: r.group_id as string, groupType: r.group_type as string, state: r.state as string, updatedAtMs: r.updated_at_ms as number }));
  }

  async commitOffsets(offsets: CommittedOffsetRecord[]): Promise<void> {
    if (offsets.length === 0) return;
    this.transaction(() => {
      const put = this.stmt(
        `INSERT INTO committed_offsets (group_id, topic, partition_index, committed_offset, leader_epoch, metadata, commit_timestamp_ms, expire_timestamp_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (group_id, topic, partition_index) DO UPDATE SET committed_offset = excluded.committed_offset,
           leader_epoch = excluded.leader_epoch, metadata = excluded.metadata, commit_timestamp_ms = excluded.commit_timestamp_ms,
           expire_timestamp_ms = excluded.expire_timestamp_ms`,
      );
      for (const o of offsets) {
        put.run(o.groupId, o.topic, o.partitionIndex, o.committedOffset, o.leaderEpoch, o.metadata, o.commitTimestampMs, o.expireTimestampMs);
      }
    });
  }

  async committedOffsets(groupId?: string): Promise<CommittedOffsetRecord[]> {
    const rows = (
      groupId === undefined
        ? this.stmt('SELECT * FROM committed_offsets ORDER BY group_id, topic, partition_index').all()
        : this.stmt('SELECT * FROM committed_offsets WHERE group_id = ? ORDER BY topic, partition_index').all(groupId)
    ) as Row[];
    return rows.map((r) => ({
      groupId: r.group_id as string,
      topic: r.topic as string,
      partitionIndex: r.partition_index as number,
      committedOffset: r.committed_offset as number,
      leaderEpoch: r.leader_epoch as number,
      metadata: (r.metadata as string | null) ?? null,
      commitTimestampMs: r.commit_timestamp_ms as number,
      expireTimestampMs: (r.expire_timestamp_ms as number | null) ?? null,
    }));
  }

  async deleteOffsets(groupId: string, partitions: { topic: string; partitionIndex: number }[]): Promise<number> {
    return this.transaction(() => {
      const del = this.stmt('DELETE FROM committed_offsets WHERE group_id = ? AND topic = ? AND partition_index = ?');
      let n = 0;
      for (const p of partitions) n += Number(del.run(groupId, p.topic, p.partitionIndex).changes);
      return n;
    });
  }

  async deleteTopicOffsets(topic: string): Promise<number> {
    return Number(this.stmt('DELETE FROM committed_offsets WHERE topic = ?').run(topic).changes);
  }

  // --- transaction coordinator ---------------------------------------------------------------------

  async saveTransaction(t: TransactionRecord): Promise<void> {
    this.putTransaction(t);
  }

  private putTransaction(t: TransactionRecord): void {
    this.stmt(
      `INSERT INTO transactions (transactional_id, producer_id, previous_producer_id, producer_epoch, last_producer_epoch, timeout_ms, state,
         partitions, groups, start_timestamp_ms, last_update_timestamp_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (transactional_id) DO UPDATE SET producer_id = excluded.producer_id, previous_producer_id = excluded.previous_producer_id,
         producer_epoch = excluded.producer_epoch, last_producer_epoch = excluded.last_producer_epoch, timeout_ms = excluded.timeout_ms,
         state = excluded.state, partitions = excluded.partitions, groups = excluded.groups, start_timestamp_ms = excluded.start_timestamp_ms,
         last_update_timestamp_ms = excluded.last_update_timestamp_ms`,
    ).run(
      t.transactionalId,
      t.producerId,
      t.previousProducerId,
      t.producerEpoch,
      t.lastProducerEpoch,
      t.timeoutMs,
      t.state,
      JSON.stringify(t.partitions.map((p) => [p.topic, p.partition])),
      JSON.stringify(t.groups),
      t.startTimestampMs,
      t.lastUpdateTimestampMs,
    );
  }

  async transactions(): Promise<TransactionRecord[]> {
    const rows = this.stmt('SELECT * FROM transactions ORDER BY transactional_id').all() as Row[];
    return rows.map((r) => ({
      transactionalId: r.transactional_id as string,
      producerId: r.producer_id as number,
      previousProducerId: r.previous_producer_id as number,
      producerEpoch: r.producer_epoch as number,
      lastProducerEpoch: r.last_producer_epoch as number,
      timeoutMs: r.timeout_ms as number,
      state: r.state as string,
      partitions: (JSON.parse(r.partitions as string) as [string, number][]).map(([topic, partition]) => ({ topic, partition })),
      groups: JSON.parse(r.groups as string) as string[],
      startTimestampMs: r.start_timestamp_ms as number,
      lastUpdateTimestampMs: r.last_update_timestamp_ms as number,
    }));
  }

  async deleteTransaction(transactionalId: string): Promise<boolean> {
    return this.transaction(() => {
      this.stmt('DELETE FROM transaction_offsets WHERE transactional_id = ?').run(transactionalId);
      return Number(this.stmt('DELETE FROM transactions WHERE transactional_id = ?').run(transactionalId).changes) > 0;
    });
  }

  async saveTxnOffsets(offsets: TxnOffsetRecord[]): Promise<void> {
    if (offsets.length === 0) return;
    this.transaction(() => {
      const put = this.stmt(
        `INSERT INTO transaction_offsets (transactional_id, producer_id, group_id, topic, partition_index, committed_offset, leader_epoch, metadata, commit_timestamp_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (transactional_id, group_id, topic, partition_index) DO UPDATE SET producer_id = excluded.producer_id,
           committed_offset = excluded.committed_offset, leader_epoch = excluded.leader_epoch, metadata = excluded.metadata,
           commit_timestamp_ms = excluded.commit_timestamp_ms`,
      );
      for (const o of offsets) {
        put.run(o.transactionalId, o.producerId, o.groupId, o.topic, o.partitionIndex, o.committedOffset, o.leaderEpoch, o.metadata, o.commitTimestampMs);
      }
    });
  }

  async txnOffsets(): Promise<TxnOffsetRecord[]> {
    const rows = this.stmt('SELECT * FROM transaction_offsets ORDER BY transactional_id, group_id, topic, partition_index').all() as Row[];
    return rows.map((r) => ({
      transactionalId: r.transactional_id as string,
      producerId: r.producer_id as number,
      groupId: r.group_id as string,
      topic: r.topic as string,
      partitionIndex: r.partition_index as number,
      committedOffset: r.committed_offset as number,
      leaderEpoch: r.leader_epoch as number,
      metadata: (r.metadata as string | null) ?? null,
      commitTimestampMs: r.commit_timestamp_ms as number,
      expireTimestampMs: null,
    }));
  }

  async finishTransaction(t: TransactionRecord): Promise<void> {
    this.transaction(() => {
      this.stmt('DELETE FROM transaction_offsets WHERE transactional_id = ?').run(t.transactionalId);
      this.putTransaction(t);
    });
  }
}

function aclFromRow(r: Row): AclBindingRecord {
  return {
    resourceType: r.resource_type as number,
    resourceName: r.resource_name as string,
    patternType: r.pattern_type as number,
    principal: r.principal as string,
    host: r.host as string,
    operation: r.operation as number,
    permissionType: r.permission_type as number,
  };
}

/** One string per distinct binding (the fields of the table's key but the source). */
function aclKey(b: AclBindingRecord): string {
  return JSON.stringify([b.resourceType, b.resourceName, b.patternType, b.principal, b.host, b.operation, b.permissionType]);
}

/** Signals inside a transaction that a compaction lost its race with retention. */
class RangeGone extends Error {}
