// The shared metadata engine: PostgreSQL through the `pg` driver's connection pool, so that several
// brokers (metadata.store=postgres) see one cluster state. Every method keeps the semantics of the
// SQLite engine (src/metadata/sqlite/sqlite-store.ts, the reference) and passes the same contract
// suite; what differs is that PostgreSQL runs statements of several brokers at once under READ
// COMMITTED, so each multi-statement method is one transaction on one pooled connection, and the
// checks that SQLite gets for free from its single writer are made with row locks here:
//  - a fenced commit locks the partitions it names (SELECT … FOR UPDATE, in key order) and compares
//    their leader and epoch as they are after any concurrent claim has committed;
//  - a claim locks the same rows in the same order, so a claim and a commit never deadlock and one
//    of them always sees the other.
// Losing the server (restart, network, a statement past its timeout) is an operating error:
// STRAIT_METADATA_UNAVAILABLE with Kafka's retriable KAFKA_STORAGE_ERROR; the pool drops broken
// connections and opens new ones on the next call.
import pg from 'pg';
import { StraitError } from '../../common/errors.ts';
import { silentLogger, type Logger } from '../../common/logger.ts';
import { ErrorCode } from '../../protocol/generated/errors.ts';
import { randomKafkaUuid } from '../ids.ts';
import { FencedError } from '../store.ts';
import type { BrokerIncarnation, FencedPartition, LeaderFence, WalObjectRecord, WalRange } from '../store.ts';
import type { BrokerRecord, LeaderEpochHistory, MetadataStore, NewObjectRange, NewTopic, ObjectRange, PartitionRecord, ProducerSnapshot, TopicRecord } from '../store.ts';
import type { CommittedOffsetRecord, GroupRecord } from '../store.ts';
import type { TransactionRecord, TxnOffsetRecord } from '../store.ts';
import type { LinkGroupRecord, LinkRecord, MirrorRecord } from '../store.ts';
import type { AclBindingRecord, AclRecord } from '../store.ts';
import { POSTGRES_MIGRATIONS } from './migrations.ts';

type Row = Record<string, any>;
type Db = Pick<pg.PoolClient, 'query'>;

export interface PostgresMetadataConfig {
  url: string;
  /** Connections in the pool (metadata.postgres.pool.size). */
  poolSize: number;
  /** Server-side bound of one statement (metadata.postgres.statement.timeout.ms); 0: none. */
  statementTimeoutMs: number;
}

/** Key of the session advisory lock held while migrations run, so brokers starting at once apply
 *  each migration once. Any fixed 64-bit value; this one is "strait" in ASCII. */
const MIGRATION_LOCK_KEY = 0x737472616974;
/** Attempts of a transaction that PostgreSQL aborted to resolve a conflict with another one
 *  (deadlock, serialization failure, a row its foreign key needs deleted meanwhile). */
const txnAttemptsMax = 3;
/** How much longer than the server's statement timeout the client waits for an answer before it
 *  gives the connection up (a frozen server or network never answers at all). */
const clientTimeoutSlackMs = 2_000;
/** How long an unused pooled connection stays open. */
const poolIdleTimeoutMs = 60_000;
/** Bound of waiting for a pooled connection when statement timeouts are off. */
const connectTimeoutMsDefault = 10_000;

// SQLSTATE classes and codes that say the server cannot be used now (rather than that the
// statement is wrong): connection exceptions, insufficient resources, operator intervention
// (shutdown, cancel by statement_timeout), invalid authorization, system errors.
const unavailableClasses = new Set(['08', '53', '57', '58', '28']);
// Codes PostgreSQL uses to abort one of two conflicting transactions; running it again succeeds.
const retryCodes = new Set(['40001', '40P01', '23503']);
/** Of those, the ones that only mean contention (serialization failure, deadlock). */
const contentionCodes = new Set(['40001', '40P01']);
const networkCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether an error means the server or the connection is gone or too slow (retriable). */
function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = sqlState(err);
  // 25P03: the server ended a session left idle in a transaction (idle_in_transaction_session_timeout).
  if (code !== undefined && /^[0-9A-Z]{5}$/.test(code)) return unavailableClasses.has(code.slice(0, 2)) || code === '25P03';
  if (code !== undefined && networkCodes.has(code)) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Connection ended|Client was closed/i.test(err.message);
}

/** Reads int8 (COUNT, BIGINT columns) as JS numbers; every offset, id and time fits in 2^53. */
function parseBigint(value: string): number {
  return Number(value);
}
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => (oid === 20 && format !== 'binary' ? parseBigint : pg.types.getTypeParser(oid, format as 'text'))) as pg.CustomTypesConfig['getTypeParser'],
};

/** host:port/database of a URL, for messages: never the user's password. */
export function describePostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

/** How long PostgreSQL lets a session sit idle inside a transaction before ending it (see open()). */
const IDLE_IN_TRANSACTION_MS = 3_000;

export class PostgresMetadataStore implements MetadataStore {
  readonly where: string;
  private readonly config: PostgresMetadataConfig;
  private readonly log: Logger;
  private pool: pg.Pool | null = null;

  constructor(config: PostgresMetadataConfig, log: Logger = silentLogger) {
    this.config = config;
    this.log = log;
    this.where = describePostgresUrl(config.url);
  }

  private unavailable(err: unknown): StraitError {
    const message = err instanceof Error ? err.message : String(err);
    return new StraitError('STRAIT_METADATA_UNAVAILABLE', `metadata store PostgreSQL at ${this.where} is unavailable: ${message}`, ErrorCode.KAFKA_STORAGE_ERROR);
  }

