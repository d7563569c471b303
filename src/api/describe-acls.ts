// DescribeAcls: the ACL bindings of the metadata store that match a filter, grouped by resource
// pattern as Kafka groups them. Strait has no authorizer: bindings are stored (a link syncs them
// from its source cluster) and described, never enforced (docs/acls.md). So unlike a Kafka broker
// without an authorizer, which answers SECURITY_DISABLED, Strait answers with what its store holds,
// an empty list when that is nothing.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { DescribeAclsRequest } from '../protocol/generated/describe-acls-request.ts';
import type { DescribeAclsResource, DescribeAclsResponse } from '../protocol/generated/describe-acls-response.ts';
import type { AclBindingRecord } from '../metadata/store.ts';
import { CloseConnection } from '../network/connection.ts';
import type { ApiHandler } from './context.ts';

// Kafka's codes shared by ResourceType, PatternType, AclOperation and AclPermissionType filters.
const UNKNOWN = 0;
const ANY = 1;
// PatternType only.
const MATCH = 2;
const LITERAL = 3;
const PREFIXED = 4;
/** A LITERAL pattern with this name stands for every resource of its type. */
const WILDCARD_RESOURCE = '*';

/** Kafka's AclBindingFilter on the wire: null strings and ANY codes match anything. */
export interface AclBindingFilter {
  resourceTypeFilter: number;
  resourceNameFilter: string | null;
  patternTypeFilter: number;
  principalFilter: string | null;
  hostFilter: string | null;
  operation: number;
  permissionType: number;
}

/**
 * Whether a filter matches a binding, as Kafka's AclBindingFilter.matches decides. The resource
 * type is ANY or exact. The pattern type is ANY (a given name must then equal the pattern's name,
 * whatever its type), LITERAL or PREFIXED (exact type and, when given, exact name), or MATCH: every
 * pattern that would apply to a resource of that name, i.e. the literal name itself, the literal
 * wildcard '*' and every prefix of the name. Principal and host are null (any) or exact, with no
 * wildcard expansion ('*' matches only '*'); operation and permission type are ANY or exact.
 */
export function aclFilterMatches(f: AclBindingFilter, b: AclBindingRecord): boolean {
  if (f.resourceTypeFilter !== ANY && f.resourceTypeFilter !== b.resourceType) return false;
  if (f.patternTypeFilter !== ANY && f.patternTypeFilter !== MATCH && f.patternTypeFilter !== b.patternType) return false;
  if (!resourceNameMatches(f, b)) return false;
  if (f.principalFilter !== null && f.principalFilter !== b.principal) return false;
  if (f.hostFilter !== null && f.hostFilter !== b.host) return false;
  if (f.operation !== ANY && f.operation !== b.operation) return false;
  return f.permissionType === ANY || f.permissionType === b.permissionType;
}

function resourceNameMatches(f: AclBindingFilter, b: AclBindingRecord): boolean {
  const name = f.resourceNameFilter;
  if (name === null) return true;
  if (f.patternTypeFilter !== MATCH) return name === b.resourceName;
  if (b.patternType === LITERAL) return name === b.resourceName || b.resourceName === WILDCARD_RESOURCE;
  if (b.patternType === PREFIXED) return name.startsWith(b.resourceName);
  return false;
}

/** The bindings as Kafka's DescribeAclsResponse lists them: one resource per distinct pattern, each
 *  with its distinct entries. Kafka's order is a hash map's; this one is sorted, for stable output. */
export function aclResources(bindings: Iterable<AclBindingRecord>): DescribeAclsResource[] {
  const resources = new Map<string, DescribeAclsResource & { seen: Set<string> }>();
  for (const b of bindings) {
    const key = JSON.stringify([b.resourceType, b.resourceName, b.patternType]);
    let r = resources.get(key);
    if (!r) {
      r = { resourceType: b.resourceType, resourceName: b.resourceName, patternType: b.patternType, acls: [], seen: new Set() };
      resources.set(key, r);
    }
    const entry = JSON.stringify([b.principal, b.host, b.operation, b.permissionType]);
    if (r.seen.has(entry)) continue;
    r.seen.add(entry);
    r.acls.push({ principal: b.principal, host: b.host, operation: b.operation, permissionType: b.permissionType });
  }
  return [...resources.values()]
    .sort((x, y) => x.resourceType - y.resourceType || compare(x.resourceName, y.resourceName) || x.patternType - y.patternType)
    .map(({ seen: _seen, ...r }) => ({
      ...r,
      acls: r.acls.sort((x, y) => compare(x.principal, y.principal) || compare(x.host, y.host) || x.operation - y.operation || x.permissionType - y.permissionType),
    }));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export const describeAclsHandler: ApiHandler<DescribeAclsRequest, DescribeAclsResponse> = {
  apiKey: ApiKey.DescribeAcls,
  // Kafka 4 serves v1-v3: v0 (no pattern types, before KIP-290) went with KIP-896, and Strait
  // advertises what Kafka 4.3.1 does.
  minVersion: 1,
  maxVersion: 3,
  async handle(req, ctx) {
    // Kafka refuses to build a request with an UNKNOWN component: the request fails to parse and the
    // broker closes the connection.
    if (req.resourceTypeFilter === UNKNOWN || req.patternTypeFilter === UNKNOWN || req.operation === UNKNOWN || req.permissionType === UNKNOWN) {
      throw new CloseConnection(`DescribeAcls filter has an UNKNOWN component: ${JSON.stringify(req)}`);
    }
    const bindings = (await ctx.broker.store.acls()).filter((b) => aclFilterMatches(req, b));
    // Kafka leaves the error message at its default, the empty string, on success.
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: '', resources: aclResources(bindings) };
  },
};
