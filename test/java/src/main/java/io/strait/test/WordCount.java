package io.strait.test;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Produced;

import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A Kafka Streams word count with processing.guarantee=exactly_once_v2, for the Streams
 * compatibility test in test/compat. Arguments: BOOTSTRAP INPUT OUTPUT APPLICATION_ID STATE_DIR
 * COMMIT_INTERVAL_MS TOTAL_WORDS TIMEOUT_MS.
 *
 * Splits each input value into lowercase words, counts them (a repartition topic and a changelog
 * topic, both created by Streams with replication factor 1) and writes word -> count to OUTPUT. In
 * the same process a read_committed consumer (assign mode, every partition of OUTPUT from the
 * beginning) keeps the latest count per word; once those add up to TOTAL_WORDS it reads on for a
 * few more commit intervals (a count going past its final value would show up), closes Streams and
 * prints one JSON line: {"counts": {word: latest}, "records": n, "overshoot": [words whose count
 * ever exceeded the final one], "streamsState": ..., "error": ...}. Exit code 0 when the sum was
 * reached, 1 on timeout or a Streams failure.
 */
public final class WordCount {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String input = args[1];
    String output = args[2];
    String appId = args[3];
    String stateDir = args[4];
    int commitIntervalMs = Integer.parseInt(args[5]);
    long totalWords = Long.parseLong(args[6]);
    long timeoutMs = Long.parseLong(args[7]);

    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitIntervalMs);
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
    props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
    props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
    props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
    props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

    StreamsBuilder builder = new StreamsBuilder();
    builder.<String, String>stream(input)
        .flatMapValues(v -> Arrays.asList(v.toLowerCase(Locale.ROOT).split("\\W+")))
        .filter((k, w) -> !w.isEmpty())
        .groupBy((k, w) -> w)
        .count()
        .toStream()
        .to(output, Produced.with(Serdes.String(), Serdes.Long()));

    KafkaStreams streams = new KafkaStreams(builder.build(), props);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    streams.setUncaughtExceptionHandler(e -> {
      failure.compareAndSet(null, e);
      return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    streams.start();

    Properties cprops = new Properties();
    cprops.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    cprops.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    cprops.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    cprops.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    Map<String, Long> counts = new TreeMap<>();
    Map<String, Long> max = new TreeMap<>();
    long records = 0;
    boolean reached = false;
    long deadline = System.currentTimeMillis() + timeoutMs;
    try (KafkaConsumer<String, Long> consumer = new KafkaConsumer<>(cprops, new StringDeserializer(), new LongDeserializer())) {
      // The output topic is created by the test before this starts.
      java.util.List<org.apache.kafka.common.TopicPartition> parts = new java.util.ArrayList<>();
      for (org.apache.kafka.common.PartitionInfo p : consumer.partitionsFor(output, Duration.ofSeconds(30))) {
        parts.add(new org.apache.kafka.common.TopicPartition(output, p.partition()));
      }
      consumer.assign(parts);
      consumer.seekToBeginning(parts);
      long settleUntil = Long.MAX_VALUE;
      while (System.currentTimeMillis() < Math.min(deadline, settleUntil)) {
        if (failure.get() != null || streams.state() == KafkaStreams.State.ERROR) break;
        for (ConsumerRecord<String, Long> r : consumer.poll(Duration.ofMillis(200))) {
          records++;
          counts.put(r.key(), r.value());
          max.merge(r.key(), r.value(), Math::max);
        }
        long sum = counts.values().stream().mapToLong(Long::longValue).sum();
        if (!reached && sum == totalWords) {
          reached = true;
          settleUntil = System.currentTimeMillis() + 4L * commitIntervalMs + 1000;
        }
      }
    }
    String state = streams.state().toString();
    streams.close(Duration.ofSeconds(30));
    StringBuilder json = new StringBuilder("{\"counts\":{");
    String sep = "";
    for (Map.Entry<String, Long> e : counts.entrySet()) {
      json.append(sep).append('"').append(e.getKey()).append("\":").append(e.getValue());
      sep = ",";
    }
    json.append("},\"records\":").append(records).append(",\"overshoot\":[");
    sep = "";
    for (Map.Entry<String, Long> e : max.entrySet()) {
      if (e.getValue() > counts.get(e.getKey())) {
        json.append(sep).append('"').append(e.getKey()).append('"');
        sep = ",";
      }
    }
    Throwable t = failure.get();
    json.append("],\"reached\":").append(reached).append(",\"streamsState\":\"").append(state).append("\",\"error\":");
    json.append(t == null ? "null" : ("\"" + t.toString().replace("\\", "\\\\").replace("\"", "'").replace("\n", " ") + "\""));
    json.append('}');
    System.out.println(json);
    System.out.flush();
    System.exit(reached && t == null ? 0 : 1);
  }
}
