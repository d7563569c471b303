// Cross-implementation vectors against the Apache Kafka 4.3.1 Java client's own message classes
// (org.apache.kafka.common.message.*Data and *DataJsonConverter), driven through
// test/java/src/main/java/io/strait/test/CodecVectors.java in one JVM:
//
//   TS → Java: for every message and every version valid both in our spec and in Kafka 4.3.1, the
//     TypeScript codec encodes random values (and an all-defaults value); Java must decode those bytes
//     exactly, re-serialize them identically, and build the same bytes from the value rendered as
//     Kafka's JsonConverter JSON; Java's JSON of what it decoded must equal the TypeScript value.
//   Java → TS: Java builds messages with a non-default value in every field (tagged fields too, real
//     record batches in records fields, an unknown tagged field at the top of flexible versions);
//     TypeScript must decode them to the values in Java's JSON and re-encode the same bytes.
//
// Versions where Kafka 4.3.1's message definition lays a message out differently from our spec are
// reported as known differences (KNOWN_LAYOUT_DIFFERENCES below must list exactly those), never
// skipped silently. Needs Java 17+ and the Kafka jars: scripts/install-test-deps.sh installs them.
// The compiled program is kept by java-program.ts in .cache/java-programs/CodecVectors-HASH;
// each run leaves what it sent and got in .cache/codec-vectors/{input,output}.jsonl, and any
// failures in full in .cache/codec-vectors/*-failures.txt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import * as generated from '../../src/protocol/generated/index.ts';
import type { MessageCodec } from '../../src/protocol/codec.ts';
import { ZERO_UUID } from '../../src/protocol/primitives.ts';
import { SCHEMA, inRange, randomMessage } from './schema-values.ts';
import type { Range, SchemaField, SchemaMessage } from './schema-values.ts';
import { compileJavaProgram } from '../compat/java-program.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const LIBS = join(ROOT, '.cache/kafka/libs');
const WORK = join(ROOT, '.cache/codec-vectors');
const INSTALL_HINT = 'run scripts/install-test-deps.sh (it installs the Kafka 4.3.1 jars into .cache/kafka/libs; Java 17+ must be on PATH)';
const SEEDS = [1, 2, 3];
const JAVA_SEEDS = [1, 2];

const codecs = generated as unknown as Record<string, MessageCodec<any>>;

/**
 * Message versions whose field layout in Kafka 4.3.1 differs from our spec (the 4.0.0-SNAPSHOT
 * definitions). The test computes the differences from the definitions inside the kafka-clients jar
 * and fails unless they are exactly these; their cases still run, and their results are reported
 * instead of failing the test.
 */
const KNOWN_LAYOUT_DIFFERENCES: Record<string, { kind: 'renamed' | 'wire'; why: string }> = {
  // Kafka renamed the API (key 74) to ListConfigResources; v0 is unchanged on the wire.
  'ListClientMetricsResourcesResponse v0': {
    kind: 'renamed',
    why: 'ClientMetricsResources[].Name is ConfigResources[].ResourceName in 4.3.1',
  },
  // An internal share-group state RPC whose v0 changed after our 4.0.0-SNAPSHOT definitions.
  'ReadShareGroupStateSummaryResponse v0': {
    kind: 'wire',
    why: '4.3.1 has an int32 LeaderEpoch between StateEpoch and StartOffset in Results[].Partitions[]',
  },
  // Pre-vote (KIP-996) renamed the candidate fields; same bytes.
  'VoteRequest v0': { kind: 'renamed', why: 'Candidate{Epoch,Id} are Replica{Epoch,Id} in 4.3.1' },
  'VoteRequest v1': { kind: 'renamed', why: 'Candidate{Epoch,Id,DirectoryId} are Replica{Epoch,Id,DirectoryId} in 4.3.1' },
};

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
  for (const want of ['kafka-clients-4.3.1', 'jackson-databind-', 'jackson-core-']) {
    if (!jars.some((j) => j.startsWith(want) && j.endsWith('.jar'))) throw new Error(`${want}*.jar is missing from .cache/kafka/libs: ${INSTALL_HINT}`);
  }
}

// ---- schema walking -------------------------------------------------------------------------------

type Spec = Pick<SchemaMessage, 'flexible' | 'structs'>;

