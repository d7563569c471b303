// Measuring tools the benchmarks share: CPU time and RSS of processes from /proc, the machine's busy
// time, creating a topic, Kafka's ProducerPerformance and ConsumerPerformance with their summary lines
// parsed, medians, and what the machine was. copy-measure.ts (the copy benchmarks) re-exports the
// process statistics from here; produce-consume.ts and wal-kinds.ts use this file directly.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { runJava } from '../test/compat/harness.ts';

export const MB = 2 ** 20;
const SAMPLE_INTERVAL_MS = 250;
const CLOCK_TICKS_PER_SECOND = 100;
/** Busy cores below which the machine counts as quiet enough to start a copy (an idle Kafka uses ~0.05). */
const QUIET_CORES_MAX = 0.3;
const QUIET_SAMPLE_MS = 3_000;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
export const log = (line: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
export const range = (n: number) => Array.from({ length: n }, (_, i) => i);

// ---- process statistics ----------------------------------------------------------------------------

export function pidListeningOn(port: number): number | null {
  const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
  const m = /pid=(\d+)/.exec(out);
  return m ? Number(m[1]) : null;
}

export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

export function statusKiB(pid: number, field: 'VmRSS' | 'RssAnon' | 'RssFile'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** CPU seconds the whole machine spent busy (all but idle and iowait), from /proc/stat. */
export function machineBusySeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return (total - fields[3]! - fields[4]!) / CLOCK_TICKS_PER_SECOND;
}

/**
 * Waits (up to --quiet-wait-seconds) until the machine is nearly idle, so a measurement does not start
 * while other work holds the two cores; returns how long it waited and how busy the machine was.
 */
export async function waitForQuiet(maxWaitMs: number): Promise<{ waitedSeconds: number; busyCores: number }> {
  const started = performance.now();
  for (;;) {
    const before = machineBusySeconds();
    await sleep(QUIET_SAMPLE_MS);
    const busyCores = round((machineBusySeconds() - before) / (QUIET_SAMPLE_MS / 1000));
    const waitedMs = performance.now() - started;
    if (busyCores <= QUIET_CORES_MAX || waitedMs >= maxWaitMs) return { waitedSeconds: round(waitedMs / 1000, 0), busyCores };
  }
}

export interface ProcessUsage {
  role: string;
  pid: number;
  cpuSeconds: number;
  /** Cores used on average over the measured interval. */
  cpuCores: number;
  rssMiBMax: number;
  /** The largest anonymous (heap, buffers) and file-backed (mapped files) parts of the RSS. */
  rssAnonMiBMax: number;
  rssFileMiBMax: number;
}

/** Samples CPU time and RSS of some processes from start() until stop(). */
export class UsageSampler {
  private readonly startCpu = new Map<number, number>();
  private readonly rssMax = new Map<number, { rss: number; anon: number; file: number }>();
  private timer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private machineBusyAtStart = 0;
  private readonly processes: { role: string; pid: number }[];
  constructor(processes: { role: string; pid: number }[]) {
    this.processes = processes;
  }

  start(): void {
    this.startedAt = performance.now();
    this.machineBusyAtStart = machineBusySeconds();
    for (const { pid } of this.processes) this.startCpu.set(pid, cpuSecondsOf(pid));
    this.timer = setInterval(() => this.sample(), SAMPLE_INTERVAL_MS);
  }

  private sample(): void {
    for (const { pid } of this.processes) {
      const m = this.rssMax.get(pid) ?? { rss: 0, anon: 0, file: 0 };
      this.rssMax.set(pid, { rss: Math.max(m.rss, statusKiB(pid, 'VmRSS')), anon: Math.max(m.anon, statusKiB(pid, 'RssAnon')), file: Math.max(m.file, statusKiB(pid, 'RssFile')) });
    }
  }

  /** Usage per process, and the cores the whole machine was busy on average (others' work included). */
  stop(): ProcessUsage[] {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    const seconds = (performance.now() - this.startedAt) / 1000;
    const usage = this.processes.map(({ role, pid }) => {
      const cpuSeconds = cpuSecondsOf(pid) - this.startCpu.get(pid)!;
      const rss = this.rssMax.get(pid) ?? { rss: 0, anon: 0, file: 0 };
      const mib = (kib: number) => round(kib / 1024, 0);
      return { role, pid, cpuSeconds: round(cpuSeconds), cpuCores: round(cpuSeconds / seconds), rssMiBMax: mib(rss.rss), rssAnonMiBMax: mib(rss.anon), rssFileMiBMax: mib(rss.file) };
    });
    const machine = machineBusySeconds() - this.machineBusyAtStart;
    const measured = usage.reduce((a, u) => a + u.cpuSeconds, 0);
    // Everything else that ran meanwhile (other people's tests on a shared machine): noise to report.
    usage.push({ role: 'everything else', pid: 0, cpuSeconds: round(machine - measured), cpuCores: round((machine - measured) / seconds), rssMiBMax: 0, rssAnonMiBMax: 0, rssFileMiBMax: 0 });
    return usage;
  }
}
// ---- topics --------------------------------------------------------------------------------------------

export async function createTopic(bootstrap: string, topic: string, partitions: number): Promise<void> {
  const r = await runJava('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', bootstrap, '--create', '--topic', topic, '--partitions', String(partitions), '--replication-factor', '1'], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`topic creation failed: ${r.stderr}`);
}

