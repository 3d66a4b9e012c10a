"""What the API reads and writes of each row. A related row (a mailing's message, clients,
lists, sender) is one of the owner's own or "does not exist": the choices come from the
permission policy, as the admin forms' do."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from mailings import placeholders, subscribing
from mailings.models import Attempt, Client, ClientList, Delivery, Mailing, Message, Sender
from mailings.permissions import policy_for


class OwnedRelatedField(serializers.PrimaryKeyRelatedField):
    """A related row among the owner's own (the request's user's, or the row's owner's)."""

    def __init__(self, model, **kwargs):
        self.model = model
        super().__init__(**kwargs)

    def get_queryset(self):
        serializer = self.root
        instance = getattr(serializer, "instance", None)
        owner = getattr(instance, "owner", None) or serializer.context["request"].user
        return policy_for(self.model).instances_owned_by(owner)


def clashes(serializer, model, **lookup) -> bool:
    """Whether another row of the owner's already has this value (unique per owner)."""
    owner = getattr(serializer.instance, "owner", None) or serializer.context["request"].user
    rows = policy_for(model).instances_owned_by(owner).filter(**lookup)
    if serializer.instance is not None:
        rows = rows.exclude(pk=serializer.instance.pk)
    return rows.exists()


class ClientSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    lists = OwnedRelatedField(ClientList, many=True, required=False)

    class Meta:
        model = Client
        fields = [
            "id",
            "email",
            "full_name",
            "comment",
            "status",
            "unsubscribed_at",
            "bounced_at",
            "bounce_reason",
            "lists",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["unsubscribed_at", "bounced_at", "bounce_reason"]

    def get_status(self, client) -> str:
        if client.unsubscribed_at is not None:
            return "unsubscribed"
        return "bounced" if client.bounced_at is not None else "subscribed"

    def validate_full_name(self, value: str) -> str:
        if "\r" in value or "\n" in value:
            raise serializers.ValidationError(_("A name must be a single line."))
        return value

    def validate_email(self, value: str) -> str:
        if clashes(self, Client, email__iexact=value):
            raise serializers.ValidationError(
                _("You already have a client with the address %(email)s.") % {"email": value},
                code="duplicate",
            )
        return value


class ClientListSerializer(serializers.ModelSerializer):
    clients_count = serializers.SerializerMethodField()
    form_url = serializers.SerializerMethodField()

    class Meta:
        model = ClientList
        fields = ["id", "name", "description", "clients_count", "form_url", "created_at"]

    def get_form_url(self, client_list) -> str:
        return subscribing.form_url(client_list)

    def get_clients_count(self, client_list) -> int:
        counted = getattr(client_list, "clients_count", None)  # annotated on listings
        return client_list.memberships.count() if counted is None else counted

    def validate_name(self, value: str) -> str:
        value = " ".join(value.split())
        if clashes(self, ClientList, name__iexact=value):
            raise serializers.ValidationError(
                _("You already have a list named “%(name)s”.") % {"name": value},
                code="duplicate",
            )
        return value


class MessageSerializer(serializers.ModelSerializer):
    """A message's subject and plain-text body. A message composed of blocks in the admin is
    read here with its rendered HTML and text; blocks are edited in the admin only."""

    composed = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = ["id", "subject", "body", "composed", "html", "text", "created_at"]
        read_only_fields = ["html", "text"]
        extra_kwargs = {"body": {"required": True, "allow_blank": False}}

    def get_composed(self, message) -> bool:
        return bool(message.content)

    def validate_body(self, value: str) -> str:
        if self.instance is not None and self.instance.content:
            raise serializers.ValidationError(
                _("This message is made of blocks: edit it in the admin."), code="composed"
            )
        errors = placeholders.placeholder_errors(value)
        if errors:
            raise serializers.ValidationError(errors, code="placeholder")
        return value

    def create(self, validated_data):
        message = Message(**validated_data)
        message.save()
        return message


class MailingSerializer(serializers.ModelSerializer):
    message = OwnedRelatedField(Message)
    sender = OwnedRelatedField(Sender, allow_null=True, required=False)
    lists = OwnedRelatedField(ClientList, many=True, required=False)
    # Written as ids; read as a count: a mailing may have 50,000 clients chosen one by one.
    clients = OwnedRelatedField(Client, many=True, required=False, write_only=True)
    clients_count = serializers.SerializerMethodField()
    owner = serializers.EmailField(source="owner.email", read_only=True)

    class Meta:
        model = Mailing
        fields = [
            "id",
            "name",
            "owner",
            "message",
            "sender",
            "lists",
            "clients",
            "clients_count",
            "start_at",
            "end_at",
            "periodicity",
            "time_zone",
            "status",
            "is_enabled",
            "disabled_by_moderator",
            "next_run_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "status",
            "is_enabled",
            "disabled_by_moderator",
            "next_run_at",
            "created_at",
            "updated_at",
        ]

    def get_clients_count(self, mailing) -> int:
        counted = getattr(mailing, "clients_count", None)  # annotated on listings
        return mailing.clients.count() if counted is None else counted

    def validate_sender(self, sender):
        if sender is not None and sender.confirmed_at is None:
            raise serializers.ValidationError(
                _("%(email)s is not confirmed yet.") % {"email": sender.email},
                code="unconfirmed",
            )
        return sender

    def validate(self, attrs):
        lists = attrs.get("lists", None)
        clients = attrs.get("clients", None)
        if self.instance is not None:
            lists = self.instance.lists.all() if lists is None else lists
            clients = self.instance.clients.all() if clients is None else clients
        if not lists and not clients:
            raise serializers.ValidationError(
                {"clients": [_("Choose at least one list or one client.")]}, code="required"
            )
        probe = Mailing(
            **{
                f: attrs.get(f, getattr(self.instance, f, None))
                for f in ("name", "start_at", "end_at", "periodicity", "time_zone")
            }
        )
        probe.time_zone = probe.time_zone or Mailing._meta.get_field("time_zone").get_default()
        try:
            probe.full_clean(exclude=["owner", "message", "sender"], validate_unique=False)
        except DjangoValidationError as error:
            raise serializers.ValidationError(serializers.as_serializer_error(error)) from None
        return attrs


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attempt
        fields = [
            "id",
            "mailing",
            "scheduled_for",
            "attempted_at",
            "status",
            "server_response",
            "total",
            "sent",
            "failed",
            "skipped",
            "finished_at",
        ]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = [
            "id",
            "attempt",
            "client",
            "email",
            "status",
            "bounce",
            "smtp_code",
            "response",
            "sent_at",
            "tries",
        ]
        read_only_fields = fields


class BulkClientSerializer(serializers.Serializer):
    email = serializers.CharField()
    full_name = serializers.CharField(required=False, allow_blank=True)
    comment = serializers.CharField(required=False, allow_blank=True)
    lists = serializers.ListField(child=serializers.IntegerField(), required=False)


class BulkClientsSerializer(serializers.Serializer):
    clients = BulkClientSerializer(many=True)


class BulkRowSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    email = serializers.CharField()
    result = serializers.ChoiceField(choices=["created", "updated", "merged", "invalid"])
    id = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_blank=True)


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    merged = serializers.IntegerField()
    invalid = serializers.IntegerField()
    results = BulkRowSerializer(many=True)
