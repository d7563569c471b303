// DeleteGroups: removes empty groups with their committed offsets.
import { ApiKey } from '../protocol/generated/api-table.ts';
import type { DeleteGroupsRequest } from '../protocol/generated/delete-groups-request.ts';
import type { DeleteGroupsResponse } from '../protocol/generated/delete-groups-response.ts';
import type { GroupCoordinator } from '../coordinator/group-coordinator.ts';
import type { ApiHandler } from './context.ts';

export function deleteGroupsHandler(groups: GroupCoordinator): ApiHandler<DeleteGroupsRequest, DeleteGroupsResponse> {
  return {
    apiKey: ApiKey.DeleteGroups,
    minVersion: 0,
    maxVersion: 2,
    async handle(req) {
      return { throttleTimeMs: 0, results: await groups.deleteGroups(req.groupsNames) };
    },
  };
}
