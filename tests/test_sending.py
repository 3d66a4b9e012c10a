"""The sending engine against a real SMTP server on loopback that misbehaves on demand.

Every run here goes through the engine's own functions (prepare, work, dispatch) in this
process; tests/test_workers.py does the same through real worker processes."""

from collections import Counter
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from django.utils import timezone

from mailings import ledger, queue, replies, sending, services
from mailings.ledger import Step
from mailings.models import Attempt, Delivery
from tests.factories import AttemptFactory, ClientFactory, MailingFactory, UserFactory
from tests.support.runs import breaker_cools_down, run_until_done, time_passes

pytestmark = pytest.mark.django_db


def make_run(recipients=200, **client_fields):
    owner = UserFactory(role="Users")
    clients = [
        ClientFactory(owner=owner, email=f"client{i}@example.org", **client_fields)
        for i in range(recipients)
    ]
    mailing = MailingFactory(owner=owner, clients=clients, start_at=timezone.now())
    return AttemptFactory(mailing=mailing), clients


def test_a_run_sends_each_client_exactly_once(faulty_smtp):
    attempt, clients = make_run(200)

    done = run_until_done(attempt.pk)

    assert done.status == Attempt.Status.SUCCESS
    assert (done.total, done.sent, done.failed) == (200, 200, 0)
    assert all(faulty_smtp.accepted[c.email] == 1 for c in clients)
    assert Delivery.objects.filter(attempt=attempt, status="sent", smtp_code=250).count() == 200


def test_running_a_finished_run_again_sends_nothing(faulty_smtp):
    attempt, _ = make_run(30)
    run_until_done(attempt.pk)

    sending.prepare(attempt.pk)
    assert sending.work(attempt.pk) == Step.DONE

    assert sum(faulty_smtp.accepted.values()) == 30
    assert Delivery.objects.filter(attempt=attempt).count() == 30


def test_unsubscribed_clients_are_skipped(faulty_smtp):
    attempt, clients = make_run(5)
    clients[0].unsubscribed_at = timezone.now()
    clients[0].save()

    done = run_until_done(attempt.pk)

    assert (done.sent, done.skipped) == (4, 1)
    assert faulty_smtp.accepted[clients[0].email] == 0


