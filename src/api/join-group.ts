// JoinGroup (classic protocol): parks until the group's join phase completes; see
// coordinator/classic-coordinator.ts for the rules.
import { ApiKey } from '../protocol/generated/api-table.ts';
import type { JoinGroupRequest } from '../protocol/generated/join-group-request.ts';
import type { JoinGroupResponse } from '../protocol/generated/join-group-response.ts';
import type { GroupCoordinator } from '../coordinator/group-coordinator.ts';
import type { ApiHandler, RequestContext } from './context.ts';

/** The client address as Kafka shows it in DescribeGroups: "/" and the IP, no port. */
export function clientHost(ctx: RequestContext): string {
  const addr = ctx.conn.remoteAddress;
  const i = addr.lastIndexOf(':');
  return `/${i > 0 ? addr.slice(0, i) : addr}`;
}

export function joinGroupHandler(groups: GroupCoordinator): ApiHandler<JoinGroupRequest, JoinGroupResponse> {
  return {
    apiKey: ApiKey.JoinGroup,
    minVersion: 0,
    maxVersion: 9,
    async handle(req, ctx) {
      const v = ctx.apiVersion;
      const r = await groups.joinGroup({
        groupId: req.groupId,
        memberId: req.memberId,
        groupInstanceId: req.groupInstanceId,
        sessionTimeoutMs: req.sessionTimeoutMs,
        // v0 has no rebalance timeout: the session timeout bounds the rebalance too.
        rebalanceTimeoutMs: v === 0 || req.rebalanceTimeoutMs < 0 ? req.sessionTimeoutMs : req.rebalanceTimeoutMs,
        protocolType: req.protocolType,
        // Copies: the request buffer is not ours to keep.
        protocols: req.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) })),
        reason: req.reason,
        clientId: ctx.clientId ?? '',
        clientHost: clientHost(ctx),
        apiVersion: v,
      });
      return {
        throttleTimeMs: 0,
        errorCode: r.errorCode,
        generationId: r.generationId,
        protocolType: v >= 7 ? r.protocolType : null,
        // Before v7 the protocol name is not nullable.
        protocolName: v >= 7 ? r.protocolName : (r.protocolName ?? ''),
        leader: r.leader,
        skipAssignment: v >= 9 ? r.skipAssignment : false,
        memberId: r.memberId,
        members: r.members.map((m) => ({ memberId: m.memberId, groupInstanceId: v >= 5 ? m.groupInstanceId : null, metadata: m.metadata })),
      };
    },
  };
}
