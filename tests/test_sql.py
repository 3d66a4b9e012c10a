"""The hand-written statements of mailings/sql.py, on the database the suite runs on (CI runs
it on SQLite and on PostgreSQL)."""

import psycopg
import pytest
from django.core.checks import Error
from django.db import connection

from blog.models import BlogIndexPage, BlogPage
from mailings import checks, queue, sql
from mailings.models import Attempt, Client, Delivery, Mailing
from tests.factories import AttemptFactory, ClientFactory, DeliveryFactory, MailingFactory

pytestmark = pytest.mark.django_db


def test_update_rows_writes_each_rows_own_values():
    first, second, third = (DeliveryFactory(tries=0) for _ in range(3))

    written = sql.update_rows(
        Delivery,
        ("status", "tries", "response"),
        [(first.pk, "sent", 1, "250 OK"), (second.pk, "failed", 2, "550 no")],
        returning="status",
    )

    assert sorted(written) == ["failed", "sent"]
    rows = {d.pk: (d.status, d.tries, d.response) for d in Delivery.objects.all()}
    assert rows == {
        first.pk: ("sent", 1, "250 OK"),
        second.pk: ("failed", 2, "550 no"),
        third.pk: ("pending", 0, ""),
    }


def test_update_rows_gives_every_row_its_own_value_when_rows_share_some():
    """A batch of results shares its moment and its status: each distinct value is prepared
    for the database once (``sql._prepared_column``), and each row still gets its own."""
    first, second, third = (DeliveryFactory() for _ in range(3))
    moment = first.attempt.scheduled_for
    other = moment.replace(year=moment.year + 1)

    sql.update_rows(
        Delivery,
        ("status", "sent_at", "smtp_code"),
        [
            (first.pk, "sent", moment, 250),
            (second.pk, "sent", moment, None),
            (third.pk, "failed", other, 550),
        ],
    )

    rows = dict(
        (pk, rest)
        for pk, *rest in Delivery.objects.values_list("pk", "status", "sent_at", "smtp_code")
    )
    assert rows == {
        first.pk: ["sent", moment, 250],
        second.pk: ["sent", moment, None],
        third.pk: ["failed", other, 550],
    }


def test_update_rows_leaves_rows_that_fail_the_condition_alone():
    pending, done = DeliveryFactory(), DeliveryFactory(status="sent")

    written = sql.update_rows(
        Delivery,
        ("status",),
        [(pending.pk, "failed"), (done.pk, "failed")],
        only_if={"status": "pending"},
        returning="status",
    )

    assert written == ["failed"]
    assert Delivery.objects.get(pk=done.pk).status == "sent"


def test_update_rows_takes_more_rows_than_one_sqlite_statement_holds():
    attempt = AttemptFactory()
    deliveries = [DeliveryFactory(attempt=attempt) for _ in range(sql.BATCH + 7)]

    written = sql.update_rows(Delivery, ("tries",), [(d.pk, 3) for d in deliveries])

    assert written == []  # nothing asked back
    assert set(Delivery.objects.values_list("tries", flat=True)) == {3}


def test_insert_rows_returns_only_the_new_rows_and_fills_defaults():
    mailing = MailingFactory()
    AttemptFactory(mailing=mailing)
    later = mailing.start_at.replace(year=mailing.start_at.year + 1)

    new = sql.insert_rows(
        Attempt, ("mailing", "scheduled_for"), [(mailing.pk, mailing.start_at), (mailing.pk, later)]
    )

    (created,) = Attempt.objects.filter(pk__in=new)
    assert created.scheduled_for == later
    assert (created.status, created.sent, created.created_at is not None) == (
        "in_progress",
        0,
        True,
    )


def test_insert_deliveries_makes_one_per_client_once_and_skips_the_unsubscribed():
    mailing = MailingFactory()
    gone = mailing.clients.first()
    Client.objects.filter(pk=gone.pk).update(unsubscribed_at=mailing.start_at)
    attempt = AttemptFactory(mailing=mailing)
    arguments = {
        "attempt_id": attempt.pk,
        "mailing_id": mailing.pk,
        "pending": "pending",
        "skipped": "skipped",
        "reasons": queue.SKIP_REASONS,
    }

    sql.insert_deliveries(**arguments)
    sql.insert_deliveries(**arguments)

    rows = dict(Delivery.objects.values_list("client_id", "status"))
    assert rows == {
        client.pk: "skipped" if client.pk == gone.pk else "pending"
        for client in mailing.clients.all()
    }


