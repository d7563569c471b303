// ListGroups: every group this coordinator holds, filtered by state (v4+, KIP-518) and type
// (v5+, KIP-848), both case-insensitive.
import { ApiKey } from '../protocol/generated/api-table.ts';
import type { ListGroupsRequest } from '../protocol/generated/list-groups-request.ts';
import type { ListGroupsResponse } from '../protocol/generated/list-groups-response.ts';
import type { GroupCoordinator } from '../coordinator/group-coordinator.ts';
import type { ApiHandler } from './context.ts';

export function listGroupsHandler(groups: GroupCoordinator): ApiHandler<ListGroupsRequest, ListGroupsResponse> {
  return {
    apiKey: ApiKey.ListGroups,
    minVersion: 0,
    maxVersion: 5,
    handle(req) {
      const r = groups.listGroups(req.statesFilter, req.typesFilter);
      return { throttleTimeMs: 0, errorCode: r.errorCode, groups: r.groups };
    },
  };
}
