// Java test clients the link tests run as separate processes: Apache Kafka's VerifiableProducer
// (idempotent, acks=all) with JSON events, and checks over what VerifiableConsumers consumed.
import { kafkaJavaCommand } from '../compat/harness.ts';
import assert from 'node:assert/strict';
import { GroupMember, gaps, mergeRanges, type Range } from '../compat/groups/members.ts';

/**
 * Apache Kafka's VerifiableProducer (acks=all), values "prefix.N". VerifiableProducer sets retries=0
 * itself; `producerConfig` (a producer.properties path) overrides that, e.g. for an idempotent
 * producer that retries through broker restarts (writeIdempotentConfig).
 */
export function verifiableProducer(name: string, bootstrap: string, topic: string, count: number, throughput: number, prefix: number, producerConfig?: string): GroupMember {
  const java = kafkaJavaCommand(
    'org.apache.kafka.tools.VerifiableProducer',
    [
      ...['--bootstrap-server', bootstrap, '--topic', topic, '--max-messages', String(count), '--throughput', String(throughput)],
      ...['--acks', '-1', '--repeating-keys', '30', '--value-prefix', String(prefix)],
      ...(producerConfig ? ['--command-config', producerConfig] : []),
    ],
    '192m',
  );
  return new GroupMember(name, java.command, java.args);
}

/** Records a VerifiableConsumer consumed, summed over its records_consumed events' partitions. */
export function consumedCount(m: GroupMember): number {
  return m.events.filter((e) => e.name === 'records_consumed').reduce((n, e) => n + e.partitions.reduce((k: number, p: { count: number }) => k + p.count, 0), 0);
}

/** Offset ranges consumed on both sides: each is a record read twice. */
function overlaps(a: Map<number, Range[]>, b: Map<number, Range[]>): string[] {
  const out: string[] = [];
  for (const [p, ra] of a) for (const [lo, hi] of ra) for (const [lo2, hi2] of b.get(p) ?? []) if (lo <= hi2 && lo2 <= hi) out.push(`p${p}: [${lo},${hi}] and [${lo2},${hi2}]`);
  return out;
}

/** A group handed over from the `first` members to the `then` members: every offset below `ends` read on one side or the other, none on both. */
export function assertHandedOver(first: GroupMember[], then: GroupMember[], ends: number[]): void {
  assert.deepEqual(gaps(mergeRanges([...first, ...then]), ends), [], 'no record lost');
  assert.deepEqual(overlaps(mergeRanges(first), mergeRanges(then)), [], 'no record read on both sides');
}
