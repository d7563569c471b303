// Admin flow with Apache Kafka's own Java CLI tools (TopicCommand, BrokerApiVersionsCommand,
// ClusterTool), each run as its own JVM exactly as kafka-topics.sh would run it.
import { runJava, type RunResult } from '../harness.ts';
import {
  allLed,
  emptySummary,
  finishSummary,
  partitionSummary,
  pollFor,
  stillPresentAfter,
  type ApiVersionsSummary,
  type ClientFlow,
  type FlowOptions,
  type FlowSummary,
  type PartitionSummary,
} from '../flow-summary.ts';

const topicCommand = 'org.apache.kafka.tools.TopicCommand';
const nilTopicId = 'AAAAAAAAAAAAAAAAAAAAAA';

export interface TopicDescription {
  topicId: string | null;
  partitionCount: number | null;
  partitions: PartitionSummary[];
}

/** Parses `kafka-topics --describe` output (tab-separated `Key: value` fields). */
export function parseTopicDescribe(stdout: string): TopicDescription {
  const description: TopicDescription = { topicId: null, partitionCount: null, partitions: [] };
  const ids = (text: string | undefined): number[] =>
    text === undefined || text.trim() === '' ? [] : text.split(',').map((id) => Number(id.trim()));
  for (const line of stdout.split('\n')) {
    const fields = new Map<string, string>();
    for (const part of line.trim().split('\t')) {
      const colon = part.indexOf(':');
      if (colon > 0) fields.set(part.slice(0, colon).trim(), part.slice(colon + 1).trim());
    }
    if (fields.has('Partition')) {
      const leader = fields.get('Leader');
      description.partitions.push(
        partitionSummary(
          Number(fields.get('Partition')),
          leader === undefined || leader === 'none' ? -1 : Number(leader),
          ids(fields.get('Replicas')),
          ids(fields.get('Isr')),
        ),
      );
    } else if (fields.has('PartitionCount')) {
      description.topicId = fields.get('TopicId') ?? null;
      description.partitionCount = Number(fields.get('PartitionCount'));
    }
  }
  return description;
}

/**
 * Parses BrokerApiVersionsCommand output: per broker `host:port (id: 1 rack: ...) -> (` then one
 * `Name(key): min to max [usable: v]` (or `UNSUPPORTED`) line per API.
 */
export function parseBrokerApiVersions(stdout: string): { brokers: number[]; apis: Map<number, boolean> } {
  const brokers = [...stdout.matchAll(/\(id: (-?\d+) rack:/g)].map((m) => Number(m[1]));
  const apis = new Map<number, boolean>();
  for (const match of stdout.matchAll(/^\s*\w+\((\d+)\): (.*?),?$/gm)) {
    apis.set(Number(match[1]), !(match[2] ?? '').includes('UNSUPPORTED'));
  }
  return { brokers, apis };
}

function failed(result: RunResult, what: string): Error {
  return new Error(`${what} exited ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
}

async function run(options: FlowOptions): Promise<FlowSummary> {
  const { bootstrap, topic, partitions, timeoutMs } = options;
  const summary = emptySummary('kafka-java-tools', topic);
  const runOptions = { timeoutMs };
  const topics = (...args: string[]): Promise<RunResult> =>
    runJava(topicCommand, ['--bootstrap-server', bootstrap, ...args], runOptions);

  const versions = await runJava('org.apache.kafka.tools.BrokerApiVersionsCommand', ['--bootstrap-server', bootstrap], runOptions);
  if (versions.code !== 0) throw failed(versions, 'BrokerApiVersionsCommand');
  const parsed = parseBrokerApiVersions(versions.stdout);
  const apiVersions: ApiVersionsSummary = {
    metadata: parsed.apis.get(3) === true,
    createTopics: parsed.apis.get(19) === true,
    deleteTopics: parsed.apis.get(20) === true,
  };
  summary.apiVersions = apiVersions;
  summary.brokers = parsed.brokers;

  const cluster = await runJava('org.apache.kafka.tools.ClusterTool', ['cluster-id', '--bootstrap-server', bootstrap], runOptions);
  if (cluster.code !== 0) throw failed(cluster, 'ClusterTool cluster-id');
  summary.clusterId = /Cluster ID: (\S+)/.exec(cluster.stdout)?.[1] ?? null;

  const created = await topics('--create', '--topic', topic, '--partitions', String(partitions), '--replication-factor', '1');
  if (created.code !== 0 || !created.stdout.includes(`Created topic ${topic}.`)) throw failed(created, 'TopicCommand --create');
  summary.createdPartitions = partitions;

  const description = await pollFor(
    async () => {
      const described = await topics('--describe', '--topic', topic);
      if (described.code !== 0) return undefined;
      const parsedTopic = parseTopicDescribe(described.stdout);
      return allLed(parsedTopic.partitions, partitions) ? parsedTopic : undefined;
    },
    timeoutMs,
    'leaders for every partition',
  );
  summary.hasTopicId = description.topicId !== null && description.topicId !== nilTopicId;
  summary.partitions = description.partitions;
  if (description.partitionCount !== partitions) {
    throw new Error(`TopicCommand --describe says PartitionCount ${description.partitionCount}, not ${partitions}`);
  }

  const listTopics = async (): Promise<string[]> => {
    const listed = await topics('--list');
    if (listed.code !== 0) throw failed(listed, 'TopicCommand --list');
    return listed.stdout.split('\n').map((line) => line.trim());
  };
  summary.listedAfterCreate = (await listTopics()).includes(topic);

  const again = await topics('--create', '--topic', topic, '--partitions', String(partitions), '--replication-factor', '1');
  if (again.code !== 0) {
    summary.duplicateCreateError = again.stderr.includes('TopicExistsException') ? 'TOPIC_ALREADY_EXISTS' : again.stderr.trim();
  }

  const deleted = await topics('--delete', '--topic', topic);
  if (deleted.code !== 0) throw failed(deleted, 'TopicCommand --delete');
  summary.presentAfterDelete = await stillPresentAfter(async () => (await listTopics()).includes(topic), timeoutMs);

  // TopicCommand checks the topic list itself before deleting, so a missing topic is reported
  // from the broker's listing rather than from a DeleteTopics error code.
  const missing = await topics('--delete', '--topic', topic);
  if (missing.code !== 0) {
    summary.deleteMissingError = missing.stderr.includes('does not exist') ? 'UNKNOWN_TOPIC_OR_PARTITION' : missing.stderr.trim();
  }
  return finishSummary(summary);
}

export const javaToolsFlow: ClientFlow = { client: 'kafka-java-tools', sendsAdminRequests: true, run };
