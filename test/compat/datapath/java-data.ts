// Compiles and runs test/java/src/main/java/io/strait/test/DataClient.java (KafkaProducer and
// KafkaConsumer in assign mode) against Apache Kafka 4.3.1's jars (compiled once by java-program.ts).
import { join } from 'node:path';
import { kafkaLibsDir, log4jConfigPath, runCommand, type RunOptions, type RunResult } from '../harness.ts';
import { compileJavaProgram, javaBin } from '../java-program.ts';

/** Compiles DataClient once per process (and once per source change across runs); resolves the class folder. */
export function compileDataClient(): Promise<string> {
  return compileJavaProgram('DataClient');
}

/** JVM flags for a short-lived client: quick start, small heap (records near 1 MiB need some room). */
const jvmArgs = ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto', '-Xmx512m'];

/** Runs a main class with DataClient's classes and Kafka's jars on the class path. */
export async function runDataJava(mainClass: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const classes = await compileDataClient();
  const classpath = `${classes}:${join(kafkaLibsDir, '*')}`;
  return runCommand(javaBin('java'), [...jvmArgs, `-Dlog4j2.configurationFile=${log4jConfigPath}`, '-cp', classpath, mainClass, ...args], options);
}
