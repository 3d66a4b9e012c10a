"""The public site under attack (issue 15, items 4, 6, 7 and 22): a cache that is down does not
take the site down, a page made private leaves the cache at once, made-up query strings cannot
fill the cache, and every page carries a Content-Security-Policy."""

import logging
import re
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.images import ImageFile
from django.test import override_settings
from wagtail.images.models import Image

from blog.demo import draw_demo_image
from blog.models import BlogPage
from site_config import degraded

pytestmark = pytest.mark.django_db

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1
CACHE_DOWN_LINE = "The cache is unreachable"


def add_posts(index, count, *, image=None):
    posts = []
    for n in range(count):
        post = index.add_child(
            instance=BlogPage(
                title=f"Post {n}", slug=f"post-{n}", body=f"<p>Body {n}</p>", image=image
            )
        )
        post.save_revision().publish()
        posts.append(post)
    return posts


def cover_image():
    return Image.objects.create(
        title="Cover", file=ImageFile(draw_demo_image("Cover", (10, 20, 30), 1), name="c.png")
    )


def unreachable_caches():
    """The configured caches, every one pointed at a Redis that is not there (what the site
    sees when its Redis goes down; in the embedded mode, the same with Redis configured)."""
    broken = {}
    for alias, config in settings.CACHES.items():
        if alias == "default" or "redis" in config["BACKEND"].lower():
            options = {
                **config.get("OPTIONS", {}),
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
            }
            options.pop("MAX_ENTRIES", None)  # a file cache's option
            config = {
                **config,
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": UNREACHABLE_REDIS,
                "OPTIONS": options,
            }
        broken[alias] = config
    return broken


