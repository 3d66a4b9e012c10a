"""Figures about mailings and their runs, computed in the database (one query per question)."""

from __future__ import annotations

from django.db.models import Count, IntegerField, Max, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from mailings.models import Attempt, Mailing


def with_stats(mailings: QuerySet[Mailing]) -> QuerySet[Mailing]:
    """Annotate runs, sent and failed totals, last run and its result, recipients."""
    latest = Attempt.objects.filter(mailing=OuterRef("pk")).order_by("-scheduled_for", "-pk")
    recipients = (
        Mailing.clients.through.objects.filter(mailing_id=OuterRef("pk"))
        .values("mailing_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return mailings.annotate(
        runs=Count("attempts", distinct=True),
        sent_total=Coalesce(Sum("attempts__sent"), Value(0)),
        failed_total=Coalesce(Sum("attempts__failed"), Value(0)),
        last_run_at=Max("attempts__attempted_at"),
        last_run_status=Subquery(latest.values("status")[:1]),
        recipients=Coalesce(Subquery(recipients, output_field=IntegerField()), Value(0)),
    )


def success_rate(sent: int, failed: int) -> float | None:
    """Share of tried messages the server accepted, in percent; None before any try."""
    tried = sent + failed
    return None if not tried else round(100 * sent / tried, 1)
