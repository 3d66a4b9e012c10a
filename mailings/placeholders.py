"""Placeholders in a message's subject and body: ``{full_name}``, ``{email}``,
``{unsubscribe_url}``, filled per recipient. ``{{`` and ``}}`` stand for literal braces.

Pure functions, no models: the form validates with ``placeholder_errors``, the sender fills
with ``fill``. A template that passed validation can only name known fields, so filling it
never evaluates anything a user wrote (no attribute or index access, no format specs).
"""

from __future__ import annotations

from collections.abc import Mapping
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
    """Fill a validated template; every placeholder must have a value."""
    return text.format_map({name: values[name] for name in PLACEHOLDERS if name in values})


def _known() -> str:
    return ", ".join("{" + name + "}" for name in PLACEHOLDERS)
