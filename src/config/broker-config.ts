// Broker configuration: Kafka's own names where Kafka has the setting, one definition table that
// gives each key its type, default, bounds and meaning, and one loader that merges, in rising
// precedence, defaults < properties file < STRAIT_* environment variables < command-line flags.
// Every wrong value is reported at start, all at once, with the source it came from.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StraitError } from '../common/errors.ts';
import type { LogLevel } from '../common/logger.ts';

type Kind = 'int' | 'long' | 'bool' | 'string' | 'list' | 'enum';

interface ConfigDef {
  kind: Kind;
  default: string | null;
  doc: string;
  min?: number;
  max?: number;
  values?: string[];
  validate?: (value: string) => string | null;
  /** Never shown: DescribeConfigs answers null for it and logs leave it out. */
  sensitive?: boolean;
}

export const BROKER_CONFIG_DEFS: Record<string, ConfigDef> = {
  'node.id': { kind: 'int', default: '1', min: 0, doc: 'Id of this broker in the cluster.' },
  listeners: {
    kind: 'list',
    default: 'PLAINTEXT://127.0.0.1:9092',
    doc: 'Comma-separated listener URIs the broker binds to (PLAINTEXT://host:port).',
    validate: (v) => validateListeners(v),
  },
  'advertised.listeners': {
    kind: 'list',
    default: null,
    doc: 'Listener URIs given to clients in Metadata; defaults to listeners.',
    validate: (v) => validateListeners(v),
  },
  'broker.rack': { kind: 'string', default: null, doc: 'Rack (zone) of this broker, shown to clients in Metadata.' },
  'http.listener': {
    kind: 'string',
    default: '127.0.0.1:9095',
    doc: 'Address (host:port) of the HTTP admin API and /metrics; port 0 takes a free port; empty disables it.',
    validate: (v) => {
      const l = parseHttpListener(v);
      return typeof l === 'string' ? l : null;
    },
  },
  'data.dir': { kind: 'string', default: './data', doc: 'Directory for the metadata database, WAL and local object store.' },
  'socket.request.max.bytes': {
    kind: 'int',
    default: String(100 * 1024 * 1024),
    min: 1024,
    doc: 'Largest request frame accepted; a larger one closes the connection.',
  },
  'queued.max.requests': {
    kind: 'int',
    default: '500',
    min: 1,
    doc: 'Requests one connection may have in flight before the broker stops reading from it.',
  },
  'queued.max.request.bytes': {
    kind: 'long',
    default: String(256 * 1024 * 1024),
    min: -1,
    doc: 'Request bytes all connections together may have read or in flight before the broker stops reading more (back-pressure); -1 unbounded. Kafka\'s default is -1; Strait bounds it because request buffers live outside the V8 heap, where no heap limit stops them.',
    validate: (v) => (Number(v) === 0 ? 'must be -1 (unbounded) or at least 1' : null),
  },
  'queued.max.request.bytes.per.connection': {
    kind: 'long',
    default: String(64 * 1024 * 1024),
    min: -1,
    doc: 'Request bytes one connection may have read or in flight before the broker stops reading from it; -1 unbounded. One request larger than the bound is still read, alone.',
    validate: (v) => (Number(v) === 0 ? 'must be -1 (unbounded) or at least 1' : null),
  },
  'shutdown.timeout.ms': {
    kind: 'long',
    default: '30000',
    min: 1,
    doc: 'How long a graceful stop (SIGTERM, SIGINT) may take before the broker exits anyway, logging what did not finish; a second signal exits at once.',
  },
  'connections.max.idle.ms': { kind: 'long', default: '600000', min: -1, doc: 'Idle connections are closed after this long; -1 never.' },
  'num.partitions': { kind: 'int', default: '1', min: 1, doc: 'Partitions of a topic created without a partition count.' },
  'default.replication.factor': {
    kind: 'int',
    default: '1',
    min: 1,
    doc: 'Replication factor recorded for topics created without one (durability comes from the WAL and object storage).',
  },
  'auto.create.topics.enable': { kind: 'bool', default: 'true', doc: 'Create a topic when a client asks for metadata of an unknown one.' },
  'log.level': { kind: 'enum', default: 'info', values: ['debug', 'info', 'warn', 'error'], doc: 'Lowest level written to the log.' },
  'wal.dir': { kind: 'string', default: null, doc: 'Directory of the write-ahead log; defaults to <data.dir>/wal.' },
  'wal.segment.bytes': { kind: 'int', default: String(64 * 1024 * 1024), min: 1024 * 1024, doc: 'Size at which a WAL segment file is closed and a new one started.' },
  'wal.flush.bytes.max': { kind: 'int', default: String(8 * 1024 * 1024), min: 4096, doc: 'Most bytes one WAL write (and fsync) carries; more waits for the next.' },
  'wal.flush.linger.ms': { kind: 'int', default: '0', min: 0, max: 1000, doc: 'How long a WAL flush may wait for more produces to share its fsync (0: none; fsyncs already batch whatever arrives while one runs).' },
  'wal.kind': {
    kind: 'enum',
    default: 'file',
    values: ['file', 'object'],
    doc: 'Where produces are made durable before they are acknowledged: file (segment files in wal.dir, fsync; lowest latency) or object (one object PUT per flush plus a metadata commit; no broker-local state).',
  },
  'wal.object.flush.ms': { kind: 'int', default: '25', min: 1, max: 10000, doc: 'wal.kind=object: how long produces are collected into one WAL object before it is written.' },
  'wal.object.flush.bytes': { kind: 'int', default: String(8 * 1024 * 1024), min: 4096, doc: 'wal.kind=object: a WAL object is written as soon as this much is collected.' },
  'wal.object.inflight.max': { kind: 'int', default: '4', min: 1, max: 64, doc: 'wal.kind=object: most WAL object PUTs in flight at once; more flushes wait.' },
  'wal.object.pending.bytes.max': {
    kind: 'long',
    default: String(64 * 1024 * 1024),
    min: 1024 * 1024,
    doc: 'wal.kind=object: produces fail with the retriable KAFKA_STORAGE_ERROR while this much waits to be written (a slow or failing object store).',
  },
  'metadata.store': { kind: 'enum', default: 'sqlite', values: ['sqlite', 'postgres'], doc: 'Metadata engine: sqlite (a file in data.dir; one broker) or postgres (shared by brokers; needs metadata.postgres.url).' },
  'metadata.postgres.url': { kind: 'string', default: null, sensitive: true, doc: 'PostgreSQL connection URL for metadata.store=postgres, e.g. postgres://strait:secret@db:5432/strait.' },
  'metadata.postgres.pool.size': { kind: 'int', default: '8', min: 1, max: 200, doc: 'Connections in the PostgreSQL pool.' },
  'metadata.postgres.statement.timeout.ms': { kind: 'int', default: '10000', min: 0, doc: 'Longest a metadata statement may run on PostgreSQL before it is cancelled (0: no bound).' },
  'object.store': { kind: 'enum', default: 'folder', values: ['folder', 's3'], doc: 'Where uploaded data lives: a local folder or an S3-compatible store.' },
  'object.store.path': { kind: 'string', default: null, doc: 'Folder of the folder object store; defaults to <data.dir>/objects.' },
  's3.endpoint': { kind: 'string', default: null, doc: 'S3 endpoint URL, e.g. http://127.0.0.1:9000 for MinIO; unset for AWS S3 (the endpoint of s3.region).' },
  's3.region': { kind: 'string', default: 'us-east-1', doc: 'S3 region used in request signatures (a redirect naming another region is followed once).' },
  's3.bucket': { kind: 'string', default: null, doc: 'S3 bucket holding Strait objects.' },
  's3.access.key.id': { kind: 'string', default: null, doc: 'Static S3 access key id (or set STRAIT_S3_ACCESS_KEY_ID); unset: the AWS credential chain (docs/s3.md).' },
  's3.secret.access.key': { kind: 'string', default: null, sensitive: true, doc: 'Static S3 secret access key (or set STRAIT_S3_SECRET_ACCESS_KEY); needed with s3.access.key.id.' },
  's3.session.token': { kind: 'string', default: null, sensitive: true, doc: 'Session token that goes with temporary static keys (s3.access.key.id); it is not renewed.' },
  's3.profile': { kind: 'string', default: null, doc: 'Profile of the shared AWS config/credentials files for the credential chain (default: AWS_PROFILE, else default).' },
  's3.prefix': { kind: 'string', default: '', doc: 'Key prefix for every object Strait writes.' },
  's3.path.style.access': { kind: 'bool', default: 'false', doc: 'Address buckets as endpoint/bucket (needed for MinIO and most non-AWS stores).' },
  'upload.bytes.max': { kind: 'int', default: String(32 * 1024 * 1024), min: 1024, doc: 'WAL data is uploaded as one object once this much is waiting.' },
  'upload.interval.ms': { kind: 'int', default: '2000', min: 1, doc: 'WAL data is uploaded at least this often, however little there is.' },
  'upload.pending.bytes.max': {
    kind: 'long',
    default: String(512 * 1024 * 1024),
    min: 1024 * 1024,
    doc: 'Produces fail with a retriable error while this much durable data waits for object storage (e.g. during an outage).',
  },
  'tail.cache.bytes.max': { kind: 'long', default: String(256 * 1024 * 1024), min: 0, doc: 'Memory for recent batches served to fetches without object reads.' },
  'block.cache.bytes.max': { kind: 'long', default: String(256 * 1024 * 1024), min: 0, doc: 'Memory for blocks read from objects.' },
  'object.store.read.timeout.ms': {
    kind: 'int',
    default: '5000',
    min: 0,
    doc: 'A fetch of data that must come from object storage waits at most this long, then answers the retriable KAFKA_STORAGE_ERROR for the partition (the read goes on and fills the block cache); 0: no bound.',
  },
  'block.bytes': { kind: 'int', default: String(1024 * 1024), min: 4096, doc: 'Size of one ranged object read, and of a block cache entry.' },
  'log.retention.check.interval.ms': { kind: 'long', default: '300000', min: 1, doc: 'How often retention.ms and retention.bytes are enforced.' },
  'object.delete.delay.ms': { kind: 'long', default: '60000', min: 0, doc: 'How long an object no index refers to is kept before deletion, so reads in flight finish.' },
  'object.compaction.interval.ms': { kind: 'long', default: '30000', min: 1, doc: 'How often small object ranges are merged into larger per-partition objects.' },
  'object.compaction.small.bytes': { kind: 'int', default: String(8 * 1024 * 1024), min: 1, doc: 'Object ranges smaller than this are merged by object compaction.' },
  'object.compaction.target.bytes': { kind: 'int', default: String(64 * 1024 * 1024), min: 1, doc: 'Object compaction merges ranges into objects of at most this size.' },
  'log.cleaner.backoff.ms': { kind: 'long', default: '15000', min: 1, doc: 'How often the log cleaner looks for compacted topics (cleanup.policy=compact) due for cleaning.' },
  'max.incremental.fetch.session.cache.slots': { kind: 'int', default: '1000', min: 0, doc: 'Incremental fetch sessions (KIP-227) kept at once.' },
  // Group coordinator: Kafka's names and defaults (GroupCoordinatorConfig).
  'group.initial.rebalance.delay.ms': { kind: 'int', default: '3000', min: 0, doc: 'How long the first rebalance of an empty classic group waits for more members to join.' },
  'group.min.session.timeout.ms': { kind: 'int', default: '6000', min: 1, doc: 'Smallest session timeout a classic group member may ask for.' },
  'group.max.session.timeout.ms': { kind: 'int', default: '1800000', min: 1, doc: 'Largest session timeout a classic group member may ask for.' },
  'group.max.size': { kind: 'int', default: '2147483647', min: 1, doc: 'Most members one classic group may have.' },
  'group.consumer.session.timeout.ms': { kind: 'int', default: '45000', min: 1, doc: 'Session timeout of consumer group (KIP-848) members: one without a heartbeat this long is removed.' },
  'group.consumer.heartbeat.interval.ms': { kind: 'int', default: '5000', min: 1, doc: 'Heartbeat interval given to consumer group (KIP-848) members.' },
  'group.consumer.max.size': { kind: 'int', default: '2147483647', min: 1, doc: 'Most members one consumer group (KIP-848) may have.' },
  'group.consumer.assignors': {
    kind: 'list',
    default: 'uniform,range',
    doc: 'Server-side assignors of consumer groups (KIP-848); the first is the default. uniform and range (or Kafka\'s class names for them).',
    validate: (v) => validateAssignors(v),
  },
  'offsets.retention.minutes': { kind: 'int', default: '10080', min: 1, doc: 'Committed offsets of a group that has been empty this long (or of a groupless consumer, since the commit) are deleted.' },
  'offsets.retention.check.interval.ms': { kind: 'long', default: '600000', min: 1, doc: 'How often expired committed offsets and empty groups are removed.' },
  'offset.metadata.max.bytes': { kind: 'int', default: '4096', min: 0, doc: 'Longest metadata string an offset commit may carry.' },
  // Kafka's internal topics: listed once groups / transactional ids exist (they hold no records here).
  'offsets.topic.num.partitions': { kind: 'int', default: '50', min: 1, max: 10000, doc: 'Partitions of the internal topic __consumer_offsets, created when the first group looks for its coordinator. Strait keeps committed offsets in its metadata store; the topic is listed for clients and tools and holds no records.' },
  'transaction.state.log.num.partitions': { kind: 'int', default: '50', min: 1, max: 10000, doc: 'Partitions of the internal topic __transaction_state, created when the first transactional id looks for its coordinator; like __consumer_offsets it holds no records.' },
  // Transaction coordinator: Kafka's names and defaults (TransactionStateManagerConfig).
  'transaction.max.timeout.ms': { kind: 'int', default: '900000', min: 1, doc: 'Longest transaction timeout a producer may ask for in InitProducerId.' },
  'transaction.abort.timed.out.transaction.cleanup.interval.ms': { kind: 'int', default: '10000', min: 1, doc: 'How often transactions open longer than their timeout are aborted.' },
  'transactional.id.expiration.ms': { kind: 'int', default: '604800000', min: 1, doc: 'A transactional id with no transaction open and no activity for this long is forgotten.' },
  'transaction.remove.expired.transaction.cleanup.interval.ms': { kind: 'int', default: '3600000', min: 1, doc: 'How often expired transactional ids are removed.' },
  'producer.id.expiration.ms': { kind: 'int', default: '86400000', min: 1, doc: 'An idempotent producer with no write for this long is dropped from the partitions\' producer state (its next write starts a new sequence); one with a transaction open stays.' },
  'producer.id.expiration.check.interval.ms': { kind: 'int', default: '600000', min: 1, doc: 'How often idle producers are dropped from the producer state.' },
};

