"""Who may see and change which rows of the mailings app: one policy, used by every view.

- A superuser may do anything to any row.
- A user works on their own rows only, as far as their model permissions allow.
- A moderator (permission ``mailings.moderate_mailing``, the Managers group) may view every
  user's mailings, attempts and deliveries, and nothing else of anyone's.

Views never filter by owner themselves: they ask ``policy.instances_user_has_any_permission_for``
for the rows a request may touch, so a row outside that queryset is a 404, as if it did not
exist, on every view (listing, export, inspect, edit, delete, choosers, custom views).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Model, QuerySet
from wagtail.permission_policies.base import ModelPermissionPolicy

MODERATE_PERMISSION = "mailings.moderate_mailing"


def owner_id_of(instance: Model) -> int | None:
    """The id of the user who owns a row of the mailings app, following the policy's path."""
    from wagtail.permissions import policy_registry

    path = policy_registry.get_by_type(type(instance)).owner_path.split("__")
    for step in path[:-1]:
        instance = getattr(instance, step)
    return getattr(instance, f"{path[-1]}_id")


class OwnedRowsPolicy(ModelPermissionPolicy):
    """Model permissions say what kind of action; ownership says on which rows."""

    def __init__(self, model: type[Model], *, owner_path: str, moderated: bool) -> None:
        super().__init__(model)
        self.owner_path = owner_path
        self.moderated = moderated

    def instances_user_has_any_permission_for(self, user, actions: Iterable[str]) -> QuerySet:
        actions = list(actions)
        rows = self.model._default_manager.all()
        if not user.is_active or not self.user_has_any_permission(user, actions):
            return rows.none()
        if user.is_superuser:
            return rows
        if self.moderated and "view" in actions and user.has_perm(MODERATE_PERMISSION):
            return rows
        return rows.filter(**{self.owner_path: user})

    def permits(self, user, actions: Iterable[str], instance: Model) -> bool:
        """The same rule as the querysets, for a row already in hand, without a query
        (for buttons on a listing; the views themselves always load through the queryset)."""
        actions = list(actions)
        if not user.is_active or not self.user_has_any_permission(user, actions):
            return False
        if user.is_superuser:
            return True
        if self.moderated and "view" in actions and user.has_perm(MODERATE_PERMISSION):
            return True
        return owner_id_of(instance) == user.pk

    def instances_user_has_permission_for(self, user, action: str) -> QuerySet:
        return self.instances_user_has_any_permission_for(user, [action])

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
