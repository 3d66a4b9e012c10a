"""Demo clients, messages and mailings for the demo users (see accounts.demo)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from wagtail.rich_text import RichText

from accounts.models import User
from mailings.blocks import mailable_posts
from mailings.models import Client, ClientList, Mailing, Membership, Message
from mailings.permissions import policy_for
from mailings.services import mailing_save

DEMO_BOOK = {
    "alice@example.com": {
        "clients": [
            ("anna.petrova@example.org", "Anna Petrova"),
            ("boris.ivanov@example.org", "Boris Ivanov"),
            ("chen.li@example.org", "Chen Li"),
            ("dana.white@example.org", "Dana White"),
            ("emil.novak@example.org", "Emil Novak"),
            ("fatima.khan@example.org", "Fatima Khan"),
        ],
        "messages": [
            (
                "Fresh bread every morning, {full_name}",
                "Hello {full_name},\n\nOur bakery now opens at 7:00. Come and try the new "
                "rye loaf.\n\nAlice's Bakery\n\nTo stop these e-mails: {unsubscribe_url}\n",
            ),
            (
                "This month at Alice's Bakery",
                "Dear {full_name},\n\nHere is what is new this month.\n\n"
                "Unsubscribe: {unsubscribe_url}\n",
            ),
        ],
        "composed": {
            "subject": "Spring at the bakery, {full_name}",
            "heading": "Hello {full_name}, spring is here",
            "text": (
                "<p>From Monday we bake <b>rye with seeds</b> every morning, and the cinnamon "
                "buns are back on Saturdays.</p><ul><li>Open from 7:00</li>"
                "<li>Orders by phone the day before</li></ul>"
            ),
            "button": "See this week's bread",
            "link": "https://bakery.example/week",
        },
        "mailings": [
            ("Morning bread, two weeks", 0, "daily", 1, 14),
            ("Monthly news", 1, "monthly", 2, 180),
            ("Spring letter", 2, "once", 5, 2),
        ],
    },
    "bob@example.com": {
        "clients": [
            ("gina.rossi@example.org", "Gina Rossi"),
            ("hugo.martin@example.org", "Hugo Martin"),
            ("irina.sokolova@example.org", "Irina Sokolova"),
        ],
        "messages": [
            (
                "Bob's bikes: the weekly service slot",
                "Hi {full_name},\n\nBook your bike's service for next week.\n\n"
                "Unsubscribe: {unsubscribe_url}\n",
            ),
        ],
        "mailings": [("Service slots, weekly", 0, "weekly", 3, 90)],
    },
}


DEMO_LIST = "Customers"


def seed_demo_mailings() -> int:
    """Create what is missing of each demo user's book; returns how many mailings it made."""
    created = 0
    now = timezone.now().replace(second=0, microsecond=0)
    for email, book in DEMO_BOOK.items():
        owner = User.objects.filter(email__iexact=email).first()
        if owner is None:
            continue
        clients = [
            Client.objects.get_or_create(
                owner=owner, email=address, defaults={"full_name": full_name}
            )[0]
            for address, full_name in book["clients"]
        ]
        messages = [
            Message.objects.get_or_create(owner=owner, subject=subject, defaults={"body": body})[0]
            for subject, body in book["messages"]
        ]
        # Every demo user keeps their clients in a list, and their mailings go to it: a client
        # added to it (by hand, an import or its subscription form) gets the next run.
        customers, _new = (
            policy_for(ClientList)
            .instances_owned_by(owner)
            .get_or_create(
                owner=owner,
                name=DEMO_LIST,
                defaults={"description": "News and offers, about once a week."},
            )
        )
        Membership.objects.bulk_create(
            [Membership(client_list=customers, client=client) for client in clients],
            ignore_conflicts=True,
        )
        composed = composed_demo_message(owner, book.get("composed"))
        if composed is not None:
            messages.append(composed)
        for name, message_index, periodicity, start_in_days, days in book["mailings"]:
            message = messages[message_index]
            if message.mailings.exists():  # a message's mailings are all its owner's
                continue
            start_at = now + timedelta(days=start_in_days)
            mailing = Mailing.objects.create(
                owner=owner,
                name=name,
                message=message,
                periodicity=periodicity,
                start_at=start_at,
                end_at=start_at + timedelta(days=days),
            )
            mailing.lists.set([customers])
            mailing_save(mailing=mailing)
            created += 1
    return created


def composed_demo_message(owner, composed):
    """A message made of blocks (a heading, text, a button, a divider and the newest blog
    post), so the demo shows what a newsletter looks like; None if the book has none."""
    if not composed:
        return None
    mine = policy_for(Message).instances_owned_by(owner)
    existing = mine.filter(subject=composed["subject"]).first()
    if existing is not None:
        return existing
    content = [
        ("heading", composed["heading"]),
        ("text", RichText(composed["text"])),
        ("button", {"label": composed["button"], "link": composed["link"]}),
        ("divider", None),
    ]
    post = mailable_posts().order_by("-date_published", "-pk").first()
    if post is not None:
        content.append(("post", {"page": post, "link_label": ""}))
    message = Message(owner=owner, subject=composed["subject"], body="")
    message.content = content
    message.save()
    return message
