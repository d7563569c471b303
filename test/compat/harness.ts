// Test harness for compatibility tests: starts brokers (Apache Kafka from the .cache jars, or
// Strait from src/) and MinIO (the S3-compatible server the object store is tested against) on
// free 127.0.0.1 ports and runs the real third-party clients that scripts/install-test-deps.sh
// installs. Every process it starts is in its own process group and
// is killed when the test process exits, even if a test forgot to stop it.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomKafkaUuid } from '../../src/metadata/ids.ts';

import { freePort } from '../helpers/ports.ts';
export { freePort };
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const cacheDir = join(repoRoot, '.cache');
export const kafkaLibsDir = join(cacheDir, 'kafka', 'libs');
export const venvPython = join(cacheDir, 'venv', 'bin', 'python');
export const franzClientPath = join(cacheDir, 'bin', 'franz-client');
export const minioPath = join(cacheDir, 'bin', 'minio');
export const log4jConfigPath = join(repoRoot, 'test', 'java', 'log4j2.properties');
export const kafkaVersion = '4.3.1';

const installHint = 'run scripts/install-test-deps.sh to install the compatibility-test dependencies';
const outputBytesMax = 1024 * 1024;
const probeIntervalMs = 50;

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  timeoutMs?: number;
  env?: Record<string, string>;
  cwd?: string;
  input?: string;
}

export interface BrokerHandle {
  port: number;
  bootstrap: string;
  stop(): Promise<void>;
  /** The last part of what the broker process printed (stdout and stderr interleaved). */
  output(): string;
  /** null while the broker process runs, else how it ended ("exit code 1", "signal SIGKILL"). */
  exitStatus(): string | null;
}

export interface KafkaHandle extends BrokerHandle {
  nodeId: number;
  clusterId: string;
  dir: string;
}

export interface StraitHandle extends BrokerHandle {
  dataDir: string;
  proc: ChildProcess;
  kill9(): Promise<void>;
  /** Port of the HTTP admin API and /metrics; throws if options.args disabled it (empty http.listener). */
  readonly httpPort: number;
  /** http://127.0.0.1:PORT, for `strait link --admin` and fetch(); throws like httpPort when disabled. */
  readonly adminUrl: string;
}

export interface StartKafkaOptions {
  nodeId?: number;
  /** Extra or overriding server.properties entries. */
  config?: Record<string, string>;
  readyTimeoutMs?: number;
}

export interface StartStraitOptions {
  args?: string[];
  env?: Record<string, string>;
  /** Reuse a data folder (to restart on the same data); it is then never removed by the harness. */
  dataDir?: string;
  /** Listen on this port instead of a free one (a restart where clients expect the same address). */
  port?: number;
  /** The HTTP admin API's port, likewise (else a free one); not with an http.listener in args. */
  httpPort?: number;
  readyTimeoutMs?: number;
  /** Run the Strait of another checkout of this repository (a git worktree of an older commit, for a
   *  benchmark against it) instead of this one; it must have node_modules. */
  root?: string;
}

