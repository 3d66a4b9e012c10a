"""A message with every kind of block, for the tests and the browser journeys."""

from __future__ import annotations

from django.core.files.images import ImageFile
from wagtail.images.models import Image
from wagtail.rich_text import RichText

from blog.demo import draw_demo_image
from blog.models import BlogPage
from mailings.models import Message
from tests.factories import MessageFactory


def cover_image():
    picture = draw_demo_image("Cover", (10, 20, 30), 1)
    return Image.objects.create(title="Cover", file=ImageFile(picture, name="cover.png"))


def published_post(blog_index, image):
    post = blog_index.add_child(
        instance=BlogPage(
            title="Spring sale",
            slug="spring-sale",
            teaser="Ten days of low prices",
            body="<p>All of it.</p>",
            image=image,
        )
    )
    post.save_revision().publish()
    return post


def every_block(image, post):
    return [
        ("heading", "Hello {full_name}"),
        (
            "text",
            RichText(
                '<p>Dear {full_name}, write to <a href="https://shop.example/contact">us</a>'
                " from {email}.</p><ul><li>One</li><li>Two</li></ul>"
            ),
        ),
        ("image", {"image": image, "alt": "Our shop", "link": "https://shop.example/"}),
        ("button", {"label": "Shop now", "link": "https://shop.example/sale"}),
        ("divider", None),
        ("post", {"page": post, "link_label": ""}),
    ]


def composed_for(owner, blog_index):
    image = cover_image()
    post = published_post(blog_index, image)
    message = MessageFactory(
        owner=owner, subject="News for {full_name}", body="", content=every_block(image, post)
    )
    return Message.objects.get(pk=message.pk)
