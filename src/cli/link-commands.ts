// `strait link …`: the link operations of a running broker, through its HTTP admin API
// (docs/http-api.md). The command only parses flags, sends one request and prints the answer;
// every check of a link's settings happens in the broker, so the CLI and the API say the same.
import { readFileSync } from 'node:fs';
import type { GroupSyncStatus, LinkDescription, MirrorStatus, PromotionReport, ReverseCopierStatus, ReverseReport } from '../link/service.ts';

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9095';
/** How long a request may take before the CLI gives up (promote waits as long as asked, plus this). */
const REQUEST_TIMEOUT_MS = 30_000;

export const LINK_USAGE = `Usage: strait link <command> [options]

Commands:
  create NAME --bootstrap HOST:PORT[,…] [options]   Create a link to a source Kafka cluster.
  list                                              List links with their state and lag.
  describe NAME [--json]                            Show a link, its mirror topics per partition and its groups.
  pause NAME                                        Stop fetching from the source (mirrors stay read-only).
  resume NAME                                       Fetch again.
  delete NAME [--force]                             Delete a link; --force fails its mirror topics over first.
  mirror NAME TOPIC                                 Mirror one source topic (auto-create does it for matching topics).
  promote NAME [--topic T]… [--timeout-ms N]        Wait for the mirrors to catch up, then make them writable.
  failover NAME [--topic T]…                        Make mirrors writable now, whatever they lack (source lost).
  reverse NAME [--topic T]… [--wait-ms N]           Rollback after promotion: copy what was written to the promoted
                                                    topics back to the source at the same offsets, with group
                                                    offsets; --wait-ms waits until the copy has caught up.
  reverse NAME --stop [--topic T]…                  Stop copying back.

Options for create:
  --bootstrap HOST:PORT[,…]   Source bootstrap servers (repeatable).
  --include REGEX             Source topics to mirror, whole-name regular expression (repeatable).
  --exclude REGEX             Source topics never mirrored (repeatable).
  --group-include REGEX       Consumer groups whose offsets are synced (repeatable; default all).
  --group-exclude REGEX       Consumer groups never synced (repeatable).
  --no-auto-create            Only mirror topics named with \`strait link mirror\`.
  --security-protocol P       PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
  --sasl-mechanism M          PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512,
  --sasl-username U           with this user
  --sasl-password-file F      and the password in this file (one trailing newline is dropped).
  --tls-ca-file F             PEM CA bundle to trust instead of the system CAs.
  --tls-cert-file F           PEM client certificate and
  --tls-key-file F            key, for mutual TLS.
  --set KEY=VALUE             Any other link setting, e.g. --set fetchMaxWaitMs=250,
                              --set tls.servername=kafka.example; numbers, true/false, null and
                              JSON arrays or objects are parsed (configExclude also takes a,b,c).

Options for every command:
  --admin URL     The broker's admin API (default: $STRAIT_ADMIN_URL, else ${DEFAULT_ADMIN_URL}).
  --json          Print the broker's answer as JSON (not for delete).
  -h, --help      Show this help.

Errors print "strait: <message> (<code>)" and exit with status 1; usage mistakes exit with 2.
`;

export interface LinkCliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
}

const processIo: LinkCliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
};

/** A mistake in the command line: exit status 2. */
class UsageError extends Error {}
/** The broker refused, or could not be asked: exit status 1. */
class CommandError extends Error {}

type OptionKind = 'value' | 'list' | 'flag';

interface Parsed {
  args: string[];
  values: Record<string, string>;
  lists: Record<string, string[]>;
  flags: Set<string>;
}

interface CommandDef {
  args: string[];
  options: Record<string, OptionKind>;
  run: (p: Parsed, api: AdminApi, out: Output) => Promise<void>;
}

const COMMON_OPTIONS: Record<string, OptionKind> = { admin: 'value', help: 'flag' };
const JSON_OPTION: Record<string, OptionKind> = { json: 'flag' };

