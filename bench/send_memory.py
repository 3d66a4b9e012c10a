"""Benchmark: peak memory of a worker sending a run of 1,000 and one of 100,000 recipients.

Each size gets a fresh Celery worker process (``--pool=solo``: the worker is the process that
sends); after its run the worker's peak resident set (VmHWM in /proc) is read. Mail goes to
Postfix's smtp-sink when installed, else aiosmtpd; the sink is checked for exactly one message
per recipient.

    .venv/bin/python bench/send_memory.py [--small 1000] [--large 100000]

Runs on PostgreSQL and Redis like bench/send_throughput.py. Target (issue 8): the peak at
100,000 at most 50 MB above the peak at 1,000.
"""

from __future__ import annotations

import argparse
import signal
import sys
import uuid
from pathlib import Path

import send_throughput as common  # sets the environment before Django starts
from _django import bench_database
from _sink import Sink

TARGET_MB = 50


def peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sink = Sink()
    results = {}
    try:
        with bench_database() as connection:
            from tests.support.processes import use_default_queue

            for size in (args.small, args.large):
                queue = f"bench-mem-{uuid.uuid4().hex[:8]}"
                use_default_queue(queue)
                worker = common.start_worker(queue, sink)
                try:
                    owner, message, clients = common.make_clients(50, f"w{size}")
                    common.run_service(owner, message, clients)  # imports, connections
                    owner, message, clients = common.make_clients(size, f"m{size}")
                    sink.reset()
                    seconds = common.run_service(owner, message, clients)
                    results[size] = (
                        peak_kb(worker.popen.pid),
                        seconds,
                        sink.check([c.email for c in clients]),
                    )
                finally:
                    worker.stop()
                del clients
            vendor = connection.vendor
    finally:
        sink.stop()

    print(f"database: {vendor}, mail server: {sink.name}")
    for size, (kb, seconds, check) in results.items():
        print(
            f"{size:>8,} recipients: worker peak RSS {kb / 1024:7.1f} MB,"
            f" {size / seconds:6.0f} msg/s, sink: {check}"
        )
    growth = (results[args.large][0] - results[args.small][0]) / 1024
    verdict = "OK" if growth <= TARGET_MB else "ABOVE"
    print(
        f"growth {args.small:,} -> {args.large:,}: {growth:.1f} MB (target {TARGET_MB}) {verdict}"
    )


if __name__ == "__main__":
    main()
