package io.strait.test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Produces and consumes records with Apache Kafka's own Java client (KafkaProducer, and
 * KafkaConsumer in assign mode: no consumer group), for the data-path compatibility tests in
 * test/compat. Every client driven by those tests reads and writes the same JSON shapes (see
 * test/compat/datapath/records.ts), so their results compare directly.
 *
 * <pre>
 * java -cp CLASSES:KAFKA_LIBS/* io.strait.test.DataClient produce --bootstrap B --spec SPEC.jsonl --out OUT.jsonl [--config k=v]...
 * java -cp CLASSES:KAFKA_LIBS/* io.strait.test.DataClient consume --bootstrap B --assign ASSIGN.json --out OUT.jsonl [--timeout-ms N] [--config k=v]...
 * </pre>
 *
 * produce: every SPEC line is one record {topic, partition|null, key|null, value|null (base64),
 * headers [[name, base64|null]], timestamp|null, compression, flush?}. Records go out in file order,
 * one KafkaProducer per compression type; the producer whose turn ends is flushed before the next
 * one sends, and a record with "flush": true is flushed at once (so batches end there, whatever
 * linger.ms says). OUT gets one line per record in SPEC order: {i, partition, offset, timestamp,
 * error}.
 *
 * consume: ASSIGN is [{topic, partition, from, until}]; the consumer reads each partition from
 * `from` up to (not including) `until` and writes one line per record: {topic, partition, offset,
 * key, value, headers, timestamp, timestampType, leaderEpoch}, keys and values encoded as in
 * records.ts (null, base64 up to 64 bytes, else "#LENGTH:SHA256").
 */
public final class DataClient {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int INLINE_BYTES_MAX = 64;

