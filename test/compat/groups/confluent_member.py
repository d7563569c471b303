"""A consumer-group member built on confluent-kafka (librdkafka) for the group compatibility tests.

Joins a group, consumes a topic and commits synchronously after every batch, printing one JSON event
per line in the shape of Apache Kafka's VerifiableConsumer (partitions_assigned, partitions_revoked,
partitions_lost, records_consumed, offsets_committed), so the tests read every client's members the
same way. --protocol consumer uses the KIP-848 protocol (group.protocol=consumer). SIGTERM closes
the consumer, which leaves the group.
"""

import argparse
import json
import signal
import sys
import time

from confluent_kafka import Consumer, KafkaException


def emit(name, **fields):
    fields["name"] = name
    fields["timestamp"] = int(time.time() * 1000)
    print(json.dumps(fields), flush=True)


def parts(partitions):
    return sorted(({"topic": p.topic, "partition": p.partition} for p in partitions), key=lambda x: x["partition"])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--protocol", choices=["classic", "consumer"], default="classic")
    parser.add_argument("--session-timeout-ms", type=int, default=6000)
    parser.add_argument("--strategy", default="cooperative-sticky")
    args = parser.parse_args()

    config = {
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "client.id": "confluent-member",
    }
    if args.protocol == "consumer":
        config["group.protocol"] = "consumer"
    else:
        config["session.timeout.ms"] = args.session_timeout_ms
        config["heartbeat.interval.ms"] = max(100, args.session_timeout_ms // 6)
        config["partition.assignment.strategy"] = args.strategy
    consumer = Consumer(config)

    def commit():
        try:
            committed = consumer.commit(asynchronous=False)
        except KafkaException as e:
            if e.args[0].name() != "_NO_OFFSET":
                emit("offsets_committed", offsets=[], success=False, error=str(e))
            return
        offsets = [{"topic": p.topic, "partition": p.partition, "offset": p.offset} for p in committed or [] if p.offset >= 0]
        if offsets:
            emit("offsets_committed", offsets=sorted(offsets, key=lambda x: x["partition"]), success=True)

    def on_assign(_consumer, partitions):
        emit("partitions_assigned", partitions=parts(partitions))

    def on_revoke(_consumer, partitions):
        commit()
        emit("partitions_revoked", partitions=parts(partitions))

    def on_lost(_consumer, partitions):
        emit("partitions_lost", partitions=parts(partitions))

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    consumer.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    emit("startup_complete")
    while not stopping:
        msgs = consumer.consume(num_messages=500, timeout=0.2)
        ranges = {}
        count = 0
        for m in msgs:
            if m.error():
                print("consume error: %s" % m.error(), file=sys.stderr, flush=True)
                continue
            # One record_data event per record, as VerifiableConsumer --verbose prints, so the tests check values too.
            key, value = m.key(), m.value()
            emit("record_data", topic=m.topic(), partition=m.partition(), offset=m.offset(),
                 key=None if key is None else key.decode("utf-8", "replace"), value=None if value is None else value.decode("utf-8", "replace"))
            r = ranges.setdefault(m.partition(), {"topic": m.topic(), "partition": m.partition(), "count": 0, "minOffset": m.offset(), "maxOffset": m.offset()})
            r["count"] += 1
            r["minOffset"] = min(r["minOffset"], m.offset())
            r["maxOffset"] = max(r["maxOffset"], m.offset())
            count += 1
        if count:
            emit("records_consumed", count=count, partitions=list(ranges.values()))
            commit()
    consumer.close()
    emit("shutdown_complete")


if __name__ == "__main__":
    main()
