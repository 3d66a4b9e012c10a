"""The public site: page-type rules, and the pages render what they hold."""

from django.core.files.images import ImageFile
from wagtail.images.models import Image
from wagtail.models import Page

from blog.demo import draw_demo_image
from blog.models import BlogIndexPage, BlogPage
from home.models import HomePage


def make_post(index, slug, title, **fields):
    post = index.add_child(instance=BlogPage(title=title, slug=slug, body="<p>Body</p>", **fields))
    post.save_revision().publish()
    return post


def test_home_page_is_the_site_root_after_migrate(home):
    site_root = Page.objects.get(depth=1)

    assert home.get_parent().specific_class is Page
    assert home.get_parent() == site_root
    assert home.get_site().root_page_id == home.pk


def test_only_one_home_page(home):
    assert not HomePage.can_create_at(Page.objects.get(depth=1))


def test_blog_index_lives_under_home_only_once(home, blog_index):
    assert BlogIndexPage.allowed_parent_page_models() == [HomePage]
    assert not BlogIndexPage.can_create_at(home)  # one exists already
    assert not BlogIndexPage.can_create_at(blog_index)


def test_posts_live_only_under_the_blog_index(home, blog_index):
    assert BlogPage.can_create_at(blog_index)
    assert not BlogPage.can_create_at(home)
    assert BlogPage.allowed_subpage_models() == []
    assert HomePage.allowed_subpage_models() == [BlogIndexPage]


def test_home_page_renders_with_navigation(client, home):
    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/blog/"' in html
    assert 'href="/admin/login/"' in html
    assert "/static/css/site.css" in html
    assert "No posts yet." in html


def test_blog_index_lists_posts_newest_first(client, blog_index):
    make_post(blog_index, "older", "An older post", date_published="2026-01-01")
    make_post(blog_index, "newer", "A newer post", date_published="2026-06-01")

    html = client.get("/blog/").content.decode()

    assert html.index("A newer post") < html.index("An older post")


def test_blog_post_renders_with_its_image_and_meta(client, blog_index):
    image = Image.objects.create(
        title="Cover", file=ImageFile(draw_demo_image("Cover", (10, 20, 30), 1), name="c.png")
    )
    post = make_post(blog_index, "hello", "Hello readers", image=image, teaser="Short")

    response = client.get(post.url)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Hello readers</h1>" in html
    assert 'property="og:image"' in html
    assert "/media/images/" in html  # a rendition of the post's image
    assert "1 view<" in html  # this view counts itself


def test_home_page_shows_published_posts(client, blog_index):
    make_post(blog_index, "first", "First post")

    assert "First post" in client.get("/").content.decode()


def test_an_unknown_path_gets_the_sites_not_found_page(client, home):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_admin_login_page_renders(client, db):
    response = client.get("/admin/login/")

    assert response.status_code == 200
    assert 'name="username"' in response.content.decode()


def test_publishing_a_revision_keeps_the_live_view_count(blog_index):
    post = make_post(blog_index, "counted", "Counted")
    revision = post.save_revision()  # the revision remembers view_count == 0
    BlogPage.objects.filter(pk=post.pk).update(view_count=41)

    BlogPage.objects.get(pk=post.pk).get_latest_revision().publish()
    revision.publish()

    assert BlogPage.objects.get(pk=post.pk).view_count == 41
