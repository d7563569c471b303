// Record batches (magic v2): CRC-32C (both implementations), the zero-copy header accessors and
// in-place patches, record decode/encode, and the payload codecs with Kafka's framings.
// The cross-check against Kafka's own Java classes is test/protocol/java-records.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import * as zlib from 'node:zlib';
import {
  ATTR_TIMESTAMP_TYPE,
  CONTROL_TYPE_ABORT,
  CONTROL_TYPE_COMMIT,
  CRC32C_CHECK_VALUE,
  RecordBatchError,
  batchSizeAt,
  buildBatch,
  buildEndTxnMarkerBatch,
  compress,
  crc32c,
  crc32cImplementation,
  crc32cNative,
  crc32cPure,
  crc32cPureRange,
  crc32cRange,
  decodeControlRecordKey,
  decodeEndTxnMarker,
  decompress,
  encodeControlRecordKey,
  encodeEndTxnMarker,
  lz4FrameDecompress,
  patchBaseOffset,
  patchLeaderEpoch,
  readBatchHeader,
  readBatchRecords,
  keylessRecords,
  readBatches,
  setLogAppendTime,
  splitBatches,
  verifyCrc,
  writeCrc,
  xxhash32,
} from '../../src/protocol/records/index.ts';
import type { Compression, RecordBatchErrorReason, RecordInput } from '../../src/protocol/records/index.ts';
import { loadNativeCrc32c } from '../../src/protocol/records/crc32c.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';

const CODECS: Compression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
const require = createRequire(import.meta.url);
const lz4 = require('lz4-napi') as { compressSync(d: Buffer, dict?: Buffer): Buffer; compressFrameSync(d: Buffer, o?: object): Buffer };
const snappy = require('snappy') as { compressSync(d: Buffer): Buffer };

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
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

function throwsBatch(fn: () => unknown, reason: RecordBatchErrorReason, match?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof RecordBatchError, `expected RecordBatchError, got ${String(e)}`);
    assert.equal(e.reason, reason, e.message);
    assert.equal(e.kafkaError, ErrorCode.CORRUPT_MESSAGE);
    assert.equal(e.code, 'STRAIT_CORRUPT_RECORD_BATCH');
    if (match) assert.match(e.message, match);
    return true;
  });
}

// ---- CRC-32C ---------------------------------------------------------------------------------------