function present(spec: Spec, f: SchemaField, v: number): boolean {
  return inRange(f.versions, v) && (f.tagged === null || (inRange(spec.flexible, v) && inRange(f.tagged, v)));
}

function structOf(type: string): string | null {
  const t = type.startsWith('[]') ? type.slice(2) : type;
  return t.startsWith('struct:') ? t.slice(7) : null;
}

/** Our struct.field → the JSON name Kafka 4.3.1 gives it, where 4.3.1 renamed a field without changing the wire. */
type Renames = Map<string, string>;

const jsonName = (ren: Renames, struct: string, field: string): string => ren.get(`${struct}.${field}`) ?? field;

/** Renders a TypeScript value as the JSON Kafka's JsonConverter reads (only fields present at v). */
function toKafkaJson(msg: SchemaMessage, struct: string, value: Record<string, unknown>, v: number, ren: Renames): string {
  const parts: string[] = [];
  for (const f of msg.structs[struct]!.fields) {
    if (!present(msg, f, v)) continue;
    parts.push(`${JSON.stringify(jsonName(ren, struct, f.name))}:${fieldJson(msg, f.type, value[f.name], v, ren)}`);
  }
  return `{${parts.join(',')}}`;
}

function fieldJson(msg: SchemaMessage, type: string, x: unknown, v: number, ren: Renames): string {
  if (x === null) return 'null';
  if (type.startsWith('[]')) return `[${(x as unknown[]).map((e) => fieldJson(msg, type.slice(2), e, v, ren)).join(',')}]`;
  if (type.startsWith('struct:')) return toKafkaJson(msg, type.slice(7), x as Record<string, unknown>, v, ren);
  switch (type) {
    case 'int64':
      return (x as bigint).toString(); // JsonConverter wants int64 as a JSON number, all digits kept
    case 'float64': {
      const n = x as number; // JsonConverter rejects a float64 written like an integer
      return Number.isInteger(n) ? `${n}.0` : String(n);
    }
    case 'bytes':
    case 'records':
      return JSON.stringify((x as Buffer).toString('base64'));
    default:
      return JSON.stringify(x); // bool, int8/16/32, uint16/32, string, uuid (Uuid.toString() form)
  }
}

/** JSON.parse keeping integers beyond 2^53 exact (as bigint). */
function parseJson(text: string): any {
  return JSON.parse(text, (_k, val, ctx?: { source?: string }) =>
    typeof val === 'number' && !Number.isSafeInteger(val) && ctx?.source !== undefined && /^-?\d+$/.test(ctx.source)
      ? BigInt(ctx.source)
      : val,
  );
}

function show(x: unknown): string {
  if (Buffer.isBuffer(x)) return `<${x.length} bytes ${x.toString('hex').slice(0, 48)}>`;
  if (typeof x === 'bigint') return `${x}n`;
  const s = JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
  return s === undefined ? String(x) : s.length > 120 ? `${s.slice(0, 120)}…` : s;
}

/** Compares a TypeScript value with the JsonConverter JSON of the same message; appends differences to out. */
function diffStruct(msg: SchemaMessage, struct: string, ts: any, js: any, v: number, ren: Renames, path: string, out: string[]): void {
  if (js === null || typeof js !== 'object' || Array.isArray(js)) {
    out.push(`${path}: Java has ${show(js)}, expected an object`);
    return;
  }
  if (ts === null || typeof ts !== 'object') {
    out.push(`${path}: TS has ${show(ts)}, Java an object`);
    return;
  }
  const known = new Set<string>();
  for (const f of msg.structs[struct]!.fields) {
    if (!present(msg, f, v)) continue;
    const name = jsonName(ren, struct, f.name);
    known.add(name);
    if (!(name in js)) {
      // The JsonConverter leaves out tagged fields that hold their default.
      if (f.tagged === null || !isDefaultValue(msg, f, ts[f.name])) out.push(`${path}.${f.name}: absent from Java's JSON, TS has ${show(ts[f.name])}`);
    } else diffField(msg, f.type, ts[f.name], js[name], v, ren, `${path}.${f.name}`, out);
  }
  for (const k of Object.keys(js)) if (!known.has(k)) out.push(`${path}.${k}: Java has a field our spec does not have at v${v}`);
}

