// Wire primitives shared by every generated codec: a bounds-checked reader over one Buffer, a
// writer into one pre-sized Buffer, and the size cache that carries UTF-8 lengths and tagged-field
// sizes from the size pass to the write pass (both passes walk a message in the same order).

/** A field Kafka tags with a number we do not know; kept so that re-encoding is lossless. */
export interface RawTaggedField {
  tag: number;
  data: Buffer;
}

/** What a writer accepts: any field may be left out and then takes its schema default. */
export type Input<T> = T extends Buffer
  ? T
  : T extends readonly (infer U)[]
    ? Input<U>[]
    : T extends object
      ? { [K in keyof T]?: K extends '_unknownTaggedFields' ? T[K] : Input<T[K]> }
      : T;

/** Raised for bytes that do not form a valid message; the connection that sent them is closed. */
export class ProtocolDecodeError extends Error {
  override name = 'ProtocolDecodeError';
}

/** Raised when a value cannot be written at the requested version (Kafka's UnsupportedVersionException). */
export class ProtocolEncodeError extends Error {
  override name = 'ProtocolEncodeError';
}

export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';
const EMPTY = Buffer.alloc(0);

export class Reader {
  buf: Buffer;
  pos: number;
  end: number;

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): number {
    const p = this.pos;
    if (n < 0 || p + n > this.end) {
      throw new ProtocolDecodeError(`need ${n} bytes at offset ${p}, have ${this.end - p}`);
    }
    this.pos = p + n;
    return p;
  }

  bool(): boolean {
    return this.buf[this.need(1)] !== 0;
  }
  int8(): number {
    return this.buf.readInt8(this.need(1));
  }
  int16(): number {
    return this.buf.readInt16BE(this.need(2));
  }
  uint16(): number {
    return this.buf.readUInt16BE(this.need(2));
  }
  int32(): number {
    return this.buf.readInt32BE(this.need(4));
  }
  uint32(): number {
    return this.buf.readUInt32BE(this.need(4));
  }
  int64(): bigint {
    return this.buf.readBigInt64BE(this.need(8));
  }
  float64(): number {
    return this.buf.readDoubleBE(this.need(8));
  }
  uuid(): string {
    const p = this.need(16);
    return this.buf.toString('base64url', p, p + 16);
  }

  uvarint(): number {
    let value = 0;
    let shift = 0;
    for (;;) {
      const b = this.buf[this.need(1)]!;
      if (shift === 28 && b > 0x0f) throw new ProtocolDecodeError('unsigned varint longer than 32 bits');
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
      shift += 7;
    }
  }

  varint(): number {
    const raw = this.uvarint();
    // Zig-zag decoding without 32-bit overflow surprises.
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }

  /** Length prefix of a string/bytes/array: compact (uvarint N+1) or classic (int16/int32), -1 for null. */
  private length(flexible: boolean, wide: boolean): number {
    if (flexible) return this.uvarint() - 1;
    return wide ? this.int32() : this.int16();
  }

  string(flexible: boolean, nullable: boolean): string | null {
    const n = this.length(flexible, false);
    if (n < 0) {
      if (n !== -1 || !nullable) throw new ProtocolDecodeError(`invalid string length ${n}`);
      return null;
    }
    const p = this.need(n);
    return this.buf.toString('utf8', p, p + n);
  }

  /** A zero-copy view into the message buffer. */
  bytes(flexible: boolean, nullable: boolean): Buffer | null {
    const n = this.length(flexible, true);
    if (n < 0) {
      if (n !== -1 || !nullable) throw new ProtocolDecodeError(`invalid bytes length ${n}`);
      return null;
    }
    const p = this.need(n);
    return this.buf.subarray(p, p + n);
  }

  /** Array element count; -1 means null. Counts larger than the bytes left cannot be honest. */
  arrayLength(flexible: boolean, nullable: boolean): number {
    const n = this.length(flexible, true);
    if (n < 0) {
      if (n !== -1 || !nullable) throw new ProtocolDecodeError(`invalid array length ${n}`);
      return -1;
    }
    if (n > this.end - this.pos) throw new ProtocolDecodeError(`array length ${n} exceeds remaining ${this.end - this.pos} bytes`);
    return n;
  }

  /** Nullable struct marker: -1 null, 1 present. */
  structPresent(): boolean {
    const b = this.int8();
    if (b === -1) return false;
    if (b === 1) return true;
    throw new ProtocolDecodeError(`invalid struct presence marker ${b}`);
  }

  view(n: number): Buffer {
    const p = this.need(n);
    return this.buf.subarray(p, p + n);
  }

  skipTo(pos: number): void {
    if (pos < this.pos || pos > this.end) throw new ProtocolDecodeError(`tagged field overran its size at ${this.pos}`);
    this.pos = pos;
  }
}

