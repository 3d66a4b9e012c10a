"""The public site from the cache: a warm home page, blog index and post cost no query beyond
Wagtail's routing (plus the view counter's UPDATE on a post), however many posts, mailings and
clients there are; the tree's changes show at once; editors and previews bypass the cache."""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from wagtail.models import Page

from blog import view_counter
from blog.cards import CARDS_KEY
from blog.models import BlogPage
from home import counters
from home.models import COUNTERS_KEY
from mailings.models import Client, ClientList, Mailing, Membership, Message
from site_config.public_cache import generation
from tests.factories import ClientFactory, MailingFactory, UserFactory
from tests.support.cache import clear_cache

pytestmark = pytest.mark.django_db


@pytest.fixture
def blog(blog_index):
    return blog_index


def add_posts(index, count, *, start=0):
    return [
        index.add_child(
            instance=BlogPage(title=f"Post {n}", slug=f"post-{n}", body=f"<p>Body {n}</p>")
        )
        for n in range(start, start + count)
    ]


def add_mailings(count):
    owner = UserFactory()
    message = Message.objects.create(owner=owner, subject="S", body="B")
    now = timezone.now()
    Mailing.objects.bulk_create(
        Mailing(owner=owner, message=message, start_at=now, end_at=now + timedelta(days=1))
        for _ in range(count)
    )
    Client.objects.bulk_create(
        Client(owner=owner, email=f"c{n}@example.org", full_name="C") for n in range(count)
    )


def routing_floor(path):
    """The queries Wagtail's own serving makes around the page's: find the site and the page
    for ``path``, then check its view restrictions (Wagtail's on_serve_page hook)."""
    request = RequestFactory().get(path)
    with CaptureQueriesContext(connection) as queries:
        page, _args, _kwargs = Page.route_for_request(request, path)
        list(page.get_view_restrictions())
    return len(queries)


def warm_queries(client, path):
    client.get(path)  # fills the cache
    client.get(path)  # a second time, in case a first render fills more
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return len(queries), [q["sql"] for q in queries.captured_queries]


@pytest.mark.parametrize("path", ["/", "/blog/"])
def test_warm_pages_need_no_query_not_even_routing(client, blog, path):
    add_posts(blog, 3)
    add_mailings(10)

    count, sql = warm_queries(client, path)

    assert routing_floor(path) >= 4  # what a page served by Wagtail costs at the least
    assert count == 0, sql


def test_a_warm_post_needs_only_the_counters_update(client, blog, settings):
    """Without Redis, one UPDATE; with Redis, no query at all (the view is an INCR, moved
    into the database by the flush: blog/view_counter.py)."""
    (post,) = add_posts(blog, 1)
    path = post.url
    with_redis = settings.CACHES["default"]["BACKEND"].startswith("django_redis.")

    count, sql = warm_queries(client, path)

    if with_redis:
        assert count == 0, sql
    else:
        assert count == 1 < routing_floor(path), sql
        assert sql[0].lstrip().upper().startswith("UPDATE")
    html = client.get(path).content.decode()  # the fourth view, from the cache
    assert "<!--live:views-->4 views<!--/live-->" in html
    view_counter.flush(BlogPage)
    assert BlogPage.objects.get(pk=post.pk).view_count == 4


@pytest.mark.parametrize("path", ["/", "/blog/", "/blog/post-0/"])
def test_warm_query_count_does_not_grow_with_the_data(client, blog, path):
    add_posts(blog, 1)
    add_mailings(10)
    small, _ = warm_queries(client, path)

    add_posts(blog, 499, start=1)
    add_mailings(4990)
    clear_cache()
    large, sql = warm_queries(client, path)

    assert large == small, sql


def test_publishing_and_unpublishing_show_at_once(client, blog):
    add_posts(blog, 2)
    client.get("/"), client.get("/blog/")  # warm
    draft = blog.add_child(
        instance=BlogPage(title="Fresh news", slug="fresh", body="<p>x</p>", live=False)
    )

    draft.save_revision().publish()
    assert "Fresh news" in client.get("/blog/").content.decode()
    assert "Fresh news" in client.get("/").content.decode()  # 3 posts: all shown

    BlogPage.objects.get(pk=draft.pk).unpublish()
    assert "Fresh news" not in client.get("/blog/").content.decode()
    assert "Fresh news" not in client.get("/").content.decode()


def test_moving_or_deleting_a_post_shows_at_once(client, blog):
    posts = add_posts(blog, 3)
    client.get("/blog/")

    Page.objects.get(pk=posts[0].pk).delete()

    assert "Post 0" not in client.get("/blog/").content.decode()


