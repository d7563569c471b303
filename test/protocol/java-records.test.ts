// Cross-implementation check of record batches against the Apache Kafka 4.3.1 Java client's own
// record classes, driven through test/java/src/main/java/io/strait/test/RecordVectors.java in one JVM:
//
//   Java → TS: Java's MemoryRecordsBuilder writes batches with every codec (none, gzip, snappy, lz4,
//     zstd), headers, null keys and values, idempotent and transactional batches, COMMIT/ABORT
//     markers, LogAppendTime, an empty batch, a delete horizon and several batches in one buffer.
//     TypeScript must verify every CRC and read the same header fields and records Java reads; its
//     rebuild of every uncompressed batch must be byte-identical to Java's, and its uncompressed
//     records section must equal Java's decompressed one.
//   TS → Java: batches TypeScript builds (the same variety, plus in-place patched ones and rebuilds
//     of Java's batches in the same codec, as compaction does) must pass Java's batch.ensureValid()
//     and read in Java to the same records TypeScript reads.
//
// Needs Java 17+ and the Kafka jars: scripts/install-test-deps.sh installs them. The compiled
// program is kept by java-program.ts in .cache/java-programs/RecordVectors-HASH; each
// run leaves what it sent and got in .cache/record-vectors/{ts-batches,output}.jsonl.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  RECORDS_OFFSET,
  buildBatch,
  buildEndTxnMarkerBatch,
  decodeControlRecordKey,
  decodeEndTxnMarker,
  decompress,
  patchBaseOffset,
  patchLeaderEpoch,
  readBatchRecords,
  setLogAppendTime,
  splitBatches,
  verifyCrc,
} from '../../src/protocol/records/index.ts';
import type { BuildBatchOptions, Compression, DecodedBatch, RecordInput } from '../../src/protocol/records/index.ts';
import { compileJavaProgram } from '../compat/java-program.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const LIBS = join(ROOT, '.cache/kafka/libs');
const WORK = join(ROOT, '.cache/record-vectors');
const LOG_CONFIG = join(ROOT, 'test/java/log4j2.properties');
const INSTALL_HINT = 'run scripts/install-test-deps.sh (it installs the Kafka 4.3.1 jars into .cache/kafka/libs; Java 17+ must be on PATH)';
const CODECS: Compression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
const T0 = 1_700_000_000_000;

// ---- Java toolchain and the compiled program ------------------------------------------------------

