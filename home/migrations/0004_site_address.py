"""The default Wagtail Site gets the public address of SITE_URL, so the links Wagtail builds
for the outside world (the sitemap, canonical links, the feed, "view live" in the admin) name
the operator's host and not the placeholder ``localhost:80`` that 0002 wrote. A Site an
operator already edited (Settings > Sites) is left alone. docs/blog.md."""

from urllib.parse import urlsplit

from django.conf import settings
from django.db import migrations

PLACEHOLDER = ("localhost", 80)


def site_from_site_url(apps, schema_editor):
    Site = apps.get_model("wagtailcore.Site")
    address = urlsplit(settings.SITE_URL)
    if not address.hostname:
        return
    port = address.port or (443 if address.scheme == "https" else 80)
    site = Site.objects.filter(is_default_site=True).first()
    if site is None or (site.hostname, site.port) != PLACEHOLDER:
        return
    if Site.objects.filter(hostname=address.hostname, port=port).exclude(pk=site.pk).exists():
        return
    site.hostname, site.port = address.hostname, port
    site.save(update_fields=["hostname", "port"])


class Migration(migrations.Migration):
    dependencies = [("home", "0003_service_counters")]

    operations = [migrations.RunPython(site_from_site_url, migrations.RunPython.noop)]
