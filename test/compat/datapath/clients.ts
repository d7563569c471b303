// Producer and consumer drivers for every real client the data-path tests use. Each driver takes
// the shapes of records.ts and returns them, so any producer's records can be read back by any
// consumer and compared exactly.
//
//   producers: Java (KafkaProducer), kcat, confluent-kafka, kafka-python, kafkajs, @platformatic/kafka,
//              franz-go
//   consumers: Java (KafkaConsumer.assign), kcat (simple consumer), confluent-kafka (assign),
//              kafka-python (assign), @platformatic/kafka (Consumer.fetch), franz-go
//              (ConsumePartitions). None joins a consumer group (Strait has none yet).
//   kafkajs has no consumer here: its Consumer always joins a group.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { Consumer, Producer } from '@platformatic/kafka';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import { compressSync as snappyCompressSync, uncompressSync as snappyUncompressSync } from 'snappy';

const { CompressionCodecs, CompressionTypes, Kafka, logLevel } = kafkajs;
import { cacheDir, repoRoot, runCommand, runPython, type RunResult } from '../harness.ts';
import { runDataJava } from './java-data.ts';
import {
  codecs,
  encodeBytes,
  readJsonLines,
  writeJsonLines,
  type Assignment,
  type Codec,
  type ConsumedRecord,
  type ConsumerView,
  type ProduceResult,
  type ProducerCaps,
  type SpecRecord,
} from './records.ts';

export const franzDataPath = join(cacheDir, 'bin', 'franz-data');
const pyDataScript = join(repoRoot, 'test', 'compat', 'datapath', 'py_data.py');
const installHint = 'run scripts/install-test-deps.sh';
/** The largest request a producer may send: above a near-1 MiB record, within max.message.bytes. */
const maxRequestBytes = 3 * 1024 * 1024;

export interface ClientContext {
  bootstrap: string;
  /** A folder for this run's spec and result files. */
  workDir: string;
  timeoutMs: number;
}

export interface ProducerDriver {
  client: string;
  caps: ProducerCaps;
  produce(ctx: ClientContext, spec: SpecRecord[]): Promise<ProduceResult[]>;
}

export interface ConsumerDriver extends ConsumerView {
  client: string;
  consume(ctx: ClientContext, assignments: Assignment[]): Promise<ConsumedRecord[]>;
}

function check(result: RunResult, what: string): RunResult {
  if (result.code !== 0) throw new Error(`${what} exited ${result.code}\nstdout:\n${result.stdout.slice(-4000)}\nstderr:\n${result.stderr.slice(-4000)}`);
  return result;
}

let fileCounter = 0;
function files(ctx: ClientContext, client: string, kind: string): { input: string; output: string } {
  const n = ++fileCounter;
  const base = join(ctx.workDir, `${client.replace(/[^a-z0-9]+/gi, '-')}-${kind}-${n}`);
  return { input: `${base}.in`, output: `${base}.out.jsonl` };
}

const allCaps: ProducerCaps = { codecs, timestamps: true, nullHeaderValues: true, defaultPartitioner: true, emptyBytes: true };

// --- Java ------------------------------------------------------------------------------------------

export const javaProducer: ProducerDriver = {
  client: 'java',
  caps: allCaps,
  async produce(ctx, spec) {
    const f = files(ctx, 'java', 'produce');
    writeJsonLines(f.input, spec);
    const config = ['acks=all', 'linger.ms=5', `max.request.size=${maxRequestBytes}`];
    check(
      await runDataJava('io.strait.test.DataClient', ['produce', '--bootstrap', ctx.bootstrap, '--spec', f.input, '--out', f.output, ...config.flatMap((c) => ['--config', c])], {
        timeoutMs: ctx.timeoutMs,
      }),
      'java produce',
    );
    return readJsonLines<ProduceResult>(f.output);
  },
};

export const javaConsumer: ConsumerDriver = {
  client: 'java',
  async consume(ctx, assignments) {
    const f = files(ctx, 'java', 'consume');
    writeJsonLines(f.input, [assignments]);
    check(
      await runDataJava('io.strait.test.DataClient', ['consume', '--bootstrap', ctx.bootstrap, '--assign', f.input, '--out', f.output, '--timeout-ms', String(ctx.timeoutMs - 5000)], {
        timeoutMs: ctx.timeoutMs,
      }),
      'java consume',
    );
    return readJsonLines<ConsumedRecord>(f.output);
  },
};

