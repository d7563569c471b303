// A consumer-group member built on kafkajs for the group compatibility tests. It joins a group,
// consumes a topic and commits after every batch, printing one JSON event per line in the shape of
// Apache Kafka's VerifiableConsumer --verbose (partitions_assigned, partitions_revoked, record_data,
// records_consumed, offsets_committed). kafkajs rebalances eagerly: every new generation revokes everything and assigns
// the new set. SIGTERM disconnects the consumer, which leaves the group.
//
//   node test/compat/groups/kafkajs-member.ts BOOTSTRAP TOPIC GROUP [SESSION_TIMEOUT_MS]
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;
const [bootstrap, topic, groupId, sessionTimeoutArg] = process.argv.slice(2);
if (!bootstrap || !topic || !groupId) {
  process.stderr.write('usage: kafkajs-member.ts BOOTSTRAP TOPIC GROUP [SESSION_TIMEOUT_MS]\n');
  process.exit(2);
}
const sessionTimeout = Number(sessionTimeoutArg ?? 6000);

function emit(name: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ name, timestamp: Date.now(), ...fields }) + '\n');
}

const kafka = new Kafka({ clientId: 'kafkajs-member', brokers: [bootstrap], logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({ groupId, sessionTimeout, heartbeatInterval: Math.max(100, Math.floor(sessionTimeout / 6)), rebalanceTimeout: 20_000 });
let held: number[] = [];
consumer.on(consumer.events.GROUP_JOIN, (e: any) => {
  const next = ((e.payload.memberAssignment[topic] ?? []) as number[]).slice().sort((a, b) => a - b);
  if (held.length) emit('partitions_revoked', { partitions: held.map((partition) => ({ topic, partition })) });
  held = next;
  emit('partitions_assigned', { partitions: next.map((partition) => ({ topic, partition })) });
});

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  void consumer.disconnect().then(() => {
    emit('shutdown_complete');
    process.exit(0);
  });
});

await consumer.connect();
await consumer.subscribe({ topics: [topic], fromBeginning: true });
emit('startup_complete');
await consumer.run({
  autoCommit: false,
  eachBatch: async ({ batch, heartbeat }) => {
    if (batch.messages.length === 0) return;
    // One record_data event per record, as VerifiableConsumer --verbose prints, so the tests check values too.
    for (const m of batch.messages) emit('record_data', { topic, partition: batch.partition, offset: Number(m.offset), key: m.key?.toString() ?? null, value: m.value?.toString() ?? null });
    const offsets = batch.messages.map((m) => Number(m.offset));
    const min = Math.min(...offsets);
    const max = Math.max(...offsets);
    emit('records_consumed', { count: offsets.length, partitions: [{ topic, partition: batch.partition, count: offsets.length, minOffset: min, maxOffset: max }] });
    const next = String(max + 1);
    try {
      await consumer.commitOffsets([{ topic, partition: batch.partition, offset: next }]);
      emit('offsets_committed', { offsets: [{ topic, partition: batch.partition, offset: max + 1 }], success: true });
    } catch (err) {
      emit('offsets_committed', { offsets: [{ topic, partition: batch.partition, offset: max + 1 }], success: false, error: String(err) });
      throw err;
    }
    await heartbeat();
  },
});
