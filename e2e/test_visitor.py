"""Journey 1: a visitor opens the home page (the service's counters, three posts with their
images), the blog, and a post whose view count goes up when they reload it; then searches the
blog and follows its feed link."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from blog.demo import DEMO_POSTS, seed_demo_blog
from e2e.helpers import images_loaded
from home import counters
from mailings.models import Mailing
from tests.factories import ClientFactory, MailingFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

TITLES = [title for _, title, _ in DEMO_POSTS]


def some_mailings() -> None:
    """Three mailings, one of them running and enabled, reaching four distinct clients (a
    fifth client is in no mailing)."""
    owner = UserFactory(role="Users")
    first, second, third, fourth, _ = ClientFactory.create_batch(5, owner=owner)
    now = timezone.now()
    running = MailingFactory(owner=owner, clients=[first, second], start_at=now - timedelta(1))
    stopped = MailingFactory(owner=owner, clients=[third], start_at=now - timedelta(1))
    MailingFactory(owner=owner, clients=[fourth, first])  # starts tomorrow: created
    Mailing.objects.filter(pk__in=[running.pk, stopped.pk]).update(status="running")
    Mailing.objects.filter(pk=stopped.pk).update(is_enabled=False)


def test_a_visitor_reads_the_home_page_the_blog_and_a_post(page: Page):
    seed_demo_blog()
    some_mailings()
    counters.refresh()  # the beat's work: a visitor's request never computes them

    page.goto("/")

    expect(page).to_have_title("Home · Mailing service")
    expect(page.get_by_role("heading", level=1)).to_have_text("Home")
    expect(page.locator('[data-counter="mailings"]')).to_have_text("3")
    expect(page.locator('[data-counter="active"]')).to_have_text("1")
    expect(page.locator('[data-counter="clients"]')).to_have_text("4")
    expect(page.locator(".counter__label")).to_have_text(
        ["Mailings in all", "Active now", "Clients reached"]
    )
    cards = page.locator("[data-random-posts] .card")
    expect(cards).to_have_count(3)
    shown = cards.locator(".card__title").all_inner_texts()
    assert len(set(shown)) == 3 and set(shown) <= set(TITLES), shown
    expect(cards.locator("img")).to_have_count(3)
    assert images_loaded(page, cards.locator("img")) == []

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Blog").click()

    expect(page).to_have_url(re.compile(r"/blog/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Blog")
    posts = page.locator(".cards .card")
    expect(posts.locator(".card__title")).to_have_text(TITLES)  # newest first
    expect(posts.locator("img")).to_have_count(len(TITLES))
    assert images_loaded(page, posts.locator("img")) == []

    posts.get_by_role("link", name=TITLES[2], exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(TITLES[2])
    expect(page.locator(".post__body")).to_contain_text(DEMO_POSTS[2][2])
    expect(page.locator(".post__views")).to_have_text("1 view")
    expect(page.locator(".post__image img")).to_have_count(1)
    assert images_loaded(page, page.locator(".post__image img")) == []

    page.reload()

    expect(page.locator(".post__views")).to_have_text("2 views")
    page.reload()
    expect(page.locator(".post__views")).to_have_text("3 views")

    page.get_by_role("link", name="All posts").click()
    page.get_by_role("searchbox", name="Search the blog").fill("retried")
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/blog/\?q=retried$"))
    expect(page.locator(".search__summary")).to_contain_text("1 post found for “retried”.")
    expect(page.locator(".cards .card__title")).to_have_text([TITLES[3]])
    page.get_by_role("searchbox", name="Search the blog").fill("nosuchword")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".search__summary")).to_contain_text("No post matches “nosuchword”.")
    expect(page.locator(".cards .card")).to_have_count(0)

    feed_link = page.locator('head link[rel="alternate"][type="application/atom+xml"]')
    expect(feed_link).to_have_attribute("href", "/blog/feed/")
    page.get_by_role("link", name="Subscribe to the feed").click()

    expect(page).to_have_url(re.compile(r"/blog/feed/$"))
    feed = ET.fromstring(page.locator("body").inner_text().strip())  # Chromium shows the XML  # noqa: S314 - our own feed
    atom = "{http://www.w3.org/2005/Atom}"
    titles = [entry.findtext(f"{atom}title") for entry in feed.findall(f"{atom}entry")]
    assert titles == TITLES, titles
