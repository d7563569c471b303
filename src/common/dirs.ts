// Directories the broker writes to (data.dir, wal.dir, object.store.path), checked before anything
// is opened in them, so that a wrong setting is one clean StraitError naming the setting.
//
// Node's recursive mkdir is not used on a path that may not exist: under /proc it loops forever
// (mkdir answers ENOENT for a parent that stat says exists), and mkdirSync then holds the event loop,
// so not even SIGTERM ends the process. makeDirs walks the path one component at a time instead.
import { accessSync, constants, mkdirSync, realpathSync, statSync, statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { StraitError } from './errors.ts';

/** statfs types of kernel pseudo file systems, which hold no data (Linux magic numbers). */
const PSEUDO_FS: Record<number, string> = {
  0x9fa0: 'procfs',
  0x62656572: 'sysfs',
  0x27e0eb: 'cgroup',
  0x63677270: 'cgroup2',
  0x1cd1: 'devpts',
  0x64626720: 'debugfs',
  0x73636673: 'securityfs',
};

function errnoMessage(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code} (${e.message.replace(/^[A-Z]+: /, '')})` : String((err as Error)?.message ?? err);
}

/** The closest ancestor of path (or path itself) that exists. */
function existingAncestor(path: string): string {
  let p = path;
  for (;;) {
    try {
      statSync(p);
      return p;
    } catch {
      const up = dirname(p);
      if (up === p) return p;
      p = up;
    }
  }
}

/** Why path cannot hold data (a pseudo file system), or null. */
function pseudoFileSystem(path: string): string | null {
  const at = existingAncestor(path);
  let real = at;
  try {
    real = realpathSync(at);
  } catch {
    // Keep the path as given.
  }
  if (/^\/(proc|sys)(\/|$)/.test(real)) return `it is on ${real.startsWith('/proc') ? 'procfs' : 'sysfs'} (${real}), a kernel pseudo file system`;
  try {
    const type = Number(statfsSync(at).type);
    if (PSEUDO_FS[type]) return `it is on ${PSEUDO_FS[type]}, a kernel pseudo file system`;
  } catch {
    // statfs is not available everywhere; the checks below still apply.
  }
  return null;
}

/** mkdir -p, one component at a time, failing with the errno of the component that failed. */
function makeDirs(path: string): void {
  const parts: string[] = [];
  let p = path;
  while (dirname(p) !== p) {
    parts.unshift(p);
    p = dirname(p);
  }
  for (const part of parts) {
    let isDir: boolean;
    try {
      isDir = statSync(part).isDirectory();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      try {
        mkdirSync(part);
      } catch (mkErr) {
        // Another process made it first: fine if it is a directory.
        if ((mkErr as NodeJS.ErrnoException).code !== 'EEXIST') throw mkErr;
      }
      isDir = statSync(part).isDirectory();
    }
    if (!isDir) throw new StraitError('STRAIT_NOT_A_DIRECTORY', `${part} exists and is not a directory`);
  }
}

/**
 * Creates dir if needed and checks that the broker can use it: a directory, writable, and on a real
 * file system. Returns its absolute path. Fails with `code` and a message naming `setting`.
 */
export function prepareDir(dir: string, setting: string, code: string): string {
  const abs = resolve(dir);
  const fail = (why: string) => new StraitError(code, `${setting} ${dir} is unusable: ${why}`);
  const pseudo = pseudoFileSystem(abs);
  if (pseudo) throw fail(pseudo);
  try {
    makeDirs(abs);
  } catch (err) {
    throw fail(err instanceof StraitError ? err.message : `cannot create it: ${errnoMessage(err)}`);
  }
  try {
    accessSync(abs, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (err) {
    throw fail(`not writable: ${errnoMessage(err)}`);
  }
  return abs;
}

/** True when child is dir or inside it (both absolute; symbolic links resolved where they exist). */
export function isWithin(child: string, dir: string): boolean {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  const c = real(child);
  const d = real(dir);
  return c === d || c.startsWith(d.endsWith('/') ? d : `${d}/`);
}