export interface StorageConfig {
  walDir: string;
  walSegmentBytesMax: number;
  walFlushBytesMax: number;
  walFlushLingerMs: number;
  walKind: 'file' | 'object';
  walObjectFlushMs: number;
  walObjectFlushBytes: number;
  walObjectInflightMax: number;
  walObjectPendingBytesMax: number;
  objectStore:
    | { engine: 'folder'; path: string }
    | {
        engine: 's3';
        endpoint?: string;
        region: string;
        bucket: string;
        /** Static keys (both or neither); without them the AWS credential chain. */
        accessKeyId?: string;
        secretAccessKey?: string;
        sessionToken?: string;
        profile?: string;
        prefix: string;
        pathStyle: boolean;
      };
  uploadBytesMax: number;
  uploadIntervalMs: number;
  uploadPendingBytesMax: number;
  tailCacheBytesMax: number;
  blockCacheBytesMax: number;
  blockBytes: number;
  objectReadTimeoutMs: number;
  retentionCheckIntervalMs: number;
  objectDeleteDelayMs: number;
  objectCompactionIntervalMs: number;
  objectCompactionSmallBytes: number;
  objectCompactionTargetBytes: number;
  logCleanerBackoffMs: number;
}

export interface Listener {
  name: string;
  host: string;
  port: number;
}

