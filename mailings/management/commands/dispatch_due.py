from django.core.management.base import BaseCommand

from mailings import services


class Command(BaseCommand):
    help = "Run scheduler ticks until nothing is due, and hand the runs to workers."

    def add_arguments(self, parser):
        parser.add_argument(
            "--sync", action="store_true", help="send in this process, without a broker"
        )

    def handle(self, *args, sync, **options):
        attempt_ids = services.dispatch_due(sync=sync)
        self.stdout.write(f"{len(attempt_ids)} run(s) {'sent' if sync else 'enqueued'}")
