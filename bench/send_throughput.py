"""Benchmark: sending throughput against the limit and the peer, side by side in one run.

The same N personalised messages (a name and an unsubscribe link filled in per recipient) go
to the same mail server (Postfix's smtp-sink when installed, else aiosmtpd) sent by:

  1. the limit: Django's SMTP backend over one connection, messages built in memory, no DB;
  2. the peer: django-post_office's send_queued, one process, after queueing the messages;
  3. this service: one run through ``send_attempt`` with one Celery worker process, the
     ledger written to the database;
  4. this service with two worker processes sharing the run;
  5. as 3, the message composed of blocks (a heading, text, an image, a button, a divider and
     a blog post with its image): multipart/alternative, text and HTML filled per recipient.

The five cases run in rounds (default 5), so that whatever else the machine does at one
moment touches every case alike. It prints messages per second for each (best, median, every
round), the CPU each kind of process used, the ratios 3/1, 3/2 and 4/3 (median to median),
and checks that the sink received every message exactly once in every round of every case.
It also measures what a second process can add on this machine at all: the workers' own CPU
work (fill, sign, build) done by one process and by two at once.

    .venv/bin/pip install -r requirements-bench.txt     # django-post_office, for case 2
    .venv/bin/python bench/send_throughput.py [--messages 5000] [--rounds 5]

Runs on PostgreSQL and Redis (a throw-away ``test_`` database; DATABASE_URL and REDIS_URL
default to the local servers). Targets (issue 8): 3/1 >= 0.85, 3/2 >= 1.0, 4/3 >= 1.4;
(issue 17) 5/3 >= 0.8.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
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


def make_clients(n: int, tag: str, content=None):
    from mailings.models import Client, Message
    from tests.factories import UserFactory

    owner = UserFactory()
    if content is None:
        message = Message.objects.create(owner=owner, subject=SUBJECT, body=BODY)
    else:
        message = Message.objects.create(owner=owner, subject=SUBJECT, content=content)
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
    Email.objects.all().delete()  # the previous round's
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
        mailing=mailing, scheduled_for=now, available_at=now + timedelta(minutes=10)
    )
    started = timezone.now()
    tasks.send_attempt.delay(attempt.pk)
    # The run's end is the worker's own finished_at stamp (same clock), so this loop can
    # look rarely: polling fast would take CPU from the workers it is timing.
    run = Attempt.objects.filter(pk=attempt.pk)
    while run.values_list("status", flat=True).get() == Attempt.Status.IN_PROGRESS:
        if timezone.now() - started > timedelta(minutes=10):
            raise RuntimeError("the run did not finish in 10 minutes")
        time.sleep(0.2)
    attempt.refresh_from_db()
    seconds = (attempt.finished_at - started).total_seconds()
    assert attempt.status == Attempt.Status.SUCCESS, (attempt.status, attempt.server_response)
    assert attempt.sent == len(clients), (attempt.sent, len(clients))
    return seconds


def compose_many(n: int) -> None:
    """The worker's own CPU work for n messages, without any I/O: fill, sign, build."""
    from mailings import composing
    from mailings.unsubscribe import Tokens

    builder, tokens = composing.MessageBuilder(sender=SENDER), Tokens()
    for i in range(n):
        email = f"r{i}@example.org"
        values = composing.recipient_values(
            full_name=f"Reader Number {i}", email=email, unsubscribe_url=tokens.for_client(i)
        )
        rendered = composing.render(subject=SUBJECT, body=BODY, values=values)
        builder.build(to=email, subject=rendered.subject, body=rendered.body, headers={})


def machine_scaling(n: int = 10000) -> float:
    """What a second process adds on this machine: the same CPU-bound Python work
    (``compose_many``) done by one process, then by two at once; 2.0 on two free cores.
    Two vCPUs that share a physical core or its caches give much less, and no pair of
    processes sharing them, the two workers included, can do better than that."""
    import multiprocessing

    context = multiprocessing.get_context("fork")

    def timed(processes: int) -> float:
        started = time.perf_counter()
        children = [context.Process(target=compose_many, args=(n,)) for _ in range(processes)]
        for child in children:
            child.start()
        for child in children:
            child.join()
        return time.perf_counter() - started

    timed(1)  # warm
    one = two = 0.0
    for _ in range(2):  # alternated: a moment's noise on the machine touches both
        one += timed(1)
        two += timed(2)
    return 2 * one / two


