"""Messages composed of blocks (issue 17): rendered once per version into an HTML layout for
mail clients and a text part drawn from the same blocks, sent as multipart/alternative with
the placeholders filled per recipient (escaped in the HTML)."""

import re
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from django.test import Client
from django.test.signals import template_rendered
from django.urls import reverse
from django.utils import timezone
from wagtail.images.models import Image
from wagtail.models import Collection
from wagtail.rich_text import RichText
from wagtail.test.utils.form_data import nested_form_data, rich_text, streamfield
from wagtail.users.models import UserProfile

from blog.demo import draw_demo_image
from blog.models import BlogPage
from mailings import rendering, textify
from mailings.models import Message
from tests.factories import (
    AttemptFactory,
    ClientFactory,
    MailingFactory,
    MessageFactory,
    SuperuserFactory,
    UserFactory,
)
from tests.support.composed import composed_for, cover_image, published_post
from tests.support.runs import run_until_done

pytestmark = pytest.mark.django_db

HOSTILE_NAME = '<b>Ann & "Bo"</b>'


@pytest.fixture
def composed(blog_index, settings):
    settings.SITE_URL = "https://mail.example.com"
    return composed_for(UserFactory(role="Users"), blog_index)


def send_to(message, clients):
    mailing = MailingFactory(
        owner=message.owner, message=message, clients=clients, start_at=timezone.now()
    )
    return run_until_done(AttemptFactory(mailing=mailing).pk)


def test_a_composed_message_goes_out_as_text_then_html_each_filled_in(composed, smtp_server):
    ann = ClientFactory(owner=composed.owner, full_name=HOSTILE_NAME, email="ann@example.org")

    assert send_to(composed, [ann]).sent == 1

    (received,) = smtp_server.received
    mail = message_from_bytes(received.raw, policy=default_policy)
    assert mail.get_content_type() == "multipart/alternative"
    text_part, html_part = mail.get_payload()
    assert (text_part.get_content_type(), html_part.get_content_type()) == (
        "text/plain",
        "text/html",
    )
    text, html = (part.get_content().replace("\r\n", "\n") for part in (text_part, html_part))
    assert mail["Subject"] == f"News for {HOSTILE_NAME}"
    # The name as it is in the text, escaped in the HTML (never markup there).
    assert f"Hello {HOSTILE_NAME}" in text
    assert f"Dear {HOSTILE_NAME}, write to us (https://shop.example/contact) from" in text
    assert "Hello &lt;b&gt;Ann &amp; &quot;Bo&quot;&lt;/b&gt;" in html
    assert "<b>Ann" not in html
    assert "ann@example.org" in text and "ann@example.org" in html
    # Images and links as a mail client needs them: absolute.
    sources = re.findall(r'<img [^>]*src="([^"]+)"', html)
    assert len(sources) == 2
    assert all(re.fullmatch(r"https://mail\.example\.com/media/images/\S+", s) for s in sources)
    assert 'href="https://mail.example.com/blog/spring-sale/"' in html
    assert "Spring sale" in html and "Ten days of low prices" in html
    # The text part comes from the blocks: a button, an image, a list, the post.
    assert "Shop now: https://shop.example/sale" in text
    assert "[Our shop] (https://shop.example/)" in text
    assert "- One\n- Two" in text
    assert "SPRING SALE\nTen days of low prices\nRead more: " in text
    # The unsubscribe link: in the headers, in the text and in the HTML.
    link = str(mail["List-Unsubscribe"]).strip("<>")
    assert f"Unsubscribe: {link}" in text
    assert f'href="{link}"' in html


def test_the_html_has_its_styles_inline_and_no_script(composed):
    html = composed.html

    assert re.search(r"<(style|link|script)\b", html, re.IGNORECASE) is None
    assert 'style="' in html
    assert re.search(r'<td [^>]*style="[^"]*padding', html)
    # Under RFC 5322's line limit: the part goes out as 8-bit text, not quoted-printable.
    assert max(len(line) for line in html.split("\n")) <= rendering.MAX_LINE


