"""The blog as readers and search engines expect it (issue 26): the Atom feed, the sitemap,
robots.txt, the search box and canonical links; only public, live pages ever appear."""

import importlib
import uuid
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection
from wagtail.models import PageViewRestriction, Site

from blog.models import BlogPage
from site_config import public_cache
from tests.test_security_public import add_posts, cache_keys, cover_image

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def post(index, slug, title, *, body="<p>Body</p>", published=None, live=True, **fields):
    page = index.add_child(
        instance=BlogPage(
            title=title,
            slug=slug,
            body=body,
            date_published=published or date.today(),
            live=live,
            **fields,
        )
    )
    if live:
        page.save_revision().publish()
    else:
        page.save_revision()
    return page


def make_private(page):
    PageViewRestriction.objects.create(page=page, restriction_type="password", password="s3")


def search(client, query, **extra):
    return client.get("/blog/", {"q": query, **extra})


def found(response) -> list[str]:
    """The titles of the posts a response lists, in order."""
    html = response.content.decode()
    return [
        part.split("</a>", 1)[0].rsplit(">", 1)[-1]
        for part in html.split('class="card__title"')[1:]
    ]


# --- The feed ---------------------------------------------------------------------------------


def test_the_feed_is_atom_with_the_latest_twenty_public_posts(client, blog_index):
    image = cover_image()
    today = date.today()
    for n in range(22):
        post(
            blog_index,
            f"post-{n}",
            f"Post {n}",
            teaser=f"Teaser {n}",
            published=today - timedelta(days=30 - n),
            image=image if n == 21 else None,
        )
    private = post(blog_index, "secret", "Secret post", published=today)
    make_private(private)
    post(blog_index, "draft", "Draft post", published=today, live=False)

    response = client.get("/blog/feed/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)  # well-formed XML, or this raises  # noqa: S314 - our own feed
    assert feed.tag == f"{ATOM}feed"
    entries = feed.findall(f"{ATOM}entry")
    titles = [entry.findtext(f"{ATOM}title") for entry in entries]
    assert titles == [f"Post {n}" for n in range(21, 1, -1)]  # newest first, twenty of them
    newest = entries[0]
    link = newest.find(f"{ATOM}link[@rel='alternate']").get("href")
    assert urlsplit(link).path == "/blog/post-21/"
    assert urlsplit(link).scheme in ("http", "https")
    published = (today - timedelta(days=9)).isoformat()
    assert newest.findtext(f"{ATOM}published").startswith(published)
    assert "Teaser 21" in newest.findtext(f"{ATOM}summary")
    enclosure = newest.find(f"{ATOM}link[@rel='enclosure']")
    assert enclosure.get("type") == "image/png"
    assert "/media/images/" in enclosure.get("href")
    assert int(enclosure.get("length")) > 0
    assert entries[1].find(f"{ATOM}link[@rel='enclosure']") is None  # a post without image
    assert "Secret" not in response.content.decode()
    assert "Draft" not in response.content.decode()


def test_a_private_blog_keeps_its_feed_private(client, blog_index):
    post(blog_index, "hello", "Hello")
    make_private(blog_index)

    response = client.get("/blog/feed/")

    assert not response["Content-Type"].startswith("application/atom+xml")
    assert b"Hello" not in response.content


def test_the_feed_is_cached_and_follows_a_publish(client, blog_index):
    post(blog_index, "first", "First")
    assert client.get("/blog/feed/").status_code == 200

    cached = client.get("/blog/feed/")
    assert cached["X-Page-Cache"] == "hit"
    assert cached["Content-Type"].startswith("application/atom+xml")
    post(blog_index, "second", "Second")

    fresh = client.get("/blog/feed/")
    assert "X-Page-Cache" not in fresh
    assert b"<title>Second</title>" in fresh.content


def test_every_public_page_names_the_feed_in_its_head(client, blog_index):
    first = post(blog_index, "first", "First")
    for url in ["/", "/blog/", first.url, "/accounts/signup/"]:
        html = client.get(url).content.decode()
        head = html.split("</head>", 1)[0]
        assert '<link rel="alternate" type="application/atom+xml"' in head, url
        assert 'href="/blog/feed/"' in head, url
    html = client.get("/blog/").content.decode()
    assert 'class="feed-link" href="/blog/feed/"' in html  # and a link a reader can click


def test_no_feed_link_while_the_blog_is_private(client, blog_index):
    make_private(blog_index)
    assert "application/atom+xml" not in client.get("/").content.decode()


# --- Sitemap and robots.txt -------------------------------------------------------------------


def test_the_sitemap_lists_exactly_the_public_live_pages(client, blog_index, home):
    public = post(blog_index, "public", "Public")
    private = post(blog_index, "private", "Private")
    make_private(private)
    post(blog_index, "draft", "Draft", live=False)
    gone = post(blog_index, "gone", "Gone")
    gone.unpublish()

    response = client.get("/sitemap.xml")

    assert response.status_code == 200
    root = ET.fromstring(response.content)  # noqa: S314 - our own sitemap
    locations = {url.findtext(f"{SITEMAP}loc"): url.findtext(f"{SITEMAP}lastmod") for url in root}
    site = settings.SITE_URL
    assert set(locations) == {f"{site}/", f"{site}/blog/", f"{site}/blog/public/"}
    public.refresh_from_db()
    assert locations[f"{site}/blog/public/"] == public.last_published_at.date().isoformat()


def test_the_site_takes_its_address_from_site_url(settings):
    migration = importlib.import_module("home.migrations.0004_site_address")
    site = Site.objects.get(is_default_site=True)
    assert site.root_url == settings.SITE_URL  # the migration ran with the test settings

    Site.objects.filter(pk=site.pk).update(hostname="localhost", port=80)
    settings.SITE_URL = "https://mail.example.org"
    migration.site_from_site_url(apps, None)
    assert Site.objects.get(pk=site.pk).root_url == "https://mail.example.org"

    settings.SITE_URL = "http://other.example.org:8080"  # a site the operator set: kept
    migration.site_from_site_url(apps, None)
    assert Site.objects.get(pk=site.pk).root_url == "https://mail.example.org"


def test_robots_txt_keeps_crawlers_out_of_private_paths_and_names_the_sitemap(client):
    response = client.get("/robots.txt")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    lines = response.content.decode().splitlines()
    assert lines[0] == "User-agent: *"
    disallowed = {line.split(": ", 1)[1] for line in lines if line.startswith("Disallow:")}
    assert {"/admin/", "/accounts/", "/unsubscribe/", "/subscribe/", "/api/"} <= disallowed
    assert "Sitemap: http://testserver/sitemap.xml" in lines
    assert client.post("/robots.txt").status_code == 405


def test_favicon_ico_leads_to_the_sites_icon(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"].endswith(".svg")


# --- Search -----------------------------------------------------------------------------------


def test_a_word_from_a_posts_body_finds_it_in_english_and_in_russian(client, blog_index):
    post(blog_index, "en", "Plain title", body="<p>Our newsletter reaches every <b>bakery</b>.</p>")
    post(blog_index, "ru", "Заголовок", body="<p>Рассылка уходит каждый понедельник.</p>")
    post(blog_index, "other", "Other", teaser="Nothing about bread")

    assert found(search(client, "bakery")) == ["Plain title"]
    assert found(search(client, "BAKERY")) == ["Plain title"]
    assert found(search(client, "понедельник")) == ["Заголовок"]
    assert found(search(client, "Рассылка")) == ["Заголовок"]
    assert found(search(client, "bread")) == ["Other"]  # the teaser is searched too
    assert found(search(client, "newsletter bakery")) == ["Plain title"]  # every word
    assert found(search(client, "newsletter понедельник")) == []
    if connection.vendor == "postgresql":
        # PostgreSQL stems both languages: another form of the same word finds the post.
        assert found(search(client, "рассылки")) == ["Заголовок"]
        assert found(search(client, "newsletters")) == ["Plain title"]


def test_a_private_or_draft_posts_words_find_nothing(client, blog_index):
    secret = post(blog_index, "secret", "Secret", body="<p>zanzibar</p>")
    make_private(secret)
    post(blog_index, "draft", "Draft", body="<p>quixotic</p>", live=False)
    published = post(blog_index, "edited", "Edited", body="<p>original</p>")
    published.body = "<p>unpublishedword</p>"
    published.save_revision()  # a draft of a live post: its words are not public yet

    for word in ["zanzibar", "quixotic", "unpublishedword"]:
        response = search(client, word)
        assert response.status_code == 200
        assert found(response) == []
        assert "No post matches" in response.content.decode()
    assert found(search(client, "original")) == ["Edited"]


def test_search_results_are_paged_like_the_index(client, blog_index):
    for n in range(12):
        post(blog_index, f"p{n}", f"Match {n}", body="<p>common word</p>")
    post(blog_index, "odd", "Odd one", body="<p>else</p>")

    first = search(client, "common")
    second = client.get("/blog/?q=common&page=2")

    assert len(found(first)) == 10
    assert len(found(second)) == 2
    assert set(found(first)) | set(found(second)) == {f"Match {n}" for n in range(12)}
    assert "12 posts found for “common”" in first.content.decode()
    assert 'href="?q=common&amp;page=2"' in first.content.decode()
    assert 'name="robots" content="noindex"' in first.content.decode()
    assert 'name="robots"' not in client.get("/blog/").content.decode()


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "'",
        "(",
        "*",
        "NEAR(a b)",
        "a AND",
        "OR",
        "-x",
        "x:y",
        "^a",
        "'; DROP TABLE blog_blogpage; --",
        "%",
        "_",
        "\\",
        "ÿ" * 100,
        "😀 emoji",
        "汉字",
        "\u202e right-to-left",
        " ",
    ],
)
def test_garbage_searches_answer_200(client, blog_index, query):
    post(blog_index, "hello", "Hello", body="<p>hello world</p>")

    response = search(client, query)

    assert response.status_code == 200
    assert 'id="blog-search"' in response.content.decode()


