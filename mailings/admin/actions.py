"""Actions on one mailing: send now (owner), disable (owner or moderator) and enable (whoever
may undo who disabled it: ``permissions.OwnedRowsPolicy.instances_user_may_enable``).

Each is a POST; a GET shows a confirmation page. The mailing is looked up through the
permission policy, so another user's mailing is a 404 here as everywhere, and one the user
may see but not act on (a manager before send-now) the "not allowed" page."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views import View

from mailings import services
from mailings.admin.scoped import forbidden
from mailings.models import Attempt, Mailing
from mailings.permissions import policy_for


class MailingActionView(View):
    action = ""  # the permission policy's action: "change" or "disable"
    title = ""
    question = ""
    button = ""

    def dispatch(self, request, *args, pk, **kwargs):
        try:
            self.mailing = policy_for(Mailing).instance_for(
                request.user, pk, allowed=self.allowed(request.user)
            )
        except PermissionDenied:
            return forbidden(request)
        return super().dispatch(request, *args, **kwargs)

    def allowed(self, user):
        return policy_for(Mailing).instances_user_has_permission_for(user, self.action)

    def get(self, request):
        return TemplateResponse(
            request,
            "mailings/mailings/confirm_action.html",
            {
                "mailing": self.mailing,
                "page_title": self.title,
                "page_subtitle": str(self.mailing),
                "header_icon": "calendar-alt",
                "question": self.question,
                "button": self.button,
                "cancel_url": self.next_url(),
                **self.extra_context(),
            },
        )

    def extra_context(self) -> dict:
        return {}

    def next_url(self) -> str:
        return reverse("mailings_mailings:inspect", args=[self.mailing.pk])


class SendNowView(MailingActionView):
    """The confirmation names the latest run (when, to how many) and carries its id: a
    second press, or a page older than a run that went out since, sends nothing and asks
    again (``services.mailing_send_now``)."""

    action = "change"
    title = _("Send now")
    question = _("Send this mailing to its clients now?")
    button = _("Send now")

    def extra_context(self) -> dict:
        latest = services.latest_run(self.mailing)
        return {"latest_run": latest, "hidden": {"seen_run": latest.pk if latest else 0}}

    def post(self, request):
        raw = request.POST.get("seen_run", "")
        seen = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 12 else 0
        result = services.mailing_send_now(mailing=self.mailing, by=request.user, seen_run=seen)
        if result.running is not None:
            messages.warning(request, _("A run of this mailing is still in progress."))
        elif result.unconfirmed is not None:
            messages.warning(
                request,
                _("This mailing was just sent. Nothing more was sent: confirm to send it again."),
            )
            return redirect(reverse("mailings_mailings:send_now", args=[self.mailing.pk]))
        else:
            messages.success(request, _("The mailing is being sent."))
        return redirect(self.next_url())


class DisableView(MailingActionView):
    action = "disable"
    title = _("Disable mailing")
    question = _("Disable this mailing? Nothing more is sent until it is enabled again.")
    button = _("Disable")
    enable = False

    def post(self, request):
        services.mailing_set_enabled(mailing=self.mailing, enabled=self.enable, by=request.user)
        messages.success(
            request,
            _("Mailing enabled.") if self.enable else _("Mailing disabled."),
        )
        return redirect(self.next_url())


class EnableView(DisableView):
    """Who switched the mailing off decides who may switch it on (the policy): for anyone
    else the mailing is a 404 here."""

    title = _("Enable mailing")
    question = _("Enable this mailing again? Its next slot goes out as scheduled.")
    button = _("Enable")
    enable = True

    def allowed(self, user):
        return policy_for(Mailing).instances_user_may_enable(user)


def retryable_attempts(user):
    """Runs whose failed deliveries ``user`` may send again: those of mailings they may change."""
    changeable = policy_for(Mailing).instances_user_has_permission_for(user, "change")
    return Attempt.objects.filter(mailing__in=changeable)


class RetryFailedView(View):
    """Send a finished run's failed deliveries once more (the mailing's owner only)."""

    def dispatch(self, request, *args, pk, **kwargs):
        self.attempt = get_object_or_404(retryable_attempts(request.user), pk=pk)
        return super().dispatch(request, *args, **kwargs)

    def next_url(self) -> str:
        return reverse("mailings_attempts:inspect", args=[self.attempt.pk])

    def get(self, request):
        return TemplateResponse(
            request,
            "mailings/mailings/confirm_action.html",
            {
                "mailing": self.attempt.mailing,
                "page_title": _("Retry failed deliveries"),
                "header_icon": "redirect",
                "question": _("Send the %(count)s failed deliveries of this run once more?")
                % {"count": self.attempt.failed},
                "button": _("Retry failed deliveries"),
                "cancel_url": self.next_url(),
            },
        )

    def post(self, request):
        count = services.attempt_retry_failed(attempt=self.attempt, by=request.user)
        if count:
            messages.success(
                request, _("%(count)s deliveries are being sent again.") % {"count": count}
            )
        else:
            messages.warning(request, _("Nothing to retry: the run is still going or none failed."))
        return redirect(self.next_url())
