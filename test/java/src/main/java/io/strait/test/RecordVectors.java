package io.strait.test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.ControlRecordType;
import org.apache.kafka.common.record.internal.DefaultRecordBatch;
import org.apache.kafka.common.record.internal.EndTransactionMarker;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MemoryRecordsBuilder;
import org.apache.kafka.common.record.internal.MutableRecordBatch;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.utils.ByteBufferOutputStream;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.StringWriter;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Cross-checks Strait's TypeScript record-batch code against the record classes of the Apache Kafka
 * 4.3.1 Java client (MemoryRecordsBuilder, MemoryRecords, DefaultRecordBatch, EndTransactionMarker).
 *
 * <pre>java -cp CLASSES:KAFKA_LIBS/* io.strait.test.RecordVectors TS_BATCHES.jsonl OUTPUT.jsonl</pre>
 *
 * Writes one JSON line per case to OUTPUT:
 * <ul>
 *   <li>{"kind":"java", name, hex, batches}: batches Java built (every codec, headers, null keys and
 *       values, idempotent, transactional and control batches, LogAppendTime, an empty batch, a
 *       delete horizon, several batches in one buffer), with Java's own reading of them.</li>
 *   <li>{"kind":"ts", name, batches} or {"kind":"ts", name, error}: for every input line
 *       {name, hex} (bytes TypeScript built), what Java reads from them after
 *       {@code batch.ensureValid()} (size and CRC-32C) on every batch.</li>
 * </ul>
 * A batch is described as {baseOffset, lastOffset, partitionLeaderEpoch, magic, crc, compression,
 * timestampType, maxTimestamp, producerId, producerEpoch, baseSequence, transactional, control, count,
 * deleteHorizonMs, sizeInBytes, records: [{offset, timestamp, key, value, headers: [{key, value}],
 * controlType?, coordinatorEpoch?}]}, bytes as hex or null; "bytes" on the case is how many bytes the
 * batches cover (MemoryRecords stops at an incomplete tail).
 */
