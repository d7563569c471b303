// Deletes objects no index range refers to any more (after retention, DeleteRecords, compaction or
// topic deletion), once they have been unreferenced for a grace period so in-flight reads finish.
//
// It also sweeps orphans: objects that were put but never committed to metadata (a crash between
// an upload's PUT and its metadata commit, or a compaction or cleaning pass that lost its race).
// Metadata never heard of them, so only a listing finds them. Object keys carry their creation
// time (`<prefix><kind>/<ms, base 36>-<node>-…`, see the object writer), and an orphan goes once
// it is older than ORPHAN_GRACE_MS_MIN: far longer than an upload may keep retrying its commit
// after its PUT (an upload that is still retrying puts the object again before each commit attempt).
import type { Logger } from '../common/logger.ts';
import type { MetadataStore } from '../metadata/store.ts';
import type { ObjectInfo, ObjectStore } from './objects/object-store.ts';
import { objectKeyCreatedMs, ORPHAN_SWEPT_KINDS } from './object-writer.ts';

export { objectKeyCreatedMs };

/** An uncommitted object is kept at least this long (and at least the delete grace). */
export const ORPHAN_GRACE_MS_MIN = 60 * 60 * 1000;
/** Orphans are looked for at most this often per object store (a listing is a paged scan). */
export const ORPHAN_SWEEP_INTERVAL_MS = 10 * 60 * 1000;

const lastSweepMs = new WeakMap<ObjectStore, number>();

export async function collectGarbage(
  store: MetadataStore,
  objects: ObjectStore,
  nowMs: number,
  graceMs: number,
  log: Logger,
  orphans: { graceMs?: number; sweepIntervalMs?: number; keyPrefix?: string } = {},
): Promise<number> {
  let deleted = 0;
  for (const o of await store.unreferencedObjects(nowMs, graceMs)) {
    try {
      await objects.delete(o.key);
      await store.forgetObject(o.objectId);
      deleted++;
    } catch (err) {
      log.warn('could not delete an unreferenced object; will retry', { key: o.key, err: err as Error });
    }
  }
  if (deleted > 0) log.info('deleted unreferenced objects', { objects: deleted });
  const sweepIntervalMs = orphans.sweepIntervalMs ?? ORPHAN_SWEEP_INTERVAL_MS;
  if (nowMs - (lastSweepMs.get(objects) ?? -Infinity) >= sweepIntervalMs) {
    lastSweepMs.set(objects, nowMs);
    deleted += await sweepOrphans(store, objects, orphans.keyPrefix ?? '', nowMs, Math.max(graceMs, orphans.graceMs ?? ORPHAN_GRACE_MS_MIN), log);
  }
  return deleted;
}

async function sweepOrphans(store: MetadataStore, objects: ObjectStore, keyPrefix: string, nowMs: number, graceMs: number, log: Logger): Promise<number> {
  const listed: ObjectInfo[] = [];
  try {
    for (const kind of ORPHAN_SWEPT_KINDS) listed.push(...(await objects.list(`${keyPrefix}${kind}/`)));
  } catch (err) {
    log.warn('could not list objects to look for uncommitted uploads; will retry', { err: err as Error });
    return 0;
  }
  let n = 0;
  for (const o of listed) {
    const created = objectKeyCreatedMs(o.key);
    if (created === null || created > nowMs - graceMs) continue;
    try {
      if (await store.hasObject(o.key)) continue;
      await objects.delete(o.key);
      n++;
    } catch (err) {
      log.warn('could not delete an uncommitted object; will retry', { key: o.key, err: err as Error });
    }
  }
  if (n > 0) log.info('deleted objects that were never committed (uploads cut short by a crash)', { objects: n });
  return n;
}
