// Java test clients the link tests run as separate processes: Apache Kafka's VerifiableProducer
// (idempotent, acks=all) with JSON events, and checks over what VerifiableConsumers consumed.
import { join } from 'node:path';
import { kafkaLibsDir, log4jConfigPath } from '../compat/harness.ts';
import { GroupMember, type Range } from '../compat/groups/members.ts';

/**
 * Apache Kafka's VerifiableProducer (acks=all), values "prefix.N". VerifiableProducer sets retries=0
 * itself; `producerConfig` (a producer.properties path) overrides that, e.g. for an idempotent
 * producer that retries through broker restarts (writeIdempotentConfig).
 */
export function verifiableProducer(name: string, bootstrap: string, topic: string, count: number, throughput: number, prefix: number, producerConfig?: string): GroupMember {
  const javaHome = process.env['JAVA_HOME'];
  return new GroupMember(name, javaHome ? join(javaHome, 'bin', 'java') : 'java', [
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-Xmx192m',
    `-Dlog4j2.configurationFile=${log4jConfigPath}`,
    '-cp',
    join(kafkaLibsDir, '*'),
    'org.apache.kafka.tools.VerifiableProducer',
    '--bootstrap-server',
    bootstrap,
    '--topic',
    topic,
    '--max-messages',
    String(count),
    '--throughput',
    String(throughput),
    '--acks',
    '-1',
    '--repeating-keys',
    '30',
    '--value-prefix',
    String(prefix),
    ...(producerConfig ? ['--producer.config', producerConfig] : []),
  ]);
}

/** Records a VerifiableConsumer consumed, summed over its records_consumed events' partitions. */
export function consumedCount(m: GroupMember): number {
  return m.events.filter((e) => e.name === 'records_consumed').reduce((n, e) => n + e.partitions.reduce((k: number, p: { count: number }) => k + p.count, 0), 0);
}

/** Offset ranges consumed on both sides: each is a record read twice. */
export function overlaps(a: Map<number, Range[]>, b: Map<number, Range[]>): string[] {
  const out: string[] = [];
  for (const [p, ra] of a) for (const [lo, hi] of ra) for (const [lo2, hi2] of b.get(p) ?? []) if (lo <= hi2 && lo2 <= hi) out.push(`p${p}: [${lo},${hi}] and [${lo2},${hi2}]`);
  return out;
}
