// The `folder` object store (the default): objects are files under one local directory, a key's
// '/'-separated parts naming subdirectories and the file. Meant for one process at a time per
// directory (a single-node Strait), though two processes sharing one never corrupt an object.
//
// A put writes a temporary file beside the final one, flushes it to disk, then moves it into place,
// so a reader or a crash sees either no object or the whole object, never part of one:
// - a conditional create (ifNoneMatch) uses link(2), which fails with EEXIST when the name is taken,
//   so of two racing writers exactly one succeeds;
// - an unconditional put uses rename(2), which replaces an existing object atomically.
// Then the directory is flushed so the new name itself survives a crash (and, the first time, the
// parents of directories put() may have created), and the temp is removed. A crash mid-put leaves
// only a temp file, which the next open removes.
import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { link, lstat, mkdir, open, readdir, readFile, rename, rmdir, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { assert, StraitError } from '../../common/errors.ts';
import {
  ObjectExistsError,
  ObjectKeyInvalidError,
  ObjectNotFoundError,
  ObjectRangeInvalidError,
  ObjectStoreUnavailableError,
  type ObjectInfo,
  type ObjectStore,
} from './object-store.ts';

/** Temporary files start with this; no key part may, so a temp never shadows an object. */
const tempPrefix = '.strait-tmp-';
/** S3's limit on a key's length, applied here too so keys stay portable between engines. */
const keyBytesMax = 1024;
/** Linux's NAME_MAX: the longest one file or directory name may be. */
const keyPartBytesMax = 255;
/** How many files list() stats at once. */
const listStatConcurrencyMax = 64;
/** How often put() retries when a concurrent delete removed the directory it was writing into. */
const putDirectoryRetriesMax = 5;

/** A range must be whole numbers with 0 <= start < end; anything else is a bug in the caller. */
function assertRange(range: { start: number; end: number }): void {
  assert(
    Number.isSafeInteger(range.start) && Number.isSafeInteger(range.end) && range.start >= 0 && range.end > range.start,
    `an object range needs whole numbers 0 <= start < end, got [${range.start}, ${range.end})`,
  );
}

/** Sorts keys as S3 lists them, by their UTF-8 bytes (JavaScript's default sort compares UTF-16
 *  units, which orders U+E000..U+FFFF after the characters beyond U+FFFF). */
function sortKeys(keys: string[]): string[] {
  return keys
    .map((key) => ({ key, bytes: Buffer.from(key) }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map(({ key }) => key);
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

function unavailable(what: string, error: unknown): ObjectStoreUnavailableError {
  const wrapped = new ObjectStoreUnavailableError(`folder store: ${what} failed: ${(error as Error).message}`);
  wrapped.cause = error;
  return wrapped;
}

function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return errnoOf(error) === 'EPERM';
  }
}

export class FolderStore implements ObjectStore {
  readonly kind = 'folder';
  readonly root: string;
  /** Directories whose entry in their parent is known to be on disk, so put() need not flush the
   *  parent again. A directory created by another put may not be flushed yet, hence the set. */
  private readonly durableDirs = new Set<string>();
  private closed = false;

  private constructor(root: string) {
    this.root = root;
    this.durableDirs.add(root);
  }

  /** Opens (creating if needed) the store at path and removes temporary files left by a crash. */
  static async open(path: string): Promise<FolderStore> {
    const root = resolve(path);
    try {
      await mkdir(root, { recursive: true });
      await syncDir(dirname(root));
    } catch (error) {
      throw unavailable(`opening ${root}`, error);
    }
    const store = new FolderStore(root);
    await store.removeStaleTemps(root);
    return store;
  }

  async put(key: string, body: Buffer | Buffer[], opts: { ifNoneMatch?: boolean } = {}): Promise<void> {
    this.assertOpen();
    const parts = checkKey(key);
    const path = join(this.root, ...parts);
    const dir = dirname(path);
    const buffers = Array.isArray(body) ? body : [body];
    const { temp, handle } = await this.createTemp(key, dir);
    // From here the temporary file keeps dir and its parents non-empty, so a concurrent delete
    // cannot remove them.
    try {
      try {
        await writeAll(handle, buffers);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      await this.syncNewDirs(dir);
      await this.place(key, temp, path, opts.ifNoneMatch === true);
      await syncDir(dir);
    } catch (error) {
      if (error instanceof StraitError) throw error;
      throw unavailable(`writing ${key}`, error);
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Buffer> {
    this.assertOpen();
    const path = join(this.root, ...checkKey(key));
    if (range === undefined) {
      try {
        return await readFile(path);
      } catch (error) {
        throw this.readError(key, error);
      }
    }
    assertRange(range);
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      throw this.readError(key, error);
    }
    try {
      const { size } = await handle.stat();
      // As S3 does: a range reaching past the end is cut at the end; one starting there is refused.
      if (range.start >= size) throw new ObjectRangeInvalidError(key, range.start, size);
      const length = Math.min(range.end, size) - range.start;
      const out = Buffer.allocUnsafe(length);
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await handle.read(out, filled, length - filled, range.start + filled);
        // Objects are immutable, but a put() of the same key may replace the file under us; a
        // shorter replacement would end the read early. Report what was read, like a short GET.
        if (bytesRead === 0) return out.subarray(0, filled);
        filled += bytesRead;
      }
      return out;
    } catch (error) {
      if (error instanceof StraitError) throw error;
      throw this.readError(key, error);
    } finally {
      await handle.close();
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    this.assertOpen();
    try {
      const info = await stat(join(this.root, ...checkKey(key)));
      return info.isFile() ? { key, sizeBytes: info.size } : null;
    } catch (error) {
      if (error instanceof StraitError) throw error;
      if (isMissing(error)) return null;
      throw unavailable(`head ${key}`, error);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    this.assertOpen();
    // Start at the deepest directory the prefix names in full: 'a/b/c' walks 'a/b' only.
    const cut = prefix.lastIndexOf('/');
    const dirParts = cut < 0 ? [] : prefix.slice(0, cut).split('/');
    // No key has such a directory part, so nothing can match.
    if (dirParts.some((part) => !isValidPart(part))) return [];
    const found: string[] = [];
    try {
      await this.walk(join(this.root, ...dirParts), dirParts.join('/'), prefix, found);
    } catch (error) {
      throw unavailable(`listing ${JSON.stringify(prefix)}`, error);
    }
    const sorted = sortKeys(found);
    const infos: ObjectInfo[] = [];
    for (let i = 0; i < sorted.length; i += listStatConcurrencyMax) {
      const batch = sorted.slice(i, i + listStatConcurrencyMax);
      const sizes = await Promise.all(batch.map((key) => this.sizeOf(key)));
      batch.forEach((key, j) => {
        const sizeBytes = sizes[j];
        // null: deleted since the walk saw it.
        if (sizeBytes !== null && sizeBytes !== undefined) infos.push({ key, sizeBytes });
      });
    }
    return infos;
  }

  async delete(key: string): Promise<void> {
    this.assertOpen();
    const path = join(this.root, ...checkKey(key));
    try {
      await unlink(path);
    } catch (error) {
      // EISDIR/EPERM: the key names a directory (other keys extend it), so no such object.
      const code = errnoOf(error);
      if (isMissing(error) || code === 'EISDIR' || code === 'EPERM') return;
      throw unavailable(`deleting ${key}`, error);
    }
    // The name is not flushed from the directory: a delete lost in a crash leaves an object nobody
    // references any more, which the next delete removes; flushing would slow retention down.
    await this.removeEmptyDirs(dirname(path));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    assert(!this.closed, `folder store ${this.root} used after close()`);
  }

  /** Creates dir (and its parents) and an empty temporary file in it. */
  private async createTemp(key: string, dir: string): Promise<{ temp: string; handle: FileHandle }> {
    for (let attempt = 0; ; attempt++) {
      const temp = join(dir, `${tempPrefix}${process.pid}-${randomBytes(8).toString('hex')}`);
      try {
        await mkdir(dir, { recursive: true });
        return { temp, handle: await open(temp, 'wx', 0o644) };
      } catch (error) {
        const code = errnoOf(error);
        // A concurrent delete removed an empty directory on the way: in the middle of mkdir's
        // steps (it found the directory, then not when it checked its type) or before open.
        if (code === 'ENOENT' && attempt < putDirectoryRetriesMax) continue;
        if (code === 'ENOTDIR' || code === 'EEXIST') {
          throw new ObjectKeyInvalidError(key, 'a part of it is an object (a folder store cannot hold both "a" and "a/b")');
        }
        throw unavailable(`creating a temporary file for ${key}`, error);
      }
    }
  }

  /** Flushes the entry of each directory on the way to dir that may have been created recently,
   *  so the object's path survives a crash, not only its file. */
  private async syncNewDirs(dir: string): Promise<void> {
    const unsynced: string[] = [];
    for (let d = dir; !this.durableDirs.has(d); d = dirname(d)) unsynced.push(d);
    for (const d of unsynced) await syncDir(dirname(d));
    for (const d of unsynced) this.durableDirs.add(d);
  }

  private async place(key: string, temp: string, path: string, ifNoneMatch: boolean): Promise<void> {
    try {
      if (ifNoneMatch) await link(temp, path);
      else await rename(temp, path);
    } catch (error) {
      const code = errnoOf(error);
      const isDir = await lstat(path).then((info) => info.isDirectory(), () => false);
      if ((code === 'EEXIST' || code === 'EISDIR' || code === 'ENOTEMPTY') && isDir) {
        throw new ObjectKeyInvalidError(key, 'other objects have keys that start with it and a "/"');
      }
      if (code === 'EEXIST' && ifNoneMatch) throw new ObjectExistsError(key);
      throw error;
    }
  }

  private readError(key: string, error: unknown): StraitError {
    const code = errnoOf(error);
    if (isMissing(error) || code === 'EISDIR') return new ObjectNotFoundError(key);
    return unavailable(`reading ${key}`, error);
  }

  private async sizeOf(key: string): Promise<number | null> {
    try {
      const info = await stat(join(this.root, ...key.split('/')));
      return info.isFile() ? info.size : null;
    } catch (error) {
      if (isMissing(error)) return null;
      throw unavailable(`listing ${key}`, error);
    }
  }

  private async walk(dir: string, dirKey: string, prefix: string, found: string[]): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      // Removed by a concurrent delete, or the prefix names a missing directory.
      if (isMissing(error)) return;
      throw error;
    }
    for (const entry of entries) {
      if (entry.name.startsWith(tempPrefix)) continue;
      const key = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
      if (entry.isDirectory()) {
        // Descend only where keys below can still start with the prefix.
        const below = `${key}/`;
        if (below.startsWith(prefix) || prefix.startsWith(below)) await this.walk(join(dir, entry.name), key, prefix, found);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        found.push(key);
      }
    }
  }

  /** Removes now-empty directories from dir up to (not including) the root. */
  private async removeEmptyDirs(dir: string): Promise<void> {
    for (let d = dir; d !== this.root && d.startsWith(this.root); d = dirname(d)) {
      try {
        await rmdir(d);
      } catch {
        // ENOTEMPTY (the usual case), ENOENT (a concurrent delete got there first), or anything
        // else: an empty directory left behind is harmless.
        return;
      }
      this.durableDirs.delete(d);
    }
  }

  /** Removes temporary files whose writer process is gone: left behind by a crash mid-put. */
  private async removeStaleTemps(dir: string): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw unavailable(`cleaning up ${dir}`, error);
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        await this.removeStaleTemps(path);
      } else if (entry.name.startsWith(tempPrefix)) {
        const pid = Number.parseInt(entry.name.slice(tempPrefix.length), 10);
        // Temps of live processes (this one included) belong to a put still under way. (A dead
        // writer's PID reused by another process keeps its temp until a later open: harmless.)
        if (Number.isSafeInteger(pid) && pid > 0 && isPidAlive(pid)) continue;
        await unlink(path).catch(() => undefined);
      }
    }
  }
}

