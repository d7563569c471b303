// DescribeCluster: the Admin client's view of brokers and the controller.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { DescribeClusterRequest } from '../protocol/generated/describe-cluster-request.ts';
import type { DescribeClusterResponse } from '../protocol/generated/describe-cluster-response.ts';
import type { ApiHandler } from './context.ts';
import { CLUSTER_OPERATIONS, OPERATIONS_NOT_REQUESTED } from './acl-operations.ts';

const ENDPOINT_BROKERS = 1;

export const describeClusterHandler: ApiHandler<DescribeClusterRequest, DescribeClusterResponse> = {
  apiKey: ApiKey.DescribeCluster,
  minVersion: 0,
  maxVersion: 1,
  handle(req, ctx) {
    const b = ctx.broker;
    if (ctx.apiVersion >= 1 && req.endpointType !== ENDPOINT_BROKERS) {
      return { errorCode: ErrorCode.UNSUPPORTED_ENDPOINT_TYPE, errorMessage: `Endpoint type ${req.endpointType} is not served by brokers.`, clusterId: b.clusterId, endpointType: req.endpointType };
    }
    const listener = b.config.advertisedListeners.find((l) => l.name === ctx.conn.listenerName) ?? b.config.advertisedListeners[0]!;
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      endpointType: ENDPOINT_BROKERS,
      clusterId: b.clusterId,
      controllerId: b.nodeId,
      brokers: [{ brokerId: b.nodeId, host: listener.host, port: listener.port, rack: b.config.rack }],
      clusterAuthorizedOperations: req.includeClusterAuthorizedOperations ? CLUSTER_OPERATIONS : OPERATIONS_NOT_REQUESTED,
    };
  },
};