export interface BrokerConfig {
  nodeId: number;
  listeners: Listener[];
  advertisedListeners: Listener[];
  rack: string | null;
  dataDir: string;
  requestSizeBytesMax: number;
  inflightRequestsMax: number;
  /** queued.max.request.bytes.per.connection; -1 unbounded. */
  inflightRequestBytesMax: number;
  /** queued.max.request.bytes, all connections together; -1 unbounded. */
  queuedRequestBytesMax: number;
  shutdownTimeoutMs: number;
  connectionIdleMsMax: number;
  defaultPartitions: number;
  defaultReplicationFactor: number;
  autoCreateTopics: boolean;
  logLevel: LogLevel;
  storage: StorageConfig;
  metadata: { engine: 'sqlite'; path: string } | { engine: 'postgres'; url: string; poolSize: number; statementTimeoutMs: number };
  fetchSessionSlots: number;
  /** Where the HTTP admin API and /metrics listen (port 0: a free port); null when disabled. */
  httpListener: { host: string; port: number } | null;
  /** Every effective value by Kafka name, for DescribeConfigs and `strait config`. */
  values: Record<string, string | null>;
  /** Where each value came from: 'default', 'file …', 'environment' or 'command line'. */
  origins: Record<string, string>;
}

const LISTENER_RE = /^([A-Za-z_][A-Za-z0-9_]*):\/\/(\[[0-9a-fA-F:]+\]|[^:/\s]*):(\d{1,5})$/;

