// Consumer-group offset sync: committed offsets of matching source groups are copied as they are
// (offsets are identical on both sides, so nothing is translated) into idle groups on Strait. A
// group that has members on Strait, or for which any client committed offsets on Strait (simple
// consumers: assign() and commitSync, generation -1, no members), is Strait's from then on and
// never synced again (recorded durably before that commit is acknowledged). An offset past
// what the mirror holds yet is held back (a consumer starting there would be out of range), and the
// group's earlier offset for that partition stays until the mirror catches up.
import type { GroupCoordinator } from '../coordinator/group-coordinator.ts';
import type { CommittedOffsetRecord, MetadataStore } from '../metadata/store.ts';
import type { KafkaClient } from './client/index.ts';
import type { MirrorPartition } from './mirror-fetcher.ts';
import type { GroupSyncStatus } from './service.ts';

export interface GroupSyncContext {
  linkName: string;
  client: KafkaClient;
  groups: GroupCoordinator;
  store: MetadataStore;
  /** The mirror partition of a source topic-partition, when that topic is mirrored and not promoted. */
  mirrorOf(sourceTopic: string, partition: number): MirrorPartition | undefined;
  accept(groupId: string): boolean;
  /** Sync status per group, kept by the link between runs. */
  status: Map<string, GroupSyncStatus>;
}

export const ACTIVE = 'active-on-strait';
/** Group states (classic and consumer protocol) in which the group has members. */
const ACTIVE_STATES = new Set(['stable', 'preparingrebalance', 'completingrebalance', 'assigning', 'reconciling']);

/** One sync pass. `only` limits it to these groups (a promotion's final sync). */
export async function syncGroupOffsets(c: GroupSyncContext, only?: readonly string[]): Promise<number> {
  const owned = new Set((await c.store.linkGroups(c.linkName)).filter((g) => g.state === ACTIVE).map((g) => g.groupId));
  // A final sync names its groups and leaves their gate as it is (no state: not active on the source).
  const groups = only ? only.map((groupId) => ({ groupId, state: '' })) : (await c.client.listGroups()).filter((g) => g.protocolType === 'consumer' || g.protocolType === '');
  // A group with members on the source stays there as a whole; its state is re-read every pass.
  const activeOnSource = new Set(groups.filter((g) => ACTIVE_STATES.has(g.state.toLowerCase())).map((g) => g.groupId));
  const ids = groups.map((g) => g.groupId).filter((id) => c.accept(id) && !owned.has(id));
  for (const id of owned) c.status.set(id, ownedStatus(c.status.get(id), id));
  if (ids.length === 0) return 0;
  const fetched = await c.client.offsetFetch(ids);
  let written = 0;
  const now = Date.now();
  for (const g of fetched) {
    const st: GroupSyncStatus = { ...(c.status.get(g.groupId) ?? blank(g.groupId)), lastSyncMs: now, heldBack: 0, error: null };
    c.status.set(g.groupId, st);
    if (g.error) {
      st.state = 'error';
      st.error = `${g.error.errorName}: ${g.error.message}`;
      continue;
    }
    const here = c.groups.committed(g.groupId);
    const records: CommittedOffsetRecord[] = [];
    for (const o of g.offsets) {
      if (o.error || o.offset < 0) continue;
      const mirror = c.mirrorOf(o.topic, o.partition);
      if (!mirror) continue;
      if (o.offset > mirror.log.highWatermark) {
        st.heldBack++;
        continue;
      }
      const current = here?.get(mirror.topic)?.get(o.partition);
      if (current && current.committedOffset === o.offset && current.leaderEpoch === o.leaderEpoch && current.metadata === (o.metadata ?? '')) continue;
      records.push({
        groupId: g.groupId,
        topic: mirror.topic,
        partitionIndex: o.partition,
        committedOffset: o.offset,
        leaderEpoch: o.leaderEpoch,
        metadata: o.metadata,
        commitTimestampMs: now,
        expireTimestampMs: null,
      });
    }
    const outcome = await c.groups.importOffsets(g.groupId, records);
    // Only after this pass's offsets are in does the gate open: a consumer joining here then starts
    // from the source group's last commit.
    if (outcome === 'imported' && !only) st.gatedOnSource = activeOnSource.has(g.groupId);
    if (outcome === 'active') {
      // Members joined on Strait: the group moved, and Strait is authoritative for it from now on.
      st.state = ACTIVE;
      await c.store.saveLinkGroup({ linkName: c.linkName, groupId: g.groupId, state: ACTIVE, updatedAtMs: now });
      continue;
    }
    written += records.length;
    st.offsetsSynced += records.length;
    st.state = st.gatedOnSource ? 'active-on-source' : st.heldBack > 0 ? 'pending' : 'synced';
  }
  return written;
}

/** The status of a group that is Strait's: not synced, and never gated on the source. */
export function ownedStatus(prev: GroupSyncStatus | undefined, groupId: string): GroupSyncStatus {
  return { ...(prev ?? blank(groupId)), state: ACTIVE, gatedOnSource: false };
}

function blank(groupId: string): GroupSyncStatus {
  return { groupId, state: 'pending', lastSyncMs: 0, heldBack: 0, offsetsSynced: 0, error: null, gatedOnSource: false };
}