def unusable_file_cache(tmp_path):
    """The embedded mode's file cache, in a folder that cannot be made (under a file)."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    default = {**settings.CACHES["default"], "LOCATION": blocker / "cache"}
    if "filebased" not in default["BACKEND"].lower():
        default = {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": blocker / "cache",
        }
    return {**settings.CACHES, "default": default}


def cache_keys() -> set[str]:
    """Every entry this test run holds in the default cache: the run's keys in Redis, or the
    files of the file cache."""
    keys = getattr(cache, "keys", None)
    if keys is not None:  # django-redis: only the run's KEY_PREFIX
        return set(keys("*"))
    folder = Path(settings.CACHES["default"]["LOCATION"])
    return {path.name for path in folder.rglob("*.djcache")}


# --- Item 4: the cache down ------------------------------------------------------------------


@pytest.mark.parametrize("broken", ["redis", "file"])
@pytest.mark.parametrize("session_cookie", [False, True], ids=["page-cache", "fragments"])
def test_the_public_site_is_served_uncached_while_the_cache_is_down(
    client, blog_index, caplog, tmp_path, session_cookie, broken
):
    posts = add_posts(blog_index, 4, image=cover_image())
    post_url = posts[0].url
    if session_cookie:  # an anonymous visitor the page layer leaves to the fragment layer
        client.cookies[settings.SESSION_COOKIE_NAME] = "expired-or-made-up"
    degraded.forget()
    caplog.set_level(logging.WARNING)

    caches = unreachable_caches() if broken == "redis" else unusable_file_cache(tmp_path)
    with override_settings(CACHES=caches):
        for _ in range(3):
            home = client.get("/")
            index = client.get("/blog/")
            post = client.get(post_url)
            assert (home.status_code, index.status_code, post.status_code) == (200, 200, 200)

    home_html = home.content.decode()
    assert len(set(re.findall(r"Post \d", home_html))) == 3  # the three random posts
    assert 'data-counter="mailings">0<' in re.sub(r"<!--/?live[^>]*-->", "", home_html)
    assert all(f"Post {n}" in index.content.decode() for n in range(4))
    assert "Body 0" in post.content.decode()
    assert "/media/images/" in post.content.decode()  # the image's rendition
    assert "X-Page-Cache" not in post
    assert BlogPage.objects.get(pk=posts[0].pk).view_count == 3  # every view counted
    outage_lines = [r for r in caplog.records if CACHE_DOWN_LINE in r.getMessage()]
    assert len(outage_lines) == 1, [r.getMessage() for r in outage_lines]  # 9 requests, 1 line
    assert UNREACHABLE_REDIS.split("//")[1].split("/")[0] not in outage_lines[0].getMessage()


def test_the_page_cache_works_again_when_the_cache_is_back(client, blog_index):
    (post,) = add_posts(blog_index, 1)
    url = post.url
    with override_settings(CACHES=unreachable_caches()):
        assert client.get(url).status_code == 200

    client.get(url)

    assert client.get(url)["X-Page-Cache"] == "hit"


def test_publishing_while_the_cache_is_down_does_not_fail(client, blog_index, caplog):
    (post,) = add_posts(blog_index, 1)

    with override_settings(CACHES=unreachable_caches()):
        post.title = "Renamed"
        post.save_revision().publish()
        assert "Renamed" in client.get("/blog/").content.decode()

    assert "generation was not bumped" in caplog.text


# --- Item 6: a page made private --------------------------------------------------------------


def set_privacy(admin_client, page, **form):
    response = admin_client.post(f"/admin/pages/{page.pk}/privacy/", form)
    assert response.status_code == 200, response.content[:500]


def test_a_page_made_private_leaves_the_cache_the_index_and_the_home_page(
    client, admin_client, blog_index
):
    posts = add_posts(blog_index, 2)
    secret = posts[1]
    for _ in range(2):  # cached, and served from the cache
        client.get("/"), client.get("/blog/")
        assert client.get(secret.url).get("X-Page-Cache") in (None, "hit")
    assert client.get(secret.url)["X-Page-Cache"] == "hit"

    # The admin's Privacy dialog: a password, no publish.
    set_privacy(admin_client, secret, restriction_type="password", password="sesame")

    response = client.get(secret.url)
    assert "Body 1" not in response.content.decode()
    assert 'name="password"' in response.content.decode()
    assert "Post 1" not in client.get("/blog/").content.decode()
    assert "Post 1" not in client.get("/").content.decode()
    assert "Post 1" not in client.get("/blog/").content.decode()  # not cached either

    set_privacy(admin_client, secret, restriction_type="none")

    assert "Body 1" in client.get(secret.url).content.decode()
    assert "Post 1" in client.get("/blog/").content.decode()


# --- Item 7: cache flooding -------------------------------------------------------------------


def test_made_up_query_strings_add_no_cache_entry(client, blog_index):
    add_posts(blog_index, 12)  # two pages of posts
    for path in ["/", "/blog/", "/blog/?page=2", "/blog/post-0/"]:  # warm what may be cached
        client.get(path), client.get(path)
    made_up = [
        "/?x={}",
        "/?page={}",
        "/blog/?page={}",
        "/blog/?utm_source={}",
        "/blog/post-0/?utm={}",
    ]
    numbers = ["/blog/?page=3", "/blog/?page=999999", "/blog/?page=02", "/blog/?page=2&x=1"]
    before = cache_keys()

    for n in range(40):
        for pattern in made_up:
            assert client.get(pattern.format(uuid.uuid4().hex)).status_code == 200
        assert client.get(f"/blog/?page={n + 3}").status_code == 200  # past the last page
    for path in numbers:
        assert client.get(path).status_code == 200
    for port in range(1000, 1040):  # Django checks a Host's name, not its port
        assert client.get("/", HTTP_HOST=f"testserver:{port}").status_code == 200
    visitor = client.__class__()  # the fragment layer: a session cookie, page numbers
    visitor.cookies[settings.SESSION_COOKIE_NAME] = "made-up"
    for n in range(40):
        assert visitor.get(f"/blog/?page={uuid.uuid4().hex}").status_code == 200
        assert visitor.get(f"/blog/?page={n + 3}").status_code == 200

    assert cache_keys() == before
    assert client.get("/blog/?page=2")["X-Page-Cache"] == "hit"  # a real page still is cached
    assert "Post 0" in client.get("/blog/?page=2").content.decode()


def test_the_index_fragment_key_holds_no_raw_query(client, blog_index):
    add_posts(blog_index, 12)
    visitor = client.__class__()
    visitor.cookies[settings.SESSION_COOKIE_NAME] = "made-up"
    before = cache_keys()

    visitor.get("/blog/?page=2")
    visitor.get("/blog/?page=2")

    added = cache_keys() - before
    assert added  # the fragment of page 2 is cached
    html = visitor.get("/blog/?page=<b>2").content.decode()
    assert "<b>2" not in html
    assert cache_keys() - before == added


# --- Item 22: Content-Security-Policy --------------------------------------------------------


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in header.split(";") if d.strip()}


def test_public_pages_carry_a_strict_policy_cached_or_not(client, blog_index):
    (post,) = add_posts(blog_index, 1)
    client.get(post.url)

    for response in (client.get("/"), client.get("/blog/"), client.get(post.url)):
        directives = policy(response)
        assert directives["default-src"] == ["'self'"]
        assert directives["script-src"] == ["'self'"]
        assert directives["style-src"] == ["'self'"]
        assert directives["object-src"] == ["'none'"]
        assert directives["frame-ancestors"] == ["'none'"]
    assert response["X-Page-Cache"] == "hit"  # the cached copy carries it too


def test_the_admin_gets_only_what_wagtail_needs(client, admin_client):
    directives = policy(admin_client.get("/admin/"))

    assert "'unsafe-inline'" in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert directives["frame-ancestors"] == ["'self'"]  # the page preview
    assert directives["object-src"] == ["'none'"]
    assert "'unsafe-inline'" in policy(client.get("/admin/login/"))["script-src"]


def test_the_admin_preview_may_be_framed_by_the_admin_only(admin_client, blog_index):
    (post,) = add_posts(blog_index, 1)

    # Wagtail renders a preview through the middleware again, for the page's public path.
    response = admin_client.get(f"/admin/pages/{post.pk}/edit/preview/?in_preview_panel=true")

    assert response.status_code == 200
    assert policy(response)["frame-ancestors"] == ["'self'"]
