// LeaveGroup (classic protocol): one member (v0-2) or a batch of members (v3+, KIP-345), which an
// admin may name by group.instance.id alone.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { LeaveGroupRequest } from '../protocol/generated/leave-group-request.ts';
import type { LeaveGroupResponse } from '../protocol/generated/leave-group-response.ts';
import type { GroupCoordinator } from '../coordinator/group-coordinator.ts';
import type { ApiHandler } from './context.ts';

const BATCHED_VERSION = 3;

export function leaveGroupHandler(groups: GroupCoordinator): ApiHandler<LeaveGroupRequest, LeaveGroupResponse> {
  return {
    apiKey: ApiKey.LeaveGroup,
    minVersion: 0,
    maxVersion: 5,
    async handle(req, ctx) {
      const batched = ctx.apiVersion >= BATCHED_VERSION;
      const members = batched
        ? req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, reason: m.reason }))
        : [{ memberId: req.memberId, groupInstanceId: null, reason: null }];
      const r = await groups.leaveGroup(req.groupId, members);
      if (batched) return { throttleTimeMs: 0, errorCode: r.errorCode, members: r.members };
      // v0-2 have one error: the request's, else the member's.
      const memberError = r.members.find((m) => m.errorCode !== ErrorCode.NONE)?.errorCode ?? ErrorCode.NONE;
      return { throttleTimeMs: 0, errorCode: r.errorCode !== ErrorCode.NONE ? r.errorCode : memberError };
    },
  };
}
