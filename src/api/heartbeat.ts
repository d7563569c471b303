// Heartbeat (classic protocol): keeps a member's session and tells it when to rejoin.
import { ApiKey } from '../protocol/generated/api-table.ts';
import type { HeartbeatRequest } from '../protocol/generated/heartbeat-request.ts';
import type { HeartbeatResponse } from '../protocol/generated/heartbeat-response.ts';
import type { GroupCoordinator } from '../coordinator/group-coordinator.ts';
import type { ApiHandler } from './context.ts';

export function heartbeatHandler(groups: GroupCoordinator): ApiHandler<HeartbeatRequest, HeartbeatResponse> {
  return {
    apiKey: ApiKey.Heartbeat,
    minVersion: 0,
    maxVersion: 4,
    async handle(req) {
      const errorCode = await groups.heartbeat({ groupId: req.groupId, generationId: req.generationId, memberId: req.memberId, groupInstanceId: req.groupInstanceId });
      return { throttleTimeMs: 0, errorCode };
    },
  };
}
