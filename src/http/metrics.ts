// Prometheus text exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/):
// one `# HELP` and one `# TYPE` line per metric name, then every sample of that name. Samples are
// grouped by name even when the source lists them interleaved, since a scraper rejects a name whose
// samples are split around another's.
import { assert } from '../common/errors.ts';

/** One sample of a metric; samples sharing a name share its help and type. */
export interface MetricSample {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  labels: Record<string, string>;
  value: number;
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** HELP text escapes backslash and newline; label values also escape the double quote. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** Go's ParseFloat spellings, which is what Prometheus reads. */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function formatSample(sample: MetricSample): string {
  const labels = Object.entries(sample.labels);
  if (labels.length === 0) return `${sample.name} ${formatValue(sample.value)}\n`;
  const text = labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',');
  return `${sample.name}{${text}} ${formatValue(sample.value)}\n`;
}

/** Names are the program's own, never user input: a bad one is a bug and fails the scrape loudly. */
function checkSample(sample: MetricSample): void {
  assert(METRIC_NAME.test(sample.name), `metric name '${sample.name}' is not a Prometheus name`);
  for (const label of Object.keys(sample.labels)) {
    assert(LABEL_NAME.test(label) && !label.startsWith('__'), `label '${label}' of metric '${sample.name}' is not a Prometheus label name`);
  }
}

export function formatPrometheus(samples: Iterable<MetricSample>): string {
  const byName = new Map<string, MetricSample[]>();
  for (const sample of samples) {
    checkSample(sample);
    const group = byName.get(sample.name);
    if (group === undefined) byName.set(sample.name, [sample]);
    else {
      assert(group[0]!.type === sample.type, `metric '${sample.name}' is both a ${group[0]!.type} and a ${sample.type}`);
      group.push(sample);
    }
  }
  let out = '';
  for (const [name, group] of byName) {
    out += `# HELP ${name} ${escapeHelp(group[0]!.help)}\n# TYPE ${name} ${group[0]!.type}\n`;
    for (const sample of group) out += formatSample(sample);
  }
  return out;
}

/** performance.timeOrigin is when this process started, in milliseconds since the epoch. */
const processStartSeconds = Math.floor(performance.timeOrigin) / 1000;

/** The process metrics Prometheus client libraries conventionally export, under their usual names. */
export function processMetrics(): MetricSample[] {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  return [
    { name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes.', type: 'gauge', labels: {}, value: mem.rss },
    { name: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent in seconds.', type: 'counter', labels: {}, value: (cpu.user + cpu.system) / 1e6 },
    { name: 'nodejs_heap_used_bytes', help: 'V8 heap in use, in bytes.', type: 'gauge', labels: {}, value: mem.heapUsed },
    { name: 'nodejs_heap_total_bytes', help: 'V8 heap reserved, in bytes.', type: 'gauge', labels: {}, value: mem.heapTotal },
    // Record batches live in Buffers outside the V8 heap: this is where the caches show.
    { name: 'nodejs_external_memory_bytes', help: 'Memory of Buffers and other objects outside the V8 heap, in bytes.', type: 'gauge', labels: {}, value: mem.external },
    { name: 'process_start_time_seconds', help: 'Start time of the process since the Unix epoch in seconds.', type: 'gauge', labels: {}, value: processStartSeconds },
  ];
}
