// Compiles and runs test/java/src/main/java/io/strait/test/TxnClient.java (transactional producers,
// consume-transform-produce, read_committed consumers in assign mode) against Apache Kafka 4.3.1's
// jars, for the transaction compatibility tests (compiled once by java-program.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { kafkaLibsDir, log4jConfigPath, repoRoot, runCommand, runJava, type RunResult } from './harness.ts';
import { compileJavaProgram, javaBin } from './java-program.ts';

const jvmArgs = ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto', '-Xmx256m'];

export function compileTxnClient(): Promise<string> {
  return compileJavaProgram('TxnClient');
}

async function javaArgs(command: string, options: Record<string, string | number>): Promise<string[]> {
  const classes = await compileTxnClient();
  const args = [...jvmArgs, `-Dlog4j2.configurationFile=${log4jConfigPath}`, '-cp', `${classes}:${join(kafkaLibsDir, '*')}`, 'io.strait.test.TxnClient', command];
  for (const [k, v] of Object.entries(options)) args.push(`--${k}`, String(v));
  return args;
}

/** The JSON lines a TxnClient command printed. */
export function jsonLines(r: RunResult): any[] {
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

/** Runs a TxnClient command to completion; throws with its output unless it exits 0. */
export async function txnClient(command: string, options: Record<string, string | number>, timeoutMs = 120_000): Promise<any[]> {
  const r = await runCommand(javaBin('java'), await javaArgs(command, options), { timeoutMs });
  if (r.code !== 0) throw new Error(`TxnClient ${command} exited ${r.code}\nstdout:\n${r.stdout.slice(-4000)}\nstderr:\n${r.stderr.slice(-4000)}`);
  return jsonLines(r);
}

export interface RunningCopier {
  child: ChildProcess;
  /** Committed transactions reported so far. */
  txns(): number;
  output(): string;
  exited: Promise<number | null>;
  kill(): void;
}

/** Starts `TxnClient copy` without waiting for it (the long test kills the broker under it). */
export async function startCopier(options: Record<string, string | number>): Promise<RunningCopier> {
  const child = spawn(javaBin('java'), await javaArgs('copy', options), { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let txns = 0;
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    txns = (out.match(/"txn":/g) ?? []).length;
    if (out.length > 1_000_000) out = out.slice(-500_000);
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    txns: () => txns,
    output: () => out,
    exited,
    kill: () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    },
  };
}

/** Creates topics with Kafka's own TopicCommand. */
export async function createTopics(bootstrap: string, topics: { name: string; partitions: number }[]): Promise<void> {
  for (const t of topics) {
    const r = await runJava('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', bootstrap, '--create', '--topic', t.name, '--partitions', String(t.partitions), '--replication-factor', '1']);
    if (r.code !== 0) throw new Error(`creating ${t.name} failed:\n${r.stdout}\n${r.stderr}`);
  }
}

/** read_committed (or read_uncommitted) records of a topic as "p/o/k/v" strings, partition by partition. */
export async function readTopic(bootstrap: string, topic: string, partitions: number, isolation = 'read_committed'): Promise<{ records: { p: number; o: number; k: string; v: string }[]; end: Record<string, number> }> {
  const lines = await txnClient('read', { bootstrap, topic, partitions, isolation });
  const summary = lines[lines.length - 1];
  const records = lines.filter((l) => 'o' in l).sort((a, b) => a.p - b.p || a.o - b.o);
  return { records, end: summary.end };
}

export async function groupOffsets(bootstrap: string, group: string): Promise<Record<string, string>> {
  const lines = await txnClient('offsets', { bootstrap, group });
  return lines[lines.length - 1].offsets;
}
