"""Public views of the mailings app: the unsubscribe link every e-mail carries, the link
that confirms a sender address, and a list's subscription form with its confirmation."""

from __future__ import annotations

import logging
import re

from django import forms
from django.core import signing
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from accounts.throttling import client_address
from mailings import links, senders, services, subscribing
from mailings.models import Client, ClientList
from mailings.permissions import policy_for
from mailings.unsubscribe import read_token

logger = logging.getLogger(__name__)

TOKEN = re.compile(r"[A-Za-z0-9_-]{1,32}")  # a list's form token (models.new_list_token)


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
    except links.LinkError as error:
        context = {"reason": error.reason}
        return render(request, "mailings/senders/confirm.html", context, status=400)
    if request.method == "POST":
        services.sender_confirm(sender=sender)
        return render(request, "mailings/senders/confirm.html", {"sender": sender, "done": True})
    return render(request, "mailings/senders/confirm.html", {"sender": sender})


class SubscribeForm(forms.Form):
    full_name = forms.CharField(label=_("Your name"), max_length=255)
    email = forms.EmailField(label=_("Your e-mail address"), max_length=254)
    # A field people do not see (hidden by the stylesheet, not by type="hidden", which
    # bots skip) and bots fill in.
    website = forms.CharField(label=_("Leave this empty"), required=False, max_length=200)

    def clean_full_name(self) -> str:
        name = " ".join(self.cleaned_data["full_name"].split())
        if not name:
            raise forms.ValidationError(_("Please give your name."))
        return name


@csrf_exempt  # the form may be pasted into another site; a sign-up acts for no one logged in
@require_http_methods(["GET", "POST"])
def subscribe(request, token: str):
    """A list's public subscription form. Every sign-up that passes the checks gets the same
    answer, whoever the address belongs to; the honeypot and the throttles refuse, saying so."""
    # Only what a token can be reaches the database (PostgreSQL refuses a NUL in text).
    client_list = (
        policy_for(ClientList)
        .instances_owned_by_active()
        .filter(token=token)
        .select_related("owner")
        .first()
        if TOKEN.fullmatch(token)
        else None
    )
    if client_list is None:
        return render(request, "mailings/subscribe/unknown.html", status=404)
    context = {"list": client_list}
    if request.method != "POST":
        return render(request, "mailings/subscribe/form.html", {**context, "form": SubscribeForm()})
    form = SubscribeForm(request.POST)
    if not form.is_valid():
        return render(
            request, "mailings/subscribe/form.html", {**context, "form": form}, status=400
        )
    if form.cleaned_data["website"]:
        logger.info("subscribe: list %s refused a sign-up that filled the honeypot", client_list.pk)
        form.add_error(None, _("This sign-up looks automated and was not accepted."))
        return render(
            request, "mailings/subscribe/form.html", {**context, "form": form}, status=400
        )
    email = form.cleaned_data["email"]
    ip = client_address(request)
    by_address, by_ip = subscribing.address_throttle(), subscribing.ip_throttle()
    if by_address.blocked(address=email) or by_ip.blocked(ip=ip):
        form.add_error(
            None, _("Too many sign-ups from here or for this address. Try again in an hour.")
        )
        return render(
            request, "mailings/subscribe/form.html", {**context, "form": form}, status=429
        )
    by_address.hit(address=email)
    by_ip.hit(ip=ip)
    services.subscription_sign_up(
        client_list=client_list,
        email=email,
        full_name=form.cleaned_data["full_name"],
        ip=ip,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
    return render(request, "mailings/subscribe/sent.html", {**context, "email": email})


@require_http_methods(["GET", "POST"])
def subscribe_confirm(request, token: str):
    """GET asks (a link scanner must not subscribe anyone); POST confirms. A link used
    already says so, as the first time did."""
    try:
        subscription = subscribing.read_token(token)
    except links.LinkError as error:
        return render(
            request, "mailings/subscribe/confirm.html", {"reason": error.reason}, status=400
        )
    context = {"subscription": subscription, "list": subscription.client_list}
    if request.method == "POST" or subscription.confirmed_at is not None:
        if request.method == "POST":
            services.subscription_confirm(subscription=subscription, ip=client_address(request))
        return render(request, "mailings/subscribe/confirm.html", {**context, "done": True})
    return render(request, "mailings/subscribe/confirm.html", context)
