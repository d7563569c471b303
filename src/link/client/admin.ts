// What the config and ACL syncers read from the source: DescribeConfigs (topics from any broker, a
// broker's own configs from that broker) and DescribeAcls. Kafka's enum numbers become Kafka's enum
// names ('TOPIC', 'DYNAMIC_TOPIC_CONFIG', 'READ', 'ALLOW') so results can be shown and stored as is.
import { ApiKey } from '../../protocol/generated/api-table.ts';
import { ErrorCode } from '../../protocol/generated/errors.ts';
import type { DescribeAclsResponse } from '../../protocol/generated/describe-acls-response.ts';
import type { DescribeConfigsResponse, DescribeConfigsResult } from '../../protocol/generated/describe-configs-response.ts';
import type { BrokerConnection } from './connection.ts';
import type { CallOptions, ClientCore, Limits } from './core.ts';
import { KafkaClientError, invalidArgument, kafkaError } from './errors.ts';
import { pushTo } from './route.ts';

// ---- DescribeConfigs ----------------------------------------------------------------------------

export type ConfigResourceType = 'topic' | 'broker';
const CONFIG_RESOURCE_TYPE: Record<ConfigResourceType, number> = { topic: 2, broker: 4 };

// ConfigSource and ConfigType of DescribeConfigs v1+ and v3+ (KIP-226, KIP-569), by number.
const CONFIG_SOURCES = [
  'UNKNOWN', 'DYNAMIC_TOPIC_CONFIG', 'DYNAMIC_BROKER_CONFIG', 'DYNAMIC_DEFAULT_BROKER_CONFIG', 'STATIC_BROKER_CONFIG',
  'DEFAULT_CONFIG', 'DYNAMIC_BROKER_LOGGER_CONFIG', 'CLIENT_METRICS_CONFIG', 'GROUP_CONFIG',
] as const;
const CONFIG_TYPES = ['UNKNOWN', 'BOOLEAN', 'STRING', 'INT', 'SHORT', 'LONG', 'DOUBLE', 'LIST', 'CLASS', 'PASSWORD'] as const;
const DEFAULT_CONFIG_SOURCE = 5;

export type ConfigSource = (typeof CONFIG_SOURCES)[number];
export type ConfigType = (typeof CONFIG_TYPES)[number];

export interface ConfigResource {
  type: ConfigResourceType;
  /** Topic name, or the broker's node id as a string. */
  name: string;
  /** Only these keys; null or left out: all. */
  keys?: string[] | null;
}

export interface DescribeConfigsOptions extends CallOptions {
  includeSynonyms?: boolean;
  includeDocumentation?: boolean;
}

export interface ConfigEntry {
  name: string;
  /** null for sensitive values (passwords), which brokers never send. */
  value: string | null;
  source: ConfigSource;
  isDefault: boolean;
  readOnly: boolean;
  isSensitive: boolean;
  /** Where the value could also come from, most specific first (when includeSynonyms). */
  synonyms: { name: string; value: string | null; source: ConfigSource }[];
  type: ConfigType;
  documentation: string | null;
}

export interface ConfigResourceResult {
  type: ConfigResourceType;
  name: string;
  /** UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist, and so on. */
  error: KafkaClientError | null;
  configs: ConfigEntry[];
}

export async function describeConfigs(core: ClientCore, resources: readonly ConfigResource[], options: DescribeConfigsOptions = {}): Promise<ConfigResourceResult[]> {
  const limits = core.limits(options);
  for (const r of resources) {
    if (r.type === 'broker' && !/^\d+$/.test(r.name)) throw invalidArgument(`broker config resource name must be a node id, not ${JSON.stringify(r.name)}`);
  }
  // Topic configs may be asked of any broker; a broker's configs only of that broker.
  const requests = new Map<string, ConfigResource[]>();
  for (const r of resources) {
    const key = r.type === 'broker' ? `broker:${r.name}` : 'any';
    pushTo(requests, key, r);
  }
  const answers = new Map<string, ConfigResourceResult>();
  await Promise.all([...requests].map(([key, group]) =>
    core.retry(`DescribeConfigs (${group.map((r) => `${r.type} ${r.name}`).join(', ')})`, limits, async () => {
      const conn = key === 'any' ? await core.anyConnection(limits) : await core.connectionToNode(Number(group[0]!.name), limits);
      for (const result of await describeOn(core, conn, group, options, limits)) answers.set(`${result.type}\u0000${result.name}`, result);
    }),
  ));
  return resources.map((r) => answers.get(`${r.type}\u0000${r.name}`) ?? {
    type: r.type,
    name: r.name,
    error: kafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `DescribeConfigs response lacks ${r.type} ${r.name}`),
    configs: [],
  });
}

async function describeOn(core: ClientCore, conn: BrokerConnection, group: ConfigResource[], options: DescribeConfigsOptions, limits: Limits): Promise<ConfigResourceResult[]> {
  const { version, response } = await conn.request<DescribeConfigsResponse>(
    ApiKey.DescribeConfigs,
    (v) => ({
      resources: group.map((r) => ({ resourceType: CONFIG_RESOURCE_TYPE[r.type], resourceName: r.name, configurationKeys: r.keys ?? null })),
      ...(v >= 1 ? { includeSynonyms: options.includeSynonyms ?? false } : {}),
      ...(v >= 3 ? { includeDocumentation: options.includeDocumentation ?? false } : {}),
    }),
    core.requestTimeoutMs(limits),
  );
  return response.results.map((res) => configResult(res, version));
}

