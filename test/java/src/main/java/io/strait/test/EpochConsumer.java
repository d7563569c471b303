package io.strait.test;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.LogTruncationException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;

/**
 * A KafkaConsumer (assign mode, no group) that reads one partition in two phases, for the KIP-320
 * truncation test in test/compat/offset-for-leader-epoch-consumer.test.ts:
 *
 * <pre>
 * java ... io.strait.test.EpochConsumer BOOTSTRAP TOPIC FIRST_UNTIL READY_FILE GO_FILE SECOND_UNTIL RESET
 * </pre>
 *
 * It reads from offset 0 until its position reaches FIRST_UNTIL, creates READY_FILE, waits for
 * GO_FILE, then polls until its position reaches SECOND_UNTIL. Every record is printed as
 * "RECORD offset leaderEpoch value"; a LogTruncationException (auto.offset.reset=none, RESET
 * "none") is printed as "TRUNCATED offset" with the divergent offset the client found, and the
 * consumer goes on from there, as an application handling it would.
 */
public final class EpochConsumer {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        String topic = args[1];
        long firstUntil = Long.parseLong(args[2]);
        Path ready = Path.of(args[3]);
        Path go = Path.of(args[4]);
        long secondUntil = Long.parseLong(args[5]);
        String reset = args[6];
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, reset);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        // A short metadata age, so a leader epoch change is seen soon even without a fetch error.
        props.put(ConsumerConfig.METADATA_MAX_AGE_CONFIG, "500");
        TopicPartition tp = new TopicPartition(topic, 0);
        long deadline = System.currentTimeMillis() + 90_000;
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            consumer.assign(List.of(tp));
            consumer.seek(tp, 0);
            consume(consumer, tp, firstUntil, deadline);
            Files.writeString(ready, "ready");
            while (!Files.exists(go)) {
                if (System.currentTimeMillis() > deadline) throw new IllegalStateException("no go file");
                Thread.sleep(50);
            }
            consume(consumer, tp, secondUntil, deadline);
        }
        System.out.println("DONE");
    }

    private static void consume(KafkaConsumer<String, String> consumer, TopicPartition tp, long until, long deadline) {
        while (consumer.position(tp) < until) {
            if (System.currentTimeMillis() > deadline) throw new IllegalStateException("timed out at position " + consumer.position(tp));
            try {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    System.out.println("RECORD " + r.offset() + " " + r.leaderEpoch().orElse(-1) + " " + r.value());
                }
            } catch (LogTruncationException e) {
                long at = e.divergentOffsets().get(tp).offset();
                System.out.println("TRUNCATED " + at);
                consumer.seek(tp, at);
            }
        }
        System.out.flush();
    }
}
