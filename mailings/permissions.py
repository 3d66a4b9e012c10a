"""Who may see and do what to the rows of the mailings app: one policy, asked by every view,
service, report and log. No other module knows these rules.

- A superuser may do anything to any row.
- A user works on their own rows only, as far as their model permissions allow.
- A moderator (permission ``mailings.moderate_mailing``, the Managers group) may view every
  user's mailings, attempts and deliveries, switch any mailing off or on, and count every
  row of the app for the dashboard's figures; nothing else of anyone's.

Besides Django's model actions (``add``, ``change``, ``delete``, ``view``) the policy answers
two of its own: ``disable`` (switch a mailing off or on: its owner, with ``change``, or a
moderator) and ``count`` (include in aggregate figures: whoever may view, or a moderator).

Switching a mailing back on is narrower than ``disable``: who switched it off decides. One
a moderator disabled comes back on by a moderator's hand only (its owner sees why it is
off); one its owner disabled, by its owner only (a moderator stops anyone's sending, but
never starts it). A superuser may do either (``instances_user_may_enable``).

Views never filter by owner themselves: they ask ``instances_user_has_any_permission_for``
for the rows a request may touch, so a row outside that queryset is a 404, as if it did not
exist, on every view (listing, export, inspect, edit, delete, choosers, custom views).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import NoReturn

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, Q, QuerySet
from django.http import Http404
from wagtail.permission_policies.base import ModelPermissionPolicy
from wagtail.permission_policies.collections import CollectionOwnershipPermissionPolicy
from wagtail.permissions import policy_registry

MODERATE_PERMISSION = "mailings.moderate_mailing"

# The policy's own actions, and the model permission an owner needs for each.
OWNER_PERMISSION_FOR = {"disable": "change", "count": "view"}
# What a moderator may do to every owner's rows: on moderated models, and on every model.
MODERATOR_ACTIONS_MODERATED = frozenset({"view", "disable", "count"})
MODERATOR_ACTIONS_ANY = frozenset({"count"})


class Reach(enum.Enum):
    NONE = "none"
    OWN = "own"
    ALL = "all"


def policy_for(model: type[Model]) -> OwnedRowsPolicy:
    return policy_registry.get_by_type(model)


def is_moderator(user) -> bool:
    return user.is_active and (user.is_superuser or user.has_perm(MODERATE_PERMISSION))


class OwnedRowsPolicy(ModelPermissionPolicy):
    """Model permissions say what kind of action; ownership says on which rows."""

    def __init__(self, model: type[Model], *, owner_path: str, moderated: bool) -> None:
        super().__init__(model)
        self.owner_path = owner_path
        self.moderated = moderated

    def reach(self, user, actions: Iterable[str]) -> Reach:
        """Whose rows ``user`` may touch for any of ``actions``: nobody's, their own, all."""
        actions = set(actions)
        if not user.is_active:
            return Reach.NONE
        if user.is_superuser:
            return Reach.ALL
        moderator_actions = MODERATOR_ACTIONS_MODERATED if self.moderated else MODERATOR_ACTIONS_ANY
        if actions & moderator_actions and user.has_perm(MODERATE_PERMISSION):
            return Reach.ALL
        model_actions = {OWNER_PERMISSION_FOR.get(action, action) for action in actions}
        if self.user_has_any_permission(user, model_actions):
            return Reach.OWN
        return Reach.NONE

    def sees_every_owner(self, user) -> bool:
        """Whether listings of this model show other users' rows (and so an Owner column)."""
        return self.reach(user, ["view"]) is Reach.ALL

    def instances_user_has_any_permission_for(self, user, actions: Iterable[str]) -> QuerySet:
        rows = self.model._default_manager.all()
        reach = self.reach(user, actions)
        if reach is Reach.ALL:
            return rows
        if reach is Reach.OWN:
            return rows.filter(**{self.owner_path: user})
        return rows.none()

    def instance_for(self, user, pk, *, allowed: QuerySet):
        """The row ``pk`` of ``allowed`` (the rows ``user`` may act on, from this policy). A
        row they may only see (a manager before another's mailing) is ``PermissionDenied``,
        "not allowed"; one they may not see does not exist to them (``Http404``)."""
        try:
            row = allowed.filter(pk=pk).first()
        except (ValueError, TypeError, ValidationError):
            raise Http404 from None
        if row is None:
            self.refuse(user, pk)
        return row

    def refuse(self, user, pk) -> NoReturn:
        """Refuse ``user`` a row they may not act on: "not allowed" if they may see it, else
        it does not exist to them."""
        if self.instances_user_has_permission_for(user, "view").filter(pk=pk).exists():
            raise PermissionDenied
        raise Http404

    def instances_owned_by(self, owner) -> QuerySet:
        """Every row of ``owner`` (not a question of who asks: for services acting for them)."""
        return self.model._default_manager.filter(**{self.owner_path: owner})

    def instances_owned_by_active(self) -> QuerySet:
        """Rows whose owner is not blocked (for public pages acting for the owner)."""
        owner_active = f"{self.owner_path}__is_active"
        return self.model._default_manager.filter(**{owner_active: True})

    def instances_user_has_permission_for(self, user, action: str) -> QuerySet:
        return self.instances_user_has_any_permission_for(user, [action])

    def permits(self, user, actions: Iterable[str], instance: Model) -> bool:
        """The same rule as the querysets, for a row already in hand, without a query
        (for buttons on a listing; the views themselves always load through the queryset)."""
        reach = self.reach(user, actions)
        return reach is Reach.ALL or (reach is Reach.OWN and self.owner_id(instance) == user.pk)

    def user_has_permission_for_instance(self, user, action: str, instance: Model) -> bool:
        return self.user_has_any_permission_for_instance(user, [action], instance)

    def user_has_any_permission_for_instance(
        self, user, actions: Iterable[str], instance: Model
    ) -> bool:
        return (
            self.instances_user_has_any_permission_for(user, actions)
            .filter(pk=instance.pk)
            .exists()
        )

    def instances_user_may_enable(self, user) -> QuerySet:
        """Rows (mailings) ``user`` may switch on: see the module docstring."""
        rows = self.instances_user_has_permission_for(user, "disable")
        if user.is_active and user.is_superuser:
            return rows
        allowed = Q(pk__in=[])
        if self.user_has_permission(user, "change"):
            allowed |= Q(**{self.owner_path: user}, disabled_by_moderator=False)
        if self.moderated and user.is_active and user.has_perm(MODERATE_PERMISSION):
            allowed |= Q(disabled_by_moderator=True)
        return rows.filter(allowed)

    def may_enable(self, user, instance: Model) -> bool:
        """``instances_user_may_enable`` for a row already in hand, without a query."""
        if not self.permits(user, ["disable"], instance):
            return False
        if user.is_superuser:
            return True
        if instance.disabled_by_moderator:
            return self.moderated and user.has_perm(MODERATE_PERMISSION)
        return self.owner_id(instance) == user.pk and self.user_has_permission(user, "change")

    def disables_as_moderator(self, user, instance: Model) -> bool:
        """Whether ``user`` switching ``instance`` off does so as a moderator (anyone but
        its owner), so that only a moderator may switch it on again."""
        return user is not None and self.owner_id(instance) != user.pk

    def owner_id(self, instance: Model) -> int | None:
        """The id of the user who owns ``instance``, following the owner path."""
        *steps, last = self.owner_path.split("__")
        for step in steps:
            instance = getattr(instance, step)
        return getattr(instance, f"{last}_id")