function parseArgs(argv: string[], def: CommandDef): Parsed {
  const options = { ...COMMON_OPTIONS, ...def.options };
  const parsed: Parsed = { args: [], values: {}, lists: {}, flags: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h') {
      parsed.flags.add('help');
      continue;
    }
    if (!arg.startsWith('--')) {
      parsed.args.push(arg);
      continue;
    }
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const kind = options[name];
    if (kind === undefined) throw new UsageError(`unknown option --${name}`);
    if (kind === 'flag') {
      if (value !== undefined) throw new UsageError(`option --${name} takes no value`);
      parsed.flags.add(name);
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`option --${name} needs a value`);
    }
    if (kind === 'list') (parsed.lists[name] ??= []).push(value);
    else if (name in parsed.values) throw new UsageError(`option --${name} is given twice`);
    else parsed.values[name] = value;
  }
  if (parsed.flags.has('help')) return parsed;
  if (parsed.args.length !== def.args.length) {
    const expected = def.args.length === 0 ? 'no arguments' : def.args.join(' ');
    throw new UsageError(parsed.args.length < def.args.length ? `missing ${def.args.slice(parsed.args.length).join(' ')}` : `unexpected argument '${parsed.args[def.args.length]}' (expected ${expected})`);
  }
  return parsed;
}

/** Accepts http(s)://host:port[/prefix] or host:port; answers the base URL without a trailing slash. */
export function normalizeAdminUrl(raw: string): string {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw.trim()) ? raw.trim() : `http://${raw.trim()}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`admin URL '${raw}' is not a URL like ${DEFAULT_ADMIN_URL}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`admin URL '${raw}' must be http:// or https://`);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

class AdminApi {
  readonly base: string;
  constructor(base: string) {
    this.base = base;
  }

  /** One request; answers the parsed JSON (undefined for 204), or throws a CommandError that says why. */
  async request(method: string, path: string, body?: unknown, timeoutMs: number | null = REQUEST_TIMEOUT_MS): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: timeoutMs === null ? undefined : AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      if (e.name === 'TimeoutError') throw new CommandError(`no answer from the Strait admin API at ${this.base} within ${Math.round(timeoutMs! / 1000)} s`);
      const why = e.cause?.message ?? e.message;
      throw new CommandError(
        `cannot reach the Strait admin API at ${this.base} (${why}); is the broker running with http.listener at that address? Choose another with --admin URL or STRAIT_ADMIN_URL`,
      );
    }
    const text = await res.text();
    if (res.status === 204) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CommandError(`${this.base}${path} answered ${res.status} ${res.statusText} with something other than JSON; is ${this.base} Strait's admin API?`);
    }
    if (res.ok) return parsed;
    const error = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    if (typeof error?.code === 'string' && typeof error.message === 'string') throw new CommandError(`${error.message} (${error.code})`);
    throw new CommandError(`${this.base}${path} answered ${res.status} ${res.statusText}`);
  }
}

interface Output {
  line(text?: string): void;
  json(value: unknown): void;
}

function linkPath(name: string, suffix = ''): string {
  return `/v1/links/${encodeURIComponent(name)}${suffix}`;
}

// ---- create ----

function readTextFile(path: string, option: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new CommandError(`cannot read ${option} ${path}: ${(err as Error).message}`);
  }
}

