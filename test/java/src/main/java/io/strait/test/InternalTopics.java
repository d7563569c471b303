package io.strait.test;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.admin.TopicListing;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.serialization.StringDeserializer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * What Kafka's Java clients make of the internal topics, for test/compat/internal-topics.test.ts:
 *
 * <pre>
 * java ... io.strait.test.InternalTopics BOOTSTRAP GROUP_PROTOCOL GROUP
 * </pre>
 *
 * Prints one JSON line: the Admin client's topic listing with internal topics (name and
 * isInternal) and without them, the partition count and leaders of both internal topics, and the
 * topics a KafkaConsumer subscribed to the pattern ".*" is assigned (classic or consumer group
 * protocol, exclude.internal.topics at its default).
 */
public final class InternalTopics {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        String protocol = args[1];
        String group = args[2];
        StringBuilder out = new StringBuilder("{");
        Properties adminProps = new Properties();
        adminProps.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(adminProps)) {
            Collection<TopicListing> all = admin.listTopics(new ListTopicsOptions().listInternal(true)).listings().get();
            List<String> listed = new ArrayList<>();
            for (TopicListing l : all) listed.add("\"" + l.name() + ":" + l.isInternal() + "\"");
            listed.sort(null);
            out.append("\"listedWithInternal\":").append(listed);
            TreeSet<String> plain = new TreeSet<>(admin.listTopics().names().get());
            out.append(",\"listed\":").append(quoted(plain));
            Map<String, TopicDescription> d = admin.describeTopics(List.of("__consumer_offsets", "__transaction_state")).allTopicNames().get();
            for (String name : List.of("__consumer_offsets", "__transaction_state")) {
                TopicDescription td = d.get(name);
                TreeSet<String> leaders = new TreeSet<>();
                for (TopicPartitionInfo p : td.partitions()) leaders.add(p.leader() == null ? "none" : String.valueOf(p.leader().id()));
                out.append(",\"").append(name).append("\":{\"internal\":").append(td.isInternal()).append(",\"partitions\":").append(td.partitions().size()).append(",\"leaders\":").append(quoted(leaders)).append("}");
            }
        }
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        props.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.METADATA_MAX_AGE_CONFIG, "1000");
        TreeSet<String> assigned = new TreeSet<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(Pattern.compile(".*"));
            long deadline = System.currentTimeMillis() + 30_000;
            long quietUntil = Long.MAX_VALUE;
            // Polls until something is assigned, then three more seconds: a late internal topic would show.
            while (System.currentTimeMillis() < Math.min(deadline, quietUntil)) {
                consumer.poll(Duration.ofMillis(200));
                for (TopicPartition tp : consumer.assignment()) assigned.add(tp.topic());
                if (!assigned.isEmpty() && quietUntil == Long.MAX_VALUE) quietUntil = System.currentTimeMillis() + 3_000;
            }
        }
        out.append(",\"assignedTopics\":").append(quoted(assigned)).append("}");
        System.out.println(out);
    }

    private static String quoted(Collection<String> names) {
        List<String> q = new ArrayList<>();
        for (String n : names) q.add("\"" + n + "\"");
        return q.toString();
    }
}
