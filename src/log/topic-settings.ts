// The topic configs the log consults on every append, parsed once per config change.
import { TOPIC_CONFIG_DEFS } from '../config/topic-configs.ts';

export interface TopicSettings {
  maxMessageBytes: number;
  logAppendTime: boolean;
  timestampBeforeMaxMs: number;
  timestampAfterMaxMs: number;
  compacted: boolean;
  deleteRetention: boolean;
  retentionMs: number;
  retentionBytes: number;
  deleteRetentionMs: number;
  minCompactionLagMs: number;
  maxCompactionLagMs: number;
  minCleanableDirtyRatio: number;
}

export function topicSettings(overrides: Record<string, string>): TopicSettings {
  const get = (name: string) => overrides[name] ?? TOPIC_CONFIG_DEFS[name]!.default;
  const num = (name: string) => Math.min(Number(get(name)), Number.MAX_SAFE_INTEGER);
  const policy = get('cleanup.policy').split(',').map((s) => s.trim());
  return {
    maxMessageBytes: num('max.message.bytes'),
    logAppendTime: get('message.timestamp.type') === 'LogAppendTime',
    timestampBeforeMaxMs: num('message.timestamp.before.max.ms'),
    timestampAfterMaxMs: num('message.timestamp.after.max.ms'),
    compacted: policy.includes('compact'),
    deleteRetention: policy.includes('delete'),
    retentionMs: num('retention.ms'),
    retentionBytes: num('retention.bytes'),
    deleteRetentionMs: num('delete.retention.ms'),
    minCompactionLagMs: num('min.compaction.lag.ms'),
    maxCompactionLagMs: num('max.compaction.lag.ms'),
    minCleanableDirtyRatio: Number(get('min.cleanable.dirty.ratio')),
  };
}
