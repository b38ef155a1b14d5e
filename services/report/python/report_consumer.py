#!/usr/bin/env python3
"""Example consumer of Simpul's report topics (see docs/REPORTS.md).

Reads kim.report.region-daily.v1 (compacted; key "<region>@<YYYY-MM-DD>",
"ID" = national) from the beginning, keeps the latest record per key and
prints it. Python classes are generated from proto/ at start with
grpc_tools.protoc (pip install confluent-kafka protobuf grpcio-tools).

  report_consumer.py --brokers 127.0.0.1:59092 --date 2026-11-23 --regions ID,35.07

With --api and --token it also checks every requested region against the
HTTP dashboard (GET /v1/reports/dashboard?region=R&from=D&to=D) and exits 0
once the topic shows the same totals as the API, 1 on a mismatch at timeout.
"""
import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "..", "proto"))
FIELDS = ("submitted", "approved", "rejected", "pending")


def generate(gen_dir):
    """Generates simpul/v1/*_pb2.py into gen_dir and imports report_pb2."""
    from grpc_tools import protoc
    os.makedirs(gen_dir, exist_ok=True)
    rc = protoc.main(["protoc", "-I" + PROTO_DIR, "--python_out=" + gen_dir,
                      "simpul/v1/meta.proto", "simpul/v1/report.proto"])
    if rc != 0:
        sys.exit("protoc failed (%d)" % rc)
    for d in ("simpul", "simpul/v1"):
        open(os.path.join(gen_dir, d, "__init__.py"), "a").close()
    sys.path.insert(0, gen_dir)
    from simpul.v1 import report_pb2
    return report_pb2


def api_totals(api, token, region, day):
    url = "%s/v1/reports/dashboard?region=%s&from=%s&to=%s" % (api, region, day, day)
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=10) as r:
        t = json.load(r)["totals"]
    return {f: t[f] for f in FIELDS}


def topic_totals(rec):
    return {f: getattr(rec.total, f) for f in FIELDS}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brokers", default="127.0.0.1:59092")
    ap.add_argument("--topic", default="kim.report.region-daily.v1")
    ap.add_argument("--date", required=True, help="YYYY-MM-DD (Asia/Jakarta)")
    ap.add_argument("--regions", default="ID", help="comma-separated codes, ID = national")
    ap.add_argument("--api", help="report service base URL, to compare with")
    ap.add_argument("--token", help="Bearer token for --api")
    ap.add_argument("--gen-dir", default=os.path.join(tempfile.gettempdir(), "simpul-report-pygen"))
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args()

    report_pb2 = generate(args.gen_dir)
    from confluent_kafka import Consumer, KafkaError

    wanted = {"%s@%s" % (r, args.date) for r in args.regions.split(",")}
    latest = {}
    consumer = Consumer({
        "bootstrap.servers": args.brokers,
        "group.id": "report-example-%s" % uuid.uuid4(),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([args.topic])
    deadline = time.time() + args.timeout
    ok = False
    try:
        while time.time() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                key = (msg.key() or b"").decode()
                if key in wanted and msg.value():
                    rec = report_pb2.RegionDaily()
                    rec.ParseFromString(msg.value())
                    latest[key] = rec
                continue  # drain what is there before comparing
            if msg is not None and msg.error().code() != KafkaError._PARTITION_EOF:
                print("kafka:", msg.error(), file=sys.stderr)
            if not args.api or len(latest) < len(wanted):
                if not args.api and latest and len(latest) == len(wanted):
                    break
                continue
            mismatches = []
            for key in sorted(wanted):
                region = key.split("@")[0]
                want = api_totals(args.api, args.token, region, args.date)
                got = topic_totals(latest[key])
                if want != got:
                    mismatches.append((key, got, want))
            if not mismatches:
                ok = True
                break
    finally:
        consumer.close()

    for key in sorted(latest):
        rec = latest[key]
        print("%-24s level=%d gen=%d %s types=%d" % (
            key, rec.level, rec.generation,
            " ".join("%s=%d" % (f, v) for f, v in topic_totals(rec).items()), len(rec.types)))
    if args.api:
        if ok:
            print("OK: topic totals equal the HTTP API for %d regions" % len(wanted))
            return 0
        missing = sorted(wanted - set(latest))
        print("MISMATCH or missing at timeout; missing keys: %s" % missing, file=sys.stderr)
        for key in sorted(latest):
            region = key.split("@")[0]
            print("  %s topic=%s api=%s" % (key, topic_totals(latest[key]),
                                            api_totals(args.api, args.token, region, args.date)),
                  file=sys.stderr)
        return 1
    return 0 if len(latest) == len(wanted) else 1


if __name__ == "__main__":
    sys.exit(main())
