"""Rich text as plain text, and links as absolute URLs, for the text part of a composed
message. Rich text here is what Draftail stores for the features the text block offers
(paragraphs, bold, italic, links, lists); a link becomes "text (URL)", a list item "- item"
or "1. item", a paragraph a block of lines with a blank line after it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from django.conf import settings
from wagtail.rich_text import expand_db_html

_BLANK_LINES = re.compile(r"\n{3,}")
_LIST_ITEM = re.compile(r" *(?:- |\d+\. )")
_SPACES = re.compile(r"[ \t\r\f\v]+")


def absolute(url: str) -> str:
    """A link or image address as a mail client needs it: with the site's scheme and host."""
    if url.startswith("//") or "://" in url[:12] or url.startswith("mailto:"):
        return url
    return settings.SITE_URL + ("" if url.startswith("/") else "/") + url


def rich_text(source: str) -> str:
    """Draftail's stored HTML as plain text (internal links resolved to absolute URLs)."""
    parser = _TextParser()
    parser.feed(expand_db_html(source))
    parser.close()
    return parser.text()


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.lists: list[list[int]] = []  # per open list: [number so far] or [] for bullets
        self.links: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("p", "div"):
            self._block()
        elif tag == "br":
            self.out.append("\n")
        elif tag in ("ul", "ol"):
            self._block()
            self.lists.append([0] if tag == "ol" else [])
        elif tag == "li":
            self.out.append("\n")
            depth = "  " * max(len(self.lists) - 1, 0)
            if self.lists and self.lists[-1]:
                self.lists[-1][0] += 1
                self.out.append(f"{depth}{self.lists[-1][0]}. ")
            else:
                self.out.append(f"{depth}- ")
        elif tag == "a":
            self.links.append(dict(attrs).get("href"))

    def handle_endtag(self, tag):
        if tag in ("p", "div"):
            self._block()
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            self._block()
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href:
                self.out.append(f" ({absolute(href)})")

    def handle_data(self, data):
        self.out.append(_SPACES.sub(" ", data.replace("\n", " ")))

    def _block(self):
        self.out.append("\n\n")

    def text(self) -> str:
        lines = [
            line.rstrip() if _LIST_ITEM.match(line) else line.strip()
            for line in "".join(self.out).split("\n")
        ]
        text = "\n".join(lines)
        return _BLANK_LINES.sub("\n\n", text).strip("\n")
