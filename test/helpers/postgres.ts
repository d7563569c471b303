// A real PostgreSQL 15 server for tests: initdb into a fresh temporary folder, one postmaster on
// 127.0.0.1 and a free port, password (SCRAM) authentication over TCP, its unix socket inside the
// folder. We run as root and PostgreSQL refuses to, so the server runs as the `postgres` OS user.
// The postmaster runs in the foreground in its own process group: an exit hook kills the group if a
// test ends without stopping it, so a failed test never leaves a server behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.ts';

export const postgresBinDir = '/usr/lib/postgresql/15/bin';
const postgresOsUser = 'postgres';
/** How much of the server's output is kept for error messages. */
const outputCharsMax = 16_384;

export interface StartPostgresOptions {
  /** Keep fsync and full_page_writes on (crash tests of the machine); off by default, which is
   *  faster and loses nothing while only processes crash (commits still reach the kernel). */
  durable?: boolean;
  readyTimeoutMs?: number;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>;
}

export interface PostgresHandle {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  password: string;
  /** A URL of a new, empty database of this server (name: letters, digits, underscores). */
  createDatabase(name: string): Promise<string>;
  /** Stops the server for good (fast shutdown, then kill) and removes its folder. */
  stop(): Promise<void>;
  /** Fast shutdown (if it runs) and start again on the same port with the same data. */
  restart(): Promise<void>;
  /** SIGKILL to the whole server (a crash); restart() brings it back with crash recovery. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT to every server process (a frozen database). */
  signal(name: 'SIGSTOP' | 'SIGCONT'): void;
  /** The tail of the server's log, for error messages. */
  output(): string;
}

// Process groups of running servers, by group id, with their data folder. PostgreSQL's child
// processes (backends, checkpointer, …) each start a session of their own, so killing the group
// kills only runuser and the postmaster; killServer() also kills the postmaster's children.
const liveGroups = new Map<number, string>();
const tempDirs = new Set<string>();
let hooksInstalled = false;
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const [pid, dataDir] of liveGroups) killServer(pid, dataDir);
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
  // The test runner turns SIGINT/SIGTERM into process.exit(); a plain script would die of the
  // signal without running the hook above, so where nobody handles the signal, exit the same way.
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    if (process.listenerCount(signal) === 0) process.once(signal, () => process.exit(code));
  }
}

/** SIGKILL to every process of a server: the postmaster's children, then its group. Synchronous, so
 *  that the exit hook can use it. Returns the pids that were signalled. */
function killServer(pgid: number, dataDir: string): number[] {
  const postmasterPid = readPostmasterPidSync(dataDir);
  const pids = postmasterPid === null ? [] : childrenOf(postmasterPid);
  killGroup(pgid, 'SIGKILL');
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  return pids;
}

function childrenOf(parentPid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces, so split after ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parentPid) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie still answers signal 0; it holds nothing, so count it as gone.
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}