// --- Python: confluent-kafka and kafka-python --------------------------------------------------------

function pythonProducer(client: 'confluent' | 'kafka-python', caps: ProducerCaps): ProducerDriver {
  return {
    client: client === 'confluent' ? 'confluent-kafka' : 'kafka-python',
    caps,
    async produce(ctx, spec) {
      const f = files(ctx, client, 'produce');
      writeJsonLines(f.input, spec);
      check(await runPython(pyDataScript, [client, 'produce', '--bootstrap', ctx.bootstrap, '--spec', f.input, '--out', f.output], { timeoutMs: ctx.timeoutMs }), `${client} produce`);
      return readJsonLines<ProduceResult>(f.output);
    },
  };
}

function pythonConsumer(client: 'confluent' | 'kafka-python'): ConsumerDriver {
  return {
    client: client === 'confluent' ? 'confluent-kafka' : 'kafka-python',
    async consume(ctx, assignments) {
      const f = files(ctx, client, 'consume');
      writeJsonLines(f.input, [assignments]);
      const args = [client, 'consume', '--bootstrap', ctx.bootstrap, '--assign', f.input, '--out', f.output, '--timeout-ms', String(ctx.timeoutMs - 5000)];
      check(await runPython(pyDataScript, args, { timeoutMs: ctx.timeoutMs }), `${client} consume`);
      return readJsonLines<ConsumedRecord>(f.output);
    },
  };
}

export const confluentProducer = pythonProducer('confluent', allCaps);
export const confluentConsumer = pythonConsumer('confluent');
// kafka-python's send() refuses a record with neither key nor value, and null header values.
export const kafkaPythonProducer = pythonProducer('kafka-python', { ...allCaps, nullKeyAndValue: false, nullHeaderValues: false });
export const kafkaPythonConsumer = pythonConsumer('kafka-python');

// --- franz-go ----------------------------------------------------------------------------------------

function runFranzData(args: string[], timeoutMs: number): Promise<RunResult> {
  if (!existsSync(franzDataPath)) throw new Error(`franz-data is not built (${franzDataPath} is missing): ${installHint}`);
  return runCommand(franzDataPath, [...args, '-timeout', `${Math.max(1000, timeoutMs - 5000)}ms`], { timeoutMs });
}

export const franzProducer: ProducerDriver = {
  client: 'franz-go',
  caps: allCaps,
  async produce(ctx, spec) {
    const f = files(ctx, 'franz', 'produce');
    writeJsonLines(f.input, spec);
    check(await runFranzData(['produce', '-bootstrap', ctx.bootstrap, '-spec', f.input, '-out', f.output], ctx.timeoutMs), 'franz-data produce');
    return readJsonLines<ProduceResult>(f.output);
  },
};

export const franzConsumer: ConsumerDriver = {
  client: 'franz-go',
  async consume(ctx, assignments) {
    const f = files(ctx, 'franz', 'consume');
    writeJsonLines(f.input, [assignments]);
    check(await runFranzData(['consume', '-bootstrap', ctx.bootstrap, '-assign', f.input, '-out', f.output], ctx.timeoutMs), 'franz-data consume');
    return readJsonLines<ConsumedRecord>(f.output);
  },
};

// --- kcat (librdkafka) ---------------------------------------------------------------------------------

/** kcat splits its input on these bytes: 0x1e ends a message, 0x1f ends its key. */
export const kcatDelimiters = [0x1e, 0x1f] as const;

/**
 * kcat can set neither timestamps nor per-message headers (-H applies to every message of a run),
 * cannot send empty keys or values (with -Z they become null), nor pick partitions by key.
 * recordSet() honours these, and the driver starts one kcat per run of records that share a
 * compression, partition and headers, partitions in parallel.
 */
export const kcatCaps: ProducerCaps = { codecs, timestamps: false, nullHeaderValues: false, defaultPartitioner: false, emptyBytes: false, avoidBytes: kcatDelimiters };

