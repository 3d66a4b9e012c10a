"""`manage.py mailsink` is a real SMTP server: a message sent with smtplib lands in a file."""

import smtplib
from email.message import EmailMessage

import pytest

from tests.support.processes import free_port, manage, port_open, wait_until


@pytest.mark.services
def test_mailsink_stores_a_message_sent_with_smtplib(tmp_path):
    port = free_port()
    sink = manage("mailsink", "--port", str(port), "--dir", str(tmp_path))
    try:
        assert wait_until(lambda: port_open(port), timeout=30), sink.output()

        message = EmailMessage()
        message["From"] = "shop@example.com"
        message["To"] = "client@example.org"
        message["Subject"] = "Our autumn news — скидки"
        message.set_content("Hello, dear client.\n")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            refused = smtp.send_message(message)

        assert refused == {}
        assert wait_until(lambda: list(tmp_path.glob("*.eml")), timeout=10)
        (stored,) = tmp_path.glob("*.eml")
        content = stored.read_bytes()
        assert b"Hello, dear client." in content
        assert b"To: client@example.org" in content
        assert wait_until(lambda: stored.name in sink.output(), timeout=10), sink.output()
    finally:
        sink.stop()

    log_lines = [line for line in sink.output().splitlines() if stored.name in line]
    assert len(log_lines) == 1
    assert "from=shop@example.com" in log_lines[0]
    assert "to=client@example.org" in log_lines[0]
    assert "autumn news" in log_lines[0]


@pytest.mark.services
def test_mailsink_stops_cleanly_on_sigterm(tmp_path):
    port = free_port()
    sink = manage("mailsink", "--port", str(port), "--dir", str(tmp_path))
    assert wait_until(lambda: port_open(port), timeout=30), sink.output()

    sink.stop()

    assert "mailsink stopped" in sink.output()
    assert not port_open(port)