// ---- summaries ---------------------------------------------------------------------------------------

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export function machineInfo(): Record<string, unknown> {
  // java -version prints on stderr.
  const javaVersion = /version "([^"]+)"/.exec(execFileSync('sh', ['-c', 'java -version 2>&1'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
  return {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    java: javaVersion,
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
  };
}

// ---- Kafka's performance tools ---------------------------------------------------------------------

const TOOL_JVM_ARGS = ['-Xmx1g', '-XX:+UseG1GC'];

export interface ProduceResult {
  records: number;
  recordsPerSec: number;
  mbps: number;
  latencyMsAvg: number;
  latencyMsMax: number;
  latencyMsP50: number;
  latencyMsP95: number;
  latencyMsP99: number;
  latencyMsP999: number;
}

export interface ProduceOptions {
  bootstrap: string;
  topic: string;
  records: number;
  recordBytes: number;
  /** Records per second ProducerPerformance holds itself to; -1 for as fast as it can. */
  throughput: number;
  /** Producer settings after bootstrap.servers, e.g. ['acks=all', 'linger.ms=5']. */
  props: string[];
  timeoutMs?: number;
}

/**
 * Kafka's ProducerPerformance, read from its last summary line: "N records sent, R records/sec
 * (M MB/sec), A ms avg latency, X ms max latency, p50 ms 50th, p95 ms 95th, p99 ms 99th, p999 ms
 * 99.9th." Latency is from send() to the acknowledgement, in whole milliseconds.
 */
export async function producerPerformance(o: ProduceOptions): Promise<ProduceResult> {
  const r = await runJava(
    'org.apache.kafka.tools.ProducerPerformance',
    [
      '--topic', o.topic,
      '--num-records', String(o.records),
      '--record-size', String(o.recordBytes),
      '--throughput', String(o.throughput),
      '--producer-props', `bootstrap.servers=${o.bootstrap}`, ...o.props,
    ],
    { timeoutMs: o.timeoutMs ?? 600_000, jvmArgs: TOOL_JVM_ARGS },
  );
  const line = r.stdout.trim().split('\n').filter((l) => l.includes('records sent')).pop();
  const m = line && /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th/.exec(line);
  if (!m) throw new Error(`cannot read ProducerPerformance output:\n${r.stdout}\n${r.stderr}`);
  const [records, recordsPerSec, mbps, avg, max, p50, p95, p99, p999] = m.slice(1).map(Number) as [number, number, number, number, number, number, number, number, number];
  return { records, recordsPerSec, mbps, latencyMsAvg: avg, latencyMsMax: max, latencyMsP50: p50, latencyMsP95: p95, latencyMsP99: p99, latencyMsP999: p999 };
}

export interface ConsumeResult {
  mb: number;
  /** Over the whole run, the group join included. */
  mbps: number;
  recordsPerSec: number;
  /** Over the fetching only (ConsumerPerformance's fetch.MB.sec: the group join left out). */
  fetchMBps: number;
}

/**
 * Kafka's ConsumerPerformance reading `records` records of a topic from the start (a new group),
 * read from its summary line: start.time, end.time, data.consumed.in.MB, MB.sec,
 * data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec.
 * NaN figures when it gave no summary (the reason is written to stderr).
 */
export async function consumerPerformance(bootstrap: string, topic: string, records: number, timeoutMs = 600_000): Promise<ConsumeResult> {
  const r = await runJava(
    'org.apache.kafka.tools.ConsumerPerformance',
    ['--bootstrap-server', bootstrap, '--topic', topic, '--num-records', String(records), '--timeout', '60000'],
    { timeoutMs, jvmArgs: TOOL_JVM_ARGS },
  );
  const csv = r.stdout.trim().split('\n').filter((l) => /^\d{4}-/.test(l)).pop();
  const f = csv ? csv.split(',').map((x) => Number(x.trim())) : [];
  if (f.length < 9) process.stderr.write(`ConsumerPerformance gave no summary:\n${r.stdout}\n${r.stderr}\n`);
  const at = (i: number) => f[i] ?? Number.NaN;
  return { mb: at(2), mbps: at(3), recordsPerSec: at(5), fetchMBps: at(8) };
}
