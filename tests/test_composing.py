"""The fast message builder gives what Django's EmailMessage gives, parsed header by header."""

from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from django.core.mail import EmailMessage

from mailings.composing import MessageBuilder

LINK = "http://localhost:8000/unsubscribe/eyJhIjoxfQ:1vNz7o:abcdefghijklmnopqrstuvwxyz0123456789/"
CASES = {
    "ascii": ("Autumn news", "Hello Ann,\nour news.\n"),
    "cyrillic": ("Новости осени для Анны", "Здравствуйте, Анна!\nНаши новости.\n"),
    "long subject": ("Word " * 40, "Short body.\n"),
    "long cyrillic subject": ("Слово " * 40, "Тело.\n"),
    "long line": ("Long line", "x" * 1200 + "\nnext line é\n"),
    "leading dots": ("Dots", ".hidden\n..two\nend\n"),
    "crlf body": ("Endings", "one\r\ntwo\rthree\n"),
    "encoded-word look-alike": ("=?utf-8?q?not_encoded?=", "body\n"),
}


def django_bytes(subject, body, *, sender, to, headers):
    email = EmailMessage(subject=subject, body=body, from_email=sender, to=[to], headers=headers)
    return email.message().as_bytes(linesep="\r\n")


def parse(raw: bytes):
    return message_from_bytes(raw, policy=default_policy)


@pytest.mark.parametrize("sender", ["Shop <news@shop.example>", "Магазин <news@shop.example>"])
@pytest.mark.parametrize("case", CASES)
def test_the_builder_matches_django(case, sender, settings):
    subject, body = CASES[case]
    headers = {
        "Message-ID": "<mailing.d1.a2@shop.example>",
        "List-Unsubscribe": f"<{LINK}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    to = "ann.reader@example.org"

    ours_raw = MessageBuilder(sender=sender).build(
        to=to, subject=subject, body=body, headers=headers
    )
    ours = parse(ours_raw)
    django = parse(django_bytes(subject, body, sender=sender, to=to, headers=headers))

    for name in (
        "Subject",
        "From",
        "To",
        "Message-ID",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
    ):
        assert str(ours[name]).strip() == str(django[name]).strip(), name
    assert ours["Date"] is not None
    assert ours.get_content() == django.get_content()
    assert all(len(line) <= 998 for line in ours_raw.split(b"\r\n"))
    assert b"\n" not in ours_raw.replace(b"\r\n", b"")  # CRLF only


def test_an_address_with_a_name_or_non_ascii_domain_goes_through_djangos_sanitizer():
    raw = MessageBuilder(sender="news@shop.example").build(
        to="ann@bücher.example", subject="S", body="B\n", headers={}
    )

    assert parse(raw)["To"] == "ann@xn--bcher-kva.example"


@pytest.mark.parametrize("value", ["Evil\r\nBcc: x@evil.example", "Evil\nBcc: x@evil.example"])
def test_a_header_value_with_a_line_break_is_refused(value):
    builder = MessageBuilder(sender="news@shop.example")

    with pytest.raises(ValueError, match="line break"):
        builder.build(to="a@example.org", subject=value, body="B", headers={})


@pytest.mark.parametrize(
    ("message", "payload"),
    [
        (b"", b"\r\n.\r\n"),
        (b"one line", b"one line\r\n.\r\n"),
        (b"a\r\nb\r\n", b"a\r\nb\r\n.\r\n"),
        (b"bare\nline feeds\rand returns\n", b"bare\r\nline feeds\r\nand returns\r\n.\r\n"),
        (b".starts with a dot\r\n", b"..starts with a dot\r\n.\r\n"),
        (b"a\r\n.\r\n..b\r\n", b"a\r\n..\r\n...b\r\n.\r\n"),
        (b"a\r\n\r\n", b"a\r\n\r\n.\r\n"),
    ],
)
def test_the_data_payload_has_crlf_lines_doubled_leading_dots_and_the_final_dot(message, payload):
    from mailings.smtp import _dot_stuffed

    assert _dot_stuffed(message) == payload
