"""Admin flow with confluent-kafka (librdkafka): create, list, describe, delete a topic.

Prints one JSON summary line (see test/compat/flows.ts for its shape).
"""

from confluent_kafka import KafkaException, TopicCollection
from confluent_kafka.admin import AdminClient, NewTopic

from flow_common import emit, error_name, new_summary, parse_args, partition, poll, wait_absent


def kafka_error_name(future):
    """Waits for an admin future and returns the Kafka error name it failed with, or None."""
    try:
        future.result()
    except KafkaException as exc:
        return error_name(exc.args[0].name())
    return None


def main():
    args = parse_args(__doc__)
    topic = args.topic
    # librdkafka negotiates versions with ApiVersions on every connection.
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    summary = new_summary("confluent-kafka", topic)

    created = admin.create_topics(
        [NewTopic(topic, num_partitions=args.partitions, replication_factor=1)], operation_timeout=30
    )
    created[topic].result()
    summary["createdPartitions"] = args.partitions

    def led_metadata():
        metadata = admin.list_topics(topic=topic, timeout=10)
        described = metadata.topics.get(topic)
        if described is None or described.error is not None:
            return None
        partitions = described.partitions.values()
        if len(partitions) != args.partitions or any(p.leader < 0 for p in partitions):
            return None
        return metadata

    metadata = poll(led_metadata, args.timeout, "leaders for every partition")
    summary["clusterId"] = metadata.cluster_id
    summary["brokers"] = list(metadata.brokers.keys())

    listed = admin.list_topics(timeout=10)
    summary["listedAfterCreate"] = topic in listed.topics

    description = admin.describe_topics(TopicCollection([topic]))[topic].result()
    summary["hasTopicId"] = description.topic_id is not None and str(description.topic_id) not in (
        "",
        "AAAAAAAAAAAAAAAAAAAAAA",
    )
    for p in description.partitions:
        summary["partitions"].append(
            partition(p.id, p.leader.id if p.leader is not None else -1, [n.id for n in p.replicas], [n.id for n in p.isr])
        )

    again = admin.create_topics([NewTopic(topic, num_partitions=args.partitions, replication_factor=1)])
    summary["duplicateCreateError"] = kafka_error_name(again[topic])

    admin.delete_topics([topic], operation_timeout=30)[topic].result()
    summary["presentAfterDelete"] = wait_absent(
        lambda: topic in admin.list_topics(timeout=10).topics, args.timeout
    )

    summary["deleteMissingError"] = kafka_error_name(admin.delete_topics([topic], operation_timeout=30)[topic])
    emit(summary)


if __name__ == "__main__":
    main()
