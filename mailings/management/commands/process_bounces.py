from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mailings import dsn


class Command(BaseCommand):
    help = (
        "Read the bounce mailbox (a Maildir path or imap(s)://user:password@host/folder), mark "
        "the deliveries and clients its delivery-status reports name, and move what was read "
        "to its 'processed' folder. Mail it cannot read stays where it is."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "mailbox",
            nargs="?",
            default=None,
            help="default: MAILINGS_BOUNCE_MAILBOX",
        )
        parser.add_argument("--limit", type=int, default=1000, help="mails read at most")

    def handle(self, *args, mailbox, limit, **options):
        location = mailbox or settings.MAILINGS_BOUNCE_MAILBOX
        if not location:
            raise CommandError("No bounce mailbox: give one, or set MAILINGS_BOUNCE_MAILBOX.")
        try:
            tally = dsn.process(location, limit=limit)
        except (OSError, dsn.mailbox.Error, dsn.imaplib.IMAP4.error) as exc:
            raise CommandError(f"The bounce mailbox cannot be read: {exc}") from exc
        self.stdout.write(
            f"{tally.marked} bounce(s) marked, {tally.ignored} ignored, "
            f"{tally.unknown} left unread in the mailbox"
        )
