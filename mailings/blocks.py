"""The blocks a message is composed of (a Wagtail StreamField), each drawn twice: as a part
of the HTML layout (its template under ``templates/mailings/mail/blocks/``) and as plain
text (``as_text``), so that the text alternative comes from the blocks, not from scraping
the HTML (``mailings/rendering.py`` puts both together).

Text a user types here may hold placeholders (``{full_name}`` …, ``{{`` for a brace); each
such field is validated as the subject is. Links and images point at absolute URLs.
"""

from __future__ import annotations

import logging

from django.apps import apps
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.blocks.struct_block import StructBlockValidationError
from wagtail.images.blocks import ImageChooserBlock
from wagtail.images.models import SourceImageIOError
from wagtail.rich_text import RichText

from mailings import textify
from mailings.placeholders import marked, placeholder_errors

logger = logging.getLogger(__name__)

# What rich text offers in a mail: no embeds, no images inside text (the image block has a
# width and an alt text that mail clients need), no headings (the heading block).
RICH_TEXT_FEATURES = ["bold", "italic", "link", "ol", "ul"]
POST_MODEL = "blog.BlogPage"
IMAGE_WIDTH = 552  # the layout's 600 px less its padding; renditions have twice the pixels


def rendition_of(image) -> dict:
    """``src`` and ``width`` of an image for the layout; nothing for an image deleted since
    it was chosen, or whose file is gone (the message goes out without it)."""
    if image is None:
        return {}
    try:
        rendition = image.get_rendition(f"width-{IMAGE_WIDTH * 2}")
    except (SourceImageIOError, OSError):
        logger.warning("image %s has no file to render: left out of the message", image.pk)
        return {}
    return {"src": rendition.url, "width": min(IMAGE_WIDTH, (rendition.width + 1) // 2)}


def mailable_posts():
    """Posts a message may show: published and public (what any visitor reads)."""
    # By name, as the block's chooser names it: the blog's models import its view counter,
    # which imports mailings.sql and so mailings.models, which imports these blocks.
    return apps.get_model(POST_MODEL).objects.live().public()


def _check_placeholders(value: str) -> None:
    errors = placeholder_errors(value)
    if errors:
        raise ValidationError(errors[0])


class HeadingBlock(blocks.CharBlock):
    def __init__(self, **kwargs):
        super().__init__(max_length=200, validators=[_check_placeholders], **kwargs)

    def mark(self, value):
        return marked(value)

    def as_text(self, value) -> str:
        return f"{value}\n{'=' * min(len(value), 60)}"

    class Meta:
        icon = "title"
        label = _("Heading")
        template = "mailings/mail/blocks/heading.html"


class MailRichTextBlock(blocks.RichTextBlock):
    def __init__(self, **kwargs):
        super().__init__(features=RICH_TEXT_FEATURES, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        _check_placeholders(value.source)  # links too: {email} may be part of one
        return value

    def mark(self, value):
        return RichText(marked(value.source))

    def as_text(self, value) -> str:
        return textify.rich_text(value.source)

    class Meta:
        icon = "pilcrow"
        label = _("Text")
        template = "mailings/mail/blocks/rich_text.html"


class PlainTextBlock(blocks.TextBlock):
    """Text as typed, line breaks kept: what a message written before blocks became."""

    def __init__(self, **kwargs):
        super().__init__(validators=[_check_placeholders], **kwargs)

    def mark(self, value):
        return marked(value)

    def as_text(self, value) -> str:
        return value.strip("\n")

    class Meta:
        icon = "doc-full"
        label = _("Plain text")
        template = "mailings/mail/blocks/plain_text.html"


class ImageBlock(blocks.StructBlock):
    image = ImageChooserBlock(label=_("Image"))
    alt = blocks.CharBlock(
        label=_("Alternative text"),
        max_length=300,
        help_text=_("What the image shows, for those whose mail program hides images."),
    )
    link = blocks.URLBlock(label=_("Link"), required=False)

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context)
        context.update(rendition_of(value["image"]))
        return context

    def as_text(self, value) -> str:
        if value["image"] is None:
            return ""
        text = f"[{value['alt']}]"
        return f"{text} ({value['link']})" if value["link"] else text

    class Meta:
        icon = "image"
        label = _("Image")
        template = "mailings/mail/blocks/image.html"


class ButtonBlock(blocks.StructBlock):
    label = blocks.CharBlock(label=_("Label"), max_length=80, validators=[_check_placeholders])
    link = blocks.URLBlock(label=_("Link"))

    def mark(self, value):
        value = blocks.StructValue(self, list(value.items()))
        value["label"] = marked(value["label"])
        return value

    def as_text(self, value) -> str:
        return f"{value['label']}: {value['link']}"

    class Meta:
        icon = "link"
        label = _("Button")
        template = "mailings/mail/blocks/button.html"


class DividerBlock(blocks.StaticBlock):
    def as_text(self, value) -> str:
        return "-" * 40

    class Meta:
        icon = "minus"
        label = _("Divider")
        admin_text = _("A line across the message.")
        template = "mailings/mail/blocks/divider.html"


class BlogPostBlock(blocks.StructBlock):
    page = blocks.PageChooserBlock(page_type=POST_MODEL, label=_("Blog post"))
    link_label = blocks.CharBlock(
        label=_("Link text"), max_length=80, required=False, help_text=_("Default: Read more")
    )

    def clean(self, value):
        value = super().clean(value)
        page = value["page"]
        if page is not None and not mailable_posts().filter(pk=page.pk).exists():
            raise StructBlockValidationError(
                block_errors={"page": ValidationError(_("Choose a published, public post."))}
            )
        return value

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context)
        post = value["page"].specific if value["page"] else None
        context["post"] = post
        context["link_label"] = value["link_label"] or _("Read more")
        if post is not None:
            context.update(rendition_of(post.image))
        return context

    def as_text(self, value) -> str:
        if value["page"] is None:
            return ""
        post = value["page"].specific
        lines = [post.title.upper()]
        if post.teaser:
            lines.append(post.teaser)
        lines.append(f"{value['link_label'] or _('Read more')}: {textify.absolute(post.url)}")
        return "\n".join(lines)

    class Meta:
        icon = "doc-full-inverse"
        label = _("Blog post")
        template = "mailings/mail/blocks/blog_post.html"


class MessageBlocks(blocks.StreamBlock):
    heading = HeadingBlock()
    text = MailRichTextBlock()
    image = ImageBlock()
    button = ButtonBlock()
    divider = DividerBlock()
    post = BlogPostBlock()
    plain = PlainTextBlock()

    class Meta:
        block_counts = {"plain": {"max_num": 50}}
