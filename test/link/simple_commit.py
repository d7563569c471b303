"""A simple consumer (no group membership, as Flink and assign() users run): assigns one partition,
reads from an offset, and commits an offset with commitSync, generation -1. confluent-kafka.

Usage: simple_commit.py BOOTSTRAP GROUP TOPIC PARTITION OFFSET. Prints one JSON line.
"""

import json
import sys

from confluent_kafka import Consumer, TopicPartition

bootstrap, group, topic, partition, offset = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False, "auto.offset.reset": "error"})
consumer.assign([TopicPartition(topic, partition, offset)])
msg = consumer.poll(10.0)
read = None if msg is None or msg.error() else msg.offset()
committed = consumer.commit(offsets=[TopicPartition(topic, partition, offset)], asynchronous=False)
errors = [str(tp.error) for tp in committed if tp.error is not None]
fetched = consumer.committed([TopicPartition(topic, partition)], timeout=10.0)
consumer.close()
print(json.dumps({"read": read, "errors": errors, "committed": fetched[0].offset}))
