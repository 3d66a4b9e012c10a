"""Placeholders in a message's subject and body: ``{full_name}``, ``{email}``,
``{unsubscribe_url}``, filled per recipient. ``{{`` and ``}}`` stand for literal braces.

Pure functions, no models: the form validates with ``placeholder_errors``, the sender fills
with ``fill``. A template that passed validation can only name known fields, so filling it
never evaluates anything a user wrote (no attribute or index access, no format specs).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from string import Formatter

from django.utils.translation import gettext as _

PLACEHOLDERS = ("full_name", "email", "unsubscribe_url")

_formatter = Formatter()


def placeholder_errors(text: str) -> list[str]:
    """Every problem with the placeholders in ``text``, each naming the placeholder."""
    try:
        parsed = list(_formatter.parse(text))
    except ValueError as exc:
        return [
            _("Malformed placeholder: %(reason)s. Write {{ and }} for literal braces.")
            % {"reason": exc}
        ]
    errors: list[str] = []
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        written = (
            "{"
            + field
            + (f"!{conversion}" if conversion else "")
            + (f":{spec}" if spec else "")
            + "}"
        )
        if field == "":
            errors.append(_("Empty placeholder {}: name one of %(known)s.") % {"known": _known()})
        elif field not in PLACEHOLDERS:
            errors.append(
                _("Unknown placeholder %(placeholder)s: use one of %(known)s.")
                % {"placeholder": written, "known": _known()}
            )
        elif conversion or spec:
            errors.append(
                _("Malformed placeholder %(placeholder)s: write it as {%(name)s}.")
                % {"placeholder": written, "name": field}
            )
    return list(dict.fromkeys(errors))


def fill(text: str, values: Mapping[str, str]) -> str:
    """Fill a validated template; every placeholder must have a value. The template is
    parsed once (a run fills the same one for every recipient: its HTML is kilobytes)."""
    out = []
    for literal, field in _parsed(text):
        out.append(literal)
        if field is not None:
            out.append(values[field])
    return "".join(out)


@lru_cache(maxsize=64)
def _parsed(text: str) -> tuple[tuple[str, str | None], ...]:
    """(literal text, placeholder or None) pairs; ``{{`` and ``}}`` already single."""
    parsed = []
    for literal, field, _spec, _conversion in _formatter.parse(text):
        if field is not None and field not in PLACEHOLDERS:
            raise KeyError(field)  # a template that was never validated
        parsed.append((literal, field))
    return tuple(parsed)


# Rendering a composed message (mailings/rendering.py): each placeholder a user wrote becomes
# a marker no other text holds (private-use characters, removed from what users type), the
# whole layout is rendered and escaped, then the markers become placeholders again and every
# other brace is doubled: the result is a template ``fill`` completes per recipient.
MARK_START, MARK_END = "\ue000", "\ue001"
MARKERS = {name: f"{MARK_START}{name}{MARK_END}" for name in PLACEHOLDERS}
_MARKER = re.compile(f"{MARK_START}({'|'.join(PLACEHOLDERS)}){MARK_END}")


def marked(text: str) -> str:
    """A validated template with its placeholders as markers and ``{{``/``}}`` as braces."""
    return fill(text.replace(MARK_START, "").replace(MARK_END, ""), MARKERS)


def as_template(rendered: str) -> str:
    """Rendered text holding markers, as a template: literal braces doubled, markers back
    to placeholders; stray marker characters (from text that was never a template) go."""
    text = rendered.replace("{", "{{").replace("}", "}}")
    text = _MARKER.sub(lambda match: "{" + match[1] + "}", text)
    return text.replace(MARK_START, "").replace(MARK_END, "")


def _known() -> str:
    return ", ".join("{" + name + "}" for name in PLACEHOLDERS)
