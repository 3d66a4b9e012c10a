"""The admin dashboard's mailings panel: figures and a 30-day chart of sent and failed
messages, for the mailings the permission policy lets the user count (their own; a manager's and a
superuser's: every user's).

A fixed number of queries whatever the volume: one for the mailings, one for the clients,
one for the deliveries of the last 30 days grouped by day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from wagtail.admin.ui.components import Component

from mailings.models import Client, Delivery, Mailing
from mailings.permissions import policy_for
from mailings.reporting import success_rate

DAYS = 30
CHART_WIDTH, CHART_HEIGHT, BAR_GAP = 600, 160, 2


@dataclass(frozen=True)
class Day:
    day: date
    sent: int
    failed: int


def figures(user, *, today: date | None = None) -> dict:
    today = today or timezone.localdate()
    since = today - timedelta(days=DAYS - 1)
    mailings, clients, deliveries = (
        policy_for(model).instances_user_has_permission_for(user, "count")
        for model in (Mailing, Client, Delivery)
    )

    counts = mailings.aggregate(
        total=Count("pk"),
        running=Count("pk", filter=Q(status=Mailing.Status.RUNNING, is_enabled=True)),
        disabled=Count("pk", filter=Q(is_enabled=False)),
    )
    per_day = {
        row["day"]: row
        for row in deliveries.filter(attempt__scheduled_for__date__gte=since)
        .annotate(day=TruncDate("attempt__scheduled_for"))
        .values("day")
        .annotate(
            sent=Count("pk", filter=Q(status=Delivery.Status.SENT)),
            failed=Count("pk", filter=Q(status=Delivery.Status.FAILED)),
        )
    }
    days = [
        Day(
            day,
            per_day.get(day, {}).get("sent", 0),
            per_day.get(day, {}).get("failed", 0),
        )
        for day in (since + timedelta(days=n) for n in range(DAYS))
    ]
    sent, failed = sum(d.sent for d in days), sum(d.failed for d in days)
    return {
        "mailings": counts,
        "clients": clients.count(),
        "sent": sent,
        "failed": failed,
        "success_rate": success_rate(sent, failed),
        "days": days,
        "site_wide": policy_for(Mailing).sees_every_owner(user),
    }


def chart(days: list[Day]) -> dict:
    """Coordinates of an inline SVG bar chart: sent stacked under failed, one bar a day."""
    peak = max((d.sent + d.failed for d in days), default=0) or 1
    width = CHART_WIDTH / len(days)
    bars = []
    for index, day in enumerate(days):
        sent_h = CHART_HEIGHT * day.sent / peak
        failed_h = CHART_HEIGHT * day.failed / peak
        x = index * width
        bars.append(
            {
                "x": round(x, 1),
                "width": round(width - BAR_GAP, 1),
                "sent_y": round(CHART_HEIGHT - sent_h, 1),
                "sent_h": round(sent_h, 1),
                "failed_y": round(CHART_HEIGHT - sent_h - failed_h, 1),
                "failed_h": round(failed_h, 1),
                "day": day,
            }
        )
    return {"bars": bars, "width": CHART_WIDTH, "height": CHART_HEIGHT, "peak": peak}


class MailingsPanel(Component):
    name = "mailings"
    order = 50
    template_name = "mailings/dashboard/panel.html"

    def __init__(self, user) -> None:
        self.user = user

    def get_context_data(self, parent_context=None):
        data = figures(self.user)
        data["chart"] = chart(data["days"])
        return data
