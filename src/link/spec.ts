// A link's settings: where the source cluster is, how to reach it, which topics and groups to
// follow and how often to sync. Validated once, here, for the HTTP API and the CLI alike; every
// problem is reported at once.
import { StraitError } from '../common/errors.ts';
import type { SaslMechanismName, SecurityProtocol } from './client/index.ts';

export interface LinkTls {
  /** PEM text of the CA bundle to trust (system CAs when left out). */
  ca?: string;
  /** PEM client certificate and key, for mutual TLS. */
  cert?: string;
  key?: string;
  passphrase?: string;
  /** false skips server certificate checks (tests only). */
  rejectUnauthorized?: boolean;
  servername?: string;
}

export interface LinkSpec {
  /** Source bootstrap servers, "host:port" each. */
  bootstrap: string[];
  securityProtocol: SecurityProtocol;
  tls: LinkTls | null;
  sasl: { mechanism: SaslMechanismName; username: string; password: string } | null;
  /** Source topics to mirror: regular expressions matched against the whole name. */
  topics: { include: string[]; exclude: string[] };
  /** Create mirrors for matching source topics as they appear (else only `link mirror` creates them). */
  autoCreateMirrors: boolean;
  /** Consumer groups whose committed offsets are synced: regular expressions, whole name. */
  groups: { include: string[]; exclude: string[] };
  /** How often topic lists, partition counts and configs are synced from the source. */
  metadataSyncIntervalMs: number;
  groupSyncIntervalMs: number;
  aclSync: boolean;
  aclSyncIntervalMs: number;
  /** Produce to a mirror goes to the source (and idempotent producers get their ids there). */
  writeForwarding: boolean;
  /** Transactional ids (regular expressions, whole id) whose transactions stay coordinated by the
   *  source while the link forwards writes; none by default. */
  forwardTransactionalIds: string[];
  /** Topic configs never copied from the source, on top of the built-in list (see docs/linking.md). */
  configExclude: string[];
  /** Fetch sizing: per request and per partition, as a follower's replica.fetch.* settings. */
  fetchMaxBytes: number;
  fetchPartitionMaxBytes: number;
  fetchMaxWaitMs: number;
}

type Filter = { include?: string[]; exclude?: string[] };
export type LinkSpecInput = { name: string } & Partial<Omit<LinkSpec, 'bootstrap' | 'topics' | 'groups'>> & { bootstrap: string | string[]; topics?: Filter; groups?: Filter };

export const LINK_DEFAULTS: Omit<LinkSpec, 'bootstrap'> = {
  securityProtocol: 'PLAINTEXT',
  tls: null,
  sasl: null,
  topics: { include: [], exclude: [] },
  autoCreateMirrors: true,
  groups: { include: ['.*'], exclude: [] },
  metadataSyncIntervalMs: 5000,
  groupSyncIntervalMs: 5000,
  aclSync: true,
  aclSyncIntervalMs: 30000,
  writeForwarding: true,
  forwardTransactionalIds: [],
  configExclude: [],
  fetchMaxBytes: 16 * 1024 * 1024,
  fetchPartitionMaxBytes: 2 * 1024 * 1024,
  fetchMaxWaitMs: 500,
};

