// SyncGroup (classic protocol): the leader hands in the assignment, every member gets its own.
import { ApiKey } from '../protocol/generated/api-table.ts';
import type { SyncGroupRequest } from '../protocol/generated/sync-group-request.ts';
import type { SyncGroupResponse } from '../protocol/generated/sync-group-response.ts';
import type { GroupCoordinator } from '../coordinator/group-coordinator.ts';
import type { ApiHandler } from './context.ts';

export function syncGroupHandler(groups: GroupCoordinator): ApiHandler<SyncGroupRequest, SyncGroupResponse> {
  return {
    apiKey: ApiKey.SyncGroup,
    minVersion: 0,
    maxVersion: 5,
    async handle(req, ctx) {
      const r = await groups.syncGroup({
        groupId: req.groupId,
        generationId: req.generationId,
        memberId: req.memberId,
        groupInstanceId: req.groupInstanceId,
        protocolType: req.protocolType,
        protocolName: req.protocolName,
        assignments: req.assignments.map((a) => ({ memberId: a.memberId, assignment: Buffer.from(a.assignment) })),
      });
      const v5 = ctx.apiVersion >= 5;
      return {
        throttleTimeMs: 0,
        errorCode: r.errorCode,
        protocolType: v5 ? r.protocolType : null,
        protocolName: v5 ? r.protocolName : null,
        assignment: r.assignment,
      };
    },
  };
}
