from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from wagtail.models import APIToken


class Command(BaseCommand):
    help = (
        "Create an API token for a user and print it (shown this once; only a digest is "
        "kept). Revoke it in the admin, under Mailings > API tokens."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--name", default="created from the command line")

    def handle(self, *args, email, name, **options):
        user = get_user_model().objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"No user has the address {email}.")
        if not user.is_active:
            raise CommandError(f"{email} is blocked: a token would not work.")
        _token, plaintext = APIToken.create_token(user=user, name=name[:255])
        self.stdout.write(plaintext)
