"""Public views of the mailings app: the unsubscribe link every e-mail carries, and the
link that confirms a sender address."""

from __future__ import annotations

import logging

from django.core import signing
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from mailings import senders, services
from mailings.models import Client
from mailings.unsubscribe import read_token

logger = logging.getLogger(__name__)


@csrf_exempt  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" without a form
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """GET asks for confirmation (link scanners must not unsubscribe anyone); POST, from the
    page or from a mail client's one-click button, unsubscribes."""
    try:
        client = Client.objects.select_related("owner").get(pk=read_token(token))
    except (signing.BadSignature, Client.DoesNotExist):
        logger.info("unsubscribe: refused a tampered or unknown token")
        return render(request, "mailings/unsubscribe/invalid.html", status=400)
    if request.method == "POST":
        if client.unsubscribed_at is None:
            Client.objects.filter(pk=client.pk, unsubscribed_at__isnull=True).update(
                unsubscribed_at=timezone.now()
            )
            logger.info("unsubscribe: client %s unsubscribed", client.pk)
        return render(request, "mailings/unsubscribe/done.html", {"client": client})
    return render(
        request,
        "mailings/unsubscribe/confirm.html",
        {"client": client, "already": client.unsubscribed_at is not None},
    )


@require_http_methods(["GET", "POST"])
def sender_confirm(request, token: str):
    """GET asks (a link scanner must not confirm an address); POST confirms."""
    try:
        sender = senders.read_token(token)
    except senders.LinkError as error:
        context = {"reason": error.reason}
        return render(request, "mailings/senders/confirm.html", context, status=400)
    if request.method == "POST":
        services.sender_confirm(sender=sender)
        return render(request, "mailings/senders/confirm.html", {"sender": sender, "done": True})
    return render(request, "mailings/senders/confirm.html", {"sender": sender})
