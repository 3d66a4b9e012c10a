"""What the admin's forms post, for tests that post them."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

FORM_MOMENT = "%Y-%m-%d %H:%M"


def moment(value, zone=None) -> str:
    """A datetime as the admin's date-time field takes it: on the mailing's clock (``zone``),
    else the current time zone's."""
    return timezone.localtime(value, zone).strftime(FORM_MOMENT)


def mailing_form_data(mailing=None, **overrides) -> dict:
    """The mailing form's fields: those of ``mailing`` if given, else a daily mailing that
    starts tomorrow for three days (message and clients to be filled in)."""
    if mailing is not None:
        data = {
            "name": mailing.name,
            "message": mailing.message_id,
            "clients": list(mailing.clients.values_list("pk", flat=True)),
            "start_at": moment(mailing.start_at, mailing.zone),
            "end_at": moment(mailing.end_at, mailing.zone),
            "periodicity": mailing.periodicity,
            "time_zone": mailing.time_zone,
        }
    else:
        start = timezone.now() + timedelta(days=1)
        data = {"name": "Spring offers", "start_at": moment(start)}
        data["end_at"] = moment(start + timedelta(days=3))
        data["periodicity"] = "daily"
    data["is_enabled"] = "on"
    data.update(overrides)
    return data
