package io.strait.test;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * Transactional (exactly-once) flows with Apache Kafka's own Java client, for the transaction
 * compatibility tests in test/compat. Every command prints JSON lines on stdout; the last line is a
 * summary object.
 *
 * <pre>
 * TxnClient script --bootstrap B --topic T --partitions N --group G --txn-id ID --rounds R
 * TxnClient read   --bootstrap B --topic T --partitions N [--isolation read_committed|read_uncommitted] [--timeout-ms N]
 * TxnClient offsets --bootstrap B --group G
 * TxnClient copy   --bootstrap B --input I --output O --partitions N --group G --txn-id ID [--batch K] [--timeout-ms N]
 * TxnClient produce --bootstrap B --topic T --partitions N --count C
 * </pre>
 *
 * script: round r writes keys "r{r}-p{p}-{k}" (k = 0..2) to every partition, commits offsets
 * (r + 1) * 10 + p for each partition of T in group G with sendOffsetsToTransaction, and commits
 * even rounds and aborts odd ones (each round flushed first, so aborted records are in the log).
 * Then a zombie: a first producer opens a transaction and writes "zombie-p{p}", a second producer
 * with the same transactional id initialises (aborting it), writes "fresh-p{p}" and commits; the
 * first one's commit must fail with ProducerFencedException.
 *
 * read: KafkaConsumer in assign mode (no group) reads every partition from the beginning up to its
 * end offset (the last stable offset under read_committed): {"p", "o", "k", "v"} per record.
 *
 * offsets: the group's committed offsets through Admin.listConsumerGroupOffsets(requireStable).
 *
 * copy: consume-transform-produce. Reads I (read_committed, assign mode, from the group's committed
 * offsets), writes each record to the same partition of O with value "copy:" + value, and commits
 * the input offsets in the same transaction, K records at a time, until I's end offsets are reached;
 * prints {"txn": n, "records": k} after each commit. Run again after a crash, it continues exactly
 * where the last committed transaction ended.
 *
 * produce: C records with an idempotent, non-transactional producer: record i is key "k{i}", value
 * "v{i}", to partition i % N.
 */
public final class TxnClient {
    private static final ObjectMapper JSON = new ObjectMapper();

