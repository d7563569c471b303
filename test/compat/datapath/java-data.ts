// Compiles and runs test/java/src/main/java/io/strait/test/DataClient.java (KafkaProducer and
// KafkaConsumer in assign mode) against Apache Kafka 4.3.1's jars. The compiled classes are kept
// in .cache/data-client/classes-HASH (HASH of the source and the jar names), so only the first run
// after a change pays for javac.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, kafkaLibsDir, log4jConfigPath, repoRoot, runCommand, type RunOptions, type RunResult } from '../harness.ts';

const sourceDir = join(repoRoot, 'test', 'java', 'src', 'main', 'java', 'io', 'strait', 'test');
const sources = ['DataClient.java'].map((name) => join(sourceDir, name));
const workDir = join(cacheDir, 'data-client');
const installHint = 'run scripts/install-test-deps.sh (Kafka 4.3.1 jars in .cache/kafka/libs; a JDK 17+ with javac on PATH)';

function javaBin(name: 'java' | 'javac'): string {
  const home = process.env['JAVA_HOME'];
  return home !== undefined && home !== '' ? join(home, 'bin', name) : name;
}

let compiled: Promise<string> | undefined;

/** Compiles DataClient once per process (and once per source change across runs); resolves the class folder. */
export function compileDataClient(): Promise<string> {
  compiled ??= compile();
  return compiled;
}

async function compile(): Promise<string> {
  if (!existsSync(kafkaLibsDir)) throw new Error(`${kafkaLibsDir} is missing: ${installHint}`);
  const jars = readdirSync(kafkaLibsDir).filter((j) => j.endsWith('.jar')).sort();
  const hash = createHash('sha256');
  for (const source of sources) hash.update(readFileSync(source));
  const dir = join(workDir, `classes-${hash.update(jars.join('\n')).digest('hex').slice(0, 16)}`);
  if (existsSync(join(dir, 'io', 'strait', 'test', 'DataClient.class'))) return dir;
  mkdirSync(workDir, { recursive: true });
  for (const old of readdirSync(workDir)) {
    if (old.startsWith('classes-')) rmSync(join(workDir, old), { recursive: true, force: true });
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const result = await runCommand(javaBin('javac'), ['-encoding', 'UTF-8', '-nowarn', '-d', tmp, '-cp', join(kafkaLibsDir, '*'), ...sources], {
    timeoutMs: 120_000,
  });
  if (result.code !== 0) throw new Error(`javac failed (${installHint}):\n${result.stdout}\n${result.stderr}`);
  renameSync(tmp, dir);
  return dir;
}

/** JVM flags for a short-lived client: quick start, small heap (records near 1 MiB need some room). */
const jvmArgs = ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto', '-Xmx512m'];

/** Runs a main class with DataClient's classes and Kafka's jars on the class path. */
export async function runDataJava(mainClass: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const classes = await compileDataClient();
  const classpath = `${classes}:${join(kafkaLibsDir, '*')}`;
  return runCommand(javaBin('java'), [...jvmArgs, `-Dlog4j2.configurationFile=${log4jConfigPath}`, '-cp', classpath, mainClass, ...args], options);
}
