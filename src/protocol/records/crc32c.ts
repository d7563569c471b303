// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of a v2 record batch.
//
// Two implementations with one contract: `@node-rs/crc32` (native, SSE4.2/ARMv8 CRC instructions
// through a prebuilt N-API addon) when it loads and passes a self-test, otherwise a pure TypeScript
// slicing-by-8 table. The broker's produce path checksums every batch it accepts, so the native one
// matters for throughput; the fallback keeps Strait working on platforms without a prebuilt addon.
//
// `initial` continues a running checksum: crc32c(b, crc32c(a)) === crc32c(concat(a, b)), the same
// convention as the native package (the value passed in is a finished CRC, not the raw register).
import { createRequire } from 'node:module';

export type Crc32cFn = (buf: Uint8Array, initial?: number) => number;
export type Crc32cImplementation = 'native' | 'pure';

// ---- pure TypeScript: slicing-by-8 -----------------------------------------------------------------

const POLY = 0x82f63b78;

/** 8 tables of 256 entries: TABLE[k * 256 + b] is the CRC register effect of byte b followed by k zero bytes. */
const TABLE = buildTable();

function buildTable(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[i] = c;
  }
  for (let i = 0; i < 256; i++) {
    for (let k = 1; k < 8; k++) {
      const prev = t[(k - 1) * 256 + i]!;
      t[k * 256 + i] = (prev >>> 8) ^ t[prev & 0xff]!;
    }
  }
  return t;
}

/**
 * CRC-32C of buf[start, end) in pure TypeScript. Allocation-free: it reads the bytes in place, so the
 * hot path can checksum a range of a larger buffer without a view.
 */
export function crc32cPureRange(buf: Uint8Array, start: number, end: number, initial = 0): number {
  const t = TABLE;
  let crc = ~initial;
  let i = start;
  // Eight bytes per step: the register absorbs four, and all eight look up their own table.
  for (const stop = end - 7; i < stop; i += 8) {
    const a = crc ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
    crc =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + buf[i + 4]!]! ^
      t[512 + buf[i + 5]!]! ^
      t[256 + buf[i + 6]!]! ^
      t[buf[i + 7]!]!;
  }
  for (; i < end; i++) crc = t[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

export function crc32cPure(buf: Uint8Array, initial = 0): number {
  return crc32cPureRange(buf, 0, buf.length, initial);
}

// ---- native ----------------------------------------------------------------------------------------

/** CRC-32C of "123456789", the check value every CRC catalogue lists for CRC-32C. */
export const CRC32C_CHECK_VALUE = 0xe3069283;

/**
 * Loads the native implementation through `load` and returns it only if it computes the catalogue
 * check value (also as a continuation), else null. Exported so tests can exercise the fallback.
 */
export function loadNativeCrc32c(load: () => unknown): Crc32cFn | null {
  try {
    const mod = load() as { crc32c?: unknown } | null;
    const fn = mod?.crc32c;
    if (typeof fn !== 'function') return null;
    const native = fn as (input: Uint8Array, initialState?: number) => number;
    const check = Buffer.from('123456789');
    if (native(check) >>> 0 !== CRC32C_CHECK_VALUE) return null;
    if (native(check.subarray(4), native(check.subarray(0, 4))) >>> 0 !== CRC32C_CHECK_VALUE) return null;
    return (buf, initial = 0) => native(buf, initial) >>> 0;
  } catch {
    return null;
  }
}

const require = createRequire(import.meta.url);

/** The native implementation, or null when the addon could not load here. */
export const crc32cNative: Crc32cFn | null = loadNativeCrc32c(() => require('@node-rs/crc32'));

/** Which implementation `crc32c` uses in this process. */
export const crc32cImplementation: Crc32cImplementation = crc32cNative === null ? 'pure' : 'native';

/** Below this many bytes the N-API call costs more than the table loop (bench/crc32c.ts: even at ~150 B). */
const NATIVE_MIN_BYTES = 160;

const native = crc32cNative;

/** CRC-32C of buf, continuing from `initial` (a finished CRC of the bytes before buf). */
export function crc32c(buf: Uint8Array, initial = 0): number {
  if (native !== null && buf.length >= NATIVE_MIN_BYTES) return native(buf, initial);
  return crc32cPureRange(buf, 0, buf.length, initial);
}

/**
 * CRC-32C of buf[start, end). With the native implementation this makes one view object (the addon
 * takes a Uint8Array), never a copy of the bytes.
 */
export function crc32cRange(buf: Uint8Array, start: number, end: number, initial = 0): number {
  if (native !== null && end - start >= NATIVE_MIN_BYTES) return native(buf.subarray(start, end), initial);
  return crc32cPureRange(buf, start, end, initial);
}
