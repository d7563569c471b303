// Two brokers on one data.dir: the second `strait start` refuses with STRAIT_DATA_DIR_LOCKED naming
// the first's PID, and no file of the first (metadata database, WAL segments, objects) changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { freePort, probeApiVersions, repoRoot, runCommand, startStrait, uniqueTopic } from '../compat/harness.ts';
import type { StraitHandle } from '../compat/harness.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { buildBatch, readBatches } from '../../src/protocol/records/index.ts';

const cli = join(repoRoot, 'src', 'cli', 'main.ts');

/** sha256 of every file under dir (size and checksum), by path relative to dir. */
function checksums(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      try {
        if (statSync(p).isDirectory()) walk(p);
        else out[relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
      } catch (err) {
        // A file the running broker removed between readdir and read (a trimmed WAL segment).
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  };
  walk(dir);
  return out;
}

async function secondStart(flags: string[]): Promise<{ code: number; stderr: string }> {
  const args = [cli, 'start', '--listeners', `PLAINTEXT://127.0.0.1:${await freePort()}`, '--http-listener', `127.0.0.1:${await freePort()}`, ...flags];
  return runCommand(process.execPath, args, { timeoutMs: 30_000 });
}

/** Creates topic and produces values with acks=all over the wire. */
async function produce(port: number, topic: string, values: string[]): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    const t = await c.request(ApiKey.CreateTopics, 7, { topics: [{ name: topic, numPartitions: 1, replicationFactor: 1 }], timeoutMs: 5000 });
    assert.equal(t.topics[0].errorCode, 0, t.topics[0].errorMessage);
    const records = buildBatch({ compression: 'none', records: values.map((v, i) => ({ key: `k${i}`, value: v, timestamp: Date.now() })) });
    const r = await c.request(ApiKey.Produce, 9, { acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
    assert.equal(r.responses[0].partitionResponses[0].errorCode, 0);
  } finally {
    c.close();
  }
}

/** Every value of partition 0 of topic, from offset 0. */
async function consume(port: number, topic: string): Promise<string[]> {
  const c = await RawClient.connect(port);
  try {
    const r = await c.request(ApiKey.Fetch, 12, {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1_000_000,
      sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1_000_000, currentLeaderEpoch: -1 }] }],
    });
    const p = r.responses[0].partitions[0];
    assert.equal(p.errorCode, 0);
    return [...readBatches(p.records)].flatMap((b) => b.records.map((rec) => rec.value!.toString()));
  } finally {
    c.close();
  }
}

function assertLocked(r: { code: number; stderr: string }, first: StraitHandle, setting: string): void {
  assert.equal(r.code, 1, `the second broker exits with status 1:\n${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `one line on stderr:\n${r.stderr}`);
  assert.match(lines[0]!, /^strait: STRAIT_DATA_DIR_LOCKED: /);
  assert.ok(lines[0]!.includes(setting), `names ${setting}: ${lines[0]}`);
  assert.ok(lines[0]!.includes(`pid ${first.proc.pid}`), `names the first broker's pid ${first.proc.pid}: ${lines[0]}`);
}

test('a second broker on the same data.dir refuses with the holder\'s pid and touches none of its files', async () => {
  const first = await startStrait({ args: ['--upload-interval-ms', '200', '--object-compaction-interval-ms', '3600000', '--log-cleaner-backoff-ms', '3600000'] });
  try {
    // Some data, uploaded, so the WAL, the metadata database and the object folder all have files.
    const topic = uniqueTopic('lock');
    await produce(first.port, topic, ['v1', 'v2', 'v3']);
    const deadline = Date.now() + 15_000;
    while (!Object.keys(checksums(first.dataDir)).some((f) => f.startsWith('objects/')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const before = checksums(first.dataDir);
    assert.ok(Object.keys(before).some((f) => f.startsWith('metadata.sqlite')), `the metadata database exists: ${Object.keys(before).join(', ')}`);
    assert.ok(Object.keys(before).some((f) => f.startsWith('wal/')), `WAL segments exist: ${Object.keys(before).join(', ')}`);
    assert.ok(Object.keys(before).some((f) => f.startsWith('objects/')), `objects exist: ${Object.keys(before).join(', ')}`);
    // The premise: an idle first broker does not change its own files (else "untouched" proves nothing).
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(checksums(first.dataDir), before, 'an idle broker leaves its files as they are');

    const r = await secondStart(['--data-dir', first.dataDir]);
    assertLocked(r, first, first.dataDir);
    assert.deepEqual(checksums(first.dataDir), before, 'every file of the first broker is byte for byte the same');
    // Two `npm start` in one checkout also share the ports: the lock is taken first, so it is what is reported.
    const samePorts = await secondStart(['--data-dir', first.dataDir, '--listeners', `PLAINTEXT://127.0.0.1:${first.port}`, '--http-listener', `127.0.0.1:${first.httpPort}`]);
    assertLocked(samePorts, first, first.dataDir);
    assert.deepEqual(checksums(first.dataDir), before, 'still byte for byte the same');
    // The first broker still serves, and still has the records.
    assert.ok(await probeApiVersions(first.port), 'the first broker still answers');
    assert.deepEqual(await consume(first.port, topic), ['v1', 'v2', 'v3']);
  } finally {
    await first.stop();
  }
});

test('a wal.dir or object.store.path outside data.dir is locked too', async () => {
  const shared = mkdtempSync(join(tmpdir(), 'strait-shared-'));
  const walDir = join(shared, 'wal');
  const objectsDir = join(shared, 'objects');
  const first = await startStrait({ args: ['--wal-dir', walDir, '--object-store-path', objectsDir] });
  const others: string[] = [];
  try {
    for (const [setting, value] of [
      ['wal.dir', walDir],
      ['object.store.path', objectsDir],
    ] as const) {
      const before = checksums(shared);
      const own = mkdtempSync(join(tmpdir(), 'strait-other-'));
      others.push(own);
      const r = await secondStart(['--data-dir', own, '--set', `${setting}=${value}`]);
      assertLocked(r, first, value);
      assert.deepEqual(checksums(shared), before, `no file under ${setting} changed`);
    }
    // A stopped broker's lock is gone: a new broker starts on the same directories.
    await first.stop();
    const again = await startStrait({ args: ['--wal-dir', walDir, '--object-store-path', objectsDir] });
    await again.stop();
  } finally {
    await first.stop().catch(() => undefined);
    for (const d of [shared, ...others]) rmSync(d, { recursive: true, force: true });
  }
});

test('a broker killed with SIGKILL leaves no lock behind', async () => {
  const first = await startStrait();
  await first.kill9();
  const again = await startStrait({ dataDir: first.dataDir });
  try {
    assert.ok(await probeApiVersions(again.port));
  } finally {
    await again.stop();
    rmSync(first.dataDir, { recursive: true, force: true });
  }
});