function isDefaultValue(msg: SchemaMessage, f: SchemaField, x: any): boolean {
  const d = f.default;
  if (d === 'null') return x === null;
  if (f.type.startsWith('[]')) return Array.isArray(x) && x.length === 0;
  const inner = structOf(f.type);
  if (inner !== null) {
    return x !== null && typeof x === 'object' && msg.structs[inner]!.fields.every((g) => isDefaultValue(msg, g, x[g.name]));
  }
  switch (f.type) {
    case 'bool':
      return x === (d === 'true');
    case 'int64':
      return x === BigInt(d ?? '0');
    case 'string':
      return x === (d ?? '');
    case 'uuid':
      return x === ZERO_UUID;
    case 'bytes':
    case 'records':
      return Buffer.isBuffer(x) && x.length === 0;
    default:
      return x === Number(d ?? '0');
  }
}

function diffField(msg: SchemaMessage, type: string, ts: any, js: any, v: number, ren: Renames, path: string, out: string[]): void {
  if (ts === null || js === null || ts === undefined) {
    if (!(ts === null && js === null)) out.push(`${path}: TS ${show(ts)}, Java ${show(js)}`);
    return;
  }
  if (type.startsWith('[]')) {
    if (!Array.isArray(js) || !Array.isArray(ts) || js.length !== ts.length) {
      out.push(`${path}: TS ${show(ts)}, Java ${show(js)}`);
      return;
    }
    for (let i = 0; i < js.length; i++) diffField(msg, type.slice(2), ts[i], js[i], v, ren, `${path}[${i}]`, out);
    return;
  }
  if (type.startsWith('struct:')) {
    diffStruct(msg, type.slice(7), ts, js, v, ren, path, out);
    return;
  }
  let same: boolean;
  switch (type) {
    case 'int64':
      same = typeof ts === 'bigint' && (typeof js === 'number' || typeof js === 'bigint') && ts === BigInt(js);
      break;
    case 'bytes':
    case 'records':
      same = Buffer.isBuffer(ts) && typeof js === 'string' && ts.equals(Buffer.from(js, 'base64'));
      break;
    default:
      same = Object.is(ts, js);
  }
  if (!same) out.push(`${path}: TS ${show(ts)}, Java ${show(js)}`);
}

// ---- message layouts: our spec against Kafka 4.3.1's definitions ----------------------------------

const RANGE_MAX = 32767;

function parseRange(s: unknown): Range {
  if (s === undefined || s === null || s === 'none') return null;
  const t = String(s);
  if (t.endsWith('+')) return [Number(t.slice(0, -1)), RANGE_MAX];
  const [a, b] = t.split('-');
  return [Number(a), Number(b ?? a)];
}