def test_the_layout_is_rendered_once_not_per_recipient(composed, smtp_server):
    clients = [ClientFactory(owner=composed.owner) for _ in range(20)]
    rendered = []

    def seen(sender, template, **kwargs):
        rendered.append(template.name)

    template_rendered.connect(seen)
    try:
        done = send_to(composed, clients)
    finally:
        template_rendered.disconnect(seen)

    assert done.sent == 20
    assert rendered == []  # the run sends what was rendered when the message was saved
    assert done.html == composed.html
    assert len({r.raw for r in smtp_server.received}) == 20


def test_a_long_paragraph_keeps_its_lines_short_and_its_braces():
    long_text = "word " * 600 + "{email} and {{literal}}"
    owner = UserFactory(role="Users")
    message = MessageFactory(
        owner=owner, body="", content=[("text", RichText(f"<p>{long_text}</p>"))]
    )

    assert max(len(line) for line in message.html.split("\n")) <= rendering.MAX_LINE
    assert "{email} and {{literal}}" in message.text
    assert "{email} and {{literal}}" in message.html


def test_a_plain_text_message_still_goes_out_as_plain_text(smtp_server):
    message = MessageFactory(body="Hi {full_name}", owner=UserFactory(role="Users"))
    reader = ClientFactory(owner=message.owner, full_name="Ann")

    send_to(message, [reader])

    mail = smtp_server.received[0].message
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content().strip() == "Hi Ann"
    assert message.html == ""


def test_rich_text_becomes_text_with_links_and_lists():
    source = (
        '<p>See <a href="https://a.example/x">our <b>page</b></a>.</p>'
        "<ol><li>first</li><li>second</li></ol><p>Line<br/>break</p>"
    )

    assert textify.rich_text(source) == (
        "See our page (https://a.example/x).\n\n1. first\n2. second\n\nLine\nbreak"
    )


def test_the_footer_is_in_the_owners_language(blog_index):
    owner = UserFactory(role="Users")
    profile = UserProfile.get_for_user(owner)
    profile.preferred_language = "ru"
    profile.save()

    message = MessageFactory(owner=owner, body="", content=[("heading", "Новости")])

    assert "Отписаться" in message.text
    assert "Отписаться" in message.html


# --- The form --------------------------------------------------------------------------------


def form_data(**fields):
    data = {"subject": "Spring", "body": "", **fields}
    return nested_form_data(data)


def post_message(client, data):
    return client.post(reverse("mailings_messages:add"), data)


def test_blocks_are_saved_and_rendered_from_the_form(owner, client):
    data = form_data(
        content=streamfield(
            [
                ("heading", "Hello {full_name}"),
                ("text", rich_text("<p>News for {email}</p>")),
                ("button", {"label": "Go", "link": "https://shop.example/"}),
            ]
        )
    )

    response = post_message(client, data)

    assert response.status_code == 302, response.content[:2000]
    message = Message.objects.get(owner=owner)
    assert [block.block_type for block in message.content] == ["heading", "text", "button"]
    assert "Hello {full_name}" in message.text and "Go: https://shop.example/" in message.text
    assert "Hello {full_name}" in message.html


@pytest.mark.parametrize(
    "blocks, error",
    [
        ([("heading", "Hi {nope}")], "Unknown placeholder {nope}"),
        ([("text", rich_text("<p>Hi {full_name</p>"))], "Malformed placeholder"),
        ([("button", {"label": "{x}", "link": "https://a.example/"})], "Unknown placeholder"),
        ([("button", {"label": "Go", "link": "javascript:alert(1)"})], "Enter a valid URL"),
    ],
)
def test_a_bad_block_is_a_form_error(owner, client, blocks, error):
    response = post_message(client, form_data(content=streamfield(blocks)))

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Message.objects.filter(owner=owner).exists()


