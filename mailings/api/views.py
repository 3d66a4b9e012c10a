"""The API's endpoints. Every one loads its rows through the permission policy
(``instances_user_has_any_permission_for``), so another user's row is a 404 and never appears
in a list; writes with side effects go through ``mailings.services`` as the admin's do."""

from __future__ import annotations

import hashlib

from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from mailings import services, upserting
from mailings.api import serializers as api
from mailings.models import (
    Attempt,
    Client,
    ClientList,
    Delivery,
    Mailing,
    Message,
)
from mailings.permissions import Reach, policy_for

# The policy's action for each of DRF's.
ACTION_OF = {
    "list": "view",
    "retrieve": "view",
    "create": "add",
    "update": "change",
    "partial_update": "change",
    "destroy": "delete",
}


def policy(name: str):
    """The policy's action a custom endpoint needs (``disable``, ``change``…)."""

    def mark(function):
        function.policy_action = name
        return function

    return mark


class PolicyPermission(permissions.BasePermission):
    """The request's action must be one the policy lets this user do to some rows; which
    rows is the queryset's question (a row outside it is a 404)."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return policy_for(view.queryset.model).reach(request.user, [view.policy_action]) is not (
            Reach.NONE
        )


class PolicyViewSet(viewsets.GenericViewSet):
    permission_classes = [PolicyPermission]

    @property
    def policy_action(self) -> str:
        handler = getattr(self, self.action or "", None)
        return getattr(handler, "policy_action", None) or ACTION_OF.get(self.action, "view")

    def get_queryset(self):
        model = self.queryset.model
        return policy_for(model).instances_user_has_any_permission_for(
            self.request.user, [self.policy_action]
        )


class OwnedModelViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    PolicyViewSet,
):
    def perform_create(self, serializer):
        serializer.save(owner=self.request.user)


class ClientFilter(filters.FilterSet):
    status = filters.ChoiceFilter(
        choices=[
            ("subscribed", "subscribed"),
            ("unsubscribed", "unsubscribed"),
            ("bounced", "bounced"),
        ],
        method="filter_status",
    )
    list = filters.NumberFilter(field_name="lists")
    email = filters.CharFilter(field_name="email", lookup_expr="iexact")

    class Meta:
        model = Client
        fields = ["status", "list", "email"]

    def filter_status(self, queryset, name, value):
        return queryset.in_state(value)


BULK_LIMIT = 1000  # entries per bulk request


class ClientViewSetBulk:
    """``POST /clients/bulk/``: create or update up to 1,000 clients by address in one request,
    with the CSV import's rules; a result per entry."""

    @extend_schema(
        request=api.BulkClientsSerializer,
        responses={200: api.BulkResultSerializer},
        description="Create or update up to 1,000 clients by address: a later entry for an "
        "address wins, an empty value never erases, nobody unsubscribed is subscribed again. "
        "Each entry gets its result (created, updated, merged, invalid with the reason).",
    )
    @action(detail=False, methods=["post"])
    @policy("add")
    def bulk(self, request):
        body = request.data.get("clients") if isinstance(request.data, dict) else None
        if not isinstance(body, list) or not 1 <= len(body) <= BULK_LIMIT:
            raise exceptions.ValidationError(
                {"clients": [_("Send a list of 1 to %(limit)s clients.") % {"limit": BULK_LIMIT}]}
            )
        owned = set(
            policy_for(ClientList).instances_owned_by(request.user).values_list("pk", flat=True)
        )
        refused, good, indices = {}, [], []
        for index, entry in enumerate(body):
            lists = entry.get("lists", []) if isinstance(entry, dict) else None
            if not isinstance(entry, dict) or not isinstance(lists, list):
                refused[index] = _("an entry is an object with email, full_name, comment, lists")
            elif any(not isinstance(i, int) or i not in owned for i in lists):
                refused[index] = _("a list of this entry does not exist")
            else:
                good.append(entry)
                indices.append(index)
                continue
        done = upserting.clients_upsert(owner=request.user, entries=good)
        results = [None] * len(body)
        for index, outcome in zip(indices, done, strict=True):
            outcome.index = index
            results[index] = outcome
        for index, reason in refused.items():
            email = body[index].get("email", "") if isinstance(body[index], dict) else ""
            results[index] = upserting.Upserted(index, str(email)[:254], "invalid", error=reason)
        counts = {kind: 0 for kind in ("created", "updated", "merged", "invalid")}
        for outcome in results:
            counts[outcome.result] += 1
        rows = [
            {"index": r.index, "email": r.email, "result": r.result, "id": r.id, "error": r.error}
            for r in results
        ]
        return Response({**counts, "results": rows})