function sh(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

function preflight(): void {
  for (const tool of ['java', 'javac']) {
    const r = sh(tool, ['-version']);
    if (!r.ok) throw new Error(`${tool} is not available (${r.out.trim() || 'not found'}): ${INSTALL_HINT}`);
  }
  const jars = existsSync(LIBS) ? readdirSync(LIBS) : [];
  for (const want of ['kafka-clients-4.3.1', 'jackson-databind-', 'jackson-core-', 'lz4-java-', 'snappy-java-', 'zstd-jni-']) {
    if (!jars.some((j) => j.startsWith(want) && j.endsWith('.jar'))) throw new Error(`${want}*.jar is missing from .cache/kafka/libs: ${INSTALL_HINT}`);
  }
}

// ---- descriptions: one shape for what Java reads and what TypeScript reads --------------------------

interface HeaderDesc {
  key: string;
  value: string | null;
}
interface RecordDesc {
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: HeaderDesc[];
  controlType?: string;
  coordinatorEpoch?: number;
}
interface BatchDesc {
  baseOffset: number;
  lastOffset: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  compression: string;
  timestampType: string;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  transactional: boolean;
  control: boolean;
  count: number;
  deleteHorizonMs: number | null;
  sizeInBytes: number;
  records: RecordDesc[];
}
interface JavaLine {
  kind: 'java' | 'ts';
  name: string;
  hex?: string;
  batches?: BatchDesc[];
  bytes?: number;
  error?: string;
}

const CONTROL_TYPES = ['ABORT', 'COMMIT', 'LEADER_CHANGE', 'SNAPSHOT_HEADER', 'SNAPSHOT_FOOTER', 'KRAFT_VERSION', 'KRAFT_VOTERS'];
const hex = (b: Buffer | null): string | null => (b === null ? null : b.toString('hex'));

function describeBatch(d: DecodedBatch, size: number): BatchDesc {
  const h = d.header;
  return {
    baseOffset: h.baseOffset,
    lastOffset: h.baseOffset + h.lastOffsetDelta,
    partitionLeaderEpoch: h.partitionLeaderEpoch,
    magic: h.magic,
    crc: h.crc,
    compression: d.compression,
    timestampType: d.timestampType,
    maxTimestamp: h.maxTimestamp,
    producerId: h.producerId,
    producerEpoch: h.producerEpoch,
    baseSequence: h.baseSequence,
    transactional: d.isTransactional,
    control: d.isControl,
    count: h.recordCount,
    deleteHorizonMs: d.deleteHorizonMs,
    sizeInBytes: size,
    records: d.records.map((r) => {
      const rec: RecordDesc = {
        offset: r.offset,
        timestamp: r.timestamp,
        key: hex(r.key),
        value: hex(r.value),
        headers: r.headers.map((x) => ({ key: x.key, value: hex(x.value) })),
      };
      if (d.isControl) {
        const type = decodeControlRecordKey(r.key).type;
        rec.controlType = CONTROL_TYPES[type] ?? 'UNKNOWN';
        if (type <= 1) rec.coordinatorEpoch = decodeEndTxnMarker(r.value).coordinatorEpoch;
      }
      return rec;
    }),
  };
}

/** What TypeScript reads from buf: every batch's CRC verified, then decoded. */
function describeTs(buf: Buffer): { batches: BatchDesc[]; bytes: number; decoded: DecodedBatch[]; spans: { pos: number; size: number }[] } {
  const batches: BatchDesc[] = [];
  const decoded: DecodedBatch[] = [];
  const spans = [...splitBatches(buf)];
  let bytes = 0;
  for (const s of spans) {
    assert.ok(verifyCrc(buf, s.pos, s.size), `CRC of the batch at ${s.pos}`);
    const d = readBatchRecords(buf.subarray(s.pos, s.pos + s.size));
    decoded.push(d);
    batches.push(describeBatch(d, s.size));
    bytes += s.size;
  }
  return { batches, bytes, decoded, spans };
}

/** The first difference between two JSON-like values, as a short readable line (hex shortened). */
function firstDiff(a: unknown, b: unknown, path = '$'): string | null {
  if (Object.is(a, b)) return null;
  const short = (x: unknown): string => {
    const s = JSON.stringify(x) ?? String(x);
    return s.length > 80 ? `${s.slice(0, 80)}… (${s.length} chars)` : s;
  };
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) {
    return `${path}: TS ${short(a)}, Java ${short(b)}`;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path}: TS has ${a.length} entries, Java ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = firstDiff(a[i], b[i], `${path}[${i}]`);
      if (d !== null) return d;
    }
    return null;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  for (const k of new Set([...Object.keys(ao), ...Object.keys(bo)])) {
    const d = firstDiff(ao[k], bo[k], `${path}.${k}`);
    if (d !== null) return d;
  }
  return null;
}

function assertSame(ts: unknown, java: unknown, what: string): void {
  const d = firstDiff(ts, java);
  if (d !== null) assert.fail(`${what}: ${d}`);
}

// ---- what TypeScript builds -----------------------------------------------------------------------

/** Deterministic pseudo-random bytes (xorshift). */
function prng(seed: number): (n: number) => Buffer {
  let x = seed >>> 0 || 1;
  return (n) => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      b[i] = x & 0xff;
    }
    return b;
  };
}

