// MirrorMaker 2 (Apache Kafka 4.3.1, dedicated mode: org.apache.kafka.connect.mirror.MirrorMaker)
// between two clusters, for benchmarks and tests that compare a Strait link with it. One
// source->target flow, every internal topic at replication factor 1, checkpoints and group offset
// sync every second, plugins found from their manifests; everything else is MirrorMaker's default
// (the benchmark measures MM2 as shipped). Runs from the jars scripts/install-test-deps.sh puts in
// .cache/kafka/libs (connect-mirror and connect-mirror-client, see test/java/pom.xml).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaLibsDir, log4jConfigPath } from '../compat/harness.ts';

/**
 * default: the copy of topic T is named `source.T` (DefaultReplicationPolicy, MM2's default).
 * identity: the copy keeps the name T (IdentityReplicationPolicy, KIP-690), as a Strait mirror does.
 */
export type ReplicationPolicy = 'default' | 'identity';

export interface Mm2Options {
  sourceBootstrap: string;
  targetBootstrap: string;
  /** Topics to mirror: MM2's `topics` setting (comma-separated names or regular expressions). */
  topics: string[];
  /** tasks.max of the source connector; give it the partition count to copy every partition in parallel. */
  tasksMax: number;
  replicationPolicy?: ReplicationPolicy;
  /** Extra or overriding mm2.properties entries (e.g. `source->target.producer.override.linger.ms`). */
  config?: Record<string, string>;
  jvmArgs?: string[];
}

export interface Mm2Handle {
  pid: number;
  /** The folder holding mm2.properties. */
  dir: string;
  /** The properties MirrorMaker was started with. */
  config: Record<string, string>;
  /** The name of the copy of a source topic on the target under the chosen policy. */
  targetTopic(sourceTopic: string): string;
  /** SIGTERM (MirrorMaker's shutdown hook stops the connectors), SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
  output(): string;
  exitStatus(): string | null;
}

const SOURCE_ALIAS = 'source';
const TARGET_ALIAS = 'target';
const outputCharsMax = 200_000;
const live = new Set<ChildProcess>();
const dirs = new Set<string>();
process.on('exit', () => {
  for (const child of live) killGroup(child, 'SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** The mm2.properties of one source->target flow. */
export function mm2Config(options: Mm2Options): Record<string, string> {
  const flow = `${SOURCE_ALIAS}->${TARGET_ALIAS}`;
  const policy = options.replicationPolicy ?? 'default';
  return {
    clusters: `${SOURCE_ALIAS}, ${TARGET_ALIAS}`,
    [`${SOURCE_ALIAS}.bootstrap.servers`]: options.sourceBootstrap,
    [`${TARGET_ALIAS}.bootstrap.servers`]: options.targetBootstrap,
    [`${flow}.enabled`]: 'true',
    [`${TARGET_ALIAS}->${SOURCE_ALIAS}.enabled`]: 'false',
    [`${flow}.topics`]: options.topics.join(','),
    'tasks.max': String(options.tasksMax),
    // Single-broker clusters: every topic MM2 creates (the copy and its internal topics) at rf 1.
    'replication.factor': '1',
    'checkpoints.topic.replication.factor': '1',
    'heartbeats.topic.replication.factor': '1',
    'offset-syncs.topic.replication.factor': '1',
    'offset.storage.replication.factor': '1',
    'status.storage.replication.factor': '1',
    'config.storage.replication.factor': '1',
    // Translate committed group offsets to the target (KIP-545), often, as a Strait link does.
    'sync.group.offsets.enabled': 'true',
    'sync.group.offsets.interval.seconds': '1',
    'emit.checkpoints.interval.seconds': '1',
    'emit.heartbeats.interval.seconds': '1',
    // Connect scans every jar on the classpath for plugins unless told that they all declare
    // themselves (ServiceLoader manifests), which Kafka's own warning recommends; the scan is about
    // 15 s of startup on two cores and has nothing to do with mirroring.
    'plugin.discovery': 'service_load',
    ...(policy === 'identity' ? { 'replication.policy.class': 'org.apache.kafka.connect.mirror.IdentityReplicationPolicy' } : {}),
    ...options.config,
  };
}

/**
 * Starts MirrorMaker 2 driving only the flows into the target cluster (`--clusters target`).
 * Resolves once the JVM is started; whether it copies is for the caller to watch on the target.
 * Stop it before the brokers it talks to, or its shutdown waits on them.
 */
export async function startMirrorMaker2(options: Mm2Options): Promise<Mm2Handle> {
  const dir = await mkdtemp(join(tmpdir(), 'strait-mm2-'));
  dirs.add(dir);
  const config = mm2Config(options);
  const propertiesPath = join(dir, 'mm2.properties');
  writeFileSync(propertiesPath, Object.entries(config).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n');
  const javaHome = process.env['JAVA_HOME'];
  const java = javaHome ? join(javaHome, 'bin', 'java') : 'java';
  const child = spawn(
    java,
    [
      ...(options.jvmArgs ?? ['-Xmx1g', '-XX:+UseG1GC']),
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${log4jConfigPath}`,
      '-cp',
      join(kafkaLibsDir, '*'),
      'org.apache.kafka.connect.mirror.MirrorMaker',
      propertiesPath,
      '--clusters',
      TARGET_ALIAS,
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  live.add(child);
  child.once('exit', () => live.delete(child));
  let output = '';
  const append = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-outputCharsMax);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', (error) => reject(new Error(`could not start MirrorMaker 2: ${error.message}`)));
  });
  const policy = options.replicationPolicy ?? 'default';
  return {
    pid: child.pid!,
    dir,
    config,
    targetTopic: (topic) => (policy === 'identity' ? topic : `${SOURCE_ALIAS}.${topic}`),
    stop: async (graceMs = 20_000) => {
      killGroup(child, 'SIGTERM');
      if (!(await exited(child, graceMs))) {
        killGroup(child, 'SIGKILL');
        await exited(child, 10_000);
      }
      await rm(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
    output: () => output,
    exitStatus: () => (child.exitCode !== null ? `exit code ${child.exitCode}` : child.signalCode !== null ? `signal ${child.signalCode}` : null),
  };
}