const PRIMITIVE = new Set(['bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'string', 'uuid', 'bytes', 'records']);

/** Turns a raw Kafka message definition into the shape of our schema.json. */
function normalizeSpec(raw: any): Spec & { root: string } {
  const structs: SchemaMessage['structs'] = {};
  const common = new Map<string, any[]>();
  for (const c of raw.commonStructs ?? []) common.set(c.name, c.fields);
  const addStruct = (name: string, fields: any[]): void => {
    if (structs[name]) return;
    const entry = { versions: [0, RANGE_MAX] as [number, number], fields: [] as SchemaField[] };
    structs[name] = entry;
    for (const f of fields) {
      const elem = String(f.type).replace(/^\[\]/, '');
      let type = String(f.type);
      if (!PRIMITIVE.has(elem)) {
        addStruct(elem, f.fields ?? common.get(elem)!);
        type = `${type.startsWith('[]') ? '[]' : ''}struct:${elem}`;
      }
      entry.fields.push({
        name: String(f.name).charAt(0).toLowerCase() + String(f.name).slice(1),
        type,
        versions: parseRange(f.versions),
        nullable: parseRange(f.nullableVersions),
        tagged: f.tag === undefined ? null : parseRange(f.taggedVersions),
        tag: f.tag ?? -1,
        ...(f.flexibleVersions === undefined ? {} : { flexible: parseRange(f.flexibleVersions) }),
        ignorable: f.ignorable === true,
        ...(f.default === undefined ? {} : { default: String(f.default) }),
      });
    }
  };
  addStruct(raw.name, raw.fields);
  return { root: raw.name, flexible: parseRange(raw.flexibleVersions), structs };
}

/** What goes on the wire for a struct at version v, one comparable string per field (names optional). */
function layout(spec: Spec, struct: string, v: number, names: boolean): string[] {
  const out: string[] = [];
  for (const f of spec.structs[struct]!.fields) {
    if (!present(spec, f, v)) continue;
    const inner = structOf(f.type);
    const type = inner === null ? f.type : `${f.type.startsWith('[]') ? '[]' : ''}{${layout(spec, inner, v, names).join(', ')}}`;
    let desc = names ? `${f.name}:${type}` : type;
    if (inRange(f.nullable, v)) desc += '?';
    if (f.tagged !== null) desc += ` tag ${f.tag} default ${f.default ?? '(none)'}`;
    if (f.flexible !== undefined) desc += ` flexible ${inRange(f.flexible, v)}`;
    out.push(desc);
  }
  return out;
}

/** Pairs the fields of two wire-identical structs and records those whose names differ. */
function collectRenames(ours: Spec, ourStruct: string, theirs: Spec, theirStruct: string, v: number, out: Renames): void {
  const a = ours.structs[ourStruct]!.fields.filter((f) => present(ours, f, v));
  const b = theirs.structs[theirStruct]!.fields.filter((f) => present(theirs, f, v));
  a.forEach((f, i) => {
    const g = b[i]!;
    if (f.name !== g.name) out.set(`${ourStruct}.${f.name}`, g.name);
    const sa = structOf(f.type);
    const sb = structOf(g.type);
    if (sa !== null && sb !== null) collectRenames(ours, sa, theirs, sb, v, out);
  });
}

function compareLayouts(ours: Spec, ourRoot: string, theirs: Spec & { root: string }, v: number): Difference | null {
  const a = [`flexible ${inRange(ours.flexible, v)}`, ...layout(ours, ourRoot, v, true)];
  const b = [`flexible ${inRange(theirs.flexible, v)}`, ...layout(theirs, theirs.root, v, true)];
  if (a.join('\n') === b.join('\n')) return null;
  const onlyOurs = a.filter((x) => !b.includes(x));
  const only431 = b.filter((x) => !a.includes(x));
  const detail = `ours has [${onlyOurs.join('; ') || 'the same fields in another order'}], Kafka 4.3.1 has [${only431.join('; ') || 'the same fields in another order'}]`;
  const wireSame = [`flexible ${inRange(ours.flexible, v)}`, ...layout(ours, ourRoot, v, false)].join('\n') ===
    [`flexible ${inRange(theirs.flexible, v)}`, ...layout(theirs, theirs.root, v, false)].join('\n');
  const renames: Renames = new Map();
  if (wireSame) collectRenames(ours, ourRoot, theirs, theirs.root, v, renames);
  return { kind: wireSame ? 'renamed' : 'wire', detail, renames };
}

// ---- one JVM for everything ----------------------------------------------------------------------

/** CodecVectors reading standard input: lines go in, answers come out; "sync" lets a caller wait for the answers so far. */
class JavaSession {
  private child: ChildProcessWithoutNullStreams;
  private lines: string[] = [];
  private waiters: (() => void)[] = [];
  private stderr = '';
  private log: string[] = [];
  readonly closed: Promise<number | null>;

  constructor(classes: string) {
    this.child = spawn('java', ['-Xss4m', '-cp', `${classes}:${LIBS}/*`, 'io.strait.test.CodecVectors', '-', '-']);
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.lines.push(line);
      if (line.startsWith('{"op":"sync"')) this.waiters.shift()?.();
    });
    this.child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.closed = new Promise((res) => this.child.on('close', (code) => res(code)));
    this.child.stdin.on('error', () => {}); // a dead JVM shows up as a failed close below
  }

  private send(lines: string[]): void {
    this.log.push(...lines);
    this.child.stdin.write(`${lines.join('\n')}\n`);
  }

  /** Sends lines and returns their answers. */
  async ask(lines: string[]): Promise<any[]> {
    const from = this.lines.length;
    const synced = new Promise<void>((res) => this.waiters.push(res));
    this.send([...lines, '{"op":"sync"}']);
    const died = this.closed.then((code) => {
      throw new Error(`CodecVectors exited with ${code}:\n${this.stderr}`);
    });
    await Promise.race([synced, died]);
    died.catch(() => {});
    return this.lines.slice(from, -1).map(parseJson);
  }

  /** Sends the last lines, waits for the JVM to exit, returns their answers. */
  async finish(lines: string[]): Promise<any[]> {
    const from = this.lines.length;
    this.send(lines);
    this.child.stdin.end();
    const code = await this.closed;
    mkdirSync(WORK, { recursive: true });
    writeFileSync(join(WORK, 'input.jsonl'), `${this.log.join('\n')}\n`);
    writeFileSync(join(WORK, 'output.jsonl'), `${this.lines.join('\n')}\n`);
    if (code !== 0) throw new Error(`CodecVectors exited with ${code}:\n${this.stderr}`);
    return this.lines.slice(from).map(parseJson);
  }

  kill(): void {
    this.child.kill();
  }
}