export const kcatProducer: ProducerDriver = {
  client: 'kcat',
  caps: kcatCaps,
  async produce(ctx, spec) {
    // Consecutive records with the same compression, partition and headers form one kcat run.
    type Run = { compression: Codec; partition: number; headers: string; indexes: number[] };
    const runs: Run[] = [];
    for (const [i, r] of spec.entries()) {
      if (r.partition === null || r.timestamp !== null) throw new Error('kcat needs an explicit partition and no timestamp');
      const headers = JSON.stringify(r.headers);
      const last = runs[runs.length - 1];
      if (last !== undefined && last.compression === r.compression && last.partition === r.partition && last.headers === headers) last.indexes.push(i);
      else runs.push({ compression: r.compression, partition: r.partition, headers, indexes: [i] });
    }
    const results: ProduceResult[] = new Array(spec.length);
    const nextOffset = new Map<string, number>();
    // Runs of one partition go in order, partitions side by side.
    const byPartition = new Map<string, Run[]>();
    for (const run of runs) {
      const tp = `${spec[run.indexes[0]!]!.topic}/${run.partition}`;
      byPartition.set(tp, [...(byPartition.get(tp) ?? []), run]);
    }
    await Promise.all(
      [...byPartition.entries()].map(async ([tp, partitionRuns]) => {
        for (const run of partitionRuns) {
          const first = spec[run.indexes[0]!]!;
          const parts: Buffer[] = [];
          for (const i of run.indexes) {
            const r = spec[i]!;
            const key = r.key === null ? Buffer.alloc(0) : Buffer.from(r.key, 'base64');
            const value = r.value === null ? Buffer.alloc(0) : Buffer.from(r.value, 'base64');
            for (const bytes of [key, value]) {
              if (kcatDelimiters.some((d) => bytes.includes(d))) throw new Error(`record ${i} holds a kcat delimiter byte`);
            }
            if ((r.key !== null && key.length === 0) || (r.value !== null && value.length === 0)) throw new Error(`record ${i}: kcat -Z sends empty as null`);
            parts.push(key, Buffer.from([0x1f]), value, Buffer.from([0x1e]));
          }
          const headerArgs = first.headers.flatMap(([k, v]) => {
            if (v === null) throw new Error('kcat cannot send null header values');
            return ['-H', `${k}=${Buffer.from(v, 'base64').toString('latin1')}`];
          });
          const args = [
            '-P', '-b', ctx.bootstrap, '-t', first.topic, '-p', String(run.partition), '-K', '\\x1f', '-D', '\\x1e', '-Z',
            '-X', `compression.codec=${run.compression}`, '-X', `message.max.bytes=${maxRequestBytes}`, '-X', 'acks=all', '-m', '20', ...headerArgs,
          ];
          const f = files(ctx, 'kcat', 'produce');
          writeFileSync(f.input, Buffer.concat(parts));
          // kcat -l reads one file split by the delimiters, exactly as it would read stdin.
          check(await runCommand('kcat', [...args, '-l', f.input], { timeoutMs: ctx.timeoutMs }), `kcat produce (${run.compression}, partition ${run.partition})`);
          for (const i of run.indexes) {
            const offset = nextOffset.get(tp) ?? 0;
            nextOffset.set(tp, offset + 1);
            results[i] = { i, partition: run.partition, offset, timestamp: null, error: null };
          }
        }
      }),
    );
    return results;
  },
};

/**
 * Reads a whole topic with kcat's simple consumer (-C without -G: no group), printing per record a
 * text line `partition offset timestamp keyLength valueLength headers` followed by the raw key and
 * value bytes, which this parses by length. kcat prints headers as name=value CSV, a null header
 * value as the text NULL (which no record here uses as a value), so header names and values here
 * avoid ',' and '='.
 */