/** Carries computed lengths from the size pass to the write pass, in visiting order. */
export class SizeCache {
  values: number[] = [];
  index = 0;
  /** When set, records fields of at least this many bytes are not copied into the output buffer
   *  but handed over as separate buffers (see Writer.parts); their bytes are counted here. */
  spliceBytesMin = Infinity;
  splicedBytes = 0;

  push(n: number): number {
    this.values.push(n);
    return n;
  }
  reserve(): number {
    this.values.push(0);
    return this.values.length - 1;
  }
  set(slot: number, n: number): void {
    this.values[slot] = n;
  }
  next(): number {
    return this.values[this.index++]!;
  }
}

export function uvarintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

export function varintSize(n: number): number {
  return uvarintSize(n >= 0 ? n * 2 : -n * 2 - 1);
}

function lengthPrefixSize(n: number, flexible: boolean, wide: boolean): number {
  if (flexible) return uvarintSize(n + 1);
  return wide ? 4 : 2;
}

export function stringSize(s: string | null, flexible: boolean, c: SizeCache): number {
  if (s === null) return lengthPrefixSize(-1, flexible, false);
  const n = c.push(Buffer.byteLength(s, 'utf8'));
  return lengthPrefixSize(n, flexible, false) + n;
}

export function bytesSize(b: Uint8Array | null, flexible: boolean): number {
  if (b === null) return lengthPrefixSize(-1, flexible, true);
  return lengthPrefixSize(b.length, flexible, true) + b.length;
}

export function recordsSize(b: Uint8Array | null, flexible: boolean, c: SizeCache): number {
  const n = bytesSize(b, flexible);
  if (b !== null && b.length >= c.spliceBytesMin) c.splicedBytes += b.length;
  return n;
}

export function arrayLengthSize(n: number, flexible: boolean): number {
  return lengthPrefixSize(n, flexible, true);
}

export class Writer {
  buf: Buffer;
  pos: number;
  /** With splicing on, the finished output: slices of buf interleaved with spliced records buffers. */
  parts: Buffer[] | null = null;
  private partStart = 0;

  constructor(buf: Buffer, pos = 0) {
    this.buf = buf;
    this.pos = pos;
  }

  /** Hands large records fields to the output as they are (written with writev), not copied. */
  enableSplicing(): void {
    this.parts = [];
    this.partStart = this.pos;
  }

  /** The output as a list of buffers; call after the last write. */
  finish(): Buffer[] {
    if (!this.parts) return [this.buf.subarray(0, this.pos)];
    if (this.pos > this.partStart) this.parts.push(this.buf.subarray(this.partStart, this.pos));
    this.partStart = this.pos;
    return this.parts;
  }

  bool(v: boolean): void {
    this.buf[this.pos++] = v ? 1 : 0;
  }
  int8(v: number): void {
    this.pos = this.buf.writeInt8(v, this.pos);
  }
  int16(v: number): void {
    this.pos = this.buf.writeInt16BE(v, this.pos);
  }
  uint16(v: number): void {
    this.pos = this.buf.writeUInt16BE(v, this.pos);
  }
  int32(v: number): void {
    this.pos = this.buf.writeInt32BE(v, this.pos);
  }
  uint32(v: number): void {
    this.pos = this.buf.writeUInt32BE(v, this.pos);
  }
  int64(v: bigint): void {
    this.pos = this.buf.writeBigInt64BE(v, this.pos);
  }
  float64(v: number): void {
    this.pos = this.buf.writeDoubleBE(v, this.pos);
  }
  uuid(v: string): void {
    const written = this.buf.write(v, this.pos, 16, 'base64url');
    if (written !== 16 || v.length !== 22) throw new ProtocolEncodeError(`invalid uuid ${JSON.stringify(v)}`);
    this.pos += 16;
  }