def start_worker(queue: str, sink: Sink, name: str = "worker"):
    from tests.support.processes import celery_worker, database_url_for_processes, wait_until

    worker = celery_worker(
        queue=queue,
        name=name,
        env={"DATABASE_URL": database_url_for_processes(), "LOG_LEVEL": "WARNING"},
        settings={"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": sink.port},
    )
    if not wait_until(lambda: " ready." in worker.output(), timeout=60):
        raise RuntimeError(f"worker {name} did not start:\n{worker.output()}")
    return worker


def consume(queue: str, worker_name: str, *, on: bool) -> None:
    """Let a running worker take tasks from the queue, or stop it from taking any: case 3
    runs with one worker, case 4 with both, and the second stays warm in between."""
    import socket

    from site_config.celery import app

    destination = [f"{worker_name}@{socket.gethostname()}"]
    control = app.control.add_consumer if on else app.control.cancel_consumer
    replies = control(queue, destination=destination, reply=True, timeout=10)
    if not replies:
        raise RuntimeError(f"worker {worker_name} did not answer")


def cpu_times() -> tuple[int, int]:
    """All CPUs' (total, idle) jiffies so far: how busy the machine was during a case."""
    first_line = Path("/proc/stat").read_text().split("\n", 1)[0]
    fields = [int(v) for v in first_line.split()[1:]]
    return sum(fields), fields[3] + fields[4]  # idle + iowait


ROLES = (("smtp-sink", "sink"), ("celery", "workers"), ("postgres", "database"), ("redis", "redis"))


def cpu_by_process() -> dict[int, tuple[str, float]]:
    """Each process's role (this script is 'bench') and CPU seconds used so far."""
    processes = {}
    tick = os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()
        used = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        role = next((r for key, r in ROLES if key in command), "other")
        processes[int(proc.name)] = ("bench" if int(proc.name) == os.getpid() else role, used)
    return processes


def cpu_by_role(before: dict, after: dict) -> Counter:
    """CPU seconds each role used between two ``cpu_by_process`` readings (a process that
    ended in between is not counted), to show where a case's time goes."""
    seconds: Counter = Counter()
    for pid, (role, used) in after.items():
        seconds[role] += used - before.get(pid, (role, 0.0))[1]
    return seconds


def stop(workers: list) -> None:
    while workers:
        workers.pop().stop()


CASES = {
    "1": "limit (Django SMTP backend)",
    "2": "peer (post_office send_queued)",
    "3": "this service, 1 worker",
    "4": "this service, 2 workers",
    "5": "this service, 1 worker, HTML",
}
TARGETS = {("3", "1"): 0.85, ("3", "2"): 1.0, ("4", "3"): 1.4, ("5", "3"): 0.8}


def composed_content():
    """Every kind of block (tests/support/composed.py), with an image and a published post."""
    from blog.models import BlogIndexPage
    from home.models import HomePage
    from tests.support.composed import cover_image, every_block, published_post

    index = HomePage.objects.get().add_child(instance=BlogIndexPage(title="Blog", slug="blog"))
    index.save_revision().publish()
    image = cover_image()
    return every_block(image, published_post(index, image))


@dataclass
class Case:
    seconds: list[float] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)
    cpu: Counter = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)  # sink checks that failed

    def rates(self, n: int) -> list[float]:
        return [n / seconds for seconds in self.seconds]


