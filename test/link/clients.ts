// Java test clients the link tests run as separate processes: Apache Kafka's VerifiableProducer
// (idempotent, acks=all) with JSON events, and checks over what VerifiableConsumers consumed.
import { kafkaJavaCommand } from '../compat/harness.ts';
import assert from 'node:assert/strict';
import { GroupMember, assertConsumedValues, gaps, mergeRanges, type Range } from '../compat/groups/members.ts';

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

/**
 * A group handed over from the `first` members to the `then` members: every offset below `ends`
 * read on one side or the other, none on both, and the records consumed add up to exactly the
 * offsets below `ends` (so none read twice on one side either). With `log` (value by
 * "partition/offset", as stored), every record a member printed has the stored value at its offset.
 */
export function assertHandedOver(first: GroupMember[], then: GroupMember[], ends: number[], log?: ReadonlyMap<string, string | null>): void {
  const all = [...first, ...then];
  assert.deepEqual(gaps(mergeRanges(all), ends), [], 'no record lost');
  assert.deepEqual(overlaps(mergeRanges(first), mergeRanges(then)), [], 'no record read on both sides');
  const counts = all.map((m) => `${m.name}: ${m.count()}`).join(', ');
  assert.equal(all.reduce((n, m) => n + m.count(), 0), ends.reduce((a, b) => a + b, 0), `every record consumed exactly once (${counts})`);
  if (log !== undefined) assert.ok(assertConsumedValues(all, log, true) > 0, 'some consumed records were checked by value');
}

/** A log read back as value by "partition/offset", for assertHandedOver and assertConsumedValues. */
export function logValues(records: readonly { p: number; o: number; v: string }[]): Map<string, string> {
  return new Map(records.map((r) => [`${r.p}/${r.o}`, r.v]));
}

/** The producer_send_success events of VerifiableProducers, as acknowledgements for verify() (test/faults/crash-produce.ts). */
export function acknowledged(...producers: GroupMember[]): { value: string; partition: number; offset: number }[] {
  return producers.flatMap((p) => p.events.filter((e) => e.name === 'producer_send_success').map((e) => ({ value: e.value as string, partition: e.partition as number, offset: e.offset as number })));
}
