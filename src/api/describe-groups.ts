// DescribeGroups: state, protocol and members of classic groups. An unknown group (or a KIP-848
// group, described by ConsumerGroupDescribe) is reported as Dead with no error, as Kafka does.
import { ApiKey } from '../protocol/generated/api-table.ts';
import type { DescribeGroupsRequest } from '../protocol/generated/describe-groups-request.ts';
import type { DescribeGroupsResponse } from '../protocol/generated/describe-groups-response.ts';
import type { GroupCoordinator } from '../coordinator/group-coordinator.ts';
import type { ApiHandler } from './context.ts';
import { GROUP_OPERATIONS, OPERATIONS_NOT_REQUESTED } from './acl-operations.ts';

export function describeGroupsHandler(groups: GroupCoordinator): ApiHandler<DescribeGroupsRequest, DescribeGroupsResponse> {
  return {
    apiKey: ApiKey.DescribeGroups,
    minVersion: 0,
    maxVersion: 5,
    handle(req, ctx) {
      const ops = ctx.apiVersion >= 3 && req.includeAuthorizedOperations ? GROUP_OPERATIONS : OPERATIONS_NOT_REQUESTED;
      return {
        throttleTimeMs: 0,
        groups: groups.describeGroups(req.groups).map((g) => ({ ...g, authorizedOperations: ctx.apiVersion >= 3 ? ops : OPERATIONS_NOT_REQUESTED })),
      };
    },
  };
}
