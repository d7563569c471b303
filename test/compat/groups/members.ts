// Consumer-group members of every client as long-running processes, each in its own process group,
// printing one JSON event per line in the shape of Apache Kafka's VerifiableConsumer
// (partitions_assigned, records_consumed, offsets_committed, ...): VerifiableConsumer itself (Java),
// franz-groups (franz-go), confluent_member.py (confluent-kafka) and kafkajs-member.ts (kafkajs).
// Members can be stopped politely (SIGTERM: the consumer leaves the group) or killed (SIGKILL: the
// coordinator must notice). Every process is killed when the test process exits.
// VerifiableProducer fills topics.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { cacheDir, kafkaJavaCommand, repoRoot, runJava, venvPython } from '../harness.ts';
import { RawClient } from '../../helpers/raw-client.ts';
import { readTopic } from '../txn-client.ts';
import { ApiKey } from '../../../src/protocol/generated/api-table.ts';

const live = new Set<number>();
process.on('exit', () => {
  for (const pid of live) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
});

export interface VerifiableEvent {
  name: string;
  [k: string]: any;
}

export interface MemberOptions {
  bootstrap: string;
  topic: string;
  groupId: string;
  protocol: 'classic' | 'consumer';
  sessionTimeoutMs?: number;
  instanceId?: string;
  assignmentStrategy?: string;
  remoteAssignor?: string;
  maxMessages?: number;
  /** More command-line arguments (e.g. VerifiableConsumer's --consumer.config FILE). */
  extraArgs?: string[];
}

/** A consumed offset range [min, max] of one partition. */
export type Range = [number, number];

/** One record a member consumed, as VerifiableConsumer --verbose reports it (record_data). */
export interface ConsumedRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
}

export class GroupMember {
  readonly name: string;
  readonly events: VerifiableEvent[] = [];
  readonly stderr: string[] = [];
  private readonly proc: ChildProcess;
  private readonly exited: Promise<number | null>;
  private buffered = '';

