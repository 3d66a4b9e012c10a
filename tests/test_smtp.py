"""The SMTP reply and error classification, without a server: the table at the top of
mailings/smtp.py, case by case."""

import smtplib
import ssl

import pytest

from mailings import replies, smtp


@pytest.mark.parametrize(
    ("code", "per_recipient", "kind"),
    [
        (550, True, replies.PERMANENT),  # no such user: that recipient only
        (554, True, replies.PERMANENT),
        (550, False, replies.FATAL),  # to MAIL FROM or AUTH: nothing can go out
        (451, True, replies.TEMPORARY),  # greylisting: that recipient, later
        (452, True, replies.TEMPORARY),
        (421, True, replies.TEMPORARY_CONNECTION),  # the server is closing the session
        (451, False, replies.TEMPORARY_CONNECTION),
        (None, True, replies.TEMPORARY_CONNECTION),
        (-1, False, replies.TEMPORARY_CONNECTION),  # smtplib's "no reply"
        (999, True, replies.TEMPORARY_CONNECTION),
        (150, True, replies.TEMPORARY_CONNECTION),
    ],
)
def test_a_reply_code_is_classified(code, per_recipient, kind):
    assert replies.classify_code(code, "text", per_recipient=per_recipient).kind == kind


def test_a_reply_that_is_no_smtp_says_so():
    assert replies.classify_code(None, "", per_recipient=True).reply == "no SMTP reply"
    nonsense = replies.classify_code(999, "HTTP/1.1 400", per_recipient=True)
    assert (nonsense.code, nonsense.reply) == (999, "not an SMTP reply: HTTP/1.1 400")
    assert replies.classify_code(-1, "", per_recipient=True).code is None


def timed_out_while_reading() -> smtplib.SMTPServerDisconnected:
    # What smtplib raises when a read times out: the timeout is only the context.
    error = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
    error.__context__ = TimeoutError("timed out")
    return error


@pytest.mark.parametrize(
    ("error", "kind", "words"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "temporary-connection", "refused"),
        (TimeoutError("timed out"), "temporary-connection", "timed out"),
        (TimeoutError("timed out"), "temporary-connection", "timed out"),
        (timed_out_while_reading(), "temporary-connection", "timed out"),
        (smtplib.SMTPServerDisconnected("gone"), "temporary-connection", "dropped"),
        (ssl.SSLError("bad record"), "temporary-connection", "TLS"),
        (OSError("network unreachable"), "temporary-connection", "OSError"),
        (smtplib.SMTPResponseException(554, b"Access denied"), "fatal", "Access denied"),
        (smtplib.SMTPResponseException(421, b"Try later"), "temporary-connection", "Try later"),
    ],
)
def test_an_error_is_classified(error, kind, words):
    outcome = replies.classify_exception(error)

    assert outcome.kind == kind
    assert words in outcome.reply


def test_a_programming_error_is_not_taken_for_a_server_failure():
    with pytest.raises(KeyError):
        replies.classify_exception(KeyError("bug"))


def test_an_outcome_describes_itself_for_the_ledger():
    assert replies.Outcome(replies.SENT, 250, "250 OK").describe() == "250 OK"
    refused = replies.Outcome(replies.PERMANENT, 550, "5.1.1 No such user")
    assert refused.describe() == "permanent: 550 5.1.1 No such user"
    assert (
        replies.Outcome(replies.AMBIGUOUS, None, "quiet").describe().startswith("unknown outcome")
    )
    assert len(replies.Outcome(replies.TEMPORARY, 451, "x" * 5000).describe()) == 1000


def test_the_server_settings_come_from_django_settings(settings):
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "mx.example", 2525, 7

    config = smtp.ServerConfig.from_settings(settings)

    assert (config.host, config.port, config.timeout, config.key) == (
        "mx.example",
        2525,
        7,
        "mx.example:2525",
    )