def test_blocks_and_plain_text_together_or_neither_are_refused(owner, client):
    both = post_message(client, form_data(body="Hi", content=streamfield([("heading", "Hello")])))
    neither = post_message(client, form_data(content=streamfield([])))

    assert "not both" in both.content.decode()
    assert "Write the message" in neither.content.decode()
    assert not Message.objects.filter(owner=owner).exists()


@pytest.mark.parametrize(
    "garbage",
    [
        {"content-count": "abc"},
        {"content-count": "3"},  # rows that are not there
        {"content-count": "1", "content-0-type": "nonsense", "content-0-value": "x"},
        {"content-count": "1", "content-0-type": "image", "content-0-deleted": ""},
        {"content-count": "99999999999999999999"},
    ],
)
def test_garbage_blocks_are_a_form_error_not_a_500(owner, client, garbage):
    response = client.post(
        reverse("mailings_messages:add"), {"subject": "S", "body": "", **garbage}
    )

    assert response.status_code == 200
    assert not Message.objects.filter(owner=owner).exists()


def test_an_unpublished_post_cannot_be_chosen(owner, client, blog_index):
    post = blog_index.add_child(instance=BlogPage(title="Draft", slug="draft", body="<p>x</p>"))
    post.unpublish()

    response = post_message(
        client, form_data(content=streamfield([("post", {"page": post.pk, "link_label": ""})]))
    )

    assert response.status_code == 200
    assert "Choose a published, public post." in response.content.decode()


def test_the_preview_shows_the_html_sandboxed_and_the_text_beside_it(owner, client, blog_index):
    composed = composed_for(owner, blog_index)
    ClientFactory(owner=owner, full_name=HOSTILE_NAME)

    page = client.get(reverse("mailings_messages:preview", args=[composed.pk])).content.decode()

    frame = re.search(r"<iframe [^>]*>", page)[0]
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in frame
    assert "allow-scripts" not in frame and "allow-same-origin" not in frame
    srcdoc = re.search(r'srcdoc="([^"]*)"', frame)[1]
    # The mail's own escaping, escaped once more for the attribute.
    assert "Hello &amp;lt;b&amp;gt;Ann &amp;amp; &amp;quot;Bo&amp;quot;" in srcdoc
    assert "&lt;base target=&quot;_blank&quot;&gt;" in srcdoc
    assert "Shop now: https://shop.example/sale" in page  # the text part


def test_the_post_chooser_shows_a_user_no_draft_nor_private_page(owner, client, blog_index):
    live = BlogPage(title="Public sale", slug="public-sale", body="<p>x</p>")
    blog_index.add_child(instance=live)
    live.save_revision().publish()
    draft = BlogPage(title="Secret plans draft", slug="secret", body="<p>x</p>", live=False)
    blog_index.add_child(instance=draft)

    listing = client.get(reverse("wagtailadmin_choose_page_child", args=[blog_index.pk]))
    found = client.get(reverse("wagtailadmin_choose_page_search"), {"q": "plans"})

    assert "Public sale" in listing.json()["html"]
    assert "Secret plans draft" not in listing.json()["html"]
    assert "Secret plans draft" not in found.content.decode()


# --- Images: each user's own ------------------------------------------------------------------


def upload(client, title):
    picture = draw_demo_image(title, (40, 90, 120), 1)
    picture.name = f"{title}.png"
    mail_images = Collection.objects.get(name="Mail images")
    response = client.post(
        reverse("wagtailimages:add"),
        {"title": title, "file": picture, "collection": mail_images.pk},
    )
    assert response.status_code == 302, response.content[:1000]
    return Image.objects.get(title=title)


