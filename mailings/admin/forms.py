"""Admin forms. A row's owner is set by the create view (``scoped.CreateView``), never by a
form; a form offers only rows of that owner, as the permission policy finds them."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.images import get_image_model
from wagtail.permissions import policy_registry

from mailings import bounces, schedule, senders, sql
from mailings.admin.widgets import ChosenIds, ClientChoiceField
from mailings.importing import ImportFileError, check_header
from mailings.models import Client, ClientList, Mailing, Message, Sender
from mailings.permissions import policy_for
from site_config import zones


class OwnedForm(WagtailAdminModelForm):
    @property
    def owner(self):
        return self.instance.owner

    def owners(self, model):
        """The rows of ``model`` that belong to this row's owner."""
        return policy_for(model).instances_owned_by(self.owner)


class ClientForm(OwnedForm):
    reactivate = forms.BooleanField(
        label=_("Mail to this address works again"),
        required=False,
        help_text=_("Mailings skip a bounced client until this is ticked."),
    )

    class Meta:
        model = Client
        fields = ["email", "full_name", "comment", "lists"]
        widgets = {"lists": forms.CheckboxSelectMultiple}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lists"].queryset = self.owners(ClientList)
        self.fields["lists"].help_text = _("Mailings to a list send to whoever is in it.")
        if self.instance.bounced_at is None:
            del self.fields["reactivate"]
        else:
            self.fields["reactivate"].help_text = _(
                "Mail to it bounced: %(reason)s. Mailings skip this client until this is ticked."
            ) % {"reason": self.instance.bounce_reason or "-"}

    def save(self, commit=True):
        client = super().save(commit=commit)
        if self.cleaned_data.get("reactivate") and client.pk:
            bounces.reactivate(self.owners(Client).filter(pk=client.pk))
            client.bounced_at, client.bounce_reason = None, ""
        return client

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


class ClientListForm(OwnedForm):
    class Meta:
        model = ClientList
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if self.owners(ClientList).filter(name__iexact=name).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(
                _("You already have a list named “%(name)s”."),
                code="duplicate",
                params={"name": name},
            )
        return name


class SenderForm(OwnedForm):
    class Meta:
        model = Sender
        fields = ["name", "email", "reply_to"]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if not senders.domain_allowed(email):
            raise forms.ValidationError(
                _("This service sends mail only from addresses at %(domains)s."),
                code="domain",
                params={"domains": ", ".join(settings.MAILINGS_SENDER_DOMAINS)},
            )
        clash = self.owners(Sender).filter(email__iexact=email).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(
                _("You already have a sender with the address %(email)s."),
                code="duplicate",
                params={"email": email},
            )
        return email

    @property
    def address_changed(self) -> bool:
        """A new sender, or a new address (a change of case alone is the same mailbox)."""
        before = self.initial.get("email") or ""
        return not self.instance.pk or self.cleaned_data["email"].casefold() != before.casefold()


class MessageForm(OwnedForm):
    class Meta:
        model = Message
        fields = ["subject", "content", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 8})}

    # An e-mail, not a book: a longer text is a form error that keeps what was typed
    # (DATA_UPLOAD_MAX_MEMORY_SIZE lets it reach the form).
    body_max_chars = 1_000_000

    unreadable_blocks = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.is_bound:
            self._readable_blocks()
        self.fields["body"].validators.append(
            MaxLengthValidator(
                self.body_max_chars,
                message=_(
                    "The text is too long: %(show_value)s characters; at most "
                    "%(limit_value)s are allowed."
                ),
            )
        )

    def _readable_blocks(self) -> None:
        """Blocks posted by something else than the editor (a script, a tampered form: no
        count, a count of garbage, missing rows) are a form error, not a server error."""
        name = self.add_prefix("content")
        posted = f"{name}-count" in self.data  # absent: a plain-text message, no blocks
        try:
            self.fields["content"].widget.value_from_datadict(self.data, self.files, name)
        except (KeyError, ValueError, TypeError, AttributeError):
            self.data = self.data.copy()
            for key in [k for k in self.data if k.startswith(f"{name}-")]:
                del self.data[key]
            self.data[f"{name}-count"] = "0"
            self.unreadable_blocks = posted

    def _images_are_choosable(self, content) -> bool:
        """An image id typed into the form is no way to another user's upload."""
        ids = {c.value["image"].pk for c in content if c.block_type == "image" and c.value["image"]}
        if not ids:
            return True
        policy = policy_registry.get_by_type(get_image_model())
        choosable = policy.instances_user_has_any_permission_for(self.for_user, ["choose"])
        return choosable.filter(pk__in=ids).count() == len(ids)

    def clean(self):
        cleaned = super().clean()
        if self.unreadable_blocks:
            self.add_error(
                "content", _("The blocks could not be read. Reload the page and try again.")
            )
            return cleaned
        content, body = cleaned.get("content"), (cleaned.get("body") or "").strip()
        if "content" in self.errors or "body" in self.errors:
            return cleaned
        if content and not self._images_are_choosable(content):
            self.add_error("content", _("Choose one of your own images."))
            return cleaned
        if content and body:
            self.add_error(
                "body",
                _(
                    "A message is made of blocks or of plain text, not both: empty this "
                    "field to send the blocks, or remove the blocks to send this text."
                ),
            )
        elif not content and not body:
            self.add_error(
                "content", _("Write the message: add a block, or fill in the plain text.")
            )
        return cleaned


def sender_label(sender: Sender) -> str:
    if sender.confirmed_at is None:
        return _("%(sender)s (not confirmed yet)") % {"sender": sender}
    return str(sender)