function configResult(res: DescribeConfigsResult, version: number): ConfigResourceResult {
  const type: ConfigResourceType = res.resourceType === CONFIG_RESOURCE_TYPE.broker ? 'broker' : 'topic';
  if (res.errorCode !== ErrorCode.NONE) {
    return { type, name: res.resourceName, error: kafkaError(res.errorCode, `DescribeConfigs of ${type} ${res.resourceName}`, res.errorMessage), configs: [] };
  }
  const configs = res.configs.map((c): ConfigEntry => ({
    name: c.name,
    value: c.value,
    // v0 has only isDefault; v1+ says where the value comes from instead.
    source: version >= 1 ? (CONFIG_SOURCES[c.configSource] ?? 'UNKNOWN') : c.isDefault ? 'DEFAULT_CONFIG' : 'UNKNOWN',
    isDefault: version >= 1 ? c.configSource === DEFAULT_CONFIG_SOURCE : c.isDefault,
    readOnly: c.readOnly,
    isSensitive: c.isSensitive,
    synonyms: c.synonyms.map((s) => ({ name: s.name, value: s.value, source: CONFIG_SOURCES[s.source] ?? 'UNKNOWN' })),
    type: CONFIG_TYPES[c.configType] ?? 'UNKNOWN',
    documentation: c.documentation,
  }));
  return { type, name: res.resourceName, error: null, configs };
}

// ---- DescribeAcls -------------------------------------------------------------------------------

const RESOURCE_TYPES = ['UNKNOWN', 'ANY', 'TOPIC', 'GROUP', 'CLUSTER', 'TRANSACTIONAL_ID', 'DELEGATION_TOKEN', 'USER'] as const;
const PATTERN_TYPES = ['UNKNOWN', 'ANY', 'MATCH', 'LITERAL', 'PREFIXED'] as const;
const OPERATIONS = [
  'UNKNOWN', 'ANY', 'ALL', 'READ', 'WRITE', 'CREATE', 'DELETE', 'ALTER', 'DESCRIBE', 'CLUSTER_ACTION',
  'DESCRIBE_CONFIGS', 'ALTER_CONFIGS', 'IDEMPOTENT_WRITE', 'CREATE_TOKENS', 'DESCRIBE_TOKENS', 'TWO_PHASE_COMMIT',
] as const;
const PERMISSIONS = ['UNKNOWN', 'ANY', 'DENY', 'ALLOW'] as const;

export type AclResourceType = (typeof RESOURCE_TYPES)[number];
export type AclPatternType = (typeof PATTERN_TYPES)[number];
export type AclOperation = (typeof OPERATIONS)[number];
export type AclPermission = (typeof PERMISSIONS)[number];

/** Which ACLs to describe; every field left out matches anything. */
export interface AclFilter {
  resourceType?: AclResourceType;
  resourceName?: string | null;
  patternType?: AclPatternType;
  principal?: string | null;
  host?: string | null;
  operation?: AclOperation;
  permission?: AclPermission;
}

export interface AclBinding {
  resourceType: AclResourceType;
  resourceName: string;
  patternType: AclPatternType;
  principal: string;
  host: string;
  operation: AclOperation;
  permission: AclPermission;
}

export async function describeAcls(core: ClientCore, filter: AclFilter = {}, options: CallOptions = {}): Promise<AclBinding[]> {
  const limits = core.limits(options);
  const patternType = filter.patternType ?? 'ANY';
  return core.retry('DescribeAcls', limits, async () => {
    const conn = await core.anyConnection(limits);
    const { response } = await conn.request<DescribeAclsResponse>(
      ApiKey.DescribeAcls,
      () => ({
        resourceTypeFilter: RESOURCE_TYPES.indexOf(filter.resourceType ?? 'ANY'),
        resourceNameFilter: filter.resourceName ?? null,
        patternTypeFilter: PATTERN_TYPES.indexOf(patternType),
        principalFilter: filter.principal ?? null,
        hostFilter: filter.host ?? null,
        operation: OPERATIONS.indexOf(filter.operation ?? 'ANY'),
        permissionType: PERMISSIONS.indexOf(filter.permission ?? 'ANY'),
      }),
      core.requestTimeoutMs(limits),
      // Pattern types came with v1 (KIP-290); v0 knows only literal names.
      patternType === 'LITERAL' ? {} : { versionMin: 1 },
    );
    // SECURITY_DISABLED when the source runs without an authorizer: no ACLs to sync, and the caller decides.
    if (response.errorCode !== ErrorCode.NONE) throw kafkaError(response.errorCode, `DescribeAcls on ${conn.label}`, response.errorMessage);
    return response.resources.flatMap((r) => r.acls.map((a) => ({
      resourceType: RESOURCE_TYPES[r.resourceType] ?? 'UNKNOWN',
      resourceName: r.resourceName,
      patternType: PATTERN_TYPES[r.patternType] ?? 'UNKNOWN',
      principal: a.principal,
      host: a.host,
      operation: OPERATIONS[a.operation] ?? 'UNKNOWN',
      permission: PERMISSIONS[a.permissionType] ?? 'UNKNOWN',
    })));
  });
}
