"""Produces and consumes records with a Python Kafka client, for the data-path compatibility tests.

    python py_data.py confluent|kafka-python produce --bootstrap B --spec SPEC.jsonl --out OUT.jsonl
    python py_data.py confluent|kafka-python consume --bootstrap B --assign ASSIGN.json --out OUT.jsonl [--timeout-ms N]

The JSON shapes are those of test/compat/datapath/records.ts (and DataClient.java): SPEC lines are
records to send in order (one producer per compression type, flushed when its turn ends); OUT gets
one result line per record (produce) or one line per record read (consume, assign mode: no
consumer group). Keys, values and header values read are encoded as null, base64 when at most 64
bytes, else "#LENGTH:SHA256HEX".
"""

import argparse
import base64
import hashlib
import json
import sys
import time

INLINE_BYTES_MAX = 64


def encode(data):
    if data is None:
        return None
    data = bytes(data)
    if len(data) <= INLINE_BYTES_MAX:
        return base64.b64encode(data).decode("ascii")
    return "#%d:%s" % (len(data), hashlib.sha256(data).hexdigest())


def decode(text):
    return None if text is None else base64.b64decode(text)


def read_spec(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_lines(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, separators=(",", ":")) + "\n")


def config_pairs(pairs):
    out = {}
    for pair in pairs or []:
        key, _, value = pair.partition("=")
        out[key] = value
    return out


# --- confluent-kafka (librdkafka) -----------------------------------------------------------------

def confluent_produce(args, spec):
    from confluent_kafka import Producer

    results = [None] * len(spec)
    producers = {}
    previous = None

    def on_delivery(index, partition):
        def callback(err, msg):
            if err is None:
                ts_type, ts = msg.timestamp()
                results[index] = {"i": index, "partition": msg.partition(), "offset": msg.offset(), "timestamp": ts, "error": None}
            else:
                results[index] = {"i": index, "partition": -1 if partition is None else partition, "offset": -1, "timestamp": None, "error": str(err)}
        return callback

    for index, r in enumerate(spec):
        compression = r.get("compression", "none")
        producer = producers.get(compression)
        if producer is None:
            conf = {
                "bootstrap.servers": args.bootstrap,
                "compression.type": compression,
                "client.id": "strait-data-confluent-" + compression,
                "acks": "all",
                "message.max.bytes": 3 * 1024 * 1024,
                "linger.ms": 5,
            }
            conf.update(config_pairs(args.config))
            producer = Producer(conf)
            producers[compression] = producer
        if previous is not None and previous is not producer:
            previous.flush(60)
        previous = producer
        kwargs = {
            "value": decode(r.get("value")),
            "key": decode(r.get("key")),
            "headers": [(h[0], decode(h[1])) for h in r.get("headers", [])],
            "on_delivery": on_delivery(index, r.get("partition")),
        }
        if r.get("partition") is not None:
            kwargs["partition"] = r["partition"]
        if r.get("timestamp") is not None:
            kwargs["timestamp"] = r["timestamp"]
        producer.produce(r["topic"], **kwargs)
        producer.poll(0)
        if r.get("flush"):
            producer.flush(60)
    for producer in producers.values():
        remaining = producer.flush(60)
        if remaining:
            raise RuntimeError("%d messages not delivered within 60 s" % remaining)
    return results


def confluent_consume(args, assign, deadline):
    from confluent_kafka import Consumer, TopicPartition, TIMESTAMP_LOG_APPEND_TIME

    # confluent-kafka refuses a consumer without group.id, even one that only assigns partitions;
    # nothing here subscribes, commits or reads committed offsets, so the group is never used.
    conf = {
        "bootstrap.servers": args.bootstrap,
        "group.id": "strait-data-unused-group",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "client.id": "strait-data-confluent-consumer",
        "fetch.message.max.bytes": 1024 * 1024,
        "receive.message.max.bytes": 100 * 1024 * 1024,
    }
    conf.update(config_pairs(args.config))
    consumer = Consumer(conf)
    pending = {(a["topic"], a["partition"]): a["until"] for a in assign if a["from"] < a["until"]}
    consumer.assign([TopicPartition(a["topic"], a["partition"], a["from"]) for a in assign if a["from"] < a["until"]])
    rows = []
    try:
        while pending:
            if time.time() > deadline:
                raise TimeoutError("still waiting for %r" % pending)
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                # Reaching the end of a partition is reported as an "error" event; anything else fails.
                if msg.error().code() == -191:  # _PARTITION_EOF
                    continue
                raise RuntimeError(str(msg.error()))
            tp = (msg.topic(), msg.partition())
            until = pending.get(tp)
            if until is None or msg.offset() >= until:
                continue
            ts_type, ts = msg.timestamp()
            rows.append({
                "topic": msg.topic(),
                "partition": msg.partition(),
                "offset": msg.offset(),
                "key": encode(msg.key()),
                "value": encode(msg.value()),
                "headers": [[k, encode(v)] for k, v in (msg.headers() or [])],
                "timestamp": ts,
                "timestampType": "LogAppendTime" if ts_type == TIMESTAMP_LOG_APPEND_TIME else "CreateTime",
            })
            if msg.offset() + 1 >= until:
                del pending[tp]
    finally:
        consumer.close()
    return rows