function parseListener(uri: string): Listener | string {
  const m = LISTENER_RE.exec(uri.trim());
  if (!m) return `'${uri}' is not of the form NAME://host:port`;
  const port = Number(m[3]);
  if (port > 65535) return `port ${port} in '${uri}' is out of range`;
  if (m[1] !== 'PLAINTEXT') return `listener '${m[1]}' is not supported yet (only PLAINTEXT)`;
  return { name: m[1]!, host: m[2]!.replace(/^\[|\]$/g, ''), port };
}

const HOST_PORT_RE = /^(\[[0-9a-fA-F:.]+\]|[^:/\s\[\]]+):(\d{1,5})$/;

/** http.listener: "host:port" ("[::1]:9095" for IPv6); empty (or blanks) means disabled, null. */
export function parseHttpListener(value: string): { host: string; port: number } | null | string {
  const v = value.trim();
  if (v === '') return null;
  const m = HOST_PORT_RE.exec(v);
  if (!m) return `must be host:port (or empty to disable), got '${value}'`;
  const port = Number(m[2]);
  if (port > 65535) return `port ${port} in '${value}' is out of range`;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** Kafka's assignor class names are accepted too, so a Kafka server.properties works unchanged. */
export const ASSIGNOR_NAMES: Record<string, string> = {
  uniform: 'uniform',
  range: 'range',
  'org.apache.kafka.coordinator.group.assignor.UniformAssignor': 'uniform',
  'org.apache.kafka.coordinator.group.assignor.RangeAssignor': 'range',
};

function validateAssignors(v: string): string | null {
  const names = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) return 'at least one assignor is required';
  const bad = names.find((n) => !(n in ASSIGNOR_NAMES));
  return bad === undefined ? null : `unknown assignor '${bad}' (known: uniform, range)`;
}