function sampleRecords(): RecordInput[] {
  const rand = prng(42);
  return [
    { key: 'key-0', value: 'value-0', timestamp: T0 },
    { key: null, value: 'null key', timestamp: T0 + 1 },
    { key: 'null value', value: null, timestamp: T0 + 2 },
    { key: null, value: null, timestamp: T0 - 1_000_000 },
    { key: Buffer.alloc(0), value: Buffer.alloc(0), timestamp: T0 + 3 },
    {
      key: 'headers',
      value: 'h',
      timestamp: T0 + 4,
      headers: [
        { key: 'trace-id', value: 'abc' },
        { key: 'null-value', value: null },
        { key: 'ключ-🔑', value: Buffer.from([0, 1, 2, 255]) },
        { key: '', value: '' },
      ],
    },
    { key: rand(63), value: rand(64), timestamp: T0 + 5 },
    { key: rand(8191), value: rand(8192), timestamp: T0 + 6 },
    { key: 'big', value: Buffer.concat([Buffer.alloc(150_000, 'kafka '), rand(90_000)]), timestamp: T0 + 7 },
  ];
}

/** Rebuilds a decoded batch as compaction would: same header fields, offsets and timestamps. */
function rebuild(d: DecodedBatch, compression: Compression): Buffer {
  const h = d.header;
  const o: BuildBatchOptions = {
    compression,
    baseOffset: h.baseOffset,
    partitionLeaderEpoch: h.partitionLeaderEpoch,
    producerId: h.producerId,
    producerEpoch: h.producerEpoch,
    baseSequence: h.baseSequence,
    isTransactional: d.isTransactional,
    isControl: d.isControl,
    timestampType: d.timestampType,
    maxTimestamp: h.maxTimestamp,
    lastOffsetDelta: h.lastOffsetDelta,
    records: d.records.map((r) => ({
      key: r.key,
      value: r.value,
      headers: r.headers,
      timestamp: h.baseTimestamp + r.timestampDelta,
      offsetDelta: r.offsetDelta,
      attributes: r.attributes,
    })),
  };
  if (d.deleteHorizonMs === null) o.baseTimestamp = h.baseTimestamp;
  else o.deleteHorizonMs = d.deleteHorizonMs;
  return buildBatch(o);
}

function tsCases(): Map<string, Buffer> {
  const cases = new Map<string, Buffer>();
  const sample = sampleRecords();
  for (const codec of CODECS) cases.set(`records-${codec}`, buildBatch({ compression: codec, baseOffset: 100, records: sample }));
  const many: RecordInput[] = [];
  for (let i = 0; i < 3000; i++) many.push({ key: `k${i}`, value: `value ${i} ${'x'.repeat(i % 50)}`, timestamp: T0 + i * 7 });
  for (const codec of CODECS) cases.set(`many-${codec}`, buildBatch({ compression: codec, baseOffset: 100, records: many }));
  const few = sample.slice(0, 3);
  cases.set('idempotent-lz4', buildBatch({ compression: 'lz4', baseOffset: 5000, producerId: 123_456_789_012, producerEpoch: 7, baseSequence: 1000, partitionLeaderEpoch: 12, records: few }));
  cases.set('transactional-zstd', buildBatch({ compression: 'zstd', baseOffset: 6000, producerId: 4242, producerEpoch: 3, baseSequence: 0, isTransactional: true, partitionLeaderEpoch: 5, records: few }));
  cases.set('log-append-time-gzip', buildBatch({ compression: 'gzip', baseOffset: 7000, timestampType: 'LogAppendTime', logAppendTime: 1_750_000_000_000, partitionLeaderEpoch: 2, records: few }));
  cases.set('commit-marker', buildEndTxnMarkerBatch({ commit: true, coordinatorEpoch: 9, producerId: 4242, producerEpoch: 3, timestamp: T0 + 99, baseOffset: 77, partitionLeaderEpoch: 3 }));
  cases.set('abort-marker', buildEndTxnMarkerBatch({ commit: false, coordinatorEpoch: 10, producerId: 4242, producerEpoch: 3, timestamp: T0 + 100, baseOffset: 78, partitionLeaderEpoch: 3 }));
  cases.set('empty-batch', buildBatch({ baseOffset: 200, lastOffsetDelta: 10, producerId: 99, producerEpoch: 1, baseSequence: 5, partitionLeaderEpoch: 4, baseTimestamp: T0, maxTimestamp: T0, records: [] }));
  cases.set('delete-horizon', buildBatch({ baseOffset: 300, partitionLeaderEpoch: 1, deleteHorizonMs: T0 + 86_400_000, records: [{ key: 'tombstone', value: null, timestamp: T0 }, { key: 'live', value: 'v', timestamp: T0 + 5, offsetDelta: 2 }] }));
  cases.set('offset-gaps', buildBatch({ compression: 'snappy', baseOffset: 400, lastOffsetDelta: 12, records: [{ value: 'a', timestamp: T0 }, { value: 'b', offsetDelta: 5, timestamp: T0 }, { value: 'c', offsetDelta: 9, timestamp: T0 }] }));
  cases.set('lz4-incompressible', buildBatch({ compression: 'lz4', records: [{ value: randomBytes(200_000), timestamp: T0 }, { value: Buffer.alloc(100_000, 'z'), timestamp: T0 }] }));
  cases.set('three-batches', Buffer.concat([buildBatch({ baseOffset: 100, records: few }), buildBatch({ compression: 'snappy', baseOffset: 103, records: few }), buildBatch({ compression: 'zstd', baseOffset: 106, records: few })]));
  // What the broker does in place on produce: assign the offset, stamp the leader epoch and LogAppendTime.
  for (const codec of CODECS) {
    const b = buildBatch({ compression: codec, producerId: 11, producerEpoch: 0, baseSequence: 0, records: few });
    patchBaseOffset(b, 0, 9_000_000_000);
    patchLeaderEpoch(b, 0, 31);
    setLogAppendTime(b, 0, b.length, 1_760_000_000_000);
    cases.set(`patched-${codec}`, b);
  }
  return cases;
}

