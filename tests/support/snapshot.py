"""Every row a user could own or change, to show that a request changed nothing."""

from __future__ import annotations

from accounts.models import User
from mailings.models import (
    Attempt,
    Client,
    ClientList,
    Delivery,
    Job,
    Mailing,
    Membership,
    Message,
)


def snapshot() -> dict[str, list[dict]]:
    return {
        "users": list(User.objects.values().order_by("pk")),
        "groups": list(User.groups.through.objects.values().order_by("pk")),
        "clients": list(Client.objects.values().order_by("pk")),
        "messages": list(Message.objects.values().order_by("pk")),
        "mailings": list(Mailing.objects.values().order_by("pk")),
        "links": list(Mailing.clients.through.objects.values().order_by("pk")),
        "attempts": list(Attempt.objects.values().order_by("pk")),
        "deliveries": list(Delivery.objects.values().order_by("pk")),
        "lists": list(ClientList.objects.values().order_by("pk")),
        "memberships": list(Membership.objects.values().order_by("pk")),
        "mailing lists": list(Mailing.lists.through.objects.values().order_by("pk")),
        "jobs": list(Job.objects.values().order_by("pk")),
    }
