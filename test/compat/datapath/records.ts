// The records the data-path tests send and the shapes every client driver reads and writes, so a
// record produced by one client and consumed by another compares directly:
//
//   spec (what to send, one JSON line each): {topic, partition|null, key|null, value|null (base64),
//     headers [[name, base64|null]], timestamp|null, compression, flush?}
//   produce result (one line per spec record, same order): {i, partition, offset, timestamp, error}
//   assignment (what to consume): [{topic, partition, from, until}]
//   consumed record: {topic, partition, offset, key, value, headers, timestamp, timestampType?}
//     where key, value and header values are encoded: null, base64 when at most 64 bytes, else
//     "#LENGTH:SHA256HEX" (so records near 1 MiB do not travel through JSON).
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

export const codecs = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type Codec = (typeof codecs)[number];

export interface SpecRecord {
  topic: string;
  partition: number | null;
  key: string | null;
  value: string | null;
  headers: [string, string | null][];
  timestamp: number | null;
  compression: Codec;
  /** Flush the producer right after this record, so its batch ends here. */
  flush?: boolean;
}

export interface ProduceResult {
  i: number;
  partition: number;
  offset: number;
  timestamp: number | null;
  error: string | null;
}

export interface Assignment {
  topic: string;
  partition: number;
  from: number;
  until: number;
}

/** null, base64 (at most 64 bytes) or "#LENGTH:SHA256HEX". */
export type Encoded = string | null;

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  key: Encoded;
  value: Encoded;
  headers: [string, Encoded][];
  timestamp: number;
  timestampType?: string;
  leaderEpoch?: number | null;
}

const inlineBytesMax = 64;

