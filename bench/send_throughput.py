"""Benchmark: sending throughput against the limit and the peer, side by side in one run.

The same N personalised messages (a name and an unsubscribe link filled in per recipient) go
to the same mail server (Postfix's smtp-sink when installed, else aiosmtpd) sent by:

  1. the limit: Django's SMTP backend over one connection, messages built in memory, no DB;
  2. the peer: django-post_office's send_queued, one process, after queueing the messages;
  3. this service: one run through ``send_attempt`` with one Celery worker process, the
     ledger written to the database;
  4. this service with two worker processes sharing the run.

It prints messages per second for each, the ratios 3/1, 3/2 and 4/3, and checks that the
sink received every message exactly once in every case.

    .venv/bin/pip install -r requirements-bench.txt     # django-post_office, for case 2
    .venv/bin/python bench/send_throughput.py [--messages 5000]

Runs on PostgreSQL and Redis (a throw-away ``test_`` database; DATABASE_URL and REDIS_URL
default to the local servers). Targets (issue 8): 3/1 >= 0.85, 3/2 >= 1.0, 4/3 >= 1.4.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.send_settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mailing_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from _django import bench_database
from _sink import Sink

SUBJECT = "News for {full_name}"
BODY = (
    "Dear {full_name},\n\n"
    + "Here is what is new this month at our small shop, written for {email}.\n" * 12
    + "\nKind regards,\nThe shop\n\nUnsubscribe: {unsubscribe_url}\n"
)
SENDER = "Shop news <news@shop.example>"


def make_clients(n: int, tag: str):
    from mailings.models import Client, Message
    from tests.factories import UserFactory

    owner = UserFactory()
    message = Message.objects.create(owner=owner, subject=SUBJECT, body=BODY)
    clients = Client.objects.bulk_create(
        Client(owner=owner, email=f"r{i}.{tag}@example.org", full_name=f"Reader Number {i}")
        for i in range(n)
    )
    return owner, message, clients


def values_for(client) -> dict[str, str]:
    from django.conf import settings

    return {
        "full_name": client.full_name,
        "email": client.email,
        "unsubscribe_url": f"{settings.SITE_URL}/unsubscribe/{client.pk}.token/",
    }


def run_limit(sink: Sink, clients) -> float:
    """1. Django's SMTP backend, one connection, messages built in memory."""
    from django.core.mail import EmailMessage, get_connection

    from mailings.placeholders import fill

    started = time.perf_counter()
    messages = []
    for client in clients:
        values = values_for(client)
        messages.append(
            EmailMessage(
                subject=fill(SUBJECT, values),
                body=fill(BODY, values),
                from_email=SENDER,
                to=[client.email],
            )
        )
    connection = get_connection(
        "django.core.mail.backends.smtp.EmailBackend", host="127.0.0.1", port=sink.port
    )
    sent = connection.send_messages(messages)
    seconds = time.perf_counter() - started
    assert sent == len(clients), sent
    return seconds


def run_post_office(sink: Sink, clients) -> float | None:
    """2. django-post_office: queue the messages (not timed), then send_queued until done."""
    try:
        from post_office import mail
        from post_office.models import Email
    except ImportError:
        return None
    from django.conf import settings

    from mailings.placeholders import fill

    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
    batch = []
    for client in clients:
        values = values_for(client)
        batch.append(
            {
                "sender": SENDER,
                "recipients": [client.email],
                "subject": fill(SUBJECT, values),
                "message": fill(BODY, values),
            }
        )
    mail.send_many(batch)
    lockfile = os.path.join(tempfile.mkdtemp(prefix="post-office-"), "send")
    started = time.perf_counter()
    mail.send_queued_mail_until_done(lockfile=lockfile, processes=1)
    seconds = time.perf_counter() - started
    sent = Email.objects.filter(status=0).count()  # STATUS.sent
    assert sent == len(clients), f"post_office sent {sent} of {len(clients)}"
    return seconds


