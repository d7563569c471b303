// Topic-level configuration: Kafka's names, types, defaults and bounds, so that tools which read
// or set topic configs (CreateTopics, DescribeConfigs, AlterConfigs, linking's config sync) see the
// values a Kafka broker would show.

export type TopicConfigType = 'boolean' | 'int' | 'long' | 'double' | 'string' | 'list' | 'password';

export interface TopicConfigDef {
  type: TopicConfigType;
  default: string;
  min?: number;
  max?: number;
  values?: string[];
  /** Kafka's ConfigResource DescribeConfigs type codes. */
}

const LONG_MAX = '9223372036854775807';

export const TOPIC_CONFIG_DEFS: Record<string, TopicConfigDef> = {
  'cleanup.policy': { type: 'list', default: 'delete', values: ['compact', 'delete'] },
  'compression.type': { type: 'string', default: 'producer', values: ['uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'] },
  'compression.gzip.level': { type: 'int', default: '-1', min: -1, max: 9 },
  'compression.lz4.level': { type: 'int', default: '9', min: 1, max: 17 },
  'compression.zstd.level': { type: 'int', default: '3', min: -131072, max: 22 },
  'delete.retention.ms': { type: 'long', default: '86400000', min: 0 },
  'file.delete.delay.ms': { type: 'long', default: '60000', min: 0 },
  'flush.messages': { type: 'long', default: LONG_MAX, min: 1 },
  'flush.ms': { type: 'long', default: LONG_MAX, min: 0 },
  'follower.replication.throttled.replicas': { type: 'list', default: '' },
  'index.interval.bytes': { type: 'int', default: '4096', min: 0 },
  'leader.replication.throttled.replicas': { type: 'list', default: '' },
  'local.retention.bytes': { type: 'long', default: '-2', min: -2 },
  'local.retention.ms': { type: 'long', default: '-2', min: -2 },
  'max.compaction.lag.ms': { type: 'long', default: LONG_MAX, min: 1 },
  'max.message.bytes': { type: 'int', default: '1048588', min: 0 },
  'message.timestamp.after.max.ms': { type: 'long', default: '3600000', min: 0 },
  'message.timestamp.before.max.ms': { type: 'long', default: LONG_MAX, min: 0 },
  'message.timestamp.type': { type: 'string', default: 'CreateTime', values: ['CreateTime', 'LogAppendTime'] },
  'min.cleanable.dirty.ratio': { type: 'double', default: '0.5', min: 0, max: 1 },
  'min.compaction.lag.ms': { type: 'long', default: '0', min: 0 },
  'min.insync.replicas': { type: 'int', default: '1', min: 1 },
  preallocate: { type: 'boolean', default: 'false' },
  'remote.log.copy.disable': { type: 'boolean', default: 'false' },
  'remote.log.delete.on.disable': { type: 'boolean', default: 'false' },
  'remote.storage.enable': { type: 'boolean', default: 'false' },
  'retention.bytes': { type: 'long', default: '-1' },
  'retention.ms': { type: 'long', default: '604800000', min: -1 },
  'segment.bytes': { type: 'int', default: '1073741824', min: 1048576 },
  'segment.index.bytes': { type: 'int', default: '10485760', min: 4 },
  'segment.jitter.ms': { type: 'long', default: '0', min: 0 },
  'segment.ms': { type: 'long', default: '604800000', min: 1 },
  'unclean.leader.election.enable': { type: 'boolean', default: 'false' },
};

/** Returns a message saying what is wrong with one topic config, or null when it is valid. */
export function validateTopicConfig(name: string, value: string | null): string | null {
  const def = TOPIC_CONFIG_DEFS[name];
  if (!def) return `Unknown topic config name: ${name}`;
  if (value === null) return `Null value not supported for topic configs: ${name}`;
  const v = value.trim();
  const bad = (why: string) => `Invalid value ${value} for configuration ${name}: ${why}`;
  switch (def.type) {
    case 'boolean':
      if (!/^(true|false)$/i.test(v)) return bad('Expected value to be either true or false');
      break;
    case 'int':
    case 'long': {
      if (!/^-?\d+$/.test(v)) return bad(`Not a number of type ${def.type.toUpperCase()}`);
      const n = BigInt(v);
      const lim = def.type === 'int' ? 2n ** 31n : 2n ** 63n;
      if (n < -lim || n >= lim) return bad(`Not a number of type ${def.type.toUpperCase()}`);
      if (def.min !== undefined && n < BigInt(def.min)) return bad(`Value must be at least ${def.min}`);
      if (def.max !== undefined && n > BigInt(def.max)) return bad(`Value must be no more than ${def.max}`);
      break;
    }
    case 'double': {
      const n = Number(v);
      if (v === '' || Number.isNaN(n)) return bad('Not a number of type DOUBLE');
      if (def.min !== undefined && n < def.min) return bad(`Value must be at least ${def.min}`);
      if (def.max !== undefined && n > def.max) return bad(`Value must be no more than ${def.max}`);
      break;
    }
    case 'string':
      if (def.values && !def.values.includes(v)) return bad(`String must be one of: ${def.values.join(', ')}`);
      break;
    case 'list':
      if (def.values) {
        const items = v.split(',').map((s) => s.trim());
        for (const item of items) {
          if (!def.values.includes(item)) return bad(`Invalid value ${item} for configuration ${name}: String must be one of: ${def.values.join(', ')}`);
        }
      }
      break;
  }
  return null;
}

/** The value Kafka would show for a topic, with where it comes from. */
export interface EffectiveTopicConfig {
  name: string;
  value: string;
  isDefault: boolean;
  sensitive: boolean;
}

export function effectiveTopicConfigs(overrides: Record<string, string>): EffectiveTopicConfig[] {
  return Object.entries(TOPIC_CONFIG_DEFS)
    .map(([name, def]) => ({
      name,
      value: overrides[name] ?? def.default,
      isDefault: !(name in overrides),
      sensitive: def.type === 'password',
    }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}
