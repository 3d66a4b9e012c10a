"""Demo accounts for local use. These passwords exist only here and only for `make run`."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group

from accounts.models import User


@dataclass(frozen=True)
class DemoUser:
    email: str
    password: str
    first_name: str
    last_name: str
    role: str  # "superuser", "Managers" or "Users"


DEMO_USERS = (
    DemoUser("admin@example.com", "demo-admin-pass", "Ada", "Admin", "superuser"),
    DemoUser("manager@example.com", "demo-manager-pass", "Max", "Manager", "Managers"),
    DemoUser("alice@example.com", "demo-alice-pass", "Alice", "Archer", "Users"),
    DemoUser("bob@example.com", "demo-bob-pass", "Bob", "Baker", "Users"),
)


def seed_demo_users() -> list[tuple[DemoUser, bool]]:
    """Create the demo accounts that are missing; an existing one is left as it is."""
    results = []
    for demo in DEMO_USERS:
        user = User.objects.filter(email__iexact=demo.email).first()
        created = user is None
        if created:
            create = (
                User.objects.create_superuser
                if demo.role == "superuser"
                else User.objects.create_user
            )
            user = create(
                demo.email,
                demo.password,
                first_name=demo.first_name,
                last_name=demo.last_name,
            )
        if demo.role != "superuser":
            user.groups.add(Group.objects.get(name=demo.role))
        results.append((demo, created))
    return results