// RFC 3720 (iSCSI) appendix B.4 and the CRC catalogue's check value.
const CRC_VECTORS: [string, Buffer, number][] = [
  ['empty', Buffer.alloc(0), 0x00000000],
  ['"123456789"', Buffer.from('123456789'), CRC32C_CHECK_VALUE],
  ['32 zero bytes', Buffer.alloc(32, 0), 0x8a9136aa],
  ['32 0xff bytes', Buffer.alloc(32, 0xff), 0x62a8ab43],
  ['32 incrementing bytes', Buffer.from(Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e],
  ['32 decrementing bytes', Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c],
];

test('crc32c: the native implementation loads on this platform', () => {
  // The prebuilt @node-rs/crc32-linux-x64-gnu ships for the machines Strait runs on; a failure here
  // means npm did not install the optional package (check package-lock.json and --omit=optional).
  assert.equal(crc32cImplementation, 'native');
  assert.notEqual(crc32cNative, null);
});

for (const [name, data, want] of CRC_VECTORS) {
  test(`crc32c vector: ${name}`, () => {
    assert.equal(crc32cPure(data), want, 'pure');
    assert.equal(crc32cNative!(data), want, 'native');
    assert.equal(crc32c(data), want, 'crc32c');
    assert.equal(crc32cRange(data, 0, data.length), want, 'crc32cRange');
  });
}

test('crc32c: pure and native agree on random data of every length 0-1100 and some large ones', () => {
  const rand = prng(7);
  for (let n = 0; n <= 1100; n++) {
    const b = rand(n);
    assert.equal(crc32cPure(b), crc32cNative!(b), `length ${n}`);
  }
  for (const n of [65536, 1 << 20, (1 << 20) + 13]) {
    const b = randomBytes(n);
    assert.equal(crc32cPure(b), crc32cNative!(b), `length ${n}`);
  }
});

test('crc32c: continuation, ranges and unaligned views agree with one pass', () => {
  const b = randomBytes(5000);
  const whole = crc32c(b);
  for (const cut of [0, 1, 7, 8, 63, 64, 65, 2500, 4999, 5000]) {
    assert.equal(crc32c(b.subarray(cut), crc32c(b.subarray(0, cut))), whole, `native split at ${cut}`);
    assert.equal(crc32cPure(b.subarray(cut), crc32cPure(b.subarray(0, cut))), whole, `pure split at ${cut}`);
  }
  for (const [s, e] of [[0, 0], [3, 10], [1, 4097], [21, 5000]] as const) {
    const want = crc32cPure(Buffer.from(b.subarray(s, e)));
    assert.equal(crc32cRange(b, s, e), want);
    assert.equal(crc32cPureRange(b, s, e), want);
  }
});

test('crc32c: the fallback is chosen when the native module fails to load or computes wrong values', () => {
  assert.equal(loadNativeCrc32c(() => { throw new Error('Cannot find module'); }), null);
  assert.equal(loadNativeCrc32c(() => ({})), null);
  assert.equal(loadNativeCrc32c(() => ({ crc32c: () => 0 })), null);
  // One that is right for the check value but ignores the initial state (no continuation).
  assert.equal(loadNativeCrc32c(() => ({ crc32c: (b: Uint8Array) => crc32cPure(b) })), null);
  const ok = loadNativeCrc32c(() => ({ crc32c: (b: Uint8Array, i?: number) => crc32cPure(b, i ?? 0) }));
  assert.ok(ok !== null);
  assert.equal(ok(Buffer.from('123456789')), CRC32C_CHECK_VALUE);
});

// ---- batch header, framing and patches ---------------------------------------------------------------

const sample = (): Buffer =>
  buildBatch({
    baseOffset: 0x1_2345_6789,
    partitionLeaderEpoch: 17,
    producerId: 987654321012,
    producerEpoch: 3,
    baseSequence: 42,
    isTransactional: true,
    records: [
      { key: 'a', value: 'one', timestamp: 1_700_000_000_000 },
      { key: 'b', value: 'two', timestamp: 1_700_000_000_500 },
      { key: null, value: null, timestamp: 1_699_999_999_000 },
    ],
  });

test('batch: header fields sit at the documented byte offsets', () => {
  const b = sample();
  assert.equal(b.readBigInt64BE(0), 0x1_2345_6789n, 'baseOffset@0');
  assert.equal(b.readInt32BE(8), b.length - 12, 'batchLength@8');
  assert.equal(b.readInt32BE(12), 17, 'partitionLeaderEpoch@12');
  assert.equal(b.readInt8(16), 2, 'magic@16');
  assert.equal(b.readUInt32BE(17), crc32cPure(b.subarray(21)), 'crc@17 over attributes..end');
  assert.equal(b.readInt16BE(21), 0x10, 'attributes@21: transactional, CreateTime, none');
  assert.equal(b.readInt32BE(23), 2, 'lastOffsetDelta@23');
  assert.equal(b.readBigInt64BE(27), 1_700_000_000_000n, 'baseTimestamp@27 is the first record’s');
  assert.equal(b.readBigInt64BE(35), 1_700_000_000_500n, 'maxTimestamp@35');
  assert.equal(b.readBigInt64BE(43), 987654321012n, 'producerId@43');
  assert.equal(b.readInt16BE(51), 3, 'producerEpoch@51');
  assert.equal(b.readInt32BE(53), 42, 'baseSequence@53');
  assert.equal(b.readInt32BE(57), 3, 'recordCount@57');
  assert.deepEqual(readBatchHeader(b, 0), {
    baseOffset: 0x1_2345_6789,
    batchLength: b.length - 12,
    partitionLeaderEpoch: 17,
    magic: 2,
    crc: b.readUInt32BE(17),
    attributes: 0x10,
    lastOffsetDelta: 2,
    baseTimestamp: 1_700_000_000_000,
    maxTimestamp: 1_700_000_000_500,
    producerId: 987654321012,
    producerEpoch: 3,
    baseSequence: 42,
    recordCount: 3,
  });
});

test('batch: splitBatches walks concatenated batches, also at an offset inside a larger buffer', () => {
  const parts = [sample(), buildBatch({ records: [{ value: 'x', timestamp: 1 }] }), buildEndTxnMarkerBatch({ commit: true, coordinatorEpoch: 1, producerId: 5, producerEpoch: 0, timestamp: 9 })];
  const all = Buffer.concat([Buffer.from('junk'), ...parts]).subarray(4);
  const spans = [...splitBatches(all)];
  assert.deepEqual(
    spans.map((s) => s.size),
    parts.map((p) => p.length),
  );
  let pos = 0;
  for (const [i, s] of spans.entries()) {
    assert.equal(s.pos, pos);
    assert.ok(all.subarray(s.pos, s.pos + s.size).equals(parts[i]!));
    assert.ok(verifyCrc(all, s.pos, s.size));
    pos += s.size;
  }
  assert.deepEqual([...splitBatches(Buffer.alloc(0))], []);
});

test('batch: framing errors carry a reason and map to CORRUPT_MESSAGE', () => {
  const one = sample();
  const two = Buffer.concat([one, one]);
  throwsBatch(() => [...splitBatches(two.subarray(0, two.length - 1))], 'truncated');
  throwsBatch(() => [...splitBatches(two.subarray(0, one.length + 5))], 'truncated');
  throwsBatch(() => [...splitBatches(two.subarray(0, one.length + 14))], 'truncated');
  const shortLen = Buffer.from(one);
  shortLen.writeInt32BE(48, 8);
  throwsBatch(() => [...splitBatches(shortLen)], 'batch-length', /48/);
  const negative = Buffer.from(one);
  negative.writeInt32BE(-1, 8);
  throwsBatch(() => batchSizeAt(negative, 0), 'batch-length');
  const v1 = Buffer.from(one);
  v1.writeInt8(1, 16);
  throwsBatch(() => [...splitBatches(v1)], 'magic', /magic 1/);
  throwsBatch(() => readBatchHeader(v1, 0), 'magic');
  throwsBatch(() => readBatchHeader(one.subarray(0, 60), 0), 'truncated');
  // A follower's fetch response may end in a partial batch: 'stop' drops it.
  for (const cut of [1, 5, 12, 17, 40, one.length - 1]) {
    const spans = [...splitBatches(two.subarray(0, one.length + cut), { partialTail: 'stop' })];
    assert.deepEqual(spans, [{ pos: 0, size: one.length }], `cut ${cut}`);
  }
  // 'stop' still rejects corruption that is not truncation.
  throwsBatch(() => [...splitBatches(Buffer.concat([one, shortLen]), { partialTail: 'stop' })], 'batch-length');
});

test('batch: int64 fields beyond ±2^53 are rejected, safe extremes are exact', () => {
  const b = sample();
  b.writeBigInt64BE(1n << 60n, 0);
  throwsBatch(() => readBatchHeader(b, 0), 'int64-range', /baseOffset/);
  for (const v of [0, -1, 1, 2 ** 32 - 1, 2 ** 32, -(2 ** 32), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
    patchBaseOffset(b, 0, v);
    assert.equal(b.readBigInt64BE(0), BigInt(v), `write ${v}`);
    assert.equal(readBatchHeader(b, 0).baseOffset, v, `read ${v}`);
  }
  b.writeBigInt64BE(BigInt(Number.MAX_SAFE_INTEGER) + 1n, 0);
  throwsBatch(() => readBatchHeader(b, 0), 'int64-range');
  patchBaseOffset(b, 0, 0);
  b.writeBigInt64BE(-(1n << 63n), 35);
  throwsBatch(() => readBatchHeader(b, 0), 'int64-range', /maxTimestamp/);
  assert.throws(() => patchBaseOffset(b, 0, 2 ** 53), RangeError);
});

test('batch: CRC detects a flipped bit anywhere it covers, and not in the fields it does not', () => {
  const b = sample();
  assert.ok(verifyCrc(b, 0, b.length));
  for (const at of [21, 22, 30, 60, 61, b.length - 1]) {
    const c = Buffer.from(b);
    c[at]! ^= 0x01;
    assert.equal(verifyCrc(c, 0, c.length), false, `byte ${at}`);
  }
  // baseOffset, batchLength's neighbours and the leader epoch are outside the CRC (@0-20).
  patchBaseOffset(b, 0, 123456);
  patchLeaderEpoch(b, 0, 99);
  assert.ok(verifyCrc(b, 0, b.length));
  assert.equal(readBatchHeader(b, 0).baseOffset, 123456);
  assert.equal(readBatchHeader(b, 0).partitionLeaderEpoch, 99);
  assert.equal(readBatchRecords(b).records[2]!.offset, 123458);
  const bad = Buffer.from(b);
  bad[bad.indexOf('two')]! ^= 0x01; // inside a value: still decodes, but the CRC no longer matches
  throwsBatch(() => readBatchRecords(bad), 'crc');
  assert.equal(readBatchRecords(bad, { verifyCrc: false }).records.length, 3);
});

test('batch: patches work in place on a batch in the middle of a larger buffer', () => {
  const one = sample();
  const buf = Buffer.concat([one, one, one]);
  const pos = one.length;
  patchBaseOffset(buf, pos, 77);
  setLogAppendTime(buf, pos, one.length, 1_800_000_000_000);
  assert.ok(buf.subarray(0, pos).equals(one) && buf.subarray(2 * pos).equals(one), 'neighbours untouched');
  const spans = [...splitBatches(buf)];
  assert.equal(spans.length, 3);
  for (const s of spans) assert.ok(verifyCrc(buf, s.pos, s.size));
});

test('batch: setLogAppendTime sets the type bit and maxTimestamp, keeps the CRC valid, and readers use it', () => {
  for (const codec of CODECS) {
    const b = buildBatch({ compression: codec, records: [{ value: 'a', timestamp: 100 }, { value: 'b', timestamp: 300 }] });
    setLogAppendTime(b, 0, b.length, 1_750_000_000_000);
    const h = readBatchHeader(b, 0);
    assert.equal(h.attributes & ATTR_TIMESTAMP_TYPE, ATTR_TIMESTAMP_TYPE);
    assert.equal(h.attributes & 0x07, ['none', 'gzip', 'snappy', 'lz4', 'zstd'].indexOf(codec), 'compression kept');
    assert.equal(h.maxTimestamp, 1_750_000_000_000);
    assert.equal(h.baseTimestamp, 100, 'baseTimestamp untouched');
    assert.ok(verifyCrc(b, 0, b.length));
    const d = readBatchRecords(b);
    assert.equal(d.timestampType, 'LogAppendTime');
    assert.deepEqual(d.records.map((r) => r.timestamp), [1_750_000_000_000, 1_750_000_000_000]);
    assert.deepEqual(d.records.map((r) => r.timestampDelta), [0, 200], 'record deltas untouched');
  }
});

// ---- records ---------------------------------------------------------------------------------------

const rand = prng(99);
const RECORDS: RecordInput[] = [
  { key: 'key-0', value: 'value-0', timestamp: 1_700_000_000_000 },
  { key: null, value: 'null key', timestamp: 1_700_000_000_001 },
  { key: 'null value', value: null, timestamp: 1_700_000_000_002 },
  { key: null, value: null, timestamp: 1_699_000_000_000 }, // before baseTimestamp: negative delta
  { key: Buffer.alloc(0), value: Buffer.alloc(0), timestamp: 1_700_000_000_003 },
  {
    key: 'headers',
    value: 'h',
    timestamp: 1_700_000_000_004,
    headers: [
      { key: 'trace-id', value: 'abc' },
      { key: 'null-value', value: null },
      { key: 'ключ-🔑', value: Buffer.from([0, 1, 2, 255]) },
      { key: '', value: '' },
      { key: 'trace-id', value: 'duplicate keys are allowed' },
    ],
  },
  // Lengths around the varint boundaries (63/64 and 8191/8192 bytes change the zig-zag varint size).
  { key: rand(63), value: rand(64), timestamp: 1_700_000_000_005 },
  { key: rand(8191), value: rand(8192), timestamp: 1_700_000_000_006 },
  // Larger than one snappy chunk (32 KiB) and one LZ4 block (64 KiB), partly compressible.
  { key: 'big', value: Buffer.concat([Buffer.alloc(150_000, 'kafka '), rand(90_000)]), timestamp: 1_700_000_000_007 },
];

const asBuffer = (v: Buffer | string | null | undefined): Buffer | null => (v === null || v === undefined ? null : Buffer.from(v));

for (const codec of CODECS) {
  test(`records: round trip through a ${codec} batch`, () => {
    const b = buildBatch({
      compression: codec,
      baseOffset: 1000,
      partitionLeaderEpoch: 4,
      producerId: 77,
      producerEpoch: 2,
      baseSequence: 10,
      records: RECORDS,
    });
    assert.ok(verifyCrc(b, 0, b.length));
    const d = readBatchRecords(b);
    assert.equal(d.compression, codec);
    assert.equal(d.timestampType, 'CreateTime');
    assert.equal(d.isTransactional, false);
    assert.equal(d.isControl, false);
    assert.equal(d.deleteHorizonMs, null);
    assert.equal(d.header.recordCount, RECORDS.length);
    assert.equal(d.header.lastOffsetDelta, RECORDS.length - 1);
    assert.equal(d.header.baseTimestamp, 1_700_000_000_000);
    assert.equal(d.header.maxTimestamp, 1_700_000_000_007);
    assert.equal(d.records.length, RECORDS.length);
    for (const [i, r] of d.records.entries()) {
      const want = RECORDS[i]!;
      assert.equal(r.offset, 1000 + i);
      assert.equal(r.offsetDelta, i);
      assert.equal(r.timestamp, want.timestamp);
      assert.equal(r.timestampDelta, want.timestamp! - 1_700_000_000_000);
      assert.deepEqual(r.key, asBuffer(want.key), `record ${i} key`);
      assert.deepEqual(r.value, asBuffer(want.value), `record ${i} value`);
      assert.deepEqual(
        r.headers,
        (want.headers ?? []).map((h) => ({ key: h.key, value: asBuffer(h.value) })),
        `record ${i} headers`,
      );
    }
    if (codec !== 'none') assert.ok(b.length < 150_000, `${codec} batch of ${b.length} bytes did not compress`);
  });
}

test('records: uncompressed keys and values are views into the batch, not copies', () => {
  const b = buildBatch({ records: [{ key: 'k', value: 'v', timestamp: 1 }] });
  const r = readBatchRecords(b).records[0]!;
  assert.equal(r.value!.buffer, b.buffer);
});

test('records: explicit offset deltas, lastOffsetDelta, timestamps and an empty batch', () => {
  const b = buildBatch({
    baseOffset: 50,
    baseTimestamp: 5000,
    maxTimestamp: 9000,
    lastOffsetDelta: 20,
    records: [
      { value: 'a', offsetDelta: 3, timestamp: 5001 },
      { value: 'b', offsetDelta: 11, timestamp: 4000 },
    ],
  });
  const d = readBatchRecords(b);
  assert.deepEqual(d.records.map((r) => [r.offset, r.timestamp, r.timestampDelta]), [[53, 5001, 1], [61, 4000, -1000]]);
  assert.equal(d.header.lastOffsetDelta, 20);
  assert.equal(d.header.maxTimestamp, 9000);

  // Compaction keeps empty batches so producer state survives (Kafka's writeEmptyHeader).
  const empty = buildBatch({ baseOffset: 10, lastOffsetDelta: 4, producerId: 9, producerEpoch: 1, baseSequence: 0, records: [] });
  assert.equal(empty.length, 61);
  const e = readBatchRecords(empty);
  assert.equal(e.records.length, 0);
  assert.equal(e.header.baseTimestamp, -1);
  assert.equal(e.header.maxTimestamp, -1);
  assert.equal(e.header.lastOffsetDelta, 4);
});

test('records: LogAppendTime and the delete horizon (KIP-534)', () => {
  const lat = buildBatch({ timestampType: 'LogAppendTime', logAppendTime: 42_000, records: [{ value: 'a', timestamp: 10 }] });
  const d = readBatchRecords(lat);
  assert.equal(d.timestampType, 'LogAppendTime');
  assert.equal(d.header.maxTimestamp, 42_000);
  assert.equal(d.records[0]!.timestamp, 42_000);
  assert.throws(() => buildBatch({ timestampType: 'LogAppendTime', records: [{ value: 'a', timestamp: 1 }] }), TypeError);

  const compacted = buildBatch({ deleteHorizonMs: 86_400_000, records: [{ key: 'k', value: null, timestamp: 86_000_000 }] });
  const c = readBatchRecords(compacted);
  assert.equal(c.header.attributes & 0x40, 0x40);
  assert.equal(c.deleteHorizonMs, 86_400_000);
  assert.equal(c.header.baseTimestamp, 86_400_000);
  assert.equal(c.records[0]!.timestamp, 86_000_000);
});

test('records: transaction markers encode and decode (KIP-98)', () => {
  assert.deepEqual([...encodeControlRecordKey(CONTROL_TYPE_COMMIT)], [0, 0, 0, 1]);
  assert.deepEqual([...encodeEndTxnMarker(0x01020304)], [0, 0, 1, 2, 3, 4]);
  for (const commit of [true, false]) {
    const b = buildEndTxnMarkerBatch({ commit, coordinatorEpoch: 7, producerId: 4000, producerEpoch: 3, timestamp: 123, baseOffset: 88, partitionLeaderEpoch: 2 });
    const d = readBatchRecords(b);
    assert.equal(d.isControl, true);
    assert.equal(d.isTransactional, true);
    assert.equal(d.header.producerId, 4000);
    assert.equal(d.header.producerEpoch, 3);
    assert.equal(d.header.baseSequence, -1);
    assert.equal(d.records.length, 1);
    assert.deepEqual(decodeControlRecordKey(d.records[0]!.key), { version: 0, type: commit ? CONTROL_TYPE_COMMIT : CONTROL_TYPE_ABORT });
    assert.deepEqual(decodeEndTxnMarker(d.records[0]!.value), { version: 0, coordinatorEpoch: 7 });
  }
  // A newer version is read by its v0 prefix, as Kafka does; short or negative versions are corrupt.
  assert.deepEqual(decodeControlRecordKey(Buffer.from([0, 1, 0, 0, 9, 9])), { version: 1, type: 0 });
  assert.deepEqual(decodeEndTxnMarker(Buffer.from([0, 1, 0, 0, 0, 5, 0])), { version: 1, coordinatorEpoch: 5 });
  throwsBatch(() => decodeControlRecordKey(Buffer.from([0, 0, 1])), 'records');
  throwsBatch(() => decodeControlRecordKey(null), 'records');
  throwsBatch(() => decodeControlRecordKey(Buffer.from([0xff, 0xff, 0, 0])), 'records');
  throwsBatch(() => decodeEndTxnMarker(Buffer.from([0, 0, 0, 0, 1])), 'records');
});

/** An uncompressed batch whose records section is `records` as given, with a correct CRC. */
function rawBatch(records: Buffer, recordCount: number): Buffer {
  const b = buildBatch({ records: [] });
  const out = Buffer.concat([b, records]);
  out.writeInt32BE(out.length - 12, 8);
  out.writeInt32BE(recordCount, 57);
  writeCrc(out, 0, out.length);
  return out;
}

test('records: malformed records are rejected with reason "records"', () => {
  const good = buildBatch({ records: [{ key: 'k', value: 'v', timestamp: 0 }] });
  const rec = good.subarray(61); // length=7? attributes, tsDelta, offDelta, key, value, headers
  assert.equal(readBatchRecords(rawBatch(rec, 1)).records.length, 1);
  throwsBatch(() => readBatchRecords(rawBatch(rec, 2)), 'records', /declares 2 records/);
  throwsBatch(() => readBatchRecords(rawBatch(Buffer.concat([rec, rec]), 1)), 'records', /remain after/);
  throwsBatch(() => readBatchRecords(rawBatch(rec, -1)), 'records');
  // Record length one more than its fields: the fields end early.
  const longer = Buffer.concat([rec, Buffer.from([0])]);
  longer[0] = rec[0]! + 2; // zig-zag: +1
  throwsBatch(() => readBatchRecords(rawBatch(longer, 1)), 'records', /declares/);
  // Record length beyond the payload.
  const overrun = Buffer.from(rec);
  overrun[0] = 100;
  throwsBatch(() => readBatchRecords(rawBatch(overrun, 1)), 'records');
  // Key length -2 (zig-zag 3).
  const negKey = Buffer.from([0x0c, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
  negKey[0] = (negKey.length - 1) * 2;
  throwsBatch(() => readBatchRecords(rawBatch(negKey, 1)), 'records', /negative length/);
  // A header with a null key: length 8: attrs, ts 0, off 0, key null(1), value null(1), 1 header, key null(1), value null(1).
  const nullHeaderKey = Buffer.from([16, 0, 0, 0, 1, 1, 2, 1, 1]);
  throwsBatch(() => readBatchRecords(rawBatch(nullHeaderKey, 1)), 'records', /null key/);
  // An unterminated varint.
  throwsBatch(() => readBatchRecords(rawBatch(Buffer.from([0x80, 0x80]), 1)), 'records', /varint/);
  // The buffer must hold exactly one batch.
  throwsBatch(() => readBatchRecords(Buffer.concat([good, Buffer.alloc(3)])), 'batch-length');
  // An unassigned codec id.
  const codec7 = Buffer.from(good);
  codec7.writeInt16BE(7, 21);
  writeCrc(codec7, 0, codec7.length);
  throwsBatch(() => readBatchRecords(codec7), 'compression', /codec id 7/);
});

test('records: readBatches decodes every batch and can stop at a partial tail', () => {
  const a = buildBatch({ baseOffset: 0, records: [{ value: 'a', timestamp: 1 }] });
  const b = buildBatch({ baseOffset: 1, compression: 'zstd', records: [{ value: 'b', timestamp: 2 }] });
  const all = Buffer.concat([a, b]);
  assert.deepEqual([...readBatches(all)].map((d) => d.records[0]!.offset), [0, 1]);
  assert.deepEqual([...readBatches(all.subarray(0, all.length - 3), { partialTail: 'stop' })].length, 1);
  throwsBatch(() => [...readBatches(all.subarray(0, all.length - 3))], 'truncated');
});

// ---- codecs ------------------------------------------------------------------------------------------

test('compression: every codec round-trips empty, tiny, incompressible and large payloads', () => {
  const payloads = [Buffer.alloc(0), Buffer.from('x'), randomBytes(100_000), Buffer.alloc(300_000, 'abcdefgh')];
  for (const codec of CODECS) {
    for (const p of payloads) {
      const c = compress(codec, p);
      assert.ok(decompress(codec, c).equals(p), `${codec} ${p.length} bytes`);
    }
  }
});

test('compression: the decompressed size is bounded for every codec', () => {
  const p = Buffer.alloc(200_000, 'a');
  for (const codec of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
    const c = compress(codec, p);
    assert.ok(decompress(codec, c, { decompressedBytesMax: 200_000 }).equals(p));
    throwsBatch(() => decompress(codec, c, { decompressedBytesMax: 100_000 }), 'compression');
  }
});

test('compression: corrupt payloads are RecordBatchErrors', () => {
  for (const codec of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
    const c = compress(codec, Buffer.alloc(5000, 'hello world '));
    throwsBatch(() => decompress(codec, c.subarray(0, c.length - 3)), 'compression');
    throwsBatch(() => decompress(codec, Buffer.from('not compressed at all')), 'compression');
  }
});

test('snappy: we write snappy-java’s xerial framing in 32 KiB chunks and read it and raw snappy', () => {
  const data = Buffer.concat([Buffer.alloc(40_000, 'abc'), randomBytes(40_000)]);
  const c = compress('snappy', data);
  assert.equal(c.toString('hex', 0, 16), '82534e41505059000000000100000001');
  // Three chunks: 32768 + 32768 + 14464 input bytes.
  let at = 16;
  let chunks = 0;
  while (at < c.length) {
    at += 4 + c.readInt32BE(at);
    chunks++;
  }
  assert.equal(at, c.length);
  assert.equal(chunks, 3);
  // librdkafka's producer writes one raw snappy block.
  assert.ok(decompress('snappy', snappy.compressSync(data)).equals(data));
  // snappy-java's reader accepts concatenated streams, each with its header.
  assert.ok(decompress('snappy', Buffer.concat([c, c])).equals(Buffer.concat([data, data])));
});

test('xxhash32: reference values', () => {
  assert.equal(xxhash32(Buffer.alloc(0)), 0x02cc5d05);
  assert.equal(xxhash32(Buffer.from('a')), 0x550d7456);
  assert.equal(xxhash32(Buffer.from('abc')), 0x32d153ff);
  assert.equal(xxhash32(Buffer.from('Nobody inspects the spammish repetition')), 0xe2293b2f);
  assert.equal(xxhash32(Buffer.from('123456789'), 0, 9, 0x9e3779b1) >>> 0, xxhash32(Buffer.from('x123456789'), 1, 10, 0x9e3779b1));
});

test('lz4: we write the frame Kafka’s Lz4BlockOutputStream writes', () => {
  const data = Buffer.concat([Buffer.alloc(65536, 'kafka '), randomBytes(65536), Buffer.alloc(5000, 'kafka ')]);
  const c = compress('lz4', data);
  // Magic, FLG 0x60 (version 1, independent blocks), BD 0x40 (64 KiB), header checksum 0x82.
  assert.equal(c.toString('hex', 0, 7), '04224d18604082');
  // Blocks: 64 KiB compressed, then 64 KiB of mostly random data stored raw, then the rest; end mark.
  const blocks: [number, boolean][] = [];
  let at = 7;
  for (;;) {
    const w = c.readUInt32LE(at);
    at += 4;
    if (w === 0) break;
    const len = w & 0x7fffffff;
    blocks.push([len, (w & 0x80000000) !== 0]);
    at += len;
  }
  assert.equal(at, c.length, 'nothing after the end mark (no content checksum)');
  assert.equal(blocks.length, 3);
  assert.equal(blocks[0]![1], false);
  assert.ok(blocks[0]![0] < 65536);
  assert.deepEqual(blocks[1], [65536, true], 'an incompressible block is stored raw with the high bit');
  assert.ok(decompress('lz4', c).equals(data));
});

/** Builds an LZ4 frame by hand from raw blocks (what other encoders may write). */
function frame(flg: number, bd: number, blocks: { data: Buffer; raw?: Buffer }[], opts: { contentSize?: number; content?: Buffer } = {}): Buffer {
  const head = [Buffer.from([0x04, 0x22, 0x4d, 0x18, flg, bd])];
  if (flg & 0x08) {
    const cs = Buffer.alloc(8);
    cs.writeUInt32LE(opts.contentSize! >>> 0, 0);
    head.push(cs);
  }
  const desc = Buffer.concat(head);
  const parts: Buffer[] = [desc, Buffer.from([(xxhash32(desc, 4, desc.length) >>> 8) & 0xff])];
  for (const b of blocks) {
    const size = Buffer.alloc(4);
    const body = b.raw ?? b.data;
    size.writeUInt32LE((b.raw ? body.length | 0x80000000 : body.length) >>> 0, 0);
    parts.push(size, body);
    if (flg & 0x10) {
      const h = Buffer.alloc(4);
      h.writeUInt32LE(xxhash32(body), 0);
      parts.push(h);
    }
  }
  parts.push(Buffer.alloc(4));
  if (flg & 0x04) {
    const h = Buffer.alloc(4);
    h.writeUInt32LE(xxhash32(opts.content!), 0);
    parts.push(h);
  }
  return Buffer.concat(parts);
}

const rawBlock = (d: Buffer, dict?: Buffer): Buffer => (dict ? lz4.compressSync(d, dict) : lz4.compressSync(d)).subarray(4);

test('lz4: we read frames with block and content checksums, content size, linked blocks and several frames', () => {
  const a = Buffer.alloc(30_000, 'first block ');
  const b = Buffer.concat([a.subarray(0, 20_000), Buffer.from('tail')]);
  const content = Buffer.concat([a, b]);
  // FLG 0x7c: independent, block checksums, content size, content checksum.
  const full = frame(0x7c, 0x40, [{ data: rawBlock(a) }, { data: rawBlock(b) }], { contentSize: content.length, content });
  assert.ok(lz4FrameDecompress(full).equals(content));
  // FLG 0x44: linked blocks (the second refers back into the first), with content checksum.
  const linked = frame(0x44, 0x70, [{ data: rawBlock(a) }, { data: rawBlock(b, a) }], { content });
  assert.ok(rawBlock(b, a).length < rawBlock(b).length, 'the linked block really uses the dictionary');
  assert.ok(lz4FrameDecompress(linked).equals(content));
  // Raw (stored) blocks, and what another encoder (lz4_flex's frame writer) produces.
  assert.ok(lz4FrameDecompress(frame(0x60, 0x40, [{ data: a, raw: a }])).equals(a));
  assert.ok(lz4FrameDecompress(lz4.compressFrameSync(content, { contentChecksum: true, blockChecksums: true })).equals(content));
  // Concatenated frames and a skippable frame between them.
  const skippable = Buffer.from([0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
  const one = compress('lz4', a);
  assert.ok(lz4FrameDecompress(Buffer.concat([one, skippable, one])).equals(Buffer.concat([a, a])));
});

test('lz4: corrupt frames are rejected', () => {
  const a = Buffer.alloc(10_000, 'abc');
  const content = a;
  const good = frame(0x74, 0x40, [{ data: rawBlock(a) }], { content });
  assert.ok(lz4FrameDecompress(good).equals(a));
  const badHc = Buffer.from(good);
  badHc[6]! ^= 1;
  throwsBatch(() => lz4FrameDecompress(badHc), 'compression', /descriptor checksum/);
  const badBlock = Buffer.from(good);
  badBlock[12]! ^= 1;
  throwsBatch(() => lz4FrameDecompress(badBlock), 'compression', /block checksum/);
  const badContent = Buffer.from(good);
  badContent[badContent.length - 1]! ^= 1;
  throwsBatch(() => lz4FrameDecompress(badContent), 'compression', /content checksum/);
  throwsBatch(() => lz4FrameDecompress(frame(0x80 | 0x20, 0x40, [])), 'compression', /version/);
  throwsBatch(() => lz4FrameDecompress(frame(0x61, 0x40, [])), 'compression', /dictionary/);
  throwsBatch(() => lz4FrameDecompress(frame(0x60, 0x30, [])), 'compression', /block size id/);
  throwsBatch(() => lz4FrameDecompress(frame(0x68, 0x40, [{ data: rawBlock(a) }], { contentSize: 5 })), 'compression', /declares 5/);
  // A block larger than the frame's maximum.
  const big = randomBytes(70_000);
  throwsBatch(() => lz4FrameDecompress(frame(0x60, 0x40, [{ data: big, raw: big }])), 'compression', /exceeds/);
  throwsBatch(() => lz4FrameDecompress(Buffer.concat([compress('lz4', a), Buffer.from('garbage')])), 'compression', /magic/);
});

test('gzip and zstd: concatenated members and frames decode as one stream', () => {
  const a = Buffer.from('first ');
  const b = Buffer.from('second');
  assert.equal(decompress('gzip', Buffer.concat([zlib.gzipSync(a), zlib.gzipSync(b)])).toString(), 'first second');
  assert.equal(decompress('zstd', Buffer.concat([zlib.zstdCompressSync(a), zlib.zstdCompressSync(b)])).toString(), 'first second');
  // zstd frames of every header shape (content size or not, checksum, several blocks) and a skippable frame.
  const big = Buffer.concat([randomBytes(200_000), Buffer.alloc(300_000, 'z')]);
  const withChecksum = zlib.zstdCompressSync(big, { params: { [zlib.constants.ZSTD_c_checksumFlag]: 1, [zlib.constants.ZSTD_c_contentSizeFlag]: 0 } });
  const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 7, 7]);
  const many = Buffer.concat([withChecksum, skippable, zlib.zstdCompressSync(a), withChecksum]);
  assert.ok(decompress('zstd', many).equals(Buffer.concat([big, a, big])));
  throwsBatch(() => decompress('zstd', many, { decompressedBytesMax: 2 * big.length }), 'compression');
  throwsBatch(() => decompress('zstd', Buffer.concat([withChecksum, Buffer.from('junk')])), 'compression', /magic/);
});

test('keylessRecords finds the same keyless records as a full decode, for every codec, and refuses what the decoder refuses', () => {
  let seed = 7;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (const compression of ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const) {
    for (let round = 0; round < 20; round++) {
      const n = 1 + Math.floor(rand() * 50);
      const records = Array.from({ length: n }, (_, i) => ({
        key: rand() < 0.3 ? null : rand() < 0.1 ? '' : `k${i}`.repeat(1 + Math.floor(rand() * 40)),
        value: rand() < 0.2 ? null : 'v'.repeat(Math.floor(rand() * 300)),
        headers: rand() < 0.3 ? [{ key: 'h', value: Buffer.from('x') }] : [],
      }));
      const batch = buildBatch({ compression, records });
      const decoded = readBatchRecords(batch).records.flatMap((r, i) => (r.key === null ? [i] : []));
      assert.deepEqual(keylessRecords(batch), decoded, `${compression} round ${round}`);
    }
  }
  // A record whose declared length runs past the payload, and a payload with bytes left over.
  const good = buildBatch({ records: [{ key: 'a', value: 'b' }] });
  const overrun = Buffer.from(good);
  overrun[61] = 0x7e; // the first record's length varint (63 after zig-zag): past the payload's end
  assert.throws(() => keylessRecords(overrun), RecordBatchError);
  assert.throws(() => readBatchRecords(overrun, { verifyCrc: false }), RecordBatchError);
});
