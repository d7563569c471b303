// A single-node Apache Kafka 4.3.1 (KRaft, broker and controller in one JVM) that, unlike the
// compat harness's, can be stopped and started again on the same ports and data (the link client's
// reconnect test), has SSL, SASL_PLAINTEXT and SASL_SSL listeners (a throw-away self-signed
// certificate; PLAIN and SCRAM users) next to the PLAINTEXT one, and exposes its log folder so
// tests can compare fetched batches with the bytes on disk.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, kafkaLibsDir, kafkaVersion, log4jConfigPath, probeApiVersions, runCommand, runJava } from '../compat/harness.ts';
import { randomKafkaUuid } from '../../src/metadata/ids.ts';

export const SASL_USER = 'alice';
export const SASL_PASSWORD = 'alice-secret';

export interface KafkaNode {
  nodeId: number;
  clusterId: string;
  port: number;
  saslPort: number;
  sslPort: number;
  saslSslPort: number;
  bootstrap: string;
  saslBootstrap: string;
  sslBootstrap: string;
  saslSslBootstrap: string;
  /** PEM of the self-signed certificate the TLS listeners present (for 127.0.0.1). */
  certificatePem: string;
  /** Where partition folders live: `${logDir}/${topic}-${partition}/00000000000000000000.log`. */
  logDir: string;
  running(): boolean;
  /** Stops the broker (SIGTERM, SIGKILL after graceMs) and keeps its data. */
  stop(graceMs?: number): Promise<void>;
  /** Starts it again on the same ports and data. */
  start(): Promise<void>;
  /** Stops it for good and removes its data. */
  destroy(): Promise<void>;
  output(): string;
}

const outputCharsMax = 200_000;
const live = new Set<ChildProcess>();
const dirs = new Set<string>();
process.on('exit', () => {
  for (const child of live) killGroup(child, 'SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

export function kafkaInstalled(): boolean {
  return existsSync(join(kafkaLibsDir, `kafka-clients-${kafkaVersion}.jar`));
}

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

export async function startKafkaNode(extraConfig: Record<string, string> = {}): Promise<KafkaNode> {
  const nodeId = 1;
  const [port, saslPort, sslPort, saslSslPort, controllerPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const dir = await mkdtemp(join(tmpdir(), 'strait-link-kafka-'));
  dirs.add(dir);
  const tls = await makeKeystore(dir);
  const logDir = join(dir, 'data');
  const clusterId = randomKafkaUuid();
  const jaas = (module: string, options = ''): string => `${module} required${options};`;
  const config: Record<string, string> = {
    'process.roles': 'broker,controller',
    'node.id': String(nodeId),
    'controller.quorum.voters': `${nodeId}@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},SASL_PLAINTEXT://127.0.0.1:${saslPort},SSL://127.0.0.1:${sslPort},SASL_SSL://127.0.0.1:${saslSslPort},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port},SASL_PLAINTEXT://127.0.0.1:${saslPort},SSL://127.0.0.1:${sslPort},SASL_SSL://127.0.0.1:${saslSslPort}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT',
    'ssl.keystore.type': 'PKCS12',
    'ssl.keystore.location': tls.keystorePath,
    'ssl.keystore.password': tls.password,
    'ssl.key.password': tls.password,
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    ...Object.fromEntries(['sasl_plaintext', 'sasl_ssl'].flatMap((listener) => [
      [`listener.name.${listener}.plain.sasl.jaas.config`, jaas('org.apache.kafka.common.security.plain.PlainLoginModule', ` user_${SASL_USER}="${SASL_PASSWORD}"`)],
      [`listener.name.${listener}.scram-sha-256.sasl.jaas.config`, jaas('org.apache.kafka.common.security.scram.ScramLoginModule')],
      [`listener.name.${listener}.scram-sha-512.sasl.jaas.config`, jaas('org.apache.kafka.common.security.scram.ScramLoginModule')],
    ])),
    'log.dirs': logDir,
    'num.partitions': '1',
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '1',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    'group.initial.rebalance.delay.ms': '0',
    ...extraConfig,
  };
  const propertiesPath = join(dir, 'server.properties');
  writeFileSync(propertiesPath, Object.entries(config).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  const formatArgs = [
    'format', '-t', clusterId, '-c', propertiesPath,
    '--add-scram', `SCRAM-SHA-256=[name=${SASL_USER},password=${SASL_PASSWORD}]`,
    '--add-scram', `SCRAM-SHA-512=[name=${SASL_USER},password=${SASL_PASSWORD}]`,
  ];
  const format = await runJava('kafka.tools.StorageTool', formatArgs, { timeoutMs: 60_000 });
  if (format.code !== 0) throw new Error(`kafka-storage format failed:\n${format.stdout}\n${format.stderr}`);

  let child: ChildProcess | null = null;
  let output = '';
  const javaHome = process.env['JAVA_HOME'];
  const java = javaHome ? join(javaHome, 'bin', 'java') : 'java';

  const start = async (): Promise<void> => {
    const proc = spawn(java, [
      '-Xmx1g', '-XX:+UseG1GC', '-Djava.awt.headless=true', `-Dlog4j2.configurationFile=${log4jConfigPath}`,
      '-cp', join(kafkaLibsDir, '*'), 'kafka.Kafka', propertiesPath,
    ], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child = proc;
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    const append = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-outputCharsMax);
    };
    proc.stdout?.on('data', append);
    proc.stderr?.on('data', append);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`Apache Kafka exited before it was ready\n${output}`);
      if (await probeApiVersions(port)) return;
      if (Date.now() > deadline) throw new Error(`Apache Kafka was not ready after 60 s\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const stop = async (graceMs = 10_000): Promise<void> => {
    const proc = child;
    if (!proc) return;
    child = null;
    killGroup(proc, 'SIGTERM');
    if (!(await exited(proc, graceMs))) {
      killGroup(proc, 'SIGKILL');
      await exited(proc, 10_000);
    }
  };

  await start();
  return {
    nodeId,
    clusterId,
    port,
    saslPort,
    sslPort,
    saslSslPort,
    bootstrap: `127.0.0.1:${port}`,
    saslBootstrap: `127.0.0.1:${saslPort}`,
    sslBootstrap: `127.0.0.1:${sslPort}`,
    saslSslBootstrap: `127.0.0.1:${saslSslPort}`,
    certificatePem: tls.certificatePem,
    logDir,
    running: () => child !== null,
    stop,
    start,
    destroy: async () => {
      await stop(0);
      rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
    output: () => output,
  };
}

/** A self-signed certificate for 127.0.0.1 and a PKCS12 keystore holding it with its key (openssl). */
async function makeKeystore(dir: string): Promise<{ keystorePath: string; password: string; certificatePem: string }> {
  const password = randomBytes(12).toString('hex');
  const [keyPath, certPath, keystorePath] = ['tls-key.pem', 'tls-cert.pem', 'keystore.p12'].map((f) => join(dir, f)) as [string, string, string];
  const steps: string[][] = [
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=strait-link-test', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    ['pkcs12', '-export', '-in', certPath, '-inkey', keyPath, '-out', keystorePath, '-passout', `pass:${password}`, '-name', 'kafka'],
  ];
  for (const args of steps) {
    const r = await runCommand('openssl', args, { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`openssl ${args[0]} failed:\n${r.stderr}`);
  }
  return { keystorePath, password, certificatePem: readFileSync(certPath, 'utf8') };
}
