// The harness's own promises, checked against Strait: readiness, a clear error when the broker
// cannot start, SIGTERM stop, and kill -9 then restart on the same data folder (which also checks
// that topic metadata survives a crash); and that Apache Kafka's stop leaves nothing behind.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { kafkajsAdmin } from './clients/kafkajs-admin.ts';
import { freePort, probeApiVersions, startApacheKafka, startStrait, uniqueTopic, type StraitHandle } from './harness.ts';

describe('startStrait', () => {
  const started: StraitHandle[] = [];
  after(async () => {
    for (const broker of started) if (broker.exitStatus() === null) await broker.stop();
  });

  test('reports the broker output when it cannot start', async () => {
    await assert.rejects(startStrait({ args: ['--no-such-setting', 'x'] }), (error: Error) => {
      assert.match(error.message, /exited \(code \d+/);
      assert.match(error.message, /no.such.setting/);
      return true;
    });
  });

  test('kill -9, then a restart on the same data folder keeps the topic', { timeout: 120_000 }, async () => {
    const first = await startStrait();
    started.push(first);
    assert.equal(await probeApiVersions(first.port), true, 'ApiVersions answered once ready');
    const topic = uniqueTopic('harness-restart');
    const admin = kafkajsAdmin(first.bootstrap);
    await admin.connect();
    try {
      assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }] }), true);
    } finally {
      await admin.disconnect();
    }

    await first.kill9();
    assert.equal(first.exitStatus(), 'signal SIGKILL');
    assert.equal(existsSync(first.dataDir), true, 'kill9 keeps the data folder');

    const second = await startStrait({ dataDir: first.dataDir });
    started.push(second);
    const again = kafkajsAdmin(second.bootstrap);
    await again.connect();
    try {
      const { topics } = await again.fetchTopicMetadata({ topics: [topic] });
      assert.equal(topics[0]?.partitions.length, 3, 'topic and its partitions survived kill -9');
    } finally {
      await again.disconnect();
    }
    await second.stop();
    assert.notEqual(second.exitStatus(), null, 'stop waits for the exit');
    assert.equal(existsSync(second.dataDir), true, 'a data folder passed in is never removed');
    await rm(second.dataDir, { recursive: true, force: true });
  });

  test('gives the admin API a free port of its own; a restart can keep it; args can set or disable it', { timeout: 120_000 }, async () => {
    const first = await startStrait();
    started.push(first);
    assert.notEqual(first.httpPort, first.port);
    assert.equal(first.adminUrl, `http://127.0.0.1:${first.httpPort}`);
    assert.deepEqual(first.proc.spawnargs.slice(-2), ['--http-listener', `127.0.0.1:${first.httpPort}`]);
    const res = await fetch(`${first.adminUrl}/v1/health`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { status: string }).status, 'ok');
    await first.stop();

    const again = await startStrait({ httpPort: first.httpPort });
    started.push(again);
    assert.equal(again.adminUrl, first.adminUrl);
    await again.stop();

    const chosen = await freePort();
    const set = await startStrait({ args: ['--set', `http.listener=127.0.0.1:${chosen}`] });
    started.push(set);
    assert.equal(set.httpPort, chosen);
    assert.equal((await fetch(`${set.adminUrl}/v1/health`)).status, 200);
    assert.equal(set.proc.spawnargs.filter((a) => a === '--http-listener').length, 0, 'the caller\'s setting is the only one');
    await set.stop();

    const disabled = await startStrait({ args: ['--http-listener', ''] });
    started.push(disabled);
    assert.throws(() => disabled.adminUrl, /admin API of this Strait is disabled/);
    assert.match(disabled.output(), /"msg":"broker started".*"http":null/);
    await disabled.stop();

    await assert.rejects(startStrait({ httpPort: chosen, args: ['--http-listener', '127.0.0.1:0'] }), /either options\.httpPort or an http\.listener/);

    // Port 0: the OS picks it, and the harness reads it from the 'broker started' line.
    const any = await startStrait({ args: ['--http-listener', '127.0.0.1:0'] });
    started.push(any);
    assert.ok(any.httpPort > 0);
    assert.equal((await fetch(`${any.adminUrl}/v1/health`)).status, 200);
    await any.stop();
  });

  test('stop removes a data folder the harness made', async () => {
    const broker = await startStrait();
    await broker.stop();
    assert.equal(existsSync(broker.dataDir), false);
  });
});

describe('startApacheKafka', () => {
  test('serves ApiVersions once ready; stop kills it and removes its folder', { timeout: 120_000 }, async () => {
    const kafka = await startApacheKafka();
    try {
      assert.equal(await probeApiVersions(kafka.port), true);
      assert.equal(existsSync(kafka.dir), true);
    } finally {
      await kafka.stop();
    }
    assert.notEqual(kafka.exitStatus(), null, 'the JVM exited');
    assert.equal(existsSync(kafka.dir), false, 'its folder is gone');
    assert.equal(await probeApiVersions(kafka.port, 1000), false, 'nothing answers on its port');
  });
});