// ---- run ---------------------------------------------------------------------------------------------

interface Run {
  java: Map<string, JavaLine>;
  ts: Map<string, JavaLine>;
  tsBuilt: Map<string, Buffer>;
}

async function run(): Promise<Run> {
  preflight();
  const classes = await compileJavaProgram('RecordVectors');
  const tsBuilt = tsCases();
  // Java's batches rebuilt by TypeScript in their own codec (the compaction path) go to Java too;
  // they are added after Java's first answer, so Java runs twice.
  const first = runJava(classes, tsBuilt);
  for (const line of first.java.values()) {
    const buf = Buffer.from(line.hex!, 'hex');
    const { decoded } = describeTs(buf);
    tsBuilt.set(`rebuilt-${line.name}`, Buffer.concat(decoded.map((d) => rebuild(d, d.compression))));
  }
  const second = runJava(classes, tsBuilt);
  return { java: second.java, ts: second.ts, tsBuilt };
}

function runJava(classes: string, tsBuilt: Map<string, Buffer>): { java: Map<string, JavaLine>; ts: Map<string, JavaLine> } {
  mkdirSync(WORK, { recursive: true });
  const input = join(WORK, 'ts-batches.jsonl');
  const output = join(WORK, 'output.jsonl');
  writeFileSync(input, [...tsBuilt].map(([name, b]) => JSON.stringify({ name, hex: b.toString('hex') })).join('\n') + '\n');
  rmSync(output, { force: true });
  const r = spawnSync('java', [`-Dlog4j2.configurationFile=${LOG_CONFIG}`, '-cp', `${classes}:${LIBS}/*`, 'io.strait.test.RecordVectors', input, output], {
    encoding: 'utf8',
    timeout: 180_000,
    maxBuffer: 16 << 20,
  });
  if (r.status !== 0) throw new Error(`RecordVectors failed (${r.status ?? r.signal ?? r.error}):\n${r.stderr}${r.stdout}`);
  const java = new Map<string, JavaLine>();
  const ts = new Map<string, JavaLine>();
  for (const text of readFileSync(output, 'utf8').split('\n')) {
    if (text.trim() === '') continue;
    const line = JSON.parse(text) as JavaLine;
    (line.kind === 'java' ? java : ts).set(line.name, line);
  }
  return { java, ts };
}

let result: Run | null = null;
let failure: Error | null = null;
try {
  result = await run();
} catch (e) {
  failure = e as Error;
}