TIME_ZONES = zones.SELECTABLE


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
            "name",
            "message",
            "sender",
            "lists",
            "clients",
            "start_at",
            "end_at",
            "periodicity",
            "time_zone",
            "is_enabled",
        ]
        # A hundred thousand chosen clients are checked in a few queries, not one per id.
        field_classes = {"clients": ClientChoiceField}
        widgets = {"lists": forms.CheckboxSelectMultiple}

    def __init__(self, *args, **kwargs):
        # Django's initial value for a many-to-many field is every related object: 50,000
        # clients made into models to fill one hidden field with their ids (issue 25). An
        # empty prefetched list stands in for them while the form is built; the ids alone,
        # read from the link table's index, are the initial value below.
        instance = kwargs.get("instance")
        if instance is not None and instance.pk:
            prefetched = instance.__dict__.setdefault("_prefetched_objects_cache", {})
            prefetched["clients"] = Client.objects.none()
        super().__init__(*args, **kwargs)
        self.instance.__dict__.get("_prefetched_objects_cache", {}).pop("clients", None)
        # Only the owner's rows are valid choices: someone else's message or client in a
        # hand-made POST is "not one of the available choices", not a silent link.
        self.fields["message"].queryset = self.owners(Message)
        self.fields["clients"].queryset = self.owners(Client)
        self.fields["clients"].widget.owner_id = getattr(self.owner, "pk", None)
        if self.instance.pk and "clients" not in self.data:
            # Joined by the database, from the link table's index, without the clients.
            links = Mailing.clients.through.objects.filter(mailing=self.instance)
            self.initial["clients"] = ChosenIds(*sql.joined_ids(links, "client"))
        self.fields["lists"].queryset = self.owners(ClientList)
        self.fields["lists"].help_text = _(
            "Each run goes to whoever is in these lists when it starts, and to the clients "
            "chosen below; an address in several gets one message."
        )
        sender = self.fields["sender"]
        sender.queryset = self.owners(Sender)
        sender.label_from_instance = sender_label
        sender.empty_label = _("%(sender)s (the service's address with your name)") % {
            "sender": senders.default_from(self.owner)
        }
        sender.help_text = _(
            "Who the mail comes from. Add an address of your own under Senders; it can be "
            "chosen once you have confirmed it from the link mailed to it."
        )
        zone = self.instance.zone
        self.initial["time_zone"] = self.instance.time_zone
        for name in ("start_at", "end_at"):
            moment = getattr(self.instance, name)
            if moment is not None:  # a naive value is shown as it is
                self.initial[name] = moment.astimezone(zone).replace(tzinfo=None)

    def clean_sender(self):
        sender = self.cleaned_data.get("sender")
        if sender is not None and sender.confirmed_at is None:
            raise forms.ValidationError(
                _(
                    "%(email)s is not confirmed yet: follow the link we mailed to it, or "
                    "send the link again from Senders."
                ),
                code="unconfirmed",
                params={"email": sender.email},
            )
        return sender

    def clean(self):
        cleaned = super().clean()
        if (
            not cleaned.get("lists")
            and not cleaned.get("clients")
            and not ("lists" in self.errors or "clients" in self.errors)
        ):
            self.add_error("clients", _("Choose at least one list or one client."))
        zone_name = cleaned.get("time_zone") or self.instance.time_zone
        cleaned["time_zone"] = zone_name
        zone = ZoneInfo(zone_name)
        current = timezone.get_current_timezone()
        for name in ("start_at", "end_at"):
            moment = cleaned.get(name)
            if moment is None:
                continue
            # Django read the wall clock in the editor's zone; it was meant in the mailing's.
            wall = moment.astimezone(current).replace(tzinfo=None)
            if not schedule.FIRST_YEAR <= wall.year <= schedule.LAST_YEAR:
                self.add_error(name, self.out_of_range())
                continue
            cleaned[name] = wall.replace(tzinfo=zone)
        start_at, end_at = cleaned.get("start_at"), cleaned.get("end_at")
        if start_at and end_at and end_at <= start_at:
            self.add_error("end_at", _("The end must be after the start."))
        elif end_at and end_at <= timezone.now() and self.moves_window():
            self.add_error(
                "end_at",
                _("The end is in the past: this mailing would never go out."),
            )
        return cleaned

    @staticmethod
    def out_of_range():
        return forms.ValidationError(
            _("Enter a date from %(first)s to %(last)s."),
            code="out_of_range",
            params={"first": schedule.FIRST_YEAR, "last": schedule.LAST_YEAR},
        )

    def moves_window(self) -> bool:
        """A new mailing, or its start or end changed (to the minute, as the form shows
        them): a window already closed and left as it was (an old mailing edited for
        something else) is not an error."""
        if self.instance._state.adding:
            return True
        for name in ("start_at", "end_at"):
            entered, stored = self.cleaned_data.get(name), getattr(self.instance, name)
            if entered is None or stored is None:
                return True
            if entered.replace(second=0, microsecond=0) != stored.replace(second=0, microsecond=0):
                return True
        return False


class ClientImportForm(forms.Form):
    # A million clients with names and comments: about 60 MB.
    max_bytes = 200 * 1024 * 1024

    file = forms.FileField(
        label=_("CSV file"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    client_list = forms.ModelChoiceField(
        label=_("Add them to a list"),
        queryset=ClientList.objects.none(),
        required=False,
        empty_label=_("No list"),
        help_text=_("Every client of the file, new or known, joins this list."),
    )

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client_list"].queryset = policy_for(ClientList).instances_owned_by(owner)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.max_bytes:
            raise forms.ValidationError(
                _("The file is larger than %(limit)s MB.") % {"limit": self.max_bytes // 2**20}
            )
        try:
            check_header(upload)
        except ImportFileError as exc:
            raise forms.ValidationError(str(exc)) from None
        return upload
