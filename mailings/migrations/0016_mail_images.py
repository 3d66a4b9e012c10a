"""Users upload the images of their messages into a collection of their own kind, "Mail
images": the Users group may add images there (not choose: each chooses only what they
uploaded, mailings.permissions.OwnUploadsImagePolicy) and nothing elsewhere."""

from django.db import migrations

NAME = "Mail images"


def create_mail_images(apps, schema_editor):
    # The tree's own methods place a node (path, depth): the live model, not the historical.
    from wagtail.models import Collection

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    GroupCollectionPermission = apps.get_model("wagtailcore", "GroupCollectionPermission")
    root = Collection.get_first_root_node()
    if root is None:
        return
    collection = next((c for c in root.get_children() if c.name == NAME), None)
    if collection is None:
        collection = root.add_child(name=NAME)
    add_image = Permission.objects.get(
        content_type__app_label="wagtailimages", codename="add_image"
    )
    for group in Group.objects.filter(name="Users"):
        GroupCollectionPermission.objects.get_or_create(
            group=group, collection_id=collection.pk, permission=add_image
        )


def remove_mail_images_permissions(apps, schema_editor):
    GroupCollectionPermission = apps.get_model("wagtailcore", "GroupCollectionPermission")
    GroupCollectionPermission.objects.filter(
        group__name="Users", collection__name=NAME, permission__codename="add_image"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("mailings", "0015_composed_messages"),
        ("mailings", "0013_no_collection_choosers"),
        ("wagtailimages", "0023_add_choose_permissions"),
        ("wagtailcore", "0098_apitoken"),
        ("accounts", "0002_groups"),
    ]

    operations = [migrations.RunPython(create_mail_images, remove_mail_images_permissions)]