function validateListeners(v: string): string | null {
  const parts = v.split(',').filter((s) => s.trim() !== '');
  if (parts.length === 0) return 'at least one listener is required';
  for (const p of parts) {
    const l = parseListener(p);
    if (typeof l === 'string') return l;
  }
  return null;
}

function listeners(v: string): Listener[] {
  return v
    .split(',')
    .filter((s) => s.trim() !== '')
    .map((s) => parseListener(s) as Listener);
}

/** Parses Java-style .properties text: key=value or key: value, # and ! comments. */
export function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const m = /^([^=:\s]+)\s*[=:]?\s*(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

function checkValue(key: string, def: ConfigDef, value: string): string | null {
  switch (def.kind) {
    case 'int':
    case 'long': {
      if (!/^-?\d+$/.test(value.trim())) return `must be an integer, got '${value}'`;
      const n = Number(value);
      if (def.kind === 'int' && (n > 2147483647 || n < -2147483648)) return `must fit in 32 bits, got ${value}`;
      if (def.min !== undefined && n < def.min) return `must be at least ${def.min}, got ${value}`;
      if (def.max !== undefined && n > def.max) return `must be at most ${def.max}, got ${value}`;
      break;
    }
    case 'bool':
      if (!/^(true|false)$/i.test(value.trim())) return `must be true or false, got '${value}'`;
      break;
    case 'enum':
      if (!def.values!.includes(value.trim())) return `must be one of ${def.values!.join(', ')}, got '${value}'`;
      break;
  }
  return def.validate ? def.validate(value) : null;
}

export interface ConfigSources {
  file?: string;
  env?: Record<string, string | undefined>;
  flags?: Record<string, string>;
}

/** STRAIT_NODE_ID → node.id. */
export function envKey(name: string): string | null {
  // STRAIT_CONFIG names the file; STRAIT_ADMIN_URL tells `strait link` where the admin API is (a
  // shell that sets it must still be able to start a broker); STRAIT_TEST_* belong to the test suite.
  if (!name.startsWith('STRAIT_') || name === 'STRAIT_CONFIG' || name === 'STRAIT_ADMIN_URL' || name.startsWith('STRAIT_TEST_')) return null;
  return name.slice(7).toLowerCase().replace(/_/g, '.');
}

export function loadBrokerConfig(sources: ConfigSources): BrokerConfig {
  const values: Record<string, string | null> = {};
  const origin: Record<string, string> = {};
  for (const [k, d] of Object.entries(BROKER_CONFIG_DEFS)) {
    values[k] = d.default;
    origin[k] = 'default';
  }
  const errors: string[] = [];
  const apply = (entries: Record<string, string>, from: string) => {
    for (const [k, v] of Object.entries(entries)) {
      if (!(k in BROKER_CONFIG_DEFS)) {
        errors.push(`${from}: unknown config '${k}'${suggest(k)}`);
        continue;
      }
      values[k] = v;
      origin[k] = from;
    }
  };
  if (sources.file) {
    let text: string;
    try {
      text = readFileSync(sources.file, 'utf8');
    } catch (err) {
      throw new StraitError('STRAIT_CONFIG_INVALID', `cannot read config file ${sources.file}: ${(err as Error).message}`);
    }
    apply(parseProperties(text), `file ${sources.file}`);
  }
  const env: Record<string, string> = {};
  for (const [name, v] of Object.entries(sources.env ?? {})) {
    const key = envKey(name);
    if (key !== null && v !== undefined) env[key] = v;
  }
  apply(env, 'environment');
  apply(sources.flags ?? {}, 'command line');

  for (const [k, d] of Object.entries(BROKER_CONFIG_DEFS)) {
    const v = values[k];
    if (v === null || v === undefined) continue;
    const problem = checkValue(k, d, v);
    if (problem) errors.push(`${origin[k]}: ${k} ${problem}`);
  }
  if (errors.length) {
    throw new StraitError('STRAIT_CONFIG_INVALID', `invalid configuration:\n  ${errors.join('\n  ')}`);
  }
  const listenerList = listeners(values.listeners!);
  const advertised = values['advertised.listeners'] ? listeners(values['advertised.listeners']) : listenerList;
  for (const l of advertised) {
    if (l.host === '' || l.host === '0.0.0.0' || l.host === '::') {
      throw new StraitError(
        'STRAIT_CONFIG_INVALID',
        `invalid configuration:\n  advertised.listeners must name a host clients can reach, not '${l.host || '(empty)'}'; set advertised.listeners`,
      );
    }
  }
  const dataDir = values['data.dir']!;
  const v = (k: string) => values[k] ?? null;
  let objectStore: StorageConfig['objectStore'];
  if (v('object.store') === 's3') {
    const missing = ['s3.bucket'].filter((k) => !v(k));
    if (missing.length) throw new StraitError('STRAIT_CONFIG_INVALID', `invalid configuration:\n  object.store=s3 needs ${missing.join(', ')}`);
    // Static keys come as a pair; without them credentials come from the AWS chain (docs/s3.md).
    const [keyId, secret] = [v('s3.access.key.id'), v('s3.secret.access.key')];
    if (!keyId !== !secret) {
      throw new StraitError('STRAIT_CONFIG_INVALID', `invalid configuration:\n  s3.access.key.id and s3.secret.access.key go together: set both, or neither to use the AWS credential chain`);
    }
    if (v('s3.session.token') && !keyId) {
      throw new StraitError('STRAIT_CONFIG_INVALID', `invalid configuration:\n  s3.session.token needs s3.access.key.id and s3.secret.access.key`);
    }
    const optional = (name: string, key: string): Record<string, string> => (v(key) ? { [name]: v(key)! } : {});
    objectStore = {
      engine: 's3',
      ...optional('endpoint', 's3.endpoint'),
      region: v('s3.region')!,
      bucket: v('s3.bucket')!,
      ...optional('accessKeyId', 's3.access.key.id'),
      ...optional('secretAccessKey', 's3.secret.access.key'),
      ...optional('sessionToken', 's3.session.token'),
      ...optional('profile', 's3.profile'),
      prefix: v('s3.prefix') ?? '',
      pathStyle: v('s3.path.style.access')!.toLowerCase() === 'true',
    };
  } else objectStore = { engine: 'folder', path: v('object.store.path') ?? join(dataDir, 'objects') };
  const storage: StorageConfig = {
    walDir: v('wal.dir') ?? join(dataDir, 'wal'),
    walSegmentBytesMax: Number(v('wal.segment.bytes')),
    walFlushBytesMax: Number(v('wal.flush.bytes.max')),
    walFlushLingerMs: Number(v('wal.flush.linger.ms')),
    walKind: v('wal.kind') as 'file' | 'object',
    walObjectFlushMs: Number(v('wal.object.flush.ms')),
    walObjectFlushBytes: Number(v('wal.object.flush.bytes')),
    walObjectInflightMax: Number(v('wal.object.inflight.max')),
    walObjectPendingBytesMax: Number(v('wal.object.pending.bytes.max')),
    objectStore,
    uploadBytesMax: Number(v('upload.bytes.max')),
    uploadIntervalMs: Number(v('upload.interval.ms')),
    uploadPendingBytesMax: Number(v('upload.pending.bytes.max')),
    tailCacheBytesMax: Number(v('tail.cache.bytes.max')),
    blockCacheBytesMax: Number(v('block.cache.bytes.max')),
    blockBytes: Number(v('block.bytes')),
    objectReadTimeoutMs: Number(v('object.store.read.timeout.ms')),
    retentionCheckIntervalMs: Number(v('log.retention.check.interval.ms')),
    objectDeleteDelayMs: Number(v('object.delete.delay.ms')),
    objectCompactionIntervalMs: Number(v('object.compaction.interval.ms')),
    objectCompactionSmallBytes: Number(v('object.compaction.small.bytes')),
    objectCompactionTargetBytes: Number(v('object.compaction.target.bytes')),
    logCleanerBackoffMs: Number(v('log.cleaner.backoff.ms')),
  };
  let metadata: BrokerConfig['metadata'];
  if (v('metadata.store') === 'postgres') {
    if (!v('metadata.postgres.url')) throw new StraitError('STRAIT_CONFIG_INVALID', 'invalid configuration:\n  metadata.store=postgres needs metadata.postgres.url');
    // Another broker on the same metadata may take this one's partitions over; it can only replay
    // what this one made durable where it can read it.
    if (v('wal.kind') !== 'object') {
      throw new StraitError(
        'STRAIT_CONFIG_INVALID',
        'invalid configuration:\n  metadata.store=postgres needs wal.kind=object (a broker that takes partitions over must be able to read the WAL; a file WAL stays on this broker\'s disk)',
      );
    }
    if (v('object.store') !== 's3') {
      throw new StraitError('STRAIT_CONFIG_INVALID', 'invalid configuration:\n  metadata.store=postgres needs object.store=s3 (every broker must reach the same objects)');
    }
    metadata = { engine: 'postgres', url: v('metadata.postgres.url')!, poolSize: Number(v('metadata.postgres.pool.size')), statementTimeoutMs: Number(v('metadata.postgres.statement.timeout.ms')) };
  } else metadata = { engine: 'sqlite', path: join(dataDir, 'metadata.sqlite') };
  return {
    storage,
    metadata,
    fetchSessionSlots: Number(v('max.incremental.fetch.session.cache.slots')),
    httpListener: parseHttpListener(v('http.listener') ?? '') as { host: string; port: number } | null,
    nodeId: Number(values['node.id']),
    listeners: listenerList,
    advertisedListeners: advertised,
    rack: values['broker.rack'] ?? null,
    dataDir: values['data.dir']!,
    requestSizeBytesMax: Number(values['socket.request.max.bytes']),
    inflightRequestsMax: Number(values['queued.max.requests']),
    inflightRequestBytesMax: Number(values['queued.max.request.bytes.per.connection']),
    queuedRequestBytesMax: Number(values['queued.max.request.bytes']),
    shutdownTimeoutMs: Number(values['shutdown.timeout.ms']),
    connectionIdleMsMax: Number(values['connections.max.idle.ms']),
    defaultPartitions: Number(values['num.partitions']),
    defaultReplicationFactor: Number(values['default.replication.factor']),
    autoCreateTopics: values['auto.create.topics.enable']!.toLowerCase() === 'true',
    logLevel: values['log.level'] as LogLevel,
    values,
    origins: origin,
  };
}

function suggest(key: string): string {
  const close = Object.keys(BROKER_CONFIG_DEFS).find((k) => distance(k, key) <= 2);
  return close ? ` (did you mean '${close}'?)` : '';
}

function distance(a: string, b: string): number {
  const d: number[] = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}
