import logging
import signal
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from django.conf import settings
from django.core.management.base import BaseCommand

from mailings.mailsink import MailSinkHandler


class Command(BaseCommand):
    help = "Run a development SMTP server that stores every message under var/mail/."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=1025)
        parser.add_argument("--dir", default=str(settings.VAR_DIR / "mail"))

    def handle(self, *args, host, port, dir, **options):
        logging.getLogger("mailsink").setLevel(logging.INFO)
        directory = Path(dir)
        # Before the port opens: a stop asked for as soon as it is open (a busy machine, a
        # supervisor) still ends in a clean stop, not in the default handler's death.
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        controller = Controller(
            MailSinkHandler(directory), hostname=host, port=port, enable_SMTPUTF8=True
        )
        controller.start()
        self.stdout.write(f"mailsink listening on {host}:{port}, storing mail in {directory}")
        self.stdout.flush()
        try:
            stop.wait()
        finally:
            controller.stop()
            self.stdout.write("mailsink stopped")
