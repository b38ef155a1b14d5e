"""tests/console/group_at_end.py - commits a fresh consumer group's offsets at
the current end of the given topics, so a service started in that group
consumes only what is produced from now on (neither the shared topics'
history nor a race between its first assignment and the test's traffic).

usage: python group_at_end.py BROKERS GROUP TOPIC...
"""
import sys

from confluent_kafka import Consumer, TopicPartition


def main():
    brokers, group, topics = sys.argv[1], sys.argv[2], sys.argv[3:]
    c = Consumer({"bootstrap.servers": brokers, "group.id": group, "enable.auto.commit": False})
    offsets = []
    for t in topics:
        meta = c.list_topics(t, timeout=10)
        for p in meta.topics[t].partitions:
            _, hi = c.get_watermark_offsets(TopicPartition(t, p), timeout=10)
            offsets.append(TopicPartition(t, p, hi))
    c.commit(offsets=offsets, asynchronous=False)
    c.close()
    print(f"group {group}: {len(offsets)} partitions at their end")


if __name__ == "__main__":
    main()