def run_service(owner, message, clients) -> float:
    """3./4. One run through send_attempt on the running worker(s), timed until it is over."""
    from django.utils import timezone

    from mailings import tasks
    from mailings.models import Attempt, Mailing

    now = timezone.now()
    mailing = Mailing.objects.create(
        owner=owner,
        message=message,
        start_at=now + timedelta(days=1),
        end_at=now + timedelta(days=2),
        periodicity=Mailing.Periodicity.ONCE,
    )
    mailing.clients.add(*clients)
    attempt = Attempt.objects.create(
        mailing=mailing, scheduled_for=now, lease_until=now + timedelta(minutes=10)
    )
    started = time.perf_counter()
    tasks.send_attempt.delay(attempt.pk)
    while True:
        attempt.refresh_from_db()
        if attempt.status != Attempt.Status.IN_PROGRESS:
            break
        if time.perf_counter() - started > 600:
            raise RuntimeError(f"the run did not finish in 10 minutes: {attempt.sent} sent")
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    assert attempt.status == Attempt.Status.SUCCESS, (attempt.status, attempt.server_response)
    assert attempt.sent == len(clients), (attempt.sent, len(clients))
    return seconds


def start_worker(queue: str, sink: Sink):
    from tests.support.processes import celery_worker, database_url_for_processes

    return celery_worker(
        queue=queue,
        env={
            "DATABASE_URL": database_url_for_processes(),
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(sink.port),
            "CELERY_QUEUE": queue,  # the tasks it enqueues itself go to the same queue
            "LOG_LEVEL": "WARNING",
        },
    )


def cpu_times() -> tuple[int, int]:
    """All CPUs' (total, idle) jiffies so far: how busy the machine was during a case."""
    first_line = Path("/proc/stat").read_text().split("\n", 1)[0]
    fields = [int(v) for v in first_line.split()[1:]]
    return sum(fields), fields[3] + fields[4]  # idle + iowait


def stop(workers: list) -> None:
    while workers:
        workers.pop().stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    args = parser.parse_args()
    n = args.messages
    # Stopped from outside (timeout, Ctrl-C): still stop the workers and the sink.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sink = Sink()
    workers = []
    results: dict[str, float | None] = {}
    checks: dict[str, str] = {}
    busy: dict[str, float] = {}
    try:
        with bench_database() as connection:
            from tests.support.processes import use_default_queue

            queue = f"bench-{uuid.uuid4().hex[:8]}"
            use_default_queue(queue)
            workers.append(start_worker(queue, sink))

            def case(name: str, run, *run_args) -> None:
                tag = uuid.uuid4().hex[:6]
                owner, message, clients = make_clients(n, tag)
                sink.reset()
                before = cpu_times()
                results[name] = run(*run_args, owner, message, clients)
                after = cpu_times()
                busy[name] = 1 - (after[1] - before[1]) / max(after[0] - before[0], 1)
                if results[name] is not None:
                    checks[name] = sink.check([c.email for c in clients])

            # A small run first: the worker imports, connects and warms its caches.
            owner, message, clients = make_clients(50, "warm")
            run_service(owner, message, clients)

            case("1 limit (Django SMTP backend)", lambda o, m, c: run_limit(sink, c))
            case("2 peer (post_office send_queued)", lambda o, m, c: run_post_office(sink, c))
            case("3 this service, 1 worker", run_service)
            workers.append(start_worker(queue, sink))
            owner, message, clients = make_clients(50, "warm2")
            run_service(owner, message, clients)
            case("4 this service, 2 workers", run_service)
            vendor = connection.vendor
            stop(workers)  # before the database goes: they hold connections to it
    finally:
        stop(workers)
        sink.stop()

    print(f"database: {vendor}, mail server: {sink.name}, messages: {n:,}")
    for name, seconds in results.items():
        if seconds is None:
            print(f"{name:>34}: not run (pip install -r requirements-bench.txt)")
            continue
        print(
            f"{name:>34}: {n / seconds:8.0f} msg/s  {seconds:6.2f} s  CPUs busy"
            f" {busy[name]:4.0%}  sink: {checks[name]}"
        )
    rate = {name[0]: (n / s if s else None) for name, s in results.items()}
    for (a, b), target in {("3", "1"): 0.85, ("3", "2"): 1.0, ("4", "3"): 1.4}.items():
        if rate.get(a) and rate.get(b):
            ratio = rate[a] / rate[b]
            verdict = "OK" if ratio >= target else "BELOW"
            print(f"ratio {a}/{b}: {ratio:.2f} (target {target}) {verdict}")


if __name__ == "__main__":
    main()
