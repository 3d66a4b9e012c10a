"""The admin dashboard's mailings panel: figures and a 30-day chart of sent and failed
messages, for the mailings the permission policy lets the user count (their own; a manager's and a
superuser's: every user's).

A fixed number of queries whatever the volume: one for the mailings, one each for the clients
and the messages, one for the runs of the last 30 days grouped by day (their own counts of
sent and failed messages, which the ledger keeps exact). Someone with no
mailing yet gets the three steps to a first one instead of an empty chart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from wagtail.admin.ui.components import Component

from mailings.models import Attempt, Client, Mailing, Message
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
    mailings, clients, messages, runs = (
        policy_for(model).instances_user_has_permission_for(user, "count")
        for model in (Mailing, Client, Message, Attempt)
    )

    counts = mailings.aggregate(
        total=Count("pk"),
        running=Count("pk", filter=Q(status=Mailing.Status.RUNNING, is_enabled=True)),
        disabled=Count("pk", filter=Q(is_enabled=False)),
    )
    # The runs' own counts (the ledger keeps them equal to their deliveries'), not the
    # deliveries: 30 days of a big sender are millions of deliveries and a few hundred runs.
    per_day = {
        row["day"]: row
        for row in runs.filter(scheduled_for__date__gte=since)
        .annotate(day=TruncDate("scheduled_for"))
        .values("day")
        .annotate(sent=Sum("sent"), failed=Sum("failed"))
        .order_by()
    }
    days = [
        Day(
            day,
            per_day.get(day, {}).get("sent") or 0,
            per_day.get(day, {}).get("failed") or 0,
        )
        for day in (since + timedelta(days=n) for n in range(DAYS))
    ]
    sent, failed = sum(d.sent for d in days), sum(d.failed for d in days)
    return {
        "mailings": counts,
        "clients": clients.count(),
        "messages_count": messages.count(),
        "sent": sent,
        "failed": failed,
        "success_rate": success_rate(sent, failed),
        "days": days,
        "site_wide": policy_for(Mailing).sees_every_owner(user),
    }


@dataclass(frozen=True)
class Bar:
    label: str  # a day, or a run's slot
    sent: int
    failed: int


def chart(bars: list[Bar], *, title: str) -> dict:
    """Coordinates of an inline SVG bar chart, sent stacked under failed, one bar per day or
    run; its axes (the highest bar and zero, the first, middle and last labels) and legend
    are HTML around it (templates: mailings/includes/bar_chart.html)."""
    peak = max((b.sent + b.failed for b in bars), default=0) or 1
    width = CHART_WIDTH / max(len(bars), 1)
    drawn = []
    for index, bar in enumerate(bars):
        sent_h = CHART_HEIGHT * bar.sent / peak
        failed_h = CHART_HEIGHT * bar.failed / peak
        drawn.append(
            {
                "x": round(index * width, 1),
                "width": round(max(width - BAR_GAP, 1), 1),
                "sent_y": round(CHART_HEIGHT - sent_h, 1),
                "sent_h": round(sent_h, 1),
                "failed_y": round(CHART_HEIGHT - sent_h - failed_h, 1),
                "failed_h": round(failed_h, 1),
                "bar": bar,
            }
        )
    ticks = [bars[0].label, bars[len(bars) // 2].label, bars[-1].label] if len(bars) > 2 else []
    return {
        "bars": drawn,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "peak": peak,
        "ticks": ticks or [b.label for b in bars],
        "title": title,
    }


def runs_chart(attempts, zone) -> dict | None:
    """A mailing's last runs, oldest first, by slot on the mailing's clock (None before its
    first run)."""
    runs = list(attempts)[::-1]
    if not runs:
        return None
    bars = [
        Bar(
            date_format(timezone.localtime(a.scheduled_for, zone), "SHORT_DATETIME_FORMAT"),
            a.sent,
            a.failed,
        )
        for a in runs
    ]
    return chart(
        bars,
        title=_("Messages sent and failed per run, last %(count)s runs") % {"count": len(bars)},
    )


class MailingsPanel(Component):
    name = "mailings"
    order = 50
    template_name = "mailings/dashboard/panel.html"

    def __init__(self, user) -> None:
        self.user = user

    def get_context_data(self, parent_context=None):
        data = figures(self.user)
        bars = [Bar(date_format(d.day, "MONTH_DAY_FORMAT"), d.sent, d.failed) for d in data["days"]]
        data["chart"] = chart(bars, title=_("Messages sent and failed per day over 30 days"))
        return data