  uvarint(n: number): void {
    while (n >= 0x80) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
  }

  varint(n: number): void {
    this.uvarint(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  private length(n: number, flexible: boolean, wide: boolean): void {
    if (flexible) this.uvarint(n + 1);
    else if (wide) this.int32(n);
    else this.int16(n);
  }

  string(s: string | null, flexible: boolean, c: SizeCache): void {
    if (s === null) return this.length(-1, flexible, false);
    const n = c.next();
    this.length(n, flexible, false);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
  }

  bytes(b: Uint8Array | null, flexible: boolean): void {
    if (b === null) return this.length(-1, flexible, true);
    this.length(b.length, flexible, true);
    this.raw(b);
  }

  records(b: Buffer | null, flexible: boolean, c: SizeCache): void {
    if (b === null || b.length < c.spliceBytesMin) return this.bytes(b, flexible);
    this.length(b.length, flexible, true);
    if (this.pos > this.partStart) this.parts!.push(this.buf.subarray(this.partStart, this.pos));
    this.parts!.push(b);
    this.partStart = this.pos;
  }

  arrayLength(n: number, flexible: boolean): void {
    this.length(n, flexible, true);
  }

  raw(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

/** Writes unknown tagged fields whose tag is below `limit`, in order; returns the next index. */
export function writeRawTagsBelow(w: Writer, raw: RawTaggedField[], from: number, limit: number): number {
  let i = from;
  while (i < raw.length && raw[i]!.tag < limit) {
    const f = raw[i]!;
    w.uvarint(f.tag);
    w.uvarint(f.data.length);
    w.raw(f.data);
    i++;
  }
  return i;
}

export function rawTagsSize(raw: RawTaggedField[]): number {
  let n = 0;
  for (const f of raw) n += uvarintSize(f.tag) + uvarintSize(f.data.length) + f.data.length;
  return n;
}

export function sortedRawTags(raw: RawTaggedField[] | undefined): RawTaggedField[] {
  if (raw === undefined || raw.length === 0) return NO_RAW_TAGS;
  return raw.length === 1 ? raw : [...raw].sort((a, b) => a.tag - b.tag);
}
export const NO_RAW_TAGS: RawTaggedField[] = [];

export function readArray<T>(r: Reader, flexible: boolean, nullable: boolean, elem: () => T): T[] | null {
  const n = r.arrayLength(flexible, nullable);
  if (n < 0) return null;
  const a: T[] = new Array(n);
  for (let i = 0; i < n; i++) a[i] = elem();
  return a;
}

export function emptyBuffer(): Buffer {
  return EMPTY;
}

export function unsupportedVersion(name: string, version: number): never {
  throw new ProtocolEncodeError(`${name} does not support version ${version}`);
}

export function nonDefaultAtVersion(field: string, version: number): never {
  throw new ProtocolEncodeError(`non-default ${field} cannot be written at version ${version}`);
}

export function nullNotAllowed(field: string, version: number): never {
  throw new ProtocolEncodeError(`${field} cannot be null at version ${version}`);
}

/** Encodes a whole message: size pass, one allocation, write pass. */
export function encode<T>(
  size: (m: T, v: number, c: SizeCache) => number,
  write: (w: Writer, m: T, v: number, c: SizeCache) => void,
  m: T,
  version: number,
): Buffer {
  const c = new SizeCache();
  const n = size(m, version, c);
  const buf = Buffer.allocUnsafe(n);
  const w = new Writer(buf);
  write(w, m, version, c);
  if (w.pos !== n) throw new Error(`codec size mismatch: computed ${n}, wrote ${w.pos}`);
  return buf;
}