def measure(sink, workers, cases, scaling, n, rounds) -> None:
    from tests.support.processes import use_default_queue

    queue = f"bench-{uuid.uuid4().hex[:8]}"
    use_default_queue(queue)
    workers += [start_worker(queue, sink, "first"), start_worker(queue, sink, "second")]
    runners = {
        "1": lambda o, m, c: run_limit(sink, c),
        "2": lambda o, m, c: run_post_office(sink, c),
        "3": run_service,
        "4": run_service,
        "5": run_service,
    }
    content = composed_content()

    def case(key: str) -> None:
        owner, message, clients = make_clients(
            n, uuid.uuid4().hex[:6], content if key == "5" else None
        )
        sink.reset()
        before, processes_before = cpu_times(), cpu_by_process()
        seconds = runners[key](owner, message, clients)
        after, processes_after = cpu_times(), cpu_by_process()
        if seconds is None:
            return  # the peer is not installed
        result = cases[key]
        result.seconds.append(seconds)
        result.busy.append(1 - (after[1] - before[1]) / max(after[0] - before[0], 1))
        result.cpu.update(cpu_by_role(processes_before, processes_after))
        check = sink.check([c.email for c in clients])
        if not check.endswith("once each"):
            result.wrong.append(check)

    # Small runs first: the workers import, connect and warm their caches.
    for _ in range(2):
        run_service(*make_clients(50, uuid.uuid4().hex[:6]))
    # Rounds of all five cases, so that whatever else the machine does at one moment
    # touches every case alike.
    for _ in range(rounds):
        case("1")
        case("2")
        scaling.append(machine_scaling())
        consume(queue, "second", on=False)
        case("3")
        case("5")
        consume(queue, "second", on=True)
        case("4")
        scaling.append(machine_scaling())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n = args.messages
    # Stopped from outside (timeout, Ctrl-C): still stop the workers and the sink.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sink = Sink()
    workers = []
    cases = {key: Case() for key in CASES}
    scaling: list[float] = []
    try:
        with bench_database() as connection:
            try:
                measure(sink, workers, cases, scaling, n, args.rounds)
            finally:
                stop(workers)  # before the database goes: they hold connections to it
            vendor = connection.vendor
    finally:
        stop(workers)
        sink.stop()
    report(vendor, sink.name, n, args.rounds, cases, scaling)


def report(vendor, sink_name, n, rounds, cases, scaling) -> None:
    print(f"database: {vendor}, mail server: {sink_name}, messages: {n:,}, rounds: {rounds}")
    print("messages per second: best, median (every round); CPUs busy; sink")
    for key, result in cases.items():
        name = f"{key} {CASES[key]}"
        if not result.seconds:
            print(f"{name:>34}: not run (pip install -r requirements-bench.txt)")
            continue
        rates = result.rates(n)
        every = ", ".join(f"{rate:.0f}" for rate in rates)
        sink = "; ".join(result.wrong) or f"{n} received once each, every round"
        print(
            f"{name:>34}: {max(rates):6.0f} {statistics.median(rates):6.0f} ({every})"
            f"  {statistics.mean(result.busy):4.0%}  {sink}"
        )
    print("CPU seconds per 1,000 messages, by process (mean of the rounds):")
    for key, result in cases.items():
        if result.seconds:
            per = 1000 / n / len(result.seconds)
            parts = "  ".join(
                f"{role} {result.cpu[role] * per:4.2f}" for role in sorted(result.cpu)
            )
            print(f"{key + ' ' + CASES[key]:>34}: {parts}")
    print(
        f"machine: two processes do {statistics.median(scaling):.2f}x the CPU-bound work of one"
        f" (median; {min(scaling):.2f} to {max(scaling):.2f}); two free cores give 2.0"
    )
    for (a, b), target in TARGETS.items():
        if cases[a].seconds and cases[b].seconds:
            best = max(cases[a].rates(n)) / max(cases[b].rates(n))
            median = statistics.median(cases[a].rates(n)) / statistics.median(cases[b].rates(n))
            verdict = "OK" if median >= target else "BELOW"
            print(
                f"ratio {a}/{b}: {median:.2f} median to median (target {target}) {verdict};"
                f" {best:.2f} best to best"
            )


if __name__ == "__main__":
    main()
