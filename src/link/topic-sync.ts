// Which source topic configs a mirror takes, and the sync of topic lists, partition counts and
// configs from the source (every metadataSyncIntervalMs of the link).
import { TOPIC_CONFIG_DEFS, validateTopicConfig } from '../config/topic-configs.ts';
import type { ConfigResourceResult } from './client/index.ts';

/**
 * Configs a mirror never takes from its source: they describe the source's replicas, placement and
 * tiering, which Strait's shared storage replaces, or they are the link's own business. The link's
 * configExclude adds to this list. Documented in docs/linking.md.
 */
export const CONFIGS_NEVER_SYNCED = [
  'min.insync.replicas',
  'unclean.leader.election.enable',
  'leader.replication.throttled.replicas',
  'follower.replication.throttled.replicas',
  'remote.storage.enable',
  'local.retention.ms',
  'local.retention.bytes',
  'remote.log.copy.disable',
  'remote.log.delete.on.disable',
  'preallocate',
  'segment.jitter.ms',
  'segment.index.bytes',
  'index.interval.bytes',
  'flush.messages',
  'flush.ms',
];

export interface SyncedConfigs {
  configs: Record<string, string>;
  /** Source overrides Strait does not know or refuses, with why. */
  skipped: { name: string; reason: string }[];
}

/** The topic-level overrides of a source topic (DescribeConfigs), minus what a mirror never takes. */
export function mirrorConfigs(described: ConfigResourceResult, extraExclude: readonly string[]): SyncedConfigs {
  const exclude = new Set([...CONFIGS_NEVER_SYNCED, ...extraExclude]);
  const out: SyncedConfigs = { configs: {}, skipped: [] };
  for (const c of described.configs) {
    if (c.source !== 'DYNAMIC_TOPIC_CONFIG' || c.value === null || exclude.has(c.name)) continue;
    if (!(c.name in TOPIC_CONFIG_DEFS)) {
      out.skipped.push({ name: c.name, reason: 'not a topic config Strait knows' });
      continue;
    }
    const problem = validateTopicConfig(c.name, c.value);
    if (problem) out.skipped.push({ name: c.name, reason: problem });
    else out.configs[c.name] = c.value;
  }
  return out;
}

export function sameConfigs(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