  async open(): Promise<void> {
    const timeoutMs = this.config.statementTimeoutMs;
    const idleInTransactionMs = IDLE_IN_TRANSACTION_MS;
    const pool = new pg.Pool({
      connectionString: this.config.url,
      max: this.config.poolSize,
      types,
      keepAlive: true,
      // Opening a connection costs a TCP handshake and a SCRAM exchange (milliseconds): keep idle
      // ones for a minute rather than pg's 10 s, so a quiet broker's next produce does not pay it.
      idleTimeoutMillis: poolIdleTimeoutMs,
      application_name: 'strait',
      connectionTimeoutMillis: timeoutMs > 0 ? Math.max(timeoutMs, 1_000) : connectTimeoutMsDefault,
      ...(timeoutMs > 0 ? { statement_timeout: timeoutMs, query_timeout: timeoutMs + clientTimeoutSlackMs } : {}),
      // A broker never waits between the statements of a transaction (they are a few ms apart), so a
      // session idle inside one belongs to a process that stopped: the server ends it soon, and with
      // it the partition row locks it held, which a broker taking over waits for.
      idle_in_transaction_session_timeout: idleInTransactionMs,
    });
    // An idle connection that the server closes (restart, failover) reports here; the pool has
    // already dropped it and opens a new one on the next call. Without a listener it would crash.
    pool.on('error', (err) => this.log.warn('metadata: an idle PostgreSQL connection failed', { where: this.where, error: err.message }));
    // A connection in use has no pool listener (pg-pool removes its own while a client is checked
    // out), and pg still emits 'error' on it when the server goes away mid-query: without this the
    // event would be unhandled and end the process. The query in flight fails by itself.
    pool.on('connect', (client) => client.on('error', (err) => this.log.warn('metadata: a PostgreSQL connection in use failed', { where: this.where, error: err.message })));
    this.pool = pool;
    try {
      await this.migrate();
    } catch (err) {
      this.pool = null;
      await pool.end().catch(() => {});
      if (err instanceof StraitError) throw err;
      throw new StraitError('STRAIT_METADATA_UNAVAILABLE', `cannot open metadata store PostgreSQL at ${this.where}: ${(err as Error).message}`, ErrorCode.KAFKA_STORAGE_ERROR);
    }
  }

  /** Applies pending migrations under a session advisory lock: a second broker starting at the same
   *  time waits, then finds them applied. Refuses a schema newer than this Strait knows. */
  private async migrate(): Promise<void> {
    const client = await this.pool!.connect();
    let broken: Error | undefined;
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      try {
        await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)');
        const applied = new Set((await client.query('SELECT version FROM schema_migrations')).rows.map((r: Row) => r.version as number));
        const latest = Math.max(...POSTGRES_MIGRATIONS.map((m) => m.version));
        const newest = Math.max(0, ...applied);
        if (newest > latest) {
          throw new StraitError('STRAIT_METADATA_UNAVAILABLE', `cannot open metadata store PostgreSQL at ${this.where}: schema version ${newest} is newer than this Strait understands (${latest}); upgrade Strait`);
        }
        for (const m of [...POSTGRES_MIGRATIONS].sort((a, b) => a.version - b.version)) {
          if (applied.has(m.version)) continue;
          await client.query('BEGIN');
          try {
            await client.query(m.sql);
            await client.query('INSERT INTO schema_migrations (version, description, applied_at_ms) VALUES ($1, $2, $3)', [m.version, m.description, Date.now()]);
            await client.query('COMMIT');
          } catch (err) {
            await client.query('ROLLBACK').catch(() => {});
            throw err;
          }
          this.log.info('metadata: applied migration', { where: this.where, version: m.version, description: m.description });
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch((err: Error) => (broken = err));
      }
    } catch (err) {
      broken = err as Error;
      throw err;
    } finally {
      // A connection whose state is unknown (an error mid-way) is closed rather than reused.
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.end();
  }

  private async connect(): Promise<pg.PoolClient> {
    const pool = this.pool;
    if (pool === null) throw new StraitError('STRAIT_METADATA_UNAVAILABLE', 'metadata store is closed', ErrorCode.KAFKA_STORAGE_ERROR);
    try {
      return await pool.connect();
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  /** One statement outside a transaction. A read that fails on a broken connection is tried again
   *  on another (the pool may hand out connections the server closed during a restart, at most all
   *  of them; opening a new one that fails ends the retries). */
  private async query(sql: string, params: unknown[] = [], read = false): Promise<pg.QueryResult<Row>> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.connect();
      try {
        const result = await client.query(sql, params);
        client.release();
        return result;
      } catch (err) {
        if (!isUnavailable(err)) {
          client.release();
          // A single statement is atomic: one aborted for a conflict (e.g. the topic it writes for
          // was deleted by another broker after the statement began) runs again, and then sees it.
          const code = sqlState(err);
          if (code !== undefined && retryCodes.has(code) && attempt < txnAttemptsMax) continue;
          // Still conflicting after that: busy, not wrong (a foreign key still missing is wrong).
          if (code !== undefined && contentionCodes.has(code)) throw this.unavailable(err);
          throw err;
        }
        client.release(err as Error);
        if (!read || attempt > this.config.poolSize) throw this.unavailable(err);
      }
    }
  }

