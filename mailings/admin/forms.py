"""Admin forms. A row's owner is set by the create view (``scoped.CreateView``), never by a
form; a form offers only rows of that owner, as the permission policy finds them."""

from __future__ import annotations

from zoneinfo import ZoneInfo, available_timezones

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm

from mailings.models import Client, Mailing, Message
from mailings.permissions import policy_for


class OwnedForm(WagtailAdminModelForm):
    @property
    def owner(self):
        return self.instance.owner

    def owners(self, model):
        """The rows of ``model`` that belong to this row's owner."""
        return policy_for(model).instances_owned_by(self.owner)


class ClientForm(OwnedForm):
    class Meta:
        model = Client
        fields = ["email", "full_name", "comment"]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        clash = (
            self.owners(Client).filter(email__iexact=email).exclude(pk=self.instance.pk).exists()
        )
        if clash:
            raise forms.ValidationError(
                _("You already have a client with the address %(email)s."),
                code="duplicate",
                params={"email": email},
            )
        return email


class MessageForm(OwnedForm):
    class Meta:
        model = Message
        fields = ["subject", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 16})}


TIME_ZONES = sorted(available_timezones())


class MailingForm(OwnedForm):
    """The start and the end are entered and shown on the mailing's own time zone's clock,
    whatever zone the person editing is in."""

    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=[(zone, zone) for zone in TIME_ZONES],
        required=False,
        help_text=Mailing._meta.get_field("time_zone").help_text,
    )

    class Meta:
        model = Mailing
        fields = [
            "message",
            "clients",
            "start_at",
            "end_at",
            "periodicity",
            "time_zone",
            "is_enabled",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the owner's rows are valid choices: someone else's message or client in a
        # hand-made POST is "not one of the available choices", not a silent link.
        self.fields["message"].queryset = self.owners(Message)
        self.fields["clients"].queryset = self.owners(Client)
        zone = self.instance.zone
        self.initial["time_zone"] = self.instance.time_zone
        for name in ("start_at", "end_at"):
            moment = getattr(self.instance, name)
            if moment is not None:  # a naive value is shown as it is
                self.initial[name] = moment.astimezone(zone).replace(tzinfo=None)

    def clean(self):
        cleaned = super().clean()
        zone_name = cleaned.get("time_zone") or self.instance.time_zone
        cleaned["time_zone"] = zone_name
        zone = ZoneInfo(zone_name)
        current = timezone.get_current_timezone()
        for name in ("start_at", "end_at"):
            moment = cleaned.get(name)
            if moment is not None:
                # Django read the wall clock in the editor's zone; it was meant in the
                # mailing's.
                wall = moment.astimezone(current).replace(tzinfo=None)
                cleaned[name] = wall.replace(tzinfo=zone)
        start_at, end_at = cleaned.get("start_at"), cleaned.get("end_at")
        if start_at and end_at and end_at <= start_at:
            self.add_error("end_at", _("The end must be after the start."))
        return cleaned


class ClientImportForm(forms.Form):
    max_bytes = 50 * 1024 * 1024

    file = forms.FileField(
        label=_("CSV file"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.max_bytes:
            raise forms.ValidationError(
                _("The file is larger than %(limit)s MB.") % {"limit": self.max_bytes // 2**20}
            )
        return upload
