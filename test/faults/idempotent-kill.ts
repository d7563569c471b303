// Kill -9 under an idempotent producer: one Apache Kafka VerifiableProducer (enable.idempotence=true,
// acks=all, retries unlimited, a generous delivery timeout, 5 requests in flight, throughput
// limited, --max-messages) writes while Strait is killed with SIGKILL several times and restarted on
// the same data folder and the same port within a couple of seconds, so the producer's retries of
// the batches whose answers were lost land on the restarted broker. Afterwards the whole topic is
// read back (kcat) and checked:
//   - the producer finished on its own, every one of its values was acknowledged, none failed, and
//     it printed no fatal error (OutOfOrderSequence, ProducerFenced, UnknownProducerId, ...);
//   - the producer did retry batches (its log says so): the kills exercised idempotence;
//   - every acknowledged value is stored exactly once, at the offset it was acknowledged with, and
//     nothing else is stored (a retried batch that was already durable is not written again);
//   - every partition's offsets run 0, 1, 2, ... and within a partition the values keep the order
//     they were sent in (so no gap in what the producer sent to that partition).
// Used by idempotent-kill.test.ts (a few kills) and idempotent-kill.long.test.ts (many).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaJavaCommand, startStrait, type StraitHandle } from '../compat/harness.ts';
import { createTopic, Random, readTopic, verify, type Ack } from './crash-produce.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

/** Exceptions that end an idempotent producer's session or mean the broker broke the sequence. */
const fatalPattern = /OutOfOrderSequence|ProducerFenced|UnknownProducerId|InvalidProducerEpoch|DuplicateSequence|InvalidPidMapping|ClusterAuthorization|KafkaException: Cannot perform send|fatal/i;

/** Lines in which the Java producer's Sender says it is sending a batch again after an error answer (a lost connection included). */
export function retriedBatches(stderr: string): number {
  return stderr.split('\n').filter((line) => /retrying \(\d+ attempts left\)/.test(line)).length;
}

/** Writes producer.properties for an idempotent producer that retries through broker restarts; answers its path. */
export function writeIdempotentConfig(dir: string): string {
  const path = join(dir, 'producer.properties');
  writeFileSync(
    path,
    [
      'enable.idempotence=true',
      'acks=all',
      'retries=2147483647',
      'max.in.flight.requests.per.connection=5',
      'linger.ms=5',
      'batch.size=16384',
      'request.timeout.ms=5000',
      'delivery.timeout.ms=120000',
      'max.block.ms=120000',
      'retry.backoff.ms=100',
      'retry.backoff.max.ms=500',
      'reconnect.backoff.ms=50',
      'reconnect.backoff.max.ms=300',
      'metadata.max.age.ms=5000',
      '',
    ].join('\n'),
  );
  return path;
}

/** VerifiableProducer sending `messages` values then closing; its JSON events parsed as they come. */
class IdempotentProducer {
  readonly acks: Ack[] = [];
  readonly failed: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private stdout = '';
  private stderr = '';
  private stderrPending = '';
  private retried = 0;
  private pending = '';

  constructor(bootstrap: string, topic: string, configPath: string, throughput: number, messages: number) {
    const java = kafkaJavaCommand('org.apache.kafka.tools.VerifiableProducer', [
      '--bootstrap-server', bootstrap,
      '--topic', topic,
      '--acks', '-1',
      '--throughput', String(throughput),
      '--max-messages', String(messages),
      '--value-prefix', '1',
      '--command-config', configPath,
    ]);
    this.child = spawn(java.command, java.args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code) => {
        live.delete(this.child);
        resolve(code);
      });
    });
    this.child.stdout?.on('data', (chunk: Buffer) => this.onStdout(chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-50_000);
      // Counted as the lines come, since the kept stderr is only its tail.
      this.stderrPending += chunk.toString();
      const lines = this.stderrPending.split('\n');
      this.stderrPending = lines.pop() ?? '';
      this.retried += retriedBatches(lines.join('\n'));
    });
  }

  /** Batches the producer has logged as retried so far (see retriedBatches). */
  retriedBatches(): number {
    return this.retried;
  }

  private onStdout(text: string): void {
    this.pending += text;
    const lines = this.pending.split('\n');
    this.pending = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) {
        this.stdout = (this.stdout + line + '\n').slice(-20_000);
        continue;
      }
      const event = JSON.parse(line) as { name: string; value?: string; partition?: number; offset?: number; exception?: string; message?: string };
      if (event.name === 'producer_send_success') {
        this.acks.push({ value: event.value!, partition: event.partition!, offset: event.offset! });
      } else if (event.name === 'producer_send_error') {
        this.failed.push(`${event.value}: ${event.exception} ${event.message}`);
      } else {
        this.stdout = (this.stdout + line + '\n').slice(-20_000);
      }
    }
  }

  running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  kill(): void {
    try {
      if (this.child.pid !== undefined) process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }

  /** What it printed besides the per-record events, and its stderr (warnings and errors). */
  output(): string {
    return `stdout (other events):\n${this.stdout}\nstderr:\n${this.stderr}`;
  }

  stderrText(): string {
    return this.stderr;
  }
}

