// ApiVersions: advertises exactly the APIs and versions this broker serves.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { ApiVersionsRequest } from '../protocol/generated/api-versions-request.ts';
import type { ApiVersionsResponse } from '../protocol/generated/api-versions-response.ts';
import type { ApiHandler } from './context.ts';

// KIP-511: client software name and version are restricted to this shape from v3 on.
const SOFTWARE_RE = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

export const apiVersionsHandler: ApiHandler<ApiVersionsRequest, ApiVersionsResponse> = {
  apiKey: ApiKey.ApiVersions,
  minVersion: 0,
  maxVersion: 4,
  handle(req, ctx) {
    if (ctx.apiVersion >= 3 && !(SOFTWARE_RE.test(req.clientSoftwareName) && SOFTWARE_RE.test(req.clientSoftwareVersion))) {
      return { errorCode: ErrorCode.INVALID_REQUEST, apiKeys: [] };
    }
    return { errorCode: ErrorCode.NONE, apiKeys: ctx.broker.apiVersions(), throttleTimeMs: 0 };
  },
};
