"""Admin flow with kafka-python (KafkaAdminClient): create, list, describe, delete a topic.

Prints one JSON summary line (see test/compat/flows.ts for its shape).
"""

import kafka.errors as Errors
from kafka import KafkaAdminClient
from kafka.protocol.api_key import ApiKey

from flow_common import emit, new_summary, parse_args, partition, poll, wait_absent

NIL_UUID = "00000000-0000-0000-0000-000000000000"


def kafka_error_name(action):
    try:
        action()
    except Errors.KafkaError as exc:
        return exc.message
    return None


def main():
    args = parse_args(__doc__)
    topic = args.topic
    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap, client_id="strait-compat")
    summary = new_summary("kafka-python", topic)
    try:
        # The versions the client negotiated from the broker's ApiVersions answer.
        versions = admin.api_versions()
        summary["apiVersions"] = {
            "metadata": ApiKey.Metadata in versions,
            "createTopics": ApiKey.CreateTopics in versions,
            "deleteTopics": ApiKey.DeleteTopics in versions,
        }
        cluster = admin.describe_cluster()
        summary["clusterId"] = cluster["cluster_id"]
        summary["brokers"] = [b["broker_id"] for b in cluster["brokers"]]

        spec = {topic: {"num_partitions": args.partitions, "replication_factor": 1}}
        created = admin.create_topics(spec)
        summary["createdPartitions"] = created["topics"][0]["num_partitions"]

        def led_topic():
            described = admin.describe_topics([topic])[0]
            parts = described["partitions"]
            if described["error_code"] != 0 or len(parts) != args.partitions:
                return None
            return described if all(p["leader_id"] >= 0 for p in parts) else None

        described = poll(led_topic, args.timeout, "leaders for every partition")
        summary["hasTopicId"] = described["topic_id"] not in (None, NIL_UUID)
        for p in described["partitions"]:
            summary["partitions"].append(
                partition(p["partition_index"], p["leader_id"], p["replica_nodes"], p["isr_nodes"])
            )
        summary["listedAfterCreate"] = topic in admin.list_topics()

        summary["duplicateCreateError"] = kafka_error_name(lambda: admin.create_topics(spec))
        admin.delete_topics([topic])
        summary["presentAfterDelete"] = wait_absent(lambda: topic in admin.list_topics(), args.timeout)
        summary["deleteMissingError"] = kafka_error_name(lambda: admin.delete_topics([topic]))
    finally:
        admin.close()
    emit(summary)


if __name__ == "__main__":
    main()
