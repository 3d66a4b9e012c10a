"""Demo blog: the index at /blog/ and a few posts, each with an image drawn by Pillow."""

from __future__ import annotations

import io
import random
from datetime import date, timedelta

from django.core.files.images import ImageFile
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont
from wagtail.images.models import Image

from blog.models import BlogIndexPage, BlogPage
from home.models import HomePage

DEMO_POSTS = (
    (
        "why-recurring-mailings",
        "Why recurring mailings beat a calendar reminder",
        "Set a newsletter to go out every month and never think about it again.",
    ),
    (
        "who-did-not-get-it",
        "Knowing exactly who did not get your mail",
        "Every run keeps a record of every recipient: sent, failed and why.",
    ),
    (
        "one-click-unsubscribe",
        "One-click unsubscribe, done properly",
        "Respecting your readers' inbox keeps you out of their spam folder.",
    ),
    (
        "flaky-mail-servers",
        "Surviving a flaky mail server",
        "Temporary errors are retried later; nobody is sent the same mail twice.",
    ),
    (
        "small-business-newsletters",
        "Newsletters for small businesses",
        "A few hundred loyal clients are worth more than a million strangers.",
    ),
)

PALETTE = ((36, 86, 166), (22, 128, 110), (176, 84, 40), (120, 60, 150), (40, 110, 160))


def draw_demo_image(title: str, colour: tuple[int, int, int], seed: int) -> io.BytesIO:
    """A 1200x675 PNG: a diagonal gradient, a few circles and the post's title."""
    width, height = 1200, 675
    canvas = PILImage.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(canvas)
    for y in range(height):
        shade = y / height
        line = tuple(int(c + (255 - c) * shade * 0.35) for c in colour)
        draw.line([(0, y), (width, y)], fill=line)
    rng = random.Random(seed)  # noqa: S311 - decoration, not security
    for _ in range(7):
        x, y, r = rng.randint(0, width), rng.randint(0, height), rng.randint(40, 180)
        draw.ellipse([x - r, y - r, x + r, y + r], outline=(255, 255, 255), width=4)
    font = ImageFont.load_default(size=54)
    draw.multiline_text((60, height - 200), _wrap(title, 32), font=font, fill=(255, 255, 255))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=True)
    buffer.seek(0)
    return buffer


def _wrap(text: str, width: int) -> str:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "\n".join(lines)


def seed_demo_blog(*, today: date | None = None) -> dict[str, int]:
    """Create the blog index and the demo posts that are missing; returns what was created."""
    today = today or date.today()
    created = {"index": 0, "posts": 0, "images": 0}
    home = HomePage.objects.first()
    if home is None:
        raise RuntimeError("No HomePage: run `manage.py migrate` first.")
    if not home.intro:
        home.intro = (
            "<p>Keep your clients, write your messages, and let your newsletters go out "
            "once, daily, weekly or monthly. Every run is recorded, recipient by recipient.</p>"
        )
        home.save_revision().publish()

    index = BlogIndexPage.objects.child_of(home).first()
    if index is None:
        index = home.add_child(
            instance=BlogIndexPage(
                title="Blog", slug="blog", intro="<p>News and advice on mailings.</p>"
            )
        )
        index.save_revision().publish()
        created["index"] = 1

    for number, (slug, title, teaser) in enumerate(DEMO_POSTS):
        if BlogPage.objects.filter(slug=slug).exists():
            continue
        colour = PALETTE[number % len(PALETTE)]
        image = Image.objects.create(
            title=f"Demo: {title}",
            file=ImageFile(draw_demo_image(title, colour, seed=number), name=f"demo-{slug}.png"),
        )
        created["images"] += 1
        post = index.add_child(
            instance=BlogPage(
                title=title,
                slug=slug,
                teaser=teaser,
                body=f"<p>{teaser}</p><p>This is a demo post created by seed_demo.</p>",
                image=image,
                date_published=today - timedelta(days=7 * number),
            )
        )
        post.save_revision().publish()
        created["posts"] += 1
    return created
