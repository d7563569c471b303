// The directory lock on its own: exclusive within a process and across processes, released by
// release() and by the holder's death (kill -9), the holder's PID in the refusal; the file lock used
// where Linux's abstract socket namespace is missing takes over a lock whose PID is dead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockDir } from '../../src/common/dir-lock.ts';
import type { LockMethod } from '../../src/common/dir-lock.ts';
import { StraitError } from '../../src/common/errors.ts';
import { repoRoot } from '../compat/harness.ts';

function lockedBy(pid: number | string) {
  return (err: unknown) => err instanceof StraitError && err.code === 'STRAIT_DATA_DIR_LOCKED' && err.message.includes(`(pid ${pid})`);
}

/** A separate Node process holding the lock on dir until killed; resolves once it holds it. */
async function holderProcess(dir: string, method: LockMethod): Promise<ChildProcess> {
  const script = `import { lockDir } from ${JSON.stringify(join(repoRoot, 'src/common/dir-lock.ts'))};
await lockDir(${JSON.stringify(dir)}, 'data.dir', ${JSON.stringify(method)});
process.stdout.write('locked\\n');
setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => c.toString().includes('locked') && resolve());
    child.once('exit', (code) => reject(new Error(`the lock holder exited with ${code}`)));
  });
  return child;
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

for (const method of ['abstract-socket', 'file'] as const) {
  test(`${method}: one holder per directory, in this process and in another, released by release() and by kill -9`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strait-lock-'));
    try {
      const lock = await lockDir(dir, 'data.dir', method);
      await assert.rejects(lockDir(dir, 'data.dir', method), lockedBy(process.pid), 'a second lock in the same process is refused');
      await lock.release();
      const again = await lockDir(dir, 'data.dir', method);
      await again.release();

      const holder = await holderProcess(dir, method);
      await assert.rejects(lockDir(dir, 'data.dir', method), lockedBy(holder.pid!), 'refused, naming the other process');
      await killed(holder);
      const after = await lockDir(dir, 'data.dir', method);
      await after.release();
      if (method === 'abstract-socket') assert.deepEqual(readdirSync(dir), [], 'the socket lock writes no file');
      else assert.ok(!existsSync(join(dir, '.strait.lock')), 'release() removes the lock file');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('file: a lock file whose PID is not alive is stale and taken over; a live one is not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strait-lock-'));
  try {
    const gone = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => gone.once('exit', r));
    writeFileSync(join(dir, '.strait.lock'), `${gone.pid}\n`);
    const lock = await lockDir(dir, 'data.dir', 'file');
    await lock.release();
    const alive = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    try {
      writeFileSync(join(dir, '.strait.lock'), `${alive.pid}\n`);
      await assert.rejects(lockDir(dir, 'data.dir', 'file'), lockedBy(alive.pid!));
    } finally {
      await killed(alive);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the abstract-socket lock follows the directory, not its name: a symbolic link to it is the same lock', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strait-lock-'));
  const link = `${dir}-link`;
  try {
    const { symlinkSync } = await import('node:fs');
    symlinkSync(dir, link);
    const lock = await lockDir(dir, 'data.dir', 'abstract-socket');
    await assert.rejects(lockDir(link, 'data.dir', 'abstract-socket'), lockedBy(process.pid));
    await lock.release();
  } finally {
    rmSync(link, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
