// OffsetDelete (KIP-496): removes committed offsets of topics a group no longer consumes.
import { ApiKey } from '../protocol/generated/api-table.ts';
import type { OffsetDeleteRequest } from '../protocol/generated/offset-delete-request.ts';
import type { OffsetDeleteResponse } from '../protocol/generated/offset-delete-response.ts';
import type { GroupCoordinator } from '../coordinator/group-coordinator.ts';
import type { ApiHandler } from './context.ts';

export function offsetDeleteHandler(groups: GroupCoordinator): ApiHandler<OffsetDeleteRequest, OffsetDeleteResponse> {
  return {
    apiKey: ApiKey.OffsetDelete,
    minVersion: 0,
    maxVersion: 0,
    async handle(req) {
      const r = await groups.deleteOffsets(
        req.groupId,
        req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => p.partitionIndex) })),
      );
      return { errorCode: r.errorCode, throttleTimeMs: 0, topics: r.topics };
    },
  };
}
