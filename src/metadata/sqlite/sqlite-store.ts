// The embedded metadata engine: one SQLite file beside the data, via node:sqlite. SQLite calls are
// synchronous and fast; the async contract is kept so PostgreSQL can stand in without caller changes.
import { DatabaseSync } from 'node:sqlite';
import type { StatementSync } from 'node:sqlite';
import { StraitError } from '../../common/errors.ts';
import { randomKafkaUuid } from '../ids.ts';
import type { BrokerRecord, MetadataStore, NewTopic, PartitionRecord, TopicRecord } from '../store.ts';
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
    const current = (db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations').get() as Row).v as number;
    const latest = SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1]!.version;
    if (current > latest) {
      throw new Error(`schema version ${current} is newer than this Strait understands (${latest}); upgrade Strait`);
    }
    for (const m of SQLITE_MIGRATIONS) {
      if (m.version <= current) continue;
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

  private transaction<T>(fn: () => T): T {
    const db = this.db!;
    db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      db.exec('COMMIT');
      return out;
    } catch (err) {
      db.exec('ROLLBACK');
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
      const part = this.stmt('INSERT INTO partitions (topic_id, partition_index, leader_id, leader_epoch) VALUES (?, ?, ?, 0)');
      for (let p = 0; p < t.partitionCount; p++) part.run(t.topicId, p, t.leaderId);
      return { topicId: t.topicId, name: t.name, partitionCount: t.partitionCount, replicationFactor: t.replicationFactor, configs: { ...t.configs }, createdAtMs: now };
    });
  }

  async deleteTopic(topicId: string): Promise<boolean> {
    return this.transaction(() => Number(this.stmt('DELETE FROM topics WHERE topic_id = ?').run(topicId).changes) > 0);
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

  async partitions(topicId: string): Promise<PartitionRecord[]> {
    const rows = this.stmt('SELECT partition_index, leader_id, leader_epoch FROM partitions WHERE topic_id = ? ORDER BY partition_index').all(topicId) as Row[];
    return rows.map((r) => ({ topicId, partitionIndex: r.partition_index as number, leaderId: r.leader_id as number, leaderEpoch: r.leader_epoch as number }));
  }
}