def test_a_search_too_long_or_with_a_nul_is_a_form_error(client, blog_index):
    post(blog_index, "hello", "Hello", body="<p>hello world</p>")

    long = search(client, "hello " * 100)
    nul = search(client, "hel\x00lo")

    assert "Search for at most 100 characters." in long.content.decode()
    assert 'value="hello hello' in long.content.decode()  # what was typed stays in the box
    assert 'aria-invalid="true"' in long.content.decode()
    assert found(long) == []
    assert "Null characters are not allowed." in nul.content.decode()
    many = client.get("/blog/?" + "&".join(f"q=w{n}" for n in range(1000)))
    assert many.status_code == 200  # the last one counts; nothing is cached for it


def test_a_search_is_cached_whole_and_follows_a_publish(client, blog_index):
    post(blog_index, "one", "One", body="<p>apple</p>")
    assert found(search(client, "apple")) == ["One"]

    hit = search(client, "apple")
    assert hit["X-Page-Cache"] == "hit"
    assert found(hit) == ["One"]
    post(blog_index, "two", "Two", body="<p>apple pie</p>")

    assert sorted(found(search(client, "apple"))) == ["One", "Two"]


def test_a_search_spelled_another_way_is_served_but_not_stored(client, blog_index):
    post(blog_index, "one", "One", body="<p>apple pie</p>")
    client.get("/blog/"), client.get("/blog/")  # the index, its fragment, the feed's address
    before = cache_keys()

    for spelling in ["q=apple%20pie", "q=apple++pie", "q=+apple+pie", "page=1&q=apple+pie"]:
        response = client.get(f"/blog/?{spelling}")
        assert response.status_code == 200
        assert found(response) == ["One"]
        assert "X-Page-Cache" not in client.get(f"/blog/?{spelling}")
    assert cache_keys() == before


