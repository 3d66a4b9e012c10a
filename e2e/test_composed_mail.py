"""Journey: a message composed of every kind of block, previewed as its readers will see it.
The HTML is drawn in a sandboxed frame at a desktop and a phone width (each saved as a
screenshot), its images load, no console error; the text part is beside it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from wagtail.models import Page as WagtailPage

from blog.models import BlogIndexPage
from e2e.conftest import SCREENSHOTS
from e2e.helpers import log_in
from home.models import HomePage
from mailings.models import Message
from tests.factories import ClientFactory, SuperuserFactory, UserFactory
from tests.support.composed import composed_for, cover_image, published_post

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def blog_index() -> WagtailPage:
    home = HomePage.objects.get()
    index = BlogIndexPage.objects.first()
    if index is None:
        index = home.add_child(instance=BlogIndexPage(title="Blog", slug="blog"))
        index.save_revision().publish()
    return index


def test_a_message_of_every_block_previews_at_desktop_and_phone_width(page: Page):
    owner = UserFactory(role="Users", email="composer@shop.example")
    message = composed_for(owner, blog_index())
    ClientFactory(owner=owner, full_name='<b>Ann & "Bo"</b>', email="ann@example.org")

    log_in(page, owner.email)
    page.goto(f"/admin/mailings/messages/preview/{message.pk}/")

    frame_element = page.locator("iframe[data-preview=html]")
    frame = page.frame_locator("iframe[data-preview=html]")
    expect(frame.get_by_role("heading", level=1)).to_have_text('Hello <b>Ann & "Bo"</b>')
    expect(frame.get_by_role("link", name="Shop now")).to_have_attribute(
        "href", "https://shop.example/sale"
    )
    expect(frame.get_by_role("link", name="Spring sale")).to_be_visible()
    images = frame.locator("img")
    expect(images).to_have_count(2)
    for index in range(2):
        assert images.nth(index).evaluate("img => img.complete && img.naturalWidth > 0")
    expect(page.locator("[data-preview=body]")).to_contain_text(
        "Shop now: https://shop.example/sale"
    )

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert frame_element.evaluate("f => f.getBoundingClientRect().width") == 600
    frame_element.screenshot(path=SCREENSHOTS / "composed-mail-600.png")
    page.get_by_label("Phone").check()
    expect(frame_element).to_have_js_property("clientWidth", 373)  # 375 less its border
    # Nothing of the mail sticks out at a phone's width.
    width = frame.locator("body").evaluate("b => b.scrollWidth - b.clientWidth")
    assert width == 0
    frame_element.screenshot(path=SCREENSHOTS / "composed-mail-375.png")


def test_mail_this_post_from_the_page_editor(page: Page):
    editor = SuperuserFactory(email="editor@shop.example")
    post = published_post(blog_index(), cover_image())

    log_in(page, editor.email)
    page.goto(f"/admin/pages/{post.pk}/edit/")
    page.locator("header").get_by_role(
        "button", name=re.compile("Actions|More actions")
    ).first.click()
    page.get_by_role("menuitem", name="Mail this post").or_(
        page.get_by_role("link", name="Mail this post")
    ).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Mail this post")
    page.get_by_role("button", name="Create the message").click()

    expect(page.get_by_text("is ready: add words of your own")).to_be_visible()
    message = Message.objects.get(owner=editor)
    assert page.url.endswith(f"/admin/mailings/messages/edit/{message.pk}/")
    assert "Spring sale" in message.html
    assert re.search(r'<img [^>]*src="http://127\.0\.0\.1:\d+/media/images/', message.html)
    assert re.search(r'href="http://127\.0\.0\.1:\d+/blog/spring-sale/"', message.html)
    # What the editor just made previews with the post in it.
    page.goto(f"/admin/mailings/messages/preview/{message.pk}/")
    frame = page.frame_locator("iframe[data-preview=html]")
    expect(frame.get_by_role("link", name="Spring sale")).to_be_visible()