def test_each_message_is_personalised_with_unsubscribe_headers(faulty_smtp, client):
    attempt, clients = make_run(2)
    message = attempt.mailing.message
    message.subject = "News for {full_name}"
    message.body = "Dear {full_name} ({email}), leave here: {unsubscribe_url}"
    message.save()

    run_until_done(attempt.pk)

    parsed = [message_from_bytes(raw, policy=default_policy) for raw in faulty_smtp.messages]
    by_to = {m["To"]: m for m in parsed}
    first = by_to[clients[0].email]
    assert first["Subject"] == f"News for {clients[0].full_name}"
    body = first.get_content()
    assert f"Dear {clients[0].full_name} ({clients[0].email})" in body
    link = str(first["List-Unsubscribe"]).strip().strip("<>")
    assert link in body
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["Message-ID"]

    path = link.split("://", 1)[1].split("/", 1)[1]
    response = client.post(
        "/" + path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    clients[0].refresh_from_db()
    assert clients[0].unsubscribed_at is not None
    clients[1].refresh_from_db()
    assert clients[1].unsubscribed_at is None


def test_a_name_with_line_breaks_cannot_add_headers(faulty_smtp):
    attempt, _ = make_run(1, full_name="Eve\r\nBcc: spy@evil.example")
    attempt.mailing.message.subject = "Hi {full_name}"
    attempt.mailing.message.save()

    run_until_done(attempt.pk)

    (raw,) = faulty_smtp.messages
    parsed = message_from_bytes(raw, policy=default_policy)
    assert parsed["Bcc"] is None
    assert "\n" not in parsed["Subject"]
    assert sum(faulty_smtp.accepted.values()) == 1


def test_counts_a_worker_adds_after_another_ended_the_run_are_not_added_twice():
    # Two workers on one run: one writes its last results but has not added them to the
    # run's counts yet, the other finds nothing left and ends the run with a recount.
    attempt, _ = make_run(5)
    sending.prepare(attempt.pk)
    late = ledger.Tally()
    claimed = queue.claim(attempt, now=timezone.now(), limit=100).deliveries
    sent = replies.Outcome(replies.SENT, 250, "250 OK")
    ledger.record([ledger.Result(d.pk, sent, 1) for d in claimed], late)

    assert ledger.finish_or_wait(attempt.pk) == Step.DONE
    late.add_to(attempt.pk)

    done = Attempt.objects.get(pk=attempt.pk)
    assert (done.status, done.total, done.sent, done.failed) == ("success", 5, 5, 0)
    assert done.server_response == "250 all messages accepted"


def test_a_run_with_a_failure_ends_as_failure_with_the_last_reply():
    attempt, _ = make_run(3)
    sending.prepare(attempt.pk)
    tally = ledger.Tally()
    first, second, third = queue.claim(attempt, now=timezone.now(), limit=100).deliveries
    refused = replies.Outcome(replies.PERMANENT, 550, "550 No such user")
    sent = replies.Outcome(replies.SENT, 250, "250 OK")
    results = [ledger.Result(first.pk, sent, 1), ledger.Result(second.pk, refused, 1)]
    ledger.record([*results, ledger.Result(third.pk, sent, 1)], tally)
    tally.add_to(attempt.pk)

    assert ledger.finish_or_wait(attempt.pk) == Step.DONE

    done = Attempt.objects.get(pk=attempt.pk)
    assert (done.status, done.sent, done.failed) == ("failure", 2, 1)
    assert done.server_response == "permanent: 550 550 No such user"


def test_a_5xx_fails_that_recipient_only(faulty_smtp):
    attempt, clients = make_run(20)
    faulty_smtp.reject = {clients[3].email, clients[7].email}

    done = run_until_done(attempt.pk)

    assert (done.sent, done.failed) == (18, 2)
    assert done.status == Attempt.Status.FAILURE
    failed = Delivery.objects.get(attempt=attempt, client=clients[3])
    assert failed.status == "failed"
    assert failed.smtp_code == 550
    assert "No such user" in failed.response
    assert "550" in done.server_response


def test_a_message_refused_after_its_final_dot_fails_alone(faulty_smtp):
    # With PIPELINING the next message's envelope is already on its way when the refusal
    # comes; it must still go out, once.
    attempt, clients = make_run(20)
    refused = {clients[3].email, clients[4].email, clients[19].email}
    faulty_smtp.reject_data = refused

    done = run_until_done(attempt.pk)

    assert (done.sent, done.failed) == (17, 3)
    delivery = Delivery.objects.get(attempt=attempt, client=clients[4])
    assert (delivery.status, delivery.smtp_code, delivery.tries) == ("failed", 554, 1)
    assert "refused for its content" in delivery.response
    expected = [0 if c.email in refused else 1 for c in clients]
    assert [faulty_smtp.accepted[c.email] for c in clients] == expected


def test_with_pipelining_each_message_costs_one_round_trip(faulty_smtp):
    attempt, _ = make_run(60)

    run_until_done(attempt.pk)

    assert sum(faulty_smtp.accepted.values()) == 60
    if faulty_smtp.pipelining:
        # The greeting's EHLO, the first envelope and QUIT; every other envelope travels
        # with the message before it.
        assert faulty_smtp.turns <= 60 + 5
    else:
        assert faulty_smtp.turns >= 4 * 60  # MAIL, RCPT, DATA and the message: a turn each


def test_a_greylisting_4xx_is_retried_later_and_sent_once(faulty_smtp):
    attempt, clients = make_run(10)
    faulty_smtp.greylist = {clients[2].email}

    done = run_until_done(attempt.pk)

    assert done.sent == 10
    delivery = Delivery.objects.get(attempt=attempt, client=clients[2])
    assert (delivery.status, delivery.tries) == ("sent", 2)
    assert faulty_smtp.accepted[clients[2].email] == 1


FAULTS = {
    "refuse": "connection refused",
    "slow": "timed out",
    "nonsense": "not an smtp reply",
    "421": "421",
    "451": "451",
    "drop_in_data": "dropped",
}


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_matrix_every_recipient_gets_exactly_one_message(
    faulty_smtp, client, fault, settings
):
    # Backoff long enough that nothing is retried while the fault lasts, however slow the
    # machine; the test then lets the time pass instead of waiting for it.
    settings.MAILINGS_RETRY_BASE_DELAY = settings.MAILINGS_RETRY_MAX_DELAY = 600
    attempt, clients = make_run(200)
    faulty_smtp.set_mode(fault)

    sending.prepare(attempt.pk)
    state = sending.work(attempt.pk, budget=30)

    during = Attempt.objects.get(pk=attempt.pk)
    assert state == Step.LATER
    assert during.status == Attempt.Status.IN_PROGRESS
    assert FAULTS[fault] in during.server_response.lower()
    assert client.get("/healthz").status_code == 200

    faulty_smtp.set_mode("ok")
    time_passes(attempt)
    done = run_until_done(attempt.pk)

    assert done.status == Attempt.Status.SUCCESS, done.server_response
    assert done.sent == 200
    assert [faulty_smtp.accepted[c.email] for c in clients] == [1] * 200


def test_a_silent_server_after_the_final_dot_is_not_sent_again(faulty_smtp):
    attempt, clients = make_run(3)
    faulty_smtp.set_mode("hang_after_data")

    sending.prepare(attempt.pk)
    sending.work(attempt.pk, budget=1)
    faulty_smtp.set_mode("ok")
    done = run_until_done(attempt.pk)

    (ambiguous,) = Delivery.objects.filter(attempt=attempt, status="failed")
    assert "unknown outcome" in ambiguous.response
    assert [faulty_smtp.accepted[c.email] for c in clients] == [1, 1, 1]
    assert done.sent == 2


def test_a_server_that_keeps_failing_opens_the_circuit(faulty_smtp, settings):
    settings.MAILINGS_BREAKER_THRESHOLD = 2
    settings.MAILINGS_BREAKER_COOLDOWN = 600  # it cools down when the test says so
    attempt, _ = make_run(5)
    faulty_smtp.set_mode("421")
    sending.prepare(attempt.pk)

    for _ in range(2):
        assert sending.work(attempt.pk) == Step.LATER
        time_passes(attempt)
    tried = faulty_smtp.connections
    assert sending.work(attempt.pk) == Step.LATER  # open: no connection at all
    assert faulty_smtp.connections == tried

    faulty_smtp.set_mode("ok")
    breaker_cools_down()  # one probe goes through and closes the circuit
    done = run_until_done(attempt.pk)
    assert done.sent == 5


def test_the_rate_limit_holds(faulty_smtp, settings):
    settings.MAILINGS_RATE_LIMIT = 20
    attempt, _ = make_run(50)

    run_until_done(attempt.pk)

    # The limit counts whole clock seconds, as providers' quotas do; the server sees each
    # message a moment after the limiter let it go, so a window may gain one or two.
    stamps = sorted(faulty_smtp.accepted_at)
    per_second = Counter(int(stamp) for stamp in stamps)
    assert len(stamps) == 50
    assert max(per_second.values()) <= 22
    assert stamps[-1] - stamps[0] > 1.0  # 50 messages at 20 a second span three windows


def test_retry_failed_sends_only_the_failed_ones_once(faulty_smtp, client):
    attempt, clients = make_run(10)
    # Refused for the message, not the address (a 5.1.1 would bounce the client: a retry
    # skips bounced clients, tests/test_audiences.py).
    faulty_smtp.reject_data = {clients[1].email, clients[4].email}
    done = run_until_done(attempt.pk)
    assert (done.sent, done.failed) == (8, 2)
    faulty_smtp.reject_data = set()
    client.force_login(attempt.mailing.owner)

    page = client.get(f"/admin/mailings/attempts/inspect/{attempt.pk}/").content.decode()
    assert f"/admin/mailings/attempts/retry-failed/{attempt.pk}/" in page
    client.post(f"/admin/mailings/attempts/retry-failed/{attempt.pk}/")
    again = run_until_done(attempt.pk)
    client.post(f"/admin/mailings/attempts/retry-failed/{attempt.pk}/")  # none failed now
    assert services.attempt_retry_failed(attempt=again, by=None) == 0
    run_until_done(attempt.pk)

    assert (again.status, again.sent, again.failed) == ("success", 10, 0)
    assert [faulty_smtp.accepted[c.email] for c in clients] == [1] * 10


def test_only_the_owner_may_retry_failed(faulty_smtp, client):
    attempt, clients = make_run(3)
    faulty_smtp.reject = {clients[0].email}
    run_until_done(attempt.pk)
    for intruder in (UserFactory(role="Users"), UserFactory(role="Managers")):
        client.force_login(intruder)
        response = client.post(f"/admin/mailings/attempts/retry-failed/{attempt.pk}/")
        assert response.status_code == 404
    assert Delivery.objects.filter(attempt=attempt, status="failed").count() == 1


def test_a_test_mail_is_the_mail_a_run_sends(faulty_smtp):
    # "Send a test to me" goes through the engine's builder and SMTP session: the same
    # headers and body as a client's message, unsubscribe link aside (a test has no client).
    attempt, (reader,) = make_run(1)
    message = attempt.mailing.message
    message.subject = "News for {full_name}"
    message.body = "Dear {full_name} ({email}), leave here: {unsubscribe_url}"
    message.save()
    run_until_done(attempt.pk)

    result = sending.send_test(message=message, to=reader.email, full_name=reader.full_name)

    assert result.ok, result.detail
    real, test = (message_from_bytes(raw, policy=default_policy) for raw in faulty_smtp.messages)
    assert sorted(real.keys()) == sorted(test.keys())
    for name in ("Subject", "From", "To", "List-Unsubscribe-Post", "Content-Type"):
        assert real[name] == test[name], name
    real_link, test_link = (str(m["List-Unsubscribe"]).strip("<>") for m in (real, test))
    assert real.get_content().replace(real_link, "") == test.get_content().replace(test_link, "")


def test_a_test_mail_fails_as_a_run_would(faulty_smtp):
    faulty_smtp.set_mode("refuse")
    message = MailingFactory().message

    result = sending.send_test(message=message, to="me@example.org", full_name="Me")

    assert not result.ok
    assert result.detail.startswith("temporary: connection refused")