public final class RecordVectors {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final HexFormat HEX = HexFormat.of();
    private static final long T0 = 1_700_000_000_000L;

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: RecordVectors TS_BATCHES.jsonl OUTPUT.jsonl");
            System.exit(2);
        }
        try (BufferedWriter out = Files.newBufferedWriter(Path.of(args[1]), StandardCharsets.UTF_8)) {
            for (Map.Entry<String, ByteBuffer> c : javaCases().entrySet()) {
                ObjectNode line = NODES.objectNode();
                line.put("kind", "java");
                line.put("name", c.getKey());
                line.put("hex", HEX.formatHex(bytes(c.getValue())));
                describeInto(line, c.getValue());
                out.write(JSON.writeValueAsString(line));
                out.newLine();
            }
            try (BufferedReader in = Files.newBufferedReader(Path.of(args[0]), StandardCharsets.UTF_8)) {
                for (String text = in.readLine(); text != null; text = in.readLine()) {
                    if (text.isBlank()) continue;
                    JsonNode req = JSON.readTree(text);
                    ObjectNode line = NODES.objectNode();
                    line.put("kind", "ts");
                    line.put("name", req.get("name").asText());
                    try {
                        describeInto(line, ByteBuffer.wrap(HEX.parseHex(req.get("hex").asText())));
                    } catch (Throwable t) {
                        line.remove("batches");
                        line.put("error", describe(t));
                    }
                    out.write(JSON.writeValueAsString(line));
                    out.newLine();
                }
            }
        }
    }

    // ---- what Java reads ----------------------------------------------------------------------------

    private static void describeInto(ObjectNode line, ByteBuffer buf) {
        ArrayNode batches = line.putArray("batches");
        int covered = 0;
        for (MutableRecordBatch b : MemoryRecords.readableRecords(buf.duplicate()).batches()) {
            b.ensureValid();
            batches.add(describe(b));
            covered += b.sizeInBytes();
        }
        line.put("bytes", covered);
    }

    private static ObjectNode describe(MutableRecordBatch b) {
        ObjectNode n = NODES.objectNode();
        n.put("baseOffset", b.baseOffset());
        n.put("lastOffset", b.lastOffset());
        n.put("partitionLeaderEpoch", b.partitionLeaderEpoch());
        n.put("magic", b.magic());
        n.put("crc", b.checksum());
        n.put("compression", b.compressionType().name);
        n.put("timestampType", b.timestampType().name);
        n.put("maxTimestamp", b.maxTimestamp());
        n.put("producerId", b.producerId());
        n.put("producerEpoch", b.producerEpoch());
        n.put("baseSequence", b.baseSequence());
        n.put("transactional", b.isTransactional());
        n.put("control", b.isControlBatch());
        n.put("count", b.countOrNull());
        if (b.deleteHorizonMs().isPresent()) n.put("deleteHorizonMs", b.deleteHorizonMs().getAsLong());
        else n.putNull("deleteHorizonMs");
        n.put("sizeInBytes", b.sizeInBytes());
        ArrayNode records = n.putArray("records");
        for (Record r : b) {
            r.ensureValid();
            ObjectNode rec = records.addObject();
            rec.put("offset", r.offset());
            rec.put("timestamp", r.timestamp());
            putBytes(rec, "key", r.key());
            putBytes(rec, "value", r.value());
            ArrayNode headers = rec.putArray("headers");
            for (Header h : r.headers()) {
                ObjectNode hn = headers.addObject();
                hn.put("key", h.key());
                if (h.value() == null) hn.putNull("value");
                else hn.put("value", HEX.formatHex(h.value()));
            }
            if (b.isControlBatch()) {
                ControlRecordType type = ControlRecordType.parse(r.key());
                rec.put("controlType", type.name());
                if (type == ControlRecordType.COMMIT || type == ControlRecordType.ABORT) {
                    rec.put("coordinatorEpoch", EndTransactionMarker.deserialize(r).coordinatorEpoch());
                }
            }
        }
        return n;
    }

    private static void putBytes(ObjectNode n, String field, ByteBuffer b) {
        if (b == null) n.putNull(field);
        else n.put(field, HEX.formatHex(bytes(b)));
    }

    private static byte[] bytes(ByteBuffer b) {
        ByteBuffer d = b.duplicate();
        byte[] out = new byte[d.remaining()];
        d.get(out);
        return out;
    }

    private static String describe(Throwable t) {
        StringWriter w = new StringWriter();
        t.printStackTrace(new PrintWriter(w));
        String s = w.toString();
        return s.length() > 2000 ? s.substring(0, 2000) : s;
    }

    // ---- what Java writes ---------------------------------------------------------------------------

    private static final String[] CODECS = {"none", "gzip", "snappy", "lz4", "zstd"};

    private static Compression compression(String name) {
        switch (name) {
            case "none": return Compression.NONE;
            case "gzip": return Compression.gzip().build();
            case "snappy": return Compression.snappy().build();
            case "lz4": return Compression.lz4().build();
            case "zstd": return Compression.zstd().build();
            default: throw new IllegalArgumentException(name);
        }
    }

    /** One record to append: timestamp, key, value, headers (the TypeScript test holds the same list). */
    private static final class Rec {
        final long timestamp;
        final byte[] key;
        final byte[] value;
        final Header[] headers;

        Rec(long timestamp, byte[] key, byte[] value, Header... headers) {
            this.timestamp = timestamp;
            this.key = key;
            this.value = value;
            this.headers = headers;
        }
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] random(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    private static List<Rec> sampleRecords() {
        Random rnd = new Random(42);
        byte[] big = new byte[240_000];
        byte[] pattern = utf8("kafka ");
        for (int i = 0; i < 150_000; i++) big[i] = pattern[i % pattern.length];
        byte[] noise = random(rnd, 90_000);
        System.arraycopy(noise, 0, big, 150_000, noise.length);
        List<Rec> recs = new ArrayList<>();
        recs.add(new Rec(T0, utf8("key-0"), utf8("value-0")));
        recs.add(new Rec(T0 + 1, null, utf8("null key")));
        recs.add(new Rec(T0 + 2, utf8("null value"), null));
        recs.add(new Rec(T0 - 1_000_000, null, null));
        recs.add(new Rec(T0 + 3, new byte[0], new byte[0]));
        recs.add(new Rec(T0 + 4, utf8("headers"), utf8("h"),
            new RecordHeader("trace-id", utf8("abc")),
            new RecordHeader("null-value", (byte[]) null),
            new RecordHeader("\u043a\u043b\u044e\u0447-\ud83d\udd11", new byte[] {0, 1, 2, (byte) 255}),
            new RecordHeader("", new byte[0])));
        recs.add(new Rec(T0 + 5, random(rnd, 63), random(rnd, 64)));
        recs.add(new Rec(T0 + 6, random(rnd, 8191), random(rnd, 8192)));
        recs.add(new Rec(T0 + 7, utf8("big"), big));
        return recs;
    }

    private static ByteBuffer build(String codec, TimestampType timestampType, long baseOffset, long logAppendTime,
                                    long producerId, short producerEpoch, int baseSequence, boolean transactional,
                                    int partitionLeaderEpoch, List<Rec> recs) {
        MemoryRecordsBuilder builder = MemoryRecords.builder(ByteBuffer.allocate(1024), RecordBatch.MAGIC_VALUE_V2,
            compression(codec), timestampType, baseOffset, logAppendTime, producerId, producerEpoch, baseSequence,
            transactional, partitionLeaderEpoch);
        long offset = baseOffset;
        for (Rec r : recs) builder.appendWithOffset(offset++, r.timestamp, r.key, r.value, r.headers);
        return builder.build().buffer();
    }

    private static ByteBuffer plain(String codec, List<Rec> recs) {
        return build(codec, TimestampType.CREATE_TIME, 100L, RecordBatch.NO_TIMESTAMP, RecordBatch.NO_PRODUCER_ID,
            RecordBatch.NO_PRODUCER_EPOCH, RecordBatch.NO_SEQUENCE, false, RecordBatch.NO_PARTITION_LEADER_EPOCH, recs);
    }

    private static ByteBuffer concat(ByteBuffer... parts) {
        int n = 0;
        for (ByteBuffer p : parts) n += p.remaining();
        ByteBuffer out = ByteBuffer.allocate(n);
        for (ByteBuffer p : parts) out.put(p.duplicate());
        out.flip();
        return out;
    }

    private static Map<String, ByteBuffer> javaCases() {
        Map<String, ByteBuffer> cases = new LinkedHashMap<>();
        List<Rec> sample = sampleRecords();
        for (String codec : CODECS) cases.put("records-" + codec, plain(codec, sample));

        // Many small records: offset deltas and lengths past one-byte varints, several LZ4 blocks.
        List<Rec> many = new ArrayList<>();
        for (int i = 0; i < 3000; i++) many.add(new Rec(T0 + i * 7L, utf8("k" + i), utf8("value " + i + " " + "x".repeat(i % 50))));
        for (String codec : CODECS) cases.put("many-" + codec, plain(codec, many));

        List<Rec> few = sample.subList(0, 3);
        cases.put("idempotent-lz4", build("lz4", TimestampType.CREATE_TIME, 5000L, RecordBatch.NO_TIMESTAMP,
            123_456_789_012L, (short) 7, 1000, false, 12, few));
        cases.put("transactional-zstd", build("zstd", TimestampType.CREATE_TIME, 6000L, RecordBatch.NO_TIMESTAMP,
            4242L, (short) 3, 0, true, 5, few));
        cases.put("transactional-none", build("none", TimestampType.CREATE_TIME, 6000L, RecordBatch.NO_TIMESTAMP,
            4242L, (short) 3, 0, true, 5, few));
        cases.put("log-append-time-gzip", build("gzip", TimestampType.LOG_APPEND_TIME, 7000L, 1_750_000_000_000L,
            RecordBatch.NO_PRODUCER_ID, RecordBatch.NO_PRODUCER_EPOCH, RecordBatch.NO_SEQUENCE, false, 2, few));
        cases.put("log-append-time-none", build("none", TimestampType.LOG_APPEND_TIME, 7000L, 1_750_000_000_000L,
            RecordBatch.NO_PRODUCER_ID, RecordBatch.NO_PRODUCER_EPOCH, RecordBatch.NO_SEQUENCE, false, 2, few));
        cases.put("commit-marker", MemoryRecords.withEndTransactionMarker(77L, T0 + 99, 3, 4242L, (short) 3,
            new EndTransactionMarker(ControlRecordType.COMMIT, 9)).buffer());
        cases.put("abort-marker", MemoryRecords.withEndTransactionMarker(78L, T0 + 100, 3, 4242L, (short) 3,
            new EndTransactionMarker(ControlRecordType.ABORT, 10)).buffer());

        ByteBuffer empty = ByteBuffer.allocate(DefaultRecordBatch.RECORD_BATCH_OVERHEAD);
        DefaultRecordBatch.writeEmptyHeader(empty, RecordBatch.MAGIC_VALUE_V2, 99L, (short) 1, 5, 200L, 210L, 4,
            TimestampType.CREATE_TIME, T0, false, false);
        empty.flip();
        cases.put("empty-batch", empty);

        // KIP-534: a compacted batch whose baseTimestamp holds the delete horizon.
        MemoryRecordsBuilder horizon = new MemoryRecordsBuilder(new ByteBufferOutputStream(1024), RecordBatch.MAGIC_VALUE_V2,
            Compression.NONE, TimestampType.CREATE_TIME, 300L, RecordBatch.NO_TIMESTAMP, RecordBatch.NO_PRODUCER_ID,
            RecordBatch.NO_PRODUCER_EPOCH, RecordBatch.NO_SEQUENCE, false, false, 1, Integer.MAX_VALUE, T0 + 86_400_000L);
        horizon.appendWithOffset(300L, T0, utf8("tombstone"), null, Record.EMPTY_HEADERS);
        horizon.appendWithOffset(302L, T0 + 5, utf8("live"), utf8("v"), Record.EMPTY_HEADERS);
        cases.put("delete-horizon", horizon.build().buffer());

        cases.put("three-batches", concat(plain("none", few), plain("snappy", few), plain("zstd", few)));
        return cases;
    }

}