const NAME = /^[a-zA-Z0-9._-]{1,249}$/;
const PROTOCOLS: SecurityProtocol[] = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];
const MECHANISMS: SaslMechanismName[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

export function invalidLink(message: string): StraitError {
  return new StraitError('STRAIT_LINK_INVALID', message);
}

/** Checks a link's input, fills defaults; throws STRAIT_LINK_INVALID naming every problem. */
export function parseLinkSpec(input: unknown): { name: string; spec: LinkSpec } {
  const problems: string[] = [];
  if (typeof input !== 'object' || input === null) throw invalidLink('a link is a JSON object');
  const i = input as Record<string, unknown>;
  const name = typeof i.name === 'string' ? i.name : '';
  if (!NAME.test(name)) problems.push(`name must be 1-249 characters of [a-zA-Z0-9._-], got ${JSON.stringify(i.name)}`);
  const bootstrapRaw = typeof i.bootstrap === 'string' ? i.bootstrap.split(',') : Array.isArray(i.bootstrap) ? i.bootstrap : [];
  const bootstrap = bootstrapRaw.map((b) => String(b).trim()).filter((b) => b.length > 0);
  if (bootstrap.length === 0) problems.push('bootstrap must name at least one source broker as host:port');
  for (const b of bootstrap) if (!/^[^\s:]+:\d{1,5}$/.test(b) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(b)) problems.push(`bootstrap server '${b}' is not host:port`);
  const spec: LinkSpec = { ...LINK_DEFAULTS, topics: { ...LINK_DEFAULTS.topics }, groups: { ...LINK_DEFAULTS.groups }, bootstrap };
  const known = new Set(['name', 'bootstrap', ...Object.keys(LINK_DEFAULTS)]);
  for (const k of Object.keys(i)) if (!known.has(k)) problems.push(`unknown link setting '${k}'`);

  if (i.securityProtocol !== undefined) {
    if (PROTOCOLS.includes(i.securityProtocol as SecurityProtocol)) spec.securityProtocol = i.securityProtocol as SecurityProtocol;
    else problems.push(`securityProtocol must be one of ${PROTOCOLS.join(', ')}`);
  }
  if (i.tls !== undefined && i.tls !== null) {
    if (typeof i.tls !== 'object') problems.push('tls must be an object');
    else spec.tls = i.tls as LinkTls;
  }
  if (spec.securityProtocol.endsWith('SSL') && spec.tls === null) spec.tls = {};
  if (i.sasl !== undefined && i.sasl !== null) {
    const s = i.sasl as Record<string, unknown>;
    if (!MECHANISMS.includes(s.mechanism as SaslMechanismName)) problems.push(`sasl.mechanism must be one of ${MECHANISMS.join(', ')}`);
    if (typeof s.username !== 'string' || typeof s.password !== 'string') problems.push('sasl needs username and password');
    spec.sasl = { mechanism: s.mechanism as SaslMechanismName, username: String(s.username), password: String(s.password) };
  }
  if (spec.securityProtocol.startsWith('SASL') && spec.sasl === null) problems.push(`securityProtocol ${spec.securityProtocol} needs sasl settings`);
  for (const key of ['topics', 'groups'] as const) {
    const v = i[key];
    if (v === undefined) continue;
    const f = v as { include?: unknown; exclude?: unknown };
    for (const side of ['include', 'exclude'] as const) {
      const list = f[side];
      if (list === undefined) continue;
      if (!Array.isArray(list) || list.some((p) => typeof p !== 'string')) {
        problems.push(`${key}.${side} must be a list of regular expressions`);
        continue;
      }
      for (const p of list as string[]) {
        try {
          new RegExp(`^(?:${p})$`);
        } catch (err) {
          problems.push(`${key}.${side} pattern '${p}' is not a regular expression: ${(err as Error).message}`);
        }
      }
      spec[key][side] = list as string[];
    }
  }
  for (const key of ['autoCreateMirrors', 'aclSync', 'writeForwarding'] as const) {
    if (i[key] === undefined) continue;
    if (typeof i[key] !== 'boolean') problems.push(`${key} must be true or false`);
    else spec[key] = i[key];
  }
  const ints: [keyof LinkSpec, number][] = [
    ['metadataSyncIntervalMs', 100],
    ['groupSyncIntervalMs', 100],
    ['aclSyncIntervalMs', 100],
    ['fetchMaxBytes', 1024],
    ['fetchPartitionMaxBytes', 1024],
    ['fetchMaxWaitMs', 0],
  ];
  for (const [key, min] of ints) {
    const v = i[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) problems.push(`${key} must be an integer of at least ${min}`);
    else (spec as unknown as Record<string, number>)[key] = v;
  }
  if (i.forwardTransactionalIds !== undefined) {
    const list = i.forwardTransactionalIds;
    if (!Array.isArray(list) || list.some((p) => typeof p !== 'string')) problems.push('forwardTransactionalIds must be a list of regular expressions');
    else {
      for (const p of list as string[]) {
        try {
          new RegExp(`^(?:${p})$`);
        } catch (err) {
          problems.push(`forwardTransactionalIds pattern '${p}' is not a regular expression: ${(err as Error).message}`);
        }
      }
      spec.forwardTransactionalIds = list as string[];
    }
  }
  if (i.configExclude !== undefined) {
    if (!Array.isArray(i.configExclude) || i.configExclude.some((c) => typeof c !== 'string')) problems.push('configExclude must be a list of config names');
    else spec.configExclude = i.configExclude as string[];
  }
  if (problems.length > 0) throw invalidLink(`invalid link: ${problems.join('; ')}`);
  return { name, spec };
}

/** Whole-name match against include patterns (none: nothing matches) minus exclude patterns. */
export function matcher(filter: { include: string[]; exclude: string[] }): (name: string) => boolean {
  const inc = filter.include.map((p) => new RegExp(`^(?:${p})$`));
  const exc = filter.exclude.map((p) => new RegExp(`^(?:${p})$`));
  return (name) => inc.some((r) => r.test(name)) && !exc.some((r) => r.test(name));
}

/** The spec as shown to users: the SASL password and TLS key are never echoed. */
export function redactedSpec(spec: LinkSpec): LinkSpec {
  return {
    ...spec,
    sasl: spec.sasl ? { ...spec.sasl, password: '********' } : null,
    tls: spec.tls ? { ...spec.tls, ...(spec.tls.key ? { key: '********' } : {}), ...(spec.tls.passphrase ? { passphrase: '********' } : {}) } : null,
  };
}
