"""Benchmark: the public pages' throughput from a warm cache, as a ratio of a trivial view.

Starts gunicorn on the service (bench settings: the test settings plus a trivial view that
goes through the same middleware), warms the caches, then measures requests per second for
the trivial view, the home page and a blog post under the same server and load generator
(`wrk` when installed, else a Python client). Target: home and post at 0.5 or more of the
trivial view (issue 22: the post at 0.6 or more on PostgreSQL + Redis). The post's figure
includes counting its view on every request: a Redis INCR with Redis, else a database UPDATE.

    .venv/bin/python bench/web.py [--seconds 10] [--workers 2]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailing REDIS_URL=redis://127.0.0.1:6379/1 \\
        .venv/bin/python bench/web.py
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.request import urlopen

from _django import ROOT, bench_database

TARGET = 0.5


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure_wrk(url: str, seconds: int) -> float:
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", url], capture_output=True, text=True, check=True
    ).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise RuntimeError(f"{url}: {non_2xx.group(1)} error responses")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def measure_python(url: str, seconds: int, clients: int = 8) -> float:
    host, port_path = url.split("//", 1)[1].split(":", 1)
    port, path = port_path.split("/", 1)
    counts = [0] * clients
    deadline = time.monotonic() + seconds

    def run(index: int) -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        while time.monotonic() < deadline:
            connection.request("GET", "/" + path)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{url}: HTTP {response.status}")
            counts[index] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    measure = measure_wrk if shutil.which("wrk") else measure_python

    with bench_database() as connection:
        from django.core.cache import cache

        from blog.demo import seed_demo_blog
        from blog.models import BlogPage

        seed_demo_blog()
        cache.clear()
        post_url = BlogPage.objects.live().first().url
        from tests.support.processes import database_url_for_processes

        database_url = database_url_for_processes()
        port = free_port()
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "site_config.wsgi:application",
                f"--bind=127.0.0.1:{port}",
                f"--workers={args.workers}",
                "--log-level=warning",
            ],
            cwd=ROOT,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "bench.web_settings",
                "DATABASE_URL": database_url,
                "LOG_LEVEL": "WARNING",
            },
            start_new_session=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    urlopen(base + "/bench/trivial/", timeout=2).read()  # noqa: S310
                    break
                except OSError:
                    time.sleep(0.2)
            urls = {"trivial view": "/bench/trivial/", "home page": "/", "blog post": post_url}
            for path in urls.values():  # warm every worker's view of the caches
                for _ in range(20):
                    urlopen(base + path, timeout=10).read()  # noqa: S310
            rates = {name: measure(base + path, args.seconds) for name, path in urls.items()}
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)

    print(
        f"database: {connection.vendor}, load generator: {measure.__name__[8:]}, "
        f"gunicorn workers: {args.workers}"
    )
    trivial = rates["trivial view"]
    for name, rate in rates.items():
        ratio = rate / trivial
        verdict = "" if name == "trivial view" else ("  OK" if ratio >= TARGET else "  BELOW")
        print(f"{name:>13}: {rate:8.0f} req/s  ratio {ratio:.2f}{verdict}")


if __name__ == "__main__":
    main()
