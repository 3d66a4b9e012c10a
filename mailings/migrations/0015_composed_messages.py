"""Messages composed of blocks (issue 17): the blocks, the HTML and text rendered from them
when a message is saved, and the HTML a run sends beside its text. A message written
before keeps its plain text, which is what it sends. SQLite rebuilds the tables: the
ownership triggers are dropped around the rebuild, as in 0010."""

import importlib

import mailings.blocks
import mailings.models
import wagtail.fields
from django.db import migrations, models
from django.db.models import F


triggers = importlib.import_module("mailings.migrations.0002_ownership_triggers")
sqlite_triggers = importlib.import_module(
    "mailings.migrations.0010_mailing_time_zone"
).sqlite_triggers


def plain_text_goes_out_as_it_is(apps, schema_editor):
    """A message written before blocks keeps its text: it is the text part, with no HTML."""
    apps.get_model("mailings", "Message").objects.update(text=F("body"))


class Migration(migrations.Migration):
    dependencies = [
        ("mailings", "0014_mailing_name"),
    ]

    operations = [
        migrations.RunPython(
            sqlite_triggers(triggers.SQLITE_BACKWARD), sqlite_triggers(triggers.SQLITE_FORWARD)
        ),
        migrations.AddField(
            model_name="attempt",
            name="html",
            field=models.TextField(blank=True, verbose_name="HTML part"),
        ),
        migrations.AddField(
            model_name="message",
            name="content",
            field=wagtail.fields.StreamField(
                [
                    ("heading", 0),
                    ("text", 1),
                    ("image", 5),
                    ("button", 8),
                    ("divider", 9),
                    ("post", 12),
                    ("plain", 13),
                ],
                blank=True,
                block_lookup={
                    0: ("mailings.blocks.HeadingBlock", (), {}),
                    1: ("mailings.blocks.MailRichTextBlock", (), {}),
                    2: ("wagtail.images.blocks.ImageChooserBlock", (), {"label": "Image"}),
                    3: (
                        "wagtail.blocks.CharBlock",
                        (),
                        {
                            "help_text": "What the image shows, for those whose mail program hides images.",
                            "label": "Alternative text",
                            "max_length": 300,
                        },
                    ),
                    4: ("wagtail.blocks.URLBlock", (), {"label": "Link", "required": False}),
                    5: (
                        "wagtail.blocks.StructBlock",
                        [[("image", 2), ("alt", 3), ("link", 4)]],
                        {},
                    ),
                    6: (
                        "wagtail.blocks.CharBlock",
                        (),
                        {
                            "label": "Label",
                            "max_length": 80,
                            "validators": [mailings.blocks._check_placeholders],
                        },
                    ),
                    7: ("wagtail.blocks.URLBlock", (), {"label": "Link"}),
                    8: ("wagtail.blocks.StructBlock", [[("label", 6), ("link", 7)]], {}),
                    9: ("mailings.blocks.DividerBlock", (), {}),
                    10: (
                        "wagtail.blocks.PageChooserBlock",
                        (),
                        {"label": "Blog post", "page_type": ["blog.BlogPage"]},
                    ),
                    11: (
                        "wagtail.blocks.CharBlock",
                        (),
                        {
                            "help_text": "Default: Read more",
                            "label": "Link text",
                            "max_length": 80,
                            "required": False,
                        },
                    ),
                    12: ("wagtail.blocks.StructBlock", [[("page", 10), ("link_label", 11)]], {}),
                    13: ("mailings.blocks.PlainTextBlock", (), {}),
                },
                help_text="Blocks: headings, text, images, buttons, blog posts. Placeholders filled for each recipient: {full_name}, {email}, {unsubscribe_url}.",
                verbose_name="content",
            ),
        ),
        migrations.AddField(
            model_name="message",
            name="html",
            field=models.TextField(blank=True, editable=False, verbose_name="HTML part"),
        ),
        migrations.AddField(
            model_name="message",
            name="text",
            field=models.TextField(blank=True, editable=False, verbose_name="text part"),
        ),
        migrations.AlterField(
            model_name="message",
            name="body",
            field=models.TextField(
                blank=True,
                help_text="A message without blocks goes out as this text alone. Placeholders filled for each recipient: {full_name}, {email}, {unsubscribe_url}.",
                validators=[mailings.models.validate_placeholders],
                verbose_name="plain text",
            ),
        ),
        migrations.RunPython(
            sqlite_triggers(triggers.SQLITE_FORWARD), sqlite_triggers(triggers.SQLITE_BACKWARD)
        ),
        migrations.RunPython(plain_text_goes_out_as_it_is, migrations.RunPython.noop),
    ]