def test_a_user_uploads_images_and_chooses_only_their_own(client):
    alice, bob = UserFactory(role="Users"), UserFactory(role="Users")
    client.force_login(alice)
    image = upload(client, "Alice shop front")

    assert image.uploaded_by_user == alice and image.collection.name == "Mail images"
    assert "Alice shop front" in client.get("/admin/images/chooser/").json()["html"]
    assert client.get(reverse("wagtailimages_chooser:chosen", args=[image.pk])).status_code == 200

    client = Client()  # Bob's own browser: none of Alice's cookies
    client.force_login(bob)
    for url in ("/admin/images/chooser/", "/admin/api/main/images/", "/admin/images/"):
        assert "Alice shop front" not in client.get(url).content.decode(), url
    chosen = client.get(reverse("wagtailimages_chooser:chosen", args=[image.pk]))
    assert chosen.status_code in (302, 403)  # Wagtail's "no permission" redirect
    assert "Alice shop front" not in chosen.content.decode()
    # Nor by typing its id into a message's image block.
    data = form_data(content=streamfield([("image", {"image": image.pk, "alt": "x", "link": ""})]))
    response = post_message(client, data)
    assert response.status_code == 200
    assert "Choose one of your own images." in response.content.decode()
    assert not Message.objects.filter(owner=bob).exists()


def test_a_manager_uploads_nothing_and_chooses_nothing(client):
    alice = UserFactory(role="Users")
    client.force_login(alice)
    upload(client, "Alice logo")

    client = Client()
    client.force_login(UserFactory(role="Managers"))

    assert "Alice logo" not in client.get("/admin/images/chooser/").content.decode()
    assert client.get(reverse("wagtailimages:add")).status_code in (302, 403)


# --- "Mail this post" ---------------------------------------------------------------------------


def test_mail_this_post_makes_a_message_of_the_post(client, blog_index, settings):
    settings.SITE_URL = "https://mail.example.com"
    editor = SuperuserFactory()
    post = published_post(blog_index, cover_image())
    client.force_login(editor)
    url = reverse("mailings_messages:from_post", args=[post.pk])

    editor_page = client.get(reverse("wagtailadmin_pages:edit", args=[post.pk])).content.decode()
    assert url in editor_page  # in the page editor's header menu
    listing = client.get(reverse("wagtailadmin_explore", args=[blog_index.pk])).content.decode()
    assert url in listing  # and in the page listing's menu
    assert client.get(url).status_code == 200
    response = client.post(url)

    message = Message.objects.get(owner=editor)
    assert response.status_code == 302
    assert response["Location"] == reverse("mailings_messages:edit", args=[message.pk])
    assert message.subject == "Spring sale"
    assert "Spring sale" in message.html
    assert 'href="https://mail.example.com/blog/spring-sale/"' in message.html
    assert re.search(r'<img [^>]*src="https://mail\.example\.com/media/images/', message.html)
    assert "SPRING SALE" in message.text


def test_mail_this_post_is_for_published_public_posts_and_message_writers(client, blog_index):
    draft = blog_index.add_child(instance=BlogPage(title="Draft", slug="d", body="<p>x</p>"))
    draft.unpublish()
    live = published_post(blog_index, cover_image())
    client.force_login(SuperuserFactory())

    assert client.post(reverse("mailings_messages:from_post", args=[draft.pk])).status_code == 404
    assert client.get(reverse("mailings_messages:from_post", args=[99999])).status_code == 404
    editor_page = client.get(reverse("wagtailadmin_pages:edit", args=[draft.pk])).content.decode()
    assert "from-post" not in editor_page

    manager = Client()
    manager.force_login(UserFactory(role="Managers"))
    assert manager.post(reverse("mailings_messages:from_post", args=[live.pk])).status_code in (
        302,
        403,
        404,
    )
    assert not Message.objects.exists()


def test_a_message_still_renders_when_its_image_or_post_is_gone(blog_index):
    owner = UserFactory(role="Users")
    image = cover_image()
    post = published_post(blog_index, image)
    message = MessageFactory(
        owner=owner,
        body="",
        content=[
            ("heading", "Still here"),
            ("image", {"image": image, "alt": "Shop", "link": ""}),
            ("post", {"page": post, "link_label": ""}),
        ],
    )
    image.file.delete(save=False)  # its file gone from the storage
    image.renditions.all().delete()
    post.delete()

    message = Message.objects.get(pk=message.pk)
    message.subject = "Edited"
    message.save()

    assert "Still here" in message.html and "<img" not in message.html
    assert "Spring sale" not in message.text