function run(command: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${command}: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${command} ${args.join(' ')} failed (${code ?? signal}):\n${output}`));
    });
  });
}

function asPostgres(binary: string, args: string[]): [string, string[]] {
  return ['runuser', ['-u', postgresOsUser, '--', join(postgresBinDir, binary), ...args]];
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresHandle> {
  if (!existsSync(join(postgresBinDir, 'postgres'))) {
    throw new Error(`PostgreSQL 15 is not installed (no ${postgresBinDir}/postgres): apt-get install postgresql-15`);
  }
  installExitHooks();
  const dir = await mkdtemp(join(tmpdir(), 'strait-postgres-'));
  tempDirs.add(dir);
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'socket');
  const password = randomBytes(12).toString('hex');
  const pwFile = join(dir, 'pwfile');
  await mkdir(socketDir);
  await writeFile(pwFile, `${password}\n`);
  const { uid, gid } = await osUser(postgresOsUser);
  for (const path of [dir, socketDir, pwFile]) await chown(path, uid, gid);

  // --no-sync: initdb does not fsync the new cluster (a test machine that crashes loses the test
  // anyway); local (unix socket) connections are trusted, TCP ones need the password.
  await run(...asPostgres('initdb', ['-D', dataDir, '-U', 'postgres', '--pwfile', pwFile, '--auth-local=trust', '--auth-host=scram-sha-256', '--no-sync', '--encoding=UTF8', '--locale=C.UTF-8', '--no-instructions']));
  const port = await freePort();
  const durable = options.durable === true;
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    port: String(port),
    unix_socket_directories: socketDir,
    shared_buffers: '32MB',
    max_connections: '200',
    fsync: durable ? 'on' : 'off',
    full_page_writes: durable ? 'on' : 'off',
    // A commit is written to the kernel before it is answered even when not durable: a killed
    // server (kill()) then loses nothing, only a crashed machine would.
    synchronous_commit: 'on',
    log_min_messages: 'warning',
    ...options.settings,
  };
  const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])];
  const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;

  let output = '';
  let child: ChildProcess | null = null;
  const launch = async (): Promise<void> => {
    const [command, commandArgs] = asPostgres('postgres', args);
    const proc = spawn(command, commandArgs, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    if (proc.pid !== undefined) {
      const pid = proc.pid;
      liveGroups.set(pid, dataDir);
      proc.once('exit', () => liveGroups.delete(pid));
    }
    const append = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-outputCharsMax);
    };
    proc.stdout?.on('data', append);
    proc.stderr?.on('data', append);
    const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
    for (;;) {
      if (exited(proc)) throw new Error(`PostgreSQL exited during start:\n${output}`);
      if (await accepts(url)) return;
      if (Date.now() > deadline) {
        killGroup(proc.pid!, 'SIGKILL');
        throw new Error(`PostgreSQL did not accept connections within ${options.readyTimeoutMs ?? 30_000} ms:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const kill = async (): Promise<void> => {
    const proc = child;
    if (proc === null || proc.pid === undefined || exited(proc)) return;
    // Every process at once, as when the machine dies: a killed postmaster alone leaves backends
    // that would go on for a moment and hold the shared memory the next start waits for.
    const postmasterPid = await readPostmasterPid(dataDir);
    const pids = killServer(proc.pid, dataDir);
    await waitForExit(proc, 10_000);
    await waitForGone(postmasterPid === null ? pids : [postmasterPid, ...pids]);
    // The postmaster may linger as a zombie until PID 1 reaps it, and a zombie still answers
    // kill(pid, 0), so the next start would take it for a running server. Every process of the
    // server is dead now: the lock files are stale, as after a machine crash and reboot.
    await rm(join(dataDir, 'postmaster.pid'), { force: true });
    await rm(join(socketDir, `.s.PGSQL.${port}.lock`), { force: true });
    await rm(join(socketDir, `.s.PGSQL.${port}`), { force: true });
  };
  const shutdown = async (): Promise<void> => {
    const proc = child;
    if (proc === null || proc.pid === undefined || exited(proc)) return;
    // SIGINT to the postmaster is PostgreSQL's fast shutdown: sessions end, a checkpoint is written.
    const postmasterPid = await readPostmasterPid(dataDir);
    if (postmasterPid !== null) {
      try {
        process.kill(postmasterPid, 'SIGINT');
      } catch {
        // Already gone.
      }
    }
    if (!(await waitForExit(proc, 15_000))) await kill();
  };

  await launch();
  return {
    url,
    port,
    password,
    async createDatabase(name: string): Promise<string> {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres:${password}@127.0.0.1:${port}/${name}`;
    },
    async stop(): Promise<void> {
      await shutdown();
      await rm(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    },
    async restart(): Promise<void> {
      await shutdown();
      await launch();
    },
    kill,
    signal(name: 'SIGSTOP' | 'SIGCONT'): void {
      const proc = child;
      if (proc === null || proc.pid === undefined || exited(proc)) return;
      // The backends serving open connections are the postmaster's children in sessions of their
      // own: they must stop too, or a frozen server would go on answering.
      const postmasterPid = readPostmasterPidSync(dataDir);
      killGroup(proc.pid, name);
      for (const pid of postmasterPid === null ? [] : childrenOf(postmasterPid)) {
        try {
          process.kill(pid, name);
        } catch {
          // Gone meanwhile.
        }
      }
    },
    output: () => output,
  };
}

async function accepts(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function readPostmasterPid(dataDir: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function readPostmasterPidSync(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

async function waitForGone(pids: number[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(alive)) {
    if (Date.now() > deadline) throw new Error(`PostgreSQL processes ${pids.filter(alive).join(', ')} outlived SIGKILL for ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function osUser(name: string): Promise<{ uid: number; gid: number }> {
  const line = (await readFile('/etc/passwd', 'utf8')).split('\n').find((entry) => entry.startsWith(`${name}:`));
  if (line === undefined) throw new Error(`no OS user ${name} (install postgresql-15)`);
  const fields = line.split(':');
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}