  private async rows(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.query(sql, params, true)).rows;
  }

  /**
   * Runs fn in one transaction on one pooled connection (READ COMMITTED). A transaction that
   * PostgreSQL aborted for a conflict with another runs again; one whose BEGIN fails on a broken
   * connection runs again on another (nothing was done yet), as a read does. An error of type `expected` rolls back
   * and yields null instead of throwing.
   */
  private async tx<T>(fn: (db: Db) => Promise<T>): Promise<T>;
  private async tx<T>(fn: (db: Db) => Promise<T>, expected: new () => Error): Promise<T | null>;
  private async tx<T>(fn: (db: Db) => Promise<T>, expected?: new () => Error): Promise<T | null> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.connect();
      let began = false;
      try {
        await client.query('BEGIN');
        began = true;
        const out = await fn(client);
        await client.query('COMMIT');
        client.release();
        return out;
      } catch (err) {
        if (isUnavailable(err)) {
          // The connection is gone or stuck: close it; PostgreSQL rolls back what it had.
          client.release(err as Error);
          if (!began && attempt <= this.config.poolSize) continue;
          throw this.unavailable(err);
        }
        let rolledBack = true;
        await client.query('ROLLBACK').catch(() => (rolledBack = false));
        client.release(rolledBack ? undefined : (err as Error));
        if (expected && err instanceof expected) return null;
        const code = sqlState(err);
        if (code !== undefined && retryCodes.has(code) && attempt < txnAttemptsMax) continue;
        // Still conflicting after that: busy, not wrong (a foreign key still missing is wrong).
        if (code !== undefined && contentionCodes.has(code)) throw this.unavailable(err);
        throw err;
      }
    }
  }

  async schemaVersion(): Promise<number> {
    return (await this.rows('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations'))[0]!.v as number;
  }

  async clusterId(): Promise<string> {
    // Two brokers starting at once: one insert wins, both read the winner's id.
    await this.query('INSERT INTO cluster (id, cluster_id, created_at_ms) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING', [randomKafkaUuid(), Date.now()]);
    return (await this.rows('SELECT cluster_id FROM cluster WHERE id = 1'))[0]!.cluster_id as string;
  }

  async registerBroker(b: BrokerRecord): Promise<void> {
    await this.query(
      `INSERT INTO brokers (node_id, host, port, rack, registered_at_ms) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (node_id) DO UPDATE SET host = excluded.host, port = excluded.port, rack = excluded.rack, registered_at_ms = excluded.registered_at_ms`,
      [b.nodeId, b.host, b.port, b.rack, Date.now()],
    );
  }

  async brokers(): Promise<BrokerRecord[]> {
    const rows = await this.rows('SELECT node_id, host, port, rack FROM brokers ORDER BY node_id');
    return rows.map((r) => ({ nodeId: r.node_id, host: r.host, port: r.port, rack: r.rack ?? null }));
  }

  async createTopic(t: NewTopic): Promise<TopicRecord | null> {
    return this.tx(async (db) => {
      const now = Date.now();
      // A name taken (also by a concurrent create that commits first) inserts nothing: null.
      const inserted = await db.query(
        'INSERT INTO topics (topic_id, name, partition_count, replication_factor, created_at_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING RETURNING topic_id',
        [t.topicId, t.name, t.partitionCount, t.replicationFactor, now],
      );
      if (inserted.rowCount === 0) return null;
      const names = Object.keys(t.configs);
      if (names.length > 0) {
        await db.query('INSERT INTO topic_configs (topic_id, name, value) SELECT $1::text, n, v FROM unnest($2::text[], $3::text[]) AS c(n, v)', [t.topicId, names, names.map((n) => t.configs[n]!)]);
      }
      await db.query('INSERT INTO partitions (topic_id, partition_index, leader_id, leader_incarnation, leader_epoch) SELECT $1::text, p, $2::int, $4::int, 0 FROM generate_series(0, $3::int - 1) AS p', [
        t.topicId,
        t.leaderId,
        t.partitionCount,
        t.leaderIncarnation ?? 0,
      ]);
      return { topicId: t.topicId, name: t.name, partitionCount: t.partitionCount, replicationFactor: t.replicationFactor, configs: { ...t.configs }, createdAtMs: now };
    });
  }

  async deleteTopic(topicId: string): Promise<boolean> {
    return this.tx(async (db) => {
      await db.query('DELETE FROM mirror_topics WHERE topic_id = $1', [topicId]);
      // Configs, partitions, ranges, WAL parts, producer snapshots and leader epochs cascade.
      return ((await db.query('DELETE FROM topics WHERE topic_id = $1', [topicId])).rowCount ?? 0) > 0;
    });
  }

  /** Topics with their configs, read in one snapshot (one statement). */
  private async topicsWhere(where: string, params: unknown[]): Promise<TopicRecord[]> {
    const rows = await this.rows(
      `SELECT t.topic_id, t.name, t.partition_count, t.replication_factor, t.created_at_ms,
         COALESCE((SELECT json_object_agg(c.name, c.value) FROM topic_configs c WHERE c.topic_id = t.topic_id), '{}'::json) AS configs
       FROM topics t ${where} ORDER BY t.name COLLATE "C"`,
      params,
    );
    return rows.map((r) => ({
      topicId: r.topic_id,
      name: r.name,
      partitionCount: r.partition_count,
      replicationFactor: r.replication_factor,
      configs: r.configs as Record<string, string>,
      createdAtMs: r.created_at_ms,
    }));
  }

  async topics(): Promise<TopicRecord[]> {
    return this.topicsWhere('', []);
  }

  async topicByName(name: string): Promise<TopicRecord | null> {
    return (await this.topicsWhere('WHERE t.name = $1', [name]))[0] ?? null;
  }

  async topicById(topicId: string): Promise<TopicRecord | null> {
    return (await this.topicsWhere('WHERE t.topic_id = $1', [topicId]))[0] ?? null;
  }

  async partitions(topicId: string): Promise<PartitionRecord[]> {
    return (await this.rows('SELECT * FROM partitions WHERE topic_id = $1 ORDER BY partition_index', [topicId])).map(partitionFromRow);
  }

  async allPartitions(): Promise<PartitionRecord[]> {
    return (await this.rows('SELECT * FROM partitions ORDER BY topic_id COLLATE "C", partition_index')).map(partitionFromRow);
  }

  async addPartitions(topicId: string, newCount: number, leaderId: number, leaderIncarnation = 0): Promise<boolean> {
    return this.tx(async (db) => {
      // The topic row is locked, so two concurrent CreatePartitions add each partition once.
      const row = (await db.query('SELECT partition_count FROM topics WHERE topic_id = $1 FOR UPDATE', [topicId])).rows[0] as Row | undefined;
      if (!row) return false;
      await db.query('INSERT INTO partitions (topic_id, partition_index, leader_id, leader_incarnation, leader_epoch) SELECT $1::text, p, $2::int, $5::int, 0 FROM generate_series($3::int, $4::int - 1) AS p', [
        topicId,
        leaderId,
        row.partition_count,
        newCount,
        leaderIncarnation,
      ]);
      await db.query('UPDATE topics SET partition_count = $1 WHERE topic_id = $2', [newCount, topicId]);
      return true;
    });
  }

  async setTopicConfigs(topicId: string, configs: Record<string, string>): Promise<void> {
    await this.tx(async (db) => {
      await db.query('DELETE FROM topic_configs WHERE topic_id = $1', [topicId]);
      const names = Object.keys(configs);
      if (names.length > 0) {
        await db.query('INSERT INTO topic_configs (topic_id, name, value) SELECT $1::text, n, v FROM unnest($2::text[], $3::text[]) AS c(n, v)', [topicId, names, names.map((n) => configs[n]!)]);
      }
    });
  }

  private async insertObject(db: Db, key: string, sizeBytes: number, ranges: NewObjectRange[]): Promise<number> {
    const id = (await db.query('INSERT INTO objects (object_key, size_bytes, created_at_ms) VALUES ($1, $2, $3) RETURNING object_id', [key, sizeBytes, Date.now()])).rows[0].object_id as number;
    if (ranges.length === 0) return id;
    // A range for a topic deleted meanwhile is dropped: its object becomes garbage.
    await db.query(
      `INSERT INTO object_ranges (topic_id, partition_index, base_offset, end_offset, object_id, position, size_bytes, max_timestamp, cleaned)
       SELECT r.topic_id, r.partition_index, r.base_offset, r.end_offset, $1::bigint, r.position, r.size_bytes, r.max_timestamp, r.cleaned
       FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::boolean[])
         AS r(topic_id, partition_index, base_offset, end_offset, position, size_bytes, max_timestamp, cleaned)
       WHERE EXISTS (SELECT 1 FROM topics t WHERE t.topic_id = r.topic_id)`,
      [
        id,
        ranges.map((r) => r.topicId),
        ranges.map((r) => r.partitionIndex),
        ranges.map((r) => r.baseOffset),
        ranges.map((r) => r.endOffset),
        ranges.map((r) => r.position),
        ranges.map((r) => r.sizeBytes),
        ranges.map((r) => r.maxTimestamp),
        ranges.map((r) => r.cleaned === true),
      ],
    );
    return id;
  }

  /**
   * The partitions of `leaderEpochs` not led by `nodeId` at that epoch (or gone). Their rows are
   * locked until the transaction ends, in key order (as claimPartitions locks them): a claim that
   * committed first is seen (READ COMMITTED re-reads a row after waiting for its lock), and a claim
   * that comes later waits for this transaction, so it sees what this one commits. FOR UPDATE
   * rather than FOR SHARE: two commits naming one partition then also commit in the order their
   * object ids were given, so walObjects' id order is commit order for every partition.
   */
  private async fenced(db: Db, leader: BrokerIncarnation, leaderEpochs: { topicId: string; partitionIndex: number; leaderEpoch: number }[]): Promise<FencedPartition[]> {
    const wanted = new Map<string, { topicId: string; partitionIndex: number; leaderEpoch: number }>();
    for (const e of leaderEpochs) {
      const k = `${e.topicId}:${e.partitionIndex}`;
      if (!wanted.has(k)) wanted.set(k, e);
    }
    const list = [...wanted.values()];
    const rows = (
      await db.query(
        `SELECT p.topic_id, p.partition_index, p.leader_id, p.leader_incarnation, p.leader_epoch FROM partitions p
         WHERE (p.topic_id, p.partition_index) IN (SELECT * FROM unnest($1::text[], $2::int[]))
         ORDER BY p.topic_id COLLATE "C", p.partition_index FOR UPDATE`,
        [list.map((e) => e.topicId), list.map((e) => e.partitionIndex)],
      )
    ).rows as Row[];
    const current = new Map(rows.map((r) => [`${r.topic_id}:${r.partition_index}`, r]));
    const out: FencedPartition[] = [];
    for (const [k, e] of wanted) {
      const row = current.get(k);
      if (!row || row.leader_id !== leader.nodeId || row.leader_incarnation !== leader.incarnation || (row.leader_epoch as number) > e.leaderEpoch) {
        out.push({ topicId: e.topicId, partitionIndex: e.partitionIndex });
      }
    }
    return out;
  }

  async commitObject(key: string, sizeBytes: number, ranges: NewObjectRange[], producerSnapshots: ProducerSnapshot[] = [], fence?: LeaderFence): Promise<number> {
    return this.tx(async (db) => {
      // Object keys are new for every write, so a key already committed is this write's own earlier
      // attempt, whose answer was lost (the connection broke after COMMIT reached the server): it
      // stands, whatever the fence says now, and the retry answers its id (as commitWalObject does).
      // SQLite, in-process, never loses an answer.
      const existing = (await db.query('SELECT object_id FROM objects WHERE object_key = $1', [key])).rows[0] as Row | undefined;
      if (existing) return existing.object_id as number;
      if (fence) {
        const fenced = await this.fenced(db, fence, fence.leaderEpochs);
        if (fenced.length > 0) throw new FencedError(fenced);
      }
      const id = await this.insertObject(db, key, sizeBytes, ranges);
      if (ranges.length > 0) {
        // WAL parts now inside this object are uploaded: they go, and their WAL object with its last part.
        await db.query(
          `DELETE FROM wal_ranges w USING unnest($1::text[], $2::int[], $3::bigint[]) AS r(topic_id, partition_index, end_offset)
           WHERE w.topic_id = r.topic_id AND w.partition_index = r.partition_index AND w.end_offset <= r.end_offset`,
          [ranges.map((r) => r.topicId), ranges.map((r) => r.partitionIndex), ranges.map((r) => r.endOffset)],
        );
      }
      // One statement per snapshot, in order, so that a later one for the same partition wins as in SQLite.
      for (const p of producerSnapshots) {
        await db.query(
          `INSERT INTO producer_snapshots (topic_id, partition_index, end_offset, state) SELECT $1::text, $2::int, $3::bigint, $4::text WHERE EXISTS (SELECT 1 FROM topics WHERE topic_id = $1::text)
           ON CONFLICT (topic_id, partition_index) DO UPDATE SET end_offset = excluded.end_offset, state = excluded.state`,
          [p.topicId, p.partitionIndex, p.endOffset, p.state],
        );
      }
      return id;
    });
  }

  async commitWalObject(key: string, sizeBytes: number, leader: BrokerIncarnation, ranges: WalRange[]): Promise<{ objectId: number; fenced: null } | { objectId: null; fenced: FencedPartition[] }> {
    const nodeId = leader.nodeId;
    return this.tx(async (db): Promise<{ objectId: number; fenced: null } | { objectId: null; fenced: FencedPartition[] }> => {
      const existing = (await db.query('SELECT object_id FROM objects WHERE object_key = $1', [key])).rows[0] as Row | undefined;
      if (existing) return { objectId: existing.object_id as number, fenced: null };
      const fenced = await this.fenced(db, leader, ranges);
      if (fenced.length > 0) return { objectId: null, fenced };
      const inserted = (await db.query('INSERT INTO objects (object_key, size_bytes, created_at_ms) VALUES ($1, $2, $3) ON CONFLICT (object_key) DO NOTHING RETURNING object_id', [key, sizeBytes, Date.now()])).rows[0] as Row | undefined;
      if (!inserted) {
        // A retry of the same commit won meanwhile (it committed while this one waited): its id.
        const winner = (await db.query('SELECT object_id FROM objects WHERE object_key = $1', [key])).rows[0] as Row;
        return { objectId: winner.object_id as number, fenced: null };
      }
      const id = inserted.object_id as number;
      if (ranges.length > 0) {
        await db.query(
          `INSERT INTO wal_ranges (object_id, topic_id, partition_index, base_offset, end_offset, position, size_bytes, leader_epoch, node_id)
           SELECT $1::bigint, r.*, $2::int FROM unnest($3::text[], $4::int[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::int[])
             AS r(topic_id, partition_index, base_offset, end_offset, position, size_bytes, leader_epoch)`,
          [
            id,
            nodeId,
            ranges.map((r) => r.topicId),
            ranges.map((r) => r.partitionIndex),
            ranges.map((r) => r.baseOffset),
            ranges.map((r) => r.endOffset),
            ranges.map((r) => r.position),
            ranges.map((r) => r.sizeBytes),
            ranges.map((r) => r.leaderEpoch),
          ],
        );
      }
      return { objectId: id, fenced: null };
    });
  }

  async walObjects(): Promise<WalObjectRecord[]> {
    const rows = await this.rows(
      `SELECT w.*, o.object_key, o.size_bytes AS object_size FROM wal_ranges w JOIN objects o ON o.object_id = w.object_id ORDER BY w.object_id, w.position, w.base_offset`,
    );
    const out: WalObjectRecord[] = [];
    for (const r of rows) {
      let last = out[out.length - 1];
      if (!last || last.objectId !== r.object_id) {
        last = { objectId: r.object_id, key: r.object_key, sizeBytes: r.object_size, nodeId: r.node_id, ranges: [] };
        out.push(last);
      }
      last.ranges.push({
        topicId: r.topic_id,
        partitionIndex: r.partition_index,
        baseOffset: r.base_offset,
        endOffset: r.end_offset,
        position: r.position,
        sizeBytes: r.size_bytes,
        leaderEpoch: r.leader_epoch,
      });
    }
    return out;
  }

  async claimPartitions(leader: BrokerIncarnation): Promise<(PartitionRecord & { previousLeaderId: number })[]> {
    const nodeId = leader.nodeId;
    return this.tx(async (db) => {
      // Lock every partition led by another node, in key order (as fenced() does). A commit of the
      // old leader holding a row lock is waited for, so its WAL object is visible once this returns.
      const rows = (
        await db.query(
          `SELECT p.topic_id, p.partition_index, p.leader_id, p.leader_epoch, p.log_start_offset,
             EXISTS (SELECT 1 FROM mirror_topics m WHERE m.topic_id = p.topic_id AND m.state IN ('mirroring', 'promoting')) AS mirrored
           FROM partitions p WHERE p.leader_id <> $1 OR p.leader_incarnation <> $2 ORDER BY p.topic_id COLLATE "C", p.partition_index FOR UPDATE OF p`,
          [nodeId, leader.incarnation],
        )
      ).rows as Row[];
      // FOR UPDATE re-checks `leader_id <> $1` on rows changed meanwhile, but returns them as they
      // are now, so the epochs below are the current ones.
      const claimed = rows.map((r) => ({
        topicId: r.topic_id as string,
        partitionIndex: r.partition_index as number,
        leaderId: nodeId,
        leaderEpoch: (r.leader_epoch as number) + (r.mirrored || r.leader_id === nodeId ? 0 : 1),
        logStartOffset: r.log_start_offset as number,
        previousLeaderId: r.leader_id as number,
      }));
      if (claimed.length > 0) {
        await db.query(
          `UPDATE partitions p SET leader_id = $1, leader_incarnation = $5, leader_epoch = c.leader_epoch FROM unnest($2::text[], $3::int[], $4::int[]) AS c(topic_id, partition_index, leader_epoch)
           WHERE p.topic_id = c.topic_id AND p.partition_index = c.partition_index`,
          [nodeId, claimed.map((c) => c.topicId), claimed.map((c) => c.partitionIndex), claimed.map((c) => c.leaderEpoch), leader.incarnation],
        );
      }
      return claimed;
    });
  }

  async producerSnapshots(): Promise<ProducerSnapshot[]> {
    const rows = await this.rows('SELECT * FROM producer_snapshots');
    return rows.map((r) => ({ topicId: r.topic_id, partitionIndex: r.partition_index, endOffset: r.end_offset, state: r.state }));
  }

  async saveLeaderEpochs(h: LeaderEpochHistory): Promise<void> {
    // One JSON document per partition, [[epoch, startOffset], ...], rewritten whole like Kafka's
    // leader-epoch-checkpoint file.
    const entries = JSON.stringify(h.entries.map((e) => [e.epoch, e.startOffset]));
    await this.query(
      `INSERT INTO leader_epochs (topic_id, partition_index, entries) SELECT $1::text, $2::int, $3::text WHERE EXISTS (SELECT 1 FROM topics WHERE topic_id = $1::text)
       ON CONFLICT (topic_id, partition_index) DO UPDATE SET entries = excluded.entries`,
      [h.topicId, h.partitionIndex, entries],
    );
  }

  async leaderEpochHistories(): Promise<LeaderEpochHistory[]> {
    const rows = await this.rows('SELECT * FROM leader_epochs ORDER BY topic_id COLLATE "C", partition_index');
    return rows.map((r) => ({
      topicId: r.topic_id,
      partitionIndex: r.partition_index,
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
    return this.tx(async (db) => {
      for (const r of oldRanges) {
        const deleted = await db.query('DELETE FROM object_ranges WHERE topic_id = $1 AND partition_index = $2 AND base_offset = $3 AND end_offset = $4 AND object_id = $5', [
          topicId,
          partitionIndex,
          r.baseOffset,
          r.endOffset,
          r.objectId,
        ]);
        if (deleted.rowCount !== 1) throw new RangeGone();
      }
      return this.insertObject(db, key, sizeBytes, ranges);
    }, RangeGone);
  }

  async objectRanges(topicId: string, partitionIndex: number): Promise<ObjectRange[]> {
    const rows = await this.rows(
      `SELECT r.*, o.object_key FROM object_ranges r JOIN objects o ON o.object_id = r.object_id
       WHERE r.topic_id = $1 AND r.partition_index = $2 ORDER BY r.base_offset`,
      [topicId, partitionIndex],
    );
    return rows.map((r) => ({
      topicId,
      partitionIndex,
      baseOffset: r.base_offset,
      endOffset: r.end_offset,
      objectId: r.object_id,
      objectKey: r.object_key,
      position: r.position,
      sizeBytes: r.size_bytes,
      maxTimestamp: r.max_timestamp,
      cleaned: r.cleaned === true,
    }));
  }

  async advanceLogStartOffset(topicId: string, partitionIndex: number, offset: number): Promise<number> {
    return this.tx(async (db) => {
      const row = (await db.query('UPDATE partitions SET log_start_offset = GREATEST(log_start_offset, $1) WHERE topic_id = $2 AND partition_index = $3 RETURNING log_start_offset', [offset, topicId, partitionIndex]))
        .rows[0] as Row | undefined;
      const start = (row?.log_start_offset as number | undefined) ?? offset;
      await db.query('DELETE FROM object_ranges WHERE topic_id = $1 AND partition_index = $2 AND end_offset <= $3', [topicId, partitionIndex, start]);
      return start;
    });
  }

  async setLeaderEpoch(topicId: string, partitionIndex: number, leaderEpoch: number): Promise<void> {
    await this.query('UPDATE partitions SET leader_epoch = $1 WHERE topic_id = $2 AND partition_index = $3', [leaderEpoch, topicId, partitionIndex]);
  }

  async truncateRanges(
    topicId: string,
    partitionIndex: number,
    offset: number,
    cut: { objectId: number; baseOffset: number; keepBytes: number; maxTimestamp: number } | null,
    producerSnapshot?: ProducerSnapshot,
  ): Promise<void> {
    await this.tx(async (db) => {
      await db.query('DELETE FROM object_ranges WHERE topic_id = $1 AND partition_index = $2 AND base_offset >= $3', [topicId, partitionIndex, offset]);
      if (cut) {
        await db.query('UPDATE object_ranges SET end_offset = $1, size_bytes = $2, max_timestamp = $3 WHERE topic_id = $4 AND partition_index = $5 AND base_offset = $6 AND object_id = $7', [
          offset,
          cut.keepBytes,
          cut.maxTimestamp,
          topicId,
          partitionIndex,
          cut.baseOffset,
          cut.objectId,
        ]);
      }
      await db.query('DELETE FROM producer_snapshots WHERE topic_id = $1 AND partition_index = $2 AND end_offset > $3', [topicId, partitionIndex, offset]);
      await db.query('DELETE FROM wal_ranges WHERE topic_id = $1 AND partition_index = $2 AND end_offset > $3', [topicId, partitionIndex, offset]);
      if (producerSnapshot) {
        await db.query(
          `INSERT INTO producer_snapshots (topic_id, partition_index, end_offset, state) VALUES ($1, $2, $3, $4)
           ON CONFLICT (topic_id, partition_index) DO UPDATE SET end_offset = excluded.end_offset, state = excluded.state`,
          [producerSnapshot.topicId, producerSnapshot.partitionIndex, producerSnapshot.endOffset, producerSnapshot.state],
        );
      }
    });
  }

  async resetPartition(topicId: string, partitionIndex: number, offset: number): Promise<void> {
    await this.tx(async (db) => {
      await db.query('DELETE FROM object_ranges WHERE topic_id = $1 AND partition_index = $2', [topicId, partitionIndex]);
      await db.query('DELETE FROM producer_snapshots WHERE topic_id = $1 AND partition_index = $2', [topicId, partitionIndex]);
      await db.query('DELETE FROM wal_ranges WHERE topic_id = $1 AND partition_index = $2', [topicId, partitionIndex]);
      await db.query('UPDATE partitions SET log_start_offset = $1 WHERE topic_id = $2 AND partition_index = $3', [offset, topicId, partitionIndex]);
    });
  }

  async saveLink(l: LinkRecord): Promise<void> {
    await this.query(
      `INSERT INTO links (name, link_id, spec, state, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, state = excluded.state, updated_at_ms = excluded.updated_at_ms`,
      [l.name, l.linkId, l.spec, l.state, l.createdAtMs, l.updatedAtMs],
    );
  }

  async deleteLink(name: string): Promise<boolean> {
    return this.tx(async (db) => {
      await db.query('DELETE FROM link_groups WHERE link_name = $1', [name]);
      return ((await db.query('DELETE FROM links WHERE name = $1', [name])).rowCount ?? 0) > 0;
    });
  }

  async links(): Promise<LinkRecord[]> {
    const rows = await this.rows('SELECT * FROM links ORDER BY name COLLATE "C"');
    return rows.map((r) => ({ name: r.name, linkId: r.link_id, spec: r.spec, state: r.state, createdAtMs: r.created_at_ms, updatedAtMs: r.updated_at_ms }));
  }

  async saveMirror(m: MirrorRecord): Promise<void> {
    await this.query(
      `INSERT INTO mirror_topics (topic_id, link_name, source_topic, state, last_promotion, reverse, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (topic_id) DO UPDATE SET link_name = excluded.link_name, source_topic = excluded.source_topic, state = excluded.state,
         last_promotion = excluded.last_promotion, reverse = excluded.reverse, updated_at_ms = excluded.updated_at_ms`,
      [m.topicId, m.linkName, m.sourceTopic, m.state, m.lastPromotion, m.reverse, m.updatedAtMs],
    );
  }

  async deleteMirror(topicId: string): Promise<void> {
    await this.query('DELETE FROM mirror_topics WHERE topic_id = $1', [topicId]);
  }

  async mirrors(): Promise<MirrorRecord[]> {
    const rows = await this.rows('SELECT * FROM mirror_topics ORDER BY link_name COLLATE "C", source_topic COLLATE "C"');
    return rows.map((r) => ({
      topicId: r.topic_id,
      linkName: r.link_name,
      sourceTopic: r.source_topic,
      state: r.state,
      lastPromotion: r.last_promotion ?? null,
      reverse: r.reverse ?? null,
      updatedAtMs: r.updated_at_ms,
    }));
  }

  async saveLinkGroup(g: LinkGroupRecord): Promise<void> {
    await this.query(
      `INSERT INTO link_groups (link_name, group_id, state, updated_at_ms) VALUES ($1, $2, $3, $4)
       ON CONFLICT (link_name, group_id) DO UPDATE SET state = excluded.state, updated_at_ms = excluded.updated_at_ms`,
      [g.linkName, g.groupId, g.state, g.updatedAtMs],
    );
  }

  async linkGroups(linkName: string): Promise<LinkGroupRecord[]> {
    const rows = await this.rows('SELECT * FROM link_groups WHERE link_name = $1 ORDER BY group_id COLLATE "C"', [linkName]);
    return rows.map((r) => ({ linkName: r.link_name, groupId: r.group_id, state: r.state, updatedAtMs: r.updated_at_ms }));
  }

  // --- ACLs ----------------------------------------------------------------------------------------

  async replaceAcls(source: string, bindings: readonly AclBindingRecord[]): Promise<{ added: number; removed: number }> {
    const wanted = new Map<string, AclBindingRecord>();
    for (const b of bindings) wanted.set(aclKey(b), b);
    return this.tx(async (db) => {
      const rows = (await db.query('SELECT * FROM acls WHERE source = $1 FOR UPDATE', [source])).rows as Row[];
      const present = new Set<string>();
      let removed = 0;
      for (const r of rows) {
        const b = aclFromRow(r);
        const key = aclKey(b);
        present.add(key);
        if (wanted.has(key)) continue;
        await db.query(
          `DELETE FROM acls WHERE source = $1 AND resource_type = $2 AND resource_name = $3 AND pattern_type = $4 AND principal = $5 AND host = $6
           AND operation = $7 AND permission_type = $8`,
          [source, b.resourceType, b.resourceName, b.patternType, b.principal, b.host, b.operation, b.permissionType],
        );
        removed++;
      }
      let added = 0;
      for (const [key, b] of wanted) {
        if (present.has(key)) continue;
        // A concurrent replace of the same source may have inserted it meanwhile: counted by it.
        const put = await db.query(
          'INSERT INTO acls (source, resource_type, resource_name, pattern_type, principal, host, operation, permission_type) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING',
          [source, b.resourceType, b.resourceName, b.patternType, b.principal, b.host, b.operation, b.permissionType],
        );
        added += put.rowCount ?? 0;
      }
      return { added, removed };
    });
  }

  async acls(): Promise<AclRecord[]> {
    const rows = await this.rows(
      'SELECT * FROM acls ORDER BY resource_type, resource_name COLLATE "C", pattern_type, principal COLLATE "C", host COLLATE "C", operation, permission_type, source COLLATE "C"',
    );
    return rows.map((r) => ({ source: r.source, ...aclFromRow(r) }));
  }

  async deleteAcls(source: string): Promise<number> {
    return (await this.query('DELETE FROM acls WHERE source = $1', [source])).rowCount ?? 0;
  }

  async unreferencedObjects(nowMs: number, graceMs: number): Promise<{ objectId: number; key: string }[]> {
    return this.tx(async (db) => {
      await db.query(
        `UPDATE objects SET delete_after_ms = $1 WHERE delete_after_ms IS NULL
         AND NOT EXISTS (SELECT 1 FROM object_ranges r WHERE r.object_id = objects.object_id)
         AND NOT EXISTS (SELECT 1 FROM wal_ranges w WHERE w.object_id = objects.object_id)`,
        [nowMs + graceMs],
      );
      const rows = (await db.query('SELECT object_id, object_key FROM objects WHERE delete_after_ms IS NOT NULL AND delete_after_ms <= $1 ORDER BY object_id', [nowMs])).rows as Row[];
      return rows.map((r) => ({ objectId: r.object_id as number, key: r.object_key as string }));
    });
  }

  async reserveIds(counter: string, count: number): Promise<number> {
    // One statement: concurrent reservations queue on the counter's row and never overlap.
    const row = (await this.query('INSERT INTO counters (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = counters.value + $2 RETURNING value', [counter, count])).rows[0]!;
    return (row.value as number) - count;
  }

  async hasObject(key: string): Promise<boolean> {
    return (await this.rows('SELECT 1 FROM objects WHERE object_key = $1', [key])).length > 0;
  }

  async forgetObject(objectId: number): Promise<void> {
    await this.query(
      'DELETE FROM objects WHERE object_id = $1 AND NOT EXISTS (SELECT 1 FROM object_ranges r WHERE r.object_id = $1) AND NOT EXISTS (SELECT 1 FROM wal_ranges w WHERE w.object_id = $1)',
      [objectId],
    );
  }

  async saveGroup(g: GroupRecord): Promise<void> {
    await this.query(
      `INSERT INTO consumer_groups (group_id, group_type, state, updated_at_ms) VALUES ($1, $2, $3, $4)
       ON CONFLICT (group_id) DO UPDATE SET group_type = excluded.group_type, state = excluded.state, updated_at_ms = excluded.updated_at_ms`,
      [g.groupId, g.groupType, g.state, g.updatedAtMs],
    );
  }

  async deleteGroup(groupId: string): Promise<boolean> {
    return this.tx(async (db) => {
      const offsets = (await db.query('DELETE FROM committed_offsets WHERE group_id = $1', [groupId])).rowCount ?? 0;
      const groups = (await db.query('DELETE FROM consumer_groups WHERE group_id = $1', [groupId])).rowCount ?? 0;
      return offsets + groups > 0;
    });
  }

  async groups(): Promise<GroupRecord[]> {
    const rows = await this.rows('SELECT * FROM consumer_groups ORDER BY group_id COLLATE "C"');
    return rows.map((r) => ({ groupId: r.group_id, groupType: r.group_type, state: r.state, updatedAtMs: r.updated_at_ms }));
  }

  async commitOffsets(offsets: CommittedOffsetRecord[]): Promise<void> {
    if (offsets.length === 0) return;
    await this.tx(async (db) => {
      for (const o of offsets) {
        await db.query(
          `INSERT INTO committed_offsets (group_id, topic, partition_index, committed_offset, leader_epoch, metadata, commit_timestamp_ms, expire_timestamp_ms)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (group_id, topic, partition_index) DO UPDATE SET committed_offset = excluded.committed_offset,
             leader_epoch = excluded.leader_epoch, metadata = excluded.metadata, commit_timestamp_ms = excluded.commit_timestamp_ms,
             expire_timestamp_ms = excluded.expire_timestamp_ms`,
          [o.groupId, o.topic, o.partitionIndex, o.committedOffset, o.leaderEpoch, o.metadata, o.commitTimestampMs, o.expireTimestampMs],
        );
      }
    });
  }

  async committedOffsets(groupId?: string): Promise<CommittedOffsetRecord[]> {
    const rows =
      groupId === undefined
        ? await this.rows('SELECT * FROM committed_offsets ORDER BY group_id COLLATE "C", topic COLLATE "C", partition_index')
        : await this.rows('SELECT * FROM committed_offsets WHERE group_id = $1 ORDER BY topic COLLATE "C", partition_index', [groupId]);
    return rows.map((r) => ({
      groupId: r.group_id,
      topic: r.topic,
      partitionIndex: r.partition_index,
      committedOffset: r.committed_offset,
      leaderEpoch: r.leader_epoch,
      metadata: r.metadata ?? null,
      commitTimestampMs: r.commit_timestamp_ms,
      expireTimestampMs: r.expire_timestamp_ms ?? null,
    }));
  }

  async deleteOffsets(groupId: string, partitions: { topic: string; partitionIndex: number }[]): Promise<number> {
    if (partitions.length === 0) return 0;
    return this.tx(async (db) => {
      let n = 0;
      for (const p of partitions) n += (await db.query('DELETE FROM committed_offsets WHERE group_id = $1 AND topic = $2 AND partition_index = $3', [groupId, p.topic, p.partitionIndex])).rowCount ?? 0;
      return n;
    });
  }

  async deleteTopicOffsets(topic: string): Promise<number> {
    return (await this.query('DELETE FROM committed_offsets WHERE topic = $1', [topic])).rowCount ?? 0;
  }

  // --- transaction coordinator ---------------------------------------------------------------------

  async saveTransaction(t: TransactionRecord): Promise<void> {
    await this.query(...transactionUpsert(t));
  }

  async transactions(): Promise<TransactionRecord[]> {
    const rows = await this.rows('SELECT * FROM transactions ORDER BY transactional_id COLLATE "C"');
    return rows.map((r) => ({
      transactionalId: r.transactional_id,
      producerId: r.producer_id,
      previousProducerId: r.previous_producer_id,
      producerEpoch: r.producer_epoch,
      lastProducerEpoch: r.last_producer_epoch,
      timeoutMs: r.timeout_ms,
      state: r.state,
      partitions: (JSON.parse(r.partitions as string) as [string, number][]).map(([topic, partition]) => ({ topic, partition })),
      groups: JSON.parse(r.groups as string) as string[],
      startTimestampMs: r.start_timestamp_ms,
      lastUpdateTimestampMs: r.last_update_timestamp_ms,
    }));
  }

  async deleteTransaction(transactionalId: string): Promise<boolean> {
    return this.tx(async (db) => {
      await db.query('DELETE FROM transaction_offsets WHERE transactional_id = $1', [transactionalId]);
      return ((await db.query('DELETE FROM transactions WHERE transactional_id = $1', [transactionalId])).rowCount ?? 0) > 0;
    });
  }

  async saveTxnOffsets(offsets: TxnOffsetRecord[]): Promise<void> {
    if (offsets.length === 0) return;
    await this.tx(async (db) => {
      for (const o of offsets) {
        await db.query(
          `INSERT INTO transaction_offsets (transactional_id, producer_id, group_id, topic, partition_index, committed_offset, leader_epoch, metadata, commit_timestamp_ms)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (transactional_id, group_id, topic, partition_index) DO UPDATE SET producer_id = excluded.producer_id,
             committed_offset = excluded.committed_offset, leader_epoch = excluded.leader_epoch, metadata = excluded.metadata,
             commit_timestamp_ms = excluded.commit_timestamp_ms`,
          [o.transactionalId, o.producerId, o.groupId, o.topic, o.partitionIndex, o.committedOffset, o.leaderEpoch, o.metadata, o.commitTimestampMs],
        );
      }
    });
  }

  async txnOffsets(): Promise<TxnOffsetRecord[]> {
    const rows = await this.rows('SELECT * FROM transaction_offsets ORDER BY transactional_id COLLATE "C", group_id COLLATE "C", topic COLLATE "C", partition_index');
    return rows.map((r) => ({
      transactionalId: r.transactional_id,
      producerId: r.producer_id,
      groupId: r.group_id,
      topic: r.topic,
      partitionIndex: r.partition_index,
      committedOffset: r.committed_offset,
      leaderEpoch: r.leader_epoch,
      metadata: r.metadata ?? null,
      commitTimestampMs: r.commit_timestamp_ms,
      expireTimestampMs: null,
    }));
  }

  async finishTransaction(t: TransactionRecord): Promise<void> {
    await this.tx(async (db) => {
      await db.query('DELETE FROM transaction_offsets WHERE transactional_id = $1', [t.transactionalId]);
      await db.query(...transactionUpsert(t));
    });
  }
}

/** The statement that creates or replaces a transactional id's state. */
function transactionUpsert(t: TransactionRecord): [string, unknown[]] {
  return [
    `INSERT INTO transactions (transactional_id, producer_id, previous_producer_id, producer_epoch, last_producer_epoch, timeout_ms, state,
       partitions, groups, start_timestamp_ms, last_update_timestamp_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (transactional_id) DO UPDATE SET producer_id = excluded.producer_id, previous_producer_id = excluded.previous_producer_id,
       producer_epoch = excluded.producer_epoch, last_producer_epoch = excluded.last_producer_epoch, timeout_ms = excluded.timeout_ms,
       state = excluded.state, partitions = excluded.partitions, groups = excluded.groups, start_timestamp_ms = excluded.start_timestamp_ms,
       last_update_timestamp_ms = excluded.last_update_timestamp_ms`,
    [
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
    ],
  ];
}

function partitionFromRow(r: Row): PartitionRecord {
  return { topicId: r.topic_id, partitionIndex: r.partition_index, leaderId: r.leader_id, leaderEpoch: r.leader_epoch, logStartOffset: r.log_start_offset, leaderIncarnation: r.leader_incarnation };
}

function aclFromRow(r: Row): AclBindingRecord {
  return {
    resourceType: r.resource_type,
    resourceName: r.resource_name,
    patternType: r.pattern_type,
    principal: r.principal,
    host: r.host,
    operation: r.operation,
    permissionType: r.permission_type,
  };
}

/** One string per distinct binding (the fields of the table's key but the source). */
function aclKey(b: AclBindingRecord): string {
  return JSON.stringify([b.resourceType, b.resourceName, b.patternType, b.principal, b.host, b.operation, b.permissionType]);
}

/** Signals inside a transaction that a compaction lost its race with retention. */
class RangeGone extends Error {}