export const kcatConsumer: ConsumerDriver = {
  client: 'kcat',
  async consume(ctx, assignments) {
    const topics = [...new Set(assignments.filter((a) => a.until > a.from).map((a) => a.topic))];
    const out: ConsumedRecord[] = [];
    await Promise.all(
      topics.map(async (topic) => {
        const f = files(ctx, 'kcat', 'consume');
        const args = ['-C', '-b', ctx.bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-m', '20', '-X', 'fetch.message.max.bytes=1048576', '-f', '%p\\t%o\\t%T\\t%K\\t%S\\t%h\\n%k%s\\n'];
        // Raw bytes on stdout: write them to a file (the harness keeps stdout as text).
        const result = await runCommand('sh', ['-c', 'out=$1; shift; exec kcat "$@" >"$out"', 'kcat', f.output, ...args], { timeoutMs: ctx.timeoutMs });
        check(result, `kcat consume ${topic}`);
        for (const r of parseKcatOutput(readFileSync(f.output), topic)) {
          const a = assignments.find((x) => x.topic === topic && x.partition === r.partition);
          if (a !== undefined && r.offset >= a.from && r.offset < a.until) out.push(r);
        }
      }),
    );
    return out;
  },
};

export function parseKcatOutput(buf: Buffer, topic: string): ConsumedRecord[] {
  const out: ConsumedRecord[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const eol = buf.indexOf(0x0a, pos);
    if (eol < 0) throw new Error(`kcat output ends inside a record header at byte ${pos}`);
    const fields = buf.subarray(pos, eol).toString('latin1').split('\t');
    if (fields.length !== 6) throw new Error(`unexpected kcat record header: ${JSON.stringify(fields)}`);
    const [partition, offset, timestamp, keyLength, valueLength, headers] = fields as [string, string, string, string, string, string];
    pos = eol + 1;
    const take = (length: number): Buffer | null => {
      if (length < 0) return null;
      const bytes = buf.subarray(pos, pos + length);
      pos += length;
      return bytes;
    };
    const key = take(Number(keyLength));
    const value = take(Number(valueLength));
    if (buf[pos] !== 0x0a) throw new Error(`kcat record at offset ${offset} is not followed by a newline`);
    pos += 1;
    out.push({
      topic,
      partition: Number(partition),
      offset: Number(offset),
      key: encodeBytes(key),
      value: encodeBytes(value),
      headers:
        headers === ''
          ? []
          : headers.split(',').map((h) => {
              const eq = h.indexOf('=');
              const value = h.slice(eq + 1);
              return [h.slice(0, eq), value === 'NULL' ? null : encodeBytes(Buffer.from(value, 'latin1'))];
            }),
      timestamp: Number(timestamp),
    });
  }
  return out;
}

// --- kafkajs (producer only) -----------------------------------------------------------------------

// kafkajs ships only gzip; the other codecs are plugged in the documented way (CompressionCodecs),
// with snappy (raw block, which Kafka's decoders accept beside the xerial framing), lz4 (frame
// format, as Kafka's KafkaLZ4BlockOutputStream writes) and zstd from Node.js itself.
let kafkajsCodecsRegistered = false;
function registerKafkajsCodecs(): void {
  if (kafkajsCodecsRegistered) return;
  kafkajsCodecsRegistered = true;
  const codec = (compress: (b: Buffer) => Buffer, decompress: (b: Buffer) => Buffer) => () => ({
    compress: async (encoder: { buffer: Buffer }) => compress(encoder.buffer),
    decompress: async (buffer: Buffer) => decompress(buffer),
  });
  const codecsTable = CompressionCodecs as unknown as Record<number, unknown>;
  codecsTable[CompressionTypes.Snappy] = codec((b) => snappyCompressSync(b), (b) => snappyUncompressSync(b) as Buffer);
  codecsTable[CompressionTypes.LZ4] = codec((b) => compressFrameSync(b), (b) => decompressFrameSync(b));
  codecsTable[CompressionTypes.ZSTD] = codec((b) => zstdCompressSync(b), (b) => zstdDecompressSync(b));
}

const kafkajsCompression: Record<Codec, kafkajs.CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

/** Consecutive records with the same topic and compression, as one send() each. */
function sendGroups(spec: readonly SpecRecord[]): { topic: string; compression: Codec; indexes: number[] }[] {
  const groups: { topic: string; compression: Codec; indexes: number[] }[] = [];
  for (const [i, r] of spec.entries()) {
    const last = groups[groups.length - 1];
    if (last !== undefined && last.topic === r.topic && last.compression === r.compression && !spec[i - 1]!.flush) last.indexes.push(i);
    else groups.push({ topic: r.topic, compression: r.compression, indexes: [i] });
  }
  return groups;
}

/** Per-record offsets from per-partition base offsets: a partition's records are in send order. */
function offsetsFromBases(spec: readonly SpecRecord[], indexes: number[], base: (partition: number) => number): ProduceResult[] {
  const seen = new Map<number, number>();
  return indexes.map((i) => {
    const partition = spec[i]!.partition!;
    const n = seen.get(partition) ?? 0;
    seen.set(partition, n + 1);
    return { i, partition, offset: base(partition) + n, timestamp: spec[i]!.timestamp, error: null };
  });
}

const bytesOrNull = (b64: string | null): Buffer | null => (b64 === null ? null : Buffer.from(b64, 'base64'));

/**
 * kafkajs reports one base offset per partition and send(), so every record names its partition
 * (no default partitioner); its headers are an object, so repeated names go as an array (their
 * order kept), and null header values cannot be expressed.
 */
export const kafkajsProducer: ProducerDriver = {
  client: 'kafkajs',
  caps: { codecs, timestamps: true, nullHeaderValues: false, defaultPartitioner: false, emptyBytes: true },
  async produce(ctx, spec) {
    registerKafkajsCodecs();
    const kafka = new Kafka({ clientId: 'strait-data-kafkajs', brokers: [ctx.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100 } });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const results: ProduceResult[] = [];
    try {
      for (const group of sendGroups(spec)) {
        const messages = group.indexes.map((i) => {
          const r = spec[i]!;
          if (r.partition === null) throw new Error('kafkajs records need a partition here');
          const headers: Record<string, Buffer[]> = {};
          for (const [k, v] of r.headers) {
            if (v === null) throw new Error('kafkajs cannot send null header values');
            (headers[k] ??= []).push(Buffer.from(v, 'base64'));
          }
          return {
            key: bytesOrNull(r.key),
            value: bytesOrNull(r.value),
            headers: Object.fromEntries(Object.entries(headers).map(([k, vs]) => [k, vs.length === 1 ? vs[0]! : vs])),
            partition: r.partition,
            ...(r.timestamp === null ? {} : { timestamp: String(r.timestamp) }),
          };
        });
        const metadata = await producer.send({ topic: group.topic, acks: -1, compression: kafkajsCompression[group.compression], messages, timeout: ctx.timeoutMs });
        const bases = new Map(metadata.map((m) => [m.partition, Number(m.baseOffset)]));
        results.push(...offsetsFromBases(spec, group.indexes, (p) => bases.get(p) ?? Number.NaN));
      }
    } finally {
      await producer.disconnect();
    }
    return results;
  },
};

// --- @platformatic/kafka ------------------------------------------------------------------------------

/**
 * @platformatic/kafka's send() reports one offset per partition, so records name their partition;
 * its headers are a Map (repeated names as distinct Buffer keys, in order); null header values are
 * not accepted.
 */
export const platformaticProducer: ProducerDriver = {
  client: '@platformatic/kafka',
  caps: { codecs, timestamps: true, nullHeaderValues: false, defaultPartitioner: false, emptyBytes: true },
  async produce(ctx, spec) {
    const producer = new Producer({ clientId: 'strait-data-platformatic', bootstrapBrokers: [ctx.bootstrap], retries: 2, retryDelay: 100, timeout: ctx.timeoutMs });
    const results: ProduceResult[] = [];
    try {
      for (const group of sendGroups(spec)) {
        const messages = group.indexes.map((i) => {
          const r = spec[i]!;
          if (r.partition === null) throw new Error('@platformatic/kafka records need a partition here');
          const headers = new Map<Buffer, Buffer>();
          for (const [k, v] of r.headers) {
            if (v === null) throw new Error('@platformatic/kafka cannot send null header values');
            headers.set(Buffer.from(k), Buffer.from(v, 'base64'));
          }
          return {
            topic: r.topic,
            partition: r.partition,
            ...(r.key === null ? {} : { key: Buffer.from(r.key, 'base64') }),
            ...(r.value === null ? {} : { value: Buffer.from(r.value, 'base64') }),
            headers,
            ...(r.timestamp === null ? {} : { timestamp: BigInt(r.timestamp) }),
          };
        });
        const sent = await producer.send({ messages, acks: -1, compression: group.compression });
        const bases = new Map((sent.offsets ?? []).map((o) => [o.partition, Number(o.offset)]));
        results.push(...offsetsFromBases(spec, group.indexes, (p) => bases.get(p) ?? Number.NaN));
      }
    } finally {
      await producer.close();
    }
    return results;
  },
};

/**
 * Reads with Consumer.fetch(), which sends Fetch requests (with a fetch session) to a node without
 * joining a group: the consumer object needs a group id, but nothing here uses the group.
 */
export const platformaticConsumer: ConsumerDriver = {
  client: '@platformatic/kafka',
  async consume(ctx, assignments) {
    const consumer = new Consumer({
      clientId: 'strait-data-platformatic-consumer',
      groupId: 'strait-data-unused-group',
      bootstrapBrokers: [ctx.bootstrap],
      retries: 2,
      retryDelay: 100,
      timeout: ctx.timeoutMs,
    });
    const out: ConsumedRecord[] = [];
    const deadline = Date.now() + ctx.timeoutMs - 2000;
    try {
      const wanted = assignments.filter((a) => a.until > a.from);
      const topics = [...new Set(wanted.map((a) => a.topic))];
      const metadata = await consumer.metadata({ topics, forceUpdate: true });
      for (const topic of topics) {
        const described = metadata.topics.get(topic);
        if (described === undefined) throw new Error(`@platformatic/kafka has no metadata for ${topic}`);
        const position = new Map(wanted.filter((a) => a.topic === topic).map((a) => [a.partition, a.from]));
        const until = new Map(wanted.filter((a) => a.topic === topic).map((a) => [a.partition, a.until]));
        while ([...position].some(([p, o]) => o < until.get(p)!)) {
          if (Date.now() > deadline) throw new Error(`@platformatic/kafka timed out reading ${topic}: ${JSON.stringify([...position])}`);
          const open = [...position].filter(([p, o]) => o < until.get(p)!);
          const leader = described.partitions[open[0]![0]]!.leader;
          const response = await consumer.fetch({
            node: leader,
            maxWaitTime: 200,
            topics: [
              {
                topicId: described.id,
                partitions: open.map(([partition, offset]) => ({
                  partition,
                  currentLeaderEpoch: -1,
                  fetchOffset: BigInt(offset),
                  lastFetchedEpoch: -1,
                  partitionMaxBytes: 1024 * 1024,
                })),
              },
            ],
          });
          for (const t of response.responses) {
            for (const p of t.partitions) {
              if (p.errorCode !== 0) throw new Error(`@platformatic/kafka fetch of ${topic}[${p.partitionIndex}] failed with error code ${p.errorCode}`);
              for (const batch of p.records ?? []) {
                const logAppendTime = (batch.attributes & 0x08) !== 0;
                for (const record of batch.records) {
                  const offset = Number(batch.firstOffset) + record.offsetDelta;
                  if (offset < position.get(p.partitionIndex)! || offset >= until.get(p.partitionIndex)!) continue;
                  out.push({
                    topic,
                    partition: p.partitionIndex,
                    offset,
                    key: encodeBytes(record.key),
                    value: encodeBytes(record.value),
                    headers: record.headers.map(([k, v]): [string, string | null] => [k === null ? '' : k.toString('utf8'), encodeBytes(v)]),
                    timestamp: Number(logAppendTime ? batch.maxTimestamp : batch.firstTimestamp + record.timestampDelta),
                    timestampType: logAppendTime ? 'LogAppendTime' : 'CreateTime',
                    leaderEpoch: batch.partitionLeaderEpoch,
                  });
                  position.set(p.partitionIndex, offset + 1);
                }
              }
            }
          }
        }
      }
    } finally {
      await consumer.close();
    }
    return out;
  },
};

export const producers: ProducerDriver[] = [javaProducer, kcatProducer, confluentProducer, kafkaPythonProducer, kafkajsProducer, platformaticProducer, franzProducer];
export const consumers: ConsumerDriver[] = [javaConsumer, kcatConsumer, confluentConsumer, kafkaPythonConsumer, platformaticConsumer, franzConsumer];