def test_the_home_page_picks_different_posts_while_cached(client, blog):
    add_posts(blog, 10)

    sets = set()
    for _ in range(50):
        html = client.get("/").content.decode()
        sets.add(tuple(sorted(set(re.findall(r"Post \d+", html)))))

    assert all(len(picked) == 3 for picked in sets)
    assert len(sets) >= 5


def test_the_home_page_renders_with_fewer_than_three_posts(client, blog):
    add_posts(blog, 2)

    html = client.get("/").content.decode()

    assert "Post 0" in html and "Post 1" in html


def test_counters_count_mailings_active_ones_and_unique_addresses(client, blog):
    owner = UserFactory()
    ann = ClientFactory(owner=owner, email="ann@example.org")
    other_owner = UserFactory()
    ann_again = ClientFactory(owner=other_owner, email="ANN@example.org")
    running = MailingFactory(owner=owner, clients=[ann])
    Mailing.objects.filter(pk=running.pk).update(status="running")
    stopped = MailingFactory(owner=other_owner, clients=[ann_again], is_enabled=False)
    # Reached through a list, not by hand; and someone in no mailing's list is not counted.
    readers = ClientList.objects.create(owner=other_owner, name="Readers")
    bob = ClientFactory(owner=other_owner, email="bob@example.org")
    Membership.objects.create(client_list=readers, client=bob)
    stopped.lists.add(readers)
    nobody = ClientList.objects.create(owner=owner, name="Nobody's")
    Membership.objects.create(client_list=nobody, client=ClientFactory(owner=owner))

    before = re.sub(r"<!--/?live[^>]*-->", "", client.get("/").content.decode())
    assert counters.refresh() == {"mailings": 2, "active": 1, "clients": 2}
    clear_cache()
    html = re.sub(r"<!--/?live[^>]*-->", "", client.get("/").content.decode())

    assert 'data-counter="mailings">0<' in before  # nothing computed yet: no aggregate
    assert 'data-counter="mailings">2<' in html
    assert 'data-counter="active">1<' in html
    assert 'data-counter="clients">2<' in html


def test_a_cold_home_page_costs_a_visitor_no_aggregate(client, blog):
    owner = UserFactory()
    MailingFactory(owner=owner, clients=ClientFactory.create_batch(3, owner=owner))
    counters.refresh()
    clear_cache()

    with CaptureQueriesContext(connection) as queries:
        html = client.get("/").content.decode()
    statements = [query["sql"] for query in queries.captured_queries]

    assert 'data-counter="clients">3<' in re.sub(r"<!--/?live[^>]*-->", "", html)
    touched = [sql for sql in statements if re.search(r"mailings_(client|delivery|mailing)", sql)]
    assert touched == []
    assert not [sql for sql in statements if "COUNT(" in sql.upper()]


def test_one_process_at_a_time_computes_the_counters(blog):
    cache.add(counters.REFRESHING_KEY, 1, timeout=60)  # another process is at it

    with CaptureQueriesContext(connection) as queries:
        assert counters.refresh() is None
    assert queries.captured_queries == []
    cache.delete(counters.REFRESHING_KEY)
    assert counters.refresh() == {"mailings": 0, "active": 0, "clients": 0}


def test_signed_in_editors_neither_read_nor_fill_the_cache(client, blog):
    (post,) = add_posts(blog, 1)
    client.get("/blog/")  # an anonymous visit fills the cache
    BlogPage.objects.filter(pk=post.pk).update(title="Renamed quietly")  # no signal

    assert "Post 0" in client.get("/blog/").content.decode()  # the public cache
    editor = client.__class__()
    editor.force_login(UserFactory(is_superuser=True))
    assert "Renamed quietly" in editor.get("/blog/").content.decode()
    clear_cache()
    editor.get("/")
    assert cache.get(COUNTERS_KEY) is None
    assert cache.get(CARDS_KEY.format(generation=generation())) is None


def test_previews_do_not_count_views(client, blog):
    (post,) = add_posts(blog, 1)
    editor = client.__class__()
    editor.force_login(UserFactory(is_superuser=True))

    preview = editor.get(f"/admin/pages/{post.pk}/edit/preview/")

    assert preview.status_code == 200
    view_counter.flush(BlogPage)
    assert BlogPage.objects.get(pk=post.pk).view_count == 0
    client.get(post.url)
    view_counter.flush(BlogPage)
    assert BlogPage.objects.get(pk=post.pk).view_count == 1