interface Case {
  id: number;
  name: string;
  version: number;
  seed: number; // 0: the all-defaults value
  value: Record<string, unknown>;
  hex: string;
}

interface Difference {
  kind: 'renamed' | 'wire';
  detail: string;
  renames: Renames; // for 'renamed': our struct.field → Kafka 4.3.1's JSON name
}

interface Run {
  described: Map<string, any>;
  skipped: Map<string, string>; // "Name vN" → why
  differences: Map<string, Difference>; // "Name vN" → how Kafka 4.3.1 differs
  onlyIn431: string[];
  cases: Case[];
  results: Map<number, any>;
  generated: any[];
  javaMs: number;
}

let memo: Promise<Run> | undefined;

function run(): Promise<Run> {
  memo ??= doRun();
  return memo;
}

function apiRef(name: string): { name: string; kind: string; apiKey: number } {
  const m = SCHEMA[name]!;
  return { name, kind: m.type, apiKey: m.apiKey };
}

const key = (name: string, v: number): string => `${name} v${v}`;

async function doRun(): Promise<Run> {
  preflight();
  const classes = await compileJavaProgram('CodecVectors');
  const names = Object.keys(SCHEMA).sort();
  const started = Date.now();
  const java = new JavaSession(classes);
  const timer = setTimeout(() => java.kill(), 120_000);
  try {
    // 1. Which class and versions Kafka 4.3.1 has for each message, and its definition.
    const described = new Map<string, any>();
    for (const d of await java.ask(names.map((name) => JSON.stringify({ op: 'describe', ...apiRef(name) })))) described.set(d.name, d);

    const skipped = new Map<string, string>();
    const differences = new Map<string, Difference>();
    const onlyIn431: string[] = [];
    const lines: string[] = [];
    const cases: Case[] = [];
    for (const name of names) {
      const msg = SCHEMA[name]!;
      const codec = codecs[name]!;
      const d = described.get(name);
      const theirs = d?.status === 'ok' && d.spec !== null ? normalizeSpec(d.spec) : null;
      if (d?.status === 'ok' && d.highest > msg.versions[1]) {
        const from = Math.max(msg.versions[1] + 1, d.lowest);
        onlyIn431.push(`${name} v${from}${d.highest > from ? `-${d.highest}` : ''}`);
      }
      for (let v = msg.versions[0]; v <= msg.versions[1]; v++) {
        if (d?.status === 'removed') {
          skipped.set(key(name, v), d.reason);
          continue;
        }
        if (d?.status === 'ok' && (v < d.lowest || v > d.highest)) {
          skipped.set(key(name, v), `${d.javaClass.split('.').pop()} in Kafka 4.3.1 supports v${d.lowest}-${d.highest}`);
          continue;
        }
        // 2. Layout differences between our spec and Kafka 4.3.1's definition at this version.
        let renames: Renames = new Map();
        if (theirs !== null) {
          const diff = compareLayouts(msg, name, theirs, v);
          if (diff !== null) {
            differences.set(key(name, v), diff);
            renames = diff.renames;
          }
        }
        // 3. TS → Java cases, and Java → TS vectors.
        const values: [number, Record<string, unknown>][] = SEEDS.map((s) => [s, randomMessage(name, v, s)]);
        values.push([0, codec.decode(codec.encode({}, v), v)]);
        for (const [seed, value] of values) {
          const c: Case = { id: cases.length, name, version: v, seed, value, hex: codec.encode(value, v).toString('hex') };
          cases.push(c);
          const json = toKafkaJson(msg, name, value, v, renames);
          lines.push(`{"op":"check","id":${c.id},"name":${JSON.stringify(name)},"kind":"${msg.type}","apiKey":${msg.apiKey},"version":${v},"hex":"${c.hex}","json":${json}}`);
        }
        for (const seed of JAVA_SEEDS) lines.push(JSON.stringify({ op: 'generate', ...apiRef(name), version: v, seed }));
      }
    }
    const results = new Map<number, any>();
    const generatedVectors: any[] = [];
    for (const res of await java.finish(lines)) {
      if (res.op === 'check') results.set(res.id, res);
      else if (res.op === 'generate') generatedVectors.push(res);
    }
    return { described, skipped, differences, onlyIn431, cases, results, generated: generatedVectors, javaMs: Date.now() - started };
  } finally {
    clearTimeout(timer);
    java.kill();
  }
}