/** --set values: JSON where it parses as a number, boolean, null, array or object; else the text. */
function parseSetValue(key: string, raw: string): unknown {
  if (/^(true|false|null|-?\d+(\.\d+)?)$/.test(raw) || /^[[{"]/.test(raw)) {
    try {
      return JSON.parse(raw);
    } catch {
      throw new UsageError(`--set ${key}: '${raw}' is not valid JSON`);
    }
  }
  // Config names never contain commas, so a plain list is unambiguous there (regexes may).
  if (key === 'configExclude') return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return raw;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  if (keys.some((k) => k === '' || k === '__proto__' || k === 'constructor' || k === 'prototype')) throw new UsageError(`--set: '${path}' is not a setting name`);
  let node = target;
  for (const k of keys.slice(0, -1)) {
    const next = node[k];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[k] = {};
    node = node[k] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
}

/** The LinkSpecInput the flags describe; the broker validates it (parseLinkSpec). */
function linkInputFromFlags(name: string, p: Parsed): Record<string, unknown> {
  const input: Record<string, unknown> = { name };
  const list = (k: string) => p.lists[k] ?? [];
  const bootstrap = list('bootstrap').flatMap((b) => b.split(',')).map((b) => b.trim()).filter((b) => b !== '');
  if (bootstrap.length === 0) throw new UsageError('link create needs --bootstrap HOST:PORT[,…] naming the source cluster');
  input.bootstrap = bootstrap;
  if (p.lists.include || p.lists.exclude) input.topics = { include: list('include'), exclude: list('exclude') };
  if (p.lists['group-include'] || p.lists['group-exclude']) {
    // A side left out keeps its default (groups.include is every group).
    const groups: Record<string, string[]> = {};
    if (p.lists['group-include']) groups.include = list('group-include');
    if (p.lists['group-exclude']) groups.exclude = list('group-exclude');
    input.groups = groups;
  }
  if (p.flags.has('no-auto-create')) input.autoCreateMirrors = false;
  if (p.values['security-protocol'] !== undefined) input.securityProtocol = p.values['security-protocol'];
  const sasl = ['sasl-mechanism', 'sasl-username', 'sasl-password-file'];
  if (sasl.some((k) => p.values[k] !== undefined)) {
    const missing = sasl.filter((k) => p.values[k] === undefined);
    if (missing.length > 0) throw new UsageError(`SASL needs ${sasl.map((k) => `--${k}`).join(', ')}; missing ${missing.map((k) => `--${k}`).join(', ')}`);
    const password = readTextFile(p.values['sasl-password-file']!, '--sasl-password-file').replace(/\r?\n$/, '');
    input.sasl = { mechanism: p.values['sasl-mechanism'], username: p.values['sasl-username'], password };
  }
  const tlsFiles: [string, string][] = [['tls-ca-file', 'ca'], ['tls-cert-file', 'cert'], ['tls-key-file', 'key']];
  if (tlsFiles.some(([flag]) => p.values[flag] !== undefined)) {
    const tls: Record<string, string> = {};
    for (const [flag, key] of tlsFiles) if (p.values[flag] !== undefined) tls[key] = readTextFile(p.values[flag]!, `--${flag}`);
    input.tls = tls;
  }
  for (const kv of list('set')) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set expects KEY=VALUE, got '${kv}'`);
    const key = kv.slice(0, eq);
    if (key === 'name') throw new UsageError('--set name: the link name is the NAME argument');
    setPath(input, key, parseSetValue(key, kv.slice(eq + 1)));
  }
  return input;
}

// ---- human output ----

/** Columns padded to their widest cell, two spaces apart, no trailing blanks. */
export function table(header: string[], rows: (string | number)[][], indent = ''): string[] {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  return cells.map((r) => indent + r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd());
}

function when(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : 'never';
}

function offset(n: number): string {
  return n < 0 ? '-' : String(n);
}

function seconds(s: number): string {
  return Number.isInteger(s) ? String(s) : s.toFixed(1);
}

function patterns(f: { include: string[]; exclude: string[] }): string {
  const show = (l: string[]) => (l.length === 0 ? '(none)' : l.join(' '));
  return `include ${show(f.include)}; exclude ${show(f.exclude)}`;
}

function source(link: LinkDescription): string {
  return link.spec.bootstrap.join(',');
}

function linkSummary(link: LinkDescription): string[] {
  const auth = link.spec.sasl ? `, SASL ${link.spec.sasl.mechanism} as ${link.spec.sasl.username}` : '';
  return [
    `Link ${link.name} (${link.state})`,
    ...table(
      ['', ''],
      [
        ['id', link.linkId],
        ['source', `${source(link)} (${link.spec.securityProtocol}${auth}${link.sourceClusterId ? `, cluster ${link.sourceClusterId}` : ''})`],
        ['source error', link.sourceError ?? '-'],
        ['created', when(link.createdAtMs)],
        ['topics', `${patterns(link.spec.topics)}; auto-create mirrors ${link.spec.autoCreateMirrors ? 'on' : 'off'}`],
        ['groups', patterns(link.spec.groups)],
        ['last sync', `configs ${when(link.lastConfigSyncMs)}, groups ${when(link.lastGroupSyncMs)}, ACLs ${link.spec.aclSync ? when(link.lastAclSyncMs) : 'off'} (${link.aclsSynced} ACLs synced)`],
        ...(link.aclSyncNote ? [['ACL sync', link.aclSyncNote]] : []),
      ],
      '  ',
    ).slice(1),
  ];
}

function mirrorLines(m: MirrorStatus): string[] {
  const from = m.sourceTopic === m.topic ? '' : ` (from ${m.sourceTopic})`;
  const lines = [`${m.topic}${from}: ${m.state}, lag ${m.lagRecords} records`];
  lines.push(
    ...table(
      ['PARTITION', 'MIRRORED END', 'SOURCE HW', 'LAG RECORDS', 'LAG SECONDS', 'ERROR'],
      m.partitions.map((p) => [p.partition, p.mirroredEndOffset, offset(p.sourceHighWatermark), p.lagRecords, seconds(p.lagSeconds), p.error ?? '-']),
      '  ',
    ),
  );
  for (const p of m.partitions) {
    const t = p.truncations.at(-1);
    if (t) lines.push(`  partition ${p.partition}: truncated ${p.truncations.length}× after source divergence, last at ${when(t.atMs)} from ${t.fromOffset} to ${t.toOffset} (${t.reason})`);
  }
  if (m.lastPromotion) {
    const lp = m.lastPromotion;
    lines.push(`  last ${lp.state === 'failed-over' ? 'failover' : 'promotion'}: ${lp.state}, loss window ${lp.lossWindowRecords} records, ${lp.abortedTransactions} transactions aborted, ${lp.groupsSynced} groups synced`);
  }
  if (m.reverse) lines.push(...reverseLines(m.reverse).map((l) => `  ${l}`));
  else if (m.reversing) lines.push('  copy back to the source: requested, not running (the link is paused)');
  return lines;
}

/** A reverse copy's progress: per partition, then notes, offset map size and groups. */
function reverseLines(st: ReverseCopierStatus): string[] {
  const lines = [`copy back to the source: ${st.state}, offsets ${st.offsetsIdentical ? 'identical' : 'differ (see the offset map)'}`];
  lines.push(
    ...table(
      ['PARTITION', 'STATE', 'FROM', 'NEXT', 'SOURCE NEXT', 'LAG RECORDS', 'RECORDS COPIED', 'SKIPPED', 'ERROR'],
      st.partitions.map((p) => [p.partition, p.state, p.fromOffset, p.nextOffset, p.kafkaNextOffset, p.lagRecords, p.recordsCopied, p.offsetsSkipped, p.error ?? '-']),
      '  ',
    ),
  );
  for (const p of st.partitions) {
    if (p.offsetMapEntries > 0) lines.push(`  partition ${p.partition}: ${p.offsetMapEntries} runs of records at other offsets on the source (--json shows the latest)`);
    for (const n of p.notes) lines.push(`  partition ${p.partition}: ${n}`);
  }
  if (st.groups.length > 0) {
    lines.push(...table(['GROUP', 'STATE', 'OFFSETS COPIED', 'HELD BACK', 'LAST SYNC', 'ERROR'], st.groups.map((g) => [g.groupId, g.state, g.offsetsCopied, g.heldBack, when(g.lastSyncMs), g.error ?? '-']), '  '));
  }
  return lines;
}

function groupLines(groups: GroupSyncStatus[]): string[] {
  return table(
    ['GROUP', 'STATE', 'OFFSETS SYNCED', 'HELD BACK', 'LAST SYNC', 'ERROR'],
    groups.map((g) => [g.groupId, g.state, g.offsetsSynced, g.heldBack, when(g.lastSyncMs), g.error ?? '-']),
  );
}

export function describeText(link: LinkDescription): string {
  const lines = linkSummary(link);
  lines.push('', `Mirror topics (${link.mirrors.length})`);
  if (link.mirrors.length === 0) lines.push('  none yet');
  for (const m of link.mirrors) lines.push(...mirrorLines(m).map((l) => `  ${l}`));
  lines.push('', `Consumer groups (${link.groups.length})`);
  if (link.groups.length === 0) lines.push('  none synced');
  else lines.push(...groupLines(link.groups).map((l) => `  ${l}`));
  return lines.join('\n') + '\n';
}

function listText(links: LinkDescription[]): string {
  if (links.length === 0) return 'no links\n';
  return (
    table(
      ['NAME', 'STATE', 'SOURCE', 'MIRRORS', 'LAG RECORDS', 'SOURCE ERROR'],
      links.map((l) => [l.name, l.state, source(l), l.mirrors.length, l.mirrors.reduce((n, m) => n + m.lagRecords, 0), l.sourceError ?? '-']),
    ).join('\n') + '\n'
  );
}

function promotionText(r: PromotionReport): string {
  const done = r.kind === 'promote' ? 'Promoted' : 'Failed over';
  if (r.topics.length === 0) return `No mirror topics of link ${r.link} to ${r.kind}\n`;
  const lines = [`${done} ${r.topics.length} topic${r.topics.length === 1 ? '' : 's'} of link ${r.link}`];
  lines.push(...table(['TOPIC', 'STATE', 'LOSS WINDOW RECORDS', 'ABORTED TRANSACTIONS', 'GROUPS SYNCED'], r.topics.map((t) => [t.topic, t.state, t.lossWindowRecords, t.abortedTransactions, t.groupsSynced])));
  for (const t of r.topics) {
    lines.push('', `${t.topic}:`);
    lines.push(...table(['PARTITION', 'END OFFSET', 'SOURCE END LAST SEEN', 'LOSS WINDOW RECORDS'], t.partitions.map((p) => [p.partition, p.endOffset, offset(p.sourceEndOffsetLastSeen), p.lossWindowRecords]), '  '));
  }
  const lost = r.topics.reduce((n, t) => n + t.lossWindowRecords, 0);
  if (lost > 0) lines.push('', `warning: the source held up to ${lost} records that were not mirrored before the failover`);
  return lines.join('\n') + '\n';
}

function reverseText(r: ReverseReport, stopped: boolean): string {
  const lines: string[] = [];
  for (const t of r.topics) {
    if (stopped) lines.push(`${t.topic}: no longer copied back to the source`);
    else if (t.status) lines.push(`${t.topic}:`, ...reverseLines(t.status).map((l) => `  ${l}`));
    else lines.push(`${t.topic}: copy back to the source requested; it runs while link ${r.link} is active`);
  }
  return lines.join('\n') + '\n';
}

/** Polls the link until every partition copied back has caught up; throws when one stopped or on timeout. */
async function waitForReverse(api: AdminApi, name: string, topics: string[], timeoutMs: number): Promise<ReverseReport> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const link = (await api.request('GET', linkPath(name))) as LinkDescription;
    const mirrors = link.mirrors.filter((m) => topics.includes(m.topic));
    const parts = mirrors.flatMap((m) => (m.reverse?.partitions ?? []).map((p) => ({ topic: m.topic, ...p })));
    const stopped = parts.filter((p) => p.state === 'stopped');
    if (stopped.length > 0) throw new CommandError(`the copy back stopped for ${stopped.map((p) => `${p.topic}-${p.partition}: ${p.error}`).join('; ')}`);
    const running = mirrors.every((m) => m.reverse !== null);
    const behind = parts.filter((p) => p.state !== 'caught-up' || p.lagRecords > 0);
    if (running && behind.length === 0) return { link: name, topics: mirrors.map((m) => ({ topic: m.topic, reversing: m.reversing, status: m.reverse })) };
    if (Date.now() >= deadline) {
      const why = running ? behind.map((p) => `${p.topic}-${p.partition}: ${p.lagRecords} behind${p.error ? ` (${p.error})` : ''}`).join(', ') : `link ${name} is not active`;
      throw new CommandError(`the copy back did not catch up within ${timeoutMs} ms: ${why}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

// ---- commands ----

function topicsOption(p: Parsed): { topics?: string[] } {
  return p.lists.topic ? { topics: p.lists.topic } : {};
}

const COMMANDS: Record<string, CommandDef> = {
  create: {
    args: ['NAME'],
    options: {
      ...JSON_OPTION,
      bootstrap: 'list',
      include: 'list',
      exclude: 'list',
      'group-include': 'list',
      'group-exclude': 'list',
      'no-auto-create': 'flag',
      'security-protocol': 'value',
      'sasl-mechanism': 'value',
      'sasl-username': 'value',
      'sasl-password-file': 'value',
      'tls-ca-file': 'value',
      'tls-cert-file': 'value',
      'tls-key-file': 'value',
      set: 'list',
    },
    run: async (p, api, out) => {
      const link = (await api.request('POST', '/v1/links', linkInputFromFlags(p.args[0]!, p))) as LinkDescription;
      if (p.flags.has('json')) return out.json(link);
      out.line(`Created link ${link.name} (${link.state}) from ${source(link)}`);
      out.line(`  topics ${patterns(link.spec.topics)}; auto-create mirrors ${link.spec.autoCreateMirrors ? 'on' : 'off'}`);
    },
  },
  list: {
    args: [],
    options: JSON_OPTION,
    run: async (p, api, out) => {
      const { links } = (await api.request('GET', '/v1/links')) as { links: LinkDescription[] };
      if (p.flags.has('json')) return out.json(links);
      out.line(listText(links).trimEnd());
    },
  },
  describe: {
    args: ['NAME'],
    options: JSON_OPTION,
    run: async (p, api, out) => {
      const link = (await api.request('GET', linkPath(p.args[0]!))) as LinkDescription;
      if (p.flags.has('json')) return out.json(link);
      out.line(describeText(link).trimEnd());
    },
  },
  pause: {
    args: ['NAME'],
    options: JSON_OPTION,
    run: async (p, api, out) => {
      const link = (await api.request('POST', linkPath(p.args[0]!, '/pause'))) as LinkDescription;
      if (p.flags.has('json')) return out.json(link);
      out.line(`Link ${link.name} is ${link.state}`);
    },
  },
  resume: {
    args: ['NAME'],
    options: JSON_OPTION,
    run: async (p, api, out) => {
      const link = (await api.request('POST', linkPath(p.args[0]!, '/resume'))) as LinkDescription;
      if (p.flags.has('json')) return out.json(link);
      out.line(`Link ${link.name} is ${link.state}`);
    },
  },
  delete: {
    args: ['NAME'],
    options: { force: 'flag' },
    run: async (p, api, out) => {
      await api.request('DELETE', linkPath(p.args[0]!, p.flags.has('force') ? '?force=true' : ''));
      out.line(`Deleted link ${p.args[0]}`);
    },
  },
  mirror: {
    args: ['NAME', 'TOPIC'],
    options: JSON_OPTION,
    run: async (p, api, out) => {
      const m = (await api.request('POST', linkPath(p.args[0]!, '/mirrors'), { topic: p.args[1] })) as MirrorStatus;
      if (p.flags.has('json')) return out.json(m);
      out.line(`Mirror topic ${m.topic} of link ${p.args[0]} created: ${m.state}, ${m.partitions.length} partition${m.partitions.length === 1 ? '' : 's'}`);
    },
  },
  promote: {
    args: ['NAME'],
    options: { ...JSON_OPTION, topic: 'list', 'timeout-ms': 'value' },
    run: async (p, api, out) => {
      const body: { topics?: string[]; timeoutMs?: number } = topicsOption(p);
      const raw = p.values['timeout-ms'];
      if (raw !== undefined) {
        if (!/^\d+$/.test(raw)) throw new UsageError(`--timeout-ms must be a whole number of milliseconds, got '${raw}'`);
        body.timeoutMs = Number(raw);
      }
      // Promote waits for the mirrors to catch up: give it the time it was asked for, plus slack.
      const timeout = body.timeoutMs === undefined ? null : body.timeoutMs + REQUEST_TIMEOUT_MS;
      const report = (await api.request('POST', linkPath(p.args[0]!, '/promote'), body, timeout)) as PromotionReport;
      if (p.flags.has('json')) return out.json(report);
      out.line(promotionText(report).trimEnd());
    },
  },
  failover: {
    args: ['NAME'],
    options: { ...JSON_OPTION, topic: 'list' },
    run: async (p, api, out) => {
      const report = (await api.request('POST', linkPath(p.args[0]!, '/failover'), topicsOption(p), null)) as PromotionReport;
      if (p.flags.has('json')) return out.json(report);
      out.line(promotionText(report).trimEnd());
    },
  },
  reverse: {
    args: ['NAME'],
    options: { ...JSON_OPTION, topic: 'list', stop: 'flag', 'wait-ms': 'value' },
    run: async (p, api, out) => {
      const stop = p.flags.has('stop');
      const raw = p.values['wait-ms'];
      if (raw !== undefined && stop) throw new UsageError('--wait-ms waits for a copy to catch up; it makes no sense with --stop');
      if (raw !== undefined && !/^\d+$/.test(raw)) throw new UsageError(`--wait-ms must be a whole number of milliseconds, got '${raw}'`);
      let report = (await api.request('POST', linkPath(p.args[0]!, stop ? '/reverse/stop' : '/reverse'), topicsOption(p))) as ReverseReport;
      if (raw !== undefined) report = await waitForReverse(api, p.args[0]!, report.topics.map((t) => t.topic), Number(raw));
      if (p.flags.has('json')) return out.json(report);
      out.line(reverseText(report, stop).trimEnd());
    },
  },
};

/** Runs `strait link ARGV…`; answers the exit status (0 ok, 1 refused or unreachable, 2 usage). */
export async function runLinkCommand(argv: string[], io: LinkCliIo = processIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '-h' || sub === '--help' || sub === 'help') {
    io.stdout(LINK_USAGE);
    return 0;
  }
  const out: Output = { line: (t = '') => io.stdout(`${t}\n`), json: (v) => io.stdout(`${JSON.stringify(v, null, 2)}\n`) };
  try {
    const def = COMMANDS[sub];
    if (def === undefined) throw new UsageError(`unknown link command '${sub}'`);
    const parsed = parseArgs(rest, def);
    if (parsed.flags.has('help')) {
      io.stdout(LINK_USAGE);
      return 0;
    }
    const env = io.env.STRAIT_ADMIN_URL;
    const api = new AdminApi(normalizeAdminUrl(parsed.values.admin ?? (env !== undefined && env !== '' ? env : DEFAULT_ADMIN_URL)));
    await def.run(parsed, api, out);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`strait: ${err.message}\nRun 'strait link --help' for the commands and options.\n`);
      return 2;
    }
    if (err instanceof CommandError) {
      io.stderr(`strait: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
