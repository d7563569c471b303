// Deletes objects no index range refers to any more (after retention, DeleteRecords, compaction or
// topic deletion), once they have been unreferenced for a grace period so in-flight reads finish.
import type { Logger } from '../common/logger.ts';
import type { MetadataStore } from '../metadata/store.ts';
import type { ObjectStore } from './objects/object-store.ts';

export async function collectGarbage(store: MetadataStore, objects: ObjectStore, nowMs: number, graceMs: number, log: Logger): Promise<number> {
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
  return deleted;
}
