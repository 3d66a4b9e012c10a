"""Pages read keys first (``paging.KeysFirst``): every page holds exactly the rows the plain
paginator gives for the same order with the key as the last tie-breaker, front half and back
half alike (the back half is read in the reverse order), with orphans, and whatever the
order's direction or the joins it needs."""

from __future__ import annotations

import pytest
from django.core.paginator import Paginator

from mailings.admin.paging import KeysFirstPaginator, sorted_after_search
from mailings.models import Client, Delivery
from tests.factories import AttemptFactory, ClientFactory, DeliveryFactory, MailingFactory

pytestmark = pytest.mark.django_db


def pages(paginator) -> list[list[int]]:
    return [[row.pk for row in paginator.page(n)] for n in paginator.page_range]


@pytest.mark.parametrize("ordering", [("full_name", "-email"), ("-full_name",), ("-updated_at",)])
@pytest.mark.parametrize("orphans", [0, 2])
def test_each_page_is_the_plain_paginator_s_page(owner, ordering, orphans):
    for n in range(37):  # few names: many ties, broken by the key
        ClientFactory(owner=owner, full_name=f"N{n % 5}", email=f"x{n % 7}-{n}@example.org")
    rows = Client.objects.filter(owner=owner).order_by(*ordering)
    plain = Paginator(rows.order_by(*ordering, "pk"), 5, orphans=orphans)
    keyed = KeysFirstPaginator(rows, 5, orphans=orphans)
    assert keyed.num_pages == plain.num_pages > 3
    assert pages(keyed) == pages(plain)
    assert sorted(pk for page in pages(keyed) for pk in page) == sorted(r.pk for r in rows)


def test_an_order_through_a_join_and_the_model_s_default_order(owner):
    mailings = MailingFactory(owner=owner), MailingFactory(owner=owner)
    for day in range(4):  # two runs at each time: ties in the order, broken by the key
        for mailing in mailings:
            attempt = AttemptFactory(mailing=mailing, scheduled_for=f"2026-01-0{day + 1}T10:00Z")
            for _ in range(2):
                DeliveryFactory(attempt=attempt, status=Delivery.Status.FAILED)
    rows = Delivery.objects.order_by("-attempt__scheduled_for", "pk")
    assert pages(KeysFirstPaginator(rows, 5)) == pages(Paginator(rows, 5))
    unordered = Delivery.objects.all()  # the model's own order (pk)
    assert pages(KeysFirstPaginator(unordered, 4)) == pages(Paginator(unordered, 4))


def test_a_search_keeps_the_listing_s_order(owner):
    for n in range(12):
        ClientFactory(owner=owner, full_name=f"Zhang {n % 3}", email=f"z{n}@example.org")
    rows = Client.objects.filter(owner=owner, full_name__icontains="zhang")
    ordered = rows.order_by("full_name", "-email", "pk")
    searched = sorted_after_search(rows.order_by("full_name", "-email", "pk"))
    assert [c.pk for c in searched] == [c.pk for c in ordered]
    assert "COALESCE" in str(searched.query).upper()