export function encodeBytes(bytes: Buffer | null | undefined): Encoded {
  if (bytes === null || bytes === undefined) return null;
  if (bytes.length <= inlineBytesMax) return bytes.toString('base64');
  return `#${bytes.length}:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Re-encodes a spec field (full base64) the way consumers print it. */
export function encodeSpecBytes(base64: string | null): Encoded {
  return base64 === null ? null : encodeBytes(Buffer.from(base64, 'base64'));
}

export function writeJsonLines(path: string, rows: readonly unknown[]): void {
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length > 0 ? '\n' : ''));
}

export function readJsonLines<T>(path: string): T[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}

/** A small deterministic generator (mulberry32), so every run sends the same bytes. */
export class Prng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
  /** Bytes without the given values (kcat splits its input on delimiter bytes). */
  bytesAvoiding(n: number, avoid: readonly number[]): Buffer {
    const out = this.bytes(n);
    for (let i = 0; i < n; i++) if (avoid.includes(out[i]!)) out[i] = 0x41;
    return out;
  }
  /** Text made of a few repeated words: compresses well, so codecs have something to do. */
  words(n: number): Buffer {
    const vocabulary = ['strait', 'kafka', 'offset', 'batch', 'record', 'leader', 'epoch', 'fetch', 'produce', 'zstd'];
    let text = '';
    while (text.length < n) text += vocabulary[this.int(vocabulary.length)] + ' ';
    return Buffer.from(text.slice(0, n));
  }
}

export const b64 = (value: Buffer | string): string => (typeof value === 'string' ? Buffer.from(value) : value).toString('base64');

/** What a producer driver can express; the record sets below only use what it can. */
export interface ProducerCaps {
  codecs: readonly Codec[];
  /** Per-record timestamps. */
  timestamps: boolean;
  /** Header values that are null (not empty). */
  nullHeaderValues: boolean;
  /** Records sent without a partition, the client's partitioner choosing (and reporting) it. */
  defaultPartitioner: boolean;
  /** Empty (not null) keys and values. */
  emptyBytes: boolean;
  /** A record whose key and value are both null (kafka-python refuses one). */
  nullKeyAndValue?: boolean;
  /** Bytes that must not occur in keys and values (kcat's input delimiters). */
  avoidBytes?: readonly number[];
}

/**
 * Value sizes of records "near 1 MiB": just under (the batch still fits a 1 MiB partition fetch
 * limit) and just over (the batch is larger than the consumers' 1 MiB per-partition fetch limit, so
 * it comes back only because KIP-74 lets the first batch through whatever its size).
 */
export const nearMiBBytes = { under: 1024 * 1024 - 1024, over: 1024 * 1024 + 1024 } as const;
/** Topic max.message.bytes for the data-path topics, above one near-1 MiB record batch. */
export const bigTopicMaxMessageBytes = 3 * 1024 * 1024;

export interface RecordSetOptions {
  topic: string;
  partitions: number;
  caps: ProducerCaps;
  seed: number;
  /** The codec whose group also carries one near-1 MiB record (on partition 0), if any. */
  bigCodec: Codec | null;
  /** Whether that record is just under or just over 1 MiB. */
  bigSize?: keyof typeof nearMiBBytes;
  /** First explicit timestamp (records get baseTimestamp + small steps). */
  baseTimestamp: number;
}

/**
 * For each codec the client supports, one group of records covering: text and binary keys and
 * values, null keys, null values, both null, empty keys and values, a UTF-8 key, repeated and
 * empty header values, null header values, a compressible 50 KB value, a run of small records that
 * batch together, one record routed by the client's own partitioner, and optionally a near-1 MiB
 * record.
 */
export function recordSet(o: RecordSetOptions): SpecRecord[] {
  const prng = new Prng(o.seed);
  const avoid = o.caps.avoidBytes ?? [];
  const rng = { bytes: (n: number) => prng.bytesAvoiding(n, avoid), words: (n: number) => prng.words(n) };
  const out: SpecRecord[] = [];
  const p = (n: number): number => n % o.partitions;
  for (const [ci, compression] of o.caps.codecs.entries()) {
    let step = 0;
    const ts = (): number | null => (o.caps.timestamps ? o.baseTimestamp + ci * 1000 + step++ : null);
    const add = (r: Omit<SpecRecord, 'topic' | 'compression' | 'timestamp'> & { timestamp?: number | null }): void => {
      out.push({ topic: o.topic, compression, ...r, timestamp: r.timestamp === undefined ? ts() : r.timestamp });
    };
    add({ partition: p(0), key: b64(`key-${compression}-0`), value: b64(rng.words(100)), headers: [['trace', b64(`t-${compression}`)], ['kind', b64('text')]] });
    add({ partition: p(1), key: null, value: b64(rng.bytes(40)), headers: [] });
    add({ partition: p(2), key: b64(`key-${compression}-2`), value: null, headers: [['tombstone', b64('yes')]] });
    if (o.caps.nullKeyAndValue !== false) add({ partition: p(0), key: null, value: null, headers: [], timestamp: null });
    else add({ partition: p(0), key: null, value: b64('only a value'), headers: [], timestamp: null });
    if (o.caps.emptyBytes) {
      add({ partition: p(1), key: b64(''), value: b64(''), headers: [['dup', b64('1')], ['dup', b64('2')], ['empty', b64('')]] });
    } else {
      add({ partition: p(1), key: b64('k4'), value: b64('v4'), headers: [['dup', b64('1')], ['dup', b64('2')]] });
    }
    add({ partition: p(2), key: b64(`ключ-ü-${compression}`), value: b64(rng.bytes(2000)), headers: [['hex', b64(rng.bytes(8).toString('hex'))]] });
    add({ partition: p(0), key: b64(rng.bytes(100)), value: b64(rng.words(50_000)), headers: [] });
    if (o.caps.nullHeaderValues) add({ partition: p(1), key: b64('k7'), value: b64('v7'), headers: [['null-value', null], ['after', b64('x')]] });
    if (o.caps.defaultPartitioner) add({ partition: null, key: b64(`routed-${compression}`), value: b64('routed by the client'), headers: [] });
    for (let i = 0; i < 6; i++) add({ partition: p(2), key: b64(`run-${i}`), value: b64(rng.words(30 + i)), headers: i % 2 === 0 ? [['n', b64(String(i))]] : [] });
    if (compression === o.bigCodec) {
      const size = nearMiBBytes[o.bigSize ?? 'under'];
      add({ partition: p(0), key: b64('near-1MiB'), value: b64(rng.bytes(size)), headers: [['size', b64(String(size))]] });
    }
  }
  return out;
}

export interface ExpectedRecord {
  topic: string;
  partition: number;
  offset: number;
  key: Encoded;
  value: Encoded;
  headers: [string, Encoded][];
  /** null: the producer chose it (checked to be within the run's time window instead). */
  timestamp: number | null;
}

/** The records a consumer must read back, from what was sent and where the producer said it landed. */
export function expectedRecords(spec: readonly SpecRecord[], results: readonly ProduceResult[]): ExpectedRecord[] {
  if (results.length !== spec.length) throw new Error(`${results.length} produce results for ${spec.length} records`);
  const out = spec.map((r, i) => {
    const result = results[i]!;
    if (result.i !== i) throw new Error(`produce result ${i} is for record ${result.i}`);
    if (result.error !== null) throw new Error(`record ${i} (${r.topic}[${r.partition}] ${r.compression}) was not produced: ${result.error}`);
    if (r.partition !== null && result.partition !== r.partition) {
      throw new Error(`record ${i} was sent to partition ${r.partition} but landed on ${result.partition}`);
    }
    return {
      topic: r.topic,
      partition: result.partition,
      offset: result.offset,
      key: encodeSpecBytes(r.key),
      value: encodeSpecBytes(r.value),
      headers: r.headers.map(([k, v]): [string, Encoded] => [k, encodeSpecBytes(v)]),
      timestamp: r.timestamp,
    };
  });
  return sortRecords(out);
}

export function sortRecords<T extends { topic: string; partition: number; offset: number }>(records: T[]): T[] {
  return records.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition || a.offset - b.offset));
}

/** One assignment per partition of the records' topics, from 0 up to the end offset they imply. */
export function assignmentsFor(expected: readonly ExpectedRecord[], partitionsByTopic: ReadonlyMap<string, number>): Assignment[] {
  const out: Assignment[] = [];
  for (const [topic, partitions] of partitionsByTopic) {
    for (let partition = 0; partition < partitions; partition++) {
      const offsets = expected.filter((r) => r.topic === topic && r.partition === partition).map((r) => r.offset);
      out.push({ topic, partition, from: 0, until: offsets.length === 0 ? 0 : Math.max(...offsets) + 1 });
    }
  }
  return out;
}

/** Each partition's offsets must be 0, 1, 2, … (one producer wrote the topic, nothing failed). */
export function assertContiguousOffsets(expected: readonly ExpectedRecord[]): void {
  const next = new Map<string, number>();
  for (const r of expected) {
    const tp = `${r.topic}[${r.partition}]`;
    const want = next.get(tp) ?? 0;
    if (r.offset !== want) throw new Error(`${tp}: the producer reported offset ${r.offset} where ${want} comes next`);
    next.set(tp, want + 1);
  }
}

export interface ConsumerView {
  /** The consumer cannot tell a null header value from an empty one (kcat's %h). */
  nullHeaderAsEmpty?: boolean;
}

/**
 * The comparable forms of the expected and the consumed records, one line of text each, so an
 * assertion failure shows the first record that differs. A timestamp the producer chose shows as
 * "now" when the consumed one lies within the run's time window.
 */
export function comparableLines(
  expected: readonly ExpectedRecord[],
  consumed: readonly ConsumedRecord[],
  view: ConsumerView,
  window: { fromMs: number; toMs: number },
): { expected: string[]; consumed: string[] } {
  const headers = (list: [string, Encoded][]): [string, Encoded][] => list.map(([k, v]) => [k, v === null && view.nullHeaderAsEmpty ? '' : v]);
  const line = (r: { topic: string; partition: number; offset: number; key: Encoded; value: Encoded; headers: [string, Encoded][] }, ts: string): string =>
    JSON.stringify([r.topic, r.partition, r.offset, r.key, r.value, headers(r.headers), ts]);
  const chosenByProducer = new Set(expected.filter((e) => e.timestamp === null).map((e) => `${e.topic}/${e.partition}/${e.offset}`));
  return {
    expected: expected.map((e) => line(e, e.timestamp === null ? 'now' : String(e.timestamp))),
    consumed: sortRecords([...consumed]).map((c) => {
      const inWindow = c.timestamp >= window.fromMs && c.timestamp <= window.toMs;
      return line(c, chosenByProducer.has(`${c.topic}/${c.partition}/${c.offset}`) && inWindow ? 'now' : String(c.timestamp));
    }),
  };
}