// Processes and temporary folders to remove if the test process ends without stopping them.
const liveGroups = new Set<number>();
const tempDirs = new Set<string>();
process.on('exit', () => {
  for (const pid of liveGroups) killGroup(pid, 'SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
// Node's test runner turns SIGINT/SIGTERM into process.exit(), which runs the hook above. A plain
// script using the harness would die of the signal without it, leaving brokers running in their
// own process groups; so where nobody else handles the signal, exit the same way.
let signalsHooked = false;
function exitOnSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    if (process.listenerCount(signal) === 0) process.once(signal, () => process.exit(code));
  }
}


/** Keeps the last outputBytesMax characters a process printed, for error messages. */
class OutputTail {
  text = '';
  append(chunk: Buffer | string): void {
    this.text += chunk.toString();
    if (this.text.length > outputBytesMax) this.text = this.text.slice(-outputBytesMax);
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** Spawns a command in its own process group, so killing it also kills what it started. */
function spawnGroup(command: string, args: string[], options: SpawnOptions): ChildProcess {
  exitOnSignals();
  const child = spawn(command, args, { ...options, detached: true });
  if (child.pid !== undefined) {
    const pid = child.pid;
    liveGroups.add(pid);
    child.once('exit', () => liveGroups.delete(pid));
  }
  return child;
}

function exitStatusOf(child: ChildProcess): string | null {
  if (child.exitCode !== null) return `exit code ${child.exitCode}`;
  if (child.signalCode !== null) return `signal ${child.signalCode}`;
  return null;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Runs a command to completion; throws if it cannot start or outlives its timeout. */
export function runCommand(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawnGroup(command, args, {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, ...options.env },
      // No input: stdin is /dev/null. A pipe that nobody reads fails with EPIPE once a quick
      // command (kcat -l reads a file) has exited, and that error would fail the test (seen in CI).
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const stdout = new OutputTail();
    const stderr = new OutputTail();
    child.stdout?.on('data', (chunk: Buffer) => stdout.append(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.append(chunk));
    // A command may exit without reading all its input; its exit code says whether that was right.
    child.stdin?.on('error', () => {});
    child.stdin?.end(options.input);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${command}: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const shown = `${command} ${args.join(' ')}`;
      if (timedOut) {
        reject(new Error(`${shown} timed out after ${timeoutMs} ms\nstdout:\n${stdout.text}\nstderr:\n${stderr.text}`));
      } else {
        resolve({ code: code ?? (signal === null ? -1 : 128), stdout: stdout.text, stderr: stderr.text });
      }
    });
  });
}

function requireInstalled(path: string, what: string): void {
  if (!existsSync(path)) throw new Error(`${what} is not installed (${path} is missing): ${installHint}`);
}

function javaCommand(): string {
  const javaHome = process.env['JAVA_HOME'];
  return javaHome !== undefined && javaHome !== '' ? join(javaHome, 'bin', 'java') : 'java';
}

function kafkaClasspath(): string {
  requireInstalled(join(kafkaLibsDir, `kafka-clients-${kafkaVersion}.jar`), `Apache Kafka ${kafkaVersion}`);
  return join(kafkaLibsDir, '*');
}

/**
 * The command line that runs a main class from Apache Kafka's jars as a test client process (a
 * VerifiableProducer or VerifiableConsumer the test spawns and reads events from): quick start,
 * quiet logs, `heap` of memory at most.
 */
export function kafkaJavaCommand(mainClass: string, args: string[], heap = '256m'): { command: string; args: string[] } {
  return {
    command: javaCommand(),
    args: ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', `-Xmx${heap}`, `-Dlog4j2.configurationFile=${log4jConfigPath}`, '-cp', kafkaClasspath(), mainClass, ...args],
  };
}

/** JVM flags that make a short-lived CLI tool start quickly and log quietly. */
const cliJvmArgs = ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto', '-Xmx256m'];

export interface RunJavaOptions extends RunOptions {
  jvmArgs?: string[];
}

/** Runs a main class from Apache Kafka's jars, e.g. org.apache.kafka.tools.TopicCommand. */
export function runJava(mainClass: string, args: string[], options: RunJavaOptions = {}): Promise<RunResult> {
  const jvmArgs = [
    ...(options.jvmArgs ?? cliJvmArgs),
    `-Dlog4j2.configurationFile=${log4jConfigPath}`,
    '-cp',
    kafkaClasspath(),
  ];
  return runCommand(javaCommand(), [...jvmArgs, mainClass, ...args], options);
}

function commandOnPath(name: string): boolean {
  const path = process.env['PATH'] ?? '';
  return path.split(':').some((dir) => dir !== '' && existsSync(join(dir, name)));
}

export function runKcat(args: string[], options: RunOptions = {}): Promise<RunResult> {
  if (!commandOnPath('kcat')) throw new Error(`kcat is not installed (not on PATH): ${installHint}`);
  return runCommand('kcat', args, options);
}

/** Runs a Python script with the venv's interpreter (confluent-kafka, kafka-python, codecs). */
export function runPython(scriptPath: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  requireInstalled(venvPython, 'The Python client venv');
  return runCommand(venvPython, [scriptPath, ...args], { ...options, env: { PYTHONUNBUFFERED: '1', ...options.env } });
}

export function runFranz(args: string[], options: RunOptions = {}): Promise<RunResult> {
  requireInstalled(franzClientPath, 'The franz-go client');
  return runCommand(franzClientPath, args, options);
}

/** Parses the last line of a client's stdout that is a JSON object; throws with the output if none. */
export function lastJsonLine(result: RunResult, what: string): unknown {
  const lines = result.stdout.trim().split('\n').reverse();
  for (const line of lines) {
    if (line.startsWith('{')) return JSON.parse(line);
  }
  throw new Error(`${what} printed no JSON (exit ${result.code})\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
}

/** Resolves once 127.0.0.1:port accepts a TCP connection. */
function tryConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Sends ApiVersions v0 (the request every client sends first) and resolves true when the
 * broker answers it with error code 0, i.e. it is serving requests, not merely listening.
 */
export function probeApiVersions(port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const clientId = Buffer.from('strait-harness');
    const correlationId = 0x5354;
    const request = Buffer.alloc(4 + 2 + 2 + 4 + 2 + clientId.length);
    request.writeInt32BE(request.length - 4, 0);
    request.writeInt16BE(18, 4); // ApiVersions
    request.writeInt16BE(0, 6);
    request.writeInt32BE(correlationId, 8);
    request.writeInt16BE(clientId.length, 12);
    clientId.copy(request, 14);
    let received = Buffer.alloc(0);
    const socket = createConnection({ host: '127.0.0.1', port });
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 10) return;
      finish(received.readInt32BE(4) === correlationId && received.readInt16BE(8) === 0);
    });
    socket.once('error', () => finish(false));
    socket.once('close', () => finish(false));
  });
}

async function waitUntil(
  ready: () => Promise<boolean>,
  child: ChildProcess,
  output: OutputTail,
  what: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready\n${output.text}`);
    }
    if (await ready()) return;
    if (Date.now() > deadline) throw new Error(`${what} was not ready after ${timeoutMs} ms\n${output.text}`);
    await new Promise((resolve) => setTimeout(resolve, probeIntervalMs));
  }
}

