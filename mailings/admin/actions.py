"""Actions on one mailing: send now (owner), disable and enable (owner or moderator).

Each is a POST; a GET shows a confirmation page. The mailing is looked up through the
permission policy, so another user's mailing is a 404 here as everywhere."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views import View
from wagtail.log_actions import log
from wagtail.permissions import policy_registry

from mailings import dispatching, tasks
from mailings.models import Attempt, Mailing
from mailings.permissions import MODERATE_PERMISSION


def mailings_user_may(user, action: str):
    policy = policy_registry.get_by_type(Mailing)
    if action == "moderate":
        if user.is_superuser or user.has_perm(MODERATE_PERMISSION):
            return policy.instances_user_has_any_permission_for(user, ["view"])
        return policy.instances_user_has_permission_for(user, "change")
    return policy.instances_user_has_permission_for(user, action)


class MailingActionView(View):
    action = ""  # "change" or "moderate": which rows this user may act on
    title = ""
    question = ""
    button = ""

    def dispatch(self, request, *args, pk, **kwargs):
        self.mailing = get_object_or_404(mailings_user_may(request.user, self.action), pk=pk)
        return super().dispatch(request, *args, **kwargs)

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
            },
        )

    def next_url(self) -> str:
        return reverse("mailings_mailings:inspect", args=[self.mailing.pk])


class SendNowView(MailingActionView):
    action = "change"
    title = _("Send now")
    question = _("Send this mailing to its clients now?")
    button = _("Send now")

    def post(self, request):
        attempt = dispatching.send_now(self.mailing)
        if attempt is None:
            messages.warning(request, _("A run of this mailing is still in progress."))
        else:
            tasks.on_commit_enqueue(tasks.send_attempt, attempt.pk)
            log(self.mailing, "mailings.send_now", user=request.user, data={"attempt": attempt.pk})
            messages.success(request, _("The mailing is being sent."))
        return redirect(self.next_url())


class DisableView(MailingActionView):
    action = "moderate"
    title = _("Disable mailing")
    question = _("Disable this mailing? Nothing more is sent until it is enabled again.")
    button = _("Disable")
    enable = False

    def post(self, request):
        Mailing.objects.filter(pk=self.mailing.pk).update(is_enabled=self.enable)
        self.mailing.is_enabled = self.enable
        if self.enable:
            dispatching.mailing_saved(self.mailing)
        log(
            self.mailing,
            "mailings.enable" if self.enable else "mailings.disable",
            user=request.user,
            data={"owner": self.mailing.owner.email},
        )
        messages.success(
            request,
            _("Mailing enabled.") if self.enable else _("Mailing disabled."),
        )
        return redirect(self.next_url())


class EnableView(DisableView):
    title = _("Enable mailing")
    question = _("Enable this mailing again? Its next slot goes out as scheduled.")
    button = _("Enable")
    enable = True


class RetryFailedView(View):
    """Send a finished run's failed deliveries once more (the mailing's owner only)."""

    def dispatch(self, request, *args, pk, **kwargs):
        owned = mailings_user_may(request.user, "change")
        self.attempt = get_object_or_404(Attempt.objects.filter(mailing__in=owned), pk=pk)
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
        count = dispatching.retry_failed(self.attempt)
        if count:
            tasks.on_commit_enqueue(tasks.send_attempt, self.attempt.pk)
            log(
                self.attempt.mailing,
                "mailings.retry_failed",
                user=request.user,
                data={"attempt": self.attempt.pk, "deliveries": count},
            )
            messages.success(
                request, _("%(count)s deliveries are being sent again.") % {"count": count}
            )
        else:
            messages.warning(request, _("Nothing to retry: the run is still going or none failed."))
        return redirect(self.next_url())
