// ConsumerGroupDescribe (KIP-848): epochs, assignor, and each member's current and target assignment.
import { ApiKey } from '../protocol/generated/api-table.ts';
import type { ConsumerGroupDescribeRequest } from '../protocol/generated/consumer-group-describe-request.ts';
import type { ConsumerGroupDescribeResponse } from '../protocol/generated/consumer-group-describe-response.ts';
import type { GroupCoordinator } from '../coordinator/group-coordinator.ts';
import type { ApiHandler } from './context.ts';
import { GROUP_OPERATIONS, OPERATIONS_NOT_REQUESTED } from './acl-operations.ts';

export function consumerGroupDescribeHandler(groups: GroupCoordinator): ApiHandler<ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse> {
  return {
    apiKey: ApiKey.ConsumerGroupDescribe,
    minVersion: 0,
    maxVersion: 0,
    handle(req) {
      const ops = req.includeAuthorizedOperations ? GROUP_OPERATIONS : OPERATIONS_NOT_REQUESTED;
      return { throttleTimeMs: 0, groups: groups.consumerGroupDescribe(req.groupIds).map((g) => ({ ...g, authorizedOperations: ops })) };
    },
  };
}