def test_made_up_searches_store_no_more_than_the_budget(client, blog_index, monkeypatch):
    monkeypatch.setattr(public_cache, "QUERY_ENTRIES", 5)
    add_posts(blog_index, 3)
    client.get("/blog/"), client.get("/blog/")  # the page and its fragments
    before = cache_keys()

    for _ in range(40):
        assert search(client, uuid.uuid4().hex).status_code == 200

    added = cache_keys() - before
    assert 2 <= len(added) <= 5 + 1, added  # five pages at most, and the budget's counter
    assert search(client, uuid.uuid4().hex).status_code == 200  # past the budget: still served


# --- Canonical links --------------------------------------------------------------------------


def test_every_public_page_has_its_canonical_link(client, blog_index):
    for n in range(12):
        post(blog_index, f"p{n}", f"Post {n}")
    site = settings.SITE_URL
    expected = {
        "/": f"{site}/",
        "/blog/": f"{site}/blog/",
        "/blog/?page=2": f"{site}/blog/?page=2",
        "/blog/?page=1": f"{site}/blog/",
        "/blog/p3/": f"{site}/blog/p3/",
        "/blog/?q=post": f"{site}/blog/",
        "/accounts/signup/": f"{site}/accounts/signup/",
    }
    for url, canonical in expected.items():
        head = client.get(url).content.decode().split("</head>", 1)[0]
        assert f'<link rel="canonical" href="{canonical}">' in head, url
        assert head.count('rel="canonical"') == 1, url
    missing = client.get("/no-such-page/")
    assert missing.status_code == 404
    assert 'rel="canonical"' not in missing.content.decode()