def test_claim_deliveries_leases_the_next_free_ones_in_order():
    attempt = AttemptFactory()
    deliveries = [DeliveryFactory(attempt=attempt) for _ in range(5)]
    attempt.mailing.clients.add(*(d.client for d in deliveries))
    now = attempt.scheduled_for
    Delivery.objects.filter(pk=deliveries[0].pk).update(status="sent")
    claim = {
        "attempt_id": attempt.pk,
        "mailing_id": attempt.mailing_id,
        "pending": "pending",
        "now": now,
        "limit": 2,
        "reasons": queue.SKIP_REASONS,
    }

    first = sql.claim_deliveries(**claim, until=now.replace(year=now.year + 1), returning=["email"])
    second = sql.claim_deliveries(**claim, until=now, returning=["email"])

    # RETURNING keeps no order: the queue sorts what it claimed.
    assert sorted(row[0] for row in first) == [deliveries[1].pk, deliveries[2].pk]
    assert sorted(row[0] for row in second) == [deliveries[3].pk, deliveries[4].pk]
    row = next(row for row in first if row[0] == deliveries[1].pk)
    assert row[1:] == (deliveries[1].email, deliveries[1].client.full_name, "")


def test_a_claim_and_a_renewal_say_which_clients_left():
    attempt = AttemptFactory()
    stays, unsubscribed, removed, deleted = (DeliveryFactory(attempt=attempt) for _ in range(4))
    attempt.mailing.clients.add(stays.client, unsubscribed.client, deleted.client)
    Client.objects.filter(pk=unsubscribed.client_id).update(unsubscribed_at=attempt.scheduled_for)
    Client.objects.filter(pk=deleted.client_id).delete()
    now = attempt.scheduled_for
    common = {"mailing_id": attempt.mailing_id, "pending": "pending", "reasons": queue.SKIP_REASONS}

    claimed = sql.claim_deliveries(
        attempt_id=attempt.pk, now=now, until=now, limit=10, returning=[], **common
    )
    renewed = sql.renew_deliveries(
        ids=[row[0] for row in claimed], held_until=now, until=now, **common
    )

    expected = {
        stays.pk: "",
        unsubscribed.pk: "unsubscribed",
        removed.pk: "removed from the mailing",
        deleted.pk: "client deleted",
    }
    assert {row[0]: row[-1] for row in claimed} == expected
    assert {pk: reason for pk, reason, _ in renewed} == expected
    assert all(sendable for *_, sendable in renewed)


def test_a_renewal_takes_back_nothing_another_worker_claimed_and_sees_a_pause():
    attempt = AttemptFactory()
    mine, theirs = DeliveryFactory(attempt=attempt), DeliveryFactory(attempt=attempt)
    now = attempt.scheduled_for
    later, theirs_until = now.replace(year=now.year + 1), now.replace(year=now.year + 2)
    Delivery.objects.filter(pk=theirs.pk).update(available_at=theirs_until)  # claimed since
    Delivery.objects.filter(pk=mine.pk).update(available_at=now)
    renew = {
        "ids": [mine.pk, theirs.pk],
        "mailing_id": attempt.mailing_id,
        "pending": "pending",
        "held_until": now,
        "reasons": queue.SKIP_REASONS,
    }

    (row,) = sql.renew_deliveries(**renew, until=later)
    Mailing.objects.filter(pk=attempt.mailing_id).update(is_enabled=False)
    renew["held_until"] = later
    (paused,) = sql.renew_deliveries(**renew, until=later)

    assert row[0] == mine.pk and row[2] is True
    assert paused[0] == mine.pk and paused[2] is False


