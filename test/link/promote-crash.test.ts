// A crash in the middle of a promotion (kill -9 of a real broker process, stopped at a named step
// of the promotion once the topic takes local writes and before the promotion is recorded as
// done): after the restart no acknowledged local write is lost or cut, and the topic is promoted;
// the source's later writes are not mirrored over it. Against a real Apache Kafka 4.3.1 source.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, repoRoot, startApacheKafka, type KafkaHandle } from '../compat/harness.ts';
import { ApiKey, KafkaClient } from '../../src/link/client/index.ts';
import { buildBatch, readBatches } from '../../src/protocol/records/index.ts';

let kafka: KafkaHandle;
let source: KafkaClient;
const dataDir = mkdtempSync(join(tmpdir(), 'strait-promote-crash-'));
let port = 0;
let httpPort = 0;
let child: { proc: ChildProcess; lines: any[]; output: string } | null = null;

/** Starts the broker process; resolves once it serves. */
async function startChild(pauseAt?: string, failAt?: string): Promise<NonNullable<typeof child>> {
  const proc = spawn(process.execPath, [join(repoRoot, 'test/link/promote-crash-broker.ts'), JSON.stringify({ dataDir, port, httpPort, pauseAt, failAt })], { cwd: repoRoot, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const c = { proc, lines: [] as any[], output: '' };
  proc.stdout!.on('data', (chunk: Buffer) => {
    c.output += chunk.toString();
    for (const line of chunk.toString().split('\n')) if (line.startsWith('{')) c.lines.push(JSON.parse(line));
  });
  proc.stderr!.on('data', (chunk: Buffer) => (c.output += chunk.toString()));
  child = c;
  await waitFor(() => c.lines.some((l) => l.ready), 60_000, () => `broker did not start: ${c.output}`);
  return c;
}

async function kill9(): Promise<void> {
  const c = child!;
  child = null;
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  const exited = new Promise((r) => c.proc.once('exit', r));
  process.kill(-c.proc.pid!, 'SIGKILL');
  await exited;
}

async function waitFor(ok: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) assert.fail(what());
    await sleep(100);
  }
}