export function openFolderStore(path: string): Promise<FolderStore> {
  return FolderStore.open(path);
}

function isValidPart(part: string): boolean {
  return part !== '' && part !== '.' && part !== '..' && !part.startsWith(tempPrefix) && Buffer.byteLength(part) <= keyPartBytesMax;
}

/** Splits a key into its path parts, refusing anything that could escape the root or clash with
 *  the store's own files. */
function checkKey(key: string): string[] {
  if (typeof key !== 'string' || key === '') throw new ObjectKeyInvalidError(String(key), 'it is empty');
  if (Buffer.byteLength(key) > keyBytesMax) throw new ObjectKeyInvalidError(key, `it is longer than ${keyBytesMax} bytes`);
  if (!key.isWellFormed()) throw new ObjectKeyInvalidError(key, 'it is not valid Unicode (a lone surrogate)');
  if (key.includes('\0')) throw new ObjectKeyInvalidError(key, 'it contains a NUL character');
  if (key.startsWith('/')) throw new ObjectKeyInvalidError(key, 'it is an absolute path');
  const parts = key.split('/');
  for (const part of parts) {
    if (part === '') throw new ObjectKeyInvalidError(key, 'it has an empty part (a trailing "/" or "//")');
    if (part === '.' || part === '..') throw new ObjectKeyInvalidError(key, `it has a "${part}" part`);
    if (part.startsWith(tempPrefix)) throw new ObjectKeyInvalidError(key, `a part starts with "${tempPrefix}", reserved for temporary files`);
    if (Buffer.byteLength(part) > keyPartBytesMax) throw new ObjectKeyInvalidError(key, `a part is longer than ${keyPartBytesMax} bytes`);
  }
  return parts;
}

function isMissing(error: unknown): boolean {
  const code = errnoOf(error);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Writes every buffer with writev, without joining them; continues after a partial write. */
async function writeAll(handle: FileHandle, buffers: Buffer[]): Promise<void> {
  let pending = buffers.filter((b) => b.length > 0);
  while (pending.length > 0) {
    let { bytesWritten } = await handle.writev(pending);
    assert(bytesWritten > 0, 'writev wrote nothing');
    const rest: Buffer[] = [];
    for (const buffer of pending) {
      if (bytesWritten >= buffer.length) {
        bytesWritten -= buffer.length;
      } else {
        rest.push(bytesWritten > 0 ? buffer.subarray(bytesWritten) : buffer);
        bytesWritten = 0;
      }
    }
    pending = rest;
  }
}

/** Flushes a directory, so the names created or renamed in it survive a crash. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
