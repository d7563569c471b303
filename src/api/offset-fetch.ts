// OffsetFetch: committed offsets of one group (v0-7) or several (v8+, KIP-709); null topics mean
// every committed offset of the group. v9 carries the member id and epoch of KIP-848 members.
// requireStable (v7+, KIP-447): an offset an open transaction has committed (TxnOffsetCommit) but
// not yet made visible is answered UNSTABLE_OFFSET_COMMIT, so the consumer retries until it settles.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { OffsetFetchRequest } from '../protocol/generated/offset-fetch-request.ts';
import type { OffsetFetchResponse } from '../protocol/generated/offset-fetch-response.ts';
import type { FetchedOffsets, GroupCoordinator } from '../coordinator/group-coordinator.ts';
import type { ApiHandler } from './context.ts';

const BATCHED_VERSION = 8;
/** Before v2 there is no top-level error code: group errors go to every partition. */
const TOP_LEVEL_ERROR_VERSION = 2;

/** KIP-447: offsets an open transaction may still change are not given out under requireStable. */
function markUnstable(groups: GroupCoordinator, groupId: string, r: FetchedOffsets): FetchedOffsets {
  for (const t of r.topics) {
    for (const p of t.partitions) {
      if (p.errorCode === ErrorCode.NONE && groups.pendingTxnOffset(groupId, t.name, p.partitionIndex)) {
        Object.assign(p, { errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT, committedOffset: -1, committedLeaderEpoch: -1, metadata: '' });
      }
    }
  }
  return r;
}

function wireTopics(r: FetchedOffsets) {
  return r.topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => ({
      partitionIndex: p.partitionIndex,
      committedOffset: BigInt(p.committedOffset),
      committedLeaderEpoch: p.committedLeaderEpoch,
      metadata: p.metadata,
      errorCode: p.errorCode,
    })),
  }));
}

export function offsetFetchHandler(groups: GroupCoordinator): ApiHandler<OffsetFetchRequest, OffsetFetchResponse> {
  return {
    apiKey: ApiKey.OffsetFetch,
    minVersion: 0,
    maxVersion: 9,
    async handle(req, ctx) {
      const v = ctx.apiVersion;
      if (v >= BATCHED_VERSION) {
        const out = [];
        for (const g of req.groups) {
          let r = await groups.fetchOffsets(g.groupId, g.topics, g.memberId, g.memberEpoch);
          if (req.requireStable) r = markUnstable(groups, g.groupId, r);
          out.push({ groupId: g.groupId, topics: wireTopics(r), errorCode: r.errorCode });
        }
        return { throttleTimeMs: 0, groups: out };
      }
      // v0-1 cannot ask for all topics (their topic list is not nullable).
      let r = await groups.fetchOffsets(req.groupId, req.topics, null, -1);
      if (req.requireStable) r = markUnstable(groups, req.groupId, r);
      if (v < TOP_LEVEL_ERROR_VERSION && r.errorCode !== ErrorCode.NONE) {
        const topics = (req.topics ?? []).map((t) => ({
          name: t.name,
          partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode: r.errorCode })),
        }));
        return { throttleTimeMs: 0, topics };
      }
      return { throttleTimeMs: 0, topics: wireTopics(r), errorCode: v >= TOP_LEVEL_ERROR_VERSION ? r.errorCode : 0 };
    },
  };
}