/** Starts a single-node KRaft Apache Kafka (broker and controller in one JVM). About 3 to 6 s. */
export async function startApacheKafka(options: StartKafkaOptions = {}): Promise<KafkaHandle> {
  const classpath = kafkaClasspath();
  const nodeId = options.nodeId ?? 1;
  const [port, controllerPort] = [await freePort(), await freePort()];
  const dir = await mkdtemp(join(tmpdir(), 'strait-kafka-'));
  tempDirs.add(dir);
  const clusterId = randomKafkaUuid();
  const config: Record<string, string> = {
    'process.roles': 'broker,controller',
    'node.id': String(nodeId),
    'controller.quorum.voters': `${nodeId}@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': join(dir, 'data'),
    'num.partitions': '1',
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '5',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '5',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    'group.initial.rebalance.delay.ms': '0',
    ...options.config,
  };
  const propertiesPath = join(dir, 'server.properties');
  writeFileSync(propertiesPath, Object.entries(config).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  const handle = { dir, clusterId, nodeId, port, bootstrap: `127.0.0.1:${port}` };
  const removeDir = async (): Promise<void> => {
    await rm(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  };

  try {
    const format = await runJava('kafka.tools.StorageTool', ['format', '-t', clusterId, '-c', propertiesPath], {
      timeoutMs: 60_000,
    });
    if (format.code !== 0) throw new Error(`kafka-storage format failed:\n${format.stdout}\n${format.stderr}`);
  } catch (error) {
    await removeDir();
    throw error;
  }

  const output = new OutputTail();
  const child = spawnGroup(
    javaCommand(),
    [
      '-Xmx1g',
      '-XX:+UseG1GC',
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${log4jConfigPath}`,
      '-cp',
      classpath,
      'kafka.Kafka',
      propertiesPath,
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (chunk: Buffer) => output.append(chunk));
  child.stderr?.on('data', (chunk: Buffer) => output.append(chunk));

  // Data is thrown away with the folder, so there is no need for a graceful shutdown.
  const stop = async (): Promise<void> => {
    if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
    await waitForExit(child, 10_000);
    await removeDir();
  };
  try {
    await waitUntil(() => probeApiVersions(port), child, output, `Apache Kafka ${kafkaVersion}`, options.readyTimeoutMs ?? 60_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { ...handle, stop, output: () => output.text, exitStatus: () => exitStatusOf(child) };
}

/**
 * The http.listener value set by startStrait's caller, in any of the forms the CLI takes
 * (--http-listener V, --http-listener=V, --set http.listener=V), or by STRAIT_HTTP_LISTENER.
 */
function httpListenerIn(options: StartStraitOptions): string | undefined {
  const args = options.args ?? [];
  let value: string | undefined = options.env?.['STRAIT_HTTP_LISTENER'];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--http-listener' || arg === '--set') {
      const next = args[++i] ?? '';
      if (arg === '--http-listener') value = next;
      else if (next.startsWith('http.listener=')) value = next.slice('http.listener='.length);
    } else if (arg.startsWith('--http-listener=')) value = arg.slice('--http-listener='.length);
    else if (arg.startsWith('--set=http.listener=')) value = arg.slice('--set=http.listener='.length);
  }
  return value;
}