    private DataClient() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 0) usage();
        Map<String, String> options = new HashMap<>();
        Properties config = new Properties();
        for (int i = 1; i < args.length; i += 2) {
            if (i + 1 >= args.length) usage();
            if (args[i].equals("--config")) {
                String kv = args[i + 1];
                int eq = kv.indexOf('=');
                if (eq <= 0) usage();
                config.setProperty(kv.substring(0, eq), kv.substring(eq + 1));
            } else {
                options.put(args[i].replaceFirst("^--", ""), args[i + 1]);
            }
        }
        String bootstrap = required(options, "bootstrap");
        Path out = Path.of(required(options, "out"));
        int code;
        switch (args[0]) {
            case "produce" -> code = produce(bootstrap, Path.of(required(options, "spec")), out, config);
            case "consume" -> code = consume(bootstrap, Path.of(required(options, "assign")), out, config,
                    Long.parseLong(options.getOrDefault("timeout-ms", "30000")));
            default -> {
                usage();
                code = 2;
            }
        }
        System.exit(code);
    }

    private static void usage() {
        System.err.println("usage: DataClient produce --bootstrap B --spec SPEC.jsonl --out OUT.jsonl [--config k=v]...");
        System.err.println("       DataClient consume --bootstrap B --assign ASSIGN.json --out OUT.jsonl [--timeout-ms N] [--config k=v]...");
        System.exit(2);
    }

    private static String required(Map<String, String> options, String name) {
        String value = options.get(name);
        if (value == null) usage();
        return value;
    }

    private static byte[] bytesOrNull(JsonNode node) {
        return node == null || node.isNull() ? null : Base64.getDecoder().decode(node.asText());
    }

    /** The encoding every client prints: null, base64 when short, else "#LENGTH:SHA256HEX". */
    static String encode(byte[] bytes) {
        if (bytes == null) return null;
        if (bytes.length <= INLINE_BYTES_MAX) return Base64.getEncoder().encodeToString(bytes);
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(bytes);
            return "#" + bytes.length + ":" + HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String describe(Exception e) {
        Throwable root = e;
        // The callback gets the exception itself; unwrap only ExecutionException-style wrappers.
        while (root.getCause() != null && root.getClass().getName().endsWith("ExecutionException")) root = root.getCause();
        return root.getClass().getSimpleName() + ": " + root.getMessage();
    }

    private static int produce(String bootstrap, Path specPath, Path outPath, Properties config) throws Exception {
        List<JsonNode> spec = new ArrayList<>();
        for (String line : Files.readAllLines(specPath, StandardCharsets.UTF_8)) {
            if (!line.isBlank()) spec.add(JSON.readTree(line));
        }
        ObjectNode[] results = new ObjectNode[spec.size()];
        CountDownLatch done = new CountDownLatch(spec.size());
        Map<String, KafkaProducer<byte[], byte[]>> producers = new LinkedHashMap<>();
        KafkaProducer<byte[], byte[]> previous = null;
        try {
            for (int i = 0; i < spec.size(); i++) {
                JsonNode r = spec.get(i);
                String compression = r.path("compression").asText("none");
                KafkaProducer<byte[], byte[]> producer = producers.get(compression);
                if (producer == null) {
                    Properties props = new Properties();
                    props.putAll(config);
                    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
                    props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression);
                    props.put(ProducerConfig.CLIENT_ID_CONFIG, "strait-data-" + compression);
                    producer = new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
                    producers.put(compression, producer);
                }
                if (previous != null && previous != producer) previous.flush();
                previous = producer;
                List<Header> headers = new ArrayList<>();
                for (JsonNode h : r.path("headers")) headers.add(new RecordHeader(h.get(0).asText(), bytesOrNull(h.get(1))));
                Integer partition = r.path("partition").isNull() || r.path("partition").isMissingNode() ? null : r.get("partition").asInt();
                Long timestamp = r.path("timestamp").isNull() || r.path("timestamp").isMissingNode() ? null : r.get("timestamp").asLong();
                ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(r.get("topic").asText(), partition, timestamp,
                        bytesOrNull(r.get("key")), bytesOrNull(r.get("value")), headers);
                int index = i;
                try {
                    producer.send(record, (RecordMetadata metadata, Exception error) -> {
                        ObjectNode result = JSON.createObjectNode();
                        result.put("i", index);
                        if (error == null) {
                            result.put("partition", metadata.partition());
                            result.put("offset", metadata.offset());
                            result.put("timestamp", metadata.timestamp());
                            result.putNull("error");
                        } else {
                            result.put("partition", partition == null ? -1 : partition);
                            result.put("offset", -1);
                            result.putNull("timestamp");
                            result.put("error", describe(error));
                        }
                        results[index] = result;
                        done.countDown();
                    });
                } catch (Exception e) {
                    ObjectNode result = JSON.createObjectNode();
                    result.put("i", index).put("partition", partition == null ? -1 : partition).put("offset", -1);
                    result.putNull("timestamp");
                    result.put("error", describe(e));
                    results[index] = result;
                    done.countDown();
                }
                if (r.path("flush").asBoolean(false)) producer.flush();
            }
            for (KafkaProducer<byte[], byte[]> producer : producers.values()) producer.flush();
            if (!done.await(60, TimeUnit.SECONDS)) throw new IllegalStateException("sends did not complete within 60 s");
        } finally {
            for (KafkaProducer<byte[], byte[]> producer : producers.values()) producer.close(Duration.ofSeconds(10));
        }
        int failed = 0;
        try (BufferedWriter out = Files.newBufferedWriter(outPath, StandardCharsets.UTF_8)) {
            for (ObjectNode result : results) {
                if (!result.get("error").isNull()) failed++;
                out.write(JSON.writeValueAsString(result));
                out.write('\n');
            }
        }
        System.out.println("{\"produced\":" + (spec.size() - failed) + ",\"failed\":" + failed + "}");
        return 0;
    }

    private static int consume(String bootstrap, Path assignPath, Path outPath, Properties config, long timeoutMs) throws IOException {
        JsonNode assign = JSON.readTree(assignPath.toFile());
        Map<TopicPartition, long[]> ranges = new LinkedHashMap<>();
        for (JsonNode a : assign) {
            ranges.put(new TopicPartition(a.get("topic").asText(), a.get("partition").asInt()),
                    new long[] {a.get("from").asLong(), a.get("until").asLong()});
        }
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none");
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "strait-data-consumer");
        props.putAll(config);
        long deadline = System.currentTimeMillis() + timeoutMs;
        int count = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer());
             BufferedWriter out = Files.newBufferedWriter(outPath, StandardCharsets.UTF_8)) {
            // Empty ranges are not assigned at all: an assigned partition needs a position.
            Map<TopicPartition, Long> pending = new HashMap<>();
            for (Map.Entry<TopicPartition, long[]> e : ranges.entrySet()) {
                if (e.getValue()[0] < e.getValue()[1]) pending.put(e.getKey(), e.getValue()[1]);
            }
            consumer.assign(pending.keySet());
            for (TopicPartition tp : pending.keySet()) consumer.seek(tp, ranges.get(tp)[0]);
            while (!pending.isEmpty()) {
                if (System.currentTimeMillis() > deadline) {
                    System.err.println("DataClient: timed out; still waiting for " + pending);
                    return 1;
                }
                ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(200));
                for (ConsumerRecord<byte[], byte[]> record : records) {
                    TopicPartition tp = new TopicPartition(record.topic(), record.partition());
                    if (record.offset() >= ranges.get(tp)[1]) continue;
                    ObjectNode line = JSON.createObjectNode();
                    line.put("topic", record.topic());
                    line.put("partition", record.partition());
                    line.put("offset", record.offset());
                    line.put("key", encode(record.key()));
                    line.put("value", encode(record.value()));
                    ArrayNode headers = line.putArray("headers");
                    for (Header h : record.headers()) headers.addArray().add(h.key()).add(encode(h.value()));
                    line.put("timestamp", record.timestamp());
                    line.put("timestampType", record.timestampType().name);
                    if (record.leaderEpoch().isPresent()) line.put("leaderEpoch", record.leaderEpoch().get());
                    else line.putNull("leaderEpoch");
                    out.write(JSON.writeValueAsString(line));
                    out.write('\n');
                    count++;
                }
                for (TopicPartition tp : new ArrayList<>(pending.keySet())) {
                    if (consumer.position(tp) >= pending.get(tp)) {
                        pending.remove(tp);
                        consumer.pause(List.of(tp));
                    }
                }
            }
        }
        System.out.println("{\"consumed\":" + count + "}");
        return 0;
    }
}
