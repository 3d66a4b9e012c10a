from django.core.management.base import BaseCommand, CommandError

from mailings import services
from mailings.models import Attempt, Mailing


class Command(BaseCommand):
    help = "Send a mailing's current slot now."

    def add_arguments(self, parser):
        parser.add_argument("mailing_id", type=int)
        parser.add_argument(
            "--sync", action="store_true", help="send in this process, without a broker"
        )

    def handle(self, *args, mailing_id, sync, **options):
        mailing = Mailing.objects.filter(pk=mailing_id).first()
        if mailing is None:
            raise CommandError(f"There is no mailing {mailing_id}.")
        result = services.mailing_send_now(mailing=mailing, sync=sync)
        if result.attempt is None:
            raise CommandError(f"Mailing {mailing_id} has a run in progress; try again later.")
        attempt = result.attempt
        if not sync:
            self.stdout.write(f"run {attempt.pk} enqueued")
            return
        attempt = Attempt.objects.get(pk=attempt.pk)
        self.stdout.write(
            f"run {attempt.pk}: {attempt.get_status_display()}, {attempt.sent} sent, "
            f"{attempt.failed} failed, {attempt.skipped} skipped of {attempt.total}"
        )