if (result === null) {
  test('Java record cross-check: toolchain, Kafka jars and RecordVectors', () => {
    throw failure!;
  });
} else {
  const { java, ts, tsBuilt } = result;

  test('Java wrote the expected cases, and read every case TypeScript sent', () => {
    assert.ok(java.size >= 20, `only ${java.size} Java cases`);
    for (const codec of CODECS) assert.ok(java.has(`records-${codec}`), `records-${codec}`);
    assert.deepEqual([...ts.keys()].sort(), [...tsBuilt.keys()].sort());
  });

  for (const [name, line] of java) {
    test(`Java → TS: ${name}`, () => {
      const buf = Buffer.from(line.hex!, 'hex');
      const mine = describeTs(buf);
      assert.equal(mine.bytes, buf.length, 'TypeScript reads every byte');
      assert.equal(line.bytes, buf.length, 'Java reads every byte');
      assertSame(mine.batches, line.batches, name);
      for (const [i, d] of mine.decoded.entries()) {
        const { pos, size } = mine.spans[i]!;
        const original = buf.subarray(pos, pos + size);
        const plain = rebuild(d, 'none');
        if (d.compression === 'none') {
          assert.ok(plain.equals(original), `batch ${i}: the TypeScript rebuild differs from Java's bytes\n TS   ${plain.toString('hex').slice(0, 200)}\n Java ${original.toString('hex').slice(0, 200)}`);
        } else {
          // Codec output may differ between implementations; the records inside must not.
          const javaRecords = decompress(d.compression, original.subarray(RECORDS_OFFSET));
          assert.ok(plain.subarray(RECORDS_OFFSET).equals(javaRecords), `batch ${i}: records section differs from Java's decompressed ${d.compression} payload`);
        }
      }
    });
  }

  for (const [name, built] of tsBuilt) {
    test(`TS → Java: ${name}`, () => {
      const line = ts.get(name);
      assert.ok(line !== undefined, 'Java answered');
      if (line.error !== undefined) assert.fail(`Java cannot read the batch: ${line.error}`);
      assert.equal(line.bytes, built.length, 'Java reads every byte');
      assertSame(describeTs(built).batches, line.batches, name);
    });
  }

  test('TS → Java: what Java reads from TypeScript batches matches what went in', () => {
    // Guards against TypeScript writing and reading the same mistake: a few values from the inputs.
    const records = ts.get('records-lz4')!.batches![0]!.records;
    const sample = sampleRecords();
    assert.equal(records.length, sample.length);
    for (const [i, r] of records.entries()) {
      const want = sample[i]!;
      assert.equal(r.offset, 100 + i);
      assert.equal(r.timestamp, want.timestamp);
      assert.equal(r.key, want.key === null ? null : Buffer.from(want.key!).toString('hex'));
      assert.equal(r.value, want.value === null ? null : Buffer.from(want.value!).toString('hex'));
    }
    assert.deepEqual(records[5]!.headers, [
      { key: 'trace-id', value: Buffer.from('abc').toString('hex') },
      { key: 'null-value', value: null },
      { key: 'ключ-🔑', value: '000102ff' },
      { key: '', value: '' },
    ]);
    const patched = ts.get('patched-zstd')!.batches![0]!;
    assert.equal(patched.baseOffset, 9_000_000_000);
    assert.equal(patched.partitionLeaderEpoch, 31);
    assert.equal(patched.timestampType, 'LogAppendTime');
    assert.deepEqual(patched.records.map((r) => r.timestamp), [1_760_000_000_000, 1_760_000_000_000, 1_760_000_000_000]);
    const commit = ts.get('commit-marker')!.batches![0]!;
    assert.deepEqual([commit.control, commit.transactional, commit.records[0]!.controlType, commit.records[0]!.coordinatorEpoch], [true, true, 'COMMIT', 9]);
    const horizon = ts.get('delete-horizon')!.batches![0]!;
    assert.equal(horizon.deleteHorizonMs, T0 + 86_400_000);
    assert.deepEqual(horizon.records.map((r) => [r.offset, r.timestamp]), [[300, T0], [302, T0 + 5]]);
  });
}