/** Fails with the first failures; all of them go to .cache/codec-vectors/FILE-failures.txt. */
function reportFailures(t: { diagnostic(m: string): void }, file: string, failures: string[]): void {
  const path = join(WORK, `${file}-failures.txt`);
  if (failures.length === 0) {
    rmSync(path, { force: true });
    return;
  }
  writeFileSync(path, `${failures.join('\n')}\n`);
  const versions = [...new Set(failures.map((f) => /^(\S+ v\d+)/.exec(f)?.[1] ?? f.slice(0, 40)))];
  t.diagnostic(`failing message versions: ${versions.join(', ')}`);
  assert.fail(`${failures.length} failures in ${versions.length} message versions (all in ${path}); first ones:\n${failures.slice(0, 10).join('\n')}`);
}

// ---- the tests ------------------------------------------------------------------------------------

test('every message of our spec has a Kafka 4.3.1 Java class with a JsonConverter', async (t) => {
  const r = await run();
  const missing: string[] = [];
  const removed: string[] = [];
  for (const name of Object.keys(SCHEMA)) {
    const d = r.described.get(name);
    if (d?.status === 'removed') removed.push(`${name} (${d.reason})`);
    else if (d?.status !== 'ok') missing.push(`${name}: ${d?.error ?? 'no answer'}`);
    else if (d.spec === null) missing.push(`${name}: ${d.javaClass} has no message definition in the jar`);
  }
  const renamed = [...r.described.values()]
    .filter((d) => d.status === 'ok' && d.specName !== d.name)
    .map((d) => `${d.name} is ${d.specName} in Kafka 4.3.1`);
  if (removed.length > 0) t.diagnostic(`messages Kafka 4.3.1 no longer has (all their versions are skipped): ${removed.join(', ')}`);
  if (renamed.length > 0) t.diagnostic(`renamed messages: ${renamed.join('; ')}`);
  if (r.onlyIn431.length > 0) t.diagnostic(`versions only Kafka 4.3.1 has (not in our spec, not checked): ${r.onlyIn431.join(', ')}`);
  assert.deepEqual(missing, []);
});

test('message layouts that differ from Kafka 4.3.1 are exactly the known ones', async (t) => {
  const r = await run();
  for (const [k, d] of r.differences) {
    const why = KNOWN_LAYOUT_DIFFERENCES[k]?.why ?? 'NOT IN KNOWN_LAYOUT_DIFFERENCES';
    t.diagnostic(`known difference ${k} (${d.kind === 'renamed' ? 'fields renamed, same wire format' : 'different wire format'}: ${why}): ${d.detail}`);
  }
  const found = Object.fromEntries([...r.differences].map(([k, d]) => [k, d.kind]));
  const expected = Object.fromEntries(Object.entries(KNOWN_LAYOUT_DIFFERENCES).map(([k, d]) => [k, d.kind]));
  assert.deepEqual(found, expected);
});

/** Cases of a wire-different version are reported, not failed; renamed-only versions must pass like any other. */
const expectMismatch = (r: Run, k: string): boolean => r.differences.get(k)?.kind === 'wire';

function groupSkipped(skipped: Map<string, string>): string[] {
  const byMessage = new Map<string, { versions: number[]; why: string }>();
  for (const [k, why] of skipped) {
    const [name, v] = k.split(' v') as [string, string];
    const e = byMessage.get(name) ?? { versions: [], why };
    e.versions.push(Number(v));
    byMessage.set(name, e);
  }
  return [...byMessage].map(([name, e]) => `${name} v${e.versions.join(',')}: ${e.why}`);
}

