// An exclusive lock on a directory, held for the life of the process, so that two brokers never
// share a data.dir (or a wal.dir, or a folder object store). Kafka takes a `.lock` file in each
// log dir with an OS file lock (FileLock over flock); Node has no flock, so:
//
// - On Linux the lock is a listening socket in the abstract Unix namespace, named after the
//   directory's device and inode. Binding it is exclusive, the kernel releases it the moment the
//   process dies (kill -9 included), and no file is written: a PID reused after a crash cannot
//   block a start, and a broker that is refused touches nothing in the directory. The holder
//   answers a connection to the socket with its PID, which the refused broker reports.
// - Elsewhere (no abstract namespace) it is a `.strait.lock` file created exclusively ('wx')
//   holding the PID; a lock whose PID is not alive is stale and taken over.
//
// Both are host-local: two hosts sharing a directory over a network file system are not kept apart
// (as with Kafka's lock on most network file systems).
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { StraitError } from './errors.ts';

export interface DirLock {
  readonly dir: string;
  release(): Promise<void>;
}

const LOCK_FILE = '.strait.lock';
const HOLDER_QUERY_MS = 2000;

export type LockMethod = 'abstract-socket' | 'file';

/** Takes the lock on dir (which must exist) or fails with STRAIT_DATA_DIR_LOCKED naming the holder.
 *  The method is the platform's (tests choose the file lock on Linux to exercise it). */
export async function lockDir(dir: string, setting: string, method: LockMethod = process.platform === 'linux' ? 'abstract-socket' : 'file'): Promise<DirLock> {
  return method === 'abstract-socket' ? lockWithAbstractSocket(dir, setting) : lockWithFile(dir, setting);
}

function locked(dir: string, setting: string, pid: string | null): StraitError {
  const holder = pid ? `another Strait broker (pid ${pid})` : 'another Strait broker';
  return new StraitError('STRAIT_DATA_DIR_LOCKED', `${setting} ${dir} is in use by ${holder}; stop it first, or give this broker its own ${setting}`);
}

function socketName(dir: string): string {
  const st = statSync(dir);
  return `\0strait-dir-lock:${st.dev}:${st.ino}`;
}

async function lockWithAbstractSocket(dir: string, setting: string): Promise<DirLock> {
  const name = socketName(dir);
  for (let attempt = 0; ; attempt++) {
    const server = createServer((socket) => {
      socket.on('error', () => {});
      socket.end(`${process.pid}\n`);
    });
    const bound = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
      server.once('error', (err: NodeJS.ErrnoException) => resolve(err));
      server.listen({ path: name, exclusive: true }, () => resolve(null));
    });
    if (bound === null) {
      server.unref();
      return { dir, release: () => closeServer(server) };
    }
    if (bound.code !== 'EADDRINUSE') {
      throw new StraitError('STRAIT_DATA_DIR_LOCK_FAILED', `cannot lock ${setting} ${dir}: ${bound.code ?? bound.message}`);
    }
    const pid = await holderPid(name);
    // The holder went away between our bind and our question: try once more.
    if (pid === 'gone' && attempt === 0) continue;
    throw locked(dir, setting, pid === 'gone' ? null : pid);
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Asks the lock's holder for its PID; 'gone' when nobody listens any more. */
function holderPid(name: string): Promise<string | null | 'gone'> {
  return new Promise((resolve) => {
    const socket = connect({ path: name });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(null);
    }, HOLDER_QUERY_MS);
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    socket.on('end', () => {
      clearTimeout(timer);
      const pid = text.trim();
      resolve(/^\d+$/.test(pid) ? pid : null);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'gone' : null);
    });
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function lockWithFile(dir: string, setting: string): Promise<DirLock> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return {
        dir,
        release: async () => {
          try {
            if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
          } catch {
            // Already gone.
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new StraitError('STRAIT_DATA_DIR_LOCK_FAILED', `cannot lock ${setting} ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    let holder = '';
    try {
      holder = readFileSync(path, 'utf8').trim();
    } catch {
      // Removed meanwhile: try again.
    }
    const pid = Number(holder);
    if (attempt < 2 && (!/^\d+$/.test(holder) || (pid !== process.pid && !pidAlive(pid)))) {
      // A stale lock left by a broker that died; an empty file is one being written, or a crash mid-write.
      try {
        unlinkSync(path);
      } catch {
        // Someone else took it over.
      }
      continue;
    }
    throw locked(dir, setting, /^\d+$/.test(holder) ? holder : null);
  }
}