class ClientViewSet(ClientViewSetBulk, OwnedModelViewSet):
    """Your clients. Search (``search``) matches the address, the name and the comment."""

    queryset = Client.objects.all()
    serializer_class = api.ClientSerializer
    filterset_class = ClientFilter
    search_fields = ["email", "full_name", "comment"]
    ordering_fields = ["full_name", "email", "created_at", "updated_at"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        return super().get_queryset().prefetch_related("lists")


class ClientListViewSet(OwnedModelViewSet):
    queryset = ClientList.objects.all()
    serializer_class = api.ClientListSerializer
    search_fields = ["name"]
    ordering = ["name", "id"]

    def get_queryset(self):
        return super().get_queryset().annotate(clients_count=Count("memberships"))


class MessageViewSet(OwnedModelViewSet):
    queryset = Message.objects.all()
    serializer_class = api.MessageSerializer
    search_fields = ["subject"]
    ordering = ["-created_at", "-id"]

    def perform_destroy(self, instance):
        if instance.mailings.exists():
            raise Conflict(_("Mailings use this message: delete them or change their message."))
        instance.delete()


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class PreconditionRequired(exceptions.APIException):
    status_code = 428
    default_code = "precondition_required"
    default_detail = _(
        "Send If-Match with the ETag of the mailing as you read it: a change is made only to "
        "the version you saw."
    )


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"
    default_detail = _("The mailing changed since you read it: read it again, then change it.")


def etag_of(mailing: Mailing) -> str:
    """A mailing's version: it changes whenever the mailing is saved."""
    version = f"{mailing.pk}:{mailing.updated_at.isoformat()}".encode()
    return '"' + hashlib.sha256(version).hexdigest()[:24] + '"'


class MailingFilter(filters.FilterSet):
    class Meta:
        model = Mailing
        fields = ["status", "is_enabled", "periodicity"]


EMPTY = inline_serializer("Done", fields={"detail": serializers.CharField()})


IF_MATCH = OpenApiParameter(
    "If-Match",
    location=OpenApiParameter.HEADER,
    required=True,
    description="The ETag of the mailing as you read it (GET answers it in ETag).",
)


@extend_schema_view(
    update=extend_schema(
        parameters=[IF_MATCH], responses={200: api.MailingSerializer, 412: EMPTY, 428: EMPTY}
    ),
    partial_update=extend_schema(
        parameters=[IF_MATCH], responses={200: api.MailingSerializer, 412: EMPTY, 428: EMPTY}
    ),
)
class MailingViewSet(OwnedModelViewSet):
    """Mailings. A moderator (the Managers group) reads every user's and may disable or
    enable them; nothing else. Creating or changing one plans its next run, as the admin
    does."""

    queryset = Mailing.objects.all()
    serializer_class = api.MailingSerializer
    filterset_class = MailingFilter
    search_fields = ["name"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        clients = Mailing.clients.through.objects.filter(mailing_id=OuterRef("pk"))
        count = clients.order_by().values("mailing_id").annotate(n=Count("pk")).values("n")
        return (
            super()
            .get_queryset()
            .select_related("owner")
            .prefetch_related("lists")
            .annotate(clients_count=Coalesce(Subquery(count), 0))
        )

    def perform_create(self, serializer):
        mailing = serializer.save(owner=self.request.user)
        services.mailing_save(mailing=mailing)

    def perform_update(self, serializer):
        mailing = serializer.save()
        mailing.__dict__.pop("clients_count", None)  # counted before the change
        services.mailing_save(mailing=mailing)

    def retrieve(self, request, *args, **kwargs):
        mailing = self.get_object()
        return Response(self.get_serializer(mailing).data, headers={"ETag": etag_of(mailing)})

    def create(self, request, *args, **kwargs):
        response = super().create(request, *args, **kwargs)
        response["ETag"] = etag_of(Mailing.objects.get(pk=response.data["id"]))
        return response

    def update(self, request, *args, **kwargs):
        """Only the version the caller read is changed (``If-Match``: its ETag): two scripts
        never silently overwrite each other's change. The row is locked while it is checked
        and written."""
        wanted = request.headers.get("If-Match", "").strip()
        with transaction.atomic():
            mailing = self.get_object()
            Mailing.objects.select_for_update().filter(pk=mailing.pk).first()
            mailing.refresh_from_db()
            if not wanted:
                raise PreconditionRequired
            if wanted != "*" and etag_of(mailing) not in [t.strip() for t in wanted.split(",")]:
                raise PreconditionFailed
            response = super().update(request, *args, **kwargs)
        response["ETag"] = etag_of(Mailing.objects.get(pk=mailing.pk))
        return response

    @extend_schema(request=None, responses={202: api.AttemptSerializer, 409: EMPTY})
    @action(detail=True, methods=["post"], url_path="send-now")
    @policy("change")
    def send_now(self, request, pk=None):
        """Send the mailing now (its current slot, or a run of its own at this moment)."""
        result = services.mailing_send_now(mailing=self.get_object(), by=request.user)
        if result.attempt is None:
            raise Conflict(_("A run of this mailing is still in progress."))
        return Response(api.AttemptSerializer(result.attempt).data, status=202)

    @extend_schema(request=None, responses={200: api.MailingSerializer})
    @action(detail=True, methods=["post"])
    @policy("disable")
    def disable(self, request, pk=None):
        mailing = self.get_object()
        services.mailing_set_enabled(mailing=mailing, enabled=False, by=request.user)
        return Response(self.get_serializer(mailing).data)

    @extend_schema(request=None, responses={200: api.MailingSerializer, 403: EMPTY})
    @action(detail=True, methods=["post"])
    @policy("disable")
    def enable(self, request, pk=None):
        mailing = self.get_object()
        if not policy_for(Mailing).may_enable(request.user, mailing):
            raise exceptions.PermissionDenied(
                _("A moderator switched this mailing off: only a moderator switches it on.")
            )
        services.mailing_set_enabled(mailing=mailing, enabled=True, by=request.user)
        return Response(self.get_serializer(mailing).data)


class AttemptViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PolicyViewSet):
    """The runs of mailings, with their counts."""

    queryset = Attempt.objects.all()
    serializer_class = api.AttemptSerializer
    filterset_fields = ["mailing", "status"]
    ordering = ["-scheduled_for", "-id"]


class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PolicyViewSet):
    """Deliveries: one per recipient of a run. Filter by ``attempt`` and ``status``."""

    queryset = Delivery.objects.all()
    serializer_class = api.DeliverySerializer
    filterset_fields = ["attempt", "status", "bounce"]
    ordering = ["id"]
