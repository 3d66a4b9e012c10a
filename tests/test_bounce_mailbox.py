"""``process_bounces`` over a Maildir of real-world bounce formats (tests/data/bounces/,
written by hand after each server's documented format): exactly the deliveries the
reports name are marked; forged, foreign and non-bounce mail changes nothing and stays."""

from __future__ import annotations

import mailbox
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from mailings import bounces, dsn
from mailings.models import Client, Delivery
from tests.factories import AttemptFactory, ClientFactory, DeliveryFactory, UserFactory
from tests.support.imap import FakeIMAPServer

SAMPLES = Path(__file__).parent / "data" / "bounces"
NAMES = sorted(p.stem for p in SAMPLES.glob("*.eml"))


@pytest.fixture
def bounce_address(settings, db):
    settings.MAILINGS_BOUNCE_ADDRESS = "bounces@bounce.example.com"


def deliveries_for(names: list[str]) -> dict[str, Delivery]:
    owner = UserFactory(role="Users")
    attempt = AttemptFactory(mailing__owner=owner)
    out = {}
    for number, name in enumerate(names):
        client = ClientFactory(owner=owner, email=f"reader{number}@example.org")
        out[name] = DeliveryFactory(
            attempt=attempt, client=client, email=client.email, status="sent"
        )
    return out


def sample(name: str, delivery: Delivery) -> bytes:
    verp = bounces.verp_address(delivery.pk)
    forged = verp[: verp.index("-") + 1] + "0123456789abcdef" + verp[verp.index("@") :]
    text = (SAMPLES / f"{name}.eml").read_bytes().decode()
    return (
        text.replace("{verp}", verp)
        .replace("{rcpt}", delivery.email)
        .replace("{forged}", forged)
        .encode()
    )


def maildir_with(tmp_path: Path, deliveries: dict[str, Delivery]) -> Path:
    box = mailbox.Maildir(tmp_path / "bounces", create=True)
    for name, delivery in deliveries.items():
        box.add(sample(name, delivery))
    return tmp_path / "bounces"


def test_process_bounces_marks_exactly_the_deliveries_the_reports_name(tmp_path, bounce_address):
    deliveries = deliveries_for(NAMES)
    bystander = ClientFactory(owner=next(iter(deliveries.values())).client.owner)
    path = maildir_with(tmp_path, deliveries)
    out = StringIO()

    call_command("process_bounces", str(path), stdout=out)

    marked = dict(Delivery.objects.exclude(bounce="").values_list("pk", "bounce"))
    expected = {
        d.pk: name.split("-")[0]
        for name, d in deliveries.items()
        if name.startswith(("hard-", "soft-"))
    }
    assert marked == expected
    bounced = set(Client.objects.filter(bounced_at__isnull=False).values_list("pk", flat=True))
    assert bounced == {d.client_id for n, d in deliveries.items() if n.startswith("hard-")}
    assert bystander.pk not in bounced
    hard = deliveries["hard-postfix-user-unknown"]
    reason = Client.objects.get(pk=hard.client_id).bounce_reason
    assert "5.1.1" in reason and "User unknown" in reason
    # What was read is filed away; what could not be used stays where it was.
    box = mailbox.Maildir(path, create=False)
    left = sorted(box.get_bytes(key).decode() for key in box.iterkeys())
    assert len(left) == sum(1 for n in NAMES if n.startswith("left-"))
    assert len(box.get_folder("processed")) == len(NAMES) - len(left)
    ignored = sum(1 for n in NAMES if n.startswith("ignored-"))
    counts = f"{len(expected)} bounce(s) marked, {ignored} ignored"
    assert counts in out.getvalue()


def test_a_second_read_changes_nothing(tmp_path, bounce_address):
    deliveries = deliveries_for(["hard-postfix-user-unknown", "left-forged-verp"])
    path = maildir_with(tmp_path, deliveries)
    call_command("process_bounces", str(path), stdout=StringIO())
    client = Client.objects.get(pk=deliveries["hard-postfix-user-unknown"].client_id)
    bounces.reactivate(Client.objects.filter(pk=client.pk))  # the owner says it works again

    out = StringIO()
    call_command("process_bounces", str(path), stdout=out)

    assert "0 bounce(s) marked, 0 ignored, 1 left unread" in out.getvalue()
    assert Client.objects.get(pk=client.pk).bounced_at is None


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x00\xff\xfe not mail at all", b"Content-Type: multipart/report; boundary=\r\n\r\n--"],
)
def test_mail_no_parser_expected_is_left_alone(tmp_path, bounce_address, garbage):
    box = mailbox.Maildir(tmp_path / "box", create=True)
    box.add(garbage)

    assert dsn.process(str(tmp_path / "box")).unknown == 1
    assert len(mailbox.Maildir(tmp_path / "box", create=False)) == 1


def test_a_mailbox_that_cannot_be_read_is_a_clear_error(tmp_path, settings):
    settings.MAILINGS_BOUNCE_MAILBOX = ""
    with pytest.raises(CommandError, match="No bounce mailbox"):
        call_command("process_bounces")
    with pytest.raises(CommandError, match="cannot be read"):
        call_command("process_bounces", str(tmp_path / "missing"))
    with pytest.raises(CommandError, match="cannot be read"):
        call_command("process_bounces", "imap://nobody:secret@127.0.0.1:1/INBOX")


def test_an_imap_mailbox_is_read_the_same_way(bounce_address):
    deliveries = deliveries_for(["hard-postfix-user-unknown", "left-out-of-office"])
    with FakeIMAPServer() as server:
        for name, delivery in deliveries.items():
            server.deliver(sample(name, delivery))
        out = StringIO()

        call_command("process_bounces", server.url(), stdout=out)

        assert "1 bounce(s) marked, 0 ignored, 1 left unread" in out.getvalue()
        assert Delivery.objects.get(pk=deliveries["hard-postfix-user-unknown"].pk).bounce == "hard"
        (left,) = server.messages("INBOX")
        assert b"out of the office" in left  # what it could not use is where it was
        (moved,) = server.messages("processed")
        assert b"Undelivered Mail Returned to Sender" in moved

        with pytest.raises(CommandError, match="cannot be read"):
            call_command("process_bounces", server.url(password="wrong"), stdout=StringIO())


def test_an_imap_mail_is_deleted_only_once_copied(bounce_address):
    deliveries = deliveries_for(["hard-postfix-user-unknown"])
    with FakeIMAPServer() as server:
        (delivery,) = deliveries.values()
        server.deliver(sample("hard-postfix-user-unknown", delivery))
        server.refuse_copy = True  # a server whose "processed" folder cannot take it

        with pytest.raises(CommandError, match="cannot be read"):
            call_command("process_bounces", server.url(), stdout=StringIO())

        assert len(server.messages("INBOX")) == 1  # still there
