// Versioned schema migrations for the SQLite engine. Append only: a released migration never changes.
export const SQLITE_MIGRATIONS: { version: number; description: string; sql: string }[] = [
  {
    version: 1,
    description: 'cluster, brokers, topics, topic configs, partitions',
    sql: `
      CREATE TABLE cluster (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        cluster_id TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL
      );
      CREATE TABLE brokers (
        node_id INTEGER PRIMARY KEY,
        host TEXT NOT NULL,
        port INTEGER NOT NULL,
        rack TEXT,
        registered_at_ms INTEGER NOT NULL
      );
      CREATE TABLE topics (
        topic_id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        partition_count INTEGER NOT NULL,
        replication_factor INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL
      );
      CREATE TABLE topic_configs (
        topic_id TEXT NOT NULL REFERENCES topics(topic_id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (topic_id, name)
      );
      CREATE TABLE partitions (
        topic_id TEXT NOT NULL REFERENCES topics(topic_id) ON DELETE CASCADE,
        partition_index INTEGER NOT NULL,
        leader_id INTEGER NOT NULL,
        leader_epoch INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (topic_id, partition_index)
      );
    `,
  },
  {
    version: 2,
    description: 'partition log start offsets, object index',
    sql: `
      ALTER TABLE partitions ADD COLUMN log_start_offset INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE objects (
        object_id INTEGER PRIMARY KEY AUTOINCREMENT,
        object_key TEXT NOT NULL UNIQUE,
        size_bytes INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL,
        delete_after_ms INTEGER
      );
      CREATE TABLE object_ranges (
        topic_id TEXT NOT NULL REFERENCES topics(topic_id) ON DELETE CASCADE,
        partition_index INTEGER NOT NULL,
        base_offset INTEGER NOT NULL,
        end_offset INTEGER NOT NULL,
        object_id INTEGER NOT NULL REFERENCES objects(object_id),
        position INTEGER NOT NULL,
        size_bytes INTEGER NOT NULL,
        max_timestamp INTEGER NOT NULL,
        PRIMARY KEY (topic_id, partition_index, base_offset)
      );
      CREATE INDEX object_ranges_by_object ON object_ranges (object_id);
      CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      );
      CREATE TABLE producer_snapshots (
        topic_id TEXT NOT NULL REFERENCES topics(topic_id) ON DELETE CASCADE,
        partition_index INTEGER NOT NULL,
        end_offset INTEGER NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (topic_id, partition_index)
      );
    `,
  },
  {
    version: 3,
    description: 'consumer groups and committed offsets',
    sql: `
      CREATE TABLE consumer_groups (
        group_id TEXT PRIMARY KEY,
        group_type TEXT NOT NULL,
        state TEXT NOT NULL,
        updated_at_ms INTEGER NOT NULL
      );
      CREATE TABLE committed_offsets (
        group_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        partition_index INTEGER NOT NULL,
        committed_offset INTEGER NOT NULL,
        leader_epoch INTEGER NOT NULL,
        metadata TEXT,
        commit_timestamp_ms INTEGER NOT NULL,
        expire_timestamp_ms INTEGER,
        PRIMARY KEY (group_id, topic, partition_index)
      );
      CREATE INDEX committed_offsets_by_topic ON committed_offsets (topic);
    `,
  },
  {
    version: 4,
    description: 'log cleaner: cleaned flag on object ranges',
    sql: `
      ALTER TABLE object_ranges ADD COLUMN cleaned INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 5,
    description: 'transaction coordinator: transaction state per transactional id, pending transactional offsets',
    sql: `
      CREATE TABLE transactions (
        transactional_id TEXT PRIMARY KEY,
        producer_id INTEGER NOT NULL,
        previous_producer_id INTEGER NOT NULL,
        producer_epoch INTEGER NOT NULL,
        last_producer_epoch INTEGER NOT NULL,
        timeout_ms INTEGER NOT NULL,
        state TEXT NOT NULL,
        partitions TEXT NOT NULL,
        groups TEXT NOT NULL,
        start_timestamp_ms INTEGER NOT NULL,
        last_update_timestamp_ms INTEGER NOT NULL
      );
      CREATE TABLE transaction_offsets (
        transactional_id TEXT NOT NULL,
        producer_id INTEGER NOT NULL,
        group_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        partition_index INTEGER NOT NULL,
        committed_offset INTEGER NOT NULL,
        leader_epoch INTEGER NOT NULL,
        metadata TEXT,
        commit_timestamp_ms INTEGER NOT NULL,
        PRIMARY KEY (transactional_id, group_id, topic, partition_index)
      );
    `,
  },
  {
    version: 6,
    description: 'links: links to source clusters, mirror topics, per-group sync state',
    sql: `
      CREATE TABLE links (
        name TEXT PRIMARY KEY,
        link_id TEXT NOT NULL,
        spec TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
      );
      CREATE TABLE mirror_topics (
        topic_id TEXT PRIMARY KEY,
        link_name TEXT NOT NULL,
        source_topic TEXT NOT NULL,
        state TEXT NOT NULL,
        last_promotion TEXT,
        updated_at_ms INTEGER NOT NULL
      );
      CREATE TABLE link_groups (
        link_name TEXT NOT NULL,
        group_id TEXT NOT NULL,
        state TEXT NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        PRIMARY KEY (link_name, group_id)
      );
    `,
  },
  {
    version: 7,
    description: 'ACL bindings by source (ACLs synced from a link\'s source cluster)',
    sql: `
      CREATE TABLE acls (
        source TEXT NOT NULL,
        resource_type INTEGER NOT NULL,
        resource_name TEXT NOT NULL,
        pattern_type INTEGER NOT NULL,
        principal TEXT NOT NULL,
        host TEXT NOT NULL,
        operation INTEGER NOT NULL,
        permission_type INTEGER NOT NULL,
        PRIMARY KEY (source, resource_type, resource_name, pattern_type, principal, host, operation, permission_type)
      );
    `,
  },
  {
    version: 8,
    description: 'mirror topics: the reverse copy back to the source after promotion (rollback)',
    sql: `ALTER TABLE mirror_topics ADD COLUMN reverse TEXT;`,
  },
  {
    version: 9,
    description: 'leader-epoch history per partition (Kafka\'s leader-epoch-checkpoint)',
    sql: `
      CREATE TABLE leader_epochs (
        topic_id TEXT NOT NULL REFERENCES topics(topic_id) ON DELETE CASCADE,
        partition_index INTEGER NOT NULL,
        entries TEXT NOT NULL,
        PRIMARY KEY (topic_id, partition_index)
      );
    `,
  },
  {
    version: 10,
    description: 'WAL objects (wal.kind=object): the partition ranges each holds until they are uploaded',
    sql: `
      CREATE TABLE wal_ranges (
        object_id INTEGER NOT NULL REFERENCES objects(object_id),
        topic_id TEXT NOT NULL REFERENCES topics(topic_id) ON DELETE CASCADE,
        partition_index INTEGER NOT NULL,
        base_offset INTEGER NOT NULL,
        end_offset INTEGER NOT NULL,
        position INTEGER NOT NULL,
        size_bytes INTEGER NOT NULL,
        leader_epoch INTEGER NOT NULL,
        node_id INTEGER NOT NULL,
        PRIMARY KEY (object_id, topic_id, partition_index, position)
      );
      CREATE INDEX wal_ranges_partition ON wal_ranges (topic_id, partition_index, end_offset);
    `,
  },
  {
    version: 11,
    description: 'partition leader incarnation: fences a paused broker process of the same node id',
    sql: `ALTER TABLE partitions ADD COLUMN leader_incarnation INTEGER NOT NULL DEFAULT 0;`,
  },
];