# --- kafka-python ---------------------------------------------------------------------------------

def kafka_python_produce(args, spec):
    from kafka import KafkaProducer

    results = [None] * len(spec)
    producers = {}
    previous = None
    futures = []
    for index, r in enumerate(spec):
        compression = r.get("compression", "none")
        producer = producers.get(compression)
        if producer is None:
            conf = {
                "bootstrap_servers": args.bootstrap,
                "compression_type": None if compression == "none" else compression,
                "client_id": "strait-data-kafka-python-" + compression,
                "acks": "all",
                "max_request_size": 3 * 1024 * 1024,
                "linger_ms": 5,
            }
            producer = KafkaProducer(**conf)
            producers[compression] = producer
        if previous is not None and previous is not producer:
            previous.flush(60)
        previous = producer
        future = producer.send(
            r["topic"],
            value=decode(r.get("value")),
            key=decode(r.get("key")),
            headers=[(h[0], decode(h[1])) for h in r.get("headers", [])],
            partition=r.get("partition"),
            timestamp_ms=r.get("timestamp"),
        )
        futures.append((index, r.get("partition"), future))
        if r.get("flush"):
            producer.flush(60)
    for producer in producers.values():
        producer.flush(60)
    for index, partition, future in futures:
        try:
            md = future.get(timeout=60)
            results[index] = {"i": index, "partition": md.partition, "offset": md.offset, "timestamp": md.timestamp, "error": None}
        except Exception as e:  # noqa: BLE001 - the error is the result
            results[index] = {"i": index, "partition": -1 if partition is None else partition, "offset": -1, "timestamp": None, "error": "%s: %s" % (type(e).__name__, e)}
    for producer in producers.values():
        producer.close(10)
    return results


def kafka_python_consume(args, assign, deadline):
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        client_id="strait-data-kafka-python-consumer",
        max_partition_fetch_bytes=1024 * 1024,
    )
    wanted = [a for a in assign if a["from"] < a["until"]]
    pending = {TopicPartition(a["topic"], a["partition"]): a["until"] for a in wanted}
    consumer.assign(list(pending))
    for a in wanted:
        consumer.seek(TopicPartition(a["topic"], a["partition"]), a["from"])
    rows = []
    try:
        while pending:
            if time.time() > deadline:
                raise TimeoutError("still waiting for %r" % pending)
            batches = consumer.poll(timeout_ms=200)
            for tp, records in batches.items():
                until = pending.get(tp)
                for msg in records:
                    if until is None or msg.offset >= until:
                        continue
                    rows.append({
                        "topic": msg.topic,
                        "partition": msg.partition,
                        "offset": msg.offset,
                        "key": encode(msg.key),
                        "value": encode(msg.value),
                        "headers": [[k, encode(v)] for k, v in (msg.headers or [])],
                        "timestamp": msg.timestamp,
                        "timestampType": "LogAppendTime" if msg.timestamp_type == 1 else "CreateTime",
                    })
            for tp in list(pending):
                if consumer.position(tp) >= pending[tp]:
                    del pending[tp]
    finally:
        consumer.close()
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("client", choices=["confluent", "kafka-python"])
    parser.add_argument("mode", choices=["produce", "consume"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--spec")
    parser.add_argument("--assign")
    parser.add_argument("--out", required=True)
    parser.add_argument("--timeout-ms", type=int, default=30000)
    parser.add_argument("--config", action="append", help="client setting k=v (confluent only)")
    args = parser.parse_args()
    deadline = time.time() + args.timeout_ms / 1000.0
    if args.mode == "produce":
        spec = read_spec(args.spec)
        rows = (confluent_produce if args.client == "confluent" else kafka_python_produce)(args, spec)
        write_lines(args.out, rows)
        failed = sum(1 for r in rows if r["error"] is not None)
        print(json.dumps({"produced": len(rows) - failed, "failed": failed}))
    else:
        with open(args.assign, encoding="utf-8") as f:
            assign = json.load(f)
        rows = (confluent_consume if args.client == "confluent" else kafka_python_consume)(args, assign, deadline)
        write_lines(args.out, rows)
        print(json.dumps({"consumed": len(rows)}))


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # noqa: BLE001 - reported to the test with the traceback
        import traceback

        traceback.print_exc()
        sys.exit(1)
