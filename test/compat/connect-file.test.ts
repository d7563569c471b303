// Kafka Connect 4.3.1 in distributed mode on Strait: org.apache.kafka.connect.cli.ConnectDistributed
// keeps its configs, offsets and statuses in compacted topics on Strait (replication factor 1) and
// serves its REST API on a free 127.0.0.1 port. A FileStreamSource connector reads a file into a
// topic and a FileStreamSink connector writes that topic to another file; the sink file must end up
// with exactly the source lines, in order, within a bounded time, and the internal topics must be
// compact (ConfigCommand). Connect is stopped before Strait.
// Needs scripts/install-test-deps.sh (Kafka's jars with connect-runtime and connect-file, a JDK).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, kafkaLibsDir, log4jConfigPath, runJava, startStrait, type StraitHandle } from './harness.ts';
import { javaBin } from './java-program.ts';
import { createTopic } from '../faults/crash-produce.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

class Connect {
  private out = '';
  readonly exited: Promise<void>;
  readonly child: ChildProcess;
  constructor(child: ChildProcess) {
    this.child = child;
    child.stdout?.on('data', (c: Buffer) => (this.out = (this.out + c.toString()).slice(-200_000)));
    child.stderr?.on('data', (c: Buffer) => (this.out = (this.out + c.toString()).slice(-200_000)));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }
  running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  output(): string {
    return this.out;
  }
  /** SIGTERM (Connect stops its connectors and leaves the group), SIGKILL after 30 s. */
  async stop(): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined || !this.running()) return;
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 30_000)))]);
    clearTimeout(timer);
    if (!stopped) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
      await this.exited;
    }
  }
}

const started = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of started) {
    try {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

function startConnect(workerProperties: string): Connect {
  const child = spawn(
    javaBin('java'),
    ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto', '-Xmx512m', `-Dlog4j2.configurationFile=${log4jConfigPath}`, '-cp', join(kafkaLibsDir, '*'), 'org.apache.kafka.connect.cli.ConnectDistributed', workerProperties],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  started.add(child);
  return new Connect(child);
}

async function rest(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await r.text();
  let json: any = text;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON.
  }
  return { status: r.status, json };
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, context: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = (error as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`${what} not within ${timeoutMs} ms${lastError === '' ? '' : ` (last error: ${lastError})`}\n${context()}`);
}

test('Kafka Connect distributed: FileStreamSource -> topic -> FileStreamSink copies the file', { timeout: 150_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'strait-connect-'));
  const broker: StraitHandle = await startStrait();
  let connect: Connect | undefined;
  const context = (): string => `--- Connect's last output:\n${connect?.output().slice(-8000) ?? ''}\n--- Strait's last output:\n${broker.output().slice(-4000)}`;
  try {
    const restPort = await freePort();
    const base = `http://127.0.0.1:${restPort}`;
    const topic = 'connect-lines';
    await createTopic(broker.port, topic, 1);
    const worker = join(dir, 'worker.properties');
    writeFileSync(
      worker,
      [
        `bootstrap.servers=${broker.bootstrap}`,
        'group.id=strait-connect',
        'key.converter=org.apache.kafka.connect.storage.StringConverter',
        'value.converter=org.apache.kafka.connect.storage.StringConverter',
        'config.storage.topic=strait-connect-configs',
        'offset.storage.topic=strait-connect-offsets',
        'status.storage.topic=strait-connect-status',
        'config.storage.replication.factor=1',
        'offset.storage.replication.factor=1',
        'status.storage.replication.factor=1',
        'offset.storage.partitions=5',
        'status.storage.partitions=3',
        'offset.flush.interval.ms=1000',
        `listeners=http://127.0.0.1:${restPort}`,
        'rest.advertised.host.name=127.0.0.1',
        `rest.advertised.port=${restPort}`,
        '',
      ].join('\n'),
    );
    const source = join(dir, 'source.txt');
    const sink = join(dir, 'sink.txt');
    const lines = [...Array(2000).keys()].map((i) => `line ${i}: ${'x'.repeat(i % 50)} ${i * 7919}`);
    writeFileSync(source, `${lines.join('\n')}\n`);

    const begin = Date.now();
    connect = startConnect(worker);
    await waitFor('the Connect REST API', 90_000, async () => {
      if (!connect!.running()) throw new Error('Connect exited');
      const r = await rest(base, 'GET', '/connectors');
      return r.status === 200 ? true : undefined;
    }, context);
    t.diagnostic(`Connect's REST API answered after ${Date.now() - begin} ms`);

    const put = async (name: string, config: Record<string, string>): Promise<void> => {
      // The first request can meet a worker still joining its group (409 rebalance in progress).
      await waitFor(`PUT /connectors/${name}/config`, 30_000, async () => {
        const r = await rest(base, 'PUT', `/connectors/${name}/config`, config);
        if (r.status === 200 || r.status === 201) return true;
        if (r.status === 409) return undefined;
        throw new Error(`${r.status} ${JSON.stringify(r.json)}`);
      }, context);
    };
    await put('file-source', { 'connector.class': 'org.apache.kafka.connect.file.FileStreamSourceConnector', 'tasks.max': '1', file: source, topic });
    await put('file-sink', { 'connector.class': 'org.apache.kafka.connect.file.FileStreamSinkConnector', 'tasks.max': '1', file: sink, topics: topic });

    const want = `${lines.join('\n')}\n`;
    await waitFor('the sink file to hold every source line', 60_000, async () => {
      if (!connect!.running()) throw new Error('Connect exited');
      const got = existsSync(sink) ? readFileSync(sink, 'utf8') : '';
      return got.length >= want.length ? true : undefined;
    }, () => `sink holds ${existsSync(sink) ? readFileSync(sink, 'utf8').split('\n').length - 1 : 0} lines\n${context()}`);
    // A little longer: nothing more (no duplicate) may arrive.
    await sleep(1500);
    const got = readFileSync(sink, 'utf8');
    assert.equal(got.split('\n').length, want.split('\n').length, 'sink line count');
    assert.equal(got, want, 'the sink file equals the source file');

    for (const name of ['file-source', 'file-sink']) {
      const status = await rest(base, 'GET', `/connectors/${name}/status`);
      assert.equal(status.status, 200, JSON.stringify(status.json));
      assert.equal(status.json.connector.state, 'RUNNING', `${name}: ${JSON.stringify(status.json)}`);
      assert.deepEqual(status.json.tasks.map((task: { state: string }) => task.state), ['RUNNING'], `${name}: ${JSON.stringify(status.json)}`);
    }
    t.diagnostic(`${lines.length} lines through Connect in ${Date.now() - begin} ms (from Connect's start)`);

    // Connect created its three internal topics on Strait, compacted.
    const described = await runJava('kafka.admin.ConfigCommand', ['--bootstrap-server', broker.bootstrap, '--describe', '--all', '--entity-type', 'topics'], { timeoutMs: 60_000 });
    assert.equal(described.code, 0, described.stderr);
    for (const internal of ['strait-connect-configs', 'strait-connect-offsets', 'strait-connect-status']) {
      const section = described.stdout.split(/(?=All configs for topic )/).find((s) => s.startsWith(`All configs for topic ${internal} `));
      assert.ok(section !== undefined, `${internal} not described:\n${described.stdout.slice(0, 3000)}`);
      assert.match(section, /cleanup\.policy=compact\b/, `${internal}:\n${section.slice(0, 2000)}`);
    }
  } finally {
    await connect?.stop();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
