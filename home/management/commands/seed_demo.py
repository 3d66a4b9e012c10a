from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.demo import seed_demo_users
from blog.demo import seed_demo_blog
from home import counters
from mailings.demo import seed_demo_mailings


class Command(BaseCommand):
    help = "Load demo users and pages for local use (idempotent; refused in production)."

    def handle(self, *args, **options):
        if not settings.DEMO_DATA_ALLOWED:
            raise CommandError(
                "seed_demo refuses to run with these settings "
                f"({settings.SETTINGS_MODULE}): demo accounts have public passwords."
            )
        with transaction.atomic():
            users = seed_demo_users()
            blog = seed_demo_blog()
            mailings = seed_demo_mailings()
        counters.refresh()  # the home page's figures, before the beat's first tick

        created_users = sum(1 for _, created in users if created)
        self.stdout.write(
            f"Demo data: {created_users} user(s), {blog['index']} blog index, "
            f"{blog['posts']} post(s), {mailings} mailing(s) created; the rest already existed."
        )
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"  Site:  {settings.SITE_URL}/"))
        self.stdout.write(self.style.SUCCESS(f"  Admin: {settings.SITE_URL}/admin/"))
        self.stdout.write(f"  Mail:  {settings.VAR_DIR / 'mail'} (local mail sink)")
        self.stdout.write("  Demo logins (local use only):")
        for demo, _ in users:
            self.stdout.write(f"    {demo.role:<10} {demo.email:<22} {demo.password}")
        self.stdout.write("")
