// The group coordinator's settings, read from the broker configuration under Kafka's names.
import { ASSIGNOR_NAMES } from '../config/broker-config.ts';

export interface GroupCoordinatorConfig {
  /** group.initial.rebalance.delay.ms: the first rebalance of an empty classic group waits this long for more members. */
  initialRebalanceDelayMs: number;
  /** group.min.session.timeout.ms / group.max.session.timeout.ms: bounds of a classic member's session timeout. */
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  /** group.max.size: most members of a classic group. */
  classicGroupSizeMax: number;
  /** A new classic member's JoinGroup is answered UNKNOWN_MEMBER_ID after this long (Kafka's fixed 5 minutes). */
  newMemberJoinTimeoutMs: number;
  /** group.consumer.session.timeout.ms, group.consumer.heartbeat.interval.ms, group.consumer.max.size (KIP-848). */
  consumerSessionTimeoutMs: number;
  consumerHeartbeatIntervalMs: number;
  consumerGroupSizeMax: number;
  /** group.consumer.assignors as short names ('uniform', 'range'); the first is the default. */
  consumerAssignors: string[];
  /** offsets.retention.minutes in milliseconds. */
  offsetsRetentionMs: number;
  offsetsRetentionCheckIntervalMs: number;
  /** offset.metadata.max.bytes: longer commit metadata is refused with OFFSET_METADATA_TOO_LARGE. */
  offsetMetadataBytesMax: number;
}

export const NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60 * 1000;

/** Settings from the broker's effective values (BrokerConfig.values), falling back to Kafka's defaults. */
export function groupCoordinatorConfig(values: Record<string, string | null>): GroupCoordinatorConfig {
  const num = (key: string, fallback: number): number => {
    const v = values[key];
    return v === null || v === undefined ? fallback : Number(v);
  };
  const assignors = (values['group.consumer.assignors'] ?? 'uniform,range')
    .split(',')
    .map((s) => ASSIGNOR_NAMES[s.trim()])
    .filter((s): s is string => s !== undefined);
  return {
    initialRebalanceDelayMs: num('group.initial.rebalance.delay.ms', 3000),
    minSessionTimeoutMs: num('group.min.session.timeout.ms', 6000),
    maxSessionTimeoutMs: num('group.max.session.timeout.ms', 1_800_000),
    classicGroupSizeMax: num('group.max.size', 2_147_483_647),
    newMemberJoinTimeoutMs: NEW_MEMBER_JOIN_TIMEOUT_MS,
    consumerSessionTimeoutMs: num('group.consumer.session.timeout.ms', 45_000),
    consumerHeartbeatIntervalMs: num('group.consumer.heartbeat.interval.ms', 5000),
    consumerGroupSizeMax: num('group.consumer.max.size', 2_147_483_647),
    consumerAssignors: assignors.length > 0 ? assignors : ['uniform', 'range'],
    offsetsRetentionMs: num('offsets.retention.minutes', 10_080) * 60_000,
    offsetsRetentionCheckIntervalMs: num('offsets.retention.check.interval.ms', 600_000),
    offsetMetadataBytesMax: num('offset.metadata.max.bytes', 4096),
  };
}
