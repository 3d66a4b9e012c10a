"""The admin API's image and document listings, limited to what the user may choose.

Wagtail's ``/admin/api/main/images/`` (and ``documents/``) list every item outside a
privacy-restricted collection to anyone signed in to the admin, whatever their image and
document permissions: a user of the mailings, who may choose nothing, read every title and
file URL there. These endpoints answer with the items the user may choose, as the choosers do.
"""

from __future__ import annotations

from wagtail.documents import get_document_model
from wagtail.documents.api.admin.views import DocumentsAdminAPIViewSet
from wagtail.images import get_image_model
from wagtail.images.api.admin.views import ImagesAdminAPIViewSet
from wagtail.permissions import policy_registry

CHOOSER_ACTIONS = ["choose", "add", "change"]


def choosable(queryset, model, user):
    allowed = policy_registry.get_by_type(model).instances_user_has_any_permission_for(
        user, CHOOSER_ACTIONS
    )
    return queryset.filter(pk__in=allowed.values("pk"))


class ChoosableImagesAPIViewSet(ImagesAdminAPIViewSet):
    def get_queryset(self):
        return choosable(super().get_queryset(), get_image_model(), self.request.user)


class ChoosableDocumentsAPIViewSet(DocumentsAdminAPIViewSet):
    def get_queryset(self):
        return choosable(super().get_queryset(), get_document_model(), self.request.user)