    private TxnClient() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 0) usage();
        Map<String, String> o = new HashMap<>();
        for (int i = 1; i < args.length; i += 2) {
            if (i + 1 >= args.length || !args[i].startsWith("--")) usage();
            o.put(args[i].substring(2), args[i + 1]);
        }
        switch (args[0]) {
            case "script" -> script(o);
            case "read" -> read(o);
            case "offsets" -> offsets(o);
            case "copy" -> System.exit(copy(o));
            case "produce" -> produce(o);
            default -> usage();
        }
    }

    private static void usage() {
        System.err.println("usage: TxnClient script|read|offsets|copy --bootstrap B ... (see the class comment)");
        System.exit(2);
    }

    private static String req(Map<String, String> o, String name) {
        String v = o.get(name);
        if (v == null) {
            System.err.println("missing --" + name);
            System.exit(2);
        }
        return v;
    }

    private static void print(ObjectNode n) {
        System.out.println(n.toString());
        System.out.flush();
    }

    private static Properties producerConfig(String bootstrap, String txnId) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "60000");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        return p;
    }

    private static Properties consumerConfig(String bootstrap, String isolation, String group) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        if (group != null) p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        return p;
    }

    private static List<TopicPartition> partitions(String topic, int n) {
        List<TopicPartition> tps = new ArrayList<>();
        for (int p = 0; p < n; p++) tps.add(new TopicPartition(topic, p));
        return tps;
    }

    private static void script(Map<String, String> o) {
        String bootstrap = req(o, "bootstrap");
        String topic = req(o, "topic");
        int n = Integer.parseInt(req(o, "partitions"));
        String group = req(o, "group");
        String txnId = req(o, "txn-id");
        int rounds = Integer.parseInt(req(o, "rounds"));
        int committed = 0;
        int aborted = 0;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig(bootstrap, txnId))) {
            producer.initTransactions();
            for (int r = 0; r < rounds; r++) {
                producer.beginTransaction();
                Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                for (int p = 0; p < n; p++) {
                    for (int k = 0; k < 3; k++) {
                        String key = "r" + r + "-p" + p + "-" + k;
                        producer.send(new ProducerRecord<>(topic, p, key, key));
                    }
                    offsets.put(new TopicPartition(topic, p), new OffsetAndMetadata((r + 1) * 10L + p, "round-" + r));
                }
                producer.sendOffsetsToTransaction(offsets, new ConsumerGroupMetadata(group));
                // Every record reaches the log before the transaction ends, aborted ones too (an abort
                // would otherwise drop batches not sent yet, and the log's layout would depend on timing).
                producer.flush();
                if (r % 2 == 0) {
                    producer.commitTransaction();
                    committed++;
                } else {
                    producer.abortTransaction();
                    aborted++;
                }
            }
        }
        // A zombie: its open transaction is aborted by the next instance, and it is fenced.
        boolean fenced = false;
        KafkaProducer<String, String> zombie = new KafkaProducer<>(producerConfig(bootstrap, txnId));
        try {
            zombie.initTransactions();
            zombie.beginTransaction();
            for (int p = 0; p < n; p++) zombie.send(new ProducerRecord<>(topic, p, "zombie-p" + p, "zombie-p" + p));
            zombie.flush();
            try (KafkaProducer<String, String> fresh = new KafkaProducer<>(producerConfig(bootstrap, txnId))) {
                fresh.initTransactions();
                fresh.beginTransaction();
                for (int p = 0; p < n; p++) fresh.send(new ProducerRecord<>(topic, p, "fresh-p" + p, "fresh-p" + p));
                fresh.commitTransaction();
            }
            try {
                zombie.commitTransaction();
            } catch (ProducerFencedException e) {
                fenced = true;
            }
        } finally {
            zombie.close(Duration.ofSeconds(5));
        }
        ObjectNode s = JSON.createObjectNode();
        s.put("committed", committed);
        s.put("aborted", aborted);
        s.put("zombieFenced", fenced);
        print(s);
    }

    private static void read(Map<String, String> o) {
        String bootstrap = req(o, "bootstrap");
        String topic = req(o, "topic");
        int n = Integer.parseInt(req(o, "partitions"));
        String isolation = o.getOrDefault("isolation", "read_committed");
        long deadline = System.currentTimeMillis() + Long.parseLong(o.getOrDefault("timeout-ms", "30000"));
        long count = 0;
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig(bootstrap, isolation, null))) {
            List<TopicPartition> tps = partitions(topic, n);
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            Map<TopicPartition, Long> end = consumer.endOffsets(tps);
            while (tps.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                if (System.currentTimeMillis() > deadline) throw new IllegalStateException("read timed out at " + positions(consumer, tps) + " of " + end);
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
                for (ConsumerRecord<String, String> r : records) {
                    ObjectNode line = JSON.createObjectNode();
                    line.put("p", r.partition());
                    line.put("o", r.offset());
                    line.put("k", r.key());
                    line.put("v", r.value());
                    print(line);
                    count++;
                }
            }
            ObjectNode s = JSON.createObjectNode();
            s.put("count", count);
            ObjectNode ends = s.putObject("end");
            for (TopicPartition tp : tps) ends.put(String.valueOf(tp.partition()), end.get(tp));
            print(s);
        }
    }

    private static Map<Integer, Long> positions(KafkaConsumer<?, ?> consumer, List<TopicPartition> tps) {
        Map<Integer, Long> m = new TreeMap<>();
        for (TopicPartition tp : tps) m.put(tp.partition(), consumer.position(tp));
        return m;
    }

    private static void offsets(Map<String, String> o) throws Exception {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, req(o, "bootstrap"));
        try (Admin admin = Admin.create(p)) {
            Map<TopicPartition, OffsetAndMetadata> offsets = admin
                .listConsumerGroupOffsets(req(o, "group"), new ListConsumerGroupOffsetsOptions().requireStable(true))
                .partitionsToOffsetAndMetadata()
                .get();
            ObjectNode s = JSON.createObjectNode();
            ObjectNode m = s.putObject("offsets");
            Map<String, OffsetAndMetadata> sorted = new TreeMap<>();
            offsets.forEach((tp, om) -> sorted.put(tp.topic() + ":" + tp.partition(), om));
            sorted.forEach((k, om) -> m.put(k, om == null ? null : om.offset() + "/" + om.metadata()));
            print(s);
        }
    }

    private static void produce(Map<String, String> o) throws Exception {
        String topic = req(o, "topic");
        int n = Integer.parseInt(req(o, "partitions"));
        int count = Integer.parseInt(req(o, "count"));
        Properties p = producerConfig(req(o, "bootstrap"), "unused");
        p.remove(ProducerConfig.TRANSACTIONAL_ID_CONFIG);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            List<java.util.concurrent.Future<org.apache.kafka.clients.producer.RecordMetadata>> sent = new ArrayList<>();
            for (int i = 0; i < count; i++) sent.add(producer.send(new ProducerRecord<>(topic, i % n, "k" + i, "v" + i)));
            for (var f : sent) f.get();
        }
        ObjectNode s = JSON.createObjectNode();
        s.put("produced", count);
        print(s);
    }

    private static int copy(Map<String, String> o) {
        String bootstrap = req(o, "bootstrap");
        String input = req(o, "input");
        String output = req(o, "output");
        int n = Integer.parseInt(req(o, "partitions"));
        String group = req(o, "group");
        int batch = Integer.parseInt(o.getOrDefault("batch", "50"));
        long deadline = System.currentTimeMillis() + Long.parseLong(o.getOrDefault("timeout-ms", "120000"));
        Properties cc = consumerConfig(bootstrap, "read_committed", group);
        cc.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, String.valueOf(batch));
        long txns = 0;
        long copied = 0;
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cc);
             KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig(bootstrap, req(o, "txn-id")))) {
            // A new instance fences the last one and aborts whatever it left open.
            producer.initTransactions();
            List<TopicPartition> tps = partitions(input, n);
            consumer.assign(tps);
            Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(new java.util.HashSet<>(tps));
            for (TopicPartition tp : tps) {
                OffsetAndMetadata om = committed.get(tp);
                if (om == null) consumer.seekToBeginning(List.of(tp));
                else consumer.seek(tp, om.offset());
            }
            Map<TopicPartition, Long> end = consumer.endOffsets(tps);
            ObjectNode start = JSON.createObjectNode();
            start.put("start", positions(consumer, tps).toString());
            print(start);
            while (tps.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                if (System.currentTimeMillis() > deadline) throw new IllegalStateException("copy timed out at " + positions(consumer, tps) + " of " + end);
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
                if (records.isEmpty()) continue;
                producer.beginTransaction();
                for (ConsumerRecord<String, String> r : records) producer.send(new ProducerRecord<>(output, r.partition(), r.key(), "copy:" + r.value()));
                Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
                for (TopicPartition tp : records.partitions()) next.put(tp, new OffsetAndMetadata(consumer.position(tp)));
                producer.sendOffsetsToTransaction(next, consumer.groupMetadata());
                producer.commitTransaction();
                txns++;
                copied += records.count();
                ObjectNode line = JSON.createObjectNode();
                line.put("txn", txns);
                line.put("records", records.count());
                print(line);
            }
            ObjectNode s = JSON.createObjectNode();
            s.put("done", true);
            s.put("txns", txns);
            s.put("copied", copied);
            print(s);
            return 0;
        } catch (Exception e) {
            ObjectNode s = JSON.createObjectNode();
            s.put("done", false);
            s.put("txns", txns);
            s.put("copied", copied);
            s.put("error", e.toString());
            print(s);
            return 1;
        }
    }
}
