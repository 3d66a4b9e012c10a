"""Concurrent views of a post, over HTTP against a live server: none is lost."""

from concurrent.futures import ThreadPoolExecutor
from urllib.request import urlopen

import pytest

from blog.models import BlogIndexPage, BlogPage
from home.models import HomePage

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_200_concurrent_views_count_200(live_server):
    home = HomePage.objects.get()
    index = home.add_child(instance=BlogIndexPage(title="Blog", slug="blog"))
    post = index.add_child(instance=BlogPage(title="Popular", slug="popular", body="<p>x</p>"))
    url = live_server.url + post.url

    def view(_):
        with urlopen(url, timeout=60) as response:  # noqa: S310 - our own live server
            return response.status

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(view, range(200)))

    assert statuses == [200] * 200
    assert BlogPage.objects.get(pk=post.pk).view_count == 200
