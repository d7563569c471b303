"""Shared parts of the Python admin flows: arguments, polling and the normalised summary."""

import argparse
import json
import sys
import time

# librdkafka abbreviates some Kafka error names; the summary uses the protocol's names.
ERROR_NAME_ALIASES = {
    "UNKNOWN_TOPIC_OR_PART": "UNKNOWN_TOPIC_OR_PARTITION",
}


def parse_args(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds for each wait")
    return parser.parse_args()


def error_name(name):
    return ERROR_NAME_ALIASES.get(name, name)


def poll(check, timeout, what):
    """Calls check() every 100 ms until it returns a truthy value; returns it, or raises."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("timed out waiting for " + what)
        time.sleep(0.1)


def wait_absent(exists, timeout):
    """Polls a bounded time for a deleted topic to leave metadata; returns True if it stayed."""
    deadline = time.monotonic() + timeout
    while exists():
        if time.monotonic() > deadline:
            return True
        time.sleep(0.1)
    return False


def new_summary(client, topic):
    return {
        "client": client,
        "topic": topic,
        "clusterId": None,
        "brokers": [],
        "apiVersions": None,
        "createdPartitions": None,
        "listedAfterCreate": False,
        "hasTopicId": None,
        "partitions": [],
        "duplicateCreateError": None,
        "presentAfterDelete": True,
        "deleteMissingError": None,
    }


def partition(index, leader, replicas, isr):
    return {"partition": index, "leader": leader, "replicas": sorted(replicas), "isr": sorted(isr)}


def emit(summary):
    summary["partitions"].sort(key=lambda p: p["partition"])
    summary["brokers"].sort()
    sys.stdout.write(json.dumps(summary) + "\n")
    sys.stdout.flush()
