"""Users and Managers work with mailings only: no image or document of the site is theirs to
list. Migration 0004 took the ``choose_*`` model permissions away, but Wagtail grants a
chooser through a collection permission too (its migrations give every group ``choose`` on
the Root collection, which covers every collection under it), and the choosers and the
images API honour that. This removes every image and document permission of the two
groups, on every collection. Nothing is restored on the way back: it was a leak."""

from django.db import migrations

ROLES = ("Users", "Managers")
MEDIA_APPS = ("wagtailimages", "wagtaildocs")


def remove_collection_permissions(apps, schema_editor):
    GroupCollectionPermission = apps.get_model("wagtailcore", "GroupCollectionPermission")
    GroupCollectionPermission.objects.filter(
        group__name__in=ROLES, permission__content_type__app_label__in=MEDIA_APPS
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("mailings", "0012_mailing_disabled_by_moderator"),
        ("wagtailimages", "0023_add_choose_permissions"),
        ("wagtaildocs", "0011_add_choose_permissions"),
    ]

    operations = [migrations.RunPython(remove_collection_permissions, migrations.RunPython.noop)]
