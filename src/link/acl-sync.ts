// ACL sync: a link copies its source cluster's ACL bindings into Strait's metadata, where
// DescribeAcls serves them. Strait does not enforce them yet (docs/acls.md); keeping them lets an
// operator see, before cutting clients over, which principals may do what on the mirrored topics.
//
// Each sync reads every binding of the source and replaces the link's whole set in one store call,
// so an ACL deleted on the source disappears from Strait on the next sync, and a sync that fails
// half-way changes nothing.
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { AclBindingRecord, MetadataStore } from '../metadata/store.ts';
import { KafkaClientError } from './client/index.ts';
import type { AclBinding, AclOperation, AclPatternType, AclPermission, AclResourceType, KafkaClient } from './client/index.ts';

export interface AclSyncResult {
  /** Distinct bindings the source now has in the store (those `accept` allowed). */
  synced: number;
  /** Bindings new since the previous sync, and bindings gone since. */
  added: number;
  removed: number;
  /** The source runs without an authorizer (DescribeAcls answered SECURITY_DISABLED): there is
   *  nothing to sync, and what an earlier sync stored is left as it was. */
  securityDisabled: boolean;
}

/** The store's source name of the bindings a link syncs. */
export function linkAclSource(linkName: string): string {
  return `link:${linkName}`;
}

/**
 * Reads all ACL bindings of the source, keeps those `accept` allows (the link manager's choice:
 * bindings of mirrored topics, synced groups, the cluster and transactional ids) and makes them the
 * store's whole set for `source`.
 */
export async function syncAcls(client: KafkaClient, store: MetadataStore, source: string, accept: (b: AclBinding) => boolean): Promise<AclSyncResult> {
  let bindings: AclBinding[];
  try {
    bindings = await client.describeAcls();
  } catch (err) {
    if (err instanceof KafkaClientError && err.kafkaError === ErrorCode.SECURITY_DISABLED) {
      return { synced: 0, added: 0, removed: 0, securityDisabled: true };
    }
    throw err;
  }
  const records = new Map<string, AclBindingRecord>();
  for (const b of bindings) {
    const record = aclRecord(b);
    if (record === null || !accept(b)) continue;
    records.set(JSON.stringify(Object.values(record)), record);
  }
  const { added, removed } = await store.replaceAcls(source, [...records.values()]);
  return { synced: records.size, added, removed, securityDisabled: false };
}

// Kafka's codes for the names the link client reports. Typed by the client's name unions, so a
// name the client learns is a compile error here until it has a code.
const RESOURCE_TYPE_CODES: Record<AclResourceType, number> = {
  UNKNOWN: 0, ANY: 1, TOPIC: 2, GROUP: 3, CLUSTER: 4, TRANSACTIONAL_ID: 5, DELEGATION_TOKEN: 6, USER: 7,
};
const PATTERN_TYPE_CODES: Record<AclPatternType, number> = { UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 };
const OPERATION_CODES: Record<AclOperation, number> = {
  UNKNOWN: 0, ANY: 1, ALL: 2, READ: 3, WRITE: 4, CREATE: 5, DELETE: 6, ALTER: 7, DESCRIBE: 8, CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10, ALTER_CONFIGS: 11, IDEMPOTENT_WRITE: 12, CREATE_TOKENS: 13, DESCRIBE_TOKENS: 14, TWO_PHASE_COMMIT: 15,
};
const PERMISSION_CODES: Record<AclPermission, number> = { UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 };

/**
 * The store's form of a binding, or null for one that is not a concrete binding: a source newer than
 * this client may describe an enum value the client reports as UNKNOWN, and a binding never has ANY
 * or MATCH. Such a binding could not be described back faithfully, so it is not kept.
 */
function aclRecord(b: AclBinding): AclBindingRecord | null {
  const record = {
    resourceType: RESOURCE_TYPE_CODES[b.resourceType],
    resourceName: b.resourceName,
    patternType: PATTERN_TYPE_CODES[b.patternType],
    principal: b.principal,
    host: b.host,
    operation: OPERATION_CODES[b.operation],
    permissionType: PERMISSION_CODES[b.permission],
  };
  const concrete = record.resourceType > 1 && record.patternType > 2 && record.operation > 1 && record.permissionType > 1;
  return concrete ? record : null;
}