def test_a_check_asks_what_a_renewal_asks_and_writes_nothing():
    attempt = AttemptFactory()
    mine, left, theirs = (DeliveryFactory(attempt=attempt) for _ in range(3))
    attempt.mailing.clients.add(mine.client, theirs.client)
    now = attempt.scheduled_for
    Delivery.objects.filter(pk__in=[mine.pk, left.pk]).update(available_at=now)
    Delivery.objects.filter(pk=theirs.pk).update(available_at=now.replace(year=now.year + 1))
    check = {
        "ids": [mine.pk, left.pk, theirs.pk],
        "mailing_id": attempt.mailing_id,
        "pending": "pending",
        "held_until": now,
        "until": None,
        "reasons": queue.SKIP_REASONS,
    }

    rows = sql.renew_deliveries(**check)
    Mailing.objects.filter(pk=attempt.mailing_id).update(is_enabled=False)
    paused = sql.renew_deliveries(**check)

    assert {pk: reason for pk, reason, _ in rows} == {
        mine.pk: "",
        left.pk: "removed from the mailing",
    }
    assert all(sendable for *_, sendable in rows)
    assert not any(sendable for *_, sendable in paused)
    assert dict(Delivery.objects.values_list("pk", "available_at")) == {
        mine.pk: now,
        left.pk: now,
        theirs.pk: now.replace(year=now.year + 1),
    }


def prepared_statements() -> set[str]:
    """The statements prepared on this connection (PostgreSQL), or none (SQLite has no such
    thing: it plans each statement as it runs it)."""
    if connection.vendor != "postgresql":
        return set()
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.parametrize("turned_on", [True, False])
def test_the_send_loops_check_and_write_are_prepared_once_on_postgresql(turned_on, monkeypatch):
    """Planned again at every flush, the check between flushes cost PostgreSQL more to plan
    than to run (issue 14). Prepared at its second use, it is then planned once per
    connection and gives the same
    answers; ``DATABASE_PREPARED_STATEMENTS=off`` (a pooler that cannot keep them) plans
    every statement again, as Django does."""
    options = {**connection.settings_dict["OPTIONS"]}
    if not turned_on:
        options.pop("prepare_threshold", None)
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
    attempt = AttemptFactory()
    mine, left = DeliveryFactory(attempt=attempt), DeliveryFactory(attempt=attempt)
    attempt.mailing.clients.add(mine.client)
    now = attempt.scheduled_for
    Delivery.objects.filter(pk__in=[mine.pk, left.pk]).update(available_at=now)
    check = {
        "ids": [mine.pk, left.pk],
        "mailing_id": attempt.mailing_id,
        "pending": "pending",
        "held_until": now,
        "until": None,
        "reasons": queue.SKIP_REASONS,
    }
    before = prepared_statements()

    answers = [sorted(sql.renew_deliveries(**check)) for _ in range(3)]
    written = [
        sql.update_rows(
            Delivery, ("tries",), [(mine.pk, n)], only_if={"status": "pending"}, returning="tries"
        )
        for n in (1, 2)
    ]

    expected = sorted([(mine.pk, "", True), (left.pk, "removed from the mailing", True)])
    assert answers == [expected] * 3
    assert written == [[1], [2]]
    new = prepared_statements() - before
    if connection.vendor == "postgresql" and turned_on:
        assert {statement.split()[0] for statement in new} == {"SELECT", "UPDATE"}, new
        assert all("$1" in statement for statement in new)  # bound on the server
    else:
        assert new == set()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_prepared_statement_outlives_a_migration_that_changes_what_it_returns(caplog):
    """A migration run while workers send (a longer ``status``) makes PostgreSQL refuse the
    statements prepared before it, on that connection, for good ("cached plan must not
    change result type"). The statement is deallocated and asked again, once. SQLite plans
    each statement anew: the same schema change is simply taken."""
    delivery = DeliveryFactory()
    status = Delivery._meta.get_field("status")

    def write(tries):
        return sql.update_rows(Delivery, ("tries",), [(delivery.pk, tries)], returning="status")

    assert [write(1), write(2)] == [["pending"], ["pending"]]  # prepared at the second
    if connection.vendor == "postgresql":
        params = connection.get_connection_params()
        other = {k: params[k] for k in ("dbname", "user", "host", "port") if params.get(k)}
        alter = "ALTER TABLE mailings_delivery ALTER COLUMN status TYPE varchar({})"
        with psycopg.connect(**other, autocommit=True) as migration:
            migration.execute(alter.format(status.max_length + 1))
            try:
                assert write(3) == ["pending"]
                assert write(4) == ["pending"]
                last = 4
            finally:
                migration.execute(alter.format(status.max_length))
        assert "deallocated after a schema change" in caplog.text
    else:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE mailings_delivery ADD COLUMN extra integer")
            assert write(3) == ["pending"]
            last = 3
            cursor.execute("ALTER TABLE mailings_delivery DROP COLUMN extra")
    assert Delivery.objects.get(pk=delivery.pk).tries == last