export interface IdempotentKillOptions {
  kills: number;
  straitArgs?: string[];
  partitions?: number;
  /** Records per second. */
  throughput?: number;
  random?: Random;
  log?: (message: string) => void;
}

export interface IdempotentKillResult {
  kills: number;
  messages: number;
  records: number;
  /** Batches the producer's Sender logged as retried after an error ("retrying (N attempts left)"): at least one. */
  retriedBatches: number;
  /** Warnings the producer logged about retried or failed requests (the kills at work). */
  producerWarnings: number;
  elapsedMs: number;
}

export async function runIdempotentKills(o: IdempotentKillOptions): Promise<IdempotentKillResult> {
  const random = o.random ?? new Random();
  const log = o.log ?? (() => {});
  const partitions = o.partitions ?? 3;
  const throughput = o.throughput ?? 400;
  // About 2.5 s of sending per kill (up to 1.5 s up, then down and restarting), and some after the last.
  const messages = Math.round(throughput * (3 + o.kills * 3));
  const workDir = mkdtempSync(join(tmpdir(), 'strait-idem-kill-'));
  const dataDir = join(workDir, 'data');
  const topic = 'idempotent-kill';
  const configPath = writeIdempotentConfig(workDir);
  const started = Date.now();
  let broker: StraitHandle | undefined = await startStrait({ dataDir, args: o.straitArgs });
  const port = broker.port;
  let producer: IdempotentProducer | undefined;
  try {
    await createTopic(broker.port, topic, partitions);
    producer = new IdempotentProducer(broker.bootstrap, topic, configPath, throughput, messages);
    const firstAck = Date.now() + 30_000;
    while (producer.acks.length === 0 && producer.running() && Date.now() < firstAck) await sleep(20);
    assert.ok(producer.acks.length > 0, `no acknowledgement within 30 s\n${producer.output()}`);
    for (let kill = 1; kill <= o.kills; kill++) {
      const upMs = random.between(300, 1500);
      await sleep(upMs);
      assert.ok(producer.running(), `the producer exited before kill ${kill} (too few messages for the kills)\n${producer.output()}`);
      const ackedBefore = producer.acks.length;
      const retriedBefore = producer.retriedBatches();
      await broker.kill9();
      const downMs = random.between(200, 1500);
      await sleep(downMs);
      broker = await startStrait({ dataDir, port, args: o.straitArgs, readyTimeoutMs: 60_000 });
      log(`kill ${kill}: after ${upMs} ms up (${ackedBefore} acked so far, ${retriedBefore} batches retried), down ${downMs} ms, restarted`);
    }
    let timer: NodeJS.Timeout | undefined;
    const exitCode = await Promise.race([producer.exited, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), 180_000)))]);
    clearTimeout(timer);
    assert.notEqual(exitCode, 'timeout', `the producer did not finish within 180 s of the last restart (${producer.acks.length} of ${messages} acked)\n${producer.output()}`);
    assert.equal(exitCode, 0, `the producer exited with ${exitCode}\n${producer.output()}`);
    assert.deepEqual(producer.failed.slice(0, 10), [], `${producer.failed.length} sends failed`);
    const fatal = producer.stderrText().split('\n').filter((line) => fatalPattern.test(line));
    assert.deepEqual(fatal.slice(0, 10), [], 'the producer logged a fatal idempotence error');
    assert.equal(producer.acks.length, messages, `${producer.acks.length} of ${messages} values acknowledged`);

    const stored = await readTopic(broker.bootstrap, topic, workDir);
    const context = `seed ${random.seed}`;
    // Offsets 0, 1, 2, ... per partition; each ack at its offset; no value twice; send order per partition.
    verify(stored, producer.acks, partitions, context);
    // Exactly the acknowledged values, nothing more (with idempotence a retry never adds a copy).
    const acked = new Set(producer.acks.map((a) => a.value));
    const extra = stored.filter((r) => !acked.has(r.value));
    assert.deepEqual(extra.slice(0, 10), [], `${context}: ${extra.length} stored values were never acknowledged`);
    assert.equal(stored.length, messages, `${context}: ${stored.length} records stored for ${messages} values sent`);
    const expected = new Set([...Array(messages).keys()].map((i) => `1.${i}`));
    assert.deepEqual([...acked].filter((v) => !expected.has(v)), [], `${context}: unexpected values acknowledged`);
    const producerWarnings = producer.stderrText().split('\n').filter((line) => / WARN /.test(line)).length;
    // The premise of the test: the kills cut requests in flight and the producer sent them again
    // (its Sender logs each retried batch). A run without a retry tested nothing idempotence does.
    const retries = producer.retriedBatches();
    assert.ok(retries > 0, `${context}: the producer retried no batch in ${o.kills} kills, so no retry met the restarted broker\n${producer.output()}`);
    return { kills: o.kills, messages, records: stored.length, retriedBatches: retries, producerWarnings, elapsedMs: Date.now() - started };
  } catch (error) {
    const output = broker?.output().slice(-6000) ?? '';
    throw new Error(`${(error as Error).message}\n--- Strait's last output:\n${output}`, { cause: error });
  } finally {
    producer?.kill();
    await broker?.stop().catch(() => undefined);
    rmSync(workDir, { recursive: true, force: true });
  }
}