/** Port of a host:port http.listener value: null when empty (disabled), 0 when the OS picks it. */
function httpListenerPort(value: string): number | null {
  if (value.trim() === '') return null;
  const m = /:(\d+)$/.exec(value.trim());
  if (!m) throw new Error(`startStrait: http.listener '${value}' is not host:port`);
  return Number(m[1]);
}

/** How long startStrait waits for the admin API of a broker that does not log 'broker started'. */
const httpReadyGraceMs = 3_000;

/**
 * Waits for the HTTP admin API after the Kafka port is up: it is ready once it accepts connections
 * or once the broker logged 'broker started' (which comes after the HTTP listener is bound). A port
 * chosen by the OS is read from that line's `http` field.
 */
async function waitForHttp(expected: number, child: ChildProcess, output: OutputTail, timeoutMs: number): Promise<number> {
  const started = () => output.text.includes('"msg":"broker started"');
  if (expected === 0) {
    let port = 0;
    await waitUntil(
      async () => {
        const m = /"msg":"broker started".*?"http":"http:\/\/[^"]*:(\d+)"/.exec(output.text);
        if (m) port = Number(m[1]);
        return port > 0;
      },
      child,
      output,
      "Strait's HTTP admin API address (the 'broker started' log line, at log.level info)",
      timeoutMs,
    );
    return port;
  }
  const deadline = Date.now() + httpReadyGraceMs;
  while (!started() && !(await tryConnect(expected)) && Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, probeIntervalMs));
  }
  return expected;
}

/**
 * Starts Strait from this repository: `node src/cli/main.ts start --listeners PLAINTEXT://127.0.0.1:PORT
 * --data-dir DIR --http-listener 127.0.0.1:HTTP_PORT`, ready when it answers ApiVersions
 * (and the admin API, see waitForHttp).
 */