def owner_id_of(instance: Model) -> int | None:
    return policy_for(type(instance)).owner_id(instance)


def log_entries_visible_to(user, models: Iterable[type[Model]]) -> Q | None:
    """Which audit-log entries of ``models`` the user may read, as a filter (None: all).

    An entry names a client or a message, so it is shown to the owner of its object (for the
    models the user has any permission on), and a moderator also reads the entries of every
    row they may view."""
    if user.is_superuser:
        return None
    if not user.is_active:
        return Q(pk__in=[])
    types = ContentType.objects.get_for_models(*models)
    mine, everyone = [], []
    for model, content_type in types.items():
        reach = policy_for(model).reach(user, ["add", "change", "delete", "view"])
        if reach is Reach.NONE:
            continue
        mine.append(content_type)
        if policy_for(model).reach(user, ["view"]) is Reach.ALL:
            everyone.append(content_type)
    return Q(owner=user, content_type__in=mine) | Q(content_type__in=everyone)


class OwnUploadsImagePolicy(CollectionOwnershipPermissionPolicy):
    """Wagtail's image policy, plus: in a collection where someone may add images but not
    choose them (the Users group in "Mail images", migration 0016), they choose what they
    uploaded themselves, never another user's upload. Editors keep Wagtail's rules."""

    def _own_uploads(self, user) -> Q:
        added = self._collections_with_perm(user, ["add"])
        return Q(collection__in=added) & Q(**{self.owner_field_name: user})

    def instances_user_has_any_permission_for(self, user, actions):
        instances = super().instances_user_has_any_permission_for(user, actions)
        if "choose" not in actions or not user.is_active or user.is_superuser:
            return instances
        own = self.model._default_manager.filter(self._own_uploads(user))
        return (instances | own).distinct()

    def user_has_permission_for_instance(self, user, action, instance):
        if super().user_has_permission_for_instance(user, action, instance):
            return True
        return (
            action == "choose"
            and user.is_active
            and self.model._default_manager.filter(self._own_uploads(user), pk=instance.pk).exists()
        )
