// In test/faults (not test/broker): it drives MinIO, which npm run test:unit does not install.
// SIGTERM always ends a broker within a bounded time: against a real MinIO frozen with SIGSTOP, an
// upload in progress never finishes, so a graceful stop cannot complete; the broker must still exit
// after shutdown.timeout.ms, saying what did not finish, and at once on a second SIGTERM.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { runKcat, startMinio, startStrait, uniqueTopic } from '../compat/harness.ts';
import type { MinioHandle, StraitHandle } from '../compat/harness.ts';
import { s3Args } from './crash-produce.ts';

let minio: MinioHandle;
before(async () => {
  minio = await startMinio();
});
after(async () => {
  minio.resume();
  await minio.stop();
});

/** Resolves with how long after now the process exited (and its exit code), or null after waitMs. */
function exitWithin(proc: ChildProcess, waitMs: number): Promise<{ ms: number; code: number | null } | null> {
  const started = Date.now();
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve({ ms: 0, code: proc.exitCode });
    const timer = setTimeout(() => resolve(null), waitMs);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ ms: Date.now() - started, code });
    });
  });
}

/** A broker on MinIO with produced data, then MinIO frozen while an upload of more data is under way. */
async function brokerWithStuckUpload(extraArgs: string[]): Promise<StraitHandle> {
  const broker = await startStrait({ args: [...(await s3Args(minio, uniqueTopic('shutdown-bucket'))), '--upload-interval-ms', '200', ...extraArgs] });
  const topic = uniqueTopic('shutdown');
  const first = await runKcat(['-b', broker.bootstrap, '-t', topic, '-P'], { input: 'one\ntwo\n' });
  assert.equal(first.code, 0, first.stderr);
  await new Promise((r) => setTimeout(r, 1000));
  await minio.pause();
  // Acknowledged once in the WAL; its upload then hangs on the frozen MinIO.
  const second = await runKcat(['-b', broker.bootstrap, '-t', topic, '-P'], { input: 'three\nfour\n' });
  assert.equal(second.code, 0, second.stderr);
  await new Promise((r) => setTimeout(r, 1000));
  return broker;
}

test('SIGTERM with an upload stuck on a frozen object store exits after shutdown.timeout.ms, naming what did not finish', async (t) => {
  const broker = await brokerWithStuckUpload(['--shutdown-timeout-ms', '3000']);
  try {
    process.kill(-broker.proc.pid!, 'SIGTERM');
    const exit = await exitWithin(broker.proc, 15_000);
    assert.ok(exit !== null, `exited within 15 s of SIGTERM\n${broker.output()}`);
    assert.ok(exit.ms >= 2500, `the graceful stop had its ${3000} ms first (exited after ${exit.ms} ms)`);
    assert.ok(exit.ms < 8000, `exited soon after shutdown.timeout.ms (after ${exit.ms} ms)`);
    assert.equal(exit.code, 1, 'a forced exit is not a clean one');
    const line = broker.output().split('\n').find((l) => l.includes('"msg":"shutdown timed out'));
    assert.ok(line, `a log line says the shutdown timed out:\n${broker.output()}`);
    assert.match(line, /"pending":"[^"]+"/, `it names the step that did not finish: ${line}`);
    t.diagnostic(line);
  } finally {
    minio.resume();
    await broker.stop().catch(() => undefined);
  }
});

test('a second SIGTERM exits at once', async () => {
  const broker = await brokerWithStuckUpload([]);
  try {
    process.kill(-broker.proc.pid!, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(broker.proc.exitCode, null, 'still stopping after the first SIGTERM (the premise: a stop that hangs)');
    process.kill(-broker.proc.pid!, 'SIGTERM');
    const exit = await exitWithin(broker.proc, 10_000);
    assert.ok(exit !== null, `exited after the second SIGTERM\n${broker.output()}`);
    assert.ok(exit.ms < 2000, `at once (after ${exit.ms} ms)`);
    assert.notEqual(exit.code, 0);
  } finally {
    minio.resume();
    await broker.stop().catch(() => undefined);
  }
});