test('TypeScript bytes → Kafka 4.3.1 Java: every message, every common version', async (t) => {
  const r = await run();
  const failures: string[] = [];
  const known: string[] = [];
  const unsupported = new Map<string, string>();
  let checked = 0;
  const messages = new Set<string>();
  const versions = new Set<string>();
  for (const c of r.cases) {
    const res = r.results.get(c.id);
    const k = key(c.name, c.version);
    if (res?.status === 'unsupported') {
      unsupported.set(k, res.reason);
      continue;
    }
    const problems: string[] = [];
    if (res === undefined) problems.push('no answer from Java');
    else if (res.status === 'error') problems.push(`Java error: ${res.error}`);
    else {
      problems.push(...res.problems);
      const ren = r.differences.get(k)?.renames ?? new Map();
      if (res.json !== undefined) diffStruct(SCHEMA[c.name]!, c.name, c.value, res.json, c.version, ren, 'value', problems);
    }
    if (problems.length === 0) {
      checked++;
      messages.add(c.name);
      versions.add(k);
      continue;
    }
    const report = `${k} seed ${c.seed}: ${problems.join(' | ')}\n    TS   ${c.hex}\n    Java ${res?.javaHex ?? '(none)'}`;
    (expectMismatch(r, k) ? known : failures).push(report);
  }
  t.diagnostic(`checked ${checked} cases: ${versions.size} versions of ${messages.size} messages (JVM ${r.javaMs} ms)`);
  t.diagnostic(`skipped ${r.skipped.size} message versions of our spec that Kafka 4.3.1 does not support:`);
  for (const line of groupSkipped(r.skipped)) t.diagnostic(`  ${line}`);
  for (const line of known) t.diagnostic(`expected mismatch (known wire difference): ${line}`);
  assert.deepEqual([...unsupported], [], 'Java rejected versions its describe answer said it supports');
  reportFailures(t, 'ts-to-java', failures);
  assert.ok(checked > 1000, `only ${checked} cases checked`);
});

test('Kafka 4.3.1 Java bytes → TypeScript: decoded values match, re-encoding is identical', async (t) => {
  const r = await run();
  const failures: string[] = [];
  const known: string[] = [];
  let checked = 0;
  const versions = new Set<string>();
  for (const g of r.generated) {
    if (g.status !== 'ok') {
      failures.push(`generate ${g.name ?? '?'} v${g.version ?? '?'}: ${g.status} ${g.error ?? g.reason ?? ''}`);
      continue;
    }
    const k = key(g.name, g.version);
    const msg = SCHEMA[g.name]!;
    const codec = codecs[g.name]!;
    const bytes = Buffer.from(g.hex, 'hex');
    const problems: string[] = [];
    try {
      const value = codec.decode(bytes, g.version);
      diffStruct(msg, g.name, value, g.json, g.version, r.differences.get(k)?.renames ?? new Map(), 'value', problems);
      const expectUnknown = g.unknownTaggedFields.map((u: { tag: number; hex: string }) => ({ tag: u.tag, data: Buffer.from(u.hex, 'hex') }));
      const gotUnknown = (value._unknownTaggedFields ?? []).map((u: { tag: number; data: Buffer }) => ({ tag: u.tag, data: Buffer.from(u.data) }));
      if (!isDeepStrictEqual(gotUnknown, expectUnknown)) problems.push(`unknown tagged fields: TS ${show(gotUnknown)}, Java ${show(expectUnknown)}`);
      const again = codec.encode(value, g.version);
      if (!again.equals(bytes)) problems.push(`re-encoded bytes differ:\n    Java ${g.hex}\n    TS   ${again.toString('hex')}`);
    } catch (e) {
      problems.push(`TypeScript cannot decode: ${(e as Error).message}\n    Java ${g.hex}`);
    }
    if (problems.length === 0) {
      checked++;
      versions.add(k);
      continue;
    }
    (expectMismatch(r, k) ? known : failures).push(`${k}: ${problems.join(' | ')}`);
  }
  t.diagnostic(`decoded ${checked} Java-built vectors over ${versions.size} message versions`);
  for (const line of known) t.diagnostic(`expected mismatch (known wire difference): ${line}`);
  reportFailures(t, 'java-to-ts', failures);
  assert.ok(checked > 1000, `only ${checked} vectors checked`);
});
