// Broker configuration: Kafka's own names where Kafka has the setting, one definition table that
// gives each key its type, default, bounds and meaning, and one loader that merges, in rising
// precedence, defaults < properties file < STRAIT_* environment variables < command-line flags.
// Every wrong value is reported at start, all at once, with the source it came from.
import { readFileSync } from 'node:fs';
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
};

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
  connectionIdleMsMax: number;
  defaultPartitions: number;
  defaultReplicationFactor: number;
  autoCreateTopics: boolean;
  logLevel: LogLevel;
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
  // STRAIT_CONFIG names the file; STRAIT_TEST_* belong to the test suite.
  if (!name.startsWith('STRAIT_') || name === 'STRAIT_CONFIG' || name.startsWith('STRAIT_TEST_')) return null;
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
  return {
    nodeId: Number(values['node.id']),
    listeners: listenerList,
    advertisedListeners: advertised,
    rack: values['broker.rack'] ?? null,
    dataDir: values['data.dir']!,
    requestSizeBytesMax: Number(values['socket.request.max.bytes']),
    inflightRequestsMax: Number(values['queued.max.requests']),
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
