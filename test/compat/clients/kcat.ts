// Metadata flow with kcat (librdkafka's command-line client). kcat cannot create or delete
// topics, so kafkajs does those two steps; kcat lists and describes (`-L -J`) and confirms the
// deletion. The two error fields stay null: kcat has no admin requests to fail.
import { runKcat } from '../harness.ts';
import { describeWithKafkajs, kafkajsAdmin } from './kafkajs-admin.ts';
import {
  allLed,
  emptySummary,
  finishSummary,
  partitionSummary,
  pollFor,
  stillPresentAfter,
  type ClientFlow,
  type FlowOptions,
  type FlowSummary,
  type PartitionSummary,
} from '../flow-summary.ts';

interface KcatMetadata {
  controllerid: number;
  brokers: Array<{ id: number; name: string }>;
  topics: Array<{
    topic: string;
    error?: string;
    partitions: Array<{ partition: number; leader: number; error?: string; replicas: Array<{ id: number }>; isrs: Array<{ id: number }> }>;
  }>;
}

/** Runs `kcat -L -J` (optionally for one topic) and parses its JSON. */
export async function kcatMetadata(bootstrap: string, timeoutMs: number, topic?: string): Promise<KcatMetadata> {
  const args = ['-b', bootstrap, '-L', '-J', '-m', String(Math.ceil(timeoutMs / 1000))];
  if (topic !== undefined) args.push('-t', topic);
  const result = await runKcat(args, { timeoutMs: timeoutMs + 5000 });
  if (result.code !== 0) throw new Error(`kcat -L exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  return JSON.parse(result.stdout) as KcatMetadata;
}

function topicPartitions(metadata: KcatMetadata, topic: string): PartitionSummary[] {
  const found = metadata.topics.find((t) => t.topic === topic && t.error === undefined);
  if (found === undefined) return [];
  return found.partitions.map((p) =>
    partitionSummary(
      p.partition,
      p.leader,
      p.replicas.map((r) => r.id),
      p.isrs.map((r) => r.id),
    ),
  );
}

async function run(options: FlowOptions): Promise<FlowSummary> {
  const { bootstrap, topic, partitions, timeoutMs } = options;
  const summary = emptySummary('kcat', topic);
  const listed = async (): Promise<boolean> =>
    (await kcatMetadata(bootstrap, timeoutMs)).topics.some((t) => t.topic === topic);

  const admin = kafkajsAdmin(bootstrap);
  await admin.connect();
  try {
    if (!(await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }] }))) {
      throw new Error(`topic ${topic} already existed`);
    }
    summary.createdPartitions = partitions;
    // Wait until kafkajs sees every partition led, so that kcat's single look is not a race.
    await pollFor(
      async () => (allLed(await describeWithKafkajs(admin, topic).catch(() => []), partitions) ? true : undefined),
      timeoutMs,
      'leaders for every partition',
    );

    const metadata = await kcatMetadata(bootstrap, timeoutMs, topic);
    summary.brokers = metadata.brokers.map((b) => b.id);
    summary.partitions = topicPartitions(metadata, topic);
    summary.listedAfterCreate = await listed();

    await admin.deleteTopics({ topics: [topic], timeout: timeoutMs });
    summary.presentAfterDelete = await stillPresentAfter(listed, timeoutMs);
  } finally {
    await admin.disconnect();
  }
  return finishSummary(summary);
}

export const kcatFlow: ClientFlow = { client: 'kcat', sendsAdminRequests: false, run };