async function api(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${httpPort}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Offsets and values of the partition's records from `offset` on. */
async function records(client: KafkaClient, topic: string, offset: number): Promise<[number, string][]> {
  const [r] = await client.fetch([{ topic, partition: 0, offset }], { maxWaitMs: 0 });
  assert.equal(r!.error, null, String(r!.error));
  return [...readBatches(r!.records)].flatMap((b) => b.records.filter((x) => x.offset >= offset).map((x) => [x.offset, x.value!.toString()] as [number, string]));
}

before(async () => {
  kafka = await startApacheKafka({ config: { 'auto.create.topics.enable': 'false' } });
  source = new KafkaClient({ bootstrap: kafka.bootstrap });
  [port, httpPort] = [await freePort(), await freePort()];
});

after(async () => {
  if (child) await kill9();
  await source?.close();
  await kafka?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('kill -9 during promotion, after local writes were acknowledged: after restart they are all there and the topic is promoted', async () => {
  const { response } = await source.sendRequest<any>('controller', ApiKey.CreateTopics, () => ({
    topics: [{ name: 'pc', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 30_000,
    validateOnly: false,
  }));
  assert.equal(response.topics[0].errorCode, 0);
  await source.metadata({ topics: ['pc'] });
  for (let i = 0; i < 5; i++) {
    const [out] = await source.produce([{ topic: 'pc', partition: 0, records: buildBatch({ records: Array.from({ length: 10 }, (_, j) => ({ value: `src-${i * 10 + j}` })) }) }], { acks: -1 });
    assert.equal(out!.error, null);
  }

  await startChild('opened');
  await api('POST', '/v1/links', { name: 'pc', bootstrap: kafka.bootstrap, topics: { include: ['pc'] }, metadataSyncIntervalMs: 300, writeForwarding: false });
  await waitFor(async () => (await api('GET', '/v1/links/pc')).mirrors[0]?.partitions[0]?.mirroredEndOffset === 50, 60_000, () => 'the mirror did not catch up');

  const promoting = api('POST', '/v1/links/pc/promote', { timeoutMs: 20_000 }).catch((err: Error) => err);
  await waitFor(() => child!.lines.some((l) => l.paused === 'opened'), 30_000, () => `the promotion did not reach its 'opened' step: ${child!.output}`);

  // The topic takes local writes now; these are acknowledged (acks=all) before the crash.
  const local = new KafkaClient({ bootstrap: `127.0.0.1:${port}` });
  const acked: [number, string][] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const [out] = await local.produce([{ topic: 'pc', partition: 0, records: buildBatch({ records: [{ value: `local-${i}` }] }) }], { acks: -1, retriesMax: 0 });
      assert.equal(out!.error, null, `local write ${i} accepted once the topic is open: ${String(out!.error)}`);
      acked.push([out!.baseOffset, `local-${i}`]);
    }
  } finally {
    await local.close();
  }
  assert.deepEqual(acked.map(([o]) => o), [50, 51, 52]);
  await kill9();
  await promoting;

  // The source moves on while Strait is down: a mirror resumed over the local writes would cut them.
  const [more] = await source.produce([{ topic: 'pc', partition: 0, records: buildBatch({ records: Array.from({ length: 20 }, (_, j) => ({ value: `src-late-${j}` })) }) }], { acks: -1 });
  assert.equal(more!.error, null);

  await startChild();
  const after = new KafkaClient({ bootstrap: `127.0.0.1:${port}` });
  try {
    // Long enough for a resumed mirror fetcher to check epochs, truncate and fetch.
    await sleep(5000);
    assert.deepEqual(await records(after, 'pc', 50), acked, 'every acknowledged local write is at its offset, and nothing from the source after them');
    const d = await api('GET', '/v1/links/pc');
    assert.equal(d.mirrors[0].state, 'promoted', `the interrupted promotion was completed: ${JSON.stringify(d.mirrors[0])}`);
    assert.equal(d.mirrors[0].lastPromotion.partitions[0].endOffset, 50, 'the promotion point is where the mirror ended');
    const [next] = await after.produce([{ topic: 'pc', partition: 0, records: buildBatch({ records: [{ value: 'after-restart' }] }) }], { acks: -1, retriesMax: 0 });
    assert.equal(next!.error, null);
    assert.equal(next!.baseOffset, 53, 'local writes go on after the acknowledged ones');
  } finally {
    await after.close();
  }
  await kill9();
});

test('a promotion that fails after the topic opened is left promoting, and the next promote finishes it without losing local writes', async () => {
  const { response } = await source.sendRequest<any>('controller', ApiKey.CreateTopics, () => ({
    topics: [{ name: 'again', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 30_000,
    validateOnly: false,
  }));
  assert.equal(response.topics[0].errorCode, 0);
  await source.metadata({ topics: ['again'] });
  const [out] = await source.produce([{ topic: 'again', partition: 0, records: buildBatch({ records: Array.from({ length: 30 }, (_, j) => ({ value: `src-${j}` })) }) }], { acks: -1 });
  assert.equal(out!.error, null);

  await startChild(undefined, 'opened');
  await api('POST', '/v1/links', { name: 'again', bootstrap: kafka.bootstrap, topics: { include: ['again'] }, metadataSyncIntervalMs: 300, writeForwarding: false });
  await waitFor(async () => (await api('GET', '/v1/links/again')).mirrors.find((m: any) => m.topic === 'again')?.partitions[0]?.mirroredEndOffset === 30, 60_000, () => 'the mirror did not catch up');
  await assert.rejects(api('POST', '/v1/links/again/promote', { timeoutMs: 20_000 }), /injected failure/);
  const half = (await api('GET', '/v1/links/again')).mirrors.find((m: any) => m.topic === 'again');
  assert.equal(half.state, 'promoting', 'the decision stands: not mirroring again');
  const local = new KafkaClient({ bootstrap: `127.0.0.1:${port}` });
  try {
    const [w] = await local.produce([{ topic: 'again', partition: 0, records: buildBatch({ records: [{ value: 'local-while-promoting' }] }) }], { acks: -1, retriesMax: 0 });
    assert.equal(w!.error, null, String(w!.error));
    assert.equal(w!.baseOffset, 30);
    const report = await api('POST', '/v1/links/again/promote', { timeoutMs: 20_000 });
    assert.equal(report.topics[0].state, 'promoted');
    assert.equal(report.topics[0].partitions[0].endOffset, 30, 'the promotion point decided the first time');
    const d = (await api('GET', '/v1/links/again')).mirrors.find((m: any) => m.topic === 'again');
    assert.equal(d.state, 'promoted');
    assert.deepEqual(await records(local, 'again', 30), [[30, 'local-while-promoting']]);
  } finally {
    await local.close();
  }
});

test('kill -9 once the promotion is decided, before the topic opened: after restart it is promoted at the decided point and the source\'s later writes are not mirrored', async () => {
  const { response } = await source.sendRequest<any>('controller', ApiKey.CreateTopics, () => ({
    topics: [{ name: 'decided', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 30_000,
    validateOnly: false,
  }));
  assert.equal(response.topics[0].errorCode, 0);
  await source.metadata({ topics: ['decided'] });
  const [out] = await source.produce([{ topic: 'decided', partition: 0, records: buildBatch({ records: Array.from({ length: 20 }, (_, j) => ({ value: `src-${j}` })) }) }], { acks: -1 });
  assert.equal(out!.error, null);

  if (child) await kill9();
  await startChild('decided');
  await api('POST', '/v1/links', { name: 'dec', bootstrap: kafka.bootstrap, topics: { include: ['decided'] }, metadataSyncIntervalMs: 300, writeForwarding: false });
  await waitFor(async () => (await api('GET', '/v1/links/dec')).mirrors.find((m: any) => m.topic === 'decided')?.partitions[0]?.mirroredEndOffset === 20, 60_000, () => 'the mirror did not catch up');
  const promoting = api('POST', '/v1/links/dec/promote', { timeoutMs: 20_000 }).catch((err: Error) => err);
  await waitFor(() => child!.lines.some((l) => l.paused === 'decided' && l.topic === 'decided'), 30_000, () => `the promotion did not reach its 'decided' step: ${child!.output}`);
  const closed = new KafkaClient({ bootstrap: `127.0.0.1:${port}` });
  try {
    const [w] = await closed.produce([{ topic: 'decided', partition: 0, records: buildBatch({ records: [{ value: 'too-early' }] }) }], { acks: -1, retriesMax: 0 });
    assert.ok(w!.error, 'not open yet: the topic still refuses local writes');
  } finally {
    await closed.close();
  }
  await kill9();
  await promoting;
  const [more] = await source.produce([{ topic: 'decided', partition: 0, records: buildBatch({ records: [{ value: 'src-late' }] }) }], { acks: -1 });
  assert.equal(more!.error, null);

  await startChild();
  const local = new KafkaClient({ bootstrap: `127.0.0.1:${port}` });
  try {
    const d = (await api('GET', '/v1/links/dec')).mirrors.find((m: any) => m.topic === 'decided');
    assert.equal(d.state, 'promoted');
    assert.equal(d.lastPromotion.partitions[0].endOffset, 20);
    const [w] = await local.produce([{ topic: 'decided', partition: 0, records: buildBatch({ records: [{ value: 'local-0' }] }) }], { acks: -1, retriesMax: 0 });
    assert.equal(w!.error, null, String(w!.error));
    assert.equal(w!.baseOffset, 20);
    await sleep(2000);
    assert.deepEqual(await records(local, 'decided', 20), [[20, 'local-0']], 'the source\'s later record is not mirrored');
  } finally {
    await local.close();
  }
});
