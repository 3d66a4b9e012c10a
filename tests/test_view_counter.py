"""Concurrent views of a post, over HTTP against a live server: none is lost, none counted
twice, whether they are counted in the database (no Redis) or in Redis and flushed, and when
Redis stops in the middle (issue 22). The Redis tests start a Redis server of their own, so
that they can stop it, and run the same on the embedded default and on PostgreSQL."""

import logging
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.request import urlopen

import pytest
import redis

from blog import view_counter
from blog.models import BlogIndexPage, BlogPage
from home.models import HomePage
from tests.support.processes import free_port, wait_until

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def make_post() -> BlogPage:
    home = HomePage.objects.get()
    index = home.add_child(instance=BlogIndexPage(title="Blog", slug="blog"))
    return index.add_child(instance=BlogPage(title="Popular", slug="popular", body="<p>x</p>"))


def views(url: str, count: int) -> list[int]:
    def view(_):
        with urlopen(url, timeout=60) as response:  # noqa: S310 - our own live server
            return response.status

    with ThreadPoolExecutor(max_workers=20) as pool:
        return list(pool.map(view, range(count)))


def stored(post) -> int:
    return BlogPage.objects.get(pk=post.pk).view_count


class RedisServer:
    """A Redis server of the test's own on a free port, that keeps its data on disk (append
    only file) so that one stopped and started again still has its pending counts."""

    def __init__(self, directory) -> None:
        self.port = free_port()
        self.directory = directory
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_timeout=1)
        assert wait_until(lambda: self._answers(client), timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    @staticmethod
    def _answers(client) -> bool:
        try:
            return client.ping()
        except redis.RedisError:
            return False


@pytest.fixture
def own_redis(settings, tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        },
    }
    yield server
    if server.process.poll() is None:
        server.stop()


def test_200_concurrent_views_count_200(live_server):
    post = make_post()

    statuses = views(live_server.url + post.url, 200)
    view_counter.flush(BlogPage)  # nothing to move without Redis; moves all with it

    assert statuses == [200] * 200
    assert stored(post) == 200


def test_views_counted_in_redis_cost_no_database_write_until_the_flush(live_server, own_redis):
    post = make_post()
    url = live_server.url + post.url

    statuses = views(url, 200)
    before_flush = stored(post)
    moved = view_counter.flush(BlogPage)

    assert statuses == [200] * 200
    assert before_flush == 0  # every view was an INCR in Redis
    assert moved == 200 and stored(post) == 200
    page = urlopen(url, timeout=60).read().decode()  # noqa: S310
    assert "201 views" in page  # stored + pending, with this view
    assert view_counter.flush(BlogPage) == 1 and stored(post) == 201


def test_redis_stopped_for_the_middle_100_of_200_views_loses_and_doubles_none(
    live_server, own_redis, caplog
):
    post = make_post()
    url = live_server.url + post.url

    first = views(url, 50)
    own_redis.stop()
    with caplog.at_level(logging.WARNING, logger="site_config.degraded"):
        middle = views(url, 100)
    in_database = stored(post)
    own_redis.start()  # the same port, the same data
    last = views(url, 50)
    view_counter.flush(BlogPage)

    assert first + middle + last == [200] * 200
    assert in_database == 100  # the fallback: counted in the database, at once
    assert stored(post) == 200
    fallbacks = [r for r in caplog.records if "counted in the database" in r.getMessage()]
    assert len(fallbacks) <= 1  # once per interval, not once per view


def test_two_flushes_at_once_move_each_count_once(own_redis):
    posts = [make_post()]
    index = posts[0].get_parent()
    posts += [
        index.add_child(instance=BlogPage(title=f"P{n}", slug=f"p{n}", body="<p>x</p>"))
        for n in range(30)
    ]
    for n, post in enumerate(posts):
        for _ in range(n + 1):
            view_counter.count_view(BlogPage, post.pk)
    moved = []
    start = threading.Barrier(2)

    def flusher():
        from django.db import connection

        start.wait()
        try:
            moved.append(view_counter.flush(BlogPage))
        finally:
            connection.close()

    threads = [threading.Thread(target=flusher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    expected = sum(range(1, len(posts) + 1))
    assert sum(moved) == expected
    assert [stored(post) for post in posts] == list(range(1, len(posts) + 1))
    assert view_counter.flush(BlogPage) == 0


def test_an_unreachable_redis_counts_in_the_database(settings, caplog):
    post = make_post()
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        },
    }

    counts = [view_counter.count_view(BlogPage, post.pk) for _ in range(3)]

    assert counts == [1, 2, 3] and stored(post) == 3
    assert view_counter.flush(BlogPage) == 0
