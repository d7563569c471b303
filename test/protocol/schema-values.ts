// Builds message values from the generated schema: every field present at a version gets a random
// non-default value, every absent field its default. Used by the round-trip tests and the Java
// cross-check, so that each field of each version is exercised with a value a wrong codec would garble.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

export type Range = [number, number] | null;

export interface SchemaField {
  name: string;
  type: string;
  versions: Range;
  nullable: Range;
  tagged: Range;
  tag: number;
  flexible?: Range;
  ignorable: boolean;
  default?: string;
}

export interface SchemaMessage {
  apiKey: number;
  type: string;
  versions: [number, number];
  flexible: Range;
  latestVersionUnstable: boolean;
  structs: Record<string, { versions: [number, number]; fields: SchemaField[] }>;
}

export const SCHEMA: Record<string, SchemaMessage> = JSON.parse(
  readFileSync(new URL('../../src/protocol/generated/schema.json', import.meta.url), 'utf8'),
);

export function inRange(r: Range | undefined, v: number): boolean {
  return r !== null && r !== undefined && v >= r[0] && v <= r[1];
}

/** A small deterministic PRNG so failures reproduce. */
export class Rng {
  state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  int(lo: number, hi: number): number {
    return lo + (this.next() % (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() / 0x100000000 < p;
  }
}

const STRINGS = ['topic-a', 'ünïcødé-✓', 'x', 'a-much-longer-string-that-goes-on-for-a-while', 'groupe-é'];

function defaultOf(msg: SchemaMessage, f: SchemaField): unknown {
  const d = f.default;
  const t = f.type;
  if (d === 'null') return null;
  if (t.startsWith('[]')) return [];
  if (t.startsWith('struct:')) return defaultStruct(msg, t.slice(7));
  switch (t) {
    case 'bool':
      return d === 'true';
    case 'int64':
      return BigInt(d ?? '0');
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
    case 'float64':
      return Number(d ?? '0');
    case 'uuid':
      return 'AAAAAAAAAAAAAAAAAAAAAA';
    case 'string':
      return d ?? '';
    case 'bytes':
      return Buffer.alloc(0);
    case 'records':
      return f.nullable ? null : Buffer.alloc(0);
  }
  throw new Error(`unknown type ${t}`);
}

function defaultStruct(msg: SchemaMessage, name: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of msg.structs[name]!.fields) out[f.name] = defaultOf(msg, f);
  return out;
}

function randomScalar(t: string, rng: Rng): unknown {
  switch (t) {
    case 'bool':
      return true; // default is false nearly everywhere; fields defaulting to true get false below
    case 'int8':
      return rng.int(1, 127) * (rng.chance(0.5) ? 1 : -1);
    case 'int16':
      return rng.int(1, 32767) * (rng.chance(0.5) ? 1 : -1);
    case 'uint16':
      return rng.int(1, 65535);
    case 'int32':
      return rng.int(1, 2147483647) * (rng.chance(0.5) ? 1 : -1);
    case 'uint32':
      return rng.int(1, 4294967295);
    case 'int64':
      return (BigInt(rng.next()) << 31n) + BigInt(rng.next()) + 1n;
    case 'float64':
      return rng.next() / 7 + 0.5;
    case 'uuid': {
      const b = randomBytes(16);
      b[0] = b[0]! | 1; // never the zero UUID
      return b.toString('base64url');
    }
    case 'string':
      return STRINGS[rng.int(0, STRINGS.length - 1)]! + rng.int(0, 999);
    case 'bytes':
    case 'records':
      return randomBytes(rng.int(1, 40));
  }
  throw new Error(`unknown scalar ${t}`);
}

function randomValue(msg: SchemaMessage, f: SchemaField, t: string, v: number, rng: Rng, depth: number): unknown {
  if (t.startsWith('[]')) {
    const elem = t.slice(2);
    const n = depth > 3 ? 1 : rng.int(1, 3);
    const out = [];
    for (let i = 0; i < n; i++) out.push(randomValue(msg, f, elem, v, rng, depth + 1));
    return out;
  }
  if (t.startsWith('struct:')) return randomStruct(msg, t.slice(7), v, rng, depth + 1);
  let value = randomScalar(t, rng);
  if (t === 'bool' && f.default === 'true') value = false;
  if (value === f.default || String(value) === f.default) value = randomScalar(t, rng);
  return value;
}

export function randomStruct(msg: SchemaMessage, name: string, v: number, rng: Rng, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of msg.structs[name]!.fields) {
    if (!inRange(f.versions, v) || (f.tagged !== null && !inRange(msg.flexible, v))) {
      out[f.name] = defaultOf(msg, f);
    } else if (inRange(f.nullable, v) && rng.chance(0.2)) {
      out[f.name] = null;
    } else {
      out[f.name] = randomValue(msg, f, f.type, v, rng, depth);
    }
  }
  return out;
}

export function randomMessage(name: string, v: number, seed: number): Record<string, unknown> {
  return randomStruct(SCHEMA[name]!, name, v, new Rng(seed * 7919 + v));
}

export function defaultMessage(name: string): Record<string, unknown> {
  return defaultStruct(SCHEMA[name]!, name);
}
