"""A composed message rendered once per version: its blocks into one HTML layout made for
mail clients (tables, styles inlined by css-inline, absolute links, no script, no external
style sheet) and into a plain-text alternative drawn from the same blocks. Both come out as
templates whose only holes are the placeholders, which ``composing`` fills per recipient
(escaped for HTML in the HTML part). Nothing here runs per recipient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import css_inline
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from mailings.placeholders import MARKERS, as_template, marked
from mailings.textify import absolute

LAYOUT = "mailings/mail/layout.html"
MAX_LINE = 990  # under RFC 5322's 998, so that a filled-in value rarely pushes a line over
_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False)
_RELATIVE = re.compile(r'(\s(?:src|href)=")(/[^/"][^"]*|/)"')


@dataclass(frozen=True)
class Rendered:
    html: str  # a template: placeholders to fill, literal braces doubled
    text: str


def render(*, subject: str, content, language: str) -> Rendered:
    """The HTML and text templates of a message made of ``content`` (a StreamValue)."""
    html_parts, text_parts = [], []
    with translation.override(language):
        for child in content:
            block = child.block
            value = block.mark(child.value) if hasattr(block, "mark") else child.value
            html_parts.append(mark_safe(block.render(value)))  # noqa: S308 - block templates escape
            text_parts.append(block.as_text(value).strip("\n"))
        unsubscribe = MARKERS["unsubscribe_url"]
        # The layout says how to unsubscribe unless the message already does.
        footer = not any(unsubscribe in part for part in text_parts)
        html = render_to_string(
            LAYOUT,
            {
                "subject": marked(subject),
                "blocks": html_parts,
                "footer": footer,
                "unsubscribe_url": unsubscribe,
                "language": language,
            },
        )
        if footer:
            text_parts.append(f"--\n{_('Unsubscribe')}: {unsubscribe}")
    html = _RELATIVE.sub(lambda m: f'{m[1]}{absolute(m[2])}"', _INLINER.inline(html))
    text = "\n\n".join(part for part in text_parts if part) + "\n"
    return Rendered(html=as_template(wrapped(html)), text=as_template(text))


def wrapped(html: str) -> str:
    """Lines kept under ``MAX_LINE`` by turning a space into a line break (the same
    whitespace to HTML: the layout has no preformatted text), so that the part goes out
    as 8-bit text rather than quoted-printable, which grows it by a third."""
    lines = []
    for line in html.split("\n"):
        while len(line) > MAX_LINE:
            cut = line.rfind(" ", 0, MAX_LINE)
            if cut <= 0:
                break  # no space to break at: the builder encodes that part instead
            lines.append(line[:cut])
            line = line[cut + 1 :]
        lines.append(line)
    return "\n".join(lines)