export async function startStrait(options: StartStraitOptions = {}): Promise<StraitHandle> {
  const port = options.port ?? (await freePort());
  const callerHttpListener = httpListenerIn(options);
  if (callerHttpListener !== undefined && options.httpPort !== undefined) {
    throw new Error('startStrait: give either options.httpPort or an http.listener setting, not both');
  }
  let httpPort: number | null = callerHttpListener === undefined ? (options.httpPort ?? (await freePort())) : httpListenerPort(callerHttpListener);
  const ownDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'strait-data-'));
  if (ownDataDir) tempDirs.add(dataDir);
  const root = options.root ?? repoRoot;
  const args = [
    join(root, 'src', 'cli', 'main.ts'),
    'start',
    '--listeners',
    `PLAINTEXT://127.0.0.1:${port}`,
    '--data-dir',
    dataDir,
    ...(callerHttpListener === undefined ? ['--http-listener', `127.0.0.1:${httpPort}`] : []),
    // STRAIT_TEST_WAL_KIND=object: the same tests on the object WAL (scripts/test.ts); a test's own
    // --wal-kind comes later and wins.
    ...(process.env.STRAIT_TEST_WAL_KIND ? ['--wal-kind', process.env.STRAIT_TEST_WAL_KIND] : []),
    ...(options.args ?? []),
  ];
  const output = new OutputTail();
  const proc = spawnGroup(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout?.on('data', (chunk: Buffer) => output.append(chunk));
  proc.stderr?.on('data', (chunk: Buffer) => output.append(chunk));
  const spawnFailure = new Promise<never>((_resolve, reject) => {
    proc.once('error', (error) => reject(new Error(`could not start Strait: ${error.message}`)));
  });
  spawnFailure.catch(() => undefined);

  const signalAndWait = async (signal: NodeJS.Signals, graceMs: number): Promise<void> => {
    if (proc.pid === undefined) return;
    killGroup(proc.pid, signal);
    if (!(await waitForExit(proc, graceMs))) {
      killGroup(proc.pid, 'SIGKILL');
      await waitForExit(proc, 5_000);
      throw new Error(`Strait did not exit within ${graceMs} ms of ${signal}; killed\n${output.text}`);
    }
  };
  const removeOwnDataDir = async (): Promise<void> => {
    if (!ownDataDir) return;
    await rm(dataDir, { recursive: true, force: true });
    tempDirs.delete(dataDir);
  };
  const stop = async (): Promise<void> => {
    try {
      await signalAndWait('SIGTERM', 15_000);
    } finally {
      await removeOwnDataDir();
    }
  };
  // A crash keeps the data folder, so a test can restart on it with startStrait({ dataDir }).
  const kill9 = (): Promise<void> => signalAndWait('SIGKILL', 5_000);

  try {
    const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
    await Promise.race([
      (async () => {
        // Strait binds its port before it opens its storage and answers only once ready (held
        // connections wait): ready is an answer to ApiVersions, not an accepted connection.
        await waitUntil(() => probeApiVersions(port), proc, output, 'Strait', readyTimeoutMs);
        if (httpPort !== null) httpPort = await waitForHttp(httpPort, proc, output, readyTimeoutMs);
      })(),
      spawnFailure,
    ]);
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  const http = (): number => {
    if (httpPort === null) throw new Error('the HTTP admin API of this Strait is disabled (empty http.listener in startStrait args)');
    return httpPort;
  };
  return {
    port,
    bootstrap: `127.0.0.1:${port}`,
    dataDir,
    proc,
    stop,
    kill9,
    get httpPort() {
      return http();
    },
    get adminUrl() {
      return `http://127.0.0.1:${http()}`;
    },
    output: () => output.text,
    exitStatus: () => exitStatusOf(proc),
  };
}

export type BrokerKind = 'kafka' | 'strait';

let kafkaTargetAnnounced = false;

/**
 * The broker compatibility tests run against: STRAIT_TEST_TARGET=kafka|strait (default strait).
 * Against Kafka a file checks the clients and itself, not Strait: the test names carry the target
 * (`kafka`), this prints so once per file, and `npm test` refuses the setting (scripts/test.ts), so
 * no run that claims to test Strait can go green on Kafka's answers.
 */
export function testTarget(): BrokerKind {
  const target = process.env['STRAIT_TEST_TARGET'] ?? 'strait';
  if (target !== 'kafka' && target !== 'strait') {
    throw new Error(`STRAIT_TEST_TARGET must be kafka or strait, not ${JSON.stringify(target)}`);
  }
  if (target === 'kafka' && !kafkaTargetAnnounced) {
    kafkaTargetAnnounced = true;
    console.log(`# STRAIT_TEST_TARGET=kafka: the tests of this file named "kafka" run against Apache Kafka ${kafkaVersion}, NOT Strait; passing says nothing about Strait`);
  }
  return target;
}

/**
 * For a step that only means something against Strait, in a file that honours STRAIT_TEST_TARGET:
 * against Kafka it is left out, saying so (the reason printed), and answers false; against Strait it
 * answers true.
 */
export function straitOnly(target: BrokerKind, step: string, reason: string): boolean {
  if (target === 'strait') return true;
  console.log(`# STRAIT_TEST_TARGET=kafka: left out against Apache Kafka: ${step} (${reason})`);
  return false;
}

export function startBroker(kind: BrokerKind): Promise<BrokerHandle> {
  return kind === 'kafka' ? startApacheKafka() : startStrait();
}

const diagnosticOutputCharsMax = 8000;

/**
 * Runs a test step against a broker; if it fails, adds the broker's state and its last output to
 * the error, since a client's "connection refused" usually means the broker died.
 */
export async function withBrokerDiagnostics<T>(broker: BrokerHandle, step: () => Promise<T>): Promise<T> {
  try {
    // Fail at once, rather than after every client's own timeouts, if the broker already died.
    if (broker.exitStatus() !== null) throw new Error('the broker is no longer running');
    return await step();
  } catch (error) {
    const state = broker.exitStatus() ?? 'still running';
    const tail = broker.output().slice(-diagnosticOutputCharsMax);
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${message}\n--- broker ${broker.bootstrap} (${state}), last output:\n${tail}`, { cause: error });
  }
}

/** A topic name unique to this run, so reruns against a kept broker never collide. */
export function uniqueTopic(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export interface MinioHandle {
  port: number;
  /** http://127.0.0.1:PORT, for path-style S3 requests. */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  /** The region MinIO signs and checks requests for. */
  region: string;
  dataDir: string;
  /** Kills MinIO and removes its data. */
  stop(): Promise<void>;
  /** Kills MinIO (SIGKILL) but keeps its data: connections are refused until restart(). */
  kill(): Promise<void>;
  /** Starts MinIO again on the same port and data after kill(); resolves once it is live. */
  restart(): Promise<void>;
  /** Freezes MinIO (SIGSTOP): connections are accepted by the kernel but never answered.
   *  Resolves once every thread of it has stopped (on Linux, where /proc tells). */
  pause(): Promise<void>;
  resume(): void;
  /** MinIO's process state letter from /proc (R, S, T for stopped…), or null if unknown. */
  processState(): string | null;
  output(): string;
  exitStatus(): string | null;
}

export interface StartMinioOptions {
  readyTimeoutMs?: number;
}

/** Resolves true when GET http://127.0.0.1:port/path answers 200 (and accept() likes the headers). */
function probeHttp(port: number, path: string, accept: (res: IncomingMessage) => boolean = () => true, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpGet({ host: '127.0.0.1', port, path, timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 && accept(res));
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
  });
}

/** The state letter of a process in /proc/PID/stat (after the parenthesised command name). */
function processStateOf(pid: number | undefined): string | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/** True when every thread of the process is stopped (T); also true where /proc is missing. */
function allThreadsStopped(pid: number | undefined): boolean {
  if (pid === undefined || !existsSync('/proc/self/stat')) return true;
  let threads: string[];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    return true;
  }
  return threads.every((tid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'T';
    } catch {
      return true;
    }
  });
}

/** MinIO's liveness answer is 200 as soon as it listens, marking "x-minio-server-status: offline"
 *  until its object layer is up; S3 requests meanwhile fail. The cluster check then waits for the
 *  bucket metadata and IAM subsystems too. */
async function minioReady(port: number): Promise<boolean> {
  const live = await probeHttp(port, '/minio/health/live', (res) => res.headers['x-minio-server-status'] === undefined);
  return live && (await probeHttp(port, '/minio/health/cluster'));
}

/**
 * Starts a single-drive MinIO server on a free 127.0.0.1 port with a temporary data folder, about
 * half a second; ready when its health endpoints say it serves requests. Its environment is built from scratch (no inherited MINIO_* or proxy variables)
 * and turns off everything that would reach beyond loopback: the update check, call-home
 * diagnostics and the web console. The test that starts it stops it.
 */
export async function startMinio(options: StartMinioOptions = {}): Promise<MinioHandle> {
  requireInstalled(minioPath, 'MinIO');
  const [port, consolePort] = [await freePort(), await freePort()];
  const dir = await mkdtemp(join(tmpdir(), 'strait-minio-'));
  tempDirs.add(dir);
  const dataDir = join(dir, 'data');
  const accessKey = 'strait-test';
  const secretKey = randomBytes(12).toString('hex');
  const region = 'us-east-1';
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    // MinIO keeps a config folder (~/.minio) in its home; keep it inside the temporary folder.
    HOME: dir,
    MINIO_ROOT_USER: accessKey,
    MINIO_ROOT_PASSWORD: secretKey,
    MINIO_REGION: region,
    MINIO_UPDATE: 'off',
    MINIO_CALLHOME_ENABLE: 'off',
    MINIO_BROWSER: 'off',
  };
  const args = [
    'server',
    '--quiet',
    '--address',
    `127.0.0.1:${port}`,
    '--console-address',
    `127.0.0.1:${consolePort}`,
    '--certs-dir',
    join(dir, 'certs'),
    dataDir,
  ];
  const output = new OutputTail();
  let child: ChildProcess | null = null;
  const launch = async (): Promise<void> => {
    const proc = spawnGroup(minioPath, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout?.on('data', (chunk: Buffer) => output.append(chunk));
    proc.stderr?.on('data', (chunk: Buffer) => output.append(chunk));
    const spawnFailure = new Promise<never>((_resolve, reject) => {
      proc.once('error', (error) => reject(new Error(`could not start MinIO: ${error.message}`)));
    });
    spawnFailure.catch(() => undefined);
    await Promise.race([
      waitUntil(() => minioReady(port), proc, output, 'MinIO', options.readyTimeoutMs ?? 30_000),
      spawnFailure,
    ]);
  };
  const kill = async (): Promise<void> => {
    const proc = child;
    if (proc === null || proc.pid === undefined || exitStatusOf(proc) !== null) return;
    killGroup(proc.pid, 'SIGKILL');
    await waitForExit(proc, 10_000);
  };
  const signal = (name: NodeJS.Signals): void => {
    const proc = child;
    if (proc !== null && proc.pid !== undefined && exitStatusOf(proc) === null) killGroup(proc.pid, name);
  };
  const stop = async (): Promise<void> => {
    await kill();
    await rm(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  };
  try {
    await launch();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    accessKey,
    secretKey,
    region,
    dataDir,
    stop,
    kill,
    restart: async () => {
      await kill();
      await launch();
    },
    pause: async () => {
      signal('SIGSTOP');
      const deadline = Date.now() + 5_000;
      while (!allThreadsStopped(child?.pid)) {
        if (Date.now() > deadline) throw new Error(`MinIO did not stop within 5 s of SIGSTOP (state ${processStateOf(child?.pid)})`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    resume: () => signal('SIGCONT'),
    processState: () => processStateOf(child?.pid),
    output: () => output.text,
    exitStatus: () => (child === null ? null : exitStatusOf(child)),
  };
}
