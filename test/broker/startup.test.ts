// Safe start-up, driven through the real `strait start` command in its own process group: an
// unusable directory is one clean STRAIT_* line and a non-zero exit (never a hang, never a stack
// trace), and a port clash fails before any data file is created.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, runCommand, repoRoot } from '../compat/harness.ts';

const cli = join(repoRoot, 'src', 'cli', 'main.ts');

/** `strait start` with free ports and the given flags; a start that does not exit within 20 s fails. */
async function startExpectingFailure(flags: string[]): Promise<{ code: number; stderr: string }> {
  const args = [cli, 'start', '--listeners', `PLAINTEXT://127.0.0.1:${await freePort()}`, '--http-listener', `127.0.0.1:${await freePort()}`, ...flags];
  const r = await runCommand(process.execPath, args, { timeoutMs: 20_000 });
  return { code: r.code, stderr: r.stderr };
}

/** The one line a failed start prints: `strait: CODE: message`, and no stack trace. */
function assertCleanFailure(r: { code: number; stderr: string }, code: string, mentions: string): void {
  assert.equal(r.code, 1, `exit status 1 expected, stderr:\n${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  const last = lines.at(-1) ?? '';
  assert.match(last, new RegExp(`^strait: ${code}: `), `last stderr line names ${code}:\n${r.stderr}`);
  assert.ok(last.includes(mentions), `the message names ${mentions}: ${last}`);
  assert.ok(!/^\s+at /m.test(r.stderr), `no stack trace on stderr:\n${r.stderr}`);
  const errorLines = lines.filter((l) => !l.startsWith('{') || l.includes('"level":"error"'));
  assert.equal(errorLines.length, 1, `exactly one error line on stderr:\n${r.stderr}`);
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'strait-startup-'));
}

test('a data.dir under /proc fails at once with STRAIT_DATA_DIR_UNUSABLE (it used to spin a core and ignore SIGTERM)', async () => {
  const r = await startExpectingFailure(['--data-dir', '/proc/strait-no-such-dir']);
  assertCleanFailure(r, 'STRAIT_DATA_DIR_UNUSABLE', '/proc/strait-no-such-dir');
});

const unusable: { setting: string; code: string; value: (dir: string) => string }[] = [
  { setting: 'wal.dir', code: 'STRAIT_WAL_DIR_UNUSABLE', value: () => '/proc/strait-no-such-wal' },
  { setting: 'wal.dir', code: 'STRAIT_WAL_DIR_UNUSABLE', value: () => '/sys/strait-no-such-wal' },
  { setting: 'wal.dir', code: 'STRAIT_WAL_DIR_UNUSABLE', value: (dir) => join(dir, 'a-file') },
  { setting: 'wal.dir', code: 'STRAIT_WAL_DIR_UNUSABLE', value: (dir) => join(dir, 'a-file', 'below') },
  { setting: 'object.store.path', code: 'STRAIT_OBJECT_STORE_PATH_UNUSABLE', value: () => '/proc/strait-no-such-objects' },
  { setting: 'object.store.path', code: 'STRAIT_OBJECT_STORE_PATH_UNUSABLE', value: (dir) => join(dir, 'a-file') },
  { setting: 'object.store.path', code: 'STRAIT_OBJECT_STORE_PATH_UNUSABLE', value: (dir) => join(dir, 'a-file', 'below') },
  { setting: 'data.dir', code: 'STRAIT_DATA_DIR_UNUSABLE', value: (dir) => join(dir, 'a-file') },
];

for (const u of unusable) {
  test(`${u.setting}=${u.value('<tmp>')}: one clean ${u.code} line and exit status 1`, async () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir, 'a-file'), 'not a directory');
      const dataDir = u.setting === 'data.dir' ? u.value(dir) : join(dir, 'data');
      const flags = ['--data-dir', dataDir];
      if (u.setting !== 'data.dir') flags.push('--set', `${u.setting}=${u.value(dir)}`);
      const r = await startExpectingFailure(flags);
      assertCleanFailure(r, u.code, u.setting);
      // Nothing was created for a broker that could not start.
      if (u.setting !== 'data.dir') {
        for (const f of ['metadata.sqlite', 'wal', 'objects']) assert.ok(!existsSync(join(dataDir, f)), `${f} was not created`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a Kafka listener port in use fails with STRAIT_LISTEN_FAILED before any data file is created', async () => {
  const dir = tempDir();
  const taken: Server = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as { port: number }).port;
  try {
    const dataDir = join(dir, 'data');
    const args = [cli, 'start', '--listeners', `PLAINTEXT://127.0.0.1:${port}`, '--http-listener', `127.0.0.1:${await freePort()}`, '--data-dir', dataDir];
    const r = await runCommand(process.execPath, args, { timeoutMs: 20_000 });
    assertCleanFailure(r, 'STRAIT_LISTEN_FAILED', String(port));
    const created = existsSync(dataDir) ? readdirSync(dataDir).filter((f) => !f.startsWith('.')) : [];
    assert.deepEqual(created, [], 'no metadata database, WAL or object folder was created');
  } finally {
    await new Promise<void>((resolve) => taken.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an HTTP listener port in use fails with STRAIT_HTTP_LISTEN_FAILED before any data file is created', async () => {
  const dir = tempDir();
  const taken: Server = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as { port: number }).port;
  try {
    const dataDir = join(dir, 'data');
    const args = [cli, 'start', '--listeners', `PLAINTEXT://127.0.0.1:${await freePort()}`, '--http-listener', `127.0.0.1:${port}`, '--data-dir', dataDir];
    const r = await runCommand(process.execPath, args, { timeoutMs: 20_000 });
    assertCleanFailure(r, 'STRAIT_HTTP_LISTEN_FAILED', String(port));
    const created = existsSync(dataDir) ? readdirSync(dataDir).filter((f) => !f.startsWith('.')) : [];
    assert.deepEqual(created, [], 'no metadata database, WAL or object folder was created');
  } finally {
    await new Promise<void>((resolve) => taken.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
});
