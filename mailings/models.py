"""Clients, messages, mailings, and the ledger of their runs (attempts) and recipients
(deliveries). Invariants that matter live in the database as constraints, indexes and (for
ownership across tables) triggers, not only in forms."""

from __future__ import annotations

import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import formats, timezone
from django.utils.translation import get_language, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from wagtail.fields import StreamField
from wagtail.models.audit_log import BaseLogEntry, BaseLogEntryManager
from wagtail.users.models import UserProfile

from mailings import rendering, schedule
from mailings.blocks import MessageBlocks
from mailings.permissions import log_entries_visible_to, owner_id_of
from mailings.placeholders import placeholder_errors
from site_config import zones


def validate_single_line(value: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValidationError(_("A subject must be a single line."), code="line_break")


def validate_single_line_name(value: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValidationError(_("A name must be a single line."), code="line_break")


def validate_placeholders(value: str) -> None:
    errors = placeholder_errors(value)
    if errors:
        raise ValidationError(errors, code="placeholder")


def default_time_zone() -> str:
    """The site's zone: a mailing created in the admin takes its owner's instead."""
    return settings.TIME_ZONE


def validate_time_zone(value: str) -> None:
    if value not in zones.SELECTABLE_SET:
        raise ValidationError(
            _("%(zone)s is not a time zone."), code="time_zone", params={"zone": value[:80]}
        )


class MailingQuerySet(models.QuerySet):
    def sendable(self) -> MailingQuerySet:
        """Mailings that may send now: enabled, and their owner not blocked."""
        return self.filter(is_enabled=True, owner__is_active=True)


class AttemptQuerySet(models.QuerySet):
    def sendable(self) -> AttemptQuerySet:
        """Runs whose mailing may send now (see ``MailingQuerySet.sendable``)."""
        return self.filter(mailing__is_enabled=True, mailing__owner__is_active=True)


class ClientQuerySet(models.QuerySet):
    STATES = ("subscribed", "unsubscribed", "bounced")

    def in_state(self, state: str) -> ClientQuerySet:
        """Clients who receive mail (``subscribed``), who left (``unsubscribed``) or whose
        mail bounced (``bounced``); anything else: all of them."""
        if state == "subscribed":
            return self.filter(unsubscribed_at__isnull=True, bounced_at__isnull=True)
        if state == "unsubscribed":
            return self.filter(unsubscribed_at__isnull=False)
        if state == "bounced":
            return self.filter(bounced_at__isnull=False)
        return self


class Client(models.Model):
    add_label = _("Add client")  # the listing's button (see admin/scoped.IndexView)
    """Someone who receives mail. Not a user: a client never logs in."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="clients",
    )
    email = models.EmailField(_("e-mail address"))
    full_name = models.CharField(_("full name"), max_length=255)
    comment = models.TextField(_("comment"), blank=True)
    unsubscribed_at = models.DateTimeField(_("unsubscribed at"), null=True, blank=True)
    # Mail to the address cannot be delivered (a permanent refusal, or soft bounces in a
    # row): runs skip the client until its owner reactivates it (bounces.py).
    bounced_at = models.DateTimeField(_("bounced at"), null=True, blank=True, editable=False)
    bounce_reason = models.CharField(
        _("bounce"), max_length=500, blank=True, editable=False, db_default=""
    )
    lists = models.ManyToManyField(
        "ClientList",
        verbose_name=_("lists"),
        related_name="clients",
        through="Membership",
        blank=True,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ClientQuerySet.as_manager()

    class Meta:
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        ordering = ["full_name", "email"]
        indexes = [
            # Each order of the clients listing within one owner's clients, ending with the
            # key: a page deep in a million clients finds its rows' keys in the index alone,
            # without sorting or reading the table (issue 25, ``paging.KeysFirst``).
            models.Index(
                fields=["owner", "full_name", "email", "id"], name="mailings_client_by_name"
            ),
            models.Index(fields=["owner", "email", "id"], name="mailings_client_by_email"),
            models.Index(fields=["owner", "updated_at", "id"], name="mailings_client_by_updated"),
        ]
        constraints = [
            models.UniqueConstraint(
                F("owner"),
                Lower("email"),
                name="mailings_client_owner_email_ci_unique",
                violation_error_message=_("You already have a client with this e-mail address."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"

    @property
    def is_subscribed(self) -> bool:
        return self.unsubscribed_at is None

    @property
    def is_bounced(self) -> bool:
        return self.bounced_at is not None

    def clean(self) -> None:
        super().clean()
        # Header injection guard: a name goes into no header, but reject control characters.
        if any(ch in self.full_name for ch in "\r\n"):
            raise ValidationError({"full_name": _("A name must be a single line.")})


def new_list_token() -> str:
    return secrets.token_urlsafe(18)


class ClientList(models.Model):
    """A list of clients (a client is in any number of lists). A mailing that names a list
    sends each run to whoever is in it when the run starts. ``token`` names the list in its
    public subscription form's address, and cannot be guessed."""

    add_label = _("Add list")  # the listing's button (see admin/scoped.IndexView)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="client_lists",
    )
    name = models.CharField(_("name"), max_length=200, validators=[validate_single_line_name])
    description = models.TextField(
        _("description"),
        blank=True,
        help_text=_("Shown on the subscription form: what subscribers will get, how often."),
    )
    token = models.CharField(
        _("form token"), max_length=32, unique=True, default=new_list_token, editable=False
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("list")
        verbose_name_plural = _("lists")
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                "owner",
                Lower("name"),
                name="mailings_clientlist_unique_name_per_owner",
                violation_error_message=_("You already have a list with this name."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A client in a list: since when, and how they came (a person in the admin, an import,
    the subscription form with its confirmation, the API)."""

    class Source(models.TextChoices):
        ADMIN = "admin", _("Added in the admin")
        IMPORT = "import", _("Imported")
        FORM = "form", _("Subscription form")
        API = "api", _("API")

    client_list = models.ForeignKey(
        ClientList, verbose_name=_("list"), on_delete=models.CASCADE, related_name="memberships"
    )
    client = models.ForeignKey(
        Client, verbose_name=_("client"), on_delete=models.CASCADE, related_name="memberships"
    )
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, default=Source.ADMIN
    )
    added_at = models.DateTimeField(_("added at"), auto_now_add=True)

    class Meta:
        verbose_name = _("list membership")
        verbose_name_plural = _("list memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["client_list", "client"], name="mailings_membership_once_per_list"
            ),
        ]
        indexes = [
            # A run's recipients: "is this client in one of these lists?" (sql.py).
            models.Index(fields=["client", "client_list"], name="mailings_membership_client"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} in {self.client_list_id}"


class Subscription(models.Model):
    """A sign-up through a list's public form: pending until the person follows the link
    mailed to them (signed, naming this row: nothing secret is stored), and then the record
    of their consent: when, from where, in which language they were asked."""

    client_list = models.ForeignKey(
        ClientList,
        verbose_name=_("list"),
        on_delete=models.CASCADE,
        related_name="subscriptions",
    )
    email = models.EmailField(_("e-mail address"))
    full_name = models.CharField(_("full name"), max_length=255)
    language = models.CharField(_("language"), max_length=10, blank=True)
    created_at = models.DateTimeField(_("signed up at"), auto_now_add=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    confirmed_ip = models.GenericIPAddressField(_("confirmed from"), null=True, blank=True)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["client_list", "email"], name="mailings_subscription_list"),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.client_list})"


class Message(models.Model):
    add_label = _("Add message")  # the listing's button (see admin/scoped.IndexView)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="messages",
    )
    subject = models.CharField(
        _("subject"), max_length=255, validators=[validate_single_line, validate_placeholders]
    )
    content = StreamField(
        MessageBlocks(),
        verbose_name=_("content"),
        blank=True,
        help_text=_(
            "Blocks: headings, text, images, buttons, blog posts. Placeholders filled for "
            "each recipient: {full_name}, {email}, {unsubscribe_url}."
        ),
    )
    body = models.TextField(
        _("plain text"),
        blank=True,
        validators=[validate_placeholders],
        help_text=_(
            "A message without blocks goes out as this text alone. Placeholders filled for "
            "each recipient: {full_name}, {email}, {unsubscribe_url}."
        ),
    )
    # What goes out, rendered when the message is saved (``mailings/rendering.py``): the
    # HTML layout (empty for a plain-text message) and the text part, as templates whose
    # only holes are the placeholders. A run copies them when it starts.
    html = models.TextField(_("HTML part"), blank=True, editable=False)
    text = models.TextField(_("text part"), blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-updated_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(subject__contains="\n") & ~Q(subject__contains="\r"),
                name="mailings_message_subject_single_line",
            ),
        ]

    def __str__(self) -> str:
        return self.subject

    def save(self, *args, **kwargs):
        self.render()
        super().save(*args, **kwargs)

    def render(self) -> None:
        """What goes out, from the blocks (or the plain text), in the owner's language."""
        if not self.content:
            self.html, self.text = "", self.body
            return
        chosen = UserProfile.objects.filter(user_id=self.owner_id).values_list(
            "preferred_language", flat=True
        )
        rendered = rendering.render(
            subject=self.subject,
            content=self.content,
            language=chosen.first() or get_language() or settings.LANGUAGE_CODE,
        )
        self.html, self.text = rendered.html, rendered.text


class SenderQuerySet(models.QuerySet):
    def confirmed(self):
        return self.filter(confirmed_at__isnull=False)


class Sender(models.Model):
    """Whom a user's mail comes from: a display name and an address they proved is theirs
    (``confirmed_at``: they followed a link mailed to it), and where replies go. The envelope
    sender stays the operator's, where bounces go (docs/composing.md, "Senders")."""

    add_label = _("Add sender")  # the listing's button (see admin/scoped.IndexView)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="senders",
    )
    name = models.CharField(
        _("display name"),
        max_length=100,
        validators=[validate_single_line_name],
        help_text=_("What readers see as the sender, e.g. “Anna’s Bakery”."),
    )
    email = models.EmailField(_("address"), max_length=254)
    reply_to = models.EmailField(
        _("reply-to address"),
        max_length=254,
        blank=True,
        help_text=_("Where replies go, if not to the address above."),
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = SenderQuerySet.as_manager()

    class Meta:
        verbose_name = _("sender")
        verbose_name_plural = _("senders")
        ordering = ["name", "email", "pk"]
        constraints = [
            models.UniqueConstraint(
                "owner", Lower("email"), name="mailings_sender_unique_email_per_owner"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class Mailing(models.Model):
    add_label = _("Add mailing")  # the listing's button (see admin/scoped.IndexView)

    class Periodicity(models.TextChoices):
        # The schedule's own names: schedule.py computes with them.
        ONCE = schedule.ONCE, _("Once")
        DAILY = schedule.DAILY, _("Daily")
        WEEKLY = schedule.WEEKLY, _("Weekly")
        MONTHLY = schedule.MONTHLY, _("Monthly")

    class Status(models.TextChoices):
        CREATED = schedule.CREATED, _("Created")
        RUNNING = schedule.RUNNING, _("Running")
        FINISHED = schedule.FINISHED, _("Finished")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="mailings",
    )
    # The mailing's own name, for its owner's lists; readers see the message's subject.
    name = models.CharField(
        _("name"),
        max_length=200,
        validators=[validate_single_line_name],
        help_text=_("For your lists only, e.g. “Weekly offers, spring”; readers never see it."),
    )
    message = models.ForeignKey(
        Message, verbose_name=_("message"), on_delete=models.PROTECT, related_name="mailings"
    )
    # Who gets each run: the clients in these lists when the run starts, and these clients
    # (the same address once; unsubscribed and bounced ones skipped). At least one of the two.
    lists = models.ManyToManyField(
        ClientList, verbose_name=_("lists"), related_name="mailings", blank=True
    )
    clients = models.ManyToManyField(
        Client, verbose_name=_("clients"), related_name="mailings", blank=True
    )
    # None: the operator's address with the owner's name (composing.default_sender).
    sender = models.ForeignKey(
        Sender,
        verbose_name=_("sender"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="mailings",
    )
    start_at = models.DateTimeField(_("start"))
    end_at = models.DateTimeField(_("end"))
    periodicity = models.CharField(
        _("periodicity"), max_length=10, choices=Periodicity.choices, default=Periodicity.ONCE
    )
    # Slots, status and catch-up are computed on this zone's wall clock (schedule.py).
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default=default_time_zone,
        validators=[validate_time_zone],
        help_text=_(
            "The start and the end are times in this zone; the mailing keeps its hour "
            "in it across daylight saving."
        ),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.CREATED, editable=False
    )
    is_enabled = models.BooleanField(_("enabled"), default=True)
    # Who switched it off decides who may switch it on (permissions.py): a moderator's
    # "off" is undone by a moderator only, its owner's by its owner only.
    disabled_by_moderator = models.BooleanField(
        _("disabled by a moderator"), default=False, editable=False
    )
    next_run_at = models.DateTimeField(_("next run"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = MailingQuerySet.as_manager()

    class Meta:
        verbose_name = _("mailing")
        verbose_name_plural = _("mailings")
        ordering = ["-created_at", "-pk"]
        permissions = [
            ("moderate_mailing", _("Can see every user's mailings and disable them")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_at__gt=F("start_at")),
                name="mailings_mailing_end_after_start",
                violation_error_message=_("The end must be after the start."),
            ),
            # No stored date breaks a page: Python reads every one back (schedule.py).
            models.CheckConstraint(
                condition=Q(start_at__gte=schedule.EARLIEST, end_at__lte=schedule.LATEST),
                name="mailings_mailing_dates_in_range",
                violation_error_message=_("The dates must be from 2000 to 2100."),
            ),
        ]
        indexes = [
            # The scheduler's question, "which enabled mailings are due?", reads only this.
            models.Index(
                fields=["next_run_at"],
                condition=Q(is_enabled=True, next_run_at__isnull=False),
                name="mailings_mailing_due_idx",
            ),
            models.Index(fields=["owner", "status"], name="mailings_mailing_owner_status"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class Attempt(models.Model):
    """One run of a mailing: the slot it was for and what became of it."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", _("In progress")
        SUCCESS = "success", _("Success")
        FAILURE = "failure", _("Failure")

    mailing = models.ForeignKey(
        Mailing, verbose_name=_("mailing"), on_delete=models.CASCADE, related_name="attempts"
    )
    scheduled_for = models.DateTimeField(_("slot"))
    attempted_at = models.DateTimeField(_("last try"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.IN_PROGRESS
    )
    server_response = models.TextField(_("server response"), blank=True)
    total = models.PositiveIntegerField(_("recipients"), default=0)
    sent = models.PositiveIntegerField(_("sent"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    retries = models.PositiveSmallIntegerField(_("retries"), default=0)
    # What the run sends, fixed when it starts (``ledger.start_try``): an edit of the message
    # applies to the next run, and the ledger shows what went out. Empty until then.
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    body = models.TextField(_("body"), blank=True)  # the text part (Message.text)
    html = models.TextField(_("HTML part"), blank=True)  # empty: a plain-text message
    # Whom it comes from, fixed with the rest: the mailing's confirmed sender when the run
    # started; empty: the operator's address with the owner's name.
    sender_name = models.CharField(_("sender's name"), max_length=100, blank=True)
    sender_email = models.EmailField(_("sender's address"), max_length=254, blank=True)
    reply_to = models.EmailField(_("reply-to address"), max_length=254, blank=True)
    # When the scheduler tick may hand the unfinished run to workers (again): the end of the
    # lease of the worker that has it, or, after a temporary failure, the time of the retry.
    available_at = models.DateTimeField(_("available at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    objects = AttemptQuerySet.as_manager()

    class Meta:
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")
        ordering = ["-scheduled_for", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["mailing", "scheduled_for"], name="mailings_attempt_one_per_slot"
            ),
        ]
        indexes = [
            models.Index(
                fields=["available_at"],
                condition=Q(status="in_progress"),
                name="mailings_attempt_open_idx",
            ),
            # Runs newest first, and the failed-deliveries report in that order: the newest
            # runs' failures are read from their index, not all failures sorted (issue 25).
            models.Index(fields=["scheduled_for", "id"], name="mailings_attempt_by_time"),
        ]

    def __str__(self) -> str:
        # Its mailing's name and the slot on the mailing's clock (a page title, a log entry).
        slot = self.scheduled_for.astimezone(self.mailing.zone)
        return f"{self.mailing.name}, {slot:%Y-%m-%d %H:%M}"

    @property
    def progress_percent(self) -> int:
        """How much of the run is done: 0 for one whose recipients are not counted yet."""
        done = self.sent + self.failed + self.skipped
        if not self.total:
            return 0 if self.status == self.Status.IN_PROGRESS else 100
        return min(100, round(100 * done / self.total))

    def situation(self, now: datetime | None = None) -> str:
        """What is happening to the run, in a few words ('' once it has ended): sending, or
        waiting for the mail server until its next try, with the tries left."""
        if self.status != self.Status.IN_PROGRESS:
            return ""
        now = now or timezone.now()
        waiting = self.available_at is not None and self.available_at > now
        if not (self.retries and waiting):
            return _("Sending")
        left = max(settings.MAILINGS_MAX_TRIES - self.retries, 0)
        local = timezone.localtime(self.available_at)
        at = formats.time_format(local, "TIME_FORMAT")
        if local.date() != timezone.localdate(now):
            at = formats.date_format(local, "SHORT_DATETIME_FORMAT")
        return ngettext(
            "Waiting for the mail server: next try at %(at)s, %(left)s try left",
            "Waiting for the mail server: next try at %(at)s, %(left)s tries left",
            left,
        ) % {"at": at, "left": left}


class Delivery(models.Model):
    """One recipient of one run: the per-recipient record of what happened and why."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    attempt = models.ForeignKey(
        Attempt, verbose_name=_("attempt"), on_delete=models.CASCADE, related_name="deliveries"
    )
    # A deleted client leaves its deliveries: the ledger keeps the address and what happened
    # (a pending one is skipped, "client deleted").
    client = models.ForeignKey(
        Client,
        verbose_name=_("client"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
    )
    email = models.EmailField(_("e-mail address"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    smtp_code = models.PositiveSmallIntegerField(_("SMTP code"), null=True, blank=True)
    response = models.TextField(_("server reply"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    tries = models.PositiveSmallIntegerField(_("tries"), default=0)
    # The message bounced (bounces.py): at the server's reply, or in a report mailed back.
    bounce = models.CharField(
        _("bounce"),
        max_length=4,
        blank=True,
        db_default="",
        choices=[("hard", _("hard")), ("soft", _("soft"))],
    )
    # When a worker may claim the pending delivery: the end of the lease of the worker that
    # holds it, or, after a temporary refusal, the time of the retry. Null: at once.
    available_at = models.DateTimeField(_("available at"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["attempt", "client"], name="mailings_delivery_one_per_client"
            ),
        ]
        indexes = [
            # A claim reads a run's next pending deliveries in id order straight from this
            # index, without sorting all of them (docs/benchmarks.md).
            models.Index(fields=["attempt", "status", "id"], name="mailings_delivery_queue"),
            # The failed-deliveries report: 3 % of the deliveries, counted and ordered from
            # this index alone, without a scan of the table.
            models.Index(
                fields=["attempt", "id"],
                condition=Q(status="failed"),
                name="mailings_delivery_failures",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email}: {self.get_status_display()}"


class MailingsLogEntryManager(BaseLogEntryManager):
    def log_action(self, instance, action, **kwargs):
        kwargs.update(object_id=str(instance.pk), owner_id=owner_id_of(instance))
        return super().log_action(instance, action, **kwargs)

    def for_instance(self, instance):
        return self.filter(
            content_type=ContentType.objects.get_for_model(instance, for_concrete_model=False),
            object_id=str(instance.pk),
        )

    def viewable_by_user(self, user):
        # Wagtail shows a log entry to anyone with a permission on its model; an entry here
        # names a client or a message, so the permission policy decides. (Wagtail's own
        # implementation caches the allowed content types on the user across log models,
        # so it is not reused here.)
        visible = log_entries_visible_to(
            user, (Client, Message, Sender, Mailing, Attempt, Delivery)
        )
        return self.all() if visible is None else self.filter(visible)


class MailingsLogEntry(BaseLogEntry):
    """Audit log of the mailings app: Wagtail's model log entry, plus who owns the object."""

    object_id = models.CharField(max_length=255, db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )

    objects = MailingsLogEntryManager()

    class Meta(BaseLogEntry.Meta):
        ordering = ["-timestamp", "-id"]
        verbose_name = _("mailings log entry")
        verbose_name_plural = _("mailings log entries")


class Job(models.Model):
    """An import or an export that runs in a worker, with the progress its page polls
    (mailings/jobs.py). Its file lives under ``VAR_DIR`` (``path``, relative), never under
    the media root: it is read and written through the permission policy only."""

    class Kind(models.TextChoices):
        IMPORT = "import", pgettext_lazy("job kind", "Import")
        EXPORT = "export", pgettext_lazy("job kind", "Export")

    class State(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("job state", "Waiting")
        RUNNING = "running", pgettext_lazy("job state", "Running")
        # An import that would change clients already stored: nothing was written; it runs
        # again, for real, once its owner has seen the changes and applied them.
        REVIEW = "review", pgettext_lazy("job state", "Waiting for your review")
        DONE = "done", pgettext_lazy("job state", "Done")
        FAILED = "failed", pgettext_lazy("job state", "Failed")
        EXPIRED = "expired", pgettext_lazy("job state", "Expired")

    BUSY = (State.QUEUED, State.RUNNING)

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="mailing_jobs",
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    name = models.CharField(_("file"), max_length=255)
    path = models.CharField(max_length=255, editable=False)
    # An import: the list its clients join (``client_list``) and whether the owner applied
    # the changes it makes (``apply``). An export: the admin URL and query that answer it, and
    # the language and time zone it is written in.
    params = models.JSONField(default=dict, editable=False)
    client_list = models.ForeignKey(
        ClientList,
        verbose_name=_("list"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    size = models.BigIntegerField(_("size"), default=0)  # bytes of the file
    done_bytes = models.BigIntegerField(default=0)  # of an import's file, read so far
    rows = models.PositiveIntegerField(_("rows"), default=0)  # read (import), written (export)
    total = models.PositiveIntegerField(default=0)  # an export's rows to write
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    merged = models.PositiveIntegerField(_("merged"), default=0)
    invalid = models.PositiveIntegerField(_("invalid"), default=0)
    changed = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, editable=False)
    error = models.TextField(_("error"), blank=True)
    tries = models.PositiveSmallIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("kept until"), null=True, blank=True)

    class Meta:
        verbose_name = _("import or export")
        verbose_name_plural = _("imports and exports")
        ordering = ["-created_at", "-id"]
        constraints = [
            # One import at a time per user: a second is refused while one waits or runs.
            models.UniqueConstraint(
                fields=["owner"],
                condition=Q(kind="import", state__in=["queued", "running"]),
                name="mailings_job_one_import_at_a_time",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "lease_until"], name="mailings_job_state"),
            models.Index(fields=["owner", "-created_at"], name="mailings_job_owner_recent"),
        ]

    def __str__(self) -> str:
        # Not the file's name, which may be in another language than the reader's.
        return _("%(kind)s of %(date)s") % {
            "kind": self.get_kind_display(),
            "date": formats.date_format(
                timezone.localtime(self.created_at or timezone.now()), "DATETIME_FORMAT"
            ),
        }

    @property
    def finished(self) -> bool:
        return self.state not in self.BUSY

    @property
    def percent(self) -> int:
        if self.state in (self.State.DONE, self.State.REVIEW):
            return 100
        if self.kind == self.Kind.EXPORT:
            return min(99, 100 * self.rows // self.total) if self.total else 0
        # An import: reading the file is 90 %, merging it into the clients the rest.
        return min(90, 90 * self.done_bytes // self.size) if self.size else 0