  constructor(name: string, command: string, args: string[]) {
    this.name = name;
    this.proc = spawn(command, args, { cwd: repoRoot, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
    const pid = this.proc.pid!;
    live.add(pid);
    this.exited = new Promise((resolve) =>
      this.proc.once('exit', (code) => {
        live.delete(pid);
        resolve(code);
      }),
    );
    this.proc.stdout!.on('data', (chunk: Buffer) => this.onStdout(chunk.toString()));
    this.proc.stderr!.on('data', (chunk: Buffer) => {
      this.stderr.push(chunk.toString());
      if (this.stderr.length > 200) this.stderr.shift();
    });
  }

  private onStdout(text: string): void {
    this.buffered += text;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl).trim();
      this.buffered = this.buffered.slice(nl + 1);
      if (line.startsWith('{')) {
        try {
          this.events.push(JSON.parse(line) as VerifiableEvent);
        } catch {
          // a partial or foreign line
        }
      }
    }
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Resolves with the first event (from index `from`) that matches, or fails after timeoutMs. */
  async waitFor(what: string, match: (e: VerifiableEvent) => boolean, timeoutMs = 30_000, from = 0): Promise<VerifiableEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const e = this.events.slice(from).find(match);
      if (e) return e;
      if (!this.running) throw new Error(`${this.name} exited before ${what}\n${this.diagnostics()}`);
      if (Date.now() > deadline) throw new Error(`${this.name}: no ${what} within ${timeoutMs} ms\n${this.diagnostics()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Partitions the member holds now, from its last assigned/revoked events (classic: whole sets;
   *  the consumer protocol reports incremental changes). */
  currentAssignment(): number[] {
    const held = new Set<number>();
    for (const e of this.events) {
      if (e.name === 'partitions_assigned') for (const p of e.partitions) held.add(p.partition);
      if (e.name === 'partitions_revoked' || e.name === 'partitions_lost') for (const p of e.partitions) held.delete(p.partition);
    }
    return [...held].sort((a, b) => a - b);
  }

  /**
   * Every consumed range per partition. From the records themselves where the member reports them
   * (VerifiableConsumer --verbose), so a record skipped inside a poll leaves a gap; otherwise from
   * the records_consumed summaries, each of which must hold as many records as offsets (the topics
   * these tests read have no gaps: no transactions, no compaction), else this throws.
   */
  consumed(): Map<number, Range[]> {
    const out = new Map<number, Range[]>();
    const add = (partition: number, range: Range) => {
      if (!out.has(partition)) out.set(partition, []);
      out.get(partition)!.push(range);
    };
    if (this.reportsRecords()) {
      for (const r of this.records()) {
        const ranges = out.get(r.partition);
        const last = ranges?.at(-1);
        if (last !== undefined && r.offset === last[1] + 1) last[1] = r.offset;
        else add(r.partition, [r.offset, r.offset]);
      }
      return out;
    }
    for (const e of this.events) {
      if (e.name !== 'records_consumed') continue;
      for (const p of e.partitions) {
        if (p.count !== p.maxOffset - p.minOffset + 1) {
          throw new Error(`${this.name}: records_consumed reports ${p.count} records over offsets [${p.minOffset}, ${p.maxOffset}] of partition ${p.partition}: some skipped or repeated`);
        }
        add(p.partition, [p.minOffset, p.maxOffset]);
      }
    }
    return out;
  }

  /**
   * Records handed to the application: the per-partition counts of the records_consumed events (an
   * event's own count is the whole poll, including what --max-messages cut off, so never less).
   */
  count(): number {
    return this.events
      .filter((e) => e.name === 'records_consumed')
      .reduce((n, e) => {
        const sum = e.partitions.reduce((k: number, p: { count: number }) => k + p.count, 0);
        if (sum > e.count) throw new Error(`${this.name}: records_consumed says ${e.count} records but its partitions hold ${sum}`);
        return n + sum;
      }, 0);
  }

  /** Whether the member prints each record it consumes (record_data events: VerifiableConsumer --verbose). */
  reportsRecords(): boolean {
    return this.events.some((e) => e.name === 'record_data');
  }

  /** Every record consumed, in the order consumed (empty unless reportsRecords()); checked against count(). */
  records(): ConsumedRecord[] {
    const out = this.events.filter((e) => e.name === 'record_data').map((e) => ({ partition: e.partition, offset: e.offset, key: e.key ?? null, value: e.value ?? null }));
    // VerifiableConsumer prints a poll's record_data lines before its records_consumed summary: a
    // member stopped between the two has records not yet counted, never the other way round.
    if (out.length > 0 && out.length < this.count()) throw new Error(`${this.name}: ${this.count()} records counted but ${out.length} printed`);
    return out;
  }

  failedCommits(): VerifiableEvent[] {
    return this.events.filter((e) => e.name === 'offsets_committed' && !e.success);
  }

  async kill9(): Promise<void> {
    if (!this.running) return;
    process.kill(-this.proc.pid!, 'SIGKILL');
    await this.exited;
  }

  /** SIGTERM: VerifiableConsumer closes its consumer (which commits nothing more and leaves the group). */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (!this.running) return;
    process.kill(-this.proc.pid!, 'SIGTERM');
    const timer = setTimeout(() => {
      if (this.running) process.kill(-this.proc.pid!, 'SIGKILL');
    }, timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  diagnostics(): string {
    const events = this.events.slice(-12).map((e) => JSON.stringify(e).slice(0, 300));
    return `--- ${this.name} last events:\n${events.join('\n')}\n--- stderr:\n${this.stderr.join('').slice(-3000)}`;
  }
}

/** Apache Kafka's VerifiableConsumer (the Java client of Kafka 4.3.1). */
export function javaMember(name: string, opts: MemberOptions): GroupMember {
  const args = [
    '--bootstrap-server',
    opts.bootstrap,
    '--topic',
    opts.topic,
    '--group-id',
    opts.groupId,
    '--group-protocol',
    opts.protocol,
    '--reset-policy',
    'earliest',
    '--max-messages',
    String(opts.maxMessages ?? -1),
    // One record_data event per record (partition, offset, key, value), so checks see values, not just ranges.
    '--verbose',
  ];
  if (opts.protocol === 'classic') args.push('--session-timeout', String(opts.sessionTimeoutMs ?? 6000));
  if (opts.instanceId) args.push('--group-instance-id', opts.instanceId);
  if (opts.assignmentStrategy) args.push('--assignment-strategy', opts.assignmentStrategy);
  if (opts.remoteAssignor) args.push('--group-remote-assignor', opts.remoteAssignor);
  args.push(...(opts.extraArgs ?? []));
  const java = kafkaJavaCommand('org.apache.kafka.tools.VerifiableConsumer', args, '192m');
  return new GroupMember(name, java.command, java.args);
}

export const franzGroupsPath = join(cacheDir, 'bin', 'franz-groups');

function requireFile(path: string, what: string): void {
  if (!existsSync(path)) throw new Error(`${what} is not installed (${path} is missing): run scripts/install-test-deps.sh`);
}

/** franz-go (kgo) with the cooperative-sticky balancer unless another is named. */
export function franzMember(name: string, opts: MemberOptions & { balancer?: string }): GroupMember {
  requireFile(franzGroupsPath, 'franz-groups');
  const args = ['-bootstrap', opts.bootstrap, '-topic', opts.topic, '-group', opts.groupId, '-session-timeout', `${opts.sessionTimeoutMs ?? 6000}ms`];
  if (opts.balancer) args.push('-balancer', opts.balancer);
  if (opts.instanceId) args.push('-instance-id', opts.instanceId);
  return new GroupMember(name, franzGroupsPath, args);
}

/** confluent-kafka (librdkafka); protocol 'consumer' is KIP-848. */
export function confluentMember(name: string, opts: MemberOptions): GroupMember {
  requireFile(venvPython, 'The Python client venv');
  const script = join(repoRoot, 'test', 'compat', 'groups', 'confluent_member.py');
  return new GroupMember(name, venvPython, [script, '--bootstrap', opts.bootstrap, '--topic', opts.topic, '--group', opts.groupId, '--protocol', opts.protocol, '--session-timeout-ms', String(opts.sessionTimeoutMs ?? 6000)]);
}

/** kafkajs, in its own Node process (so it can be killed). */
export function kafkajsMember(name: string, opts: MemberOptions): GroupMember {
  const script = join(repoRoot, 'test', 'compat', 'groups', 'kafkajs-member.ts');
  return new GroupMember(name, process.execPath, [script, opts.bootstrap, opts.topic, opts.groupId, String(opts.sessionTimeoutMs ?? 6000)]);
}

/** VerifiableProducer: `count` records (values "0".."count-1") at `throughput` records/s (-1: as fast as possible), acks=all. */
export async function produce(bootstrap: string, topic: string, count: number, throughput = -1, timeoutMs = 60_000): Promise<void> {
  const r = await runJava(
    'org.apache.kafka.tools.VerifiableProducer',
    // Keys cycle through 0..99, so records spread over every partition (unkeyed records would stick
    // to one partition per batch).
    ['--bootstrap-server', bootstrap, '--topic', topic, '--max-messages', String(count), '--throughput', String(throughput), '--acks', '-1', '--repeating-keys', '100'],
    { timeoutMs },
  );
  const acked = /"acked":(\d+)/.exec(r.stdout);
  if (r.code !== 0 || !acked || Number(acked[1]) !== count) throw new Error(`VerifiableProducer acked ${acked?.[1]} of ${count}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
}

/** Whether a group's committed offsets are at the log end (a partition never written has none). */
export function atLogEnd(o: { end: number[]; committed: number[] }): boolean {
  return o.committed.every((c, p) => c === o.end[p] || (c === -1 && o.end[p] === 0));
}

/** Union of consumed ranges per partition: the offsets in [0, end) nobody consumed. */
export function gaps(ranges: Map<number, Range[]>, endOffsets: number[]): string[] {
  const out: string[] = [];
  endOffsets.forEach((end, p) => {
    const sorted = [...(ranges.get(p) ?? [])].sort((a, b) => a[0] - b[0]);
    let next = 0;
    for (const [lo, hi] of sorted) {
      if (lo > next) out.push(`p${p}:[${next},${lo})`);
      next = Math.max(next, hi + 1);
    }
    if (next < end) out.push(`p${p}:[${next},${end})`);
  });
  return out;
}

/**
 * Checks what members consumed against what the log holds (`expected`: value by "partition/offset"):
 * every record a member printed has the value stored at its offset, and, with `once`, no offset was
 * consumed twice (across all the members, or by one member twice). Members that do not print their
 * records (all but VerifiableConsumer) are checked by count only: `once` then means their counts add
 * up to no more than `expected` holds. Answers the number of records checked by value.
 */
export function assertConsumedValues(members: GroupMember[], expected: ReadonlyMap<string, string | null>, once: boolean): number {
  const seen = new Map<string, string>();
  const wrong: string[] = [];
  const twice: string[] = [];
  let byValue = 0;
  let countOnly = 0;
  for (const m of members) {
    if (!m.reportsRecords()) {
      countOnly += m.count();
      continue;
    }
    for (const r of m.records()) {
      const at = `${r.partition}/${r.offset}`;
      byValue++;
      if (!expected.has(at)) wrong.push(`${m.name} consumed ${JSON.stringify(r.value)} at ${at}, where the log holds nothing`);
      else if (expected.get(at) !== r.value) wrong.push(`${m.name} consumed ${JSON.stringify(r.value)} at ${at}, where the log holds ${JSON.stringify(expected.get(at))}`);
      const earlier = seen.get(at);
      if (earlier !== undefined) twice.push(`${at} by ${earlier} and ${m.name}`);
      seen.set(at, m.name);
    }
  }
  if (wrong.length > 0) throw new Error(`${wrong.length} consumed records differ from the log:\n${wrong.slice(0, 10).join('\n')}`);
  if (once && twice.length > 0) throw new Error(`${twice.length} records consumed twice:\n${twice.slice(0, 10).join('\n')}`);
  if (once && byValue + countOnly > expected.size) throw new Error(`${byValue + countOnly} records consumed where the log holds ${expected.size}: some were read twice`);
  return byValue;
}

/** A topic's records as value by "partition/offset" (read_uncommitted, through TxnClient), for assertConsumedValues. */
export async function readLogValues(bootstrap: string, topic: string, partitions: number): Promise<Map<string, string>> {
  const { records } = await readTopic(bootstrap, topic, partitions, 'read_uncommitted');
  return new Map(records.map((r) => [`${r.p}/${r.o}`, r.v]));
}

export function mergeRanges(members: GroupMember[]): Map<number, Range[]> {
  const out = new Map<number, Range[]>();
  for (const m of members) for (const [p, rs] of m.consumed()) out.set(p, [...(out.get(p) ?? []), ...rs]);
  return out;
}

/** Log end offsets and committed offsets over the raw protocol, the same way for any broker. */
export async function groupOffsets(bootstrap: string, groupId: string, topic: string, partitions: number): Promise<{ end: number[]; committed: number[] }> {
  const [host, port] = bootstrap.split(':');
  const c = await RawClient.connect(Number(port), host);
  try {
    const idx = [...Array(partitions).keys()];
    const lo = await c.request(ApiKey.ListOffsets, 7, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [{ name: topic, partitions: idx.map((p) => ({ partitionIndex: p, currentLeaderEpoch: -1, timestamp: -1n })) }],
    });
    const end = idx.map((p) => Number(lo.topics[0].partitions.find((x: any) => x.partitionIndex === p).offset));
    const of = await c.request(ApiKey.OffsetFetch, 8, { groups: [{ groupId, topics: [{ name: topic, partitionIndexes: idx }] }], requireStable: false });
    const committed = idx.map((p) => Number(of.groups[0].topics[0].partitions.find((x: any) => x.partitionIndex === p).committedOffset));
    return { end, committed };
  } finally {
    c.close();
  }
}

/** Polls until check() is truthy. */
export async function eventually<T>(what: string, check: () => Promise<T | null | false | undefined>, timeoutMs: number, onTimeout: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${onTimeout()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