def test_increment_returning_counts_atomically_and_knows_a_missing_row(home):
    index = home.add_child(instance=BlogIndexPage(title="Blog", slug="blog"))
    post = index.add_child(instance=BlogPage(title="P", slug="p", body="<p>x</p>"))

    assert sql.increment_returning(BlogPage, post.pk, "view_count") == 1
    assert sql.increment_returning(BlogPage, post.pk, "view_count") == 2
    assert sql.increment_returning(BlogPage, 10**9, "view_count") is None


def test_joined_ids_are_one_string_in_order_and_their_count():
    mailing, other = MailingFactory(), MailingFactory()
    clients = ClientFactory.create_batch(3, owner=mailing.owner)
    mailing.clients.add(clients[2], clients[0], clients[1])
    other.clients.add(ClientFactory(owner=other.owner))
    links = Mailing.clients.through.objects.filter(mailing=mailing)
    text, count = sql.joined_ids(links, "client")
    chosen = sorted(links.values_list("client_id", flat=True))
    assert {c.pk for c in clients} <= set(chosen) and len(chosen) >= 3
    assert (text, count) == (",".join(map(str, chosen)), len(chosen))
    assert sql.joined_ids(links.filter(client__in=[]), "client") == ("", 0)
    assert sql.joined_ids(links.none(), "client") == ("", 0)


def test_another_database_is_refused_with_a_clear_error(monkeypatch):
    monkeypatch.setattr(connection, "vendor", "mysql")

    with pytest.raises(sql.UnsupportedDatabaseError, match="PostgreSQL and SQLite only, not mysql"):
        sql.update_rows(Mailing, ("status",), [(1, "running")])


def test_an_old_sqlite_is_refused_at_start_up(monkeypatch):
    assert checks.check_sqlite_version() == []
    monkeypatch.setattr(checks.sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(checks.sqlite3, "sqlite_version", "3.31.1")

    (error,) = checks.check_sqlite_version()

    assert isinstance(error, Error) and error.id == "mailings.E001"
    assert "3.31.1" in error.msg and "3.35" in error.msg


def test_a_lease_too_short_to_renew_in_time_is_refused_at_start_up(settings):
    settings.MAILINGS_LEASE_SECONDS = 15  # the default: the keeper renews it whatever the
    settings.EMAIL_TIMEOUT = 60  # mail server makes the send loop wait for
    assert checks.check_lease_is_renewable() == []

    settings.MAILINGS_LEASE_SECONDS = 5
    (error,) = checks.check_lease_is_renewable()

    assert error.id == "mailings.E002"
    assert "MAILINGS_LEASE_SECONDS=5" in error.msg and "at least 6" in error.msg


def test_the_client_search_is_answered_from_trigram_indexes_on_postgresql():
    """Issue 25: ``icontains`` over addresses, names and comments read every client. On
    PostgreSQL each column has a trigram index the planner uses for Django's own expression
    (``UPPER(…) LIKE UPPER(…)``); SQLite has none, and the migration leaves it alone."""
    from django.db.models import Q

    from mailings.models import Client

    search = Client.objects.filter(
        Q(email__icontains="ann") | Q(full_name__icontains="ann") | Q(comment__icontains="ann")
    )
    sql, params = search.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            used = {name for name in ("email", "name", "comment") if f"client_{name}_trgm" in plan}
            assert used == {"email", "name", "comment"}, plan
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE name LIKE '%trgm%'")
            assert cursor.fetchall() == []
