// OffsetCommit: committed offsets of a group member (generation or member epoch checked) or of a
// consumer without group management (generation -1). Durable before the response.
import { ApiKey } from '../protocol/generated/api-table.ts';
import type { OffsetCommitRequest } from '../protocol/generated/offset-commit-request.ts';
import type { OffsetCommitResponse } from '../protocol/generated/offset-commit-response.ts';
import type { GroupCoordinator } from '../coordinator/group-coordinator.ts';
import type { ApiHandler } from './context.ts';

export function offsetCommitHandler(groups: GroupCoordinator): ApiHandler<OffsetCommitRequest, OffsetCommitResponse> {
  return {
    apiKey: ApiKey.OffsetCommit,
    minVersion: 0,
    maxVersion: 9,
    async handle(req, ctx) {
      const topics = await groups.commitOffsets({
        groupId: req.groupId,
        generationIdOrMemberEpoch: req.generationIdOrMemberEpoch,
        memberId: req.memberId,
        groupInstanceId: req.groupInstanceId,
        retentionTimeMs: Number(req.retentionTimeMs),
        topics: req.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => ({
            partitionIndex: p.partitionIndex,
            committedOffset: Number(p.committedOffset),
            committedLeaderEpoch: p.committedLeaderEpoch,
            committedMetadata: p.committedMetadata,
          })),
        })),
        apiVersion: ctx.apiVersion,
      });
      return { throttleTimeMs: 0, topics };
    },
  };
}
