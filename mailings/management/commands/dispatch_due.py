from django.core.management.base import BaseCommand

from mailings import dispatching, tasks


class Command(BaseCommand):
    help = "Run one scheduler tick: create the due runs and hand them to workers."

    def add_arguments(self, parser):
        parser.add_argument(
            "--sync", action="store_true", help="send in this process, without a broker"
        )

    def handle(self, *args, sync, **options):
        attempt_ids = dispatching.dispatch_due()
        if sync:
            tasks.run_sync(attempt_ids)
        else:
            for attempt_id in attempt_ids:
                tasks.enqueue(tasks.send_attempt, attempt_id)
        self.stdout.write(f"{len(attempt_ids)} run(s) {'sent' if sync else 'enqueued'}")
